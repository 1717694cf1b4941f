/**
 * `kenshin cluster status` against a real etcd cluster with a real sequencer and followers: members,
 * sequencer, head and per-node lag, and the exit code when an etcd member is down or etcd is unreachable.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { Etcd3 } from "etcd3";
import { afterAll, describe, expect, it } from "vitest";
import { GENESIS, logKeys } from "../../src/cluster/command-log/command-batch.js";
import { startFollower } from "../../src/cluster/command-log/log-follower.js";
import { startSequencer } from "../../src/cluster/command-log/sequencer.js";
import { submitCommand } from "../../src/cluster/command-log/submit-command.js";
import { publishPresence } from "../../src/cluster/node-presence.js";
import { useEtcdCluster } from "./etcd-suite.js";

const suite = useEtcdCluster();
const PREFIX = "status-test/";
const keys = logKeys(PREFIX);
const stops: (() => Promise<void>)[] = [];
let client: Etcd3 | undefined;

afterAll(async () => {
  for (const stop of stops) await stop();
  client?.close();
});

function status(hosts: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [
        "dist/cli/main.js",
        "cluster",
        "status",
        "--etcd",
        hosts.join(","),
        "--prefix",
        PREFIX,
        "--json",
        "--timeout-ms",
        "1500",
      ],
      { encoding: "utf8", timeout: 60_000 },
      (error, stdout, stderr) => {
        resolve({
          code: error ? (typeof error.code === "number" ? error.code : null) : 0,
          out: stdout,
          err: stderr,
        });
      },
    );
  });
}

interface StatusJson {
  ok: boolean;
  etcd: { name: string; healthy: boolean; raftLeader: boolean; learner: boolean }[];
  sequencer?: string;
  head: number;
  nodes: { name: string; applied: number; lag: number }[];
  overview: {
    name: string;
    role: string;
    state: string;
    applied: number;
    lag: number;
    lastCosignedSize: number;
  }[];
  publishedSize: number;
}

describe("kenshin cluster status", () => {
  it("shows the members, the sequencer, the head and each node's lag", async () => {
    client = new Etcd3({ hosts: suite.cluster().clientUrls() });
    const c = client;
    const sequencer = startSequencer({ client: c, keys, nodeName: "node1", leaseTtlSeconds: 2 });
    stops.push(() => sequencer.stop());
    const follower = startFollower({
      client: c,
      keys,
      nodeName: "node1",
      from: GENESIS,
      apply: () => undefined,
    });
    stops.push(() => follower.stop());
    for (let i = 0; i < 3; i++) {
      await submitCommand(c, keys, { id: randomBytes(8).toString("hex"), origin: "node1", body: i });
      await follower.waitFor(i + 1);
    }
    // A node that stopped after the first batch.
    await c.put(`${keys.applied}node2`).value("1");
    await expect.poll(async () => c.get(`${keys.applied}node1`).string(), { timeout: 5000 }).toBe("3");
    await expect.poll(async () => c.election(keys.election).leader(), { timeout: 10_000 }).toBe("node1");

    const r = await status(suite.cluster().clientUrls());
    expect(r.code).toBe(0);
    const s = JSON.parse(r.out) as StatusJson;
    expect(s.ok).toBe(true);
    expect(s.etcd.map((m) => m.name).sort()).toEqual(["etcd1", "etcd2", "etcd3"]);
    expect(s.etcd.every((m) => m.healthy && !m.learner)).toBe(true);
    expect(s.etcd.filter((m) => m.raftLeader)).toHaveLength(1);
    expect(s.sequencer).toBe("node1");
    expect(s.head).toBe(3);
    expect(s.nodes).toEqual([
      { name: "node1", applied: 3, lag: 0 },
      { name: "node2", applied: 1, lag: 2 },
    ]);
  });

  it("exits 1 with the member marked unhealthy while an etcd member is down", async () => {
    await suite.cluster().kill9("etcd2");
    const r = await status(suite.cluster().clientUrls());
    expect(r.code).toBe(1);
    const s = JSON.parse(r.out) as StatusJson;
    expect(s.ok).toBe(false);
    expect(s.etcd.find((m) => m.name === "etcd2")?.healthy).toBe(false);
    expect(s.etcd.filter((m) => m.healthy)).toHaveLength(2);
    await suite.cluster().restart("etcd2");
  });

  it("exits 2 with CLUSTER_UNAVAILABLE when etcd cannot be reached, and refuses bad flags", async () => {
    const r = await status(["http://127.0.0.1:1"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("CLUSTER_UNAVAILABLE");
    const bad = await status(["ftp://127.0.0.1:2379"]);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("CLUSTER_OPTION_INVALID");
  });

  it("shows each node's state from its presence lease, and the last checkpoint it cosigned; a node whose lease ends is down", async () => {
    const c = client ?? new Etcd3({ hosts: suite.cluster().clientUrls() });
    client = c;
    const node1 = publishPresence(c, {
      prefix: PREFIX,
      node: "node1",
      role: "online",
      facts: () => ({ quorum: true, health: "healthy", lag: 0 }),
    });
    // node2 starts far behind (catching-up), then loses its majority: read-only.
    const facts2 = { quorum: true, health: "healthy" as const, lag: 100 };
    const node2 = publishPresence(c, { prefix: PREFIX, node: "node2", role: "online", facts: () => facts2 });
    stops.push(
      () => node1.stop(),
      () => node2.stop(),
    );
    expect(node2.current()).toBe("catching-up");
    facts2.quorum = false;
    await node2.refresh();
    expect(node2.current()).toBe("read-only");
    // What cosign-exchange writes: one key per node and checkpoint size.
    await c.put(`${PREFIX}checkpoints/${"3".padStart(16, "0")}/cosig/node1`).value("line");
    await c.put(`${PREFIX}checkpoints/${"7".padStart(16, "0")}/cosig/node1`).value("line");
    await c.put(`${PREFIX}checkpoints/${"3".padStart(16, "0")}/cosig/node2`).value("line");
    await expect
      .poll(
        async () => (JSON.parse((await status(suite.cluster().clientUrls())).out) as StatusJson).overview,
        {
          timeout: 10_000,
        },
      )
      .toEqual([
        {
          name: "node1",
          role: "online",
          state: "serving",
          since: expect.any(String) as string,
          applied: 3,
          lag: 0,
          lastCosignedSize: 7,
        },
        {
          name: "node2",
          role: "online",
          state: "read-only",
          since: expect.any(String) as string,
          applied: 1,
          lag: 2,
          lastCosignedSize: 3,
        },
      ]);
    await node2.stop();
    const s = JSON.parse((await status(suite.cluster().clientUrls())).out) as StatusJson;
    expect(s.overview.find((n) => n.name === "node2")?.state).toBe("down");
  });
});
