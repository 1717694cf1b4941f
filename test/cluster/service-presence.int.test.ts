/**
 * A node's presence through the whole service (test/support/service-cluster.ts: real etcd, real node
 * processes from dist/, real haproxy): node3 SIGKILLed, many state changes made through haproxy while it
 * is down, node3 started again → its presence in etcd goes "catching-up" (from its start, while it
 * applies what it missed) and then "serving", and it says "serving" only once its own copy is near the
 * head it had to reach. Before, presence never showed "catching-up" (a restarted node said "serving").
 */
import { Etcd3 } from "etcd3";
import { describe, expect, it } from "vitest";
import { logKeys } from "../../src/cluster/command-log/command-batch.js";
import { etcdClientUrl } from "../../src/cluster/cluster-topology.js";
import { DEFAULT_LAG_BOUNDS, presenceKey } from "../../src/cluster/node-presence.js";
import { waitFor } from "../../src/cluster/processes/wait.js";
import { useServiceCluster } from "../support/service-cluster.js";
import { firstLogin } from "../support/test-node.js";

const cluster = useServiceCluster();

describe("presence of a node that was down", () => {
  it("goes catching-up then serving after a restart behind the head, serving only near the head", async () => {
    const c = cluster();
    const etcd = new Etcd3({ hosts: c.topology.nodes.filter((n) => n.role === "online").map(etcdClientUrl) });
    try {
      const sender = c.client("sender");
      const first = await firstLogin(sender, c.account("sender").loginId, c.account("sender").password);
      await c.waitSamePosition(["node1", "node2", "node3"]);
      await c.kill9Node("node3");
      await c.waitBackend("node3", "DOWN");
      // Many state changes while node3 is down: each login opens a session (one command each).
      for (let i = 0; i < 40; i++) {
        expect((await sender.login(c.account("sender").loginId, first.password)).status).toBe(201);
      }
      const headText = await etcd.get(logKeys(c.topology.prefix).head).string();
      const head = (JSON.parse(headText ?? "{}") as { seq: number }).seq;
      const behind = (c.serviceDb("node3", (db) =>
        db.prepare("SELECT seq FROM cluster_position WHERE id = 1").get(),
      ) ?? { seq: 0 }) as { seq: number };
      expect(head - behind.seq).toBeGreaterThan(DEFAULT_LAG_BOUNDS.caughtUpLag);

      // Every state node3's presence takes from its start on, with node3's own position at that moment.
      const seen: { state: string; seq: number }[] = [];
      const watcher = await etcd.watch().key(presenceKey(c.topology.prefix, "node3")).create();
      watcher.on("put", (kv) => {
        const state = (JSON.parse(kv.value.toString()) as { state: string }).state;
        let seq = -1;
        try {
          seq =
            (
              c.serviceDb("node3", (db) =>
                db.prepare("SELECT seq FROM cluster_position WHERE id = 1").get(),
              ) as { seq: number } | undefined
            )?.seq ?? -1;
        } catch {
          // service.db not readable yet at the very start
        }
        seen.push({ state, seq });
      });
      try {
        c.startNode("node3");
        await waitFor(() => Promise.resolve(seen.some((s) => s.state === "serving") ? true : undefined), {
          what: "node3 serving again",
          timeoutMs: 120_000,
          intervalMs: 200,
        });
      } finally {
        await watcher.cancel();
      }
      expect(seen[0]?.state).toBe("catching-up");
      const serving = seen.find((s) => s.state === "serving");
      expect(serving?.seq ?? -1).toBeGreaterThanOrEqual(head - DEFAULT_LAG_BOUNDS.caughtUpLag);
      await c.waitBackend("node3", "UP", 120_000);
    } finally {
      etcd.close();
    }
  }, 480_000);
});
