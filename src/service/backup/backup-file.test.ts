/**
 * The backup file format on its own: round trip across chunk boundaries (including an empty file), a
 * fresh key per file, and the manifest checks that authenticated encryption alone would not catch
 * (a manifest that disagrees with the bytes it describes).
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readBackupFile, writeBackupFile, type BackupManifest } from "./backup-file.js";
import { ServiceError } from "../errors.js";

let dir: string;
const key = randomBytes(32);

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "kenshin-backup-file-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sha256 = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

async function sources(service: Buffer, ledger: Buffer): Promise<{ src: string; manifest: BackupManifest }> {
  const src = await mkdtemp(join(dir, "src-"));
  await writeFile(join(src, "service.db"), service);
  await writeFile(join(src, "ledger.db"), ledger);
  const manifest: BackupManifest = {
    format: 1,
    node: "node-1",
    createdAt: "2030-01-01T00:00:00.000Z",
    files: [
      { name: "service.db", bytes: service.length, sha256: sha256(service) },
      { name: "ledger.db", bytes: ledger.length, sha256: sha256(ledger) },
    ],
    ledger: { size: 1, checkpoint: "origin\n1\nroot\n" },
  };
  return { src, manifest };
}

async function reject(run: Promise<unknown>): Promise<ServiceError> {
  const error = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ServiceError);
  return error as ServiceError;
}

describe("backup file", () => {
  it("round-trips files across chunk boundaries, an empty one included", async () => {
    const service = randomBytes(5 * 1024 + 3);
    const { src, manifest } = await sources(service, Buffer.alloc(0));
    const out = join(dir, "a.kxb");
    await writeBackupFile({ out, key, salt: randomBytes(32), manifest, dir: src, chunkSize: 1024 });
    const restored = await mkdtemp(join(dir, "out-"));
    expect(await readBackupFile({ file: out, key, dir: restored })).toEqual(manifest);
    expect(await readFile(join(restored, "service.db"))).toEqual(service);
    expect((await readFile(join(restored, "ledger.db"))).length).toBe(0);
  });

  it("seals the same content under a fresh key per salt (no two files share ciphertext)", async () => {
    const { src, manifest } = await sources(Buffer.alloc(4096, 1), Buffer.alloc(10, 2));
    const [a, b] = [join(dir, "a.kxb"), join(dir, "b.kxb")];
    await writeBackupFile({ out: a, key, salt: randomBytes(32), manifest, dir: src, chunkSize: 1024 });
    await writeBackupFile({ out: b, key, salt: randomBytes(32), manifest, dir: src, chunkSize: 1024 });
    const [x, y] = [await readFile(a), await readFile(b)];
    expect(x.subarray(52, 1076).equals(y.subarray(52, 1076))).toBe(false);
  });

  it("when the manifest's hash does not match the bytes it describes → BACKUP_INVALID (hash)", async () => {
    const { src, manifest } = await sources(Buffer.alloc(3000, 1), Buffer.alloc(10, 2));
    const wrong = {
      ...manifest,
      files: [manifest.files[0], { ...manifest.files[1], sha256: "0".repeat(64) }],
    };
    const out = join(dir, "a.kxb");
    await writeBackupFile({ out, key, salt: randomBytes(32), manifest: wrong as BackupManifest, dir: src });
    const error = await reject(readBackupFile({ file: out, key, dir: await mkdtemp(join(dir, "out-")) }));
    expect([error.code, error.context["reason"]]).toEqual(["BACKUP_INVALID", "hash"]);
  });

  it("refuses to write when a snapshot's size differs from the manifest", async () => {
    const { src, manifest } = await sources(Buffer.alloc(3000, 1), Buffer.alloc(10, 2));
    const short = { ...manifest, files: [{ ...manifest.files[0], bytes: 2999 }, manifest.files[1]] };
    const error = await reject(
      writeBackupFile({
        out: join(dir, "a.kxb"),
        key,
        salt: randomBytes(32),
        manifest: short as BackupManifest,
        dir: src,
      }),
    );
    expect(error.code).toBe("BACKUP_INVALID");
  });
});
