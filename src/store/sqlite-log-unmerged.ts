/**
 * Look-ups of the entries not yet merged into the two-level indexes (`sqlite-log-schema.ts`), held in
 * memory by one ledger connection and rebuilt from the entry rows, which carry the leaf hash and the
 * packed look-up keys of each entry (`entries.keys`). Nothing lives only here: the map is a cache of
 * stored rows, so a crash, another process, a repair or a backup see what a look-up sees.
 *
 * When it is stale, and what it does then (checked before every look-up, {@link UnmergedIndex.sync}):
 * - another connection committed (`PRAGMA data_version` moved — a repair, a tamper, another process
 *   appending): rebuilt from the stored rows, at most {@link INDEX_MERGE_ENTRIES} plus one batch;
 * - this connection appended (the stored size grew, data_version did not move): the new rows are read;
 * - a write of this connection rolled back, or a merge moved the boundary: the owner calls
 *   {@link UnmergedIndex.invalidate} and the next look-up rebuilds.
 * Inside a read snapshot the size and data_version are those of the snapshot, so the map matches it.
 * https://www.sqlite.org/pragma.html#pragma_data_version
 */
import type Database from "better-sqlite3";
import type { KeyedLeafHash } from "../ledger/log-storage.js";
import { MERGED_BELOW_KEY } from "./sqlite-log-schema.js";

/** What a look-up reads for one unmerged entry. */
interface UnmergedRows {
  /** Entries from `below` on, indexed by idx − below: their stored leaf hash. */
  readonly leafHashes: Buffer[];
  /** Leaf hash (hex) → indices, ascending. */
  readonly byLeaf: Map<string, number[]>;
  /** Look-up key → indices, ascending. */
  readonly byKey: Map<string, number[]>;
}

/**
 * The packed keys of one entry row: a JSON array of strings (RFC 8259). Anything else — a row edited
 * behind the log's back — counts as no keys, which the integrity check reports as missing index rows.
 */
export function unpackKeys(packed: string | null): string[] {
  if (packed === null) return [];
  let value: unknown;
  try {
    value = JSON.parse(packed);
  } catch {
    return [];
  }
  return Array.isArray(value) ? value.filter((k): k is string => typeof k === "string") : [];
}

/** The in-memory look-ups of one connection's unmerged entries. */
export class UnmergedIndex {
  readonly #dataVersion: Database.Statement<[], number>;
  readonly #mergedBelow: Database.Statement<[string], string>;
  readonly #size: Database.Statement<[], number | null>;
  readonly #rows: Database.Statement<[number, number], [number, Buffer, string | null]>;
  #below = 0;
  /** Entries [below, loaded) are in the maps. */
  #loaded = 0;
  #version: number | undefined;
  #rowsOf: UnmergedRows = { leafHashes: [], byLeaf: new Map(), byKey: new Map() };

  constructor(db: Database.Database) {
    this.#dataVersion = db.prepare<[], number>("PRAGMA data_version").pluck();
    this.#mergedBelow = db.prepare<[string], string>("SELECT value FROM meta WHERE key = ?").pluck();
    this.#size = db.prepare<[], number | null>("SELECT MAX(idx) + 1 FROM entries").pluck();
    this.#rows = db
      .prepare<[number, number], [number, Buffer, string | null]>(
        "SELECT idx, leaf_hash, keys FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx",
      )
      .raw();
  }

  /** The next look-up rebuilds from the stored rows (after a rollback or a merge). */
  invalidate(): void {
    this.#version = undefined;
  }

  /** Brings the maps to what this connection sees now; returns the first unmerged index. */
  sync(): UnmergedRows & { readonly below: number } {
    const version = this.#dataVersion.get() as number;
    const size = this.#size.get() ?? 0;
    if (version !== this.#version || size < this.#loaded) {
      this.#version = version;
      const stored = Number(this.#mergedBelow.get(MERGED_BELOW_KEY) ?? 0);
      this.#below = Number.isSafeInteger(stored) && stored >= 0 ? stored : 0;
      this.#loaded = this.#below;
      this.#rowsOf = { leafHashes: [], byLeaf: new Map(), byKey: new Map() };
    }
    if (size > this.#loaded) this.#load(Math.max(this.#loaded, this.#below), size);
    return { ...this.#rowsOf, below: this.#below };
  }

  #load(from: number, to: number): void {
    const { leafHashes, byLeaf, byKey } = this.#rowsOf;
    for (const [idx, leafHash, keys] of this.#rows.all(from, to)) {
      leafHashes[idx - this.#below] = leafHash;
      push(byLeaf, leafHash.toString("hex"), idx);
      // A key listed twice in one row is one index row (as the merge's INSERT OR IGNORE makes it).
      for (const key of new Set(unpackKeys(keys))) push(byKey, key, idx);
    }
    this.#loaded = to;
  }
}

function push(map: Map<string, number[]>, key: string, idx: number): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [idx]);
  else list.push(idx);
}

/** Two ascending index lists as one, each index once. */
export function mergeAscending(main: number[], unmerged: readonly number[] | undefined): number[] {
  if (unmerged === undefined || unmerged.length === 0) return main;
  if (main.length === 0) return [...unmerged];
  return [...new Set([...main, ...unmerged])].sort((a, b) => a - b);
}

/** The unmerged entries `found` under a key, with their stored leaf hashes. */
export function unmergedRows(
  u: { readonly below: number; readonly leafHashes: readonly Buffer[] },
  found: readonly number[] | undefined,
): KeyedLeafHash[] {
  return (found ?? []).map((index) => {
    const leafHash = u.leafHashes[index - u.below];
    return {
      index,
      leafHash:
        leafHash === undefined
          ? null
          : new Uint8Array(leafHash.buffer, leafHash.byteOffset, leafHash.byteLength),
    };
  });
}

/** Rows in index order, each index once (the first row of an index kept). */
export function inIndexOrder(rows: KeyedLeafHash[]): KeyedLeafHash[] {
  rows.sort((a, b) => a.index - b.index);
  return rows.filter((r, i) => i === 0 || (rows[i - 1] as KeyedLeafHash).index !== r.index);
}
