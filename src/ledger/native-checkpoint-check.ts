/**
 * Checking many of this log's own checkpoints quickly, in Node only (fsck): the same steps as
 * `verify/checkpoint.ts` `openCheckpoint` — split the signed note, take the signature line of the log's
 * key (name and key ID), verify it, parse the text, check the origin — with the Ed25519 verification done
 * by node:crypto (OpenSSL, ≈ 0.1–0.2 ms) instead of the pure-JS one the browser needs (≈ 1–2 ms here).
 * fsck still verifies the latest checkpoint through `openCheckpoint` itself.
 */
import { createPublicKey, verify, type KeyObject } from "node:crypto";
import { LedgerError } from "./errors.js";
import { openCheckpoint, parseCheckpoint, type Checkpoint } from "./verify/checkpoint.js";
import { parseSignedNote } from "./verify/signed-note.js";
import { SIG_TYPE_ED25519, type VerifierKey } from "./verify/verifier-key.js";

/** Returns a function that verifies a checkpoint note signed by `logKey` and parses it. */
export function checkpointChecker(logKey: VerifierKey): (note: string) => Checkpoint {
  if (logKey.type !== SIG_TYPE_ED25519) return (note) => openCheckpoint(note, logKey).checkpoint;
  const key: KeyObject = createPublicKey({
    key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(logKey.publicKey).toString("base64url") },
    format: "jwk",
  });
  return (note) => {
    const parsed = parseSignedNote(note);
    const own = parsed.signatures.filter((s) => s.name === logKey.name && s.keyId === logKey.keyId);
    if (own.length === 0) {
      throw new LedgerError("LEDGER_CHECKPOINT_UNSIGNED", "ログの鍵による署名がありません", {
        name: logKey.name,
      });
    }
    const text = Buffer.from(parsed.text, "utf8");
    for (const sig of own) {
      if (sig.signature.length !== 64 || !verify(null, text, key, sig.signature)) {
        throw new LedgerError("LEDGER_CHECKPOINT_SIGNATURE_INVALID", "信頼する鍵の署名が検証できません", {
          name: logKey.name,
        });
      }
    }
    const checkpoint = parseCheckpoint(parsed.text);
    if (checkpoint.origin !== logKey.name) {
      throw new LedgerError(
        "LEDGER_CHECKPOINT_ORIGIN_MISMATCH",
        "チェックポイントの origin が鍵名と一致しません",
        { origin: checkpoint.origin, keyName: logKey.name },
      );
    }
    return checkpoint;
  };
}
