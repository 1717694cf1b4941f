/**
 * A stored payload's chunks as the opaque blobs the cluster replicates (nonce ‖ ciphertext, exactly the
 * bytes of a `payload_chunks` row), and the inverse: a node that received a payload's blobs from its
 * peers writes the same rows into its own service database. Nothing here decrypts or needs a key; the
 * wrapped data key travels separately (in the replicated command) and only an online node's KEK opens
 * it.
 */
import { NONCE_BYTES } from "../crypto/aes-gcm.js";
import { PayloadError, type PayloadKind } from "./payload-store.js";
import type { ServiceDb } from "./service-db.js";

/**
 * The blobs of one stored payload in chunk order, read one row at a time (no statement stays open
 * between yields, so memory is one chunk and the connection stays usable).
 * @throws PayloadError PAYLOAD_NOT_FOUND
 */
export function* storedPayloadBlobs(
  db: ServiceDb,
  transferId: string,
  kind: PayloadKind,
): Generator<Uint8Array> {
  const span = db
    .prepare<[string, string], { n: number }>(
      "SELECT count(*) AS n FROM payload_chunks WHERE transfer_id = ? AND kind = ?",
    )
    .get(transferId, kind);
  const n = span?.n ?? 0;
  if (n === 0) throw new PayloadError("PAYLOAD_NOT_FOUND", "ペイロードがありません", { transferId, kind });
  const row = db.prepare<[string, string, number], { nonce: Buffer; ciphertext: Buffer }>(
    "SELECT nonce, ciphertext FROM payload_chunks WHERE transfer_id = ? AND kind = ? AND seq = ?",
  );
  for (let seq = 0; seq < n; seq++) {
    const r = row.get(transferId, kind, seq);
    if (r === undefined)
      throw new PayloadError("PAYLOAD_CORRUPT", "ペイロードが欠けています", { transferId, kind, seq });
    const blob = new Uint8Array(r.nonce.length + r.ciphertext.length);
    blob.set(r.nonce, 0);
    blob.set(r.ciphertext, r.nonce.length);
    yield blob;
  }
}

/**
 * Writes a payload's rows from its blobs and its KEK-wrapped data key (call inside the caller's
 * transaction, after the transfer row exists). Refuses a payload that is already stored.
 * @throws PayloadError PAYLOAD_EXISTS, PAYLOAD_CORRUPT for a blob shorter than nonce + tag
 */
export function insertPayloadBlobs(
  db: ServiceDb,
  o: {
    readonly transferId: string;
    readonly kind: PayloadKind;
    /** In chunk order; read one at a time (a generator keeps memory at one chunk). */
    readonly blobs: Iterable<Uint8Array>;
    /** The data key as wrapped by the KEK (absent on a node that keeps ciphertext only). */
    readonly wrappedKey?: { readonly kekId: string; readonly bytes: Uint8Array } | undefined;
  },
): void {
  const exists = db
    .prepare<[string, string], { n: number }>(
      "SELECT count(*) AS n FROM payload_chunks WHERE transfer_id = ? AND kind = ?",
    )
    .get(o.transferId, o.kind);
  if ((exists?.n ?? 0) > 0) {
    throw new PayloadError("PAYLOAD_EXISTS", "この転送のペイロードは既に保存されています", {
      transferId: o.transferId,
      kind: o.kind,
    });
  }
  if (o.wrappedKey !== undefined) {
    db.prepare(
      "INSERT INTO transfer_keys (transfer_id, kek_id, wrapped_key) VALUES (?, ?, ?) ON CONFLICT (transfer_id) DO NOTHING",
    ).run(o.transferId, o.wrappedKey.kekId, Buffer.from(o.wrappedKey.bytes));
  }
  const insert = db.prepare(
    "INSERT INTO payload_chunks (transfer_id, kind, seq, nonce, ciphertext) VALUES (?, ?, ?, ?, ?)",
  );
  let seq = 0;
  for (const blob of o.blobs) {
    // The shortest chunk is an empty plaintext: nonce + 16-byte GCM tag.
    if (blob.length < NONCE_BYTES + 16) {
      throw new PayloadError("PAYLOAD_CORRUPT", "チャンクが短すぎます", { transferId: o.transferId, seq });
    }
    insert.run(
      o.transferId,
      o.kind,
      seq,
      Buffer.from(blob.subarray(0, NONCE_BYTES)),
      Buffer.from(blob.subarray(NONCE_BYTES)),
    );
    seq++;
  }
}
