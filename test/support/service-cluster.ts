/**
 * The whole replicated service for integration tests, started the way `kenshin demo --cluster` starts
 * it (cluster/cluster-demo.ts): `kenshin cluster init` material on free 127.0.0.1 ports, 3 real etcd 3.4
 * voting members + the offline node's learner, the first office ID and the demo accounts issued as
 * commands through node1 (`kenshin cluster bootstrap`), 3 real `kenshin serve` processes (from dist/)
 * and the offline node as `kenshin cluster agent`, and real haproxy in TLS pass-through with HTTPS
 * health checks in front of the online nodes. One per test file (beforeAll/afterAll); every process is
 * stopped or SIGKILLed by its own PID; waits are bounded.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { afterAll, beforeAll } from "vitest";
import { createApiClient, type ApiClient } from "../../src/client/api-client.js";
import { clusterFiles, type ClusterFiles } from "../../src/cluster/cluster-init.js";
import { startClusterDemo, startNodeProcess, type NodeCommand } from "../../src/cluster/cluster-demo.js";
import { etcdClientUrl, type ClusterTopology } from "../../src/cluster/cluster-topology.js";
import { startEtcdMember, waitMemberHealthy } from "../../src/cluster/etcd-membership.js";
import {
  haproxyBackendStatus,
  haproxyServed,
  type BackendStatus,
} from "../../src/cluster/processes/haproxy.js";
import type { SupervisedProcess } from "../../src/cluster/processes/supervised-process.js";
import { waitFor } from "../../src/cluster/processes/wait.js";
import { bootstrapCluster } from "../../src/service/cluster/cluster-bootstrap.js";
import { isCodedError } from "../../src/coded-error.js";
import type { DemoAccount } from "../../src/service/demo.js";
import { EXAMPLE_DIR } from "./test-node.js";

const CLI = fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));

/**
 * An online node serves (`kenshin serve`); the offline node runs without a user listener: as
 * `kenshin cluster agent` (follows only), or as the whole offline node (`kenshin cluster offline`:
 * cosigns, keeps backup generations every `backupIntervalMs`).
 */
function nodeCommandFor(o: ServiceClusterOptions): NodeCommand {
  const offline =
    o.offlineNode === undefined
      ? ["cluster", "agent"]
      : ["cluster", "offline", "--backup-interval-ms", String(o.offlineNode.backupIntervalMs)];
  return (node) => ({
    command: process.execPath,
    args: [CLI, ...(node.role === "online" ? ["serve"] : offline), "--data", node.dir],
  });
}

/** Options (additive; the default is what every test used before). */
export interface ServiceClusterOptions {
  /** Run the offline node as `kenshin cluster offline` (default: `kenshin cluster agent`). */
  readonly offlineNode?: { readonly backupIntervalMs: number };
}

export interface ServiceCluster {
  readonly dir: string;
  readonly files: ClusterFiles;
  readonly topology: ClusterTopology;
  readonly caPem: string;
  /** The one address users reach (haproxy). */
  readonly frontend: string;
  readonly accounts: readonly DemoAccount[];
  account(role: DemoAccount["role"]): DemoAccount;
  /** A client with the account's certificate: through haproxy, or straight to one online node. */
  client(role: DemoAccount["role"], o?: { node?: string }): ApiClient;
  /** An online node's own HTTPS address. */
  nodeUrl(name: string): string;
  kill9Node(name: string): Promise<void>;
  startNode(name: string): void;
  kill9Etcd(name: string): Promise<void>;
  startEtcd(name: string): Promise<void>;
  nodeProcess(name: string): SupervisedProcess | undefined;
  backendStatus(): Promise<Record<string, BackendStatus>>;
  /** The online node haproxy sent the most connections to so far. */
  busiest(): Promise<string>;
  waitBackend(name: string, status: BackendStatus, timeoutMs?: number): Promise<void>;
  /** Runs `read` on a read-only connection to a node's service.db (closed afterwards). */
  serviceDb<T>(name: string, read: (db: Database.Database) => T): T;
  /** Waits until every named node applied the same command-log position. */
  waitSamePosition(names: readonly string[], timeoutMs?: number): Promise<{ seq: number; hash: string }>;
  stop(): Promise<void>;
}

