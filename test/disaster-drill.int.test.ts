/**
 * The disaster drill at service level (issue 11): a real node with uploads, a retention deletion and a
 * backup generation taken the way the offline node takes its own (`takeGeneration`: SQLite's online
 * backup API, sealed with the backup key, never the KEK); then the node's whole data directory is
 * destroyed, and `rebuildNode` (`kenshin cluster rebuild`, also run here through the real CLI from dist)
 * rebuilds the databases from the generation with the operators' key backup and KEK. Afterwards the
 * ledger passes fsck and its root at the last published checkpoint is that checkpoint's, every
 * acknowledged transfer is there with its hashes, the kept payload decrypts with the KEK to its recorded
 * SHA-256, and the deleted transfer has neither data key nor payload. Bad input is refused with a coded
 * error and writes nothing.
 */
import Database from "better-sqlite3";
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { downloadStandard, uploadExport } from "../src/client/transfer-client.js";
import { loadKek } from "../src/crypto/kek-file.js";
import { fsck } from "../src/ledger/fsck.js";
import { nodeHasher } from "../src/ledger/node-hasher.js";
import { treeRoot } from "../src/ledger/proof-builder.js";
import { openCheckpoint } from "../src/ledger/verify/checkpoint.js";
import { bytesEqual } from "../src/ledger/verify/encoding.js";
import { parseVerifierKey } from "../src/ledger/verify/verifier-key.js";
import { takeGeneration } from "../src/service/backup/backup-generation.js";
import { dataPaths } from "../src/service/data-dir.js";
import { ServiceError } from "../src/service/errors.js";
import { rebuildNode, type RebuildInput } from "../src/service/cluster/node-rebuild.js";
import { runRetention } from "../src/service/transfers/retention.js";
import type { TransferView } from "../src/service/transfers/view.js";
import { readPayload } from "../src/store/payload-store.js";
import { openSqliteLog } from "../src/store/sqlite-log.js";
import { exampleExport, startTransferNode, type TransferNode } from "./support/transfer-fixtures.js";
import { expectStatus } from "./support/test-node.js";

const DAY_MS = 86_400_000;
const CLI = join(process.cwd(), "dist/cli/main.js");

let root: string;
let t: TransferNode | undefined;
/** The operators' key backup (backup.key, ledger.vkey) and their KEK copy, kept apart from the node. */
let keys: string;
let kekFile: string;
let generation: string;
let olderGeneration: string;
let published: string;
let kept: TransferView;
let deleted: TransferView;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "kenshin-drill-"));
  const node = await startTransferNode();
  t = node;
  const up = async (): Promise<TransferView> => {
    const r = await uploadExport(node.sender, node.receiverId, exampleExport());
    expectStatus(r, 201);
    return (r.json as { transfer: TransferView }).transfer;
  };
  kept = await up();
  deleted = await up();
  expectStatus(await t.sender.post(`/api/v1/transfers/${kept.id}/send`), 200);
  expectStatus(await t.sender.post(`/api/v1/transfers/${deleted.id}/send`), 200);
  const down = await downloadStandard(t.receiver, deleted.id);
  if ("refused" in down) throw new Error(down.refused.text);
  expectStatus(await t.receiver.post(`/api/v1/transfers/${deleted.id}/receipt`), 200);
  // A generation from before the deletion: it still holds the deleted transfer's wrapped key.
  const before = await takeGeneration({
    paths: dataPaths(node.node.dir),
    db: node.node.ctx.db,
    nodeName: "backup",
    keep: 5,
    now: () => node.node.ctx.now(),
    random: (n) => randomBytes(n),
  });
  olderGeneration = join(root, "older.kxb");
  await copyFile(before.file, olderGeneration);
  // Past the received transfer's retention, well before the unconfirmed one's expiry.
  const { afterReceiptDays, unconfirmedDays } = t.node.ctx.config.retention;
  expect(afterReceiptDays + 1).toBeLessThan(unconfirmedDays);
  t.node.clock.advance((afterReceiptDays + 1) * DAY_MS);
  expect((await runRetention(t.node.ctx)).deleted).toBe(1);

  // The last published checkpoint covers the deletion (checkpoints follow appends on a cadence).
  const ledger = node.node.ctx.ledger;
  const last = await ledger.checkpointCovering(ledger.size() - 1);
  const paths = dataPaths(node.node.dir);
  const info = await takeGeneration({
    paths,
    db: t.node.ctx.db,
    nodeName: "backup",
    keep: 5,
    now: () => node.node.ctx.now(),
    random: (n) => randomBytes(n),
  });
  generation = join(root, "generation.kxb");
  await copyFile(info.file, generation);
  published = join(root, "published.note");
  await writeFile(published, last.note);
  keys = join(root, "operator-keys");
  await mkdir(keys, { mode: 0o700 });
  await copyFile(join(paths.dir, "keys", "backup.key"), join(keys, "backup.key"));
  await copyFile(paths.ledgerVerifierKey, join(keys, "ledger.vkey"));
  kekFile = join(root, "kek.key");
  await copyFile(paths.kek, kekFile);

  // The disaster: the node and its whole data directory are gone.
  const dir = t.node.dir;
  await t.node.close();
  t = undefined;
  await rm(dir, { recursive: true, force: true });
  expect(existsSync(dir)).toBe(false);
}, 180_000);

afterAll(async () => {
  await t?.node.close();
  await rm(root, { recursive: true, force: true });
});

function input(data: string, over: Partial<RebuildInput> = {}): RebuildInput {
  return {
    from: generation,
    backupKey: join(keys, "backup.key"),
    logKey: join(keys, "ledger.vkey"),
    kek: kekFile,
    checkpoint: published,
    data,
    ...over,
  };
}

