/**
 * Which payloads of a backup this node can still open. A backup holds payload ciphertext whose data
 * keys are wrapped by the key-encryption key in force when it was taken, and the KEK is never in a
 * backup: after `kenshin keys rotate` the old KEK is destroyed, so every payload of an older backup is
 * unreadable (by design — it is how deleted transfers stay deleted in old backups). `backup verify`
 * says so by name instead of answering a bare "ok": each payload is decrypted chunk by chunk with the
 * node's current KEK, as a restore would have to.
 */
import Database from "better-sqlite3";
import { loadKek } from "../../crypto/kek-file.js";
import { PayloadError, readPayload, type PayloadKind } from "../../store/payload-store.js";
import { assertSqliteRuntime } from "../../store/sqlite-runtime.js";

export interface UnreadablePayload {
  readonly transferId: string;
  readonly kind: PayloadKind;
  /** PAYLOAD_KEK_MISMATCH: wrapped under a KEK this node no longer has; PAYLOAD_CORRUPT: damaged. */
  readonly code: string;
}

export interface BackupPayloads {
  readonly checked: number;
  readonly unreadable: readonly UnreadablePayload[];
}

/** Decrypts every payload of a (verified, unpacked) service.db snapshot with the node's current KEK. */
export async function checkBackupPayloads(serviceDbPath: string, kekPath: string): Promise<BackupPayloads> {
  const kek = await loadKek(kekPath);
  assertSqliteRuntime();
  const db = new Database(serviceDbPath, { readonly: true, fileMustExist: true });
  try {
    const payloads = db
      .prepare<[], { transfer_id: string; kind: PayloadKind }>(
        "SELECT DISTINCT transfer_id, kind FROM payload_chunks ORDER BY transfer_id, kind",
      )
      .all();
    const unreadable: UnreadablePayload[] = [];
    for (const { transfer_id: transferId, kind } of payloads) {
      try {
        for await (const chunk of readPayload(db, kek, transferId, kind)) chunk.fill(0);
      } catch (error) {
        if (!(error instanceof PayloadError)) throw error;
        unreadable.push({ transferId, kind, code: error.code });
      }
    }
    return { checked: payloads.length, unreadable };
  } finally {
    db.close();
  }
}
