/**
 * The whole replicated service through haproxy (test/support/service-cluster.ts: 3 real `kenshin serve`
 * nodes + the offline node, real etcd 3.4, real haproxy): one online node's ledger.db entry is edited
 * under the running node, through a separate SQLite connection. Its rolling full check
 * (service/cluster/cluster-node.ts wires the integrity into every cluster node) finds it, the node quarantines
 * itself — its health goes to etcd and its `/api/v1/health` answers 503 — repairs the entry from a peer,
 * appends a `repair` entry through the cluster's write port (so every node records it) and rejoins.
 * Requests through haproxy succeed the whole time (no retry in the test), and afterwards every node's
 * ledger passes fsck.
 */
import { join } from "node:path";
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import Database from "better-sqlite3";
import { Etcd3 } from "etcd3";
import { downloadStandard, uploadExport } from "../../src/client/transfer-client.js";
import { nodeFiles } from "../../src/cluster/cluster-init.js";
import { describe, expect, it } from "vitest";
import { etcdClientUrl } from "../../src/cluster/cluster-topology.js";
import { integrityFactKey } from "../../src/cluster/integrity/health-facts.js";
import type { NodeHealthSnapshot } from "../../src/cluster/integrity/node-health.js";
import { waitFor } from "../../src/cluster/processes/wait.js";
import { useServiceCluster } from "../support/service-cluster.js";
import {
  fsckEach,
  loggedInClients,
  repairEntries,
  transportCode,
  watchHealth,
} from "../support/tamper-checks.js";
import { EXAMPLE_DIR, expectCode, expectStatus } from "../support/test-node.js";

// The serving nodes inherit the environment: a full check of each copy every 1.5 s.
process.env["KENSHIN_INTEGRITY_CHECK_MS"] = "1500";
const cluster = useServiceCluster();
const ALL = ["node1", "node2", "node3", "backup"];
const VICTIM = "node2";

/** A bare TCP connect to 127.0.0.1:port, bounded: "open", or the error's code. */
function tcpConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    const done = (what: string): void => {
      socket.destroy();
      resolve(what);
    };
    socket.setTimeout(2000, () => {
      done("timeout");
    });
    socket.once("connect", () => {
      done("open");
    });
    socket.once("error", (e: NodeJS.ErrnoException) => {
      done(e.code ?? "error");
    });
  });
}

const loggedIn = loggedInClients(cluster);

