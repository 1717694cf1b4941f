/**
 * The life of one transfer over real HTTPS: enveloped upload → conversion → 送信確定 → enveloped
 * download of the exact standard CSV → 受領確定; what a TLS-inspecting proxy would see of both bodies;
 * look-up by file and record hash verified here with the pure verifier; KEK rotation while transfers
 * are live; the office's monitoring view; and the ledger: fsck passes after the flow, fails after a
 * stored entry is edited, and the next operation on that transfer is refused with an alarm entry.
 */
import { readFileSync } from "node:fs";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ApiClient } from "../src/client/api-client.js";
import { openEnvelope, sealEnvelope } from "../src/client/envelope.js";
import { agreeEnvelopeKey, downloadStandard, uploadExport } from "../src/client/transfer-client.js";
import { loadKek } from "../src/crypto/kek-file.js";
import { recordHashesOf, sha256Hex } from "../src/format/hash.js";
import { decodeEntry, encodeEntry } from "../src/ledger/entry/canonical-entry.js";
import type { OperationRecord } from "../src/ledger/entry/operation-record.js";
import { openCheckpoint } from "../src/ledger/verify/checkpoint.js";
import { bytesEqual, fromHex, toHex } from "../src/ledger/verify/encoding.js";
import { rfc6962Hasher } from "../src/ledger/verify/hash.js";
import { verifyInclusion } from "../src/ledger/verify/inclusion.js";
import { verifyRecordProof } from "../src/ledger/verify/record-proof.js";
import { parseVerifierKey } from "../src/ledger/verify/verifier-key.js";
import type { TrailAnswer } from "../src/service/transfers/queries.js";
import type { TransferView } from "../src/service/transfers/view.js";
import { rotateKek } from "../src/store/kek-rotation.js";
import { openServiceDb } from "../src/store/service-db.js";
import {
  convertLocally,
  denials,
  entriesSince,
  exampleExport,
  exportValues,
  found,
  needlesOf,
  recordLines,
  startTransferNode,
  type Needle,
  type TransferNode,
} from "./support/transfer-fixtures.js";
import { expectCode, expectStatus, fsckDataDir, type TestNode } from "./support/test-node.js";

const ENVELOPE_HEADER = "x-kenshin-envelope";

let t: TransferNode;
let node: TestNode;
let sender: ApiClient;
let receiver: ApiClient;
const exportBytes = exampleExport();
let standard: Buffer;
let standardHashes: readonly string[];
/** Known values of the export (IDs, names, kana, ticket numbers) in CP932 and UTF-8. */
const valueNeedles: Needle[] = needlesOf(exportValues(exportBytes));
let lineNeedles: Needle[];

beforeAll(async () => {
  t = await startTransferNode();
  ({ node, sender, receiver } = t);
  const local = await convertLocally(exportBytes);
  standard = local.bytes;
  standardHashes = local.summary.recordHashes;
  lineNeedles = recordLines(standard).map((bytes, i) => ({ label: `record line ${i + 1}`, bytes }));
  // The needles are real: each kind is present where it should be.
  expect(found(exportBytes, valueNeedles).some((l) => l.startsWith("cp932"))).toBe(true);
  expect(found(standard, valueNeedles).some((l) => l.startsWith("utf-8"))).toBe(true);
  expect(lineNeedles.length).toBeGreaterThan(3);
}, 120_000);

afterAll(async () => {
  await node.close();
});

interface Uploaded {
  transfer: TransferView;
  report: { counts: { recordsOut: number; rowsRejected: number } };
}

async function uploadAndSend(): Promise<TransferView> {
  const up = await uploadExport(sender, t.receiverId, exportBytes);
  expectStatus(up, 201);
  const { transfer } = up.json as Uploaded;
  expectStatus(await sender.post(`/api/v1/transfers/${transfer.id}/send`), 200);
  return transfer;
}

async function download(id: string): Promise<Uint8Array> {
  const down = await downloadStandard(receiver, id);
  if ("refused" in down) throw new Error(`download refused: ${down.refused.status} ${down.refused.text}`);
  return down.bytes;
}

