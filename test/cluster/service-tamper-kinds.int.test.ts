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
import { Etcd3 } from "etcd3";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { errorCode, type ApiClient, type ApiResponse } from "../../src/client/api-client.js";
import { downloadStandard, uploadExport } from "../../src/client/transfer-client.js";
import { etcdClientUrl } from "../../src/cluster/cluster-topology.js";
import { waitFor } from "../../src/cluster/processes/wait.js";
import { readKeyFile } from "../../src/crypto/key-file.js";
import { createNoteSigner } from "../../src/crypto/note-signer.js";
import { sha256Hex, useServiceCluster, type ServiceCluster } from "../support/service-cluster.js";
import {
  fsckEach,
  ledgerDbOf,
  loggedInClients,
  repairRecords,
  transportCode,
  watchHealth,
} from "../support/tamper-checks.js";
import { EXAMPLE_DIR } from "../support/test-node.js";
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

process.env["KENSHIN_INTEGRITY_CHECK_MS"] = "1500";
const cluster = useServiceCluster();
const ALL = ["node1", "node2", "node3", "backup"];
const VICTIM = "node2";
const loggedIn = loggedInClients(cluster);
/**
 * Answers a node gives while it (or the transfer) is out of service for a moment: asked again. The
 * victim's own request path can meet the damage before its rolling check does (INTEGRITY_FAILURE: the
 * transfer's entries do not verify there; nothing is served) — counted, and asked again. So is a 409
 * ENVELOPE_CHANNEL_INVALID that outlived the client's own one fresh agreement: the key agreement and
 * the body reached different nodes twice, as the victim left and rejoined haproxy.
 */
const RETRYABLE = new Set([
  "CLUSTER_QUARANTINED",
  "TRANSFER_REPAIRING",
  "CLUSTER_UNAVAILABLE",
  "INTEGRITY_FAILURE",
]);
const retried = new Map<string, number>();

function codeOf(r: ApiResponse): string | undefined {
  return errorCode(r);
}

/** Sends `call` again (bounded) while it meets a retryable 503 or a connection cut by a quarantine. */
async function retrying<T>(what: string, call: () => Promise<T>, refused: (t: T) => ApiResponse | undefined) {
  for (let attempt = 0; attempt < 120; attempt++) {
    let result: T;
    try {
      result = await call();
    } catch (error) {
      if (attempt < 119 && /ECONN|EPIPE|socket|TLS/i.test(transportCode(error))) {
        await sleep(250);
        continue;
      }
      throw error;
    }
    const r = refused(result);
    const code = r === undefined ? undefined : codeOf(r);
    const again =
      r !== undefined &&
      code !== undefined &&
      ((r.status === 503 && RETRYABLE.has(code)) ||
        (r.status === 409 && code === "ENVELOPE_CHANNEL_INVALID"));
    if (!again) return result;
    retried.set(code, (retried.get(code) ?? 0) + 1);
    await sleep(250);
  }
  throw new Error(`${what}: still refused after 120 attempts`);
}

/** Uploads, sends and downloads through haproxy until stopped; every download's id and SHA-256. */
function startUsers(sender: ApiClient, receiver: ApiClient, receiverId: string) {
  const body = readFileSync(join(EXAMPLE_DIR, "export.csv"));
  const downloads: { id: string; sha: string }[] = [];
  const completed: string[] = [];
  const failures: string[] = [];
  const run = { on: true };
  const loop = (async () => {
    while (run.on) {
      try {
        const up = await retrying(
          "upload",
          () => uploadExport(sender, receiverId, body),
          (r) => r,
        );
        if (up.status !== 201) {
          failures.push(`upload ${up.status} ${codeOf(up) ?? ""}`);
          continue;
        }
        const id = (up.json as { transfer: { id: string } }).transfer.id;
        const sent = await retrying(
          "send",
          () => sender.post(`/api/v1/transfers/${id}/send`),
          (r) => r,
        );
        if (sent.status !== 200) {
          failures.push(`send ${sent.status} ${codeOf(sent) ?? ""}`);
          continue;
        }
        const got = await retrying(
          "download",
          () => downloadStandard(receiver, id),
          (g) => ("refused" in g ? g.refused : undefined),
        );
        if ("refused" in got) failures.push(`download ${got.refused.status} ${codeOf(got.refused) ?? ""}`);
        else {
          downloads.push({ id, sha: sha256Hex(got.bytes) });
          completed.push(id);
        }
      } catch (error) {
        failures.push(transportCode(error));
      }
      await sleep(300);
    }
  })();
  return {
    downloads,
    completed,
    failures,
    async stop() {
      run.on = false;
      await loop;
    },
  };
}

/**
 * Logs in through haproxy, asked again (bounded) when the login itself was refused: right after the
 * cluster started on a busy machine a node may answer CLUSTER_UNAVAILABLE while its etcd client's
 * circuit breaker is open. (A failure after the login succeeded fails the next attempt's login.)
 */
async function loginRetrying(role: "sender" | "receiver"): Promise<ApiClient> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await loggedIn(role);
    } catch (error) {
      if (attempt >= 10) throw error;
      await sleep(2000);
    }
  }
}

/** The victim's own repair entries (index and text) in `name`'s ledger. */
function victimRepairs(c: ServiceCluster, name: string): { idx: number; text: string }[] {
  return repairRecords(ledgerDbOf(c, name)).filter((r) => r.text.includes(`"node":"${VICTIM}"`));
}

/** The node holding the sequencer election, read from etcd. */
async function sequencer(c: ServiceCluster): Promise<string> {
  const node = c.topology.nodes.find((n) => n.name === "node1");
  if (node === undefined) throw new Error("no node1");
  const e = new Etcd3({ hosts: [etcdClientUrl(node)], dialTimeout: 2000 });
  try {
    return await waitFor(
      async () => {
        const leader = await e
          .election(`${c.topology.prefix}election`)
          .leader()
          .catch(() => undefined);
        return leader !== undefined && ALL.includes(leader) ? leader : undefined;
      },
      { what: "a sequencer", timeoutMs: 30_000, intervalMs: 250 },
    );
  } finally {
    e.close();
  }
}

interface Kind {
  readonly name: string;
  /**
   * Only on a node that is not the sequencer: a sequencer whose copy is shorter than its position
   * prepares no batch (README, "What is left"), so the cluster would wait for its repair.
   */
  readonly notOnSequencer?: true;
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
    const sender = await loginRetrying("sender");
    const receiver = await loginRetrying("receiver");
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
        notOnSequencer: true,
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
        if (kind.notOnSequencer === true) expect([kind.name, await sequencer(c)]).not.toContain(VICTIM);
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
          `${kind.name}: repair entry after ${Math.round(repairedMs)} ms; states ${states.join(" → ")}`,
        );
      }
    } finally {
      await users.stop();
      await health.stop();
      process.stdout.write(
        `service-tamper-kinds (check every 1.5 s):\n  ${timings.join("\n  ")}\n` +
          `  users: ${users.downloads.length} downloads; asked again after ${JSON.stringify(Object.fromEntries(retried))}\n`,
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
