/**
 * The watch over new entries: before the node cosigns a checkpoint, every entry it has not checked yet
 * is re-hashed from its stored bytes and checked (`entry-checks.ts`), the interior nodes they complete
 * are recomputed and compared with the stored ones, and the root is recomputed from those leaves — not
 * read from the stored nodes, which a consistent rewrite could have changed together with the leaves.
 * So the root a node vouches for is always one it computed itself from bytes it checked.
 *
 * State is a compact range over the verified prefix (O(log n) hashes) and the recomputed roots of the
 * last sizes it reached, entry by entry, and of the last sizes each `advance` stopped at — the sizes
 * checkpoints are cosigned at, so the cosigner's check of the size it cosigned last (often thousands of
 * entries back on a busy node) finds its root without re-hashing the log from the start. On a finding the watch stops
 * before the first bad entry: it never vouches for anything from there on until the copy is repaired
 * and the watch is reset.
 *
 * With a mark store (`watch-mark.ts`) the watch keeps its "checked up to (size, root)" across restarts:
 * it saves the mark as it advances (at most once a second, and on `flush`) and, when built with
 * `resume`, starts from a saved mark that agrees with the stored copy (the last leaf hash and the
 * stored roots of its perfect subtrees); a mark that does not agree is ignored (it starts from entry 0).
 */
import type { LogStorage } from "../../ledger/log-storage.js";
import { nodeHasher } from "../../ledger/node-hasher.js";
import { CompactRange } from "../../ledger/verify/compact-range.js";
import { bytesEqual, fromHex, toHex } from "../../ledger/verify/encoding.js";
import type { TreeHasher } from "../../ledger/verify/hash.js";
import { ClusterError } from "../errors.js";
import { checkEntry, readEntry } from "./entry-checks.js";
import type { Finding } from "./finding.js";
import type { WatchMark, WatchMarkStore } from "./watch-mark.js";

const KEEP_ROOTS = 64;
/** Roots kept of the sizes `advance` stopped at (one per cosignature). */
const KEEP_STOPS = 16;
/** Least time between two saves of the mark. */
const SAVE_EVERY_MS = 1000;

export class EntryWatch {
  readonly #storage: LogStorage;
  readonly #hasher: TreeHasher;
  #size = 0;
  /** Perfect-subtree roots of the verified prefix, leftmost first (as in CompactRange). */
  #stack: Uint8Array[] = [];
  #prevLeaf: Uint8Array | undefined;
  readonly #roots = new Map<number, Uint8Array>();
  readonly #stops = new Map<number, Uint8Array>();
  readonly #mark: WatchMarkStore | undefined;
  readonly #clock: () => number;
  #savedSize = 0;
  #savedAt = -Infinity;

  constructor(o: {
    storage: LogStorage;
    hasher?: TreeHasher;
    /** Where the mark is saved (and, with `resume`, read from). */
    mark?: WatchMarkStore;
    /** Start from the saved mark when it agrees with the stored copy (default false: from entry 0). */
    resume?: boolean;
    /** Monotonic milliseconds (how often the mark is saved). */
    clock?: () => number;
  }) {
    this.#storage = o.storage;
    this.#hasher = o.hasher ?? nodeHasher;
    this.#mark = o.mark;
    this.#clock = o.clock ?? (() => performance.now());
    this.reset();
    if (o.resume === true) this.#resume();
  }

