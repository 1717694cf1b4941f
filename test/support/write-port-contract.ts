/**
 * The write port's contract (`src/ledger/write-port.ts`) as tests any implementation runs: the embedded
 * node and the etcd cluster (`src/cluster/cluster-ledger.ts`) alike. The state changes are real
 * StateCommands applied by a small real applier to a real service.db (a test table beside the service's
 * own), so "state change and entries together", "a refused command writes nothing" and "the same outcome
 * everywhere" are checked on SQLite files, not on mocks.
 */
import { describe, expect, it } from "vitest";
import { CodedError } from "../../src/coded-error.js";
import { decodeEntry } from "../../src/ledger/entry/canonical-entry.js";
import { GENESIS_PREV } from "../../src/ledger/entry/operation-record.js";
import type { LedgerReader } from "../../src/ledger/read-port.js";
import { nodeHasher } from "../../src/ledger/node-hasher.js";
import { openCheckpoint } from "../../src/ledger/verify/checkpoint.js";
import { fromHex, toHex } from "../../src/ledger/verify/encoding.js";
import { verifyInclusion } from "../../src/ledger/verify/inclusion.js";
import {
  openPublishedCheckpoint,
  type CosignerPolicy,
} from "../../src/ledger/verify/published-checkpoint.js";
import type { VerifierKey } from "../../src/ledger/verify/verifier-key.js";
import type { AppendRequest, AppendResult, LedgerWritePort } from "../../src/ledger/write-port.js";
import type { ApplyCommand, StateCommand } from "../../src/cluster/state-command.js";
import type { ServiceDb } from "../../src/store/service-db.js";
import { noteRecord, sha, uploadRecord } from "../ledger/records.js";

export class TestStateError extends CodedError<"TEST_KEY_EXISTS" | "TEST_COMMAND_UNKNOWN"> {
  override readonly name = "TestStateError";
}

/** The test table every node's service.db gets before its port starts. */
export function createTestTable(db: ServiceDb): void {
  db.exec(
    "CREATE TABLE IF NOT EXISTS test_kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, entry INTEGER NOT NULL) STRICT",
  );
}

/**
 * A deterministic applier: `test.put {key, value}` inserts a row naming its first entry's index, refused
 * (TEST_KEY_EXISTS) when the key is taken — a precondition that depends on the state.
 */
export const testApplier: ApplyCommand = (command, results, db) => {
  if (command.kind !== "test.put") {
    throw new TestStateError("TEST_COMMAND_UNKNOWN", "不明なテスト用コマンドです", { kind: command.kind });
  }
  const { key, value } = command.args as { key: string; value: string };
  const taken = db.prepare("SELECT 1 FROM test_kv WHERE key = ?").get(key);
  if (taken !== undefined) throw new TestStateError("TEST_KEY_EXISTS", "そのキーは使われています", {});
  db.prepare("INSERT INTO test_kv (key, value, entry) VALUES (?, ?, ?)").run(
    key,
    value,
    results[0]?.index ?? -1,
  );
};

export function put(key: string, value: string): StateCommand {
  return { kind: "test.put", args: { key, value } };
}

export function testRows(db: ServiceDb): { key: string; value: string; entry: number }[] {
  return db
    .prepare<[], { key: string; value: string; entry: number }>(
      "SELECT key, value, entry FROM test_kv ORDER BY key",
    )
    .all();
}

/** What a contract test needs of one implementation. */
export interface PortUnderTest {
  readonly port: LedgerWritePort &
    LedgerReader & {
      append(
        requests: readonly AppendRequest[],
        options?: { command?: StateCommand },
      ): Promise<AppendResult[]>;
    };
  /** The service.db the port applies commands to (with {@link createTestTable} done). */
  readonly db: ServiceDb;
  readonly logKey: VerifierKey;
  /** When checkpoints are published only with cosignatures (the cluster). */
  readonly policy?: CosignerPolicy;
}

let unique = 0;
function notes(n: number): AppendRequest[] {
  return Array.from({ length: n }, () => ({ record: noteRecord(++unique) }));
}

