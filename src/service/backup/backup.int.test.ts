/**
 * Backups on a real node (initDataDir: real SQLite files, keys, CA): taken while another connection keeps
 * appending, verified, refused when damaged in any sampled byte or cut short, restored into a node whose
 * ledger fsck passes, refused while the server runs, pruned to `backup.keep` generations.
 */
import Database from "better-sqlite3";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { cp, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { setImmediate as nextTick } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeEntry } from "../../ledger/entry/canonical-entry.js";
import { parseVerifierKey } from "../../ledger/verify/verifier-key.js";
import { startServer } from "../../server/serve.js";
import { adminRecord, audit } from "../audit/audit.js";
import {
  backupKeyPath,
  backupsDir,
  createBackup,
  restoreBackup,
  serverPidPath,
  verifyBackup,
} from "./backup.js";
import { systemActor, type ServiceContext } from "../context.js";
import { dataPaths } from "../data-dir.js";
import { ServiceError } from "../errors.js";
import { closeNode, initDataDir, openNode, type Clock } from "../node.js";

const actor = systemActor("backup-test");
/** Small chunks so a node's databases span many of them (the envelope's minimum). */
const CHUNK = 1024;
/** Backup header: "KXB1" ‖ key ID (8) ‖ salt (32); then the envelope header (8). */
const OUTER_HEADER = 44;
const ENVELOPE_HEADER = 8;
const SEALED_CHUNK = CHUNK + 16;

let root: string;
let template: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "kenshin-backup-"));
  template = join(root, "template");
  await initDataDir(template, { config: { listen: { host: "127.0.0.1", port: 0 } } });
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

let copies = 0;
/** A fresh node: a copy of the template (its databases are closed). */
async function freshNode(): Promise<string> {
  const dir = join(root, `node-${++copies}`);
  await cp(template, dir, { recursive: true });
  return dir;
}

async function withNode<T>(dir: string, run: (ctx: ServiceContext) => Promise<T>, clock?: Clock): Promise<T> {
  const ctx = await openNode(dir, { env: {}, ...(clock ? { clock } : {}) });
  try {
    return await run(ctx);
  } finally {
    closeNode(ctx);
  }
}

async function appendNotes(ctx: ServiceContext, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await audit(ctx, [adminRecord(ctx, actor, "password.change", { kind: "account", id: `acct-${i}` })]);
  }
}

async function expectInvalid(run: Promise<unknown>, reason?: string): Promise<ServiceError> {
  const error = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ServiceError);
  expect((error as ServiceError).code).toBe("BACKUP_INVALID");
  expect((error as ServiceError).context["why"]).not.toBe("unreadable"); // the file itself was judged
  if (reason !== undefined) expect((error as ServiceError).context["reason"]).toBe(reason);
  return error as ServiceError;
}

function leafHashes(dir: string): string[] {
  const db = new Database(dataPaths(dir).ledgerDb, { readonly: true });
  try {
    return db
      .prepare<[], { h: Buffer }>("SELECT leaf_hash AS h FROM entries ORDER BY idx")
      .all()
      .map((r) => r.h.toString("hex"));
  } finally {
    db.close();
  }
}

