/**
 * Each kind of damage issue 11 lists, done to one online node's files under the running `kenshin serve`
 * process (test/support/service-cluster.ts: 3 online nodes + the offline node, real etcd, real haproxy),
 * one after the other on ONE cluster while a sender uploads and sends and a receiver downloads through
 * haproxy all along: an entry row deleted, the last entry row deleted (the copy looks one entry shorter;
 * the next batch stops the victim's replica until the repair), two rows swapped, a consistent rewrite (entry, every later
 * entry re-chained, leaf hashes, interior nodes, re-signed checkpoints: fsck passes on it), a payload
 * chunk corrupted on that node only, a service.db transfer row edited, a transfer's entry_keys rows
 * deleted. For each: the node's rolling check (every 1.5 s) finds it, the node repairs it (from a peer,
 * except the index rows, which it derives from its proven entries) and appends exactly one `repair`
 * entry, which every node records; afterwards the victim is healthy and every node's ledger passes
 * fsck. Every download the receiver got during the test has the SHA-256 the cluster recorded.
 * Detection and repair times are printed (not asserted: the machine is shared).
 */
import { describe, expect, it } from "vitest";
import { waitFor } from "../../src/cluster/processes/wait.js";
import { readKeyFile } from "../../src/crypto/key-file.js";
import { createNoteSigner } from "../../src/crypto/note-signer.js";
import { useServiceCluster, type ServiceCluster } from "../support/service-cluster.js";
import {
  fsckEach,
  ledgerDbOf,
  loggedInClients,
  repairRecords,
  watchHealth,
} from "../support/tamper-checks.js";
import {
  consistentRewrite,
  corruptChunk,
  deleteEntryKeys,
  deleteEntryRow,
  deleteLastEntryRow,
  editTransferRow,
  swapEntryRows,
  type DamageTarget,
} from "./damage.js";
import { loginRetrying, sequencerOf, startUsers } from "./tamper-users.js";

process.env["KENSHIN_INTEGRITY_CHECK_MS"] = "1500";
const cluster = useServiceCluster();
const ALL = ["node1", "node2", "node3", "backup"];
const VICTIM = "node2";
const loggedIn = loggedInClients(cluster);
/** The victim's own repair entries (index and text) in `name`'s ledger. */
function victimRepairs(c: ServiceCluster, name: string): { idx: number; text: string }[] {
  return repairRecords(ledgerDbOf(c, name)).filter((r) => r.text.includes(`"node":"${VICTIM}"`));
}

interface Kind {
  readonly name: string;
  /** What the repair entry must name. */
  readonly what: string;
  /** Whether the good copy comes from a peer (index rows are derived from the node's proven entries). */
  readonly fromPeer: boolean;
  damage(target: DamageTarget, transfer: string): void;
}

