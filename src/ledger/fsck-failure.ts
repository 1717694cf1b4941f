/**
 * What fsck throws internally when it finds damage: the code, the first index that is or may be bad, and
 * whether it is a broken prev link (which a pending node or root mismatch may outrank, see
 * `fsck-tree.ts`). Plain data, so a worker thread can report it too.
 */
import type { LedgerErrorCode } from "./errors.js";

/** Damage found by fsck. */
export class Failure extends Error {
  constructor(
    readonly code: LedgerErrorCode,
    readonly index: number | null,
    message: string,
    readonly context: Record<string, unknown> = {},
    /** A broken prev link, blamed on `index` (see `blameChainBreak` in `fsck-entries.ts`). */
    readonly chain = false,
  ) {
    super(message);
  }
}
