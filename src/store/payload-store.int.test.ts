import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Kek } from "../crypto/data-keys.js";
import { loadKek, pendingKekPath, readPendingKek, writePendingKek } from "../crypto/kek-file.js";
import { deletePayload, readPayload, truncateWal, writePayload, type PayloadKind } from "./payload-store.js";
import { rotateKek } from "./kek-rotation.js";
import { openServiceDb, type ServiceDb } from "./service-db.js";

const random = (n: number) => new Uint8Array(randomBytes(n));

let dir: string;
let kekPath: string;
const opened: ServiceDb[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "kenshin-payload-"));
  kekPath = join(dir, "kek.key");
  writeFileSync(kekPath, `${randomBytes(32).toString("base64")}\n`, { mode: 0o600 });
});
afterEach(() => {
  for (const db of opened.splice(0)) if (db.open) db.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A service database with a sender, a receiver and the given transfers (payload rows need them). */
function openDb(name: string, transferIds: readonly string[]): ServiceDb {
  const db = openServiceDb(join(dir, name), { create: true });
  opened.push(db);
  const now = new Date(0).toISOString();
  db.prepare(
    "INSERT INTO institutions (id, kind, name, created_at) VALUES ('s', 'sender', 'S', ?), ('r', 'receiver', 'R', ?)",
  ).run(now, now);
  const insert = db.prepare(
    "INSERT INTO transfers (id, sender_id, receiver_id, status, original_sha256, original_bytes, created_at) VALUES (?, 's', 'r', 'converted', ?, 0, ?)",
  );
  for (const id of transferIds) insert.run(id, "0".repeat(64), now);
  return db;
}

async function readAll(db: ServiceDb, kek: Kek, transferId: string, kind: PayloadKind): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const part of readPayload(db, kek, transferId, kind)) parts.push(part);
  return Buffer.concat(parts);
}

async function codeOf(run: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await run();
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return undefined;
}

/** Every file SQLite keeps for the database, concatenated per file (missing ones are empty). */
function databaseFiles(path: string): Buffer[] {
  return [path, `${path}-wal`, `${path}-shm`].map((p) => (existsSync(p) ? readFileSync(p) : Buffer.alloc(0)));
}

function foundIn(files: readonly Buffer[], needle: Buffer): boolean {
  return files.some((bytes) => bytes.includes(needle));
}

/** 32-byte slices at several offsets of every stored chunk (taken before deletion). */
function ciphertextSlices(db: ServiceDb, transferId: string): Buffer[] {
  return db
    .prepare<[string], { ciphertext: Buffer }>("SELECT ciphertext FROM payload_chunks WHERE transfer_id = ?")
    .all(transferId)
    .flatMap(({ ciphertext }) =>
      [0, 4096, Math.floor(ciphertext.length / 2), ciphertext.length - 32].map((at) =>
        Buffer.from(ciphertext.subarray(at, at + 32)),
      ),
    );
}

