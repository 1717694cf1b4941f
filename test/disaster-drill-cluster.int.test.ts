/**
 * The whole disaster drill of issue 11 on the replicated service (test/support/service-cluster.ts: 3 real
 * `kenshin serve` nodes + the offline node as `kenshin cluster offline`, real etcd 3.4, real haproxy):
 *
 * 1. transfers through haproxy: two sent (one downloaded), one discarded (破棄: its payload and data key
 *    physically deleted on every node);
 * 2. the offline node keeps generations on its schedule; the newest one taken after the last change is
 *    copied off, with the last published checkpoint (etcd's `published` note) and the operators' keys;
 * 3. the disaster: every node process and every etcd member SIGKILLed; the three online nodes' data
 *    directories and every etcd member's data are destroyed; the offline node's databases too (it comes
 *    back as a new offline node);
 * 4. the documented commands: the node material back from the operators' copy, fresh etcd (3 voters + the
 *    learner added again), `kenshin cluster rebuild` of node1 from the generation, `kenshin cluster
 *    reform` (the new log seeded from node1), every node started; node2, node3 and the offline node start
 *    empty and catch up from node1 over the peer catch-up;
 * 5. what must hold: all four nodes at the same log position; on each, fsck passes and the root at the
 *    last published checkpoint's size is its root; every acknowledged transfer is there with its hashes;
 *    downloads through haproxy and straight from each online node give the recorded SHA-256; the
 *    discarded transfer has no data key and no payload anywhere (nodes and the offline node's
 *    generations) and cannot be downloaded; a new upload works and reaches every node.
 */
import Database from "better-sqlite3";
import { spawnSync } from "node:child_process";
import { copyFile, cp, mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { existsSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { Etcd3 } from "etcd3";
import { afterAll, describe, expect, it } from "vitest";
import { createApiClient, type ApiClient } from "../src/client/api-client.js";
import type { ApiDeviceKey } from "../src/client/api-client.js";
import { downloadStandard, uploadExport } from "../src/client/transfer-client.js";
import { etcdClientUrl, onlineNodes } from "../src/cluster/cluster-topology.js";
import { addEtcdMember, startEtcdMember, waitMemberHealthy } from "../src/cluster/etcd-membership.js";
import { readGenesis } from "../src/cluster/log-genesis.js";
import type { SupervisedProcess } from "../src/cluster/processes/supervised-process.js";
import { waitFor } from "../src/cluster/processes/wait.js";
import { fsck } from "../src/ledger/fsck.js";
import { Ledger } from "../src/ledger/ledger.js";
import { openCheckpoint } from "../src/ledger/verify/checkpoint.js";
import { toHex } from "../src/ledger/verify/encoding.js";
import { parseVerifierKey } from "../src/ledger/verify/verifier-key.js";
import { readBackupFile } from "../src/service/backup/backup-file.js";
import type { TransferView } from "../src/service/transfers/view.js";
import { openSqliteLog } from "../src/store/sqlite-log.js";
import { sha256Hex, useServiceCluster } from "./support/service-cluster.js";
import { EXAMPLE_DIR, expectStatus, firstLogin } from "./support/test-node.js";

const CLI = join(process.cwd(), "dist/cli/main.js");
const ONLINE = ["node1", "node2", "node3"];
const ALL = [...ONLINE, "backup"];
/** The new etcd members (stopped after the cluster's node processes: this hook is registered first). */
const started: SupervisedProcess[] = [];
let work: string | undefined;

afterAll(async () => {
  for (const p of [...started].reverse()) await p.stop(3000);
  if (work !== undefined) await rm(work, { recursive: true, force: true });
}, 60_000);

const cluster = useServiceCluster({ offlineNode: { backupIntervalMs: 1500 } });

/** What an operator keeps of a node: its material, never its databases, etcd data, generations or logs. */
function isMaterial(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  if (rel === "") return true;
  if (/\.db(-wal|-shm|-journal)?$/.test(rel)) return false;
  if (rel === "etcd/data" || rel.startsWith("etcd/data/")) return false;
  if (rel === "backups" || rel.startsWith("backups/")) return false;
  if (rel.endsWith(".log") || rel.startsWith(".kenshin-")) return false;
  // State, not material: the remembered ledger head (the rollback check), the pid, upload spools.
  if (["ledger-head.note", "server.pid"].includes(rel) || rel === "spool" || rel.startsWith("spool/"))
    return false;
  return true;
}

function cli(args: string[]): { status: number | null; out: Record<string, unknown>; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 180_000 });
  let out: Record<string, unknown> = {};
  try {
    out = JSON.parse(r.stdout) as Record<string, unknown>;
  } catch {
    // Not JSON: the assertions below show stdout/stderr.
  }
  return { status: r.status, out, stderr: `${r.stdout}\n${r.stderr}` };
}

