import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { cosigningFixture } from "../../test/cluster/cosigning-fixture.js";
import { noteRecord } from "../../test/ledger/records.js";
import { Ledger } from "../ledger/ledger.js";
import { createSqliteLog } from "../store/sqlite-log.js";
import {
  batchHash,
  encodeBatch,
  GENESIS,
  type CommandBatch,
  type LogPosition,
} from "./command-log/command-batch.js";
import { LEDGER_APPEND, openLedgerReplica } from "./ledger-replica.js";

const f = cosigningFixture();
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function setup() {
  const dir = mkdtempSync(join(tmpdir(), "kenshin-replica-unit-"));
  dirs.push(dir);
  const ledger = new Ledger({
    storage: createSqliteLog({
      path: join(dir, "ledger.db"),
      origin: f.logSigner.name,
      verifierKey: f.logSigner.verifierKey,
    }),
  });
  return { dir, ledger, positionPath: join(dir, "position.json") };
}

function batch(after: LogPosition, bodies: unknown[]): { batch: CommandBatch; position: LogPosition } {
  const b: CommandBatch = {
    seq: after.seq + 1,
    prev: after.hash,
    commands: bodies.map((body, i) => ({ id: `cmd-${after.seq + 1}-${i}-xxxx`, origin: "node1", body })),
  };
  return { batch: b, position: { seq: b.seq, hash: batchHash(encodeBatch(b)) } };
}

const append = (...ns: number[]) => ({
  type: LEDGER_APPEND,
  requests: ns.map((n) => ({ record: noteRecord(n) })),
});

describe("ledger replica (applying ledger.append commands to the node's own ledger)", () => {
  it("applies in order, keeps its position across reopening, and skips other command types", async () => {
    const { ledger, positionPath } = setup();
    const replica = openLedgerReplica({ ledger, positionPath });
    const one = batch(GENESIS, [append(1, 2), { type: "session.open" }, append(3)]);
    await replica.apply(one.batch, one.position);
    expect(ledger.storage.size()).toBe(3);
    expect(openLedgerReplica({ ledger, positionPath }).position()).toEqual({
      ...one.position,
      ledgerSize: 3,
    });
  });

  it("after a crash between an append and the position write, counts the appended command instead of repeating it", async () => {
    const { ledger, positionPath } = setup();
    const replica = openLedgerReplica({ ledger, positionPath });
    const one = batch(GENESIS, [append(1)]);
    await replica.apply(one.batch, one.position);
    const two = batch(one.position, [append(2, 3), append(4)]);
    // The first command of batch 2 reached the ledger, then the process died.
    await ledger.append(append(2, 3).requests);
    const reopened = openLedgerReplica({ ledger, positionPath });
    await reopened.apply(two.batch, two.position);
    expect(ledger.storage.size()).toBe(4);
    expect(reopened.position().ledgerSize).toBe(4);
  });

  it("refuses (CLUSTER_APPLY_FAILED) when the ledger holds entries the log does not account for", async () => {
    const { ledger, positionPath } = setup();
    const replica = openLedgerReplica({ ledger, positionPath });
    await ledger.append(append(99).requests);
    const one = batch(GENESIS, [append(1, 2)]);
    await expect(replica.apply(one.batch, one.position)).rejects.toMatchObject({
      code: "CLUSTER_APPLY_FAILED",
    });
    expect(replica.position().seq).toBe(0);
  });

  it("a command whose records the ledger refuses appends nothing and is counted", async () => {
    const { ledger, positionPath } = setup();
    const replica = openLedgerReplica({ ledger, positionPath });
    const one = batch(GENESIS, [
      { type: LEDGER_APPEND, requests: [{ record: { type: "nonsense" } }] },
      append(1),
    ]);
    await replica.apply(one.batch, one.position);
    expect(ledger.storage.size()).toBe(1);
    expect(replica.refused()).toBe(1);
  });
});
