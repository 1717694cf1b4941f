/**
 * How a stored payload travels between nodes, by content address only (pure, no I/O):
 *
 * - A **chunk blob** is one stored payload chunk exactly as `payload_chunks` holds it: the 12-byte
 *   AES-GCM nonce followed by the ciphertext (with its tag). Its address is the SHA-256 of the blob
 *   (`store/chunk-store.ts`), so the bytes say nothing about the file or person and a peer can check
 *   what it receives without any key.
 * - The **manifest** names the blobs of one payload in order: canonical JSON (RFC 8785)
 *   `{"v":1,"transfer":…,"kind":…,"chunks":[addresses…],"bytes":n,"key":{"kek":…,"wrapped":…}}`.
 *   It is itself stored and replicated as a chunk, so a replicated command needs to carry only the
 *   manifest's address and chunk count (commands are bounded to 64 KiB; a 2 GB payload has ~8,000
 *   chunks).
 *
 * The manifest carries the transfer's data key **wrapped by the KEK** (`key`: the KEK's id and the
 * wrapped bytes, base64), never the plain key. It travels here and not in the command because every
 * node archives every command batch for good (service.db `cluster_batches`, hash-chained, served for
 * catch-up, in every offline generation): a key in the command could never be shredded. The manifest
 * is a chunk like any other, so retention or 破棄 deletes it with the payload's chunks on every node
 * (`payload-chunk-release.ts`), and the key with it. The offline node, which has no KEK, keeps
 * ciphertext it cannot open. Manifests of before this change have no `key` (their command carried it).
 */
import canonicalize from "canonicalize";
import { chunkAddress, checkChunkAddress, MAX_CHUNK_BYTES } from "../store/chunk-store.js";
import { ClusterError } from "./errors.js";

export type PayloadKindName = "original" | "standard";

/** The ordered chunk addresses of one stored payload. */
export interface PayloadManifest {
  readonly v: 1;
  readonly transfer: string;
  readonly kind: PayloadKindName;
  /** Addresses of the chunk blobs, in chunk order (at least one: an empty payload is one empty chunk). */
  readonly chunks: readonly string[];
  /** Total bytes of the blobs. */
  readonly bytes: number;
  /** The transfer's data key wrapped by the KEK `kek` (base64); absent in manifests of older uploads. */
  readonly key?: ManifestKey;
}

/** A data key as a manifest carries it: wrapped by the KEK whose id is `kek`. */
export interface ManifestKey {
  readonly kek: string;
  /** The wrapped key, base64. */
  readonly wrapped: string;
}

/** What a command carries to name a replicated payload. */
export interface PayloadReference {
  /** Address of the manifest blob. */
  readonly manifest: string;
  readonly chunks: number;
}

const TRANSFER_ID = /^[A-Za-z0-9_-]{1,200}$/;
const KEK_ID = /^[0-9a-f]{16}$/;
/** A wrapped data key is ~60 bytes; anything near this bound is not one. */
const MAX_WRAPPED_B64 = 1024;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
/** A manifest blob can list this many chunks and still be one chunk. */
export const MAX_MANIFEST_CHUNKS = Math.floor(MAX_CHUNK_BYTES / 70);

function invalid(reason: string): ClusterError {
  return new ClusterError("CLUSTER_PEER_REQUEST_INVALID", `ペイロードの目録が正しくありません (${reason})`, {
    reason,
  });
}

/** The manifest as its canonical bytes and their address. */
export function encodeManifest(m: PayloadManifest): { blob: Uint8Array; address: string } {
  const checked = checkManifest(m);
  const blob = new TextEncoder().encode(canonicalize(checked) ?? "");
  return { blob, address: chunkAddress(blob) };
}

/**
 * Parses a manifest blob fetched from a peer (already checked against its address by the transport).
 * @throws ClusterError CLUSTER_PEER_REQUEST_INVALID
 */
export function decodeManifest(blob: Uint8Array): PayloadManifest {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(blob));
  } catch {
    throw invalid("not JSON");
  }
  const m = checkManifest(value);
  // Only the canonical form is accepted, so one payload has exactly one manifest address.
  if (canonicalize(m) !== new TextDecoder().decode(blob)) throw invalid("not canonical");
  return m;
}

function checkManifest(value: unknown): PayloadManifest {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw invalid("not an object");
  const v = value as Record<string, unknown>;
  const keys = Object.keys(v).sort().join(",");
  if (keys !== "bytes,chunks,kind,transfer,v" && keys !== "bytes,chunks,key,kind,transfer,v") {
    throw invalid("fields");
  }
  if (v.v !== 1) throw invalid("version");
  if (typeof v.transfer !== "string" || !TRANSFER_ID.test(v.transfer)) throw invalid("transfer");
  if (v.kind !== "original" && v.kind !== "standard") throw invalid("kind");
  if (!Array.isArray(v.chunks) || v.chunks.length === 0 || v.chunks.length > MAX_MANIFEST_CHUNKS) {
    throw invalid("chunk count");
  }
  const chunks = v.chunks.map((a) => {
    try {
      return checkChunkAddress(a);
    } catch {
      throw invalid("chunk address");
    }
  });
  if (typeof v.bytes !== "number" || !Number.isSafeInteger(v.bytes) || v.bytes < 0) throw invalid("bytes");
  const kind: PayloadKindName = v.kind;
  const base = { v: 1 as const, transfer: v.transfer, kind, chunks, bytes: v.bytes };
  return v.key === undefined ? base : { ...base, key: checkKey(v.key) };
}

function checkKey(value: unknown): ManifestKey {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw invalid("key");
  const k = value as Record<string, unknown>;
  if (Object.keys(k).sort().join(",") !== "kek,wrapped") throw invalid("key fields");
  if (typeof k.kek !== "string" || !KEK_ID.test(k.kek)) throw invalid("key kek");
  if (
    typeof k.wrapped !== "string" ||
    k.wrapped.length > MAX_WRAPPED_B64 ||
    k.wrapped.length % 4 !== 0 ||
    !BASE64.test(k.wrapped)
  ) {
    throw invalid("key wrapped");
  }
  return { kek: k.kek, wrapped: k.wrapped };
}
