/**
 * Attack 8 (issue 15), the smaller holes (the others of #8 are in lockout-race, payload-tampering and
 * backup-crash): `/` answered `Cache-Control: no-cache` where the README promises `no-store` on every
 * answer; the envelope channel limit (10,000) was global, so one login could use it up for everyone, and
 * another login presenting a channel id cancelled it; `kenshin map check … | head -1` died with an
 * EPIPE stack trace. Real node over real TLS; the real CLI in a real shell pipe.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agreeEnvelopeKey } from "../../src/client/transfer-client.js";
import { MAX_CHANNELS_PER_LOGIN } from "../../src/service/transfers/envelope-channels.js";
import { EXAMPLE_DIR, expectCode, startTestNode, firstLogin, type TestNode } from "../support/test-node.js";
import { createLoggedInReceiver } from "../support/transfer-fixtures.js";
import type { ApiClient } from "../../src/client/api-client.js";

const CLI = join(process.cwd(), "dist/cli/main.js");

let node: TestNode;
let office: ApiClient;

beforeAll(async () => {
  node = await startTestNode();
  office = node.client("office");
  const a = node.account("office");
  await firstLogin(office, a.loginId, a.password);
});

afterAll(async () => {
  await node.close();
});

describe("attack: look for an answer a proxy or the browser may store", () => {
  it("`/`, a client route and an API answer all carry Cache-Control: no-store", async () => {
    for (const path of ["/", "/transfers", "/api/v1/health"]) {
      const r = await office.get(path);
      expect({ path, cache: r.headers["cache-control"] }).toEqual({ path, cache: "no-store" });
    }
  });
});

describe("attack: one login opens envelope channels until nobody else can", () => {
  it(`refuses a login's channel beyond ${MAX_CHANNELS_PER_LOGIN} open ones (503 SERVICE_BUSY) while another login still gets one`, async () => {
    const hog = await createLoggedInReceiver(node, office, "チャネルを占有する受信機関");
    const other = await createLoggedInReceiver(node, office, "普通の受信機関");
    for (let i = 0; i < MAX_CHANNELS_PER_LOGIN; i++) {
      const opened = await agreeEnvelopeKey(hog.client, "download");
      if ("refused" in opened) throw new Error(`channel ${i} refused: ${opened.refused.text}`);
    }
    const beyond = await agreeEnvelopeKey(hog.client, "download");
    if (!("refused" in beyond)) throw new Error("a login opened more channels than its share");
    expectCode(beyond.refused, 503, "SERVICE_BUSY");
    const fine = await agreeEnvelopeKey(other.client, "download");
    expect("refused" in fine).toBe(false);
  });
});

describe("attack: read only the first line of a CLI's output", () => {
  it("`kenshin map check … | head -1` ends quietly, without an EPIPE stack trace", () => {
    const r = spawnSync(
      "bash",
      [
        "-c",
        `"${process.execPath}" "${CLI}" map check "${join(EXAMPLE_DIR, "mapping.yaml")}" --sample "${join(EXAMPLE_DIR, "export.csv")}" | head -1; exit "\${PIPESTATUS[0]}"`,
      ],
      { encoding: "utf8", timeout: 60_000 },
    );
    expect(r.stdout.split("\n").filter((l) => l.length > 0)).toHaveLength(1);
    expect(r.stderr).not.toMatch(/EPIPE|at .*\.js:\d+/);
    expect([0, 1]).toContain(r.status);
  });
});
