/**
 * Read-only mode end to end on the write port: a real 3-member etcd cluster decides whether there is a
 * majority (quorum probe), the inner port is the real embedded ledger (ledger.db + outbox in service.db),
 * and the survivor's pending queue is a real SQLite file. Two etcd members SIGKILLed: state changes are
 * refused with CLUSTER_NO_QUORUM and change nothing, reads are answered and their entries queued durably;
 * one member back: the queue is appended in order before anything new, then writes go on.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPendingQueue, type PendingQueue } from "../../src/cluster/pending-queue.js";
import { waitFor } from "../../src/cluster/processes/wait.js";
import { guardWritePort, type GuardedWritePort } from "../../src/cluster/quorum-guard.js";
import { UNPROVEN_MESSAGE } from "../../src/cluster/quorum-errors.js";
import { createEtcdQuorumProbe, type QuorumProbe } from "../../src/cluster/quorum-probe.js";
import { generateNoteKey } from "../../src/crypto/note-key.js";
import { createNoteSigner } from "../../src/crypto/note-signer.js";
import { decodeEntry } from "../../src/ledger/entry/canonical-entry.js";
import { EmbeddedLedger } from "../../src/ledger/embedded-ledger.js";
import type { StateCommand } from "../../src/ledger/write-port.js";
import { openServiceDb, type ServiceDb } from "../../src/store/service-db.js";
import { sqliteOutbox } from "../../src/store/sqlite-outbox.js";
import { createSqliteLog, openSqliteLog } from "../../src/store/sqlite-log.js";
import { noteRecord } from "../ledger/records.js";
import { useEtcdCluster } from "./etcd-suite.js";

const etcd = useEtcdCluster({ heartbeatMs: 50, electionMs: 500 });
let dir: string;
let db: ServiceDb;
let inner: EmbeddedLedger;
let queue: PendingQueue;
let probe: QuorumProbe;
let guarded: GuardedWritePort;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "kenshin-guard-"));
  const signer = createNoteSigner(generateNoteKey("kenshin.example/guard"));
  createSqliteLog({
    path: join(dir, "ledger.db"),
    origin: signer.name,
    verifierKey: signer.verifierKey,
  }).close();
  db = openServiceDb(join(dir, "service.db"), { create: true });
  db.exec("CREATE TABLE things (id TEXT PRIMARY KEY) STRICT");
  inner = new EmbeddedLedger({
    storage: openSqliteLog(join(dir, "ledger.db")),
    signer,
    outbox: sqliteOutbox(db),
    // Checkpoints only when someone waits for one: an entry stays uncovered until then.
    checkpointIntervalMs: 600_000,
    applyCommand: (command) => {
      if (command.kind !== "thing.put") throw new Error(`unknown command ${command.kind}`);
      db.prepare("INSERT INTO things (id) VALUES (?)").run((command.args as { id: string }).id);
    },
  });
  queue = openPendingQueue(join(dir, "pending.db"));
  probe = createEtcdQuorumProbe(etcd.cluster().client(), {
    key: "guard/probe",
    intervalMs: 200,
    timeoutMs: 800,
  });
  guarded = guardWritePort(inner, { probe, queue, newId: () => randomBytes(16).toString("hex") });
});

afterAll(async () => {
  probe.close();
  await guarded.close();
  queue.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const things = (): string[] =>
  db
    .prepare<[], { id: string }>("SELECT id FROM things ORDER BY id")
    .all()
    .map((r) => r.id);
/** A state command the embedded port's applier above carries out (inserts a row). */
const put = (id: string): StateCommand => ({ kind: "thing.put", args: { id } });
/** The `n` of each note entry in the ledger, in index order. */
function notes(): number[] {
  const storage = openSqliteLog(join(dir, "ledger.db"));
  try {
    const out: number[] = [];
    for (let i = 0; i < storage.size(); i++) {
      const record = decodeEntry(storage.entry(i).entry) as unknown as {
        type: string;
        data?: { n?: number };
      };
      if (record.type === "note") out.push(record.data?.n ?? -1);
    }
    return out;
  } finally {
    storage.close();
  }
}

describe("quorum guard on the write port (real etcd, real embedded ledger)", () => {
  it("with a majority, appends and state changes pass through", async () => {
    expect(await probe.check()).toBe(true);
    const [r] = await guarded.append([{ record: noteRecord(1) }], { command: put("a") });
    expect(r?.index).toBe(0);
    expect(things()).toEqual(["a"]);
  });

  it("with two of three etcd members down: a state change is refused with CLUSTER_NO_QUORUM and changes nothing; reads are queued durably", async () => {
    await etcd.cluster().kill9("etcd2");
    await etcd.cluster().kill9("etcd3");
    await waitFor(async () => ((await probe.check()) ? undefined : true), {
      what: "no quorum",
      timeoutMs: 15_000,
    });
    await expect(guarded.append([{ record: noteRecord(2) }], { command: put("b") })).rejects.toMatchObject({
      code: "CLUSTER_NO_QUORUM",
    });
    expect(things()).toEqual(["a"]);
    // No checkpoint covers entry 0 and none can be published now: refused at once, not waited for.
    await expect(guarded.checkpointCovering(0)).rejects.toMatchObject({
      code: "CLUSTER_NO_QUORUM",
      message: UNPROVEN_MESSAGE,
    });
    for (const n of [3, 4, 5]) {
      const results = await guarded.append([{ record: noteRecord(n) }]);
      expect(results).toEqual([{ index: -1, leafHash: "" }]);
    }
    expect(notes()).toEqual([1]);
    // Durable: another connection to the queue file sees them, in order.
    const other = openPendingQueue(join(dir, "pending.db"));
    try {
      expect(
        other.peek(10).map((i) => (i.requests[0] as { record: { data: { n: number } } }).record.data.n),
      ).toEqual([3, 4, 5]);
    } finally {
      other.close();
    }
  });

  it("when a majority is back, the queued entries are appended in order before anything new, then writes go on", async () => {
    await etcd.cluster().restart("etcd2");
    await waitFor(async () => ((await probe.check()) ? true : undefined), {
      what: "quorum",
      timeoutMs: 20_000,
    });
    const [r] = await guarded.append([{ record: noteRecord(6) }], { command: put("c") });
    expect(guarded.pendingCount()).toBe(0);
    expect(notes()).toEqual([1, 3, 4, 5, 6]);
    expect(r?.index).toBe(4);
    expect(things()).toEqual(["a", "c"]);
    // With the majority, a wait for a checkpoint is the inner port's again; a covered entry is
    // answered from the published checkpoint without a majority too.
    expect((await guarded.checkpointCovering(4)).size).toBe(5);
    await etcd.cluster().kill9("etcd2");
    await waitFor(async () => ((await probe.check()) ? undefined : true), {
      what: "no quorum",
      timeoutMs: 15_000,
    });
    expect((await guarded.checkpointCovering(0)).size).toBe(5);
    await etcd.cluster().restart("etcd2");
    await etcd.cluster().restart("etcd3");
  });
});