/** Runs the contract against `subject()` (set up by the caller's beforeAll; shared across the tests). */
export function writePortContract(name: string, subject: () => PortUnderTest): void {
  describe(`write port contract: ${name}`, () => {
    it("gives consecutive indices, each call contiguous and in request order, chained by prev", async () => {
      const { port } = subject();
      const before = port.size();
      const calls = await Promise.all([notes(3), notes(1), notes(2), notes(4)].map((r) => port.append(r)));
      const indices = calls
        .flat()
        .map((r) => r.index)
        .sort((a, b) => a - b);
      expect(indices).toEqual(Array.from({ length: 10 }, (_, i) => before + i));
      for (const call of calls) {
        call.forEach((r, i) => {
          expect(r.index).toBe((call[0] as AppendResult).index + i);
        });
      }
      for (let i = Math.max(before, 1); i < before + 10; i++) {
        const record = decodeEntry(port.entry(i));
        expect(record.prev).toBe(toHex(port.leafHash(i - 1)));
        expect(toHex(nodeHasher.hashLeaf(port.entry(i)))).toBe(toHex(port.leafHash(i)));
      }
      if (before === 0) expect(decodeEntry(port.entry(0)).prev).toBe(GENESIS_PREV);
      for (const r of calls.flat()) expect(r.leafHash).toBe(toHex(port.leafHash(r.index)));
    });

    it("refuses a bad record with a coded error and writes nothing of the call", async () => {
      const { port, db } = subject();
      const before = port.size();
      const bad = {
        record: { ...noteRecord(++unique), type: "no-such-type" } as unknown as AppendRequest["record"],
      };
      await expect(
        port.append([...notes(1), bad], { command: put("bad-record", "x") }),
      ).rejects.toMatchObject({
        code: "LEDGER_ENTRY_INVALID",
      });
      expect(port.size()).toBe(before);
      expect(testRows(db).some((r) => r.key === "bad-record")).toBe(false);
    });

    it("makes the state command durable together with its entries, seeing their indices", async () => {
      const { port, db } = subject();
      const results = await port.append(notes(2), { command: put("k-together", "v1") });
      const row = testRows(db).find((r) => r.key === "k-together");
      expect(row).toEqual({ key: "k-together", value: "v1", entry: (results[0] as AppendResult).index });
      expect(port.size()).toBeGreaterThan((results[1] as AppendResult).index);
    });

    it("refuses a command whose precondition fails: its error, none of its entries, no state", async () => {
      const { port, db } = subject();
      await port.append(notes(1), { command: put("k-once", "first") });
      const before = port.size();
      await expect(port.append(notes(3), { command: put("k-once", "second") })).rejects.toMatchObject({
        code: "TEST_KEY_EXISTS",
      });
      expect(port.size()).toBe(before);
      expect(testRows(db).find((r) => r.key === "k-once")?.value).toBe("first");
    });

    it("decides concurrent conflicting commands one way: exactly one applies, only its entries are written", async () => {
      const { port, db } = subject();
      const before = port.size();
      const outcomes = await Promise.allSettled(
        ["a", "b", "c"].map((v) => port.append(notes(2), { command: put("k-race", v) })),
      );
      const ok = outcomes.filter((o) => o.status === "fulfilled");
      expect(ok).toHaveLength(1);
      for (const o of outcomes) {
        if (o.status === "rejected") expect(o.reason).toMatchObject({ code: "TEST_KEY_EXISTS" });
      }
      expect(port.size()).toBe(before + 2);
      const row = testRows(db).find((r) => r.key === "k-race");
      const winner = (ok[0] as PromiseFulfilledResult<AppendResult[]>).value;
      expect(row?.entry).toBe((winner[0] as AppendResult).index);
    });

    it("hands out a checkpoint covering an appended entry that verifies, with an inclusion proof", async () => {
      const { port, logKey, policy } = subject();
      const [last] = (await port.append(notes(1))).slice(-1) as [AppendResult];
      const cp = await port.checkpointCovering(last.index);
      expect(cp.size).toBeGreaterThan(last.index);
      const opened = openCheckpoint(cp.note, logKey).checkpoint;
      expect(opened.size).toBe(cp.size);
      expect(toHex(opened.root)).toBe(toHex(cp.root));
      if (policy !== undefined) openPublishedCheckpoint(cp.note, logKey, policy);
      const proof = port.inclusionProof(last.index, cp.size);
      verifyInclusion(
        {
          index: last.index,
          size: cp.size,
          leafHash: fromHex(last.leafHash),
          proof: proof.proof.map((h) => fromHex(h)),
          root: cp.root,
        },
        nodeHasher,
      );
      expect(port.latestCheckpoint().size).toBeGreaterThanOrEqual(cp.size);
    });

    it("answers a list page's keys in one read: the same indices and leaf hashes as key by key, and the bytes", async () => {
      const { port } = subject();
      const transfers = ["LP-1", "LP-2", "LP-3"].map((t) => `${t}-${++unique}`);
      // Interleaved, so each transfer's entries are not contiguous.
      await port.append(transfers.map((t) => ({ record: uploadRecord(t, sha(`${t}-a`)) })));
      await port.append(transfers.map((t) => ({ record: uploadRecord(t, sha(`${t}-b`)) })));
      const keys = [...transfers.map((t) => `transfer:${t}`), "transfer:never-written"];
      const many = port.keyedLeafHashesOf?.(keys);
      expect(many).toBeDefined();
      for (const key of keys) {
        const one = (port.keyedLeafHashes?.(key) ?? []).map((k) => [k.index, toHex(k.leafHash)]);
        expect(many?.get(key)?.map((k) => [k.index, toHex(k.leafHash)])).toEqual(one);
        expect(one.length).toBe(key.endsWith("never-written") ? 0 : 2);
      }
      const indices = [...(many?.values() ?? [])].flatMap((rows) => (rows ?? []).map((r) => r.index));
      const read = port.entriesAt?.([...indices, port.size() + 10]);
      expect([...(read?.keys() ?? [])].sort((a, b) => a - b)).toEqual([...indices].sort((a, b) => a - b));
      for (const i of indices) expect(toHex(read?.get(i) ?? new Uint8Array())).toBe(toHex(port.entry(i)));
    });

    it("refuses a checkpoint for an index never appended", async () => {
      const { port } = subject();
      await expect(port.checkpointCovering(port.size() + 5)).rejects.toMatchObject({
        code: "LEDGER_INDEX_OUT_OF_RANGE",
      });
    });
  });
}