export async function startServiceCluster(o: ServiceClusterOptions = {}): Promise<ServiceCluster> {
  const nodeCommand = nodeCommandFor(o);
  const base = mkdtempSync(join(tmpdir(), "kenshin-service-cluster-"));
  const dir = join(base, "cluster");
  let accounts: DemoAccount[] = [];
  const clients: ApiClient[] = [];
  const demo = await startClusterDemo({
    dir,
    nodeCommand,
    startTimeoutMs: 120_000,
    beforeNodes: async (files, topology) => {
      const first = topology.nodes.find((n) => n.role === "online");
      if (first === undefined) throw new Error("no online node");
      const made = await bootstrapCluster(files.nodeDir(first.name), {
        exampleMapping: join(EXAMPLE_DIR, "mapping.yaml"),
      });
      accounts = [...made.accounts];
    },
  }).catch((error: unknown) => {
    // The failing process's log tail (CLUSTER_PROCESS_EXITED carries it) is gone with the directory, and
    // the test report prints only the message: write it out, so a start that failed in CI can be read.
    const log = isCodedError(error) ? error.context["log"] : undefined;
    if (typeof log === "string") process.stderr.write(`service cluster start failed; log tail:\n${log}\n`);
    rmSync(base, { recursive: true, force: true });
    throw error;
  });
  const files = clusterFiles(dir);
  const topology = demo.topology;
  const processes = new Map<string, SupervisedProcess>();
  for (const s of demo.processes) processes.set(s.what.replace(/ \(learner\)$/, ""), s.process);
  const restarted: SupervisedProcess[] = [];
  const nodeOf = (name: string) => {
    const n = topology.nodes.find((x) => x.name === name);
    if (n === undefined) throw new Error(`no node ${name}`);
    return n;
  };
  const caPem = readFileSync(files.caCert, "utf8");
  const account = (role: DemoAccount["role"]): DemoAccount => {
    const a = accounts.find((x) => x.role === role);
    if (a === undefined) throw new Error(`no ${role} account`);
    return a;
  };
  const nodeUrl = (name: string): string => `https://127.0.0.1:${nodeOf(name).ports.https ?? 0}/`;
  const position = (name: string): { seq: number; hash: string } | undefined => {
    try {
      return serviceDb(name, (db) =>
        db.prepare("SELECT seq, hash FROM cluster_position WHERE id = 1").get(),
      ) as { seq: number; hash: string } | undefined;
    } catch {
      return undefined;
    }
  };
  const serviceDb = <T>(name: string, read: (db: Database.Database) => T): T => {
    const db = new Database(join(files.nodeDir(name), "service.db"), { readonly: true });
    try {
      return read(db);
    } finally {
      db.close();
    }
  };
  return {
    dir,
    files,
    topology,
    caPem,
    frontend: `https://127.0.0.1:${topology.frontend.port}/`,
    accounts,
    account,
    client(role, o = {}) {
      const a = account(role);
      const c = createApiClient({
        baseUrl: o.node === undefined ? `https://127.0.0.1:${topology.frontend.port}/` : nodeUrl(o.node),
        // Through haproxy a node's INTEGRITY_FAILURE is asked again (another node answers); straight to
        // one node it is that node's answer.
        loadBalanced: o.node === undefined,
        caPem,
        certPem: readFileSync(a.certificate, "utf8"),
        keyPem: readFileSync(a.key, "utf8"),
        // Above the server's own bound for a state change caught by a lost majority (its ordering gives up
        // after 20 s, the withdrawal has 5 s more): a slow answer is not a failure here, a hang still is.
        timeoutMs: 60_000,
      });
      clients.push(c);
      return c;
    },
    nodeUrl,
    async kill9Node(name) {
      await processes.get(`node ${name}`)?.kill9();
    },
    startNode(name) {
      const p = startNodeProcess(files, nodeOf(name), nodeCommand);
      processes.set(`node ${name}`, p);
      restarted.push(p);
    },
    async kill9Etcd(name) {
      await processes.get(`etcd ${name}`)?.kill9();
    },
    async startEtcd(name) {
      const p = startEtcdMember(files.nodeDir(name));
      processes.set(`etcd ${name}`, p);
      restarted.push(p);
      await waitMemberHealthy(etcdClientUrl(nodeOf(name)), { timeoutMs: 60_000, process: p });
    },
    nodeProcess: (name) => processes.get(`node ${name}`),
    backendStatus: () => haproxyBackendStatus(files.haproxySocket),
    async busiest() {
      const served = Object.entries(await haproxyServed(files.haproxySocket));
      served.sort((a, b) => b[1] - a[1]);
      return served[0]?.[0] ?? "";
    },
    async waitBackend(name, status, timeoutMs = 60_000) {
      await waitFor(
        async () =>
          (await haproxyBackendStatus(files.haproxySocket).catch((): Record<string, BackendStatus> => ({})))[
            name
          ] === status
            ? true
            : undefined,
        { what: `haproxy: ${name} ${status}`, timeoutMs, intervalMs: 250 },
      );
    },
    serviceDb,
    async waitSamePosition(names, timeoutMs = 90_000) {
      return waitFor(
        () => {
          const seen = names.map(position);
          const first = seen[0];
          if (first === undefined) return Promise.resolve(undefined);
          const same = seen.every((p) => p !== undefined && p.seq === first.seq && p.hash === first.hash);
          return Promise.resolve(same ? first : undefined);
        },
        { what: `same log position on ${names.join(", ")}`, timeoutMs, intervalMs: 250 },
      );
    },
    async stop() {
      for (const c of clients) c.close();
      // Restarted processes first (newest first), then what the demo started.
      for (const p of [...restarted].reverse()) await p.stop(3000);
      await demo.stop();
      // KENSHIN_TEST_KEEP=1 keeps the directory (node logs) to look at a failure.
      if (process.env["KENSHIN_TEST_KEEP"] !== "1") rmSync(base, { recursive: true, force: true });
      else process.stderr.write(`kept ${base}\n`);
    },
  };
}

/** One service cluster per test file. */
export function useServiceCluster(o: ServiceClusterOptions = {}): () => ServiceCluster {
  let cluster: ServiceCluster | undefined;
  beforeAll(async () => {
    cluster = await startServiceCluster(o);
  }, 240_000);
  afterAll(async () => {
    await cluster?.stop();
  }, 120_000);
  return () => {
    if (cluster === undefined) throw new Error("service cluster not started");
    return cluster;
  };
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}