/** The transfer_keys / payload_chunks rows a service.db holds for a transfer. */
function heldFor(serviceDb: string, id: string): number {
  const db = new Database(serviceDb, { readonly: true, fileMustExist: true });
  try {
    const row = db
      .prepare<[string, string], { n: number }>(
        "SELECT (SELECT count(*) FROM transfer_keys WHERE transfer_id = ?) + (SELECT count(*) FROM payload_chunks WHERE transfer_id = ?) AS n",
      )
      .get(id, id);
    return row?.n ?? 0;
  } finally {
    db.close();
  }
}

/**
 * Logs in, retrying (bounded) while the node answers 503: a node just back may still be settling
 * (its first full check, its quorum probe) although haproxy already marks it UP. Any other answer fails.
 */
async function loginWithin(client: ApiClient, loginId: string, password: string): Promise<void> {
  const seen: string[] = [];
  await waitFor(
    async () => {
      const r = await client.login(loginId, password);
      if (r.status === 201) return true;
      const code = (r.json as { code?: string } | undefined)?.code ?? "";
      seen.push(`${r.status} ${code}`);
      if (r.status !== 503) throw new Error(`login refused: ${seen.join(", ")}`);
      return undefined;
    },
    { what: "login after the drill", timeoutMs: 60_000, intervalMs: 500 },
  ).catch((error: unknown) => {
    throw new Error(`${String(error)} (answers: ${seen.join(", ")})`);
  });
  // Shown so that a node that keeps refusing for a while after the drill is visible in the test log.
  if (seen.length > 0) process.stderr.write(`drill: login answered ${seen.join(", ")} before 201\n`);
}

/** Files in `dir` (service.db, ledger.db, chunks.db and their WAL) holding `key` as bytes or base64. */
function filesHolding(dir: string, key: Buffer): string[] {
  const b64 = Buffer.from(key.toString("base64"));
  return ["service.db", "ledger.db", "chunks.db"]
    .flatMap((f) => [f, `${f}-wal`])
    .filter((f) => {
      const path = join(dir, f);
      if (!existsSync(path)) return false;
      const bytes = readFileSync(path);
      return bytes.includes(key) || bytes.includes(b64);
    });
}

