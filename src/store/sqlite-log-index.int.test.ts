import Database from "better-sqlite3";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { expectCode } from "../../test/ledger/expect-code.js";
import { noteRecord, sha, uploadRecord } from "../../test/ledger/records.js";
import { generateNoteKey } from "../crypto/note-key.js";
import { createNoteSigner, type NoteSigner } from "../crypto/note-signer.js";
import { fsck } from "../ledger/fsck.js";
import { Ledger } from "../ledger/ledger.js";
import { entriesAt, keyedLeafHashes, keyedLeafHashesOf, type LogStorage } from "../ledger/log-storage.js";
import { fromHex, toHex } from "../ledger/verify/encoding.js";
import { parseVerifierKey } from "../ledger/verify/verifier-key.js";
import { createSqliteLog, openSqliteLog } from "./sqlite-log.js";
import { INDEX_MERGE_ENTRIES } from "./sqlite-log-schema.js";

let path: string;
let signer: NoteSigner;

beforeEach(() => {
  path = join(mkdtempSync(join(tmpdir(), "kenshin-log-index-")), "ledger.db");
  signer = createNoteSigner(generateNoteKey("kenshin.example/test-log"));
});

const count = (db: Database.Database, table: string): number =>
  (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;

describe("two-level look-up indexes (main + recent tables)", () => {
  it("every entry is found by key and leaf hash before, across and after a merge; the merge empties the recent tables", async () => {
    const ledger = new Ledger({
      storage: createSqliteLog({ path, origin: signer.name, verifierKey: signer.verifierKey }),
    });
    const batch = 1000;
    const total = INDEX_MERGE_ENTRIES + 1500;
    const leaves: string[] = [];
    for (let i = 0; i < total; i += batch) {
      const n = Math.min(batch, total - i);
      const results = await ledger.append(
        Array.from({ length: n }, (_, j) => ({
          record: uploadRecord(`T-${(i + j) % 5000}`, sha(`f${i + j}`)),
        })),
      );
      leaves.push(...results.map((r) => r.leafHash));
    }
    const db = new Database(path, { readonly: true });
    // The batch that crossed the mark merged everything before it; the rest waits in the recent tables.
    const recentFrom = Math.floor(INDEX_MERGE_ENTRIES / batch) * batch + batch;
    expect(count(db, "leaf_index")).toBe(recentFrom);
    expect(count(db, "leaf_index_recent")).toBe(total - recentFrom);
    expect(count(db, "entry_keys_recent")).toBeGreaterThan(0);
    db.close();
    const s = ledger.storage;
    for (const i of [0, 1, recentFrom - 1, recentFrom, total - 1, 4999, 5000]) {
      expect(s.findByLeafHash(fromHex(leaves[i] as string))).toEqual([i]);
      expect(s.findByKey(`sha256:${sha(`f${i}`)}`)).toEqual([i]);
      const transfer = `transfer:T-${i % 5000}`;
      const all = Array.from({ length: total }, (_, k) => k).filter((k) => k % 5000 === i % 5000);
      expect(s.findByKey(transfer)).toEqual(all);
      // The same indices with their leaf hashes, from both tables in one read.
      expect(s.keyedLeafHashes?.(transfer).map((k) => [k.index, toHex(k.leafHash as Uint8Array)])).toEqual(
        all.map((k) => [k, leaves[k]]),
      );
      // Newest first across both tables, limited, and below a bound.
      expect(s.latestByKey(transfer, 2)).toEqual(all.slice(-2).reverse());
      expect(s.latestByKey(transfer, 10, all[2])).toEqual(all.slice(0, 2).reverse());
    }
    expect(s.latestByKey("institution:1312345678", 3)).toEqual([total - 1, total - 2, total - 3]);
    expect(s.latestByKey("institution:1312345678", 3, recentFrom + 1)).toEqual([
      recentFrom,
      recentFrom - 1,
      recentFrom - 2,
    ]);
    ledger.signCheckpoint(signer);
    expect(fsck(s, parseVerifierKey(signer.verifierKey))).toMatchObject({ ok: true, size: total });
    // An entry row deleted behind the log's back (its key rows kept) comes back without a leaf hash, and
    // the reader's version refuses, as reading it by index does.
    const edit = new Database(path);
    edit.prepare("DELETE FROM entries WHERE idx = ?").run(recentFrom);
    // A row in both tables (as a repair can leave until the next merge) counts once.
    edit.exec("INSERT INTO entry_keys SELECT key, idx FROM entry_keys_recent WHERE key = 'transfer:T-2100'");
    edit.close();
    const key = `transfer:T-${recentFrom % 5000}`;
    expect(s.keyedLeafHashes?.(key).find((k) => k.index === recentFrom)?.leafHash).toBeNull();
    expectCode(() => keyedLeafHashes(s, key), "LEDGER_NOT_FOUND");
    expect(keyedLeafHashes(s, "transfer:T-1").map((k) => k.index)).toEqual(s.findByKey("transfer:T-1"));
    // A list page's keys in one read (and, for a storage without that read, key by key): the key whose
    // entry is gone maps to null, the others to exactly their rows, an unknown key to [].
    const page = [key, "transfer:T-1", "transfer:T-2100", "transfer:none"];
    const oneByOne = {
      keyedLeafHashes: (k: string) => s.keyedLeafHashes?.(k) ?? [],
      entry: (i: number) => s.entry(i),
    } as unknown as LogStorage;
    for (const storage of [s, oneByOne]) {
      const many = keyedLeafHashesOf(storage, page);
      expect(many.get(key)).toBeNull();
      for (const k of ["transfer:T-1", "transfer:T-2100"])
        expect(many.get(k)?.map((r) => [r.index, toHex(r.leafHash)])).toEqual(
          keyedLeafHashes(s, k).map((r) => [r.index, toHex(r.leafHash)]),
        );
      expect(many.get("transfer:T-2100")?.map((r) => r.index)).toEqual([2100, 7100, 12100, 17100]);
      expect(many.get("transfer:none")).toEqual([]);
      const read = entriesAt(storage, [recentFrom - 1, recentFrom, 1]);
      expect([...read.keys()].sort((a, b) => a - b)).toEqual([1, recentFrom - 1]);
      expect(toHex(read.get(1) as Uint8Array)).toBe(toHex(s.entry(1).entry));
    }
    ledger.close();
  });

  it("a version-2 file (one leaf-hash index on entries) is migrated when opened and finds the same entries", async () => {
    const ledger = new Ledger({
      storage: createSqliteLog({ path, origin: signer.name, verifierKey: signer.verifierKey }),
    });
    const results = await ledger.append(Array.from({ length: 20 }, (_, i) => ({ record: noteRecord(i) })));
    await ledger.append([{ record: uploadRecord("T-9", sha("x")) }]);
    ledger.signCheckpoint(signer);
    ledger.close();
    // Turn it back into the version-2 layout.
    const db = new Database(path);
    db.exec(`
      INSERT INTO entry_keys SELECT key, idx FROM entry_keys_recent;
      DROP TABLE entry_keys_recent; DROP TABLE leaf_index; DROP TABLE leaf_index_recent;
      CREATE INDEX entries_by_leaf_hash ON entries (leaf_hash);
      PRAGMA user_version = 2;`);
    db.close();
    const reopened = new Ledger({ storage: openSqliteLog(path) });
    expect(reopened.storage.findByLeafHash(fromHex(results[7]?.leafHash ?? ""))).toEqual([7]);
    expect(reopened.storage.findByKey("transfer:T-9")).toEqual([20]);
    await reopened.append([{ record: uploadRecord("T-9", sha("y")) }]);
    expect(reopened.storage.findByKey("transfer:T-9")).toEqual([20, 21]);
    reopened.close();
    const check = new Database(path, { readonly: true });
    expect(check.pragma("user_version", { simple: true })).toBe(3);
    expect(count(check, "leaf_index")).toBe(21);
    expect(check.prepare("SELECT name FROM sqlite_master WHERE name = 'entries_by_leaf_hash'").all()).toEqual(
      [],
    );
    check.close();
  });
});
