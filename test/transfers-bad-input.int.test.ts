/**
 * Bad uploads over real HTTPS, on a node whose maxUploadBytes is small: malformed, truncated and
 * oversized envelopes, misused key-agreement channels, files that are not CSV or do not fit the mapping,
 * receivers not linked. Each gets a coded 4xx answer (or, for a file the mapping can read, row issues),
 * never a 500; each refusal is a `denial` ledger entry with the code the requester got; and the
 * refusals leave the sender's transfers and the stored payloads as they were.
 */
import { randomBytes } from "node:crypto";
import iconv from "iconv-lite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ApiClient, ApiResponse } from "../src/client/api-client.js";
import { sealEnvelope, type EnvelopePurpose } from "../src/client/envelope.js";
import { agreeEnvelopeKey, downloadStandard, uploadExport } from "../src/client/transfer-client.js";
import type { OperationRecord } from "../src/ledger/entry/operation-record.js";
import {
  createLoggedInReceiver,
  denials,
  entriesSince,
  exampleExport,
  startTransferNode,
  type TransferNode,
} from "./support/transfer-fixtures.js";
import { expectCode, expectStatus, fsckDataDir, reach } from "./support/test-node.js";

const MAX_UPLOAD_BYTES = 16 * 1024;
const ENVELOPE_HEADER = "x-kenshin-envelope";
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

let t: TransferNode;
let unlinkedReceiverId: string;
const exportBytes = exampleExport();
/** Uploads answered 201 (the only ones allowed to add a transfer). */
let accepted = 0;
let transfersBefore: number;
let chunksBefore: number;

function senderTransfers(): number {
  return (
    t.node.ctx.db
      .prepare<[string], { n: number }>("SELECT count(*) AS n FROM transfers WHERE sender_id = ?")
      .get(t.senderId)?.n ?? 0
  );
}

function storedChunks(): number {
  return t.node.ctx.db.prepare<[], { n: number }>("SELECT count(*) AS n FROM payload_chunks").get()?.n ?? 0;
}

beforeAll(async () => {
  t = await startTransferNode({ config: { maxUploadBytes: MAX_UPLOAD_BYTES } });
  expect(t.node.ctx.config.maxUploadBytes).toBe(MAX_UPLOAD_BYTES);
  expect(exportBytes.length).toBeLessThan(MAX_UPLOAD_BYTES);
  unlinkedReceiverId = (await createLoggedInReceiver(t.node, t.office, "未登録の健康保険組合")).institutionId;
  transfersBefore = senderTransfers();
  chunksBefore = storedChunks();
}, 120_000);

afterAll(async () => {
  await t.node.close();
});

async function channel(
  client: ApiClient = t.sender,
  purpose: EnvelopePurpose = "upload",
): Promise<{ key: Parameters<typeof sealEnvelope>[0]; channelId: string }> {
  const agreed = await agreeEnvelopeKey(client, purpose);
  if ("refused" in agreed) throw new Error(agreed.refused.text);
  return agreed;
}

function post(
  body: Uint8Array,
  o: { channelId?: string; receiverId?: string; client?: ApiClient } = {},
): Promise<ApiResponse> {
  return (o.client ?? t.sender).request(
    "POST",
    `/api/v1/transfers?receiver=${encodeURIComponent(o.receiverId ?? t.receiverId)}`,
    {
      body,
      contentType: "application/octet-stream",
      headers: o.channelId === undefined ? {} : { [ENVELOPE_HEADER]: o.channelId },
    },
  );
}

/** An envelope sealed for a fresh upload channel of the sender. */
async function sealedUpload(
  plain: Uint8Array,
  chunkSize?: number,
): Promise<{ sealed: Uint8Array; channelId: string }> {
  const c = await channel();
  return { sealed: await sealEnvelope(c.key, plain, chunkSize), channelId: c.channelId };
}

/**
 * Runs one request and checks it was refused with this status and code, never a 500, and that the
 * refusal is in the ledger as a `denial` with the same code.
 */
async function refused(
  status: number,
  code: string,
  request: () => Promise<ApiResponse>,
  action: Extract<OperationRecord, { type: "denial" }>["action"] = "upload",
): Promise<ApiResponse> {
  const before = t.node.ctx.ledger.size();
  const r = await request();
  expectCode(r, status, code);
  const recorded = denials(entriesSince(t.node.ctx, before));
  expect(recorded.map((d) => ({ action: d.action, code: d.code }))).toContainEqual({ action, code });
  return r;
}

