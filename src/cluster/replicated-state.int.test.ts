/**
 * One node's replicated state machine on real SQLite files (its own ledger.db and service.db with the
 * write-port contract's test table and applier): batches applied in order with their state commands,
 * the position kept across reopening, a crash between the ledger.db and the service.db commit resumed
 * without writing an entry twice, a ledger that holds entries the log does not account for refused, and
 * the sequencer's trial (`prepare`) refusing commands without writing anything.
 */
import Database from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { cosigningFixture } from "../../test/cluster/cosigning-fixture.js";
import { noteRecord } from "../../test/ledger/records.js";
import { createTestTable, put, testApplier, testRows } from "../../test/support/write-port-contract.js";
import type { LogStorage } from "../ledger/log-storage.js";
import { nodeHasher } from "../ledger/node-hasher.js";
import { checkRequests, LocalOrder } from "../ledger/sequencer.js";
import { openServiceDb, type ServiceDb } from "../store/service-db.js";
import { createSqliteLog, openSqliteLog } from "../store/sqlite-log.js";
import {
  batchHash,
  encodeBatch,
  GENESIS,
  type CommandBatch,
  type LogPosition,
} from "./command-log/command-batch.js";
import { ReplicatedState } from "./replicated-state.js";
import { LEDGER_APPEND, type StateCommand } from "./state-command.js";

const f = cosigningFixture();
const opened: { storage: LogStorage; db: ServiceDb; dir: string }[] = [];
afterEach(() => {
  for (const o of opened.splice(0)) {
    o.storage.close();
    o.db.close();
    rmSync(o.dir, { recursive: true, force: true });
  }
});

function setup(): { dir: string; storage: LogStorage; db: ServiceDb; state: () => ReplicatedState } {
  const dir = mkdtempSync(join(tmpdir(), "kenshin-replicated-state-"));
  const storage = createSqliteLog({
    path: join(dir, "ledger.db"),
    origin: f.logSigner.name,
    verifierKey: f.logSigner.verifierKey,
  });
  const db = openServiceDb(join(dir, "service.db"), { create: true });
  createTestTable(db);
  opened.push({ storage, db, dir });
  return { dir, storage, db, state: () => new ReplicatedState({ storage, db, applyCommand: testApplier }) };
}

function batch(after: LogPosition, bodies: unknown[]): { batch: CommandBatch; position: LogPosition } {
  const b: CommandBatch = {
    seq: after.seq + 1,
    prev: after.hash,
    commands: bodies.map((body, i) => ({ id: `cmd-${after.seq + 1}-${i}-xxxx`, origin: "node1", body })),
  };
  return { batch: b, position: { seq: b.seq, hash: batchHash(encodeBatch(b)) } };
}

const append = (ns: number[], command?: StateCommand) => ({
  type: LEDGER_APPEND,
  requests: ns.map((n) => ({ record: noteRecord(n) })),
  ...(command !== undefined ? { command } : {}),
});

