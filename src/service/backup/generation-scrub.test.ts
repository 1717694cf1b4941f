/**
 * Scrubbing one generation on its own, with real SQLite files sealed into a real backup file: the
 * deleted transfer's wrapped key (as bytes and as base64), payload rows, refs, manifest and unshared
 * chunks go; the live transfer's rows and a chunk both payloads use stay; the file still opens with
 * the backup key and its manifest hashes match; nothing is left beside it. A generation without the
 * transfer is not rewritten, and one that does not open is left as it was.
 */
import Database from "better-sqlite3";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { encodeManifest } from "../../cluster/payload-manifest.js";
import { chunkAddress, openChunkStore } from "../../store/chunk-store.js";
import { readBackupFile, writeBackupFile, type BackupManifest } from "./backup-file.js";
import { hashFile } from "./backup-generation.js";
import { scrubGeneration } from "./generation-scrub.js";
import { ServiceError } from "../errors.js";

let dir: string;
const key = randomBytes(32);
const random = (n: number): Uint8Array => new Uint8Array(randomBytes(n));

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "kenshin-generation-scrub-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const GONE = "t-gone";
const LIVE = "t-live";

/** A cluster node's files for two transfers whose payloads share one chunk; returns the keys. */
async function generation(file: string): Promise<{ gone: Buffer; live: Buffer; shared: string }> {
  const src = await mkdtemp(join(dir, "src-"));
  const service = new Database(join(src, "service.db"));
  service.exec(`CREATE TABLE transfer_keys (transfer_id TEXT PRIMARY KEY, kek_id TEXT NOT NULL, wrapped_key BLOB NOT NULL) STRICT;
    CREATE TABLE payload_chunks (transfer_id TEXT NOT NULL, kind TEXT NOT NULL, seq INTEGER NOT NULL, nonce BLOB NOT NULL, ciphertext BLOB NOT NULL, PRIMARY KEY (transfer_id, kind, seq)) STRICT, WITHOUT ROWID;
    CREATE TABLE cluster_payload_refs (transfer_id TEXT NOT NULL, address TEXT NOT NULL, manifest INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (transfer_id, address)) STRICT, WITHOUT ROWID;`);
  const chunks = openChunkStore(join(src, "chunks.db"));
  const shared = new Uint8Array(randomBytes(64));
  const keys: Record<string, Buffer> = {};
  for (const id of [GONE, LIVE]) {
    const wrapped = randomBytes(60);
    keys[id] = wrapped;
    const own = new Uint8Array(randomBytes(64));
    const addresses = [chunkAddress(own), chunkAddress(shared)];
    chunks.put(addresses[0] ?? "", own);
    chunks.put(addresses[1] ?? "", shared);
    const m = encodeManifest({
      v: 1,
      transfer: id,
      kind: "standard",
      chunks: addresses,
      bytes: 128,
      key: { kek: "0123456789abcdef", wrapped: wrapped.toString("base64") },
    });
    chunks.put(m.address, m.blob);
    service.prepare("INSERT INTO transfer_keys VALUES (?, ?, ?)").run(id, "0123456789abcdef", wrapped);
    const row = service.prepare("INSERT INTO payload_chunks VALUES (?, 'standard', ?, ?, ?)");
    for (const [seq, blob] of [own, shared].entries()) row.run(id, seq, randomBytes(12), Buffer.from(blob));
    const ref = service.prepare("INSERT INTO cluster_payload_refs VALUES (?, ?, ?)");
    ref.run(id, m.address, 1);
    for (const a of addresses) ref.run(id, a, 0);
  }
  service.close();
  chunks.close();
  await rm(join(src, "ledger.db"), { force: true });
  new Database(join(src, "ledger.db")).exec("CREATE TABLE entries (i INTEGER)");
  const files = [];
  for (const name of ["service.db", "ledger.db", "chunks.db"] as const) {
    files.push({ name, ...(await hashFile(join(src, name))) });
  }
  const manifest: BackupManifest = {
    format: 1,
    node: "backup",
    createdAt: "2030-01-01T00:00:00.000Z",
    files,
    ledger: { size: 3, checkpoint: "origin\n3\nroot\n" },
  };
  await writeBackupFile({ out: file, key, salt: random(32), manifest, dir: src, chunkSize: 1024 });
  return {
    gone: keys[GONE] ?? Buffer.alloc(0),
    live: keys[LIVE] ?? Buffer.alloc(0),
    shared: chunkAddress(shared),
  };
}

