/**
 * The verifiers with a cluster's node keys pinned: a trail answered by a real node, its checkpoint
 * cosigned by node witnesses that each recomputed the root from the ledger's leaves, must carry a quorum
 * of pinned cosignatures — in the shared verifier (`kenshin verify --url` and the browser run it) and
 * in the CLI, which refuses the single node's log-only checkpoint when cosigners are pinned.
 */
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkTrail } from "../../web/src/trail-check.js";
import { cosignCheckpoint } from "../../src/cluster/checkpoint-cosigner.js";
import { addCosignatureLines } from "../../src/cluster/checkpoint-cosigner.js";
import { downloadStandard, uploadExport } from "../../src/client/transfer-client.js";
import { MemoryTree } from "../../src/ledger/memory-tree.js";
import { rfc6962Hasher } from "../../src/ledger/verify/hash.js";
import { verifyRemoteTrail } from "../../src/ledger/verify/remote-trail.js";
import { parseVerifierKey } from "../../src/ledger/verify/verifier-key.js";
import { sha256Hex } from "../../src/format/hash.js";
import { expectCode } from "../ledger/expect-code.js";
import {
  EXAMPLE_DIR,
  NEW_PASSWORD,
  expectStatus,
  firstLogin,
  startTestNode,
  type TestNode,
} from "../support/test-node.js";
import { cosigningFixture } from "./cosigning-fixture.js";

let node: TestNode;
let trail: { checkpoint: string } & Record<string, unknown>;
let standard: Uint8Array;
const witnesses = cosigningFixture();

/** Root over the node's own leaves [0, size), re-hashed from the stored entries. */
function ownRootAt(size: number): Uint8Array {
  const leaves = Array.from({ length: size }, (_, i) => rfc6962Hasher.hashLeaf(node.ctx.ledger.entry(i)));
  return new MemoryTree(leaves).root();
}

function cosignedBy(indices: number[]): string {
  const logKey = parseVerifierKey(node.ctx.verifierKey);
  const lines = indices.map(
    (i) =>
      cosignCheckpoint({
        note: trail.checkpoint,
        logKey,
        cosigner: witnesses.cosigner(i),
        ownSize: node.ctx.ledger.latestCheckpoint().size,
        ownRootAt,
        last: undefined,
      }).line,
  );
  return addCosignatureLines(trail.checkpoint, lines);
}

beforeAll(async () => {
  node = await startTestNode();
  const sender = node.client("sender");
  const receiver = node.client("receiver");
  await firstLogin(sender, node.account("sender").loginId, node.account("sender").password);
  await firstLogin(receiver, node.account("receiver").loginId, node.account("receiver").password);
  const receiverId = ((await receiver.get("/api/v1/session")).json as { institution: { id: string } })
    .institution.id;
  const up = await uploadExport(sender, receiverId, readFileSync(join(EXAMPLE_DIR, "export.csv")));
  expectStatus(up, 201);
  const id = (up.json as { transfer: { id: string } }).transfer.id;
  expectStatus(await sender.post(`/api/v1/transfers/${id}/send`), 200);
  const down = await downloadStandard(receiver, id);
  if ("refused" in down) throw new Error("download refused");
  standard = down.bytes;
  const answer = await receiver.post("/api/v1/lookup", { sha256: sha256Hex(standard) });
  expectStatus(answer, 200);
  trail = answer.json as typeof trail;
}, 120_000);

afterAll(async () => {
  await node.close();
});

describe("verifiers with pinned node keys accept only a published checkpoint", () => {
  const policy = () => ({ cosigners: witnesses.cosignerKeys, quorum: 2 });
  const logKey = () => parseVerifierKey(node.ctx.verifierKey);

  it("a real trail whose checkpoint 2 of 3 nodes cosigned verifies, with the cosigners named", () => {
    const answer = { ...trail, checkpoint: cosignedBy([0, 2]) };
    const verified = verifyRemoteTrail(answer, {
      logKey: logKey(),
      cosigners: policy(),
      fileSha256: sha256Hex(standard),
    });
    expect(verified.matched).toBe("file");
    expect(verified.cosignatures.map((c) => c.name)).toEqual([
      witnesses.nodeKeys[0]?.name,
      witnesses.nodeKeys[2]?.name,
    ]);
    // The browser's check (web/src/trail-check.ts) agrees entry by entry.
    const browser = checkTrail(answer, logKey(), { cosigners: policy(), fileSha256: sha256Hex(standard) });
    expect(browser.verified).toBe(true);
    expect(browser.entries.every((e) => e.verified)).toBe(true);
  });

  it("one cosignature → LEDGER_COSIGNATURE_QUORUM; the browser marks the trail unverified", () => {
    const answer = { ...trail, checkpoint: cosignedBy([1]) };
    expectCode(
      () => verifyRemoteTrail(answer, { logKey: logKey(), cosigners: policy() }),
      "LEDGER_COSIGNATURE_QUORUM",
    );
    const browser = checkTrail(answer, logKey(), { cosigners: policy() });
    expect(browser.verified).toBe(false);
    expect(browser.entries.some((e) => e.verified)).toBe(false);
  });

  it("without pinned cosigners the single node's log-signed trail verifies as before", () => {
    expect(verifyRemoteTrail(trail, { logKey: logKey() }).cosignatures).toEqual([]);
  });

  it("kenshin verify --url --cosigner … refuses the single node's checkpoint (exit 1, quorum code)", async () => {
    const file = join(node.dir, "standard-for-verify.csv");
    writeFileSync(file, standard);
    const keys = witnesses.cosignerKeys.map((_, i) => witnesses.cosigner(i).verifierKey);
    const r = node.account("receiver");
    const run = (extra: string[]) =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        execFile(
          process.execPath,
          [
            "dist/cli/main.js",
            "verify",
            file,
            "--url",
            node.baseUrl,
            "--ca",
            node.demo.caCertificate,
            "--cert",
            r.certificate,
            "--key",
            r.key,
            "--id",
            r.loginId,
            "--verifier",
            join(node.dir, "keys", "ledger.vkey"),
            "--json",
            ...extra,
          ],
          { encoding: "utf8", env: { ...process.env, KENSHIN_PASSWORD: NEW_PASSWORD }, timeout: 60_000 },
          (error, stdout) => {
            resolve({ code: error ? (typeof error.code === "number" ? error.code : null) : 0, out: stdout });
          },
        );
      });
    const pinned = await run(keys.flatMap((k) => ["--cosigner", k]));
    expect(pinned.code).toBe(1);
    expect(JSON.parse(pinned.out)).toEqual({ ok: false, code: "LEDGER_COSIGNATURE_QUORUM" });
    // A quorum larger than the pinned keys is unusable configuration (exit 2).
    const bad = await run(["--cosigner", keys[0] ?? "", "--quorum", "2"]);
    expect(bad.code).toBe(2);
  });
});
