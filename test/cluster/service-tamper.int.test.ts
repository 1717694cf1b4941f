/**
 * The whole replicated service through haproxy (test/support/service-cluster.ts: 3 real `kenshin serve`
 * nodes + the offline node, real etcd 3.4, real haproxy): one online node's ledger.db entry is edited
 * under the running node, through a separate SQLite connection. Its rolling full check
 * (service/cluster-node.ts wires the integrity into every cluster node) finds it, the node quarantines
 * itself — its health goes to etcd and its `/api/v1/health` answers 503 — repairs the entry from a peer,
 * appends a `repair` entry through the cluster's write port (so every node records it) and rejoins.
 * Requests through haproxy succeed the whole time, and afterwards every node's ledger passes fsck.
 */
import { join } from "node:path";
import { readFileSync } from "node:fs";
import Database from "better-sqlite3";
import { Etcd3 } from "etcd3";
import { describe, expect, it } from "vitest";
import { etcdClientUrl } from "../../src/cluster/cluster-topology.js";
import { integrityFactKey } from "../../src/cluster/integrity/health-facts.js";
import type { NodeHealthSnapshot } from "../../src/cluster/integrity/node-health.js";
import { waitFor } from "../../src/cluster/processes/wait.js";
import { fsck } from "../../src/ledger/fsck.js";
import { parseVerifierKey } from "../../src/ledger/verify/verifier-key.js";
import { openSqliteLog } from "../../src/store/sqlite-log.js";
import { useServiceCluster } from "../support/service-cluster.js";
import { firstLogin } from "../support/test-node.js";

// The serving nodes inherit the environment: a full check of each copy every 1.5 s.
process.env["KENSHIN_INTEGRITY_CHECK_MS"] = "1500";
const cluster = useServiceCluster();
const ALL = ["node1", "node2", "node3", "backup"];
const VICTIM = "node2";

/** Entries of a node's ledger whose record is a repair (the type as the canonical bytes carry it). */
function repairEntries(ledgerDb: string): number[] {
  const db = new Database(ledgerDb, { readonly: true });
  try {
    return (
      db.prepare("SELECT idx, entry FROM entries ORDER BY idx").all() as { idx: number; entry: Buffer }[]
    )
      .filter((r) => r.entry.toString("utf8").includes('"type":"repair"'))
      .map((r) => r.idx);
  } finally {
    db.close();
  }
}

