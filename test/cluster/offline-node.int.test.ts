/**
 * The offline backup node as a real process (`kenshin cluster offline`, from dist) in a real cluster made
 * by `initCluster`: three etcd voting members + the offline node's etcd learner, three online nodes'
 * ledger ports (in this process) appending while it runs. The offline process follows and applies to
 * its own files, cosigns what its copy reproduces (its line is in etcd beside the online nodes'), runs
 * its full check (in a worker thread) and publishes its health, takes encrypted backup generations of
 * service.db + ledger.db + chunks.db on a schedule, prunes them, records them as a monitoring fact (no
 * ledger entry), and — read from /proc — listens on exactly one socket: its mTLS peer endpoint, which
 * refuses a user's client certificate and a caller without one. It refuses to start with a KEK.
 */
import "reflect-metadata";
import Database from "better-sqlite3";
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Etcd3 } from "etcd3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readNodeClusterConfig } from "../../src/cluster/cluster-agent.js";
import { clusterFiles, initCluster, nodeFiles } from "../../src/cluster/cluster-init.js";
import type { ClusterLedger } from "../../src/cluster/cluster-ledger.js";
import { etcdClientUrl, onlineNodes, type ClusterTopology } from "../../src/cluster/cluster-topology.js";
import { addEtcdMember, startEtcdMember, waitMemberHealthy } from "../../src/cluster/etcd-membership.js";
import { readHealthFacts } from "../../src/cluster/integrity/health-facts.js";
import { openNodeLedgerPort } from "../../src/cluster/node-ledger-port.js";
import { lastCosignedSizes, readClusterOverview } from "../../src/cluster/node-overview.js";
import { createPeerClient } from "../../src/cluster/peer/peer-client.js";
import { freePorts } from "../../src/cluster/processes/free-ports.js";
import { startSupervised, type SupervisedProcess } from "../../src/cluster/processes/supervised-process.js";
import { waitFor } from "../../src/cluster/processes/wait.js";
import { issueClientCertificate } from "../../src/crypto/pki/certificates.js";
import { fsck } from "../../src/ledger/fsck.js";
import { parseVerifierKey } from "../../src/ledger/verify/verifier-key.js";
import { backupKeyPath } from "../../src/service/backup/backup-key.js";
import { readBackupFile } from "../../src/service/backup/backup-file.js";
import { dataPaths } from "../../src/service/data-dir.js";
import { commandApplier } from "../../src/service/state-commands/registry.js";
import { chunkAddress } from "../../src/store/chunk-store.js";
import { openServiceDb, type ServiceDb } from "../../src/store/service-db.js";
import { openSqliteLog } from "../../src/store/sqlite-log.js";
import { noteRecord } from "../ledger/records.js";

const base = mkdtempSync(join(tmpdir(), "kenshin-offline-node-"));
const dir = join(base, "cluster");
let topology: ClusterTopology;
const processes: SupervisedProcess[] = [];
const online: { name: string; db: ServiceDb; port: ClusterLedger }[] = [];
let offline: SupervisedProcess | undefined;
let etcd: Etcd3;
let offlineDir: string;

