/**
 * The stored standard CSV, read back and checked against the hash its entries recorded, before it is
 * sealed or sent to anyone.
 */
import { createHash } from "node:crypto";
import { loadKek } from "../../crypto/kek-file.js";
import { PayloadError, readPayload } from "../../store/payload-store.js";
import type { ServiceContext } from "../context.js";
import { damagedError } from "./damage.js";
import { raiseIntegrityAlarm } from "./integrity.js";
import type { TransferRow } from "./records.js";

/**
 * Reads the stored standard CSV and checks it against the recorded hash; a chunk or data key that fails
 * authentication, or a hash that differs, is an integrity alarm (nothing is sent). Each decrypted
 * piece also goes to `onPiece` as it streams past (the seal signs them; the FHIR rendering keeps them);
 * only the hash check's verdict, after the last piece, says whether they were the recorded file.
 */
export async function checkedStandard(
  ctx: ServiceContext,
  row: TransferRow,
  onPiece?: (piece: Uint8Array) => void,
): Promise<void> {
  // Bad on every copy (issue 11): refused before a byte is read.
  const damaged = damagedError(ctx, row.id);
  if (damaged !== undefined) throw damaged;
  const kek = await loadKek(ctx.paths.kek);
  const hash = createHash("sha256");
  try {
    for await (const c of readPayload(ctx.db, kek, row.id, "standard")) {
      hash.update(c);
      onPiece?.(c);
    }
  } catch (error) {
    // A chunk or data key that fails authentication (or is missing) is tampering or damage at rest.
    if (
      !(error instanceof PayloadError) ||
      (error.code !== "PAYLOAD_CORRUPT" && error.code !== "PAYLOAD_NOT_FOUND")
    )
      throw error;
    return raiseIntegrityAlarm(ctx, {
      code: error.code,
      description: `payload of ${row.id} failed authentication: ${error.code}`,
      message: "保存データの検証に失敗しました。事務局に連絡してください",
      transferId: row.id,
      cause: error,
    });
  }
  if (hash.digest("hex") !== row.standard_sha256) {
    return raiseIntegrityAlarm(ctx, {
      code: "INTEGRITY_FAILURE",
      description: `payload of ${row.id} does not match its recorded SHA-256`,
      message: "保存データのハッシュ値が記録と一致しません。事務局に連絡してください",
      transferId: row.id,
    });
  }
}

/** The standard file as entries name it: its recorded SHA-256 and size. */
export function standardRef(row: TransferRow) {
  return { sha256: row.standard_sha256 ?? "0".repeat(64), bytes: row.standard_bytes ?? 0 };
}