describe("writePayload and readPayload", () => {
  it("round-trip any payload, cut any way, in both kinds", async () => {
    const db = openDb("service.db", []);
    const kek = await loadKek(kekPath);
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 5000 }),
        fc.array(fc.integer({ min: 1, max: 700 }), { maxLength: 20 }),
        fc.integer({ min: 1, max: 1500 }),
        fc.constantFrom<PayloadKind>("original", "standard"),
        fc.boolean(),
        async (payload, cuts, chunkBytes, kind, asAsync) => {
          const id = `tr_${n++}`;
          db.prepare(
            "INSERT INTO transfers (id, sender_id, receiver_id, status, original_sha256, original_bytes, created_at) VALUES (?, 's', 'r', 'converted', ?, 0, ?)",
          ).run(id, "0".repeat(64), new Date(0).toISOString());
          const pieces: Uint8Array[] = [];
          let at = 0;
          for (const cut of cuts)
            pieces.push(payload.subarray(at, (at = Math.min(payload.length, at + cut))));
          pieces.push(payload.subarray(at));
          async function* slowly() {
            for (const p of pieces) yield await Promise.resolve(p);
          }
          const stored = await writePayload(db, kek, {
            transferId: id,
            kind,
            chunks: asAsync ? slowly() : pieces,
            random,
            chunkBytes,
          });
          expect(stored).toEqual({
            bytes: payload.length,
            chunks: Math.max(1, Math.ceil(payload.length / chunkBytes)),
          });
          expect(await readAll(db, kek, id, kind)).toEqual(Buffer.from(payload));
        },
      ),
      { numRuns: 60 },
    );
  });

  it("keeps one wrapped data key per transfer, under the KEK's id, for both kinds", async () => {
    const db = openDb("service.db", ["tr_a"]);
    const kek = await loadKek(kekPath);
    const original = randomBytes(3000);
    const standard = Buffer.from("one byte".slice(0, 1));
    await writePayload(db, kek, {
      transferId: "tr_a",
      kind: "original",
      chunks: [original],
      random,
      chunkBytes: 1024,
    });
    await writePayload(db, kek, { transferId: "tr_a", kind: "standard", chunks: [standard], random });
    expect(db.prepare("SELECT kek_id FROM transfer_keys").all()).toEqual([{ kek_id: kek.id }]);
    expect((await readAll(db, kek, "tr_a", "original")).equals(original)).toBe(true);
    expect(await readAll(db, kek, "tr_a", "standard")).toEqual(standard);
    expect(
      await codeOf(() => writePayload(db, kek, { transferId: "tr_a", kind: "standard", chunks: [], random })),
    ).toBe("PAYLOAD_EXISTS");
  });

  it("stores an empty payload as one chunk, so empty and missing differ (PAYLOAD_NOT_FOUND)", async () => {
    const db = openDb("service.db", ["tr_a"]);
    const kek = await loadKek(kekPath);
    expect(await writePayload(db, kek, { transferId: "tr_a", kind: "standard", chunks: [], random })).toEqual(
      {
        bytes: 0,
        chunks: 1,
      },
    );
    expect(await readAll(db, kek, "tr_a", "standard")).toEqual(Buffer.alloc(0));
    expect(await codeOf(() => readAll(db, kek, "tr_a", "original"))).toBe("PAYLOAD_NOT_FOUND");
    expect(await codeOf(() => readAll(db, kek, "tr_none", "standard"))).toBe("PAYLOAD_NOT_FOUND");
  });
});

describe("tampered chunks → PAYLOAD_CORRUPT", () => {
  const chunkBytes = 100;
  let db: ServiceDb;
  let kek: Kek;

  beforeEach(async () => {
    db = openDb("service.db", ["tr_a", "tr_b"]);
    kek = await loadKek(kekPath);
    for (const transferId of ["tr_a", "tr_b"]) {
      for (const kind of ["original", "standard"] as const) {
        await writePayload(db, kek, { transferId, kind, chunks: [randomBytes(350)], random, chunkBytes });
      }
    }
  });

  const copyChunk = (from: [string, string, number], to: [string, string, number]) => {
    db.prepare(
      `UPDATE payload_chunks SET (nonce, ciphertext) = (SELECT nonce, ciphertext FROM payload_chunks WHERE transfer_id = ? AND kind = ? AND seq = ?)
       WHERE transfer_id = ? AND kind = ? AND seq = ?`,
    ).run(...from, ...to);
  };

  it.each([
    [
      "moved to another seq",
      () => {
        copyChunk(["tr_a", "standard", 0], ["tr_a", "standard", 1]);
      },
    ],
    [
      "moved from another transfer",
      () => {
        copyChunk(["tr_b", "standard", 1], ["tr_a", "standard", 1]);
      },
    ],
    [
      "moved from the other kind",
      () => {
        copyChunk(["tr_a", "original", 2], ["tr_a", "standard", 2]);
      },
    ],
    [
      "the final chunk cut off",
      () =>
        db
          .prepare("DELETE FROM payload_chunks WHERE transfer_id = 'tr_a' AND kind = 'standard' AND seq = 3")
          .run(),
    ],
    [
      "a middle chunk missing",
      () =>
        db
          .prepare("DELETE FROM payload_chunks WHERE transfer_id = 'tr_a' AND kind = 'standard' AND seq = 1")
          .run(),
    ],
    [
      "a ciphertext bit flipped",
      () => {
        const where = "WHERE transfer_id = 'tr_a' AND kind = 'standard' AND seq = 2";
        const row = db
          .prepare<[], { ciphertext: Buffer }>(`SELECT ciphertext FROM payload_chunks ${where}`)
          .get();
        const flipped = Buffer.from(row?.ciphertext ?? []);
        flipped[40] = (flipped[40] ?? 0) ^ 0x10;
        db.prepare(`UPDATE payload_chunks SET ciphertext = ? ${where}`).run(flipped);
      },
    ],
    [
      "the data key of another transfer",
      () =>
        db
          .prepare(
            "UPDATE transfer_keys SET wrapped_key = (SELECT wrapped_key FROM transfer_keys WHERE transfer_id = 'tr_b') WHERE transfer_id = 'tr_a'",
          )
          .run(),
    ],
  ])("when %s", async (_name, tamper) => {
    expect((await readAll(db, kek, "tr_a", "standard")).length).toBe(350);
    tamper();
    expect(await codeOf(() => readAll(db, kek, "tr_a", "standard"))).toBe("PAYLOAD_CORRUPT");
  });
});

