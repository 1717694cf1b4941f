import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { expectCode } from "../../test/ledger/expect-code.js";
import { chunkAddress, openChunkStore } from "./chunk-store.js";

const dirs: string[] = [];
function tempStore() {
  const dir = mkdtempSync(join(tmpdir(), "kenshin-chunks-"));
  dirs.push(dir);
  const path = join(dir, "chunks.db");
  return { path, store: openChunkStore(path) };
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("content-addressed chunk store", () => {
  it("stores by SHA-256, survives reopening, and is idempotent", () => {
    const { path, store } = tempStore();
    const bytes = new Uint8Array(randomBytes(5000));
    const address = chunkAddress(bytes);
    expect(store.put(address, bytes)).toBe(true);
    expect(store.put(address, bytes)).toBe(false);
    store.close();
    const again = openChunkStore(path);
    expect(again.get(address)).toEqual(bytes);
    expect(again.count()).toBe(1);
    again.close();
  });

  it("refuses bytes that do not match the address, and malformed addresses", () => {
    const { store } = tempStore();
    const bytes = new Uint8Array(randomBytes(64));
    expectCode(() => store.put(chunkAddress(new Uint8Array(8)), bytes), "STORE_CHUNK_HASH_MISMATCH");
    for (const bad of ["", "A".repeat(64), "0".repeat(63), `${"0".repeat(64)}\n`, "../x"]) {
      expectCode(() => store.get(bad), "STORE_CHUNK_ADDRESS_INVALID");
    }
    expect(store.count()).toBe(0);
    store.close();
  });

  it("deletes physically: the bytes are gone from the database file and its WAL", () => {
    const { path, store } = tempStore();
    // A recognisable pattern that cannot occur by chance in SQLite's own pages.
    const marker = Buffer.from(`kenshin-marker-${randomBytes(16).toString("hex")}`.repeat(40));
    const address = chunkAddress(marker);
    store.put(address, marker);
    expect(store.delete(address)).toBe(true);
    expect(store.has(address)).toBe(false);
    const needle = marker.subarray(0, 64);
    expect(readFileSync(path).includes(needle)).toBe(false);
    const wal = `${path}-wal`;
    expect(existsSync(wal) && readFileSync(wal).includes(needle)).toBe(false);
    store.close();
  });
});
