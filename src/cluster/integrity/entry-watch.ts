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
 */
import type { LogStorage } from "../../ledger/log-storage.js";
import { nodeHasher } from "../../ledger/node-hasher.js";
import { CompactRange } from "../../ledger/verify/compact-range.js";
import { bytesEqual } from "../../ledger/verify/encoding.js";
import type { TreeHasher } from "../../ledger/verify/hash.js";
import { ClusterError } from "../errors.js";
import { checkEntry, readEntry } from "./entry-checks.js";
import type { Finding } from "./finding.js";

const KEEP_ROOTS = 64;
/** Roots kept of the sizes `advance` stopped at (one per cosignature). */
const KEEP_STOPS = 16;

export class EntryWatch {
  readonly #storage: LogStorage;
  readonly #hasher: TreeHasher;
  #size = 0;
  /** Perfect-subtree roots of the verified prefix, leftmost first (as in CompactRange). */
  #stack: Uint8Array[] = [];
  #prevLeaf: Uint8Array | undefined;
  readonly #roots = new Map<number, Uint8Array>();
  readonly #stops = new Map<number, Uint8Array>();

  constructor(o: { storage: LogStorage; hasher?: TreeHasher }) {
    this.#storage = o.storage;
    this.#hasher = o.hasher ?? nodeHasher;
    this.reset();
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