describe("an online node's ledger tampered with while it serves", () => {
  it("quarantines it (503), repairs it from a peer with a repair entry, and haproxy keeps serving", async () => {
    const c = cluster();
    const sender = c.client("sender");
    await firstLogin(sender, c.account("sender").loginId, c.account("sender").password);
    expect((await sender.get("/api/v1/receivers")).status).toBe(200);
    await c.waitSamePosition(ALL);
    const ledgerDb = join(c.files.nodeDir(VICTIM), "ledger.db");
    expect(repairEntries(ledgerDb)).toEqual([]);

    const hosts = c.topology.nodes.filter((n) => n.role === "online").map((n) => etcdClientUrl(n));
    const etcd = new Etcd3({ hosts, dialTimeout: 2000 });
    const states: string[] = [];
    const watcher = await etcd.watch().key(integrityFactKey(c.topology.prefix, VICTIM)).create();
    watcher.on("put", (kv) => {
      states.push((JSON.parse(kv.value.toString("utf8")) as NodeHealthSnapshot).state);
    });
    const direct = c.client("sender", { node: VICTIM });
    const healthSeen = new Set<number>();
    const run = { on: true };
    const poll = (async () => {
      while (run.on) {
        const r = await direct.get("/api/v1/health").catch(() => undefined);
        if (r !== undefined) healthSeen.add(r.status);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    // Users through haproxy: TLS pass-through cannot see an HTTP status, so a connection haproxy placed
    // on the victim before its check took it out gets the coded 503; the client then retries on a new
    // connection, which haproxy sends to a serving node.
    const token = sender.session.token ?? "";
    const refused: string[] = [];
    const answered: number[] = [];
    const load = (async () => {
      while (run.on) {
        let got = await sender.get("/api/v1/receivers").catch(() => ({ status: 0, json: undefined }));
        for (let retry = 0; got.status !== 200 && retry < 10; retry++) {
          refused.push(`${got.status} ${JSON.stringify(got.json ?? null).includes("CLUSTER_QUARANTINED")}`);
          await new Promise((resolve) => setTimeout(resolve, 100));
          const fresh = c.client("sender");
          got = await fresh
            .request("GET", "/api/v1/receivers", { headers: { cookie: `__Host-kenshin_session=${token}` } })
            .catch(() => ({ status: 0, json: undefined }));
          fresh.close();
        }
        answered.push(got.status);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();

    try {
      // An attacker with file access changes one character of entry 1 (its leaf hash left as it was).
      const db = new Database(ledgerDb);
      try {
        const row = db.prepare("SELECT entry FROM entries WHERE idx = 1").get() as { entry: Buffer };
        const text = row.entry.toString("utf8");
        const changed = text.replace(/"time":"(\d)/, (_m, d: string) => `"time":"${d === "1" ? "2" : "1"}`);
        expect(changed).not.toBe(text);
        db.prepare("UPDATE entries SET entry = ? WHERE idx = 1").run(Buffer.from(changed, "utf8"));
      } finally {
        db.close();
      }

      // The repair entry lands on the victim (and, through the log, on every node).
      const [index] = await waitFor(
        () => {
          const found = repairEntries(ledgerDb);
          return Promise.resolve(found.length > 0 ? found : undefined);
        },
        { what: `repair entry on ${VICTIM}`, timeoutMs: 60_000, intervalMs: 200 },
      );
      await waitFor(
        () => Promise.resolve(states.at(-1) === "healthy" && states.includes("repairing") ? true : undefined),
        { what: `${VICTIM} healthy again`, timeoutMs: 30_000, intervalMs: 100 },
      );
      expect(states).toContain("quarantined");
      await c.waitBackend(VICTIM, "UP", 60_000);
      expect((await direct.get("/api/v1/health")).status).toBe(200);
      expect(healthSeen.has(503)).toBe(true);

      const fact = JSON.parse(
        (await etcd.get(integrityFactKey(c.topology.prefix, VICTIM)).string()) ?? "{}",
      ) as NodeHealthSnapshot;
      expect(fact.state).toBe("healthy");
      expect(fact.repairs.at(-1)?.entryIndex).toBe(index);
      expect(fact.repairs.at(-1)?.fromNode).not.toBe(VICTIM);

      await c.waitSamePosition(ALL);
      for (const name of ALL) {
        expect([name, repairEntries(join(c.files.nodeDir(name), "ledger.db"))]).toEqual([name, [index]]);
      }
    } finally {
      run.on = false;
      await Promise.all([poll, load]);
      await watcher.cancel();
      etcd.close();
    }
    // Every request through the one frontend address was answered by a serving node; what the victim
    // refused before haproxy took it out was only the coded quarantine refusal.
    expect(answered.length).toBeGreaterThan(0);
    expect(answered.filter((s) => s !== 200)).toEqual([]);
    expect(refused.filter((r) => r !== "503 true")).toEqual([]);

    // The victim's entry is back byte for byte: each node's own ledger passes fsck.
    const logKey = parseVerifierKey(readFileSync(c.files.logVerifierKey, "utf8").trim());
    for (const name of ALL) {
      const storage = openSqliteLog(join(c.files.nodeDir(name), "ledger.db"));
      try {
        expect([name, fsck(storage, logKey).ok]).toEqual([name, true]);
      } finally {
        storage.close();
      }
    }
  }, 420_000);
});
