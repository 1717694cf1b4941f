/**
 * What the tamper tests on the whole replicated service (test/cluster/service-tamper*.int.test.ts) look at
 * on every node: the repair entries in a node's ledger.db, fsck of each node's own copy, the victim's
 * health as it publishes it in etcd, and one logged-in client per role through haproxy.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { Etcd3, type Watcher } from "etcd3";
import type { ApiClient } from "../../src/client/api-client.js";
import { etcdClientUrl } from "../../src/cluster/cluster-topology.js";
import { integrityFactKey } from "../../src/cluster/integrity/health-facts.js";
import type { NodeHealthSnapshot } from "../../src/cluster/integrity/node-health.js";
import { fsck, type FsckResult } from "../../src/ledger/fsck.js";
import { parseVerifierKey } from "../../src/ledger/verify/verifier-key.js";
import { openSqliteLog } from "../../src/store/sqlite-log.js";
import type { ServiceCluster } from "./service-cluster.js";
import { firstLogin } from "./test-node.js";

/** A node's ledger.db. */
export function ledgerDbOf(c: ServiceCluster, name: string): string {
  return join(c.files.nodeDir(name), "ledger.db");
}

/** The entries of a node's ledger whose record is a repair (the type as the canonical bytes carry it). */
export function repairRecords(ledgerDb: string): { idx: number; text: string }[] {
  const db = new Database(ledgerDb, { readonly: true });
  try {
    return (
      db.prepare("SELECT idx, entry FROM entries ORDER BY idx").all() as { idx: number; entry: Buffer }[]
    )
      .map((r) => ({ idx: r.idx, text: r.entry.toString("utf8") }))
      .filter((r) => r.text.includes('"type":"repair"'));
  } finally {
    db.close();
  }
}

/** The indexes of a node's repair entries. */
export function repairEntries(ledgerDb: string): number[] {
  return repairRecords(ledgerDb).map((r) => r.idx);
}

/** A transport failure's code (ECONNREFUSED…), or its message. */
export function transportCode(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === "string" ? code : error instanceof Error ? error.message : "error";
}

/** One client per role through haproxy, logged in once (for the whole test file). */
export function loggedInClients(
  cluster: () => ServiceCluster,
): (role: "sender" | "receiver") => Promise<ApiClient> {
  const users = new Map<"sender" | "receiver", ApiClient>();
  return async (role) => {
    const known = users.get(role);
    if (known !== undefined) return known;
    const c = cluster();
    const client = c.client(role);
    await firstLogin(client, c.account(role).loginId, c.account(role).password);
    users.set(role, client);
    return client;
  };
}

/** fsck of each named node's own ledger.db (a separate connection, under the running node). */
export function fsckEach(c: ServiceCluster, names: readonly string[]): Map<string, FsckResult> {
  const logKey = parseVerifierKey(readFileSync(c.files.logVerifierKey, "utf8").trim());
  const out = new Map<string, FsckResult>();
  for (const name of names) {
    const storage = openSqliteLog(ledgerDbOf(c, name));
    try {
      out.set(name, fsck(storage, logKey));
    } finally {
      storage.close();
    }
  }
  return out;
}

/** A node's health states as it publishes them in etcd, in order, from now on. */
export interface HealthWatch {
  readonly states: string[];
  /** The last published fact. */
  fact(): Promise<NodeHealthSnapshot>;
  stop(): Promise<void>;
}

export async function watchHealth(c: ServiceCluster, name: string): Promise<HealthWatch> {
  const hosts = c.topology.nodes.filter((n) => n.role === "online").map((n) => etcdClientUrl(n));
  const etcd = new Etcd3({ hosts, dialTimeout: 2000 });
  const key = integrityFactKey(c.topology.prefix, name);
  const states: string[] = [];
  let watcher: Watcher;
  try {
    watcher = await etcd.watch().key(key).create();
  } catch (error) {
    etcd.close();
    throw error;
  }
  watcher.on("put", (kv) => {
    states.push((JSON.parse(kv.value.toString("utf8")) as NodeHealthSnapshot).state);
  });
  return {
    states,
    fact: async () => JSON.parse((await etcd.get(key).string()) ?? "{}") as NodeHealthSnapshot,
    async stop() {
      await watcher.cancel();
      etcd.close();
    },
  };
}
