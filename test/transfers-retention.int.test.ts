/**
 * Deletion is physical. After a discard (before sending) and after retention (受領確定 + the configured
 * days; and a transfer never confirmed, after the expiry), the bytes of the service database, its WAL and
 * its shared-memory file hold neither plaintext of the payload (record lines, examinee IDs) nor any slice
 * of the ciphertext stored for it. The transfer stays, with status and a deletion entry in its trail;
 * both parties' lists warned before the deadline.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ApiClient } from "../src/client/api-client.js";
import { downloadStandard, uploadExport } from "../src/client/transfer-client.js";
import type { OperationRecord } from "../src/ledger/entry/operation-record.js";
import { runRetention } from "../src/service/transfers/retention.js";
import type { TrailAnswer } from "../src/service/transfers/queries.js";
import type { TransferView } from "../src/service/transfers/view.js";
import {
  convertLocally,
  exampleExport,
  exportValues,
  foundInServiceDb,
  needlesOf,
  recordLines,
  startTransferNode,
  type Needle,
  type TransferNode,
} from "./support/transfer-fixtures.js";
import { ensureSession, expectCode, expectStatus, NEW_PASSWORD } from "./support/test-node.js";

const DAY_MS = 86_400_000;

let t: TransferNode;
const exportBytes = exampleExport();
/** Plaintext of the payload: the standard CSV's record lines and the examinee IDs. */
let plaintext: Needle[];

beforeAll(async () => {
  t = await startTransferNode();
  const standard = (await convertLocally(exportBytes)).bytes;
  const ids = exportValues(exportBytes).filter((v) => /^K\d{6}$/.test(v));
  expect(ids.length).toBeGreaterThan(3);
  plaintext = [
    ...recordLines(standard).map((bytes, i) => ({ label: `record line ${i + 1}`, bytes })),
    ...needlesOf(ids),
  ];
}, 120_000);

afterAll(async () => {
  await t.node.close();
});

async function upload(): Promise<TransferView> {
  const up = await uploadExport(t.sender, t.receiverId, exportBytes);
  expectStatus(up, 201);
  return (up.json as { transfer: TransferView }).transfer;
}

/**
 * Slices of every stored ciphertext chunk of a transfer (start, middle, end of each), as found on disk
 * before deletion.
 */
function ciphertextOf(id: string): Needle[] {
  const rows = t.node.ctx.db
    .prepare<[string], { seq: number; ciphertext: Buffer }>(
      "SELECT seq, ciphertext FROM payload_chunks WHERE transfer_id = ? ORDER BY seq",
    )
    .all(id);
  expect(rows.length).toBeGreaterThan(0);
  return rows.flatMap((r) => {
    const c = r.ciphertext;
    expect(c.length).toBeGreaterThan(96);
    return [0, Math.floor(c.length / 2) - 16, c.length - 32].map((at) => ({
      label: `${id} chunk ${r.seq} ciphertext @${at}`,
      bytes: Buffer.from(c.subarray(at, at + 32)),
    }));
  });
}

/** Forces the pages holding the chunks into the database file, as a checkpoint would. */
function checkpoint(): void {
  t.node.ctx.db.pragma("wal_checkpoint(PASSIVE)");
}

async function relogin(client: ApiClient, role: "sender" | "receiver"): Promise<void> {
  await ensureSession(client, t.node.account(role).loginId, NEW_PASSWORD);
}

async function listed(client: ApiClient, id: string): Promise<TransferView | undefined> {
  const r = await client.get("/api/v1/transfers");
  expectStatus(r, 200);
  return (r.json as { transfers: TransferView[] }).transfers.find((x) => x.id === id);
}

async function trailTypes(client: ApiClient, id: string): Promise<OperationRecord[]> {
  const r = await client.get(`/api/v1/transfers/${id}/trail`);
  expectStatus(r, 200);
  return (r.json as TrailAnswer).entries.map((e) => e.entry as OperationRecord);
}