describe("disaster drill: the cluster re-formed from the offline node", () => {
  it("rebuilds, re-forms and serves again with every acknowledged transfer, the discarded one stays gone", async () => {
    const c = cluster();
    work = await mkdtemp(join(c.dir, "..", "drill-"));
    const body = readFileSync(join(EXAMPLE_DIR, "export.csv"));

    // ——— 1. transfers ———
    const sender = c.client("sender");
    const receiver = c.client("receiver");
    const senderLogin = await firstLogin(sender, c.account("sender").loginId, c.account("sender").password);
    const receiverLogin = await firstLogin(
      receiver,
      c.account("receiver").loginId,
      c.account("receiver").password,
    );
    const receivers = (await sender.get("/api/v1/receivers")).json as { receivers: { id: string }[] };
    const receiverId = receivers.receivers[0]?.id ?? "";
    const up = async (): Promise<TransferView> => {
      const r = await uploadExport(sender, receiverId, body);
      expectStatus(r, 201);
      return (r.json as { transfer: TransferView }).transfer;
    };
    const downloaded = await up();
    const sent = await up();
    const gone = await up();
    expectStatus(await sender.post(`/api/v1/transfers/${downloaded.id}/send`), 200);
    expectStatus(await sender.post(`/api/v1/transfers/${sent.id}/send`), 200);
    const first = await downloadStandard(receiver, downloaded.id);
    if ("refused" in first) throw new Error(first.refused.text);
    expect(sha256Hex(first.bytes)).toBe(downloaded.standard?.sha256);
    // The discarded transfer's wrapped data key, to look for in every file afterwards (cluster
    // crypto-shredding: it travels in the payload's manifest, never in the archived command).
    const goneKey = await waitFor(
      () =>
        Promise.resolve(
          (
            c.serviceDb("node1", (db) =>
              db.prepare("SELECT wrapped_key FROM transfer_keys WHERE transfer_id = ?").get(gone.id),
            ) as { wrapped_key: Buffer } | undefined
          )?.wrapped_key,
        ),
      { what: "the upload's key on node1", timeoutMs: 60_000, intervalMs: 250 },
    );
    expect(filesHolding(c.files.nodeDir("node1"), goneKey).some((f) => f.startsWith("service.db"))).toBe(
      true,
    );
    expectStatus(await sender.post(`/api/v1/transfers/${gone.id}/discard`), 200);
    const acknowledged = [downloaded, sent, gone];

    // ——— 2. the offline node's newest generation after the last change, the published checkpoint ———
    await c.waitSamePosition(ALL);
    const etcd = new Etcd3({ hosts: onlineNodes(c.topology).map(etcdClientUrl), dialTimeout: 2000 });
    const backupDir = c.files.nodeDir("backup");
    const headSize = (name: string): number => {
      const s = openSqliteLog(join(c.files.nodeDir(name), "ledger.db"));
      try {
        return s.size();
      } finally {
        s.close();
      }
    };
    let note: string;
    try {
      // The last published checkpoint covers the head (the cadence publishes once a batch is flagged).
      note = await waitFor(
        async () => {
          const text = await etcd.get(`${c.topology.prefix}published`).string();
          if (text === null) return undefined;
          const size = openCheckpoint(
            text,
            parseVerifierKey(readFileSync(c.files.logVerifierKey, "utf8").trim()),
          ).checkpoint.size;
          return size === headSize("node1") ? text : undefined;
        },
        { what: "a published checkpoint at the head", timeoutMs: 90_000, intervalMs: 500 },
      );
    } finally {
      etcd.close();
    }
    // The checkpoint batch moved the log: the position every node settles at is the one to rebuild to.
    const quiet = await c.waitSamePosition(ALL);
    const sizeBefore = headSize("node1");
    const backupKey = new Uint8Array(
      Buffer.from(readFileSync(join(backupDir, "keys", "backup.key"), "utf8").trim(), "base64"),
    );
    const generations = async (): Promise<string[]> =>
      (await readdir(join(backupDir, "backups")).catch(() => [] as string[]))
        .filter((n) => n.endsWith(".kxb"))
        .sort();
    // Generations taken before the 破棄 still hold its key; the schedule prunes them (keep 7): wait until
    // every kept generation lacks it, and the newest is at the head.
    const opened = join(work, "opened");
    const generationHolds = async (name: string): Promise<{ held: number; seq: number }> => {
      await rm(opened, { recursive: true, force: true });
      await mkdir(opened, { recursive: true, mode: 0o700 });
      await readBackupFile({ file: join(backupDir, "backups", name), key: backupKey, dir: opened });
      const db = new Database(join(opened, "service.db"), { readonly: true });
      const seq = (db.prepare("SELECT seq FROM cluster_position").get() as { seq: number }).seq;
      db.close();
      // Rows, or the key's bytes anywhere in the generation's files (its manifest in chunks.db included).
      const held = heldFor(join(opened, "service.db"), gone.id) + filesHolding(opened, goneKey).length;
      return { held, seq };
    };
    const newest = await waitFor(
      async () => {
        const names = await generations();
        if (names.length === 0) return undefined;
        for (const n of names) {
          const g = await generationHolds(n).catch(() => undefined);
          if (g === undefined || g.held > 0) return undefined;
        }
        const last = names[names.length - 1] ?? "";
        return (await generationHolds(last)).seq === quiet.seq ? last : undefined;
      },
      {
        what: "every offline generation without the discarded key, the newest at the head",
        timeoutMs: 120_000,
        intervalMs: 1500,
      },
    );
    const operator = join(work, "operator");
    await mkdir(join(operator, "keys"), { recursive: true, mode: 0o700 });
    const generation = join(operator, "generation.kxb");
    await copyFile(join(backupDir, "backups", newest), generation);
    await copyFile(join(backupDir, "keys", "backup.key"), join(operator, "keys", "backup.key"));
    await copyFile(c.files.logVerifierKey, join(operator, "keys", "log.vkey"));
    await copyFile(c.files.sharedKek, join(operator, "kek.key"));
    const published = join(operator, "published.note");
    await writeFile(published, note);
    // The operators' copy of each node's material (what `cluster init` made: config, keys, certificates).
    for (const name of ALL) {
      const dir = c.files.nodeDir(name);
      await cp(dir, join(operator, "nodes", name), {
        recursive: true,
        filter: (src) => isMaterial(dir, src),
      });
    }

    // ——— 3. the disaster ———
    for (const name of ALL) await c.kill9Node(name);
    for (const name of ALL) await c.kill9Etcd(name);
    for (const name of ALL) {
      await rm(c.files.nodeDir(name), { recursive: true, force: true });
      expect(existsSync(c.files.nodeDir(name))).toBe(false);
    }

    // ——— 4. the documented commands ———
    for (const name of ALL)
      await cp(join(operator, "nodes", name), c.files.nodeDir(name), { recursive: true });
    const voters = onlineNodes(c.topology);
    for (const n of voters) started.push(startEtcdMember(c.files.nodeDir(n.name)));
    await Promise.all(voters.map((n) => waitMemberHealthy(etcdClientUrl(n), { timeoutMs: 90_000 })));
    await addEtcdMember(c.topology, "backup", { hosts: voters.map(etcdClientUrl), timeoutMs: 60_000 });
    const learner = startEtcdMember(c.files.nodeDir("backup"));
    started.push(learner);
    const backupNode = c.topology.nodes.find((n) => n.name === "backup");
    if (backupNode === undefined) throw new Error("no offline node");
    await waitMemberHealthy(etcdClientUrl(backupNode), {
      timeoutMs: 90_000,
      process: learner,
    });

    const node1 = c.files.nodeDir("node1");
    const rebuilt = cli([
      "cluster",
      "rebuild",
      "--from",
      generation,
      "--keys",
      join(operator, "keys"),
      "--kek",
      join(operator, "kek.key"),
      "--checkpoint",
      published,
      "--data",
      node1,
    ]);
    expect([rebuilt.status, rebuilt.stderr]).toEqual([0, expect.any(String)]);
    expect(rebuilt.out).toMatchObject({ ok: true, deleted: 1, ledgerSize: sizeBefore });
    const reformed = cli(["cluster", "reform", "--data", node1]);
    expect([reformed.status, reformed.stderr]).toEqual([0, expect.any(String)]);
    expect(reformed.out).toMatchObject({ ok: true, node: "node1", seq: quiet.seq });
    // A second reform is refused: the log is no longer empty.
    const again = cli(["cluster", "reform", "--data", node1]);
    expect([again.status, again.out["code"]]).toEqual([1, "CLUSTER_LOG_NOT_EMPTY"]);

    for (const name of ALL) c.startNode(name);
    await c.waitSamePosition(ALL, 180_000);
    for (const name of ONLINE) await c.waitBackend(name, "UP", 120_000);

    // ——— 5. what must hold ———
    const logKey = parseVerifierKey(readFileSync(c.files.logVerifierKey, "utf8").trim());
    const cp0 = openCheckpoint(note, logKey).checkpoint;
    const etcd2 = new Etcd3({ hosts: voters.map(etcdClientUrl), dialTimeout: 2000 });
    try {
      const genesis = await readGenesis(etcd2, c.topology.prefix);
      expect(genesis).toMatchObject({ node: "node1", seq: quiet.seq, ledgerSize: cp0.size });
    } finally {
      etcd2.close();
    }
    for (const name of ALL) {
      const storage = openSqliteLog(join(c.files.nodeDir(name), "ledger.db"));
      try {
        expect([name, fsck(storage, logKey).ok]).toEqual([name, true]);
        expect([name, toHex(new Ledger({ storage }).root(cp0.size))]).toEqual([name, toHex(cp0.root)]);
      } finally {
        storage.close();
      }
      expect([name, heldFor(join(c.files.nodeDir(name), "service.db"), gone.id)]).toEqual([name, 0]);
      // Not a byte of its wrapped key in any file (the release step runs every second: bounded wait).
      const dir = c.files.nodeDir(name);
      const left = await waitFor(
        () => Promise.resolve(filesHolding(dir, goneKey).length === 0 ? [] : undefined),
        { what: `${gone.id}'s key gone from ${name}`, timeoutMs: 30_000, intervalMs: 500 },
      ).catch(() => filesHolding(dir, goneKey));
      expect([name, left]).toEqual([name, []]);
      for (const t of acknowledged) {
        const row = c.serviceDb(name, (db) =>
          db.prepare("SELECT original_sha256, standard_sha256 FROM transfers WHERE id = ?").get(t.id),
        );
        expect([name, row]).toEqual([
          name,
          { original_sha256: t.original.sha256, standard_sha256: t.standard?.sha256 ?? null },
        ]);
      }
    }

    // New clients (the old connections went with the old processes), same accounts and devices.
    const again2 = (role: "sender" | "receiver", device: ApiDeviceKey, node?: string): ApiClient => {
      const a = c.account(role);
      const client = createApiClient({
        baseUrl: node === undefined ? c.frontend : c.nodeUrl(node),
        caPem: c.caPem,
        certPem: readFileSync(a.certificate, "utf8"),
        keyPem: readFileSync(a.key, "utf8"),
        timeoutMs: 30_000,
      });
      client.setDeviceKey(device);
      return client;
    };
    const clients: ApiClient[] = [];
    try {
      for (const node of [undefined, ...ONLINE]) {
        const r = again2("receiver", receiverLogin.deviceKey, node);
        clients.push(r);
        await loginWithin(r, c.account("receiver").loginId, receiverLogin.password);
        for (const t of [downloaded, sent]) {
          // A node that caught up fetches the payload from its peers after applying: bounded retry.
          const bytes = await waitFor(
            async () => {
              const d = await downloadStandard(r, t.id);
              return "refused" in d ? undefined : d.bytes;
            },
            { what: `download ${t.id} via ${node ?? "haproxy"}`, timeoutMs: 60_000, intervalMs: 500 },
          );
          expect([node, sha256Hex(bytes)]).toEqual([node, t.standard?.sha256]);
        }
        const refusedDownload = await downloadStandard(r, gone.id);
        expect("refused" in refusedDownload).toBe(true);
      }
      const s = again2("sender", senderLogin.deviceKey);
      clients.push(s);
      await loginWithin(s, c.account("sender").loginId, senderLogin.password);
      // Bounded retry on 503 only (refused: nothing written), like the login above.
      const fresh = await waitFor(
        async () => {
          const r = await uploadExport(s, receiverId, body);
          if (r.status === 503) return undefined;
          expectStatus(r, 201);
          return r;
        },
        { what: "a new upload after the drill", timeoutMs: 60_000, intervalMs: 500 },
      );
      const freshId = (fresh.json as { transfer: TransferView }).transfer.id;
      await c.waitSamePosition(ALL, 90_000);
      for (const name of ALL) {
        expect([
          name,
          c.serviceDb(name, (db) => db.prepare("SELECT id FROM transfers WHERE id = ?").get(freshId)),
        ]).toEqual([name, { id: freshId }]);
      }
    } finally {
      for (const client of clients) client.close();
    }
  }, 900_000);
});
