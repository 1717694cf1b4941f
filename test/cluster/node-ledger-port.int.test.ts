/**
 * A cluster node's ledger port opened from what `kenshin cluster init` made (real material: shared log
 * key, witness keys, cosigners.txt, cluster-node.json) on a real etcd: three online nodes and the
 * offline node (no log key) build their own ledger.db from the log, reach the same copy, and publish a
 * checkpoint that verifies under the pinned cosigners of cosigners.txt.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readNodeClusterConfig } from "../../src/cluster/cluster-agent.js";
import { clusterFiles, initCluster } from "../../src/cluster/cluster-init.js";
import type { ClusterLedger } from "../../src/cluster/cluster-ledger.js";
import { openNodeLedgerPort, readCosignerPolicy } from "../../src/cluster/node-ledger-port.js";
import { toHex } from "../../src/ledger/verify/encoding.js";
import { openPublishedCheckpoint } from "../../src/ledger/verify/published-checkpoint.js";
import { parseVerifierKey } from "../../src/ledger/verify/verifier-key.js";
import { openServiceDb, type ServiceDb } from "../../src/store/service-db.js";
import { noteRecord } from "../ledger/records.js";
import { createTestTable, put, testApplier, testRows } from "../support/write-port-contract.js";
import { until } from "./cluster-nodes.js";
import { useEtcdCluster } from "./etcd-suite.js";

const suite = useEtcdCluster();
const opened: { name: string; dir: string; db: ServiceDb; port: ClusterLedger }[] = [];

beforeAll(async () => {
  const dir = join(suite.dir(), "material");
  const topology = await initCluster({ dir, online: 3, offline: 1, host: "127.0.0.1", basePort: 47000 });
  for (const n of topology.nodes) {
    const nodeDir = clusterFiles(dir).nodeDir(n.name);
    const config = readNodeClusterConfig(nodeDir);
    if (config === undefined) throw new Error("no cluster-node.json");
    const db = openServiceDb(join(nodeDir, "service.db"), { create: true });
    createTestTable(db);
    const port = openNodeLedgerPort({
      dir: nodeDir,
      config,
      etcd: suite.cluster().client(),
      db,
      applyCommand: testApplier,
    });
    opened.push({ name: n.name, dir: nodeDir, db, port });
  }
}, 60_000);

afterAll(async () => {
  for (const o of opened) {
    await o.port.close();
    o.db.close();
  }
});

describe("a cluster node's port from its data directory", () => {
  it("builds every node's own copy from the log and publishes under the pinned cosigners", async () => {
    const online = opened.filter((o) => readNodeClusterConfig(o.dir)?.role === "online");
    expect(online).toHaveLength(3);
    await until("a sequencer", () => opened.some((o) => o.port.status().sequencer));
    for (const [i, o] of online.entries()) {
      await o.port.append([{ record: noteRecord(i) }], { command: put(`node-port-${i}`, o.name) });
    }
    const first = opened[0] as (typeof opened)[number];
    const last = await first.port.append([{ record: noteRecord(99) }]);
    const cp = await first.port.checkpointCovering((last[0] as { index: number }).index);
    await until("every node at the same size", () =>
      opened.every((o) => o.port.size() === first.port.size()),
    );
    for (const o of opened) {
      expect(toHex(o.port.root())).toBe(toHex(first.port.root()));
      expect(testRows(o.db)).toEqual(testRows(first.db));
    }
    const logKey = parseVerifierKey(readFileSync(join(first.dir, "keys", "ledger.vkey"), "utf8").trim());
    const opened2 = openPublishedCheckpoint(cp.note, logKey, readCosignerPolicy(first.dir));
    expect(opened2.cosignatures.length).toBeGreaterThanOrEqual(2);
  }, 60_000);
});
