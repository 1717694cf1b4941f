/**
 * Attack 4 (issue 15) and the `discard` part of attack 8: edits to the SQLite files under a running
 * node. A flipped byte in a stored payload chunk answered 500 PAYLOAD_CORRUPT with no alarm entry; now
 * it is the coded integrity failure (503 INTEGRITY_FAILURE) with a `major-failure` alarm entry, as a
 * ledger mismatch is, and no byte of the payload is served. `discard` skipped the ledger
 * re-verification every other operation does; now an edited trail refuses it too, and the payload
 * stays. Real node, real TLS, the attacker's edits made through a second SQLite connection.
 */
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { downloadStandard, uploadExport } from "../../src/client/transfer-client.js";
import { decodeEntry } from "../../src/ledger/entry/canonical-entry.js";
import type { TransferView } from "../../src/service/transfers/view.js";
import { expectCode, expectStatus } from "../support/test-node.js";
import {
  denials,
  entriesSince,
  exampleExport,
  startTransferNode,
  type TransferNode,
} from "../support/transfer-fixtures.js";

let t: TransferNode;

beforeAll(async () => {
  t = await startTransferNode();
});

afterAll(async () => {
  await t.node.close();
});

async function upload(): Promise<TransferView> {
  const up = await uploadExport(t.sender, t.receiverId, exampleExport());
  expectStatus(up, 201);
  return (up.json as { transfer: TransferView }).transfer;
}

async function uploadAndSend(): Promise<TransferView> {
  const transfer = await upload();
  expectStatus(await t.sender.post(`/api/v1/transfers/${transfer.id}/send`), 200);
  return transfer;
}

function withServiceDb<T>(run: (db: Database.Database) => T): T {
  const db = new Database(t.node.ctx.paths.serviceDb);
  try {
    return run(db);
  } finally {
    db.close();
  }
}

/** Edits the stored bytes of one of the transfer's ledger entries (same length, still canonical). */
function editTrailEntry(transferId: string, type: string): void {
  const ledger = t.node.ctx.ledger;
  const index = ledger
    .findByKey(`transfer:${transferId}`)
    .find((i) => decodeEntry(ledger.entry(i)).type === type);
  if (index === undefined) throw new Error(`no ${type} entry`);
  const db = new Database(t.node.ctx.paths.ledgerDb);
  try {
    const row = db.prepare("SELECT entry FROM entries WHERE idx = ?").get(index) as { entry: Buffer };
    const text = row.entry.toString("utf8");
    const edited = text.replace(/"time":"(\d{4})/, (_m, year: string) => `"time":"${Number(year) + 1}`);
    expect(Buffer.byteLength(edited)).toBe(row.entry.length);
    db.prepare("UPDATE entries SET entry = ? WHERE idx = ?").run(Buffer.from(edited, "utf8"), index);
  } finally {
    db.close();
  }
}

describe("attack: flip a byte of a stored payload chunk", () => {
  it("answers 503 INTEGRITY_FAILURE with an alarm entry naming PAYLOAD_CORRUPT, and serves no byte", async () => {
    const transfer = await uploadAndSend();
    withServiceDb((db) => {
      const row = db
        .prepare(
          "SELECT seq, ciphertext FROM payload_chunks WHERE transfer_id = ? AND kind = 'standard' ORDER BY seq LIMIT 1",
        )
        .get(transfer.id) as { seq: number; ciphertext: Buffer };
      const flipped = Buffer.from(row.ciphertext);
      const at = Math.floor(flipped.length / 2);
      flipped[at] = (flipped[at] ?? 0) ^ 0x01;
      db.prepare(
        "UPDATE payload_chunks SET ciphertext = ? WHERE transfer_id = ? AND kind = 'standard' AND seq = ?",
      ).run(flipped, transfer.id, row.seq);
    });
    const before = t.node.ctx.ledger.size();
    const down = await downloadStandard(t.receiver, transfer.id);
    if (!("refused" in down)) throw new Error("a corrupt payload was served");
    expectCode(down.refused, 503, "INTEGRITY_FAILURE");
    const alarms = denials(entriesSince(t.node.ctx, before)).filter((d) => d.action === "integrity");
    expect(alarms).toContainEqual(
      expect.objectContaining({ transfer: transfer.id, outcome: "major-failure", code: "PAYLOAD_CORRUPT" }),
    );
    expect(entriesSince(t.node.ctx, before).some((r) => r.type === "download")).toBe(false);
  });

  it("answers 503 INTEGRITY_FAILURE with an alarm when the payload's chunks were deleted", async () => {
    const transfer = await uploadAndSend();
    withServiceDb((db) => db.prepare("DELETE FROM payload_chunks WHERE transfer_id = ?").run(transfer.id));
    const before = t.node.ctx.ledger.size();
    const down = await downloadStandard(t.receiver, transfer.id);
    if (!("refused" in down)) throw new Error("a missing payload was served");
    expectCode(down.refused, 503, "INTEGRITY_FAILURE");
    const alarms = denials(entriesSince(t.node.ctx, before)).filter((d) => d.action === "integrity");
    expect(alarms).toContainEqual(
      expect.objectContaining({ transfer: transfer.id, outcome: "major-failure" }),
    );
  });
});

describe("attack: discard a transfer whose trail was edited", () => {
  it("refuses with 503 INTEGRITY_FAILURE and an alarm; the payload is not deleted", async () => {
    const transfer = await upload();
    editTrailEntry(transfer.id, "upload");
    const before = t.node.ctx.ledger.size();
    expectCode(await t.sender.post(`/api/v1/transfers/${transfer.id}/discard`), 503, "INTEGRITY_FAILURE");
    const alarms = denials(entriesSince(t.node.ctx, before)).filter((d) => d.action === "integrity");
    expect(alarms).toContainEqual(
      expect.objectContaining({ transfer: transfer.id, outcome: "major-failure" }),
    );
    const chunks = withServiceDb(
      (db) =>
        (
          db.prepare("SELECT COUNT(*) AS n FROM payload_chunks WHERE transfer_id = ?").get(transfer.id) as {
            n: number;
          }
        ).n,
    );
    expect(chunks).toBeGreaterThan(0);
  });
});
