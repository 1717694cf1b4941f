/**
 * The disaster drill's rebuild (`kenshin cluster rebuild`): a node's databases put back from one backup
 * generation — the offline node's (service.db, ledger.db, chunks.db) or a node's own `kenshin backup
 * create` file — into a data directory that holds none, with the operators' key backup, and proven
 * before anything can serve from it:
 *
 * 1. the generation opens with the backup key and passes the checks of `backup verify` (every chunk,
 *    every file hash, quick_check, fsck against the log key);
 * 2. the restored copy passes the full check of the rolling integrity check (`runFullCheck`: fsck, every
 *    entry, `entry_keys`, every transfer row against what its entries commit to, every chunk by its
 *    address) and — given the last published checkpoint — its root at that size is the published root
 *    (the pure verifiers of `ledger/verify`); a generation older than the published checkpoint is refused:
 *    entries would be lost;
 * 3. every transfer's payloads still within retention decrypt with the KEK to the SHA-256 its row and
 *    entries record; a physically deleted transfer has no data key and no payload rows.
 *
 * Only then are the databases moved into place (a refused rebuild leaves the directory as it was).
 */
import Database from "better-sqlite3";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { runFullCheck } from "../../cluster/integrity/full-check.js";
import type { Kek } from "../../crypto/data-keys.js";
import { loadKek } from "../../crypto/kek-file.js";
import { openCheckpoint } from "../../ledger/verify/checkpoint.js";
import { parseVerifierKey, type VerifierKey } from "../../ledger/verify/verifier-key.js";
import { openChunkStore } from "../../store/chunk-store.js";
import { PayloadError, readPayload, type PayloadKind } from "../../store/payload-store.js";
import { openLogRepairAccess } from "../../store/sqlite-log-repair.js";
import { openSqliteLog } from "../../store/sqlite-log.js";
import { assertSqliteRuntime } from "../../store/sqlite-runtime.js";
import { fsyncDir } from "../backup/backup-key.js";
import { readBackupFile, type BackupManifest } from "../backup/backup-file.js";
import { workPrefix } from "../backup/backup-leftovers.js";
import { ServiceError } from "../errors.js";

/** Why a rebuild was refused (the `reason` of REBUILD_INVALID). */
export type RebuildInvalidReason =
  | "target-not-empty"
  | "key-unreadable"
  | "checkpoint-invalid"
  | "checkpoint-ahead"
  | "checkpoint-mismatch"
  | "integrity"
  | "payload"
  | "shredded-key-present"
  // `kenshin cluster reform` (cluster-reform.ts): the copy the new log starts from.
  | "not-cluster-copy"
  | "ledger-ahead"
  | "published-invalid";

/** A refused rebuild or re-form (REBUILD_INVALID with its reason). */
export function rebuildRefused(
  reason: RebuildInvalidReason,
  message: string,
  context: Record<string, unknown> = {},
  cause?: unknown,
): ServiceError {
  return new ServiceError(
    "REBUILD_INVALID",
    `再構築できません: ${message}`,
    { reason, ...context },
    cause === undefined ? undefined : { cause },
  );
}

export interface RebuildInput {
  /** The generation (.kxb). */
  readonly from: string;
  /** The operators' backup of the generation's backup key (`keys/backup.key`). */
  readonly backupKey: string;
  /** The log verifier key (`log.vkey` / `keys/ledger.vkey`). */
  readonly logKey: string;
  /** The operators' KEK backup: payloads are decrypted with it (it is not written anywhere). */
  readonly kek: string;
  /** The last published checkpoint (a signed note); its root must be the restored root at its size. */
  readonly checkpoint?: string | undefined;
  /** The node's data directory: it must hold no service.db, ledger.db or chunks.db. */
  readonly data: string;
  /** Where the chunk store goes (default `<data>/chunks.db`). */
  readonly chunksDb?: string | undefined;
}