/** Either converted with row issues (201) or refused as unusable (422, recorded); never anything else. */
async function rowIssuesOrUnusable(plain: Uint8Array): Promise<void> {
  const before = t.node.ctx.ledger.size();
  const { sealed, channelId } = await sealedUpload(plain);
  const r = await post(sealed, { channelId });
  if (r.status === 201) {
    accepted++;
    const report = (r.json as { report: { counts: { recordsOut: number }; issueCounts: object } }).report;
    expect(report.counts.recordsOut).toBe(0);
    expect(Object.keys(report.issueCounts).length).toBeGreaterThan(0);
    return;
  }
  expectCode(r, 422, "UPLOAD_UNUSABLE");
  const recorded = denials(entriesSince(t.node.ctx, before));
  expect(recorded.map((d) => d.code)).toContain("UPLOAD_UNUSABLE");
}

function flipBit(bytes: Uint8Array, at: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  out[at] = (out[at] ?? 0) ^ 0x01;
  return out;
}

describe("malformed and truncated envelopes", () => {
  it("refuses random bytes, a wrong magic, a flipped bit, trailing garbage (400 ENVELOPE_INVALID)", async () => {
    const cases: [string, (sealed: Uint8Array) => Uint8Array][] = [
      ["random bytes", (s) => randomBytes(s.length)],
      ["wrong magic", (s) => flipBit(s, 0)],
      ["chunk size in the header", (s) => flipBit(s, 6)],
      ["bit flip in the first chunk", (s) => flipBit(s, 20)],
      ["bit flip in the last tag", (s) => flipBit(s, s.length - 1)],
      ["trailing garbage", (s) => Buffer.concat([s, randomBytes(17)])],
      ["header only", (s) => s.subarray(0, 8)],
    ];
    for (const [, mangle] of cases) {
      const { sealed, channelId } = await sealedUpload(exportBytes, 1024);
      await refused(400, "ENVELOPE_INVALID", () => post(mangle(sealed), { channelId }));
    }
  });

  it("refuses a truncated envelope, mid-chunk or exactly at a chunk boundary (400)", async () => {
    for (const cut of [(n: number) => n - 5, () => 8 + 2 * (1024 + 16)]) {
      const { sealed, channelId } = await sealedUpload(exportBytes, 1024);
      expect(cut(sealed.length)).toBeLessThan(sealed.length);
      await refused(400, "ENVELOPE_INVALID", () =>
        post(sealed.subarray(0, cut(sealed.length)), { channelId }),
      );
    }
  });
});

describe("bodies that are not an envelope", () => {
  it("refuses an empty body (400 ENVELOPE_INVALID) and a JSON one (422 UPLOAD_UNUSABLE), both recorded", async () => {
    const { channelId } = await sealedUpload(exportBytes);
    await refused(400, "ENVELOPE_INVALID", () => post(new Uint8Array(0), { channelId }));
    const other = await sealedUpload(exportBytes);
    await refused(422, "UPLOAD_UNUSABLE", () =>
      t.sender.request("POST", `/api/v1/transfers?receiver=${encodeURIComponent(t.receiverId)}`, {
        json: { file: "K000101" },
        headers: { [ENVELOPE_HEADER]: other.channelId },
      }),
    );
  });
});

describe("key-agreement channels", () => {
  it("refuses a channel used twice: the very request replayed after a 201 (409 ENVELOPE_CHANNEL_INVALID)", async () => {
    const { sealed, channelId } = await sealedUpload(exportBytes);
    expectStatus(await post(sealed, { channelId }), 201);
    accepted++;
    await refused(409, "ENVELOPE_CHANNEL_INVALID", () => post(sealed, { channelId }));
  });

  it("refuses another login's channel, a download channel, an unknown one and none (409)", async () => {
    const theirs = await channel(t.receiver, "upload");
    await refused(409, "ENVELOPE_CHANNEL_INVALID", async () =>
      post(await sealEnvelope(theirs.key, exportBytes), { channelId: theirs.channelId }),
    );
    const download = await channel(t.sender, "download");
    await refused(409, "ENVELOPE_CHANNEL_INVALID", async () =>
      post(await sealEnvelope(download.key, exportBytes), { channelId: download.channelId }),
    );
    const unknown = await channel();
    await refused(409, "ENVELOPE_CHANNEL_INVALID", async () =>
      post(await sealEnvelope(unknown.key, exportBytes), { channelId: "x".repeat(24) }),
    );
    const none = await channel();
    await refused(409, "ENVELOPE_CHANNEL_INVALID", async () =>
      post(await sealEnvelope(none.key, exportBytes)),
    );
  });

  it("refuses a download through a channel already used, another login's, or an upload one (409, recorded)", async () => {
    const up = await uploadExport(t.sender, t.receiverId, exportBytes);
    expectStatus(up, 201);
    accepted++;
    const id = (up.json as { transfer: { id: string } }).transfer.id;
    expectStatus(await t.sender.post(`/api/v1/transfers/${id}/send`), 200);
    const path = `/api/v1/transfers/${id}/download`;
    const used = await channel(t.receiver, "download");
    expect(
      (await t.receiver.request("POST", path, { headers: { [ENVELOPE_HEADER]: used.channelId } })).status,
    ).toBe(200);
    const senders = await channel(t.sender, "download");
    const upload = await channel(t.receiver, "upload");
    for (const channelId of [used.channelId, senders.channelId, upload.channelId]) {
      await refused(
        409,
        "ENVELOPE_CHANNEL_INVALID",
        () => t.receiver.request("POST", path, { headers: { [ENVELOPE_HEADER]: channelId } }),
        "download",
      );
    }
    const again = await downloadStandard(t.receiver, id);
    expect("bytes" in again).toBe(true);
  });
});

