/**
 * Issue 11 hand-off, the Node client's streamed transfers (client/transfer-client.ts, what the CLI
 * sends a large file with) over real HTTPS to a real node: the upload of a multi-MB export from its
 * file and the download into a file each meet, on their first body, the node's real quarantine gate
 * (the coded 503 `CLUSTER_QUARANTINED` / `CLUSTER_CATCHING_UP` a stopping node answers before any
 * route ran), and then a node that never agreed their envelope key: the test makes the server forget
 * the channel, as the node a retried body reaches in a cluster knows nothing of it, and the server
 * answers its real 409 `ENVELOPE_CHANNEL_INVALID`. The client agrees a new key, seals the export
 * again from its file (or asks for the download again), and the transfer completes: one upload and one
 * download entry on the ledger, the bytes exactly a local conversion, and no partial file left beside
 * the download's target. The wrapped client and the gate only sequence; every answer is the server's.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import iconv from "iconv-lite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ApiClient, RequestOptions } from "../src/client/api-client.js";
import { downloadStandardToFile, uploadExportFile } from "../src/client/transfer-client.js";
import {
  CATCHING_UP_MESSAGE,
  QUARANTINED_MESSAGE,
  type ServingRefusalCode,
} from "../src/cluster/serving-state.js";
import { sha256Hex } from "../src/format/hash.js";
import type { NodeHealthView } from "../src/server/quarantine-gate.js";
import type { EnvelopePurpose } from "../src/service/transfers/envelope-channels.js";
import {
  convertLocally,
  denials,
  entriesSince,
  exampleExport,
  startTransferNode,
  type TransferNode,
} from "./support/transfer-fixtures.js";
import { expectStatus, fsckDataDir, ledgerRecords } from "./support/test-node.js";

const ENVELOPE_HEADER = "x-kenshin-envelope";

/**
 * The node's serving state as the quarantine gate reads it: while a refusal is armed the node does
 * not serve, and the gate's refusal of the next request disarms it — exactly one request gets the 503.
 */
const gate: { armed: ServingRefusalCode | undefined; refused: ServingRefusalCode[] } = {
  armed: undefined,
  refused: [],
};
const MESSAGES: Record<ServingRefusalCode, string> = {
  CLUSTER_QUARANTINED: QUARANTINED_MESSAGE,
  CLUSTER_CATCHING_UP: CATCHING_UP_MESSAGE,
};
const gateHealth: NodeHealthView = {
  serving: () => gate.armed === undefined,
  snapshot: () => ({
    state: gate.armed === undefined ? "healthy" : "quarantined",
    since: new Date().toISOString(),
  }),
  refusal: () => {
    const code = gate.armed;
    if (code === undefined) return undefined;
    gate.armed = undefined;
    gate.refused.push(code);
    return { code, message: MESSAGES[code] };
  },
};

/** The bodies a wrapped client sent, with the channel each named, and the channels it agreed. */
interface Seen {
  readonly agreed: string[];
  readonly bodies: string[];
}

/**
 * `client` as the transfer client uses it, with one thing done between the agreement and the first
 * body: the gate armed with `refusal` (the body's first attempt meets the stopping node) and the
 * body's channel forgotten by the server (its next attempt, sent again on the 503 with the same
 * channel, reaches a node that never agreed it). Later bodies pass untouched.
 */
function forgettingFirstBody(
  client: ApiClient,
  o: { refusal: ServingRefusalCode; forget: (channel: string) => void },
): { client: ApiClient; seen: Seen } {
  const seen: Seen = { agreed: [], bodies: [] };
  const beforeBody = (options: RequestOptions | undefined): void => {
    const channel = options?.headers?.[ENVELOPE_HEADER];
    if (channel === undefined) return;
    seen.bodies.push(channel);
    if (seen.bodies.length !== 1) return;
    gate.armed = o.refusal;
    o.forget(channel);
  };
  return {
    seen,
    client: {
      ...client,
      post: async (path, body) => {
        const r = await client.post(path, body);
        if (path === "/api/v1/envelope-keys" && r.status === 201) {
          seen.agreed.push((r.json as { channelId: string }).channelId);
        }
        return r;
      },
      request: (method, path, options) => {
        beforeBody(options);
        return client.request(method, path, options);
      },
      requestStream: (method, path, options) => {
        beforeBody(options);
        return client.requestStream(method, path, options);
      },
    },
  };
}

/** The example export's rows repeated to about 3 MB, each copy with its own examinee IDs. */
function repeatedExport(): Buffer {
  const text = iconv.decode(exampleExport(), "cp932");
  const [header, ...rows] = text.split("\r\n").filter((l) => l !== "");
  const body: string[] = [];
  let size = 0;
  for (let copy = 0; size < 3_000_000; copy++) {
    for (const r of rows) {
      const line = r.replace(/^([^,]*),K(\d+),/, (_, date: string, id: string) => `${date},K${copy}-${id},`);
      body.push(line);
      size += line.length * 2;
    }
  }
  return iconv.encode(`${header ?? ""}\r\n${body.join("\r\n")}\r\n`, "cp932");
}