export interface RebuildSummary {
  readonly node: string;
  readonly createdAt: string;
  readonly ledgerSize: number;
  /** The size of the published checkpoint the root was proven against (null without one). */
  readonly provenAgainst: number | null;
  readonly transfers: number;
  /** Payloads (original or standard) that decrypted to their recorded SHA-256. */
  readonly payloads: number;
  /** Transfers physically deleted (no data key, no payload rows). */
  readonly deleted: number;
  readonly chunks: number;
}

const PAYLOAD_KINDS: readonly PayloadKind[] = ["original", "standard"];

/** Rebuilds the databases of `input.data` from a generation; see the file comment. */
export async function rebuildNode(input: RebuildInput): Promise<RebuildSummary> {
  assertSqliteRuntime();
  const chunksTarget = input.chunksDb ?? join(input.data, "chunks.db");
  const targets = {
    "service.db": join(input.data, "service.db"),
    "ledger.db": join(input.data, "ledger.db"),
  };
  for (const path of [targets["service.db"], targets["ledger.db"], chunksTarget]) {
    for (const suffix of ["", "-wal", "-shm"]) {
      if (existsSync(path + suffix)) {
        throw rebuildRefused("target-not-empty", "データディレクトリに既にデータベースがあります", {
          file: path + suffix,
        });
      }
    }
  }
  const backupKey = await readKey(input.backupKey, "バックアップ鍵");
  const logKey = parseKeyText(await readText(input.logKey, "台帳の検証鍵"));
  let kek: Kek;
  try {
    kek = await loadKek(input.kek);
  } catch (cause) {
    throw rebuildRefused("key-unreadable", "鍵暗号化鍵 (KEK) を読めません", { file: "kek" }, cause);
  }
  const published =
    input.checkpoint === undefined ? undefined : await openPublished(input.checkpoint, logKey);

  await mkdir(input.data, { recursive: true, mode: 0o700 });
  const work = await mkdtemp(join(input.data, workPrefix()));
  try {
    await chmod(work, 0o700);
    const manifest = await readBackupFile({ file: input.from, key: backupKey, dir: work });
    const summary = checkRestored(work, manifest, logKey, published);
    summary.payloads = await checkPayloads(join(work, "service.db"), kek);
    // Proven: into place (each rename atomic on one file system).
    await rename(join(work, "service.db"), targets["service.db"]);
    await rename(join(work, "ledger.db"), targets["ledger.db"]);
    if (manifest.files.some((f) => f.name === "chunks.db"))
      await rename(join(work, "chunks.db"), chunksTarget);
    await fsyncDir(input.data);
    return summary;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function checkRestored(
  work: string,
  manifest: BackupManifest,
  logKey: VerifierKey,
  published: { size: number; root: Uint8Array } | undefined,
): Mutable<RebuildSummary> {
  const ledgerPath = join(work, "ledger.db");
  const storage = openSqliteLog(ledgerPath);
  const access = openLogRepairAccess(ledgerPath);
  const serviceDb = new Database(join(work, "service.db"), { readonly: true, fileMustExist: true });
  const hasChunks = manifest.files.some((f) => f.name === "chunks.db");
  const chunks = hasChunks ? openChunkStore(join(work, "chunks.db")) : undefined;
  try {
    const size = storage.size();
    if (published !== undefined && published.size > size) {
      throw rebuildRefused("checkpoint-ahead", "世代が公開済みチェックポイントより古く、記録が失われます", {
        published: published.size,
        size,
      });
    }
    const result = runFullCheck({ storage, access, logKey, published, serviceDb, chunks });
    if (result.findings.length > 0) {
      const first = result.findings[0];
      if (first?.kind === "published-root") {
        throw rebuildRefused("checkpoint-mismatch", "公開済みチェックポイントと台帳が一致しません", {
          findings: result.findings.slice(0, 20),
        });
      }
      throw rebuildRefused("integrity", "復元したデータの検査で不整合が見つかりました", {
        findings: result.findings.slice(0, 20),
      });
    }
    const deleted = serviceDb
      .prepare<[], { id: string }>("SELECT id FROM transfers WHERE status IN ('deleted', 'discarded')")
      .all();
    for (const { id } of deleted) {
      const held = serviceDb
        .prepare<[string, string], { n: number }>(
          "SELECT (SELECT count(*) FROM transfer_keys WHERE transfer_id = ?) + (SELECT count(*) FROM payload_chunks WHERE transfer_id = ?) AS n",
        )
        .get(id, id);
      if ((held?.n ?? 0) > 0)
        throw rebuildRefused("shredded-key-present", "削除済みの転送の鍵またはデータが残っています", {
          transferId: id,
        });
    }
    return {
      node: manifest.node,
      createdAt: manifest.createdAt,
      ledgerSize: size,
      provenAgainst: published?.size ?? null,
      transfers: result.transfers,
      payloads: 0,
      deleted: deleted.length,
      chunks: result.chunks,
    };
  } finally {
    chunks?.close();
    serviceDb.close();
    access.close();
    storage.close();
  }
}

/** Every stored payload decrypts with the KEK to the SHA-256 its transfer row records. */
async function checkPayloads(serviceDbPath: string, kek: Kek): Promise<number> {
  const db = new Database(serviceDbPath, { readonly: true, fileMustExist: true });
  try {
    const rows = db
      .prepare<[], { id: string; original_sha256: string; standard_sha256: string | null }>(
        "SELECT id, original_sha256, standard_sha256 FROM transfers WHERE id IN (SELECT DISTINCT transfer_id FROM payload_chunks) ORDER BY id",
      )
      .all();
    let checked = 0;
    for (const row of rows) {
      for (const kind of PAYLOAD_KINDS) {
        const held = db
          .prepare<[string, string], { n: number }>(
            "SELECT count(*) AS n FROM payload_chunks WHERE transfer_id = ? AND kind = ?",
          )
          .get(row.id, kind);
        if ((held?.n ?? 0) === 0) continue;
        const expected = kind === "original" ? row.original_sha256 : row.standard_sha256;
        const hash = createHash("sha256");
        try {
          for await (const chunk of readPayload(db, kek, row.id, kind)) {
            hash.update(chunk);
            chunk.fill(0);
          }
        } catch (error) {
          if (!(error instanceof PayloadError)) throw error;
          throw rebuildRefused(
            "payload",
            "ペイロードを KEK で復号できません",
            { transferId: row.id, kind, code: error.code },
            error,
          );
        }
        const actual = hash.digest("hex");
        if (expected === null || actual !== expected) {
          throw rebuildRefused("payload", "ペイロードの SHA-256 が記録と一致しません", {
            transferId: row.id,
            kind,
          });
        }
        checked++;
      }
    }
    return checked;
  } finally {
    db.close();
  }
}

async function openPublished(path: string, logKey: VerifierKey): Promise<{ size: number; root: Uint8Array }> {
  const note = await readText(path, "公開済みチェックポイント");
  try {
    const { checkpoint } = openCheckpoint(note, logKey);
    return { size: checkpoint.size, root: checkpoint.root };
  } catch (cause) {
    throw rebuildRefused("checkpoint-invalid", "公開済みチェックポイントの署名を検証できません", {}, cause);
  }
}

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (cause) {
    throw rebuildRefused("key-unreadable", `${what}を読めません`, {}, cause);
  }
}

function parseKeyText(text: string): VerifierKey {
  try {
    return parseVerifierKey(text.trim());
  } catch (cause) {
    throw rebuildRefused("key-unreadable", "台帳の検証鍵の形式が正しくありません", {}, cause);
  }
}

async function readKey(path: string, what: string): Promise<Uint8Array> {
  const bytes = Buffer.from((await readText(path, what)).trim(), "base64");
  if (bytes.length !== 32) throw rebuildRefused("key-unreadable", `${what}の形式が正しくありません`);
  return bytes;
}
