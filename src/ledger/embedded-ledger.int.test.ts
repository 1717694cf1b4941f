import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { noteRecord } from "../../test/ledger/records.js";
import { CodedError } from "../coded-error.js";
import { generateNoteKey } from "../crypto/note-key.js";
import { createNoteSigner, type NoteSigner } from "../crypto/note-signer.js";
import { openServiceDb, type ServiceDb } from "../store/service-db.js";
import { sqliteOutbox } from "../store/sqlite-outbox.js";
import { createSqliteLog, openSqliteLog } from "../store/sqlite-log.js";
import { EmbeddedLedger } from "./embedded-ledger.js";
import { fsck } from "./fsck.js";
import { nodeHasher } from "./node-hasher.js";
import { checkRequests, LocalOrder } from "./sequencer.js";
import { toHex } from "./verify/encoding.js";
import { parseVerifierKey } from "./verify/verifier-key.js";
import type { ApplyCommand, StateCommand } from "./write-port.js";

let dir: string;
let signer: NoteSigner;
let db: ServiceDb;
const opened: EmbeddedLedger[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "kenshin-embedded-"));
  signer = createNoteSigner(generateNoteKey("kenshin.example/embedded"));
  createSqliteLog({
    path: join(dir, "ledger.db"),
    origin: signer.name,
    verifierKey: signer.verifierKey,
  }).close();
  db = openServiceDb(join(dir, "service.db"), { create: true });
  db.exec("CREATE TABLE things (id TEXT PRIMARY KEY, entry_index INTEGER) STRICT");
});
afterEach(async () => {
  for (const l of opened.splice(0)) await l.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

class ThingError extends CodedError<"THING_REFUSED" | "THING_COMMAND_UNKNOWN"> {
  override readonly name = "ThingError";
}

/**
 * The test's state commands, applied the way the node's registry applies its own: `thing.put {id}` inserts
 * a row naming the call's first entry; `thing.refuse {id}` writes a row and then refuses (so its write must
 * not survive).
 */
const applyThing: ApplyCommand<ServiceDb> = (command, results, into) => {
  const { id } = command.args as { id: string };
  if (command.kind !== "thing.put" && command.kind !== "thing.refuse") {
    throw new ThingError("THING_COMMAND_UNKNOWN", "不明なテスト用コマンドです", { kind: command.kind });
  }
  into.prepare("INSERT INTO things VALUES (?, ?)").run(id, results[0]?.index ?? -1);
  if (command.kind === "thing.refuse") {
    throw new ThingError("THING_REFUSED", "precondition no longer holds", { id });
  }
};
const thing = (kind: "thing.put" | "thing.refuse", id: string): { command: StateCommand } => ({
  command: { kind, args: { id } },
});

function open(options: { checkpointIntervalMs?: number; maxBatchEntries?: number } = {}): EmbeddedLedger {
  const l = new EmbeddedLedger({
    storage: openSqliteLog(join(dir, "ledger.db")),
    signer,
    outbox: sqliteOutbox(db),
    applyCommand: (command, results) => {
      applyThing(command, results, db);
    },
    ...options,
  });
  opened.push(l);
  return l;
}

function check(): ReturnType<typeof fsck> {
  const storage = openSqliteLog(join(dir, "ledger.db"));
  try {
    return fsck(storage, parseVerifierKey(signer.verifierKey));
  } finally {
    storage.close();
  }
}

const things = (): { id: string; entry_index: number }[] =>
  db.prepare<[], { id: string; entry_index: number }>("SELECT * FROM things ORDER BY id").all();

describe("EmbeddedLedger: group commit", () => {
  it("gathers concurrent appends into few batches, in call order, each call contiguous", async () => {
    const ledger = open({ checkpointIntervalMs: 60_000 });
    const calls = Array.from({ length: 200 }, (_, i) =>
      ledger.append([{ record: noteRecord(i * 2) }, { record: noteRecord(i * 2 + 1) }]),
    );
    const results = await Promise.all(calls);
    expect(results.flat().map((r) => r.index)).toEqual(Array.from({ length: 400 }, (_, i) => i));
    // 200 calls made in one turn of the event loop close as one batch (under the size limit).
    expect(ledger.stats.batches).toBe(1);
    expect(ledger.stats.entries).toBe(400);
    expect(ledger.size()).toBe(400);
    results.flat().forEach((r) => {
      expect(toHex(ledger.leafHash(r.index))).toBe(r.leafHash);
    });
    // Past the end the leaf hash is missing as the entry is (LEDGER_NOT_FOUND), not a tree failure.
    for (const read of [() => ledger.entry(400), () => ledger.leafHash(400)]) {
      try {
        read();
        expect.unreachable("read past the end");
      } catch (error) {
        expect(error instanceof CodedError && error.code).toBe("LEDGER_NOT_FOUND");
      }
    }
  });

  it("a batch closes at the size limit: 3 × 4 entries with a limit of 5 → three batches", async () => {
    const ledger = open({ maxBatchEntries: 5, checkpointIntervalMs: 60_000 });
    const calls = [0, 1, 2].map((c) =>
      ledger.append(Array.from({ length: 4 }, (_, i) => ({ record: noteRecord(c * 10 + i) }))),
    );
    await Promise.all(calls);
    expect(ledger.stats.batches).toBe(3);
  });

  it("a bad record is refused when the call is made; the rest of the batch is written", async () => {
    const ledger = open();
    const good = ledger.append([{ record: noteRecord(1) }]);
    const bad = ledger.append([{ record: { ...noteRecord(2), time: "yesterday" } }]);
    await expect(bad).rejects.toMatchObject({ code: "LEDGER_ENTRY_INVALID" });
    await expect(good).resolves.toEqual([expect.objectContaining({ index: 0 })]);
    expect(ledger.size()).toBe(1);
  });
});

describe("EmbeddedLedger: state changes", () => {
  it("a command's state change commits with its entries and sees their indices; one that refuses leaves neither, and the others of the batch go through", async () => {
    const ledger = open();
    const a = ledger.append([{ record: noteRecord(1) }], thing("thing.put", "a"));
    const refused = ledger.append([{ record: noteRecord(2) }], thing("thing.refuse", "refused"));
    const plain = ledger.append([{ record: noteRecord(3) }]);
    const b = ledger.append([{ record: noteRecord(4) }, { record: noteRecord(5) }], thing("thing.put", "b"));
    await expect(refused).rejects.toMatchObject({ code: "THING_REFUSED" });
    const [ra, rp, rb] = await Promise.all([a, plain, b]);
    expect([ra[0]?.index, rp[0]?.index, rb.map((r) => r.index)]).toEqual([0, 1, [2, 3]]);
    expect(things()).toEqual([
      { id: "a", entry_index: 0 },
      { id: "b", entry_index: 2 },
    ]);
    expect(ledger.size()).toBe(4);
    expect(check()).toMatchObject({ ok: true, size: 4 });
  });

  it("a port built without an applier refuses a command when the call is made, and writes nothing", async () => {
    const bare = new EmbeddedLedger({
      storage: openSqliteLog(join(dir, "ledger.db")),
      signer,
      outbox: sqliteOutbox(db),
    });
    opened.push(bare);
    await expect(bare.append([{ record: noteRecord(1) }], thing("thing.put", "x"))).rejects.toMatchObject({
      code: "LEDGER_ENTRY_INVALID",
    });
    expect(bare.size()).toBe(0);
    expect(things()).toEqual([]);
  });

  it("a batch a crash left in the outbox (service.db committed, ledger.db not) is appended at the next start, same indices and bytes", async () => {
    const first = open();
    await first.append([{ record: noteRecord(0) }]);
    await first.close();
    opened.length = 0;
    // The crashed writer's state, made with the real pieces: the batch ordered after the stored head and
    // committed to the outbox together with its state change — and never appended to ledger.db.
    const storage = openSqliteLog(join(dir, "ledger.db"));
    const staged = new LocalOrder(storage, nodeHasher).stage(
      checkRequests([{ record: noteRecord(1) }, { record: noteRecord(2) }]),
    );
    storage.close();
    const outbox = sqliteOutbox(db);
    outbox.transaction(() => {
      db.prepare("INSERT INTO things VALUES ('crashed', 1)").run();
      outbox.put(
        staged.entries.map((e, i) => ({ index: staged.firstIndex + i, entry: e.entry, keys: e.keys })),
      );
    });
    expect(check()).toMatchObject({ ok: true, size: 1 });

    const next = open();
    expect(next.stats.replayed).toBe(2);
    expect(next.size()).toBe(3);
    staged.results.forEach((r) => {
      expect(toHex(next.leafHash(r.index))).toBe(r.leafHash);
    });
    expect(next.latestCheckpoint().size).toBe(3);
    expect(check()).toMatchObject({ ok: true, size: 3, unsignedEntries: 0 });
    // A later batch with a state change forgets the applied outbox rows; nothing is appended twice.
    await next.append([{ record: noteRecord(3) }], thing("thing.put", "c3"));
    await next.append([{ record: noteRecord(4) }], thing("thing.put", "c4"));
    expect(db.prepare("SELECT min(idx) AS m FROM ledger_outbox").get()).toEqual({ m: 4 });
    expect(next.size()).toBe(5);
    expect(check()).toMatchObject({ ok: true, size: 5 });
  });
});

describe("EmbeddedLedger: checkpoints on a cadence", () => {
  it("no checkpoint per append: one appears within the interval, at most one per batch", async () => {
    const ledger = open({ checkpointIntervalMs: 200 });
    const before = ledger.stats.checkpoints;
    for (let i = 0; i < 5; i++) await ledger.append([{ record: noteRecord(i) }]);
    // Five batches in far less than the interval after the start-up checkpoint: none signed yet…
    expect(ledger.stats.batches).toBe(5);
    expect(ledger.stats.checkpoints - before).toBeLessThanOrEqual(1);
    // …and within the interval one covers them all (bounded wait).
    for (let i = 0; i < 100 && ledger.latestCheckpoint().size < 5; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(ledger.latestCheckpoint().size).toBe(5);
    expect(ledger.stats.checkpoints).toBeLessThanOrEqual(ledger.stats.batches + 1);
  });

  it("checkpointCovering signs promptly for a waiter and answers with a checkpoint that covers the index", async () => {
    const ledger = open({ checkpointIntervalMs: 60_000 });
    const [r] = await ledger.append([{ record: noteRecord(7) }]);
    const index = r?.index ?? -1;
    const cp = await ledger.checkpointCovering(index);
    expect(cp.size).toBeGreaterThan(index);
    expect(cp.note).toContain(`\n${cp.size}\n`);
    await expect(ledger.checkpointCovering(999)).rejects.toMatchObject({ code: "LEDGER_INDEX_OUT_OF_RANGE" });
  });

  it("close writes what is queued and signs a checkpoint covering everything", async () => {
    const ledger = open({ checkpointIntervalMs: 60_000 });
    const pending = ledger.append([{ record: noteRecord(1) }]);
    await ledger.close();
    await expect(pending).resolves.toHaveLength(1);
    expect(check()).toMatchObject({ ok: true, size: 1, unsignedEntries: 0 });
    await expect(ledger.append([{ record: noteRecord(2) }])).rejects.toMatchObject({ code: "LEDGER_CLOSED" });
  });
});
