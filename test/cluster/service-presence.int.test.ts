/**
 * A node's presence through the whole service (test/support/service-cluster.ts: real etcd, real node
 * processes from dist/, real haproxy): node3 SIGKILLed, many state changes made through haproxy while it
 * is down, node3 started again → its presence in etcd goes "catching-up" (from its start, while it
 * applies what it missed) and then "serving", and it says "serving" only once its own copy is near the
 * head it had to reach. Before, presence never showed "catching-up" (a restarted node said "serving").
 *
 * While it catches up it does not serve users (cluster/serving-state.ts): its own `/api/v1/health` never
 * answers 200 and haproxy never shows it UP while its applied batch is further than `caughtUpLag` from
 * the head it had to reach — its listener is closed (a connection is refused, also once its server had
 * listened: server.pid written) or a request on an open connection gets 503 CLUSTER_CATCHING_UP — and
 * then it answers 200, haproxy shows it UP and it serves a login made on it directly.
 */
import { readFileSync } from "node:fs";
import https from "node:https";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Etcd3 } from "etcd3";
import { describe, expect, it } from "vitest";
import { logKeys } from "../../src/cluster/command-log/command-batch.js";
import { etcdClientUrl } from "../../src/cluster/cluster-topology.js";
import { DEFAULT_LAG_BOUNDS, presenceKey } from "../../src/cluster/node-presence.js";
import { waitFor } from "../../src/cluster/processes/wait.js";
import { useServiceCluster } from "../support/service-cluster.js";
import { firstLogin } from "../support/test-node.js";

const cluster = useServiceCluster();

function readPid(file: string): number | undefined {
  try {
    return Number.parseInt(readFileSync(file, "utf8"), 10);
  } catch {
    return undefined;
  }
}

/** `GET /api/v1/health` on a new connection: "200", "503 <code>", or "refused" (no TLS session). */
function healthOf(url: string, tls: { ca: string; cert: string; key: string }): Promise<string> {
  return new Promise((resolve) => {
    const req = https.request(
      new URL("/api/v1/health", url),
      { method: "GET", ...tls, agent: false, timeout: 5000 },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (body += d));
        res.on("end", () => {
          if (res.statusCode === 200) {
            resolve("200");
            return;
          }
          let code = "?";
          try {
            code =
              (JSON.parse(body) as { issue?: { details?: { coding?: { code?: string }[] } }[] }).issue?.[0]
                ?.details?.coding?.[0]?.code ?? "?";
          } catch {
            // not an OperationOutcome
          }
          resolve(`${res.statusCode ?? 0} ${code}`);
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", () => {
      resolve("refused");
    });
    req.end();
  });
}

describe("presence of a node that was down", () => {
  it("goes catching-up then serving after a restart behind the head, serving only near the head", async () => {
    const c = cluster();
    const etcd = new Etcd3({ hosts: c.topology.nodes.filter((n) => n.role === "online").map(etcdClientUrl) });
    try {
      const sender = c.client("sender");
      const tls = {
        ca: c.caPem,
        cert: readFileSync(c.account("sender").certificate, "utf8"),
        key: readFileSync(c.account("sender").key, "utf8"),
      };
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
      const position = (): number => {
        try {
          return (
            (
              c.serviceDb("node3", (db) =>
                db.prepare("SELECT seq FROM cluster_position WHERE id = 1").get(),
              ) as { seq: number } | undefined
            )?.seq ?? -1
          );
        } catch {
          return -1;
        }
      };
      // node3's own /health and haproxy's view of it, each with node3's position read right after.
      const answers: { listened: boolean; answer: string; seq: number }[] = [];
      const backend: { status: string; seq: number }[] = [];
      let watching = true;
      const pidFile = join(c.files.nodeDir("node3"), "server.pid");
      const sampleNode3 = async (pid: number): Promise<void> => {
        while (watching) {
          const listened = readPid(pidFile) === pid;
          const answer = await healthOf(c.nodeUrl("node3"), tls);
          answers.push({ listened, answer, seq: position() });
          const statuses: Record<string, string> = await c.backendStatus().catch(() => ({}));
          backend.push({ status: statuses["node3"] ?? "?", seq: position() });
          await sleep(50);
        }
      };
      let sampling: Promise<void> = Promise.resolve();
      try {
        c.startNode("node3");
        sampling = sampleNode3(c.nodeProcess("node3")?.pid ?? -1);
        await waitFor(() => Promise.resolve(seen.some((s) => s.state === "serving") ? true : undefined), {
          what: "node3 serving again",
          timeoutMs: 120_000,
          intervalMs: 200,
        });
        await c.waitBackend("node3", "UP", 120_000);
      } finally {
        watching = false;
        await sampling;
        await watcher.cancel();
      }
      expect(seen[0]?.state).toBe("catching-up");
      const serving = seen.find((s) => s.state === "serving");
      const near = head - DEFAULT_LAG_BOUNDS.caughtUpLag;
      expect(serving?.seq ?? -1).toBeGreaterThanOrEqual(near);
      // Never served, never in haproxy's pool, while behind what it had to reach.
      expect(answers.filter((a) => a.answer === "200" && a.seq < near)).toEqual([]);
      expect(backend.filter((b) => b.status === "UP" && b.seq < near)).toEqual([]);
      // What a user (or haproxy) met while it caught up after its server listened.
      const refusedBehind = answers.filter((a) => a.listened && a.seq < near).map((a) => a.answer);
      expect(refusedBehind.every((a) => a === "refused" || a === "503 CLUSTER_CATCHING_UP")).toBe(true);
      process.stderr.write(
        `node3 behind ${head - behind.seq} batches; answers after its server listened, still behind: ${JSON.stringify(refusedBehind)}\n`,
      );
      expect(answers.at(-1)?.answer).toBe("200");
      // And it serves: a state change made on node3 itself.
      const direct = c.client("sender", { node: "node3" });
      expect((await direct.login(c.account("sender").loginId, first.password)).status).toBe(201);
    } finally {
      etcd.close();
    }
  }, 480_000);
});