describe("createBackup and verifyBackup", () => {
  it("takes a backup while another connection keeps appending, without stopping it; verify passes", async () => {
    const dir = await freshNode();
    const writer = await openNode(dir, { env: {} });
    const backupper = await openNode(dir, { env: {} });
    const state = { stop: false };
    let appended = 0;
    const writing = (async () => {
      while (!state.stop) {
        await audit(writer, [adminRecord(writer, actor, "password.change", { kind: "account", id: "w" })]);
        appended++;
        await nextTick();
      }
    })();
    try {
      while (appended < 3) await nextTick();
      const before = appended;
      const info = await createBackup(backupper, actor, { chunkSize: CHUNK });
      const during = appended - before;
      state.stop = true;
      await writing;
      expect(during).toBeGreaterThan(0); // the writer was never stopped

      const { manifest, fsck: result } = await verifyBackup(dataPaths(dir), info.file);
      expect(result.ok).toBe(true);
      expect(result.size).toBe(manifest.ledger.size);
      expect(info.ledgerSize).toBe(manifest.ledger.size);
      expect(manifest.files.map((f) => f.name)).toEqual(["service.db", "ledger.db"]);
      expect(manifest.node).toBe(backupper.config.nodeName);

      const bytes = await readFile(info.file);
      expect(bytes.length).toBe(info.bytes);
      expect(bytes.includes(Buffer.from("SQLite format 3"))).toBe(false);
      expect(bytes.includes(Buffer.from(manifest.ledger.checkpoint.split("\n")[0] ?? "-"))).toBe(false);
      expect((await stat(info.file)).mode & 0o777).toBe(0o600);
      expect((await stat(backupKeyPath(dataPaths(dir)))).mode & 0o777).toBe(0o600);
      expect((await readdir(dir)).filter((n) => n.startsWith(".backup-work-"))).toEqual([]);
      expect((await readdir(backupsDir(dataPaths(dir)))).filter((n) => n.endsWith(".part"))).toEqual([]);

      const row = backupper.db
        .prepare<[], { file: string; sha256: string; ledger_size: number }>("SELECT * FROM backups")
        .get();
      expect(row).toMatchObject({
        file: basename(info.file),
        sha256: info.sha256,
        ledger_size: info.ledgerSize,
      });
      const created = Array.from({ length: writer.ledger.size() }, (_, i) => writer.ledger.entry(i))
        .map((e) => decodeEntry(e))
        .filter((r) => r.type === "admin" && r.action === "backup.create");
      expect(created).toHaveLength(1);
      expect(created[0]).toMatchObject({ target: { kind: "backup", id: basename(info.file) } });
    } finally {
      state.stop = true;
      await writing;
      closeNode(writer);
      closeNode(backupper);
    }
  });

  describe("refusals", () => {
    let dir: string;
    let file: string;
    let good: Buffer;

    beforeAll(async () => {
      dir = await freshNode();
      file = (await withNode(dir, (ctx) => createBackup(ctx, actor, { chunkSize: CHUNK }))).file;
      good = await readFile(file);
      expect(good.length).toBeGreaterThan(OUTER_HEADER + ENVELOPE_HEADER + 20 * SEALED_CHUNK);
    });

    async function verifyBytes(bytes: Buffer, name: string): Promise<unknown> {
      const path = join(root, `${basename(dir)}-${name}.kxb`);
      await writeFile(path, bytes);
      try {
        return await verifyBackup(dataPaths(dir), path);
      } finally {
        await rm(path, { force: true });
      }
    }

    it("the untouched file verifies (the refusals below are caused by the change alone)", async () => {
      await expect(verifyBytes(good, "untouched")).resolves.toMatchObject({ fsck: { ok: true } });
    });

    it("when any sampled single byte is flipped (every header byte, chunk edges and tags) → BACKUP_INVALID", async () => {
      const positions = new Set<number>();
      for (let i = 0; i < OUTER_HEADER + ENVELOPE_HEADER; i++) positions.add(i);
      const body = OUTER_HEADER + ENVELOPE_HEADER;
      const chunks = Math.ceil((good.length - body) / SEALED_CHUNK);
      for (const c of [0, 1, 2, Math.floor(chunks / 2), chunks - 2, chunks - 1]) {
        const start = body + c * SEALED_CHUNK;
        for (const at of [
          start,
          start + 1,
          start + 500,
          start + CHUNK - 1,
          start + CHUNK,
          start + SEALED_CHUNK - 1,
        ])
          if (at < good.length) positions.add(at);
      }
      positions.add(good.length - 1);
      for (const at of positions) {
        const bad = Buffer.from(good);
        bad[at] = (bad[at] ?? 0) ^ 0x01;
        await expectInvalid(verifyBytes(bad, `flip-${at}`));
      }
      expect(positions.size).toBeGreaterThan(80);
    });

    it("when cut short (inside the header, at a chunk boundary, inside a chunk) or extended → BACKUP_INVALID", async () => {
      const boundary = OUTER_HEADER + ENVELOPE_HEADER + 3 * SEALED_CHUNK;
      for (const length of [0, 10, OUTER_HEADER, boundary, boundary + 7, good.length - 1]) {
        await expectInvalid(verifyBytes(good.subarray(0, length), `cut-${length}`));
      }
      await expectInvalid(verifyBytes(good.subarray(0, boundary), "boundary"), "truncated");
      await expectInvalid(verifyBytes(Buffer.concat([good, Buffer.alloc(1)]), "extended"));
    });

    it("when opened with another backup key → BACKUP_INVALID (key)", async () => {
      const other = await freshNode();
      await writeFile(backupKeyPath(dataPaths(other)), `${Buffer.alloc(32, 7).toString("base64")}\n`, {
        mode: 0o600,
      });
      await expectInvalid(verifyBackup(dataPaths(other), file), "key");
    });

    it("when the ledger in the backup was edited before it was taken → BACKUP_INVALID (fsck)", async () => {
      const edited = await freshNode();
      const db = new Database(dataPaths(edited).ledgerDb);
      try {
        const row = db.prepare<[], { entry: Buffer }>("SELECT entry FROM entries WHERE idx = 1").get();
        const entry = Buffer.from(row?.entry ?? Buffer.alloc(0));
        entry[entry.indexOf("success")] = "S".charCodeAt(0);
        db.prepare("UPDATE entries SET entry = ? WHERE idx = 1").run(entry);
      } finally {
        db.close();
      }
      const info = await withNode(edited, (ctx) => createBackup(ctx, actor));
      const error = await expectInvalid(verifyBackup(dataPaths(edited), info.file), "fsck");
      expect(error.context["code"]).toBe("LEDGER_LEAF_HASH_MISMATCH");
    });
  });
});

