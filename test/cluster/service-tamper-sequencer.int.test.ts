/**
 * The sequencer's own copy damaged (issue 11), through the whole replicated service
 * (test/support/service-cluster.ts: 3 `kenshin serve` nodes + the offline node, real etcd, real haproxy,
 * full check every 1.5 s): the last entry row of the sequencer's ledger.db is deleted under it while a
 * sender uploads and sends and a receiver downloads through haproxy. Its copy then looks one entry
 * shorter, and its replica stops at the next batch — a sequencer in that state prepares no batch, so
 * before, the whole cluster waited for a repair that itself needed a checkpoint and a `repair` entry only
 * a sequencer orders (nothing was ordered for the rest of the test). Now the node stands aside as it
 * quarantines itself (integrity/sequencer-gate.ts): another node takes over, the victim repairs from a
 * peer with exactly one `repair` entry, rejoins, and stands again. Nothing lost, duplicated or
 * reordered: every acknowledged upload is on every node, the four ledgers are equal entry for entry and
 * pass fsck, and every download has the recorded SHA-256. Times are printed, not asserted.
 */
import { createHash } from "node:crypto";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { waitFor } from "../../src/cluster/processes/wait.js";
import { useServiceCluster, type ServiceCluster } from "../support/service-cluster.js";
import {
  fsckEach,
  ledgerDbOf,
  loggedInClients,
  repairRecords,
  watchHealth,
} from "../support/tamper-checks.js";
import { deleteLastEntryRow } from "./damage.js";
import { candidatesOf, loginRetrying, sequencerOf, startUsers } from "./tamper-users.js";

process.env["KENSHIN_INTEGRITY_CHECK_MS"] = "1500";
const cluster = useServiceCluster();
const ALL = ["node1", "node2", "node3", "backup"];
const ONLINE = ["node1", "node2", "node3"];
const loggedIn = loggedInClients(cluster);

/** One digest over a node's entries in order (equal digests: equal copies, entry for entry). */
function ledgerDigest(c: ServiceCluster, name: string): { size: number; digest: string } {
  const db = new Database(ledgerDbOf(c, name), { readonly: true });
  try {
    const h = createHash("sha256");
    let size = 0;
    for (const r of db.prepare("SELECT idx, entry FROM entries ORDER BY idx").iterate() as Iterable<{
      idx: number;
      entry: Buffer;
    }>) {
      h.update(`${r.idx}:${r.entry.length}:`).update(r.entry);
      size++;
    }
    return { size, digest: h.digest("hex") };
  } finally {
    db.close();
  }
}

