/**
 * A record's leaf bytes with `prev` left open: checked against the schema and written as canonical JSON
 * once, when a call is made, so the sequencer only has to fill in the previous leaf hash once the batch
 * fixes it — 64 ASCII bytes at a known offset — instead of checking and writing the record again.
 *
 * `prev` is always 64 lowercase hex digits, which JCS writes as themselves between quotes, so the bytes
 * with any `prev` filled in are exactly the canonical bytes of the record with that `prev`
 * (`entry-template.test.ts` compares them with {@link canonicalBytes}). The placeholder is a random
 * 64-hex value drawn once per process: a record that happens to contain it elsewhere (the offset would
 * be ambiguous) gets no template, and the sequencer encodes it the ordinary way.
 */
import { toHex, utf8 } from "../verify/encoding.js";
import { encodeEntry } from "./canonical-entry.js";
import type { OperationRecord } from "./operation-record.js";

/** Canonical bytes with the placeholder in `prev`, and where it is. */
export interface EntryTemplate {
  readonly bytes: Uint8Array;
  readonly prevAt: number;
}

/**
 * The `prev` a record has in its template: 64 hex digits drawn once per process. It need not be secret —
 * a record that contains it elsewhere only loses the shortcut.
 */
export const TEMPLATE_PREV = toHex(globalThis.crypto.getRandomValues(new Uint8Array(32)));
const PLACEHOLDER = utf8(TEMPLATE_PREV);

/**
 * Checks the record (as the sequencer will write it: `v` 1, `prev` {@link TEMPLATE_PREV}) and writes
 * its template.
 * @returns undefined when the placeholder occurs elsewhere in the record (the caller encodes it later)
 * @throws LedgerError LEDGER_ENTRY_INVALID, LEDGER_ENTRY_TOO_LARGE
 */
export function entryTemplate(record: OperationRecord): EntryTemplate | undefined {
  if (record.prev !== TEMPLATE_PREV)
    throw new Error("entryTemplate: the record's prev must be TEMPLATE_PREV");
  const bytes = encodeEntry(record);
  const prevAt = indexOf(bytes, PLACEHOLDER, 0);
  if (prevAt < 0 || indexOf(bytes, PLACEHOLDER, prevAt + 1) >= 0) return undefined;
  return { bytes, prevAt };
}

/** The leaf bytes with `prev` (64 lowercase hex digits) filled in: a new array, the template is kept. */
export function fillPrev(template: EntryTemplate, prev: string): Uint8Array {
  const out = template.bytes.slice();
  const at = template.prevAt;
  for (let i = 0; i < 64; i++) out[at + i] = prev.charCodeAt(i);
  return out;
}

/** First position of `needle` in `haystack` at or after `from`, or -1 (a few hundred bytes: a plain scan). */
function indexOf(haystack: Uint8Array, needle: Uint8Array, from: number): number {
  const first = needle[0];
  const last = haystack.length - needle.length;
  outer: for (
    let i = haystack.indexOf(first as number, from);
    i >= 0 && i <= last;
    i = haystack.indexOf(first as number, i + 1)
  ) {
    for (let j = 1; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
