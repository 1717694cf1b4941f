/**
 * The row rebuilt from archived commands against the row the real appliers wrote: a real service.db,
 * every command applied by the service's own applier registry and archived as a replica archives it
 * (in the same transaction, only when it applied), and after each step the rebuilt row must equal the
 * stored one column for column — through every status change, a command that moved nothing, and one
 * that was refused.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { StateCommand } from "../../ledger/write-port.js";
import { openServiceDb, type ServiceDb } from "../../store/service-db.js";
import { readTransferRow } from "../../store/transfer-rows.js";
import {
  accountCreate,
  institutionCreate,
  institutionLink,
} from "../../service/state-commands/account-commands.js";
import { mappingAdd } from "../../service/state-commands/device-commands.js";
import { commandApplier } from "../../service/state-commands/registry.js";
import {
  transferCreate,
  transferDiscard,
  transferDownload,
  transferExpire,
  transferReceipt,
  transferSend,
} from "../../service/state-commands/transfer-commands.js";
import { encodeBatch, GENESIS_HASH } from "../command-log/command-batch.js";
import { LEDGER_APPEND } from "../state-command.js";
import { archivedTransferRow } from "./archived-transfer-row.js";

const dir = mkdtempSync(join(tmpdir(), "kenshin-archived-row-"));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const at = (day: number): string => `2026-12-${String(day).padStart(2, "0")}T03:00:00.000Z`;
const A = "tr_aaaaaaaaaaaaaaaa";
const B = "tr_bbbbbbbbbbbbbbbb";

function create(id: string): StateCommand {
  return transferCreate.of({
    id,
    senderId: "inst_s",
    receiverId: "inst_r",
    mappingId: "map_1",
    original: { sha256: "dd".repeat(32), bytes: 10 },
    standard: { sha256: "ee".repeat(32), bytes: 20 },
    records: 3,
    rowsRejected: 1,
    reportJson: `{"for":"${id}"}`,
    at: at(1),
    deleteAfter: at(31),
  });
}

/** Applies and archives like a replica: both in one transaction, neither when the applier refuses. */
function replica(db: ServiceDb): (command: StateCommand) => "applied" | "refused" {
  const apply = commandApplier({ commitPayload: () => undefined, releasePayload: () => undefined });
  db.exec("CREATE TABLE cluster_batches (seq INTEGER PRIMARY KEY, batch TEXT NOT NULL) STRICT");
  let seq = 0;
  return (command) => {
    try {
      db.transaction(() => {
        apply(command, [], db);
        seq++;
        const body = { type: LEDGER_APPEND, requests: [], command };
        const batch = encodeBatch({
          seq,
          prev: GENESIS_HASH,
          commands: [{ id: `c${seq}`, origin: "node1", body }],
        });
        db.prepare("INSERT INTO cluster_batches (seq, batch) VALUES (?, ?)").run(seq, batch);
      })();
      return "applied";
    } catch {
      return "refused";
    }
  };
}

describe("a transfer row rebuilt from the archived commands", () => {
  it("equals the row the appliers wrote after every step of both lives of a transfer", () => {
    const db = openServiceDb(join(dir, "service.db"), { create: true });
    const step = replica(db);
    for (const c of [
      institutionCreate.of({
        id: "inst_s",
        kind: "sender",
        name: "健診センター",
        number: "1311111111",
        at: at(1),
      }),
      institutionCreate.of({
        id: "inst_r",
        kind: "receiver",
        name: "健保組合",
        number: "06111111",
        at: at(1),
      }),
      institutionLink.of({ senderId: "inst_s", receiverId: "inst_r", at: at(1) }),
      accountCreate.of({
        loginId: "S-0001",
        institutionId: "inst_s",
        passwordHash: "$argon2id$x",
        at: at(1),
      }),
      mappingAdd.of({
        id: "map_1",
        institutionId: "inst_s",
        name: "m",
        sha256: "cc".repeat(32),
        body: "x",
        activate: true,
        at: at(1),
      }),
    ]) {
      expect(step(c)).toBe("applied");
    }
    expect(archivedTransferRow(db, A)).toBeUndefined();
    const steps: [StateCommand, "applied" | "refused"][] = [
      [create(A), "applied"],
      [create(B), "applied"],
      [transferSend.of({ id: A, receiverId: "inst_r", records: 3, at: at(2) }), "applied"],
      [transferDiscard.of({ id: B, at: at(2) }), "applied"],
      [transferDownload.of({ id: A, at: at(3) }), "applied"],
      // A second download leaves the status and its time as the first set them.
      [transferDownload.of({ id: A, at: at(4) }), "applied"],
      [transferReceipt.of({ id: A, at: at(5), deleteAfter: at(12) }), "applied"],
      // Refused by its applier (no longer "downloaded"): not archived, as on a replica.
      [transferReceipt.of({ id: A, at: at(6), deleteAfter: at(13) }), "refused"],
      [transferExpire.of({ id: A, from: "received", at: at(12) }), "applied"],
    ];
    for (const [command, outcome] of steps) {
      expect([command.kind, step(command)]).toEqual([command.kind, outcome]);
      for (const id of [A, B])
        expect([command.kind, archivedTransferRow(db, id)]).toEqual([command.kind, readTransferRow(db, id)]);
    }
    expect(readTransferRow(db, A)).toMatchObject({
      status: "deleted",
      received_at: at(5),
      delete_after: at(12),
    });
    expect(readTransferRow(db, B)).toMatchObject({ status: "discarded", deleted_at: at(2) });
    db.close();
  });

  it("is undefined on a service.db that archives no commands (not a cluster node)", () => {
    const db = openServiceDb(join(dir, "embedded.db"), { create: true });
    expect(archivedTransferRow(db, A)).toBeUndefined();
    db.close();
  });
});