async function refusedWith(run: Promise<unknown>, code: string, reason: string): Promise<void> {
  const error = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ServiceError);
  expect((error as ServiceError).code).toBe(code);
  expect((error as ServiceError).context["reason"]).toBe(reason);
}

describe("disaster drill: rebuild from a generation", () => {
  it("rebuilds the databases; the ledger verifies under the published checkpoint; transfers, payloads and deletions are as acknowledged", async () => {
    const data = join(root, "rebuilt");
    const summary = await rebuildNode(input(data));
    expect(summary).toMatchObject({ node: "backup", transfers: 2, deleted: 1, payloads: 1 });

    const vkey = parseVerifierKey((await readFile(join(keys, "ledger.vkey"), "utf8")).trim());
    const { checkpoint } = openCheckpoint(await readFile(published, "utf8"), vkey);
    expect(summary.provenAgainst).toBe(checkpoint.size);
    const log = openSqliteLog(join(data, "ledger.db"));
    try {
      const result = fsck(log, vkey);
      expect(result.ok).toBe(true);
      expect(bytesEqual(treeRoot(log, nodeHasher, checkpoint.size), checkpoint.root)).toBe(true);
    } finally {
      log.close();
    }

    const db = new Database(join(data, "service.db"), { readonly: true });
    try {
      const rows = db
        .prepare<[], { id: string; status: string; original_sha256: string; standard_sha256: string | null }>(
          "SELECT id, status, original_sha256, standard_sha256 FROM transfers ORDER BY id",
        )
        .all();
      expect(rows).toEqual(
        [
          {
            id: kept.id,
            status: "sent",
            original_sha256: kept.original.sha256,
            standard_sha256: kept.standard?.sha256,
          },
          {
            id: deleted.id,
            status: "deleted",
            original_sha256: deleted.original.sha256,
            standard_sha256: deleted.standard?.sha256,
          },
        ].sort((a, b) => a.id.localeCompare(b.id)),
      );
      // The kept payload decrypts with the operators' KEK to its recorded SHA-256.
      const kek = await loadKek(kekFile);
      const hash = createHash("sha256");
      for await (const chunk of readPayload(db, kek, kept.id, "standard")) hash.update(chunk);
      expect(hash.digest("hex")).toBe(kept.standard?.sha256);
      // The deleted one stays deleted: no data key, no chunk.
      const held = (table: string): unknown =>
        db.prepare(`SELECT count(*) AS n FROM ${table} WHERE transfer_id = ?`).get(deleted.id);
      expect(held("transfer_keys")).toEqual({ n: 0 });
      expect(held("payload_chunks")).toEqual({ n: 0 });
    } finally {
      db.close();
    }

    // A directory that already holds databases is refused.
    await refusedWith(rebuildNode(input(data)), "REBUILD_INVALID", "target-not-empty");
  });

  it("refuses bad input with a coded error and writes no database", async () => {
    const wrongKey = join(root, "wrong-backup.key");
    await writeFile(wrongKey, `${randomBytes(32).toString("base64")}\n`, { mode: 0o600 });
    const wrongKek = join(root, "wrong-kek.key");
    await writeFile(wrongKek, `${randomBytes(32).toString("base64")}\n`, { mode: 0o600 });
    const forged = join(root, "forged.note");
    const note = await readFile(published, "utf8");
    await writeFile(
      forged,
      note.replace(/^(.*\n)(\d+)\n/, (_, origin: string, size: string) => `${origin}${Number(size) + 1}\n`),
    );
    const cases: [Partial<RebuildInput>, string, string][] = [
      [{ backupKey: wrongKey }, "BACKUP_INVALID", "key"],
      [{ kek: wrongKek }, "REBUILD_INVALID", "payload"],
      [{ checkpoint: forged }, "REBUILD_INVALID", "checkpoint-invalid"],
      [{ kek: join(root, "missing.key") }, "REBUILD_INVALID", "key-unreadable"],
      // Older than the published checkpoint (taken before the deletion): entries would be lost and a
      // deleted transfer's key would come back.
      [{ from: olderGeneration }, "REBUILD_INVALID", "checkpoint-ahead"],
    ];
    for (const [i, [over, code, reason]] of cases.entries()) {
      const data = join(root, `refused-${i}`);
      await refusedWith(rebuildNode(input(data, over)), code, reason);
      for (const name of ["service.db", "ledger.db", "chunks.db"])
        expect(existsSync(join(data, name))).toBe(false);
    }
  });

  it("kenshin cluster rebuild prints the summary (real CLI from dist)", () => {
    const data = join(root, "rebuilt-cli");
    const run = spawnSync(
      process.execPath,
      [
        CLI,
        "cluster",
        "rebuild",
        "--from",
        generation,
        "--keys",
        keys,
        "--kek",
        kekFile,
        "--checkpoint",
        published,
        "--data",
        data,
      ],
      { encoding: "utf8", timeout: 60_000 },
    );
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ ok: true, transfers: 2, deleted: 1, payloads: 1 });
    const again = spawnSync(
      process.execPath,
      [CLI, "cluster", "rebuild", "--from", generation, "--keys", keys, "--kek", kekFile, "--data", data],
      { encoding: "utf8", timeout: 60_000 },
    );
    expect(again.status).toBe(1);
    expect(JSON.parse(again.stdout)).toMatchObject({
      ok: false,
      code: "REBUILD_INVALID",
      reason: "target-not-empty",
    });
  });
});