describe("restoreBackup", () => {
  it("restores a backup after more entries were appended: the node opens, its ledger is the snapshot's and fsck passes", async () => {
    const source = await freshNode();
    const info = await withNode(source, async (ctx) => {
      await appendNotes(ctx, 3);
      const made = await createBackup(ctx, actor, { chunkSize: CHUNK });
      await appendNotes(ctx, 5);
      return made;
    });
    const before = leafHashes(source);
    const target = await freshNode();
    await rm(target, { recursive: true });
    await cp(source, target, { recursive: true });

    const result = await restoreBackup(target, info.file, { env: {} });
    expect(result.ledgerSize).toBe(info.ledgerSize);

    const after = leafHashes(target);
    expect(after.slice(0, result.ledgerSize)).toEqual(before.slice(0, result.ledgerSize));
    expect(after).toHaveLength(result.ledgerSize + 1); // the snapshot plus the restore's own entry
    expect(before.length).toBeGreaterThan(result.ledgerSize + 1); // the entries after the backup are gone
    await withNode(target, async (ctx) => {
      const vkey = parseVerifierKey((await readFile(dataPaths(target).ledgerVerifierKey, "utf8")).trim());
      expect(ctx.ledger.fsck(vkey)).toMatchObject({ ok: true, size: result.ledgerSize + 1 });
      expect(decodeEntry(ctx.ledger.entry(result.ledgerSize))).toMatchObject({
        type: "admin",
        action: "backup.restore",
        target: { kind: "backup", id: basename(info.file) },
      });
      // A restored node keeps working: it appends and signs on top of the restored log.
      await appendNotes(ctx, 1);
      expect(ctx.ledger.fsck(vkey)).toMatchObject({ ok: true, size: result.ledgerSize + 2 });
    });
    // Once the restored ledger verified, the replaced databases (payloads included) are gone.
    expect(existsSync(result.previous)).toBe(false);
    expect((await readdir(target)).filter((n) => n.startsWith(".backup-work-"))).toEqual([]);
  });

  it("is refused while server.pid names a live process, and proceeds when that process is gone", async () => {
    const dir = await freshNode();
    const info = await withNode(dir, (ctx) => createBackup(ctx, actor));
    const size = leafHashes(dir).length;

    const server = await startServer(dir, { port: 0, host: "127.0.0.1", env: {} });
    try {
      expect((await readFile(serverPidPath(dir), "utf8")).trim()).toBe(String(process.pid));
      const refused = await restoreBackup(dir, info.file, { env: {} }).catch((e: unknown) => e);
      expect((refused as ServiceError).code).toBe("SERVICE_BUSY");
    } finally {
      await server.close();
    }
    await expect(stat(serverPidPath(dir))).rejects.toMatchObject({ code: "ENOENT" });
    expect(leafHashes(dir).length).toBeGreaterThanOrEqual(size); // nothing was replaced

    // A pid file left by a process that has exited (a crash) does not block a restore.
    const exited = spawnSync(process.execPath, ["-e", "0"]);
    await writeFile(serverPidPath(dir), `${exited.pid}\n`);
    await expect(restoreBackup(dir, info.file, { env: {} })).resolves.toMatchObject({
      ledgerSize: info.ledgerSize,
    });
  });
});

describe("generations", () => {
  it("keeps the newest backup.keep files and deletes the older ones", async () => {
    const dir = await freshNode();
    const paths = dataPaths(dir);
    const config = JSON.parse(await readFile(paths.config, "utf8")) as Record<string, unknown>;
    await writeFile(paths.config, JSON.stringify({ ...config, backup: { keep: 2 } }));
    let t = Date.parse("2030-01-01T00:00:00.000Z");
    const clock: Clock = {
      now: () => new Date((t += 60_000)),
      random: (n) => new Uint8Array(randomBytes(n)),
    };
    const files = await withNode(
      dir,
      async (ctx) => {
        const made: string[] = [];
        for (let i = 0; i < 4; i++) made.push((await createBackup(ctx, actor)).file);
        expect(ctx.db.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM backups").get()?.n).toBe(4);
        return made;
      },
      clock,
    );
    expect((await readdir(backupsDir(paths))).sort()).toEqual(files.slice(2).map((f) => basename(f)));
    await expect(verifyBackup(paths, files[3] ?? "")).resolves.toMatchObject({ fsck: { ok: true } });
  });
});