describe("deletePayload", () => {
  it("leaves neither plaintext nor ciphertext nor the wrapped key in the database file, WAL or shm", async () => {
    const path = join(dir, "service.db");
    const db = openDb("service.db", ["tr_gone", "tr_kept", "tr_plain"]);
    const kek = await loadKek(kekPath);
    const marker = Buffer.from(`KENSHIN-MARKER-${randomBytes(8).toString("hex")}-`);
    // 2 MiB of marker: eight 256 KiB chunks spread over many overflow pages.
    const payload = Buffer.concat(Array.from({ length: Math.ceil((2 << 20) / marker.length) }, () => marker));
    await writePayload(db, kek, { transferId: "tr_gone", kind: "standard", chunks: [payload], random });
    await writePayload(db, kek, {
      transferId: "tr_kept",
      kind: "standard",
      chunks: [randomBytes(300_000)],
      random,
    });
    // Plaintext stored as if unencrypted: shows that secure delete, not only encryption, clears it.
    db.prepare("INSERT INTO payload_chunks VALUES ('tr_plain', 'original', 0, x'00', ?)").run(
      payload.subarray(0, 300_000),
    );
    const slices = ciphertextSlices(db, "tr_gone");
    const wrappedKey = db
      .prepare<[], { w: Buffer }>("SELECT wrapped_key AS w FROM transfer_keys WHERE transfer_id = 'tr_gone'")
      .get()?.w;
    expect(slices.length).toBe(32);
    // The scan can see what is there: every slice and the plaintext row are found before deletion.
    const before = databaseFiles(path);
    for (const slice of slices) expect(foundIn(before, slice)).toBe(true);
    expect(foundIn(before, marker)).toBe(true);

    expect(deletePayload(db, "tr_gone")).toEqual({ chunks: 8, dataKey: true, walTruncated: true });
    expect(deletePayload(db, "tr_plain")).toEqual({ chunks: 1, dataKey: false, walTruncated: true });

    const after = databaseFiles(path);
    expect(after[1]?.length).toBe(0);
    expect(foundIn(after, marker)).toBe(false);
    expect(foundIn(after, marker.subarray(0, 16))).toBe(false);
    for (const slice of slices) expect(foundIn(after, slice)).toBe(false);
    expect(foundIn(after, wrappedKey ?? Buffer.alloc(1))).toBe(false);
    // The other transfer is untouched and the trail row stays.
    expect((await readAll(db, kek, "tr_kept", "standard")).length).toBe(300_000);
    expect(db.prepare("SELECT count(*) AS n FROM transfers").get()).toEqual({ n: 3 });
    expect(await codeOf(() => readAll(db, kek, "tr_gone", "standard"))).toBe("PAYLOAD_NOT_FOUND");
  });

  it("control: a plain DELETE with secure_delete off leaves the ciphertext and plaintext findable", async () => {
    const path = join(dir, "naive.db");
    const db = openDb("naive.db", ["tr_gone", "tr_plain"]);
    const kek = await loadKek(kekPath);
    const marker = Buffer.from(`KENSHIN-MARKER-${randomBytes(8).toString("hex")}-`);
    const payload = Buffer.concat(Array.from({ length: Math.ceil((2 << 20) / marker.length) }, () => marker));
    await writePayload(db, kek, { transferId: "tr_gone", kind: "standard", chunks: [payload], random });
    db.prepare("INSERT INTO payload_chunks VALUES ('tr_plain', 'original', 0, x'00', ?)").run(
      payload.subarray(0, 300_000),
    );
    const slices = ciphertextSlices(db, "tr_gone");
    db.pragma("secure_delete = OFF");
    expect(await codeOf(() => Promise.resolve(deletePayload(db, "tr_gone")))).toBe(
      "PAYLOAD_SECURE_DELETE_OFF",
    );
    db.prepare("DELETE FROM payload_chunks").run();
    db.prepare("DELETE FROM transfer_keys").run();
    expect(truncateWal(db)).toBe(true);
    const after = databaseFiles(path);
    expect(foundIn(after, marker)).toBe(true);
    expect(slices.filter((slice) => foundIn(after, slice)).length).toBeGreaterThan(slices.length / 2);
  });

  it("reports a WAL it could not truncate while a reader holds a snapshot, and truncates once it is gone", async () => {
    const path = join(dir, "service.db");
    const db = openDb("service.db", ["tr_gone"]);
    const kek = await loadKek(kekPath);
    await writePayload(db, kek, {
      transferId: "tr_gone",
      kind: "standard",
      chunks: [randomBytes(600_000)],
      random,
    });
    const slices = ciphertextSlices(db, "tr_gone");
    const reader = openServiceDb(path, { create: false });
    opened.push(reader);
    reader.exec("BEGIN");
    reader.prepare("SELECT count(*) FROM payload_chunks").get();
    expect(deletePayload(db, "tr_gone")).toMatchObject({ chunks: 3, walTruncated: false });
    reader.exec("COMMIT");
    expect(truncateWal(db)).toBe(true);
    const after = databaseFiles(path);
    for (const slice of slices) expect(foundIn(after, slice)).toBe(false);
  });
});

