import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Kek } from "../crypto/data-keys.js";
import { loadKek } from "../crypto/kek-file.js";
import { clearSpool, PayloadSpool } from "./payload-spool.js";
import { readPayload, writePayload } from "./payload-store.js";
import { openServiceDb, type ServiceDb } from "./service-db.js";

const random = (n: number) => new Uint8Array(randomBytes(n));

let dir: string;
let spoolDir: string;
let db: ServiceDb;
let kek: Kek;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "kenshin-spool-"));
  spoolDir = join(dir, "spool");
  writeFileSync(join(dir, "kek.key"), `${randomBytes(32).toString("base64")}\n`, { mode: 0o600 });
  kek = await loadKek(join(dir, "kek.key"));
  db = openServiceDb(join(dir, "service.db"), { create: true });
  const now = new Date(0).toISOString();
  db.prepare(
    "INSERT INTO institutions (id, kind, name, created_at) VALUES ('s', 'sender', 'S', ?), ('r', 'receiver', 'R', ?)",
  ).run(now, now);
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

function addTransfer(id: string): void {
  db.prepare(
    "INSERT INTO transfers (id, sender_id, receiver_id, status, original_sha256, original_bytes, created_at) VALUES (?, 's', 'r', 'converted', ?, 0, ?)",
  ).run(id, "0".repeat(64), new Date(0).toISOString());
}

async function readAll(transferId: string): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const part of readPayload(db, kek, transferId, "standard")) parts.push(part);
  return Buffer.concat(parts);
}

describe("PayloadSpool", () => {
  it("stores exactly what writePayload stores for the same bytes, in any pieces; the spool file goes", async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 5000 }),
        fc.array(fc.nat(5000), { maxLength: 6 }),
        fc.constantFrom(1, 100, 1024),
        async (bytes, cuts, chunkBytes) => {
          const viaSpool = `tr_spool${n}`;
          const viaStore = `tr_store${n++}`;
          addTransfer(viaSpool);
          addTransfer(viaStore);
          const spool = new PayloadSpool({
            dir: spoolDir,
            transferId: viaSpool,
            kind: "standard",
            random,
            chunkBytes,
          });
          const points = [...new Set(cuts.map((c) => Math.min(c, bytes.length)))].sort((a, b) => a - b);
          let prev = 0;
          for (const p of [...points, bytes.length]) {
            spool.write(bytes.subarray(prev, p));
            prev = p;
          }
          const stored = db.transaction(() => spool.commit(db, kek)).immediate();
          spool.close();
          const direct = await writePayload(db, kek, {
            transferId: viaStore,
            kind: "standard",
            chunks: [bytes],
            random,
            chunkBytes,
          });
          expect(stored).toEqual(direct);
          expect((await readAll(viaSpool)).equals(Buffer.from(bytes))).toBe(true);
          expect(readdirSync(spoolDir)).toEqual([]);
        },
      ),
      { numRuns: 40 },
    );
  });

  it("holds only ciphertext on disk; closed before commit it leaves nothing, and clearSpool removes leftovers", () => {
    addTransfer("tr_a");
    const secret = Buffer.from("受診者 健診太郎 1980-01-01 ".repeat(200));
    const spool = new PayloadSpool({
      dir: spoolDir,
      transferId: "tr_a",
      kind: "standard",
      random,
      chunkBytes: 1024,
    });
    spool.write(secret);
    spool.finish();
    const [file] = readdirSync(spoolDir);
    expect(file).toBeDefined();
    const onDisk = readFileSync(join(spoolDir, file ?? ""));
    expect(onDisk.length).toBeGreaterThan(secret.length);
    expect(onDisk.includes(Buffer.from("健診太郎"))).toBe(false);
    spool.close();
    expect(readdirSync(spoolDir)).toEqual([]);
    expect(db.prepare("SELECT count(*) AS n FROM payload_chunks").get()).toEqual({ n: 0 });
    expect(db.prepare("SELECT count(*) AS n FROM transfer_keys").get()).toEqual({ n: 0 });
    // A crash leaves a spool file behind: start-up removes it (and only spool files).
    writeFileSync(join(spoolDir, "0123.spool"), onDisk);
    writeFileSync(join(spoolDir, "keep.txt"), "x");
    clearSpool(spoolDir);
    expect(readdirSync(spoolDir)).toEqual(["keep.txt"]);
  });
});
