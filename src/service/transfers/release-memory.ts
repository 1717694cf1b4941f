/**
 * One full garbage collection, asked for by a large upload once its conversion is done and before the
 * spool commit and the ledger append (which run synchronously for a minute on a 1 GB export, with
 * little JavaScript allocation to make V8 collect on its own).
 *
 * Why: the conversion's duplicate-key table (≈ 36 MB for a million records) and the body's opened and
 * sealed pieces are garbage by then, but V8 frees ArrayBuffer memory only when it collects, and it
 * collects for external memory only after tens of MB more of it. Without this, that garbage is still
 * resident while SQLite fills its page caches with the payload and the record hashes, and the two add
 * up to the process's peak (measured in `bench/server/large-upload.ts`).
 *
 * V8's `gc()` is not exposed by default; `--expose-gc` set at run time installs it in contexts made
 * after that, hence the fresh `vm` context. Where that is not possible the step does nothing.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

let collect: (() => void) | null | undefined;

function collector(): (() => void) | null {
  if (collect !== undefined) return collect;
  try {
    setFlagsFromString("--expose-gc");
    const gc: unknown = runInNewContext("gc");
    collect = typeof gc === "function" ? (gc as () => void) : null;
  } catch {
    collect = null;
  }
  return collect;
}

/** Collects garbage now when `bytes` (what the step just went through) is at least `threshold`. */
export function releaseMemoryAfter(bytes: number, threshold = 64 * 1024 * 1024): boolean {
  if (bytes < threshold) return false;
  const gc = collector();
  if (gc === null) return false;
  gc();
  return true;
}