describe("the sequencer's own ledger.db damaged while users go on", () => {
  it("stands aside: another node orders, the victim repairs with one repair entry, rejoins and stands again", async () => {
    const c = cluster();
    await c.waitSamePosition(ALL);
    const sender = await loginRetrying(loggedIn, "sender");
    const receiver = await loginRetrying(loggedIn, "receiver");
    const receivers = (await sender.get("/api/v1/receivers")).json as { receivers: { id: string }[] };
    const users = startUsers(sender, receiver, receivers.receivers[0]?.id ?? "");
    const victim = await sequencerOf(c, ONLINE);
    const repairsOf = (name: string): { idx: number; text: string }[] =>
      repairRecords(ledgerDbOf(c, name)).filter((r) => r.text.includes(`"node":"${victim}"`));
    const health = await watchHealth(c, victim);
    const times: string[] = [];
    // What happened when (printed): the victim's published state, who sequences, transfers completed.
    const timeline: string[] = [];
    const sampling: { phase: "before" | "on" | "done"; started: number } = { phase: "before", started: 0 };
    const sampler = (async () => {
      let last = "";
      while (sampling.phase !== "done") {
        if (sampling.phase === "on") {
          const seq = await sequencerOf(c, ONLINE).catch(() => "?");
          const now = `${health.states.at(-1) ?? "healthy"}, sequencer ${seq}, ${users.completed.length} done`;
          if (now !== last) timeline.push(`${Math.round(performance.now() - sampling.started)} ms: ${now}`);
          last = now;
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    try {
      await waitFor(() => Promise.resolve(users.completed.length >= 2 ? true : undefined), {
        what: "two transfers through haproxy",
        timeoutMs: 90_000,
        intervalMs: 250,
      });
      expect(await sequencerOf(c, ONLINE)).toBe(victim);
      const started = performance.now();
      sampling.started = started;
      sampling.phase = "on";
      const deleted = deleteLastEntryRow({ dir: c.files.nodeDir(victim), ledgerPath: ledgerDbOf(c, victim) });
      const doneBefore = users.completed.length;

      // Another node takes over the election (bounded wait: the old code kept it for ever).
      const successor = await waitFor(
        async () => {
          const now = await sequencerOf(c, ONLINE).catch(() => undefined);
          return now !== undefined && now !== victim ? now : undefined;
        },
        { what: `a sequencer other than ${victim}`, timeoutMs: 60_000, intervalMs: 100 },
      );
      times.push(`${successor} sequencer after ${Math.round(performance.now() - started)} ms`);

      // The victim repairs from a peer: exactly one repair entry, then healthy again.
      const [repair] = await waitFor(
        () => {
          const found = repairsOf(victim);
          return Promise.resolve(found.length > 0 ? found : undefined);
        },
        { what: `repair entry on ${victim}`, timeoutMs: 90_000, intervalMs: 100 },
      );
      if (repair === undefined) throw new Error("no repair entry");
      times.push(`repair entry ${repair.idx} after ${Math.round(performance.now() - started)} ms`);
      expect(repair.text).toContain('"entries"');
      expect(repair.text).not.toContain(`"sourceNode":"${victim}"`);
      await waitFor(
        async () => {
          const fact = await health.fact();
          return fact.state === "healthy" && fact.repairs.at(-1)?.entryIndex === repair.idx
            ? true
            : undefined;
        },
        { what: `${victim} healthy again`, timeoutMs: 60_000, intervalMs: 200 },
      );
      expect(health.states).toContain("quarantined");
      // It stands again once healthy (its key back in the election, behind the successor's).
      await waitFor(async () => ((await candidatesOf(c)).includes(victim) ? true : undefined), {
        what: `${victim} a candidate again`,
        timeoutMs: 30_000,
        intervalMs: 200,
      });
      times.push(`candidate again after ${Math.round(performance.now() - started)} ms`);
      // The users went on: transfers completed after the damage.
      await waitFor(() => Promise.resolve(users.completed.length >= doneBefore + 2 ? true : undefined), {
        what: "two more transfers through haproxy after the damage",
        timeoutMs: 90_000,
        intervalMs: 250,
      });
      expect(deleted).toBeGreaterThan(0);
    } finally {
      sampling.phase = "done";
      await sampler;
      // Printed before the users stop: on the old code a user's call waited on the stalled ordering.
      process.stdout.write(
        `service-tamper-sequencer (check every 1.5 s; victim ${victim}):\n  ${times.join("\n  ")}\n` +
          `  timeline:\n    ${timeline.join("\n    ")}\n` +
          `  users: ${users.downloads.length} downloads, ${users.acknowledged.length} uploads acknowledged; ` +
          `asked again after ${JSON.stringify(Object.fromEntries(users.retried))}\n`,
      );
      await users.stop();
      await health.stop();
    }
    expect(users.failures).toEqual([]);

    await c.waitSamePosition(ALL);
    // One repair entry, the same on every node; the copies equal entry for entry; fsck passes everywhere.
    const reference = repairsOf(victim);
    expect(reference).toHaveLength(1);
    for (const name of ALL) expect([name, repairsOf(name)]).toEqual([name, reference]);
    const digest = ledgerDigest(c, "node1");
    for (const name of ALL) expect([name, ledgerDigest(c, name)]).toEqual([name, digest]);
    for (const [name, result] of fsckEach(c, ALL)) expect([name, result.ok]).toEqual([name, true]);
    // Every acknowledged upload is on every node, once; every download has the recorded SHA-256.
    for (const name of ALL) {
      const ids = c.serviceDb(name, (db) =>
        (db.prepare("SELECT id FROM transfers").all() as { id: string }[]).map((r) => r.id),
      );
      const missing = users.acknowledged.filter((id) => !ids.includes(id));
      expect([name, missing]).toEqual([name, []]);
    }
    for (const d of users.downloads) {
      const recorded = c.serviceDb("node1", (db) =>
        db.prepare("SELECT standard_sha256 AS sha FROM transfers WHERE id = ?").get(d.id),
      ) as { sha: string } | undefined;
      expect([d.id, d.sha]).toEqual([d.id, recorded?.sha]);
    }
  }, 420_000);
});