beforeAll(async () => {
  const ports = await freePorts(1 + 4 * 4);
  topology = await initCluster({
    dir,
    online: 3,
    offline: 1,
    ports: { frontend: ports[0] ?? 0, nodes: [0, 1, 2, 3].map((i) => ports.slice(1 + 4 * i, 5 + 4 * i)) },
  });
  const files = clusterFiles(dir);
  const voters = onlineNodes(topology);
  for (const n of voters) processes.push(startEtcdMember(files.nodeDir(n.name)));
  await Promise.all(voters.map((n) => waitMemberHealthy(etcdClientUrl(n), { timeoutMs: 60_000 })));
  const hosts = voters.map(etcdClientUrl);
  await addEtcdMember(topology, "backup", { hosts, timeoutMs: 60_000 });
  const learner = startEtcdMember(files.nodeDir("backup"));
  processes.push(learner);
  const backupNode = topology.nodes.find((n) => n.name === "backup");
  if (backupNode === undefined) throw new Error("no backup node");
  await waitMemberHealthy(etcdClientUrl(backupNode), { timeoutMs: 60_000, process: learner });
  etcd = new Etcd3({ hosts, dialTimeout: 2000 });

  for (const n of voters) {
    const nodeDir = files.nodeDir(n.name);
    const config = readNodeClusterConfig(nodeDir);
    if (config === undefined) throw new Error("no cluster-node.json");
    const db = openServiceDb(join(nodeDir, "service.db"), { create: true });
    const apply = commandApplier({ commitPayload: () => undefined });
    const port = openNodeLedgerPort({
      dir: nodeDir,
      config,
      etcd,
      db,
      applyCommand: (c, r, into) => {
        apply(c, r, into);
      },
    });
    online.push({ name: n.name, db, port });
  }

  offlineDir = files.nodeDir("backup");
  const config = JSON.parse(readFileSync(join(offlineDir, "config.json"), "utf8")) as object;
  writeFileSync(join(offlineDir, "config.json"), JSON.stringify({ ...config, backup: { keep: 2 } }));
  offline = startSupervised(
    process.execPath,
    [
      "dist/cli/main.js",
      "cluster",
      "offline",
      "--data",
      offlineDir,
      "--check-interval-ms",
      "700",
      "--backup-interval-ms",
      "900",
    ],
    { logFile: join(base, "offline.log") },
  );
}, 120_000);

afterAll(async () => {
  await offline?.stop(3000);
  for (const o of online) {
    await o.port.close();
    o.db.close();
  }
  etcd.close();
  for (const p of [...processes].reverse()) await p.stop(3000);
  rmSync(base, { recursive: true, force: true });
}, 60_000);

/** waitFor, with the offline process's log in the error when it times out. */
async function waitWithLog<T>(
  probe: () => Promise<T | undefined>,
  o: { what: string; timeoutMs: number; intervalMs: number },
): Promise<T> {
  try {
    return await waitFor(probe, o);
  } catch (error) {
    const log =
      offline === undefined
        ? ""
        : readFileSync(offline.logFile, "utf8")
            .split("\n")
            .filter((l) => !l.startsWith("backup taken:"))
            .join("\n")
            .slice(-3000);
    throw new Error(`${String(error)}\n--- offline node log ---\n${log}`, { cause: error });
  }
}

function offlineLedgerSize(): number {
  const db = new Database(dataPaths(offlineDir).ledgerDb, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare("SELECT count(*) AS n FROM entries").get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/** TCP ports the process listens on: LISTEN rows of /proc/<pid>/net/tcp{,6} whose inode is one of its fds. */
function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m?.[1] !== undefined) inodes.add(m[1]);
    } catch {
      // closed meanwhile
    }
  }
  const ports: number[] = [];
  for (const table of ["tcp", "tcp6"]) {
    const lines = readFileSync(`/proc/${pid}/net/${table}`, "utf8").trim().split("\n").slice(1);
    for (const line of lines) {
      const cols = line.trim().split(/\s+/);
      const [local, , state, , , , , , , inode] = [cols[1], cols[2], cols[3], 0, 0, 0, 0, 0, 0, cols[9]];
      if (state === "0A" && inode !== undefined && inodes.has(inode) && local !== undefined) {
        ports.push(Number.parseInt(local.split(":")[1] ?? "0", 16));
      }
    }
  }
  return ports.sort((a, b) => a - b);
}

function request(
  url: string,
  tls: { ca: string; cert?: string; key?: string },
): Promise<{ status?: number; error?: string }> {
  return new Promise((resolve) => {
    const req = https.request(url, { ...tls, method: "GET", timeout: 5000 }, (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0 });
    });
    req.on("error", (e) => {
      resolve({ error: e.message });
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.end();
  });
}