describe("ReplicatedState (a node's own ledger.db + service.db advanced by the log)", () => {
  it("applies in order with each command's state, keeps its position across reopening, and a batch applied twice changes nothing", () => {
    const { storage, db, state } = setup();
    const s = state();
    const one = batch(GENESIS, [append([1, 2], put("a", "x")), append([3])]);
    const applied = s.apply(one.batch, one.position);
    expect(storage.size()).toBe(3);
    expect(applied?.results.get("cmd-1-0-xxxx")?.map((r) => r.index)).toEqual([0, 1]);
    expect(testRows(db)).toEqual([{ key: "a", value: "x", entry: 0 }]);
    const reopened = state();
    expect(reopened.position()).toEqual({ ...one.position, ledgerSize: 3 });
    expect(reopened.apply(one.batch, one.position)).toBeUndefined();
    expect(storage.size()).toBe(3);
    expect(reopened.batchesFrom(1, 10)).toEqual([encodeBatch(one.batch)]);
  });

  it("after a crash between the ledger.db commit and the service.db commit, applies the state changes without writing the entries twice", () => {
    const { dir, storage, db, state } = setup();
    const one = batch(GENESIS, [append([1])]);
    state().apply(one.batch, one.position);
    const two = batch(one.position, [append([2, 3], put("b", "y")), append([4])]);
    // The crashed apply of batch 2: its entries reached ledger.db (the same staging the state uses),
    // the process died before the service.db transaction with the state change and the position.
    const writer = openSqliteLog(join(dir, "ledger.db"));
    writer.writeTransaction(() => {
      const order = new LocalOrder(writer, nodeHasher);
      order.sync();
      writer.appendBatch(order.stage(checkRequests([2, 3, 4].map((n) => ({ record: noteRecord(n) })))));
    });
    writer.close();
    expect(storage.size()).toBe(4);
    const resumed = state();
    expect(resumed.position().ledgerSize).toBe(1);
    const applied = resumed.apply(two.batch, two.position);
    expect(storage.size()).toBe(4);
    expect(applied?.results.get("cmd-2-0-xxxx")?.map((r) => r.index)).toEqual([1, 2]);
    expect(resumed.position()).toEqual({ ...two.position, ledgerSize: 4 });
    expect(testRows(db)).toEqual([{ key: "b", value: "y", entry: 1 }]);
  });

  it("refuses (CLUSTER_APPLY_FAILED) when its ledger holds entries the log does not account for, and applies nothing", () => {
    const { dir, db, state } = setup();
    const s = state();
    const writer = openSqliteLog(join(dir, "ledger.db"));
    writer.writeTransaction(() => {
      const order = new LocalOrder(writer, nodeHasher);
      order.sync();
      writer.appendBatch(
        order.stage(checkRequests([{ record: noteRecord(99) }, { record: noteRecord(98) }])),
      );
    });
    writer.close();
    const one = batch(GENESIS, [append([1, 2], put("c", "z"))]);
    expect(() => s.apply(one.batch, one.position)).toThrow(
      expect.objectContaining({ code: "CLUSTER_APPLY_FAILED" }),
    );
    expect(s.position().seq).toBe(0);
    expect(testRows(db)).toEqual([]);
  });

  it("opens over a ledger shorter than its position (rows lost while stopped), refuses the next batch (CLUSTER_APPLY_FAILED) and prepares none, writing nothing", () => {
    const { dir, db, state } = setup();
    const s = state();
    const one = batch(GENESIS, [append([1, 2, 3], put("a", "x"))]);
    s.apply(one.batch, one.position);
    const writer = new Database(join(dir, "ledger.db"));
    writer.prepare("DELETE FROM entries WHERE idx >= 1").run();
    writer.close();
    const reopened = state();
    expect(reopened.position()).toEqual({ ...one.position, ledgerSize: 3 });
    const two = batch(one.position, [append([4], put("b", "y"))]);
    expect(() => reopened.apply(two.batch, two.position)).toThrow(
      expect.objectContaining({ code: "CLUSTER_APPLY_FAILED" }),
    );
    expect(reopened.position()).toEqual({ ...one.position, ledgerSize: 3 });
    expect(reopened.prepare(one.position, two.batch.commands)).toBeUndefined();
    expect(testRows(db)).toEqual([{ key: "a", value: "x", entry: 0 }]);
  });

  it("the sequencer's trial refuses invalid records and failed preconditions with their codes, accepts the rest, and writes nothing", () => {
    const { storage, db, state } = setup();
    const s = state();
    const one = batch(GENESIS, [append([1], put("taken", "x"))]);
    s.apply(one.batch, one.position);
    const commands = batch(one.position, [
      { type: LEDGER_APPEND, requests: [{ record: { type: "nonsense" } }] },
      append([2], put("taken", "again")),
      append([3], put("free", "x")),
      append([4], put("free", "twice in one batch")),
    ]).batch.commands;
    const prepared = s.prepare(one.position, commands);
    expect(prepared?.accepted.map((c) => c.id)).toEqual(["cmd-2-2-xxxx"]);
    expect(prepared?.refused.map((r) => [r.id, r.error.code])).toEqual([
      ["cmd-2-0-xxxx", "LEDGER_ENTRY_INVALID"],
      ["cmd-2-1-xxxx", "TEST_KEY_EXISTS"],
      ["cmd-2-3-xxxx", "TEST_KEY_EXISTS"],
    ]);
    expect(storage.size()).toBe(1);
    expect(testRows(db)).toEqual([{ key: "taken", value: "x", entry: 0 }]);
    // Not at the head it was asked about: no answer (the sequencer looks again).
    expect(s.prepare(GENESIS, commands)).toBeUndefined();
  });

  it("judges the next batch after the batches still in flight, and the applied result is the trial's", () => {
    const { storage, db, state } = setup();
    const s = state();
    const one = batch(GENESIS, [append([1], put("a", "x"))]);
    s.apply(one.batch, one.position);
    // Batch 2 is written to etcd but not applied here yet; batch 3 is prepared behind it.
    const two = batch(one.position, [append([2], put("b", "x"))]);
    const next = batch(two.position, [append([3], put("b", "again")), append([4], put("c", "x"))]).batch
      .commands;
    const prepared = s.prepare(two.position, next, [two]);
    expect(prepared?.accepted.map((c) => c.id)).toEqual(["cmd-3-1-xxxx"]);
    expect(prepared?.refused.map((r) => [r.id, r.error.code])).toEqual([["cmd-3-0-xxxx", "TEST_KEY_EXISTS"]]);
    // The trial wrote nothing; without batch 2 in flight it would have been judged at the wrong state.
    expect(storage.size()).toBe(1);
    expect(testRows(db).map((r) => r.key)).toEqual(["a"]);
    expect(s.prepare(one.position, next)?.accepted).toHaveLength(2);
    // In flight batches must lead from this state's position to the head asked about.
    expect(s.prepare(two.position, next)).toBeUndefined();
    expect(s.prepare(one.position, next, [two])).toBeUndefined();
    // Applied in order, the entries get the indices the trial gave them.
    s.apply(two.batch, two.position);
    const three = batch(two.position, []);
    const b3 = { ...three.batch, commands: prepared?.accepted ?? [] };
    const p3 = { seq: 3, hash: batchHash(encodeBatch(b3)) };
    const applied = s.apply(b3, p3);
    expect(applied?.results.get("cmd-3-1-xxxx")?.map((r) => r.index)).toEqual([2]);
    expect(testRows(db)).toEqual([
      { key: "a", value: "x", entry: 0 },
      { key: "b", value: "x", entry: 1 },
      { key: "c", value: "x", entry: 2 },
    ]);
  });
});