/** Opens the generation into a fresh folder; which of its files hold `k` (bytes or base64). */
async function holding(
  file: string,
  k: Buffer,
): Promise<{ files: string[]; manifest: BackupManifest; at: string }> {
  const at = await mkdtemp(join(dir, "open-"));
  const manifest = await readBackupFile({ file, key, dir: at });
  const b64 = Buffer.from(k.toString("base64"));
  const files = manifest.files
    .map((f) => f.name)
    .filter((n) => {
      const bytes = readFileSync(join(at, n));
      return bytes.includes(k) || bytes.includes(b64);
    });
  return { files, manifest, at };
}

const sha = (b: Buffer): string => createHash("sha256").update(b).digest("hex");

describe("scrubbing a deleted transfer out of a generation", () => {
  it("removes its key, rows, manifest and own chunks; keeps the live transfer and the shared chunk", async () => {
    const backups = join(dir, "backups");
    await mkdir(backups);
    const file = join(backups, "kenshin-20300101T000000.000Z.kxb");
    const k = await generation(file);
    expect((await holding(file, k.gone)).files).toEqual(["service.db", "chunks.db"]);

    const r = await scrubGeneration({
      file,
      key,
      transferIds: [GONE],
      dataDir: dir,
      random,
      chunkSize: 1024,
    });
    expect(r.rewritten).toBe(true);
    expect(r.rows).toBe(1 + 2 + 3);
    // Its manifest and its own chunk; the chunk the live payload also uses stays.
    expect(r.chunks).toBe(2);
    expect(r.written?.sha256).toBe(sha(await readFile(file)));

    const after = await holding(file, k.gone);
    expect(after.files).toEqual([]);
    expect((await holding(file, k.live)).files).toEqual(["service.db", "chunks.db"]);
    expect(after.manifest.createdAt).toBe("2030-01-01T00:00:00.000Z");
    expect(after.manifest.ledger).toEqual({ size: 3, checkpoint: "origin\n3\nroot\n" });
    const db = new Database(join(after.at, "service.db"), { readonly: true });
    const count = (t: string, id: string): number =>
      (db.prepare(`SELECT count(*) AS n FROM ${t} WHERE transfer_id = ?`).get(id) as { n: number }).n;
    expect(
      [GONE, LIVE].map((id) =>
        ["transfer_keys", "payload_chunks", "cluster_payload_refs"].map((t) => count(t, id)),
      ),
    ).toEqual([
      [0, 0, 0],
      [1, 2, 3],
    ]);
    expect(db.pragma("quick_check", { simple: true })).toBe("ok");
    db.close();
    const chunks = openChunkStore(join(after.at, "chunks.db"));
    expect(chunks.has(k.shared)).toBe(true);
    expect([...chunks.addresses()].length).toBe(3);
    chunks.close();
    // Nothing beside it: no .part, no working folder.
    expect(await readdir(backups)).toEqual(["kenshin-20300101T000000.000Z.kxb"]);
    expect((await readdir(dir)).filter((n) => n.startsWith(".backup-work-"))).toEqual([]);
  });

  it("leaves a generation that holds none of the transfers as it was", async () => {
    const file = join(dir, "kenshin-20300101T000000.000Z.kxb");
    await generation(file);
    const before = await readFile(file);
    const r = await scrubGeneration({ file, key, transferIds: ["t-other"], dataDir: dir, random });
    expect([r.rewritten, r.rows, r.chunks]).toEqual([false, 0, 0]);
    expect((await readFile(file)).equals(before)).toBe(true);
  });

  it("when the generation does not open with the key → BACKUP_INVALID, the file untouched, no leftovers", async () => {
    const file = join(dir, "kenshin-20300101T000000.000Z.kxb");
    await generation(file);
    const before = await readFile(file);
    const error = await scrubGeneration({
      file,
      key: randomBytes(32),
      transferIds: [GONE],
      dataDir: dir,
      random,
    }).catch((e: unknown) => e);
    expect(error instanceof ServiceError ? [error.code, error.context["reason"]] : error).toEqual([
      "BACKUP_INVALID",
      "key",
    ]);
    expect((await readFile(file)).equals(before)).toBe(true);
    expect((await readdir(dir)).filter((n) => n.startsWith(".backup-work-") || n.endsWith(".part"))).toEqual(
      [],
    );
    expect(existsSync(file)).toBe(true);
  });
});