describe("each kind of damage on one online node while users go on through haproxy", () => {
  it("is found, repaired with one repair entry on every node, and fsck passes everywhere afterwards", async () => {
    const c = cluster();
    await c.waitSamePosition(ALL);
    const sender = await loginRetrying(loggedIn, "sender");
    const receiver = await loginRetrying(loggedIn, "receiver");
    const receivers = (await sender.get("/api/v1/receivers")).json as { receivers: { id: string }[] };
    const users = startUsers(sender, receiver, receivers.receivers[0]?.id ?? "");
    const target: DamageTarget = {
      dir: c.files.nodeDir(VICTIM),
      ledgerPath: ledgerDbOf(c, VICTIM),
    };
    const logSigner = createNoteSigner(readKeyFile(c.files.sharedLogKey));
    const chunkOf = (id: string): string =>
      c.serviceDb(
        VICTIM,
        (db) =>
          (
            db
              .prepare(
                "SELECT address FROM cluster_payload_refs WHERE transfer_id = ? AND manifest = 0 LIMIT 1",
              )
              .get(id) as { address: string } | undefined
          )?.address ?? "",
      );
    const kinds: Kind[] = [
      {
        name: "entry row deleted",
        what: "entries",
        fromPeer: true,
        damage: (t) => {
          deleteEntryRow(t, 3);
        },
      },
      {
        name: "last entry row deleted",
        what: "entries",
        fromPeer: true,
        damage: (t) => {
          deleteLastEntryRow(t);
        },
      },
      {
        name: "two rows swapped",
        what: "entries",
        fromPeer: true,
        damage: (t) => {
          swapEntryRows(t, 4, 6);
        },
      },
      {
        name: "consistent rewrite",
        what: "entries",
        fromPeer: true,
        damage: (t) => {
          consistentRewrite(t, 8, logSigner);
        },
      },
      {
        name: "payload chunk corrupted",
        what: "chunks",
        fromPeer: true,
        damage: (t, id) => {
          corruptChunk(t, chunkOf(id));
        },
      },
      {
        name: "transfer row edited",
        what: "transfer-rows",
        fromPeer: true,
        damage: (t, id) => {
          editTransferRow(t, id, `standard_sha256 = '${"0".repeat(64)}'`);
        },
      },
      {
        name: "entry_keys rows deleted",
        what: "index-keys",
        fromPeer: false,
        damage: (t, id) => {
          expect(deleteEntryKeys(t, id)).toBeGreaterThan(0);
        },
      },
    ];
    const health = await watchHealth(c, VICTIM);
    const timings: string[] = [];
    try {
      // A few transfers through before the first damage (the chunk and row kinds need finished ones).
      await waitFor(() => Promise.resolve(users.completed.length >= 2 ? true : undefined), {
        what: "two transfers through haproxy",
        timeoutMs: 90_000,
        intervalMs: 250,
      });
      for (const kind of kinds) {
        await c.waitSamePosition(ALL);
        const before = victimRepairs(c, VICTIM).length;
        const transfer = users.completed.at(-1) ?? "";
        // node2 may be the sequencer (it then stands aside while damaged: service-tamper-sequencer).
        const sequencing = await sequencerOf(c, ALL);
        const seen = health.states.length;
        const started = performance.now();
        kind.damage(target, transfer);
        const [repair] = await waitFor(
          () => {
            const found = victimRepairs(c, VICTIM);
            return Promise.resolve(found.length > before ? found.slice(before) : undefined);
          },
          { what: `${kind.name}: repair entry on ${VICTIM}`, timeoutMs: 90_000, intervalMs: 100 },
        );
        const repairedMs = performance.now() - started;
        if (repair === undefined) throw new Error("no repair entry");
        expect([kind.name, repair.text]).toEqual([kind.name, expect.stringContaining(`"${kind.what}"`)]);
        if (kind.fromPeer) expect([kind.name, repair.text]).not.toContain(`"sourceNode":"${VICTIM}"`);
        await waitFor(
          async () => {
            const fact = await health.fact();
            return fact.state === "healthy" && fact.repairs.at(-1)?.entryIndex === repair.idx
              ? true
              : undefined;
          },
          { what: `${kind.name}: ${VICTIM} healthy again`, timeoutMs: 60_000, intervalMs: 200 },
        );
        await c.waitSamePosition(ALL);
        // Exactly one repair entry for this damage, the same on every node.
        const reference = victimRepairs(c, VICTIM);
        expect([kind.name, reference.length]).toEqual([kind.name, before + 1]);
        for (const name of ALL)
          expect([kind.name, name, victimRepairs(c, name)]).toEqual([kind.name, name, reference]);
        for (const [name, result] of fsckEach(c, ALL)) {
          expect([kind.name, name, result.ok]).toEqual([kind.name, name, true]);
        }
        const states = health.states.slice(seen);
        timings.push(
          `${kind.name}: repair entry after ${Math.round(repairedMs)} ms; states ${states.join(" → ")}` +
            (sequencing === VICTIM ? ` (${VICTIM} was the sequencer)` : ""),
        );
      }
    } finally {
      await users.stop();
      await health.stop();
      process.stdout.write(
        `service-tamper-kinds (check every 1.5 s):\n  ${timings.join("\n  ")}\n` +
          `  users: ${users.downloads.length} downloads; asked again after ${JSON.stringify(Object.fromEntries(users.retried))}\n`,
      );
    }
    expect(users.failures).toEqual([]);
    expect(users.downloads.length).toBeGreaterThan(0);
    // Every download has the SHA-256 the cluster recorded for its transfer (read on a healthy node).
    for (const d of users.downloads) {
      const recorded = c.serviceDb("node1", (db) =>
        db.prepare("SELECT standard_sha256 AS sha FROM transfers WHERE id = ?").get(d.id),
      ) as { sha: string } | undefined;
      expect([d.id, d.sha]).toEqual([d.id, recorded?.sha]);
    }
  }, 420_000);
});
