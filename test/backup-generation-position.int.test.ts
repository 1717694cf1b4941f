/**
 * A cluster node's generation holds service.db and ledger.db at the same command-log batch
 * (`takeGeneration`, service/backup/backup-generation.ts): a node applies each batch to ledger.db and then to
 * service.db, and a generation whose ledger copy is ahead of the position its service copy records
 * could not seed a re-formed cluster (`kenshin cluster reform` refuses it). Here the position is set
 * in a real node's service.db (the table ReplicatedState keeps): behind the ledger, every attempt
 * gives such a pair and the take is refused with a coded error and leaves no generation; at the
 * ledger's size it is taken, and its two copies agree.
 */
import Database from "better-sqlite3";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readBackupFile } from "../src/service/backup/backup-file.js";
import { loadBackupKey } from "../src/service/backup/backup-key.js";
import { backupsDir, takeGeneration } from "../src/service/backup/backup-generation.js";
import { dataPaths } from "../src/service/data-dir.js";
import { ServiceError } from "../src/service/errors.js";
import { openSqliteLog } from "../src/store/sqlite-log.js";
import { startTransferNode, type TransferNode } from "./support/transfer-fixtures.js";

let t: TransferNode;
let work: string;

beforeAll(async () => {
  t = await startTransferNode();
  work = await mkdtemp(join(tmpdir(), "kenshin-generation-position-"));
}, 120_000);

afterAll(async () => {
  await t.node.close();
  await rm(work, { recursive: true, force: true });
});

const take = () =>
  takeGeneration({
    paths: dataPaths(t.node.dir),
    db: t.node.ctx.db,
    nodeName: "backup",
    keep: 5,
    now: () => t.node.ctx.now(),
    random: (n) => randomBytes(n),
  });

function setPosition(ledgerSize: number): void {
  t.node.ctx.db.exec(
    "CREATE TABLE IF NOT EXISTS cluster_position (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, hash TEXT NOT NULL, ledger_size INTEGER NOT NULL) STRICT",
  );
  t.node.ctx.db
    .prepare(
      "INSERT INTO cluster_position (id, seq, hash, ledger_size) VALUES (1, 7, ?, ?) ON CONFLICT (id) DO UPDATE SET ledger_size = excluded.ledger_size",
    )
    .run("ab".repeat(32), ledgerSize);
}

describe("a cluster node's generation", () => {
  it("is refused while the ledger is ahead of the service copy's position, and taken once they agree", async () => {
    const size = t.node.ctx.ledger.size();
    expect(size).toBeGreaterThan(1);
    setPosition(size - 1);
    const before = await readdir(backupsDir(dataPaths(t.node.dir))).catch(() => [] as string[]);
    const error = await take().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ServiceError);
    expect([(error as ServiceError).code, (error as ServiceError).context]).toEqual([
      "SERVICE_DB_UNUSABLE",
      { reason: "busy", attempts: 8 },
    ]);
    expect(await readdir(backupsDir(dataPaths(t.node.dir))).catch(() => [] as string[])).toEqual(before);

    setPosition(size);
    const info = await take();
    const dir = join(work, "opened");
    await mkdir(dir, { mode: 0o700 });
    const key = await loadBackupKey(dataPaths(t.node.dir), (n) => randomBytes(n));
    await readBackupFile({ file: info.file, key, dir });
    const db = new Database(join(dir, "service.db"), { readonly: true });
    const position = db.prepare("SELECT ledger_size FROM cluster_position").get();
    db.close();
    const log = openSqliteLog(join(dir, "ledger.db"));
    expect([position, info.ledgerSize]).toEqual([{ ledger_size: log.size() }, size]);
    log.close();
  });
});
