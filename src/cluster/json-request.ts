import { packRecordHashes } from "../ledger/entry/records-commitment.js";
import { toHex } from "../ledger/verify/encoding.js";
import type { AppendRequest } from "../ledger/write-port.js";

/**
 * A request as the command log carries it (JSON): record hashes given packed or as bytes travel as hex
 * strings, one per record (JSON would turn a Uint8Array into an object of numbered keys).
 */
export function asJsonRequest(request: AppendRequest): AppendRequest {
  const hashes = request.recordHashes;
  if (hashes === undefined || (!(hashes instanceof Uint8Array) && hashes.every((h) => typeof h === "string")))
    return request;
  const packed = packRecordHashes(hashes);
  const hex: string[] = [];
  for (let at = 0; at < packed.length; at += 32) hex.push(toHex(packed.subarray(at, at + 32)));
  return { ...request, recordHashes: hex };
}