/** Verifies a trail answer here, against the node's verifier key file, with the pure verifier. */
function verifyTrailLocally(answer: TrailAnswer): void {
  const vkey = parseVerifierKey(readFileSync(node.ctx.paths.ledgerVerifierKey, "utf8").trim());
  const { checkpoint } = openCheckpoint(answer.checkpoint, vkey);
  expect(checkpoint.size).toBe(answer.treeSize);
  expect(answer.entries.length).toBeGreaterThan(0);
  for (const e of answer.entries) {
    const leafHash = rfc6962Hasher.hashLeaf(encodeEntry(e.entry as OperationRecord));
    expect(toHex(leafHash)).toBe(e.leafHash);
    verifyInclusion({
      index: e.index,
      size: checkpoint.size,
      leafHash,
      proof: e.proof.map((h) => fromHex(h)),
      root: checkpoint.root,
    });
  }
}

describe("a transfer from upload to receipt", () => {
  let first: TransferView;

  it("uploads, converts, sends; the receiver downloads exactly the standard CSV a local conversion makes, and confirms receipt", async () => {
    const up = await uploadExport(sender, t.receiverId, exportBytes);
    expectStatus(up, 201);
    const { transfer, report } = up.json as Uploaded;
    const local = await convertLocally(exportBytes);
    expect(transfer.status).toBe("converted");
    expect(report.counts.recordsOut).toBe(local.summary.counts.recordsOut);
    expect(report.counts.rowsRejected).toBe(local.summary.counts.rowsRejected);
    expect(transfer.original.sha256).toBe(sha256Hex(exportBytes));
    expect(transfer.standard?.sha256).toBe(local.summary.output.sha256);

    // Not visible to the receiver before 送信確定.
    expectCode(await receiver.get(`/api/v1/transfers/${transfer.id}`), 404, "NOT_FOUND");
    expectStatus(await sender.post(`/api/v1/transfers/${transfer.id}/send`), 200);
    const list = await receiver.get("/api/v1/transfers");
    expect((list.json as { transfers: { id: string }[] }).transfers.map((x) => x.id)).toContain(transfer.id);

    // The detail view carries the conversion report (counts and codes) to both parties.
    for (const client of [sender, receiver]) {
      const detail = await client.get(`/api/v1/transfers/${transfer.id}`);
      expectStatus(detail, 200);
      expect((detail.json as { report: Uploaded["report"] }).report.counts).toEqual(report.counts);
    }

    const bytes = await download(transfer.id);
    expect(Buffer.from(bytes).equals(standard)).toBe(true);
    expect(sha256Hex(bytes)).toBe(transfer.standard?.sha256);
    expect(recordHashesOf(bytes)).toEqual(standardHashes);

    expectStatus(await receiver.post(`/api/v1/transfers/${transfer.id}/receipt`), 200);
    const trail = await receiver.get(`/api/v1/transfers/${transfer.id}/trail`);
    expectStatus(trail, 200);
    const types = (trail.json as TrailAnswer).entries.map((e) => (e.entry as OperationRecord).type);
    expect(types).toEqual(["upload", "conversion", "send", "seal", "download", "receipt"]);
    first = transfer;
  });

  it("puts only ciphertext on the wire: the sealed upload and download bodies hold no export value and no record line", async () => {
    // The exact bytes uploadExport sends, built here so the test can look at them before sending.
    const agreed = await agreeEnvelopeKey(sender, "upload");
    if ("refused" in agreed) throw new Error(agreed.refused.text);
    const sealed = await sealEnvelope(agreed.key, exportBytes);
    expect(found(sealed, valueNeedles)).toEqual([]);
    expect(found(sealed, lineNeedles)).toEqual([]);
    const up = await sender.request(
      "POST",
      `/api/v1/transfers?receiver=${encodeURIComponent(t.receiverId)}`,
      {
        body: sealed,
        contentType: "application/octet-stream",
        headers: { [ENVELOPE_HEADER]: agreed.channelId },
      },
    );
    expectStatus(up, 201);
    const { transfer } = up.json as Uploaded;
    expectStatus(await sender.post(`/api/v1/transfers/${transfer.id}/send`), 200);

    const channel = await agreeEnvelopeKey(receiver, "download");
    if ("refused" in channel) throw new Error(channel.refused.text);
    const down = await receiver.request("POST", `/api/v1/transfers/${transfer.id}/download`, {
      headers: { [ENVELOPE_HEADER]: channel.channelId },
    });
    expect(down.status).toBe(200);
    expect(found(down.bytes, lineNeedles)).toEqual([]);
    expect(found(down.bytes, valueNeedles)).toEqual([]);
    const opened = await openEnvelope(channel.key, down.bytes, { maxPlaintextBytes: 1 << 20 });
    expect(Buffer.from(opened).equals(standard)).toBe(true);
  });

  it("looks up by the standard file's hash and by one record's hash; both trails verify here; an edited copy finds nothing", async () => {
    const byFile = await receiver.post("/api/v1/lookup", { sha256: sha256Hex(standard) });
    expectStatus(byFile, 200);
    const fileAnswer = byFile.json as TrailAnswer;
    expect(fileAnswer.transfer.standard?.sha256).toBe(sha256Hex(standard));
    expect(fileAnswer.record).toBeUndefined();
    verifyTrailLocally(fileAnswer);

    const position = 2;
    const recordHash = recordHashesOf(standard)[position] as string;
    const byRecord = await sender.post("/api/v1/lookup", { sha256: recordHash });
    expectStatus(byRecord, 200);
    const recordAnswer = byRecord.json as TrailAnswer;
    verifyTrailLocally(recordAnswer);
    const proof = recordAnswer.record;
    if (proof === undefined) throw new Error("no record proof");
    expect({ hash: proof.hash, position: proof.position, count: proof.count }).toEqual({
      hash: recordHash,
      position,
      count: standardHashes.length,
    });
    // Level 1: record in file. Level 2: the conversion entry committing to that root is in the log.
    verifyRecordProof({
      recordHash: fromHex(recordHash),
      position: proof.position,
      count: proof.count,
      proof: proof.proof.map((h) => fromHex(h)),
      recordsRoot: fromHex(proof.recordsRoot),
    });
    const conversion = recordAnswer.entries.find((e) => e.index === proof.entryIndex);
    const record = conversion?.entry as OperationRecord | undefined;
    if (record?.type !== "conversion")
      throw new Error("the record proof does not point at a verified conversion");
    expect(record.records.root).toBe(proof.recordsRoot);
    // A proof for another position does not verify.
    expect(() => {
      verifyRecordProof({
        recordHash: fromHex(recordHash),
        position: position + 1,
        count: proof.count,
        proof: proof.proof.map((h) => fromHex(h)),
        recordsRoot: fromHex(proof.recordsRoot),
      });
    }).toThrow(expect.objectContaining({ code: "LEDGER_PROOF_INVALID" }) as Error);

    // One byte changed in a record: neither the file nor that record is known.
    const edited = Buffer.from(standard);
    const line = recordLines(standard)[position] as Buffer;
    const at = edited.indexOf(line) + line.indexOf(Buffer.from(","));
    edited[at + 1] = (edited[at + 1] ?? 0) ^ 0x01;
    expect(bytesEqual(edited, standard)).toBe(false);
    expectCode(await receiver.post("/api/v1/lookup", { sha256: sha256Hex(edited) }), 404, "NOT_FOUND");
    const editedRecord = recordHashesOf(edited)[position] as string;
    expect(editedRecord).not.toBe(recordHash);
    expectCode(await receiver.post("/api/v1/lookup", { sha256: editedRecord }), 404, "NOT_FOUND");
    expect(first.id).toMatch(/^tr_/);
  });

  let live: TransferView;

  it("keeps live transfers readable across a KEK rotation (as `kenshin keys rotate` does, on its own connection)", async () => {
    live = await uploadAndSend();
    const kekBefore = (await loadKek(node.ctx.paths.kek)).id;
    const db = openServiceDb(node.ctx.paths.serviceDb, { create: false });
    try {
      const result = await rotateKek({ db, paths: { kek: node.ctx.paths.kek }, random: node.ctx.random });
      expect(result.rewrapped).toBeGreaterThanOrEqual(2);
      expect(result.oldKekId).toBe(kekBefore);
    } finally {
      db.close();
    }
    expect((await loadKek(node.ctx.paths.kek)).id).not.toBe(kekBefore);
    const ids = node.ctx.db
      .prepare<[], { kek_id: string }>("SELECT DISTINCT kek_id FROM transfer_keys")
      .all()
      .map((r) => r.kek_id);
    expect(ids).toEqual([(await loadKek(node.ctx.paths.kek)).id]);
    expect(Buffer.from(await download(live.id)).equals(standard)).toBe(true);
    // A transfer uploaded after the rotation too.
    const after = await uploadAndSend();
    expect(Buffer.from(await download(after.id)).equals(standard)).toBe(true);
  });

  it("shows the office counts and codes in monitoring, and no value from the export", async () => {
    const r = await t.office.get("/api/v1/admin/monitoring");
    expectStatus(r, 200);
    const m = r.json as {
      transfersByStatus: Record<string, number>;
      conversionRuns: { transfer: string; recordsOut: number | null; issueCodes: Record<string, unknown> }[];
      ledger: { size: number; checkpointSize: number; checkpoint: string | null };
    };
    expect(Object.values(m.transfersByStatus).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(4);
    const run = m.conversionRuns.find((x) => x.transfer === live.id);
    expect(run?.recordsOut).toBe(standardHashes.length);
    for (const code of Object.keys(run?.issueCodes ?? {})) expect(code).toMatch(/^[A-Z][A-Z0-9_]+$/);
    expect(m.ledger.size).toBeGreaterThan(0);
    expect(m.ledger.checkpoint).toMatch(/\n— /);
    expect(found(r.bytes, valueNeedles)).toEqual([]);
    expect(found(r.bytes, lineNeedles)).toEqual([]);
    // Nor for the other roles: monitoring is the office's.
    expectCode(await sender.get("/api/v1/admin/monitoring"), 403, "AUTH_FORBIDDEN");
  });

  it("passes fsck after the whole flow; after a stored entry is edited fsck names it and the next operation on that transfer is refused with an alarm", async () => {
    // Checkpoints follow appends on a cadence: once one covers the newest entry, nothing is unsigned.
    await node.ctx.ledger.checkpointCovering(node.ctx.ledger.size() - 1);
    const ok = fsckDataDir(node);
    expect(ok).toMatchObject({ ok: true, unsignedEntries: 0 });

    // Edit the stored `send` entry of the live transfer in ledger.db (same length, still canonical).
    const key = `transfer:${live.id}`;
    const index = node.ctx.ledger
      .findByKey(key)
      .find((i) => decodeEntry(node.ctx.ledger.entry(i)).type === "send");
    if (index === undefined) throw new Error("no send entry");
    const sqlite = new Database(node.ctx.paths.ledgerDb);
    try {
      const row = sqlite.prepare("SELECT entry FROM entries WHERE idx = ?").get(index) as { entry: Buffer };
      const text = row.entry.toString("utf8");
      const edited = text.replace(/"time":"(\d{4})/, (_m, year: string) => `"time":"${Number(year) + 1}`);
      expect(edited).not.toBe(text);
      expect(Buffer.byteLength(edited)).toBe(row.entry.length);
      sqlite.prepare("UPDATE entries SET entry = ? WHERE idx = ?").run(Buffer.from(edited, "utf8"), index);
    } finally {
      sqlite.close();
    }
    const bad = fsckDataDir(node);
    expect(bad).toMatchObject({ ok: false, code: "LEDGER_LEAF_HASH_MISMATCH", firstBadIndex: index });

    const before = node.ctx.ledger.size();
    const down = await downloadStandard(receiver, live.id);
    if (!("refused" in down)) throw new Error("download of a transfer with an edited trail was served");
    expectCode(down.refused, 503, "INTEGRITY_FAILURE");
    expectCode(await receiver.get(`/api/v1/transfers/${live.id}/trail`), 503, "INTEGRITY_FAILURE");
    const alarms = denials(entriesSince(node.ctx, before)).filter((d) => d.action === "integrity");
    expect(alarms.length).toBeGreaterThanOrEqual(2);
    expect(alarms[0]).toMatchObject({ transfer: live.id, outcome: "major-failure" });
    // Nothing was recorded as a download of that transfer.
    expect(entriesSince(node.ctx, before).some((r) => r.type === "download")).toBe(false);
    // Other transfers are unaffected.
    expect(Buffer.from(await download(first.id)).equals(standard)).toBe(true);
  });
});
