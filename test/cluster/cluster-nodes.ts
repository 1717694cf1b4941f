/**
 * In-process cluster nodes for the cluster ledger's integration tests: each node its own directory with
 * its own ledger.db and service.db (with the contract's test table), a ClusterLedger on a real etcd, the
 * shared log key and its own witness key.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Etcd3 } from "etcd3";
import { ClusterLedger, type ClusterLedgerOptions } from "../../src/cluster/cluster-ledger.js";
import type { NoteKey } from "../../src/crypto/note-key.js";
import { createCosigner } from "../../src/crypto/note-signer.js";
import { openServiceDb, type ServiceDb } from "../../src/store/service-db.js";
import { createSqliteLog, openSqliteLog } from "../../src/store/sqlite-log.js";
import { createTestTable, testApplier } from "../support/write-port-contract.js";
import type { CosigningFixture } from "./cosigning-fixture.js";

export interface TestNode {
  readonly name: string;
  readonly dir: string;
  readonly client: Etcd3;
  readonly db: ServiceDb;
  /** Witness key index (0..2), undefined for the offline node. */
  readonly index: number | undefined;
  ledger: ClusterLedger;
}

export interface NodeSet {
  readonly nodes: TestNode[];
  start(
    name: string,
    index: number | undefined,
    hosts: string[],
    extra?: Partial<ClusterLedgerOptions>,
  ): TestNode;
  /** A new ClusterLedger on the node's existing files (after `close`). */
  reopen(node: TestNode, extra?: Partial<ClusterLedgerOptions>): ClusterLedger;
  closeAll(): Promise<void>;
}

export function nodeSet(o: { dir: () => string; prefix: string; keys: CosigningFixture }): NodeSet {
  const nodes: TestNode[] = [];
  const policy = { cosigners: o.keys.cosignerKeys, quorum: 2 };
  const open = (node: Omit<TestNode, "ledger">, extra: Partial<ClusterLedgerOptions>): ClusterLedger => {
    const path = join(node.dir, "ledger.db");
    let storage;
    try {
      storage = openSqliteLog(path);
    } catch {
      storage = createSqliteLog({
        path,
        origin: o.keys.logSigner.name,
        verifierKey: o.keys.logSigner.verifierKey,
      });
    }
    const key = node.index === undefined ? undefined : (o.keys.nodeKeys[node.index] as NoteKey);
    return new ClusterLedger({
      client: node.client,
      prefix: o.prefix,
      nodeName: node.name,
      storage,
      db: node.db,
      applyCommand: testApplier,
      // The offline node holds no log key, only its verifier key.
      ...(key === undefined
        ? { offline: true, logVerifierKey: o.keys.logSigner.verifierKey }
        : { logSigner: o.keys.logSigner, cosigner: createCosigner(key, Date.now) }),
      policy,
      checkpointIntervalMs: 300,
      ...extra,
    }).start();
  };
  return {
    nodes,
    start(name, index, hosts, extra = {}) {
      const dir = join(o.dir(), name);
      mkdirSync(dir, { recursive: true });
      const client = new Etcd3({ hosts, dialTimeout: 2000 });
      const db = openServiceDb(join(dir, "service.db"), { create: true });
      createTestTable(db);
      const base = { name, dir, client, db, index };
      const node: TestNode = { ...base, ledger: open(base, extra) };
      nodes.push(node);
      return node;
    },
    reopen(node, extra = {}) {
      node.ledger = open(node, extra);
      return node.ledger;
    },
    async closeAll() {
      for (const n of nodes) {
        await n.ledger.close().catch(() => undefined);
        n.db.close();
        n.client.close();
      }
    },
  };
}

export async function until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