describe("rotateKek", () => {
  async function twoLiveTransfers() {
    const db = openDb("service.db", ["tr_a", "tr_b", "tr_gone"]);
    const kek = await loadKek(kekPath);
    const payloads = { tr_a: randomBytes(700_000), tr_b: randomBytes(10), tr_gone: randomBytes(10) };
    for (const [transferId, bytes] of Object.entries(payloads)) {
      await writePayload(db, kek, { transferId, kind: "standard", chunks: [bytes], random });
    }
    deletePayload(db, "tr_gone");
    return { db, kek, payloads };
  }

  it("re-wraps every live data key: transfers stay readable, the old KEK opens nothing, its bytes are gone", async () => {
    const { db, kek: oldKek, payloads } = await twoLiveTransfers();
    const oldText = readFileSync(kekPath, "utf8");
    const oldWrapped = db
      .prepare<[], { w: Buffer }>("SELECT wrapped_key AS w FROM transfer_keys WHERE transfer_id = 'tr_a'")
      .get()?.w;

    const result = await rotateKek({ db, paths: { kek: kekPath }, random });
    const newKek = await loadKek(kekPath);
    expect(result).toEqual({ rewrapped: 2, oldKekId: oldKek.id, newKekId: newKek.id, recovered: "none" });
    expect(newKek.id).not.toBe(oldKek.id);
    expect(db.prepare("SELECT DISTINCT kek_id FROM transfer_keys").all()).toEqual([{ kek_id: newKek.id }]);
    expect((await readAll(db, newKek, "tr_a", "standard")).equals(payloads.tr_a)).toBe(true);
    expect((await readAll(db, newKek, "tr_b", "standard")).equals(payloads.tr_b)).toBe(true);

    const newWrapped = db
      .prepare<[], { w: Buffer }>("SELECT wrapped_key AS w FROM transfer_keys WHERE transfer_id = 'tr_a'")
      .get()?.w;
    expect(() => oldKek.unwrap(newWrapped ?? Buffer.alloc(60), "tr_a")).toThrow(
      expect.objectContaining({ code: "DATA_KEY_UNWRAP_FAILED" }),
    );
    expect(await codeOf(() => readAll(db, oldKek, "tr_a", "standard"))).toBe("PAYLOAD_KEK_MISMATCH");
    expect(() => oldKek.wrap(new Uint8Array(32), "tr_x")).toThrow(
      expect.objectContaining({ code: "DATA_KEY_KEK_STALE" }),
    );
    expect(foundIn(databaseFiles(join(dir, "service.db")), oldWrapped ?? Buffer.alloc(1))).toBe(false);
    expect(readFileSync(kekPath, "utf8")).not.toBe(oldText);
    expect(statSync(kekPath).mode & 0o777).toBe(0o600);
    expect(existsSync(pendingKekPath(kekPath))).toBe(false);
  });

  it("finishes a rotation that died after its commit (kek_ids match kek.key.new), then rotates", async () => {
    const { db, kek: oldKek, payloads } = await twoLiveTransfers();
    // What the re-wrap transaction commits, without the rename that follows it.
    const pending = writePendingKek(kekPath, random);
    const rows = db
      .prepare<[], { transfer_id: string; wrapped_key: Buffer }>(
        "SELECT transfer_id, wrapped_key FROM transfer_keys",
      )
      .all();
    for (const row of rows) {
      const wrapped = pending.wrap(oldKek.unwrap(row.wrapped_key, row.transfer_id), row.transfer_id);
      db.prepare("UPDATE transfer_keys SET kek_id = ?, wrapped_key = ? WHERE transfer_id = ?").run(
        pending.id,
        wrapped,
        row.transfer_id,
      );
    }
    expect(await codeOf(() => loadKek(kekPath))).toBe("DATA_KEY_KEK_ROTATING");

    const result = await rotateKek({ db, paths: { kek: kekPath }, random });
    expect(result).toMatchObject({ recovered: "completed", oldKekId: pending.id, rewrapped: 2 });
    expect((await readAll(db, await loadKek(kekPath), "tr_a", "standard")).equals(payloads.tr_a)).toBe(true);
  });

  it.each([
    ["before its commit", () => writePendingKek(kekPath, random)],
    [
      "while writing kek.key.new",
      () => {
        writeFileSync(pendingKekPath(kekPath), "torn", { mode: 0o600 });
      },
    ],
  ])("rolls back a rotation that died %s", async (_name, crash) => {
    const { db, kek: oldKek, payloads } = await twoLiveTransfers();
    crash();
    const result = await rotateKek({ db, paths: { kek: kekPath }, random });
    expect(result).toMatchObject({ recovered: "rolled-back", oldKekId: oldKek.id, rewrapped: 2 });
    expect((await readAll(db, await loadKek(kekPath), "tr_b", "standard")).equals(payloads.tr_b)).toBe(true);
  });

  it("when a data key is under an unknown KEK → PAYLOAD_KEK_MISMATCH and nothing changes", async () => {
    const { db, kek } = await twoLiveTransfers();
    db.prepare("UPDATE transfer_keys SET kek_id = 'feedfacefeedface' WHERE transfer_id = 'tr_b'").run();
    expect(await codeOf(() => rotateKek({ db, paths: { kek: kekPath }, random }))).toBe(
      "PAYLOAD_KEK_MISMATCH",
    );
    expect(readPendingKek(kekPath)).toBeUndefined();
    expect((await loadKek(kekPath)).id).toBe(kek.id);
    expect(db.prepare("SELECT kek_id FROM transfer_keys WHERE transfer_id = 'tr_a'").get()).toEqual({
      kek_id: kek.id,
    });
  });
});
