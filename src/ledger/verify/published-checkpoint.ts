/**
 * "Published" checkpoints: signed by the log key and cosigned (C2SP tlog-cosignature, type 0x04
 * timestamped Ed25519) by at least `quorum` of the pinned cosigners — in the cluster, 2 of the 3 online
 * nodes, each of which recomputed the root from its own copy before cosigning. Trails, look-ups and the
 * verifiers (CLI and browser) trust only a checkpoint that passes this check. Pure: the browser runs it.
 *
 * https://c2sp.org/tlog-cosignature · https://c2sp.org/signed-note
 *
 * Rules, each failure with its own code so a caller (and a test) can tell which check refused:
 * - a line that names a pinned key (name and key ID) and does not verify makes the note invalid
 *   (LEDGER_CHECKPOINT_SIGNATURE_INVALID for the log key, LEDGER_COSIGNATURE_INVALID for a cosigner);
 * - lines from keys that are not pinned are ignored, as signed-note says — but when the quorum is then
 *   not met and such lines were present, the error is LEDGER_COSIGNER_UNKNOWN (naming them), because
 *   "signed by a key you do not trust" is what the operator must look at;
 * - a cosigner that signed more than once counts once; when that is why the quorum fails, the code is
 *   LEDGER_COSIGNER_DUPLICATE;
 * - otherwise too few cosignatures is LEDGER_COSIGNATURE_QUORUM;
 * - with `now` given, a cosignature more than `maxFutureSeconds` ahead is refused
 *   (LEDGER_COSIGNATURE_FUTURE; the spec lets verifiers reject future timestamps).
 */
import { LedgerError } from "../errors.js";
import { parseCheckpoint, type Checkpoint } from "./checkpoint.js";
import { parseSignedNote, verifySignatureBytes } from "./signed-note.js";
import { SIG_TYPE_COSIGNATURE_V1, SIG_TYPE_ED25519, keyIdHex, type VerifierKey } from "./verifier-key.js";
import { toHex, utf8 } from "./encoding.js";

/** Which cosigners a verifier trusts and how many of them must have cosigned. */
export interface CosignerPolicy {
  /** Pinned cosigner verifier keys (type 0x04), distinct names and keys. */
  readonly cosigners: readonly VerifierKey[];
  /** At least this many distinct pinned cosigners must have cosigned (1 ≤ quorum ≤ cosigners). */
  readonly quorum: number;
}

/** One cosignature that verified. */
export interface VerifiedCosignature {
  readonly name: string;
  readonly keyId: number;
  /** Seconds since the epoch, as the cosigner stated. */
  readonly timestamp: number;
}

export interface CosignedCheckpoint {
  readonly checkpoint: Checkpoint;
  /** Distinct pinned cosigners whose cosignature verified, in note order. */
  readonly cosignatures: readonly VerifiedCosignature[];
}

/** Default slack for cosigner clocks when `now` is given. */
export const DEFAULT_MAX_FUTURE_SECONDS = 300;

/**
 * Checks that a policy is usable before any note is read: keys of type 0x04, no name or public key twice,
 * a quorum that the pinned cosigners can reach.
 * @throws LedgerError LEDGER_COSIGNER_POLICY_INVALID
 */
export function checkCosignerPolicy(policy: CosignerPolicy, logKey: VerifierKey): void {
  const invalid = (reason: string): LedgerError =>
    new LedgerError("LEDGER_COSIGNER_POLICY_INVALID", `連署者の設定が正しくありません (${reason})`, {
      reason,
    });
  if (policy.cosigners.some((k) => k.type !== SIG_TYPE_COSIGNATURE_V1)) throw invalid("連署鍵の種類");
  const names = new Set(policy.cosigners.map((k) => k.name));
  const publicKeys = new Set(policy.cosigners.map((k) => toHex(k.publicKey)));
  if (names.size !== policy.cosigners.length || publicKeys.size !== policy.cosigners.length) {
    throw invalid("同じ連署者が二度");
  }
  // tlog-cosignature: the Ed25519 signed message does not commit to the name, so one public key must
  // never serve two cosigners — nor the log and a cosigner.
  if (policy.cosigners.some((k) => equalBytes(k.publicKey, logKey.publicKey))) {
    throw invalid("ログの鍵と同じ連署鍵");
  }
  if (!Number.isInteger(policy.quorum) || policy.quorum < 1 || policy.quorum > policy.cosigners.length) {
    throw invalid("定足数");
  }
}

