/**
 * `cluster init|join` material, used for real: the etcd members are started from the configuration files
 * init wrote (3 voters, then the offline node added as a learner through etcd's API and started with its
 * own file, then a second backup joined the same way), haproxy checks the frontend configuration it
 * wrote, and the secrets are where they must be and nowhere else (no KEK or log key on the offline node).
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Etcd3 } from "etcd3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clusterFiles, initCluster, joinCluster, nodeFiles } from "../../src/cluster/cluster-init.js";
import { etcdClientUrl, readTopology, type ClusterTopology } from "../../src/cluster/cluster-topology.js";
import { addEtcdMember, startEtcdMember, waitMemberHealthy } from "../../src/cluster/etcd-membership.js";
import { freePorts } from "../../src/cluster/processes/free-ports.js";
import { HAPROXY_BINARY } from "../../src/cluster/processes/haproxy.js";
import { waitFor } from "../../src/cluster/processes/wait.js";
import type { SupervisedProcess } from "../../src/cluster/processes/supervised-process.js";
import { loadConfig } from "../../src/service/config.js";
import { dataPaths } from "../../src/service/data-dir.js";

let dir: string;
let topology: ClusterTopology;
const started: SupervisedProcess[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "kenshin-cluster-init-"));
  // https, peer, etcd client, etcd peer, last resort (the offline node's fifth is not used).
  const ports = await freePorts(1 + 5 * 4);
  topology = await initCluster({
    dir,
    online: 3,
    offline: 1,
    ports: { frontend: ports[0] ?? 0, nodes: [0, 1, 2, 3].map((i) => ports.slice(1 + 5 * i, 6 + 5 * i)) },
  });
});

afterAll(async () => {
  await Promise.all(started.map((p) => p.stop(3000)));
  rmSync(dir, { recursive: true, force: true });
});

const mode = (file: string): number => statSync(file).mode & 0o777;

describe("kenshin cluster init", () => {
  it("writes a topology of 3 online nodes and 1 offline node that reads back, with each node's view of its peers", () => {
    const files = clusterFiles(dir);
    expect(readTopology(files.topology)).toEqual(topology);
    expect(topology.nodes.map((n) => [n.name, n.role])).toEqual([
      ["node1", "online"],
      ["node2", "online"],
      ["node3", "online"],
      ["backup", "offline"],
    ]);
    const view = JSON.parse(readFileSync(nodeFiles(files.nodeDir("node2")).clusterConfig, "utf8")) as {
      online: { name: string }[];
      offline: { name: string }[];
      etcd: string[];
      quorum: number;
    };
    expect(view.online.map((p) => p.name)).toEqual(["node1", "node3"]);
    expect(view.offline.map((p) => p.name)).toEqual(["backup"]);
    expect(view.etcd).toHaveLength(3);
    expect(view.quorum).toBe(2);
    expect(readFileSync(files.cosigners, "utf8")).toMatch(/^quorum 2$/m);
  });

  it("gives online nodes the shared KEK, log key and CA key (owner-only) and the offline node none of them", () => {
    const files = clusterFiles(dir);
    const kek = (name: string) => readFileSync(dataPaths(files.nodeDir(name)).kek, "utf8");
    expect(kek("node1")).toBe(kek("node2"));
    expect(kek("node1")).toBe(kek("node3"));
    for (const name of ["node1", "node2", "node3"]) {
      const p = dataPaths(files.nodeDir(name));
      for (const secret of [p.kek, p.ledgerKey, p.caKey, p.serverKey, nodeFiles(p.dir).nodeKey]) {
        expect(mode(secret)).toBe(0o600);
      }
    }
    const backup = dataPaths(files.nodeDir("backup"));
    expect(existsSync(backup.kek)).toBe(false);
    expect(existsSync(backup.ledgerKey)).toBe(false);
    expect(existsSync(backup.caKey)).toBe(false);
    expect(existsSync(backup.serverKey)).toBe(false);
    expect(existsSync(nodeFiles(backup.dir).nodeKey)).toBe(true);
    // Each node its own witness key.
    const witness = topology.nodes.map((n) =>
      readFileSync(nodeFiles(files.nodeDir(n.name)).witnessVerifierKey, "utf8"),
    );
    expect(new Set(witness).size).toBe(4);
  });

  it("refuses to overwrite an existing cluster directory", async () => {
    await expect(initCluster({ dir })).rejects.toMatchObject({ code: "CLUSTER_OPTION_INVALID" });
  });

  it("writes a haproxy configuration that haproxy itself accepts", () => {
    const out = execFileSync(HAPROXY_BINARY, ["-c", "-f", clusterFiles(dir).haproxyConfig], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
    expect(out).toMatch(/valid/i);
  });

  it("has haproxy send PROXY v2 headers from the frontend's address, and every online node trust exactly it", async () => {
    const files = clusterFiles(dir);
    const cfg = readFileSync(files.haproxyConfig, "utf8");
    expect(cfg).toContain(`  source ${topology.frontend.host}\n`);
    const servers = cfg.split("\n").filter((l) => l.startsWith("  server ") && !l.includes(" backup"));
    expect(servers).toHaveLength(3);
    for (const line of servers) expect(line).toContain(" send-proxy-v2 check-send-proxy ");
    for (const n of topology.nodes.filter((x) => x.role === "online")) {
      const config = await loadConfig(dataPaths(files.nodeDir(n.name)).config, {});
      expect(config.proxy.trusted).toEqual([topology.frontend.host]);
    }
  });

  it("gives each online node a last-resort port: in its config, and as an unchecked haproxy backup server", async () => {
    const files = clusterFiles(dir);
    const cfg = readFileSync(files.haproxyConfig, "utf8");
    expect(cfg).toContain("\n  option allbackups\n");
    const backups = cfg.split("\n").filter((l) => l.includes(" backup"));
    const online = topology.nodes.filter((x) => x.role === "online");
    expect(backups).toEqual(
      online.map(
        (n) => `  server ${n.name}-last-resort ${n.host}:${n.ports.lastResort ?? 0} backup send-proxy-v2`,
      ),
    );
    for (const n of online) {
      const config = await loadConfig(dataPaths(files.nodeDir(n.name)).config, {});
      expect(config.listen.lastResortPort).toBe(n.ports.lastResort);
      expect(config.listen.lastResortPort).not.toBe(config.listen.port);
    }
    expect(topology.nodes.find((x) => x.role === "offline")?.ports.lastResort).toBeUndefined();
  });

  it("writes etcd configurations that etcd runs: 3 voters, then the offline node as a learner; a second backup joins as a watcher (etcd 3.4 allows one learner)", async () => {
    const files = clusterFiles(dir);
    const voters = ["node1", "node2", "node3"];
    for (const name of voters) started.push(startEtcdMember(files.nodeDir(name)));
    const hosts = topology.nodes.filter((n) => n.role === "online").map(etcdClientUrl);
    await Promise.all(
      topology.nodes
        .filter((n) => n.role === "online")
        .map((n) => waitMemberHealthy(etcdClientUrl(n), { timeoutMs: 30_000 })),
    );
    expect(await addEtcdMember(topology, "backup", { hosts })).toBe("added");
    expect(await addEtcdMember(topology, "backup", { hosts })).toBe("present");
    const backup = startEtcdMember(files.nodeDir("backup"));
    started.push(backup);
    const backupNode = topology.nodes.find((n) => n.name === "backup");
    if (backupNode === undefined) throw new Error("no backup");
    await waitMemberHealthy(etcdClientUrl(backupNode), { timeoutMs: 30_000, process: backup });

    const [p0, p1, p2, p3] = await freePorts(4);
    const joined = await joinCluster({
      dir,
      name: "backup2",
      role: "offline",
      ports: [p0 ?? 0, p1 ?? 0, p2 ?? 0, p3 ?? 0],
    });
    expect(existsSync(dataPaths(files.nodeDir("backup2")).kek)).toBe(false);
    expect(await addEtcdMember(joined, "backup2", { hosts })).toBe("watcher");
    expect(existsSync(nodeFiles(files.nodeDir("backup2")).etcdConfig)).toBe(false);
    const watcher = JSON.parse(readFileSync(nodeFiles(files.nodeDir("backup2")).clusterConfig, "utf8")) as {
      etcd: string[];
    };
    expect(watcher.etcd).toEqual(hosts);

    const client = new Etcd3({ hosts, dialTimeout: 2000 });
    try {
      const { members } = await client.cluster.memberList({});
      expect(members.map((m) => [m.name, m.isLearner]).sort()).toEqual([
        ["backup", true],
        ["node1", false],
        ["node2", false],
        ["node3", false],
      ]);
      // A write through the voters reaches the learner (it follows the Raft log).
      await client.put("kenshin/probe").value("x");
      const learner = new Etcd3({ hosts: etcdClientUrl(backupNode), dialTimeout: 2000 });
      try {
        // A learner serves serializable reads from its own copy, once the write has reached it.
        await waitFor(
          async () =>
            (await learner.get("kenshin/probe").serializable(true).string()) === "x" ? true : undefined,
          { what: "learner has the write", timeoutMs: 10_000 },
        );
      } finally {
        learner.close();
      }
    } finally {
      client.close();
    }
    // Every node's view now names the second backup.
    const view = JSON.parse(readFileSync(nodeFiles(files.nodeDir("node1")).clusterConfig, "utf8")) as {
      offline: { name: string }[];
    };
    expect(view.offline.map((p) => p.name)).toEqual(["backup", "backup2"]);
  });
});
