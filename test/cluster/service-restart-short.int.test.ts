/**
 * A node restarted with a short copy (issue 11), through the whole replicated service
 * (test/support/service-cluster.ts: 3 `kenshin serve` nodes + the offline node, real etcd, real haproxy,
 * full check every 1.5 s): node3 is SIGKILLed, the last two entry rows of its ledger.db are deleted while
 * it is down and the users go on through the other nodes, and it is started again. Before, it did not
 * open at all (replicated-state.ts refused a ledger shorter than the position its service.db recorded:
 * CLUSTER_APPLY_FAILED at start, the process exited). Now it opens, its replica stops at the first batch
 * that does not fit the short copy, its full check finds the missing entries (LEDGER_ENTRY_MISSING below
 * the applied size), it repairs them from a peer under a published checkpoint with one `repair` entry,
 * catches up and serves again; every node's ledger is equal entry for entry and passes fsck.
 */
import { createHash } from "node:crypto";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { waitFor } from "../../src/cluster/processes/wait.js";
import { useServiceCluster, type ServiceCluster } from "../support/service-cluster.js";
import { fsckEach, ledgerDbOf, loggedInClients, repairRecords } from "../support/tamper-checks.js";
import { deleteLastEntryRow } from "./damage.js";
import { loginRetrying, startUsers } from "./tamper-users.js";

process.env["KENSHIN_INTEGRITY_CHECK_MS"] = "1500";
const cluster = useServiceCluster();
const ALL = ["node1", "node2", "node3", "backup"];
const VICTIM = "node3";
const loggedIn = loggedInClients(cluster);

function ledgerDigest(c: ServiceCluster, name: string): string {
  const db = new Database(ledgerDbOf(c, name), { readonly: true });
  try {
    const h = createHash("sha256");
    for (const r of db.prepare("SELECT idx, entry FROM entries ORDER BY idx").iterate() as Iterable<{
      idx: number;
      entry: Buffer;
    }>) {
      h.update(`${r.idx}:${r.entry.length}:`).update(r.entry);
    }
    return h.digest("hex");
  } finally {
    db.close();
  }
}

describe("a node restarted with the last entry rows of its ledger.db gone", () => {
  it("opens, finds and repairs the missing entries from a peer, catches up and serves", async () => {
    const c = cluster();
    await c.waitSamePosition(ALL);
    const sender = await loginRetrying(loggedIn, "sender");
    const receiver = await loginRetrying(loggedIn, "receiver");
    const receivers = (await sender.get("/api/v1/receivers")).json as { receivers: { id: string }[] };
    const users = startUsers(sender, receiver, receivers.receivers[0]?.id ?? "");
    const repairsOf = (name: string): { idx: number; text: string }[] =>
      repairRecords(ledgerDbOf(c, name)).filter((r) => r.text.includes(`"node":"${VICTIM}"`));
    const times: string[] = [];
    try {
      await waitFor(() => Promise.resolve(users.completed.length >= 2 ? true : undefined), {
        what: "two transfers through haproxy",
        timeoutMs: 90_000,
        intervalMs: 250,
      });
      await c.kill9Node(VICTIM);
      await c.waitBackend(VICTIM, "DOWN");
      const target = { dir: c.files.nodeDir(VICTIM), ledgerPath: ledgerDbOf(c, VICTIM) };
      const last = deleteLastEntryRow(target);
      expect(deleteLastEntryRow(target)).toBe(last - 1);
      // The others go on meanwhile: the restarted node has batches to apply past its short copy.
      const done = users.completed.length;
      await waitFor(() => Promise.resolve(users.completed.length >= done + 1 ? true : undefined), {
        what: "a transfer while the victim is down",
        timeoutMs: 90_000,
        intervalMs: 250,
      });
      const started = performance.now();
      c.startNode(VICTIM);
      const [repair] = await waitFor(
        () => {
          const found = repairsOf(VICTIM);
          return Promise.resolve(found.length > 0 ? found : undefined);
        },
        { what: `repair entry on ${VICTIM}`, timeoutMs: 120_000, intervalMs: 200 },
      );
      if (repair === undefined) throw new Error("no repair entry");
      times.push(`repair entry ${repair.idx} after ${Math.round(performance.now() - started)} ms`);
      expect(repair.text).toContain('"entries"');
      expect(repair.text).not.toContain(`"sourceNode":"${VICTIM}"`);
      await c.waitBackend(VICTIM, "UP", 120_000);
      times.push(`UP after ${Math.round(performance.now() - started)} ms`);
      const direct = c.client("sender", { node: VICTIM });
      expect((await direct.get("/api/v1/health")).status).toBe(200);
    } finally {
      process.stdout.write(`service-restart-short (check every 1.5 s):\n  ${times.join("\n  ")}\n`);
      await users.stop();
    }
    expect(users.failures).toEqual([]);
    await c.waitSamePosition(ALL);
    const reference = repairsOf(VICTIM);
    expect(reference).toHaveLength(1);
    for (const name of ALL) expect([name, repairsOf(name)]).toEqual([name, reference]);
    const digest = ledgerDigest(c, "node1");
    for (const name of ALL) expect([name, ledgerDigest(c, name)]).toEqual([name, digest]);
    for (const [name, result] of fsckEach(c, ALL)) expect([name, result.ok]).toEqual([name, true]);
    for (const name of ALL) {
      const ids = c.serviceDb(name, (db) =>
        (db.prepare("SELECT id FROM transfers").all() as { id: string }[]).map((r) => r.id),
      );
      expect([name, users.acknowledged.filter((id) => !ids.includes(id))]).toEqual([name, []]);
    }
  }, 420_000);
});