/**
 * Verifies a checkpoint note: the log's signature (type 0x01), the origin, and a quorum of distinct
 * pinned cosignatures.
 * @throws LedgerError LEDGER_COSIGNER_POLICY_INVALID, LEDGER_NOTE_MALFORMED, LEDGER_CHECKPOINT_MALFORMED,
 *   LEDGER_CHECKPOINT_SIGNATURE_INVALID, LEDGER_CHECKPOINT_UNSIGNED, LEDGER_CHECKPOINT_ORIGIN_MISMATCH,
 *   LEDGER_COSIGNATURE_INVALID, LEDGER_COSIGNATURE_FUTURE, LEDGER_COSIGNER_UNKNOWN,
 *   LEDGER_COSIGNER_DUPLICATE, LEDGER_COSIGNATURE_QUORUM
 */
export function openPublishedCheckpoint(
  note: string,
  logKey: VerifierKey,
  policy: CosignerPolicy,
  o: { now?: Date; maxFutureSeconds?: number } = {},
): CosignedCheckpoint {
  if (logKey.type !== SIG_TYPE_ED25519) {
    throw new LedgerError("LEDGER_COSIGNER_POLICY_INVALID", "ログの鍵は Ed25519 (0x01) です", {
      reason: "ログの鍵の種類",
    });
  }
  checkCosignerPolicy(policy, logKey);
  const parsed = parseSignedNote(note);
  const text = utf8(parsed.text);
  let logSigned = false;
  const cosignatures: VerifiedCosignature[] = [];
  const duplicates: string[] = [];
  const unknown: string[] = [];
  const limit =
    o.now === undefined
      ? undefined
      : Math.floor(o.now.getTime() / 1000) + (o.maxFutureSeconds ?? DEFAULT_MAX_FUTURE_SECONDS);
  for (const sig of parsed.signatures) {
    if (sig.name === logKey.name && sig.keyId === logKey.keyId) {
      if (verifySignatureBytes(logKey, text, sig.signature) === null) {
        throw new LedgerError("LEDGER_CHECKPOINT_SIGNATURE_INVALID", "ログの署名が検証できません", {
          name: logKey.name,
        });
      }
      logSigned = true;
      continue;
    }
    const key = policy.cosigners.find((k) => k.name === sig.name && k.keyId === sig.keyId);
    if (key === undefined) {
      unknown.push(`${sig.name}+${keyIdHex(sig.keyId)}`);
      continue;
    }
    const verified = verifySignatureBytes(key, text, sig.signature);
    if (verified?.timestamp === undefined) {
      throw new LedgerError("LEDGER_COSIGNATURE_INVALID", "連署が検証できません", { name: key.name });
    }
    if (limit !== undefined && verified.timestamp > limit) {
      throw new LedgerError("LEDGER_COSIGNATURE_FUTURE", "連署の時刻が未来です", {
        name: key.name,
        timestamp: verified.timestamp,
      });
    }
    if (cosignatures.some((c) => c.name === key.name)) {
      duplicates.push(key.name);
      continue;
    }
    cosignatures.push({ name: key.name, keyId: key.keyId, timestamp: verified.timestamp });
  }
  if (!logSigned) {
    throw new LedgerError("LEDGER_CHECKPOINT_UNSIGNED", "ログの鍵による署名がありません", {
      name: logKey.name,
    });
  }
  const checkpoint = parseCheckpoint(parsed.text);
  if (checkpoint.origin !== logKey.name) {
    throw new LedgerError(
      "LEDGER_CHECKPOINT_ORIGIN_MISMATCH",
      "チェックポイントの origin が鍵名と一致しません",
      { origin: checkpoint.origin, keyName: logKey.name },
    );
  }
  if (cosignatures.length < policy.quorum) {
    const context = {
      required: policy.quorum,
      cosigned: cosignatures.map((c) => c.name),
      ...(unknown.length > 0 ? { unknown } : {}),
      ...(duplicates.length > 0 ? { duplicates } : {}),
    };
    if (duplicates.length > 0) {
      throw new LedgerError(
        "LEDGER_COSIGNER_DUPLICATE",
        "同じ連署者の連署は一つと数えるため、定足数に足りません",
        context,
      );
    }
    if (unknown.length > 0) {
      throw new LedgerError(
        "LEDGER_COSIGNER_UNKNOWN",
        "信頼していない鍵による連署があり、定足数に足りません",
        context,
      );
    }
    throw new LedgerError("LEDGER_COSIGNATURE_QUORUM", "連署の数が定足数に足りません", context);
  }
  return { checkpoint, cosignatures };
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