describe("an online node's ledger tampered with while it serves", () => {
  it("quarantines it (503), repairs it from a peer with a repair entry, and haproxy keeps serving", async () => {
    const c = cluster();
    const sender = await loggedIn("sender");
    expect((await sender.get("/api/v1/receivers")).status).toBe(200);
    await c.waitSamePosition(ALL);
    const ledgerDb = join(c.files.nodeDir(VICTIM), "ledger.db");
    expect(repairEntries(ledgerDb)).toEqual([]);

    const health = await watchHealth(c, VICTIM);
    const states = health.states;
    const direct = c.client("sender", { node: VICTIM });
    // The victim's own user port, probed with a bare TCP connect (a few ms, so even a short quarantine is
    // seen; a TLS request through the retrying client can outlast it): "open", or the connect's error
    // code — it stops accepting while it does not serve (server/quarantine-gate.ts).
    const victimPort = c.topology.nodes.find((n) => n.name === VICTIM)?.ports.https ?? 0;
    const healthSeen = new Set<string>();
    const run = { on: true };
    const poll = (async () => {
      while (run.on) {
        healthSeen.add(await tcpConnect(victimPort));
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    // Users through haproxy, without any retry of their own: the victim stops accepting, haproxy sends
    // its refused connects to a serving node, and the API client sends again only what a node refused
    // unprocessed (client/api-client.ts). Every request must be answered 200.
    const answered: string[] = [];
    const load = (async () => {
      while (run.on) {
        const got = await sender.get("/api/v1/receivers").then(
          (r) => `${r.status}`,
          (e: unknown) => transportCode(e),
        );
        answered.push(got);
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
      // While quarantined and repairing, its user port refused connections.
      expect(healthSeen.has("ECONNREFUSED")).toBe(true);

      const fact = await health.fact();
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
      await health.stop();
    }
    // Every request through the one frontend address was answered by a serving node.
    expect(answered.length).toBeGreaterThan(0);
    expect(answered.filter((s) => s !== "200")).toEqual([]);

    // The victim's entry is back byte for byte: each node's own ledger passes fsck.
    for (const [name, result] of fsckEach(c, ALL)) expect([name, result.ok]).toEqual([name, true]);
  }, 420_000);
});

/** Entries of a node's ledger that are `transfer-damaged` alerts naming `transfer`. */
function damageAlarms(ledgerDb: string, transfer: string): number[] {
  const db = new Database(ledgerDb, { readonly: true });
  try {
    return (
      db.prepare("SELECT idx, entry FROM entries ORDER BY idx").all() as { idx: number; entry: Buffer }[]
    )
      .filter((r) => {
        const text = r.entry.toString("utf8");
        return text.includes('"kind":"transfer-damaged"') && text.includes(`"subject":"${transfer}"`);
      })
      .map((r) => r.idx);
  } finally {
    db.close();
  }
}

describe("the same payload chunk bad on every node (no copy can repair it)", () => {
  it("marks the transfer damaged on every node with one alarm; both parties see it, 410, and a restart keeps it", async () => {
    const c = cluster();
    const sender = await loggedIn("sender");
    const receiver = await loggedIn("receiver");
    const receivers = (await sender.get("/api/v1/receivers")).json as { receivers: { id: string }[] };
    const up = await uploadExport(
      sender,
      receivers.receivers[0]?.id ?? "",
      readFileSync(join(EXAMPLE_DIR, "export.csv")),
    );
    expectStatus(up, 201);
    const id = (up.json as { transfer: { id: string } }).transfer.id;
    expectStatus(await sender.post(`/api/v1/transfers/${id}/send`), 200);
    await c.waitSamePosition(ALL);

    // One chunk of its payload, overwritten in every node's chunks.db (the offline node's too).
    const address = c.serviceDb(
      "node1",
      (db) =>
        (
          db
            .prepare(
              "SELECT address FROM cluster_payload_refs WHERE transfer_id = ? AND manifest = 0 LIMIT 1",
            )
            .get(id) as { address: string } | undefined
        )?.address,
    );
    expect(address).toMatch(/^[0-9a-f]{64}$/);
    // Each online node's health as it publishes it: a chunk bad on every copy is local to its transfer,
    // so no node may leave "healthy" for it (a whole-node quarantine would leave nobody to serve).
    const hosts = c.topology.nodes.filter((n) => n.role === "online").map((n) => etcdClientUrl(n));
    const etcd = new Etcd3({ hosts, dialTimeout: 2000 });
    const states: string[] = [];
    const watchers = await Promise.all(
      ["node1", "node2", "node3"].map(async (name) => {
        const w = await etcd.watch().key(integrityFactKey(c.topology.prefix, name)).create();
        w.on("put", (kv) => {
          states.push(`${name} ${(JSON.parse(kv.value.toString("utf8")) as NodeHealthSnapshot).state}`);
        });
        return w;
      }),
    );
    for (const name of ALL) {
      const db = new Database(nodeFiles(c.files.nodeDir(name)).chunks);
      try {
        const changed = db
          .prepare("UPDATE chunks SET bytes = zeroblob(length(bytes)) WHERE address = ?")
          .run(address).changes;
        expect([name, changed]).toEqual([name, 1]);
      } finally {
        db.close();
      }
    }

    // Every node's service.db gets the mark (the replicated command), from one alarm entry.
    const marked = (name: string): boolean =>
      c.serviceDb(name, (db) => db.prepare("SELECT 1 FROM transfer_damage WHERE transfer_id = ?").get(id)) !==
      undefined;
    await waitFor(() => Promise.resolve(ALL.every(marked) ? true : undefined), {
      what: "transfer marked damaged on every node",
      timeoutMs: 90_000,
      intervalMs: 250,
    });
    await c.waitSamePosition(ALL);
    const alarms = damageAlarms(join(c.files.nodeDir("node1"), "ledger.db"), id);
    expect(alarms).toHaveLength(1);
    for (const name of ALL) {
      expect([name, damageAlarms(join(c.files.nodeDir(name), "ledger.db"), id)]).toEqual([name, alarms]);
    }

    // Every online node found the chunk in its own copy and tried its peers while it kept serving: not
    // one health fact left "healthy" (each node's full check ran meanwhile: its fact was published).
    for (const w of watchers) await w.cancel();
    etcd.close();
    expect(states.length).toBeGreaterThan(0);
    expect(states.filter((s) => !s.endsWith(" healthy"))).toEqual([]);
    for (const name of ["node1", "node2", "node3"]) await c.waitBackend(name, "UP", 60_000);
    // haproxy's UP lags a node's own state by a check interval: each online node answers its own
    // /health 200 three times in a row (it has settled, not only come back for a moment) before the users
    // ask. A node quarantined again after this would be a failure of the mark, and fails the test below.
    for (const name of ["node1", "node2", "node3"]) {
      const direct = c.client("receiver", { node: name });
      let settled = 0;
      await waitFor(
        async () => {
          const r = await direct.get("/api/v1/health").catch(() => undefined);
          settled = r?.status === 200 ? settled + 1 : 0;
          if (settled < 3) await new Promise((resolve) => setTimeout(resolve, 300));
          return settled >= 3 ? true : undefined;
        },
        { what: `${name} settled healthy`, timeoutMs: 60_000, intervalMs: 10 },
      );
    }
    // Both parties are told, and nothing is served (through haproxy, whichever node answers).
    for (const client of [sender, receiver]) {
      const r = await client.get(`/api/v1/transfers/${id}`);
      expectStatus(r, 200);
      expect((r.json as { transfer: { damaged: boolean } }).transfer.damaged).toBe(true);
    }
    const got = await downloadStandard(receiver, id);
    if (!("refused" in got)) throw new Error("served a damaged transfer");
    expectCode(got.refused, 410, "TRANSFER_DAMAGED");

    // The mark is a state row the ledger commits to (its alarm entry): deleted from node2's service.db
    // under the running node, it is found by the full check, put back from a peer exactly as node1 holds
    // it, and the repair is recorded on every node.
    const markOf = (name: string): unknown =>
      c.serviceDb(name, (db) => db.prepare("SELECT * FROM transfer_damage WHERE transfer_id = ?").get(id));
    const reference = markOf("node1");
    const rowRepairs = (name: string): number =>
      repairEntries(join(c.files.nodeDir(name), "ledger.db")).filter((i) => {
        const db = new Database(join(c.files.nodeDir(name), "ledger.db"), { readonly: true });
        try {
          const text = (
            db.prepare("SELECT entry FROM entries WHERE idx = ?").get(i) as { entry: Buffer }
          ).entry.toString("utf8");
          return text.includes(`"node":"${VICTIM}"`) && text.includes('"transfer-rows"') && text.includes(id);
        } finally {
          db.close();
        }
      }).length;
    expect(rowRepairs(VICTIM)).toBe(0);
    const victimDb = new Database(join(c.files.nodeDir(VICTIM), "service.db"));
    try {
      victimDb.pragma("busy_timeout = 5000");
      expect(victimDb.prepare("DELETE FROM transfer_damage WHERE transfer_id = ?").run(id).changes).toBe(1);
    } finally {
      victimDb.close();
    }
    await waitFor(() => Promise.resolve(rowRepairs(VICTIM) === 1 ? true : undefined), {
      what: `${VICTIM}'s transfer_damage row repaired`,
      timeoutMs: 90_000,
      intervalMs: 250,
    });
    expect(markOf(VICTIM)).toEqual(reference);
    await c.waitSamePosition(ALL);
    for (const name of ALL) expect([name, rowRepairs(name)]).toEqual([name, 1]);
    await c.waitBackend(VICTIM, "UP", 60_000);

    // A restarted node knows it from its service.db alone: its full check is set far off, so it
    // cannot have found the chunk again.
    const restarted = "node3";
    await c.kill9Node(restarted);
    await c.waitBackend(restarted, "DOWN");
    process.env["KENSHIN_INTEGRITY_CHECK_MS"] = "600000";
    try {
      c.startNode(restarted);
    } finally {
      process.env["KENSHIN_INTEGRITY_CHECK_MS"] = "1500";
    }
    await c.waitBackend(restarted, "UP", 120_000);
    const direct = c.client("receiver", { node: restarted });
    const token = receiver.session.token ?? "";
    const cookie = { cookie: `__Host-kenshin_session=${token}` };
    const detail = await direct.request("GET", `/api/v1/transfers/${id}`, { headers: cookie });
    expectStatus(detail, 200);
    expect((detail.json as { transfer: { damaged: boolean } }).transfer.damaged).toBe(true);
    const health = (await direct.get("/api/v1/health")).json as { state?: string };
    expect(JSON.stringify(health)).not.toContain("quarantined");
  }, 300_000);
});