describe("the offline backup node process", () => {
  it("follows, verifies, cosigns, keeps pruned encrypted generations with the chunks, and listens only on its peer endpoint", async () => {
    const proc = offline as SupervisedProcess;
    const files = clusterFiles(dir);
    const first = online[0] as (typeof online)[number];
    await waitWithLog(() => Promise.resolve(online.some((o) => o.port.status().sequencer) || undefined), {
      what: "a sequencer",
      timeoutMs: 30_000,
      intervalMs: 100,
    });

    // Payload ciphertext pushed to it the way the online nodes replicate (mTLS, node certificate).
    const node1 = nodeFiles(files.nodeDir("node1"));
    const client = createPeerClient({
      tls: {
        caCertPem: readFileSync(join(files.nodeDir("node1"), "ca", "ca.cert.pem"), "utf8"),
        certPem: readFileSync(node1.nodeCert, "utf8"),
        keyPem: readFileSync(node1.nodeKey, "utf8"),
      },
    });
    const backupConfig = readNodeClusterConfig(offlineDir);
    const backupPeer = { name: "backup", url: `https://127.0.0.1:${backupConfig?.listenPeer.port ?? 0}` };
    const pushed: string[] = [];
    await waitWithLog(
      async () => {
        if (!proc.running()) throw new Error(`offline exited: ${readFileSync(proc.logFile, "utf8")}`);
        try {
          const bytes = new Uint8Array(Buffer.from(`ciphertext chunk ${pushed.length}`));
          const address = chunkAddress(bytes);
          await client.pushChunk(backupPeer, address, bytes);
          pushed.push(address);
        } catch {
          return undefined;
        }
        return pushed.length >= 3 ? true : undefined;
      },
      { what: "chunks pushed to the offline node", timeoutMs: 60_000, intervalMs: 200 },
    );

    // Appends go on while it follows and takes generations.
    let n = 0;
    const appending = (async () => {
      for (; n < 60; n++) {
        await (online[n % 3] as (typeof online)[number]).port.append([{ record: noteRecord(n) }]);
      }
    })();
    await appending;
    const last = await first.port.append([{ record: noteRecord(1000) }]);
    const cp = await first.port.checkpointCovering((last[0] as { index: number }).index);
    await waitWithLog(() => Promise.resolve(offlineLedgerSize() >= cp.size || undefined), {
      what: "the offline copy at the published size",
      timeoutMs: 60_000,
      intervalMs: 200,
    });

    // It cosigned with its own witness key (an attestation beside the quorum).
    await waitWithLog(
      async () => ((await lastCosignedSizes(etcd, topology.prefix)).backup ?? 0) >= cp.size || undefined,
      { what: "the offline node's cosignature", timeoutMs: 60_000, intervalMs: 250 },
    );
    const witnessVkey = readFileSync(nodeFiles(offlineDir).witnessVerifierKey, "utf8").trim();
    const line = await etcd
      .get(`${topology.prefix}checkpoints/${String(cp.size).padStart(16, "0")}/cosig/backup`)
      .string();
    expect(line).toContain(`— ${parseVerifierKey(witnessVkey).name} `);

    // Its health (full check done, healthy) and its generations, as monitoring facts.
    const facts = await waitWithLog(
      async () => {
        const f = await readHealthFacts(etcd, topology.prefix);
        const h = f.integrity.backup;
        const b = f.backups.backup;
        return h?.lastFullCheck?.ok === true && b !== undefined && b.ledgerSize >= cp.size ? f : undefined;
      },
      { what: "health and backup facts", timeoutMs: 60_000, intervalMs: 250 },
    );
    expect(facts.integrity.backup?.state).toBe("healthy");
    // What monitoring (office page, `cluster status`) shows of it: integrity state, last check, generation.
    const overview = await readClusterOverview(etcd, topology.prefix, { topology });
    const row = overview.overview.find((r) => r.name === "backup");
    expect(row?.role).toBe("offline");
    expect(row?.integrity?.state).toBe("healthy");
    expect(row?.integrity?.lastFullCheck?.ok).toBe(true);
    expect(row?.backup?.files).toEqual(["service.db", "ledger.db", "chunks.db"]);
    expect(row?.lastCosignedSize).toBeGreaterThanOrEqual(cp.size);
    expect(facts.backups.backup?.files).toEqual(["service.db", "ledger.db", "chunks.db"]);
    // No backup.create entry: the offline node's copy holds exactly what the online nodes appended.
    expect(offlineLedgerSize()).toBeLessThanOrEqual(first.port.size());

    // Pruned to keep = 2; the newest verifies (sealed with its backup key; fsck of the ledger snapshot;
    // the chunks are there and hash to their addresses).
    const backups = join(offlineDir, "backups");
    await waitWithLog(
      async () =>
        ((await readHealthFacts(etcd, topology.prefix)).backups.backup?.generations ?? 0) === 2 || undefined,
      { what: "two generations kept", timeoutMs: 60_000, intervalMs: 250 },
    );
    const names = readdirSync(backups).filter((f) => f.endsWith(".kxb"));
    expect(names.length).toBeGreaterThanOrEqual(2);
    expect(names.length).toBeLessThanOrEqual(3);
    const newest = names.sort().at(-1) as string;
    const work = mkdtempSync(join(base, "unpack-"));
    const key = Buffer.from(readFileSync(backupKeyPath(dataPaths(offlineDir)), "utf8").trim(), "base64");
    const manifest = await readBackupFile({ file: join(backups, newest), key, dir: work });
    expect(manifest.files.map((f) => f.name)).toEqual(["service.db", "ledger.db", "chunks.db"]);
    const log = openSqliteLog(join(work, "ledger.db"));
    const vkey = parseVerifierKey(readFileSync(dataPaths(offlineDir).ledgerVerifierKey, "utf8").trim());
    expect(fsck(log, vkey).ok).toBe(true);
    log.close();
    const chunksDb = new Database(join(work, "chunks.db"), { readonly: true });
    const held = chunksDb.prepare("SELECT address, bytes FROM chunks").all() as {
      address: string;
      bytes: Buffer;
    }[];
    chunksDb.close();
    for (const a of pushed) {
      const row = held.find((h) => h.address === a);
      expect(row && chunkAddress(new Uint8Array(row.bytes))).toBe(a);
    }
    // The backup key is not a KEK, and there is no KEK anywhere in its directory.
    expect(readdirSync(join(offlineDir, "keys"))).not.toContain("kek.key");

    // Exactly one listening socket: the peer endpoint. No user-facing listener.
    expect(listeningPorts(proc.pid)).toEqual([backupConfig?.listenPeer.port]);
    const ca = readFileSync(join(offlineDir, "ca", "ca.cert.pem"), "utf8");
    const noCert = await request(`${backupPeer.url}/`, { ca });
    expect(noCert.status).toBeUndefined();
    const caMaterial = {
      certPem: readFileSync(files.caCert, "utf8"),
      keyPem: readFileSync(files.caKey, "utf8"),
    };
    const user = await issueClientCertificate(caMaterial, {
      loginId: "clinic-user",
      institutionId: "INS-TEST-1",
      institutionName: "テスト健診機関",
      now: new Date(),
      validityDays: 1,
    });
    const asUser = await request(`${backupPeer.url}/cluster/v1/chunks/${pushed[0] ?? ""}`, {
      ca,
      cert: user.certPem,
      key: user.keyPem,
    });
    expect(asUser.status).toBe(403);
    client.close();
    // Nothing it does on its own failed (etcd not answering at start is the only tolerated failure).
    const logged = readFileSync(proc.logFile, "utf8");
    expect(logged).toContain("backup taken:");
    expect(logged).not.toMatch(/(integrity|cosign|backup|backup fact) failed:/);
  }, 240_000);

  it("refuses to start with a KEK in its directory, or on an online node's directory", async () => {
    const run = (data: string): Promise<{ code: number | null; err: string }> =>
      new Promise((resolve) => {
        execFile(
          process.execPath,
          ["dist/cli/main.js", "cluster", "offline", "--data", data],
          { encoding: "utf8", timeout: 60_000 },
          (e, _out, err) => {
            resolve({ code: e ? (typeof e.code === "number" ? e.code : null) : 0, err });
          },
        );
      });
    const copy = mkdtempSync(join(base, "with-kek-"));
    // A directory like the offline node's, but with a KEK placed in it.
    for (const f of ["cluster-node.json", "config.json"]) {
      writeFileSync(join(copy, f), readFileSync(join(offlineDir, f)));
    }
    const { mkdirSync } = await import("node:fs");
    mkdirSync(join(copy, "keys"), { recursive: true });
    writeFileSync(join(copy, "keys", "kek.key"), "x\n", { mode: 0o600 });
    const withKek = await run(copy);
    expect(withKek.code).not.toBe(0);
    expect(withKek.err).toContain("CLUSTER_OPTION_INVALID");
    expect(withKek.err).toContain("kek.key");
    const onOnline = await run(clusterFiles(dir).nodeDir("node2"));
    expect(onOnline.code).not.toBe(0);
    expect(onOnline.err).toContain("オフライン");
  }, 120_000);
});
