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
import { INDEX_MERGE_ENTRIES, MERGED_BELOW_KEY, UNMERGED_KEY_ROWS } from "./sqlite-log-schema.js";

let path: string;
let signer: NoteSigner;

beforeEach(() => {
  path = join(mkdtempSync(join(tmpdir(), "kenshin-log-index-")), "ledger.db");
  signer = createNoteSigner(generateNoteKey("kenshin.example/test-log"));
});

const count = (db: Database.Database, table: string): number =>
  (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
const mark = (db: Database.Database): string =>
  (db.prepare("SELECT value FROM meta WHERE key = ?").get(MERGED_BELOW_KEY) as { value: string }).value;
const tables = (db: Database.Database): string[] =>
  (
    db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as {
      name: string;
    }[]
  ).map((r) => r.name);

describe("two-level look-up indexes (main tables + the unmerged entries' own rows)", () => {
  it("every entry is found by key and leaf hash before, across and after a merge; the merge moves the mark", async () => {
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
    // The batch that crossed the multiple merged everything up to its end; the rest is found through
    // its own rows (leaf hash and packed keys) only.
    const recentFrom = Math.floor(INDEX_MERGE_ENTRIES / batch) * batch + batch;
    expect(count(db, "leaf_index")).toBe(recentFrom);
    expect(mark(db)).toBe(String(recentFrom));
    expect(db.prepare("SELECT count(*) AS n FROM entry_keys WHERE idx >= ?").get(recentFrom)).toEqual({
      n: 0,
    });
    expect(db.prepare(`SELECT count(*) AS n FROM (${UNMERGED_KEY_ROWS})`).get()).toEqual({
      n: 3 * (total - recentFrom),
    });
    expect(tables(db)).not.toContain("entry_keys_recent");
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
    // A merged entry's row deleted behind the log's back (its key rows kept) comes back without a leaf
    // hash, and the reader's version refuses, as reading it by index does. (An unmerged entry's row is
    // its own index: deleting it deletes its look-ups.)
    const gone = recentFrom - 1;
    const edit = new Database(path);
    edit.prepare("DELETE FROM entries WHERE idx IN (?, ?)").run(gone, recentFrom);
    // A key both in the main table and packed in an unmerged row (as a repair leaves it) counts once.
    edit.exec(
      `INSERT INTO entry_keys SELECT key, idx FROM (${UNMERGED_KEY_ROWS}) WHERE key = 'transfer:T-2100'`,
    );
    edit.close();
    expect(s.findByKey(`sha256:${sha(`f${recentFrom}`)}`)).toEqual([]);
    expect(s.findByLeafHash(fromHex(leaves[recentFrom] as string))).toEqual([]);
    const key = `transfer:T-${gone % 5000}`;
    expect(s.keyedLeafHashes?.(key).find((k) => k.index === gone)?.leafHash).toBeNull();
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
      const read = entriesAt(storage, [gone - 1, gone, 1]);
      expect([...read.keys()].sort((a, b) => a - b)).toEqual([1, gone - 1]);
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
      INSERT INTO entry_keys SELECT key, idx FROM (${UNMERGED_KEY_ROWS});
      ALTER TABLE entries DROP COLUMN keys; DROP TABLE leaf_index; DELETE FROM meta WHERE key = '${MERGED_BELOW_KEY}';
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
    expect(check.pragma("user_version", { simple: true })).toBe(4);
    expect(count(check, "leaf_index")).toBe(21);
    expect(mark(check)).toBe("21");
    expect(check.prepare("SELECT name FROM sqlite_master WHERE name = 'entries_by_leaf_hash'").all()).toEqual(
      [],
    );
    check.close();
  });

  it("a version-3 file (recent index tables) is migrated when opened: merged, tables dropped, the mark at its end", async () => {
    const ledger = new Ledger({
      storage: createSqliteLog({ path, origin: signer.name, verifierKey: signer.verifierKey }),
    });
    const results = await ledger.append(
      Array.from({ length: 30 }, (_, i) => ({ record: uploadRecord(`T-${i % 4}`, sha(`g${i}`)) })),
    );
    ledger.signCheckpoint(signer);
    ledger.close();
    // The version-3 layout: entries 0–9 merged into the main tables, 10–29 only in the recent tables.
    const db = new Database(path);
    db.exec(`
      CREATE TABLE leaf_index_recent (leaf_hash BLOB NOT NULL, idx INTEGER NOT NULL, PRIMARY KEY (leaf_hash, idx)) STRICT, WITHOUT ROWID;
      CREATE TABLE entry_keys_recent (key TEXT NOT NULL, idx INTEGER NOT NULL, PRIMARY KEY (key, idx)) STRICT, WITHOUT ROWID;
      INSERT INTO entry_keys SELECT key, idx FROM (${UNMERGED_KEY_ROWS}) WHERE idx < 10;
      INSERT INTO entry_keys_recent SELECT key, idx FROM (${UNMERGED_KEY_ROWS}) WHERE idx >= 10;
      INSERT INTO leaf_index SELECT leaf_hash, idx FROM entries WHERE idx < 10;
      INSERT INTO leaf_index_recent SELECT leaf_hash, idx FROM entries WHERE idx >= 10;
      ALTER TABLE entries DROP COLUMN keys; DELETE FROM meta WHERE key = '${MERGED_BELOW_KEY}';
      PRAGMA user_version = 3;`);
    db.close();
    const reopened = new Ledger({ storage: openSqliteLog(path) });
    const s = reopened.storage;
    for (const i of [0, 9, 10, 29]) {
      expect(s.findByLeafHash(fromHex(results[i]?.leafHash ?? ""))).toEqual([i]);
      expect(s.findByKey(`sha256:${sha(`g${i}`)}`)).toEqual([i]);
    }
    expect(s.findByKey("transfer:T-1")).toEqual([1, 5, 9, 13, 17, 21, 25, 29]);
    expect(s.latestByKey("transfer:T-1", 3)).toEqual([29, 25, 21]);
    await reopened.append([{ record: uploadRecord("T-1", sha("h")) }]);
    expect(s.findByKey("transfer:T-1").slice(-2)).toEqual([29, 30]);
    expect(fsck(s, parseVerifierKey(signer.verifierKey))).toMatchObject({ ok: true, size: 31 });
    reopened.close();
    const check = new Database(path, { readonly: true });
    expect(check.pragma("user_version", { simple: true })).toBe(4);
    expect(tables(check)).not.toContain("leaf_index_recent");
    expect(tables(check)).not.toContain("entry_keys_recent");
    expect(count(check, "leaf_index")).toBe(30);
    expect(count(check, "entry_keys")).toBe(90);
    // Only the entry appended after the migration is unmerged (packed keys).
    expect(mark(check)).toBe("30");
    expect(check.prepare(`SELECT DISTINCT idx FROM (${UNMERGED_KEY_ROWS})`).pluck().all()).toEqual([30]);
    check.close();
  });

  it("a reader on another connection sees the writer's appends and an edit of the packed keys at once", async () => {
    const ledger = new Ledger({
      storage: createSqliteLog({ path, origin: signer.name, verifierKey: signer.verifierKey }),
    });
    const reader = openSqliteLog(path);
    await ledger.append([{ record: uploadRecord("T-1", sha("a")) }]);
    expect(reader.findByKey("transfer:T-1")).toEqual([0]);
    const [second] = await ledger.append([{ record: uploadRecord("T-1", sha("b")) }]);
    expect(reader.findByKey("transfer:T-1")).toEqual([0, 1]);
    expect(reader.findByLeafHash(fromHex(second?.leafHash ?? ""))).toEqual([1]);
    // The key taken out of entry 0's row behind both connections' backs: neither still finds it there.
    const edit = new Database(path);
    edit.prepare("UPDATE entries SET keys = ? WHERE idx = 0").run(JSON.stringify([`sha256:${sha("a")}`]));
    // Malformed packed keys are no keys (and the integrity scan reads the same).
    edit.prepare(`UPDATE entries SET keys = '["transfer:T-1",' WHERE idx = 1`).run();
    expect(edit.prepare(`SELECT idx, key FROM (${UNMERGED_KEY_ROWS}) ORDER BY idx`).all()).toEqual([
      { idx: 0, key: `sha256:${sha("a")}` },
    ]);
    edit.close();
    for (const s of [reader, ledger.storage]) {
      expect(s.findByKey("transfer:T-1")).toEqual([]);
      expect(s.findByKey(`sha256:${sha("a")}`)).toEqual([0]);
      expect(s.keyedLeafHashesOf?.(["transfer:T-1"]).get("transfer:T-1")).toBeUndefined();
      expect(s.latestByKey("institution:1312345678", 5)).toEqual([]);
    }
    reader.close();
    ledger.close();
  });

  it("a write transaction that rolls back leaves no look-up of its entries, even one read inside it", () => {
    const storage = createSqliteLog({ path, origin: signer.name, verifierKey: signer.verifierKey });
    const entry = (text: string, key: string) => ({
      entry: new TextEncoder().encode(text),
      leafHash: new Uint8Array(32).fill(text.length),
      keys: [key],
    });
    expect(() =>
      storage.writeTransaction(() => {
        storage.appendBatch({
          firstIndex: 0,
          entries: [entry("a", "k:gone"), entry("bb", "k:gone")],
          nodes: [],
        });
        expect(storage.findByKey("k:gone")).toEqual([0, 1]);
        throw new Error("rolled back");
      }),
    ).toThrow("rolled back");
    expect(storage.findByKey("k:gone")).toEqual([]);
    // The same indices written again with other rows: found as they are now.
    storage.appendBatch({
      firstIndex: 0,
      entries: [entry("ccc", "k:kept"), entry("dddd", "k:kept")],
      nodes: [],
    });
    expect(storage.findByKey("k:gone")).toEqual([]);
    expect(storage.findByKey("k:kept")).toEqual([0, 1]);
    expect(storage.findByLeafHash(new Uint8Array(32).fill(1))).toEqual([]);
    expect(storage.findByLeafHash(new Uint8Array(32).fill(4))).toEqual([1]);
    storage.close();
  });
});
