/**
 * The entry watch's "checked up to" mark, kept across restarts (`entry-watch.ts`): the size it had
 * checked, the root it recomputed at that size, the leaf hash of the last entry (the chain continues
 * from it) and the compact range's perfect-subtree roots (O(log n) hashes). With it, the first
 * cosignature after a restart re-hashes only the entries appended since, not the whole ledger.
 *
 * The mark lives beside ledger.db in the node's directory, so whoever can edit one can edit the other:
 * it is only a shortcut for the cosign guard. Before it is used it must agree with the stored copy (the
 * last leaf hash and the stored interior nodes of its subtrees, `EntryWatch`), and the rolling full
 * check — which recomputes everything from the entry bytes and compares with the quorum-published root
 * — still walks the whole ledger in the background, below the mark too.
 */
import { readFileSync, renameSync, writeFileSync } from "node:fs";

export interface WatchMark {
  readonly size: number;
  /** Hex root recomputed at `size`. */
  readonly root: string;
  /** Hex leaf hash of entry `size - 1`. */
  readonly prevLeaf: string;
  /** Hex perfect-subtree roots of the first `size` leaves, leftmost first. */
  readonly stack: readonly string[];
  /** Recomputed roots of the last sizes the watch stopped at (where cosignatures were made). */
  readonly stops?: readonly { readonly size: number; readonly root: string }[];
}

export interface WatchMarkStore {
  load(): WatchMark | undefined;
  save(mark: WatchMark): void;
}

const HEX64 = /^[0-9a-f]{64}$/;

function isMark(v: unknown): v is WatchMark {
  if (typeof v !== "object" || v === null) return false;
  const m = v as Record<string, unknown>;
  return (
    Number.isSafeInteger(m["size"]) &&
    (m["size"] as number) > 0 &&
    typeof m["root"] === "string" &&
    HEX64.test(m["root"]) &&
    typeof m["prevLeaf"] === "string" &&
    HEX64.test(m["prevLeaf"]) &&
    Array.isArray(m["stack"]) &&
    m["stack"].every((h) => typeof h === "string" && HEX64.test(h)) &&
    (m["stops"] === undefined ||
      (Array.isArray(m["stops"]) &&
        m["stops"].every(
          (x: unknown) =>
            typeof x === "object" &&
            x !== null &&
            Number.isSafeInteger((x as { size?: unknown }).size) &&
            typeof (x as { root?: unknown }).root === "string" &&
            HEX64.test((x as { root: string }).root),
        )))
  );
}

/** The mark in one JSON file, replaced atomically (written beside it, then renamed). */
export function fileWatchMark(path: string): WatchMarkStore {
  return {
    load() {
      let text: string;
      try {
        text = readFileSync(path, "utf8");
      } catch {
        return undefined;
      }
      try {
        const parsed: unknown = JSON.parse(text);
        return isMark(parsed) ? parsed : undefined;
      } catch {
        return undefined;
      }
    },
    save(mark) {
      const part = `${path}.part`;
      writeFileSync(part, `${JSON.stringify(mark)}\n`, { mode: 0o600 });
      renameSync(part, path);
    },
  };
}