  /** Saves the mark now (when it moved since the last save). */
  flush(): void {
    if (this.#mark === undefined || this.#size === this.#savedSize || this.#prevLeaf === undefined) return;
    const root = this.#roots.get(this.#size);
    if (root === undefined) return;
    this.#mark.save({
      size: this.#size,
      root: toHex(root),
      prevLeaf: toHex(this.#prevLeaf),
      stack: this.#stack.map(toHex),
      stops: [...this.#stops].map(([size, r]) => ({ size, root: toHex(r) })),
    });
    this.#savedSize = this.#size;
    this.#savedAt = this.#clock();
  }

  /** Number of leading entries checked so far. */
  get verifiedSize(): number {
    return this.#size;
  }

  /**
   * Checks entries [verifiedSize, toSize) in order; stops at the first entry with a finding.
   * @returns the findings (empty when every entry up to `toSize` checked)
   */
  advance(toSize: number): Finding[] {
    while (this.#size < toSize) {
      const index = this.#size;
      const stored = readEntry(this.#storage, index);
      if (stored === undefined) return [{ kind: "entry", code: "LEDGER_ENTRY_MISSING", index }];
      const checked = checkEntry(this.#storage, this.#hasher, stored, this.#prevLeaf);
      if (checked.findings.length > 0) return [...checked.findings];
      // Merge equal-sized neighbours (RFC 9162 / compact ranges); each merge completes a stored node.
      const stack = [...this.#stack];
      let hash = checked.leaf;
      let level = 0;
      let nodeIndex = index;
      for (let n = index; n % 2 === 1; n = Math.floor(n / 2)) {
        hash = this.#hasher.hashChildren(stack.pop() as Uint8Array, hash);
        level++;
        nodeIndex = Math.floor(nodeIndex / 2);
        if (!this.#storedNodeIs(level, nodeIndex, hash)) {
          return [{ kind: "tree", code: "LEDGER_NODE_MISMATCH", index: nodeIndex * 2 ** level }];
        }
      }
      stack.push(hash);
      this.#stack = stack;
      this.#size = index + 1;
      this.#prevLeaf = checked.leaf;
      this.#remember(this.#size, new CompactRange(this.#hasher, this.#size, stack).root());
    }
    this.#rememberStop();
    if (this.#mark !== undefined && this.#clock() - this.#savedAt >= SAVE_EVERY_MS) this.flush();
    return [];
  }

  /**
   * The recomputed root of the first `size` leaves: the current verified size, or one reached recently.
   * @throws ClusterError CLUSTER_INTEGRITY_MISMATCH for a size this watch cannot vouch for
   */
  rootAt(size: number): Uint8Array {
    const root = this.#roots.get(size) ?? this.#stops.get(size);
    if (root !== undefined) return root;
    if (size < this.#size) return this.#recomputeRoot(size);
    throw new ClusterError("CLUSTER_INTEGRITY_MISMATCH", "検証済みでない大きさの根ハッシュです", {
      size,
      verifiedSize: this.#size,
    });
  }

  /** Starts over from the first entry (after a repair replaced part of the copy). */
  reset(): void {
    this.#size = 0;
    this.#stack = [];
    this.#prevLeaf = undefined;
    this.#roots.clear();
    this.#stops.clear();
    this.#roots.set(0, this.#hasher.emptyRoot());
  }

  /** Starts from the saved mark if it agrees with the stored copy; otherwise stays at entry 0. */
  #resume(): void {
    const mark = this.#mark?.load();
    if (mark === undefined || !this.#agrees(mark)) return;
    const stack = mark.stack.map((h) => fromHex(h));
    const root = fromHex(mark.root);
    this.#size = mark.size;
    this.#stack = stack;
    this.#prevLeaf = fromHex(mark.prevLeaf);
    for (const stop of mark.stops ?? []) {
      if (stop.size > 0 && stop.size < mark.size) this.#stops.set(stop.size, fromHex(stop.root));
    }
    this.#remember(mark.size, root);
    this.#rememberStop();
    this.#savedSize = mark.size;
  }

  /**
   * The mark's root is the root of its subtrees, and they and its last leaf are what the copy stores
   * now (a repair or an edit underneath since it was saved makes it disagree).
   */
  #agrees(mark: WatchMark): boolean {
    try {
      if (mark.size > this.#storage.size()) return false;
      const bits = mark.size.toString(2).replaceAll("0", "").length;
      if (mark.stack.length !== bits) return false;
      const stack = mark.stack.map((h) => fromHex(h));
      const range = new CompactRange(this.#hasher, mark.size, stack);
      if (!bytesEqual(range.root(), fromHex(mark.root))) return false;
      const last = readEntry(this.#storage, mark.size - 1);
      if (last === undefined || !bytesEqual(last.leafHash, fromHex(mark.prevLeaf))) return false;
      // The perfect subtrees of the first `size` leaves, leftmost (largest) first.
      let offset = 0;
      let i = 0;
      for (let level = 52; level >= 0; level--) {
        const width = 2 ** level;
        if (Math.floor(mark.size / width) % 2 !== 1) continue;
        const hash = stack[i++] as Uint8Array;
        const ok =
          level === 0
            ? bytesEqual(readEntry(this.#storage, offset)?.leafHash ?? new Uint8Array(), hash)
            : this.#storedNodeIs(level, offset / width, hash);
        if (!ok) return false;
        offset += width;
      }
      return true;
    } catch {
      return false;
    }
  }

  #storedNodeIs(level: number, index: number, hash: Uint8Array): boolean {
    try {
      return bytesEqual(this.#storage.node(level, index), hash);
    } catch {
      return false;
    }
  }

  #remember(size: number, root: Uint8Array): void {
    this.#roots.set(size, root);
    if (this.#roots.size > KEEP_ROOTS) {
      for (const key of this.#roots.keys()) {
        if (key !== 0) {
          this.#roots.delete(key);
          break;
        }
      }
    }
  }

  #rememberStop(): void {
    const root = this.#roots.get(this.#size);
    if (root === undefined || this.#stops.has(this.#size)) return;
    this.#stops.set(this.#size, root);
    if (this.#stops.size > KEEP_STOPS) {
      const oldest = this.#stops.keys().next();
      if (oldest.done !== true) this.#stops.delete(oldest.value);
    }
  }

  /** Slow path for an older size not remembered: re-hash the leading entries again. */
  #recomputeRoot(size: number): Uint8Array {
    const range = new CompactRange(this.#hasher);
    for (let i = 0; i < size; i++) {
      const stored = readEntry(this.#storage, i);
      if (stored === undefined) {
        throw new ClusterError("CLUSTER_INTEGRITY_MISMATCH", "エントリがありません", { index: i });
      }
      range.append(this.#hasher.hashLeaf(stored.entry));
    }
    return range.root();
  }
}