describe("sizes", () => {
  it("refuses an export over maxUploadBytes inside an envelope the route accepts (413 UPLOAD_TOO_LARGE)", async () => {
    const big = Buffer.concat(Array.from({ length: 5 }, () => exportBytes));
    expect(big.length).toBeGreaterThan(MAX_UPLOAD_BYTES);
    const { sealed, channelId } = await sealedUpload(big);
    await refused(413, "UPLOAD_TOO_LARGE", () => post(sealed, { channelId }));
  });

  it("refuses a body over the upload route's limit before reading it (413 REQUEST_TOO_LARGE)", async () => {
    const { channelId } = await sealedUpload(exportBytes);
    const r = await post(randomBytes(MAX_UPLOAD_BYTES + 1024 * 1024 + 1), { channelId });
    expectCode(r, 413, "REQUEST_TOO_LARGE");
  });
});

describe("files that are not a usable export", () => {
  it("answers random bytes, a PNG, an empty file, a header that does not match the mapping and the export re-encoded with row issues or 422 UPLOAD_UNUSABLE, never a 500", async () => {
    const png = Buffer.concat([
      PNG_SIGNATURE,
      Buffer.from([0, 0, 0, 13]),
      Buffer.from("IHDR"),
      randomBytes(2000),
    ]);
    const text = iconv.decode(exportBytes, "cp932");
    const renamed = iconv.encode(text.replace("受診者ID", "受診者番号"), "cp932");
    const headerless = iconv.encode(text.split("\r\n").slice(0, 1).join("\r\n"), "cp932");
    for (const plain of [
      randomBytes(3000),
      png,
      new Uint8Array(0),
      renamed,
      headerless,
      Buffer.from(text, "utf8"),
    ]) {
      await rowIssuesOrUnusable(plain);
    }
  });
});

describe("who may upload for whom", () => {
  it("refuses a receiver the sender is not linked to, an unknown one and none (422 RECEIVER_NOT_LINKED)", async () => {
    for (const receiverId of [unlinkedReceiverId, t.senderId, "rc_unknown", ""]) {
      const { sealed, channelId } = await sealedUpload(exportBytes);
      await refused(422, "RECEIVER_NOT_LINKED", () => post(sealed, { channelId, receiverId }));
    }
  });

  it("refuses an upload by a receiver (403 AUTH_FORBIDDEN)", async () => {
    const c = await channel(t.receiver, "upload");
    await refused(403, "AUTH_FORBIDDEN", async () =>
      post(await sealEnvelope(c.key, exportBytes), { channelId: c.channelId, client: t.receiver }),
    );
  });
});

describe("afterwards", () => {
  it("the refusals changed nothing: only accepted uploads added transfers and payloads; the ledger verifies", async () => {
    expect(senderTransfers()).toBe(transfersBefore + accepted);
    const standardPayloads = t.node.ctx.db
      .prepare<[], { n: number }>("SELECT count(DISTINCT transfer_id) AS n FROM payload_chunks")
      .get()?.n;
    expect(standardPayloads).toBe(accepted);
    expect(storedChunks()).toBeGreaterThanOrEqual(chunksBefore + accepted);
    expect(await reach(t.sender)).toBe(200);
    expect(fsckDataDir(t.node)).toMatchObject({ ok: true });
    // Every answer in this file was coded: nothing fell through to INTERNAL.
    const codes = new Set(denials(entriesSince(t.node.ctx, 0)).map((d) => d.code));
    expect(codes.has("INTERNAL")).toBe(false);
  });
});
