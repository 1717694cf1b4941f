/**
 * Signers for C2SP signed notes: the log's Ed25519 checkpoint signature (type 0x01) and a witness's
 * timestamped cosignature (type 0x04, https://c2sp.org/tlog-cosignature). They return one signature line's
 * parts; assembling the note is the ledger's job.
 */
import {
  NOTE_TYPE_COSIGNATURE_V1,
  NOTE_TYPE_ED25519,
  formatNoteVerifierKey,
  noteKeyId,
  signEd25519,
  type NoteKey,
} from "./note-key.js";

/** Signs note texts for one key. */
export interface NoteSigner {
  readonly name: string;
  readonly keyId: number;
  /** The vkey that verifies this signer's signatures. */
  readonly verifierKey: string;
  /** Signature bytes (after the 4-byte key ID) over the note text. */
  sign(text: string): Uint8Array;
}

/** The log's checkpoint signer (Ed25519 over the note text). */
export function createNoteSigner(key: NoteKey): NoteSigner {
  return {
    name: key.name,
    keyId: noteKeyId(key.name, NOTE_TYPE_ED25519, key.publicKey),
    verifierKey: formatNoteVerifierKey(key, NOTE_TYPE_ED25519),
    sign: (text) => signEd25519(key, Buffer.from(text, "utf8")),
  };
}

/**
 * A witness cosigner. The signed message is "cosignature/v1\ntime <T>\n" followed by the checkpoint text;
 * the signature is the 8-byte big-endian timestamp followed by the Ed25519 signature.
 * @param now injected clock (milliseconds since the epoch)
 */
export function createCosigner(key: NoteKey, now: () => number): NoteSigner {
  return {
    name: key.name,
    keyId: noteKeyId(key.name, NOTE_TYPE_COSIGNATURE_V1, key.publicKey),
    verifierKey: formatNoteVerifierKey(key, NOTE_TYPE_COSIGNATURE_V1),
    sign(text) {
      const timestamp = Math.floor(now() / 1000);
      const message = Buffer.from(`cosignature/v1\ntime ${timestamp}\n${text}`, "utf8");
      const out = Buffer.alloc(8 + 64);
      out.writeBigUInt64BE(BigInt(timestamp), 0);
      Buffer.from(signEd25519(key, message)).copy(out, 8);
      return new Uint8Array(out);
    },
  };
}