function expectOneThenAnother(seen: Seen): void {
  // Two agreements, each body under its own: the 409 one agreed a new key.
  expect(seen.agreed).toHaveLength(2);
  expect(seen.bodies).toEqual(seen.agreed);
  expect(seen.agreed[0]).not.toBe(seen.agreed[1]);
}

let t: TransferNode;
let work: string;

beforeAll(async () => {
  t = await startTransferNode({ nodeHealth: gateHealth });
  work = mkdtempSync(join(tmpdir(), "kenshin-client-retry-"));
}, 120_000);

afterAll(async () => {
  await t.node.close();
  rmSync(work, { recursive: true, force: true });
});

describe("the client's streamed transfers sent again on the coded 503 and a forgotten envelope key", () => {
  let transferId: string;
  let expected: Buffer;

  it("the upload of a file meets a stopping node (503) and a node that never agreed its key (409): sealed again from the file, stored once", async () => {
    const exportBytes = repeatedExport();
    const path = join(work, "export.csv");
    writeFileSync(path, exportBytes);
    const local = await convertLocally(exportBytes);
    expected = local.bytes;
    expect(expected.length).toBeGreaterThan(1024 * 1024);
    const from = t.node.ctx.ledger.size();
    const loginId = t.node.account("sender").loginId;
    const { client, seen } = forgettingFirstBody(t.sender, {
      refusal: "CLUSTER_QUARANTINED",
      forget: (channel) => t.node.server.channels.take(channel, loginId, "upload" satisfies EnvelopePurpose),
    });

    const up = await uploadExportFile(client, t.receiverId, path, { tmpDir: work });

    expectStatus(up, 201);
    const { transfer } = up.json as { transfer: { id: string; standard?: { sha256: string } } };
    transferId = transfer.id;
    expect(transfer.standard?.sha256).toBe(local.summary.output.sha256);
    expect(gate.refused).toEqual(["CLUSTER_QUARANTINED"]);
    expectOneThenAnother(seen);
    const records = entriesSince(t.node.ctx, from);
    // The 503 was refused before any route (no entry); the 409 is the server's denial of the body.
    expect(denials(records).map((d) => [d.action, d.code])).toEqual([["upload", "ENVELOPE_CHANNEL_INVALID"]]);
    expect(records.filter((r) => r.type === "upload")).toHaveLength(1);
    // The sealed copies were removed: only the export and nothing of the upload's temporary files.
    expect(readdirSync(work)).toEqual(["export.csv"]);
    expectStatus(await t.sender.post(`/api/v1/transfers/${transferId}/send`), 200);
  });

  it("a refused download leaves no file at the target nor beside it", async () => {
    const target = join(work, "refused.csv");
    const r = await downloadStandardToFile(t.receiver, "tr_aaaaaaaaaaaaaaaa", target);
    if (!("refused" in r)) throw new Error("the download of an unknown transfer was answered");
    expect(r.refused.status).toBe(404);
    expect(readdirSync(work)).toEqual(["export.csv"]);
  });

  it("the download into a file meets a node catching up (503) and a node that never agreed its key (409): the exact bytes, one download entry, no partial file", async () => {
    const target = join(work, "standard.csv");
    const from = t.node.ctx.ledger.size();
    const loginId = t.node.account("receiver").loginId;
    const { client, seen } = forgettingFirstBody(t.receiver, {
      refusal: "CLUSTER_CATCHING_UP",
      forget: (channel) =>
        t.node.server.channels.take(channel, loginId, "download" satisfies EnvelopePurpose),
    });

    const down = await downloadStandardToFile(client, transferId, target);

    if ("refused" in down) throw new Error(`${down.refused.status} ${down.refused.text}`);
    const bytes = readFileSync(target);
    expect(down.bytes).toBe(expected.length);
    expect(bytes.equals(expected)).toBe(true);
    const view = (await t.receiver.get(`/api/v1/transfers/${transferId}`)).json as {
      transfer: { standard: { sha256: string } };
    };
    expect(sha256Hex(bytes)).toBe(view.transfer.standard.sha256);
    expect(gate.refused).toEqual(["CLUSTER_QUARANTINED", "CLUSTER_CATCHING_UP"]);
    expectOneThenAnother(seen);
    const records = entriesSince(t.node.ctx, from);
    expect(denials(records).map((d) => [d.action, d.code])).toEqual([
      ["download", "ENVELOPE_CHANNEL_INVALID"],
    ]);
    expect(ledgerRecords(t.node.ctx).filter((r) => r.type === "download")).toHaveLength(1);
    expect(readdirSync(work).sort()).toEqual(["export.csv", "standard.csv"]);
    expect(fsckDataDir(t.node)).toMatchObject({ ok: true });
  });
});
