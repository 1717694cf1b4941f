/**
 * C2SP tlog-checkpoint note bodies: origin, decimal tree size, base64 root hash, optional extension lines.
 * https://c2sp.org/tlog-checkpoint#note-text
 */
import { LedgerError } from "../errors.js";
import { fromBase64, toBase64 } from "./encoding.js";
import { HASH_SIZE } from "./hash.js";
import { openSignedNote, type VerifiedSignature } from "./signed-note.js";
import type { VerifierKey } from "./verifier-key.js";

/** A checkpoint body. */
export interface Checkpoint {
  readonly origin: string;
  readonly size: number;
  readonly root: Uint8Array;
  readonly extensions: readonly string[];
}

/** Formats the note text of a checkpoint (ends in a newline, as signed-note requires). */
export function formatCheckpoint(cp: { origin: string; size: number; root: Uint8Array }): string {
  return `${cp.origin}\n${cp.size}\n${toBase64(cp.root)}\n`;
}

/**
 * Parses a checkpoint note text.
 * @throws LedgerError LEDGER_CHECKPOINT_MALFORMED
 */
export function parseCheckpoint(text: string): Checkpoint {
  const malformed = (reason: string): LedgerError =>
    new LedgerError("LEDGER_CHECKPOINT_MALFORMED", `チェックポイントの形式が正しくありません (${reason})`, {
      reason,
    });
  if (!text.endsWith("\n")) throw malformed("改行で終わっていない");
  const lines = text.slice(0, -1).split("\n");
  const [origin, sizeText, rootText, ...extensions] = lines;
  if (origin === undefined || sizeText === undefined || rootText === undefined)
    throw malformed("行が足りない");
  if (origin.length === 0) throw malformed("origin が空");
  // Decimal without leading zeros; bounded so the size is exact as a JS number.
  if (!/^(?:0|[1-9][0-9]{0,15})$/.test(sizeText) || !Number.isSafeInteger(Number(sizeText))) {
    throw malformed("木の大きさ");
  }
  let root: Uint8Array;
  try {
    root = fromBase64(rootText, "root hash");
  } catch (cause) {
    throw new LedgerError(
      "LEDGER_CHECKPOINT_MALFORMED",
      "根ハッシュの base64 が正しくありません",
      {},
      { cause },
    );
  }
  if (root.length !== HASH_SIZE) throw malformed("根ハッシュの長さ");
  if (extensions.some((l) => l.length === 0)) throw malformed("空の拡張行");
  return { origin, size: Number(sizeText), root, extensions };
}

/**
 * Verifies a signed checkpoint against the log's key (and any witness keys) and parses it. The origin line
 * must equal the log key's name, as this log always signs that way.
 * @throws LedgerError codes of {@link openSignedNote} and {@link parseCheckpoint},
 *   LEDGER_CHECKPOINT_ORIGIN_MISMATCH, LEDGER_CHECKPOINT_UNSIGNED when the log key itself did not sign
 */
export function openCheckpoint(
  note: string,
  logKey: VerifierKey,
  witnessKeys: readonly VerifierKey[] = [],
): { checkpoint: Checkpoint; verified: VerifiedSignature[] } {
  const { text, verified } = openSignedNote(note, [logKey, ...witnessKeys]);
  if (!verified.some((v) => v.key === logKey)) {
    throw new LedgerError("LEDGER_CHECKPOINT_UNSIGNED", "ログの鍵による署名がありません", {
      name: logKey.name,
    });
  }
  const checkpoint = parseCheckpoint(text);
  if (checkpoint.origin !== logKey.name) {
    throw new LedgerError(
      "LEDGER_CHECKPOINT_ORIGIN_MISMATCH",
      "チェックポイントの origin が鍵名と一致しません",
      {
        origin: checkpoint.origin,
        keyName: logKey.name,
      },
    );
  }
  return { checkpoint, verified };
}