describe("physical deletion", () => {
  it("a discard before sending leaves no plaintext and no ciphertext of the payload in service.db, its WAL or shm", async () => {
    const transfer = await upload();
    const cipher = ciphertextOf(transfer.id);
    checkpoint();
    // The scan finds what is there: the ciphertext is on disk before the discard.
    expect(foundInServiceDb(t.node.dir, cipher).length).toBeGreaterThan(0);

    const r = await t.sender.post(`/api/v1/transfers/${transfer.id}/discard`);
    expectStatus(r, 200);
    expect((r.json as { transfer: TransferView }).transfer.status).toBe("discarded");

    expect(foundInServiceDb(t.node.dir, [...cipher, ...plaintext])).toEqual([]);
    const entries = await trailTypes(t.sender, transfer.id);
    expect(entries.map((e) => e.type)).toEqual(["upload", "conversion", "deletion"]);
    expect(entries[2]).toMatchObject({ reason: "cancelled", erased: ["payload", "data-key"] });
    expect(
      t.node.ctx.db.prepare("SELECT count(*) AS n FROM transfer_keys WHERE transfer_id = ?").get(transfer.id),
    ).toEqual({
      n: 0,
    });
  });

  it("retention deletes received transfers after afterReceiptDays and unconfirmed ones after unconfirmedDays, warning both parties beforehand", async () => {
    const { afterReceiptDays, unconfirmedDays, warnDays } = t.node.ctx.config.retention;
    expect(afterReceiptDays + warnDays).toBeLessThan(unconfirmedDays - warnDays);

    const received = await upload();
    const unconfirmed = await upload();
    for (const x of [received, unconfirmed]) {
      expectStatus(await t.sender.post(`/api/v1/transfers/${x.id}/send`), 200);
    }
    const down = await downloadStandard(t.receiver, received.id);
    if ("refused" in down) throw new Error(down.refused.text);
    expectStatus(await t.receiver.post(`/api/v1/transfers/${received.id}/receipt`), 200);
    const cipher = [...ciphertextOf(received.id), ...ciphertextOf(unconfirmed.id)];
    checkpoint();
    expect(foundInServiceDb(t.node.dir, cipher).length).toBeGreaterThan(0);
    for (const client of [t.sender, t.receiver]) {
      expect((await listed(client, received.id))?.deletionSoon).toBe(false);
    }

    // Inside the warning period before the received transfer's deletion.
    t.node.clock.advance((afterReceiptDays - warnDays + 1) * DAY_MS);
    await relogin(t.sender, "sender");
    await relogin(t.receiver, "receiver");
    for (const client of [t.sender, t.receiver]) {
      expect((await listed(client, received.id))?.deletionSoon).toBe(true);
      expect((await listed(client, unconfirmed.id))?.deletionSoon).toBe(false);
    }
    expect((await runRetention(t.node.ctx)).deleted).toBe(0);

    // Past the deadline of the received one.
    t.node.clock.advance(warnDays * DAY_MS);
    expect((await runRetention(t.node.ctx)).deleted).toBe(1);
    await relogin(t.sender, "sender");
    await relogin(t.receiver, "receiver");
    for (const client of [t.sender, t.receiver]) {
      const view = await listed(client, received.id);
      expect(view).toMatchObject({ status: "deleted", deleteAfter: null, deletionSoon: false });
      expect(view?.deletedAt).not.toBeNull();
      const entries = await trailTypes(client, received.id);
      expect(entries.map((e) => e.type)).toEqual([
        "upload",
        "conversion",
        "send",
        "seal",
        "download",
        "receipt",
        "deletion",
      ]);
      expect(entries.at(-1)).toMatchObject({ reason: "received", erased: ["payload", "data-key"] });
    }
    const gone = await downloadStandard(t.receiver, received.id);
    if (!("refused" in gone)) throw new Error("a deleted payload was served");
    expectCode(gone.refused, 409, "TRANSFER_STATE");

    // The unconfirmed one: warned, then deleted as expired.
    const untilExpiry =
      Date.parse((await listed(t.sender, unconfirmed.id))?.deleteAfter ?? "") - t.node.clock.ms();
    expect(untilExpiry).toBeGreaterThan(warnDays * DAY_MS);
    t.node.clock.advance(untilExpiry - (warnDays - 1) * DAY_MS);
    await relogin(t.sender, "sender");
    await relogin(t.receiver, "receiver");
    for (const client of [t.sender, t.receiver]) {
      expect((await listed(client, unconfirmed.id))?.deletionSoon).toBe(true);
    }
    t.node.clock.advance(warnDays * DAY_MS);
    expect((await runRetention(t.node.ctx)).deleted).toBe(1);
    await relogin(t.sender, "sender");
    const entries = await trailTypes(t.sender, unconfirmed.id);
    expect(entries.at(-1)).toMatchObject({ type: "deletion", reason: "expired" });
    expect((await listed(t.sender, unconfirmed.id))?.status).toBe("deleted");

    expect(foundInServiceDb(t.node.dir, [...cipher, ...plaintext])).toEqual([]);
    expect(t.node.ctx.db.prepare("SELECT count(*) AS n FROM payload_chunks").get()).toEqual({ n: 0 });
    expect(t.node.ctx.db.prepare("SELECT count(*) AS n FROM transfer_keys").get()).toEqual({ n: 0 });
  });
});
