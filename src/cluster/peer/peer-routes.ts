/**
 * The peer protocol's one resource: an encrypted payload chunk by content address,
 * `/cluster/v1/chunks/<64 hex>` (GET to fetch, PUT to store). The address is the SHA-256 of ciphertext,
 * which says nothing about the file or person it belongs to (file and record hashes, which do, never go in
 * a URL). The KEK and plain data keys never travel between nodes, so the offline node can never decrypt
 * what it keeps; data keys travel only wrapped under the KEK (in manifests, and re-wrapped after a
 * rotation of the cluster's KEK by `/cluster/v1/keys/<transfer>`, key-refetch.ts).
 */
export const CHUNK_PATH_PREFIX = "/cluster/v1/chunks/";

const CHUNK_PATH = /^\/cluster\/v1\/chunks\/([0-9a-f]{64})$/;

/** The address in a chunk path, or undefined for any other path. */
export function chunkAddressFromPath(path: string | undefined): string | undefined {
  return CHUNK_PATH.exec(path ?? "")?.[1];
}

export function chunkPath(address: string): string {
  return `${CHUNK_PATH_PREFIX}${address}`;
}
