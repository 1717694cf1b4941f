/**
 * The peer protocol's one resource: an encrypted payload chunk by content address,
 * `/cluster/v1/chunks/<64 hex>` (GET to fetch, PUT to store). The address is the SHA-256 of ciphertext,
 * which says nothing about the file or person it belongs to (file and record hashes, which do, never go in
 * a URL). There is deliberately no route for keys: the KEK and data keys never travel between nodes, so
 * the offline node, which only receives chunks, can never decrypt what it keeps.
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
