/**
 * The cluster's write port on real etcd (3 voting members + a learner for the offline node), with four
 * in-process nodes each on its own ledger.db and service.db: the port contract (the same tests the
 * embedded node runs), then what only a cluster has — every node, the offline one included, reaching the
 * same copy and the same state from the log alone; a node restarted on its files resuming from its
 * position; the sequencer leaving and another taking over with nothing lost or repeated; and a node
 * whose copy was edited behind its back refusing to cosign (the integrity watch re-hashes every new entry
 * and recomputes the root before each cosignature) while the other two publish without it.
 */
import Database from "better-sqlite3";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CommandBatch } from "../../src/cluster/command-log/command-batch.js";
import { LEDGER_APPEND } from "../../src/cluster/state-command.js";
import { isCodedError } from "../../src/coded-error.js";
import { fsck } from "../../src/ledger/fsck.js";
import { toHex } from "../../src/ledger/verify/encoding.js";
import { openSqliteLog } from "../../src/store/sqlite-log.js";
import { conversionRequest, noteRecord, sha } from "../ledger/records.js";
import { put, testRows, writePortContract } from "../support/write-port-contract.js";
import { nodeSet, until, type TestNode as Node } from "./cluster-nodes.js";
import { cosigningFixture } from "./cosigning-fixture.js";
import { useEtcdCluster } from "./etcd-suite.js";

const suite = useEtcdCluster();
const f = cosigningFixture();
const policy = { cosigners: f.cosignerKeys, quorum: 2 };
const set = nodeSet({ dir: () => suite.dir(), prefix: "cluster-ledger/", keys: f });
const nodes = set.nodes;

beforeAll(async () => {
  const hosts = suite.cluster().clientUrls();
  for (const [i, name] of ["node1", "node2", "node3"].entries()) set.start(name, i, hosts);
  const learner = await suite.cluster().addLearner("offline");
  set.start("offline", undefined, [learner.clientUrl]);
  await until("a sequencer", () => nodes.some((n) => n.ledger.status().sequencer));
}, 60_000);

afterAll(async () => {
  await set.closeAll();
});

const online = (): Node[] => nodes.filter((n) => n.name !== "offline");

writePortContract("cluster on etcd (a node that is not the sequencer)", () => {
  const n = online().find((x) => !x.ledger.status().sequencer) ?? online()[0];
  if (n === undefined) throw new Error("no node");
  return { port: n.ledger, db: n.db, logKey: f.logKey, policy };
});

async function converged(): Promise<void> {
  const size = Math.max(...nodes.map((n) => n.ledger.size()));
  await until(`every node at size ${size}`, () =>
    nodes.every(
      (n) => n.ledger.size() === size && n.ledger.status().seq === (nodes[0] as Node).ledger.status().seq,
    ),
  );
}

describe("the replicated state machine", () => {
  it("brings every node, the offline one included, to the same copy and the same state", async () => {
    const appended = await Promise.all(
      online().flatMap((n, i) =>
        Array.from({ length: 5 }, (_, j) =>
          n.ledger.append([{ record: noteRecord(10_000 + i * 100 + j) }], {
            command: put(`conv-${i}-${j}`, n.name),
          }),
        ),
      ),
    );
    expect(new Set(appended.flat().map((r) => r.index)).size).toBe(15);
    await converged();
    const first = nodes[0] as Node;
    const size = first.ledger.size();
    for (const n of nodes) {
      expect(n.ledger.size()).toBe(size);
      expect(toHex(n.ledger.root(size))).toBe(toHex(first.ledger.root(size)));
      for (let i = 0; i < size; i++) expect(toHex(n.ledger.entry(i))).toBe(toHex(first.ledger.entry(i)));
      expect(testRows(n.db)).toEqual(testRows(first.db));
    }
    // A published checkpoint (cosigned by a quorum) covers it all; every node's own file passes fsck —
    // the offline node's too, with the log-signed part of the published checkpoint (it has no log key).
    const cp = await first.ledger.checkpointCovering(size - 1);
    expect(cp.size).toBe(size);
    await until("the offline node to take the published checkpoint", () => {
      try {
        return (nodes.find((n) => n.name === "offline") as Node).ledger.latestCheckpoint().size >= size;
      } catch {
        return false;
      }
    });
    for (const n of nodes) {
      const storage = openSqliteLog(join(n.dir, "ledger.db"));
      try {
        expect(fsck(storage, f.logKey).ok).toBe(true);
        expect(storage.latestCheckpoint()?.size).toBe(size);
      } finally {
        storage.close();
      }
    }
  }, 60_000);

  it("carries a conversion's record hashes given packed (as uploads pass them) to every node's copy", async () => {
    const hashes = ["a", "b", "c"].map((x) => sha(`record-${x}`));
    const request = conversionRequest("T-packed", sha("in"), sha("out"), hashes);
    const packed = Uint8Array.from(Buffer.from(hashes.join(""), "hex"));
    const n1 = online()[0] as Node;
    const [r] = await n1.ledger.append([{ ...request, recordHashes: packed }]);
    const index = r?.index ?? -1;
    await converged();
    for (const n of nodes) {
      expect(n.ledger.recordHashes(index).map((h) => toHex(h))).toEqual(hashes);
    }
  }, 60_000);

  it("refuses appends on the offline node", async () => {
    const offline = nodes.find((n) => n.name === "offline") as Node;
    await expect(offline.ledger.append([{ record: noteRecord(1) }])).rejects.toMatchObject({
      code: "CLUSTER_UNAVAILABLE",
    });
  });

  it("resumes a node restarted on its own files from its position, nothing applied twice", async () => {
    const n2 = nodes.find((n) => n.name === "node2") as Node;
    await n2.ledger.close();
    const other = nodes.find((n) => n.name === "node1") as Node;
    for (let j = 0; j < 5; j++)
      await other.ledger.append([{ record: noteRecord(20_000 + j) }], { command: put(`restart-${j}`, "x") });
    set.reopen(n2);
    await converged();
    expect(testRows(n2.db)).toEqual(testRows(other.db));
    expect(toHex(n2.ledger.root())).toBe(toHex(other.ledger.root()));
  }, 60_000);

  it("goes on when the sequencer leaves: another is elected, nothing lost, repeated or reordered", async () => {
    const leader = online().find((n) => n.ledger.status().sequencer) as Node;
    const rest = online().filter((n) => n !== leader);
    const before = (rest[0] as Node).ledger.size();
    const burst = Array.from({ length: 20 }, (_, j) =>
      (rest[j % rest.length] as Node).ledger.append([{ record: noteRecord(30_000 + j) }], {
        command: put(`failover-${j}`, "y"),
      }),
    );
    await sleep(20);
    await leader.ledger.close();
    const results = await Promise.all(burst);
    await until("a new sequencer", () => rest.some((n) => n.ledger.status().sequencer));
    set.reopen(leader);
    await converged();
    const indices = results
      .flat()
      .map((r) => r.index)
      .sort((a, b) => a - b);
    expect(new Set(indices).size).toBe(20);
    expect(Math.min(...indices)).toBeGreaterThanOrEqual(before);
    for (const n of nodes) {
      const rows = testRows(n.db).filter((r) => r.key.startsWith("failover-"));
      expect(rows).toHaveLength(20);
      expect(testRows(n.db)).toEqual(testRows(leader.db));
    }
  }, 60_000);
});

describe("checkpoint batches", () => {
  it("writes no empty checkpoint batch for entries a checkpoint batch already covers", async () => {
    const n1 = online()[0] as Node;
    const from = n1.ledger.status().seq;
    // Each round: one entry, then a wait for the published checkpoint covering it (a waiter asks the
    // sequencer for a checkpoint batch, and keeps wanting one until it is published).
    for (let round = 0; round < 6; round++) {
      const [r] = await n1.ledger.append([{ record: noteRecord(50_000 + round) }], {
        command: put(`checkpoint-${round}`, n1.name),
      });
      await n1.ledger.checkpointCovering(r?.index ?? -1);
    }
    await sleep(1000);
    await converged();
    const stored = await n1.client.getAll().prefix("cluster-ledger/log/").strings();
    const batches = Object.entries(stored)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([, v]) => JSON.parse(v) as CommandBatch)
      .filter((b) => b.seq > from);
    expect(batches.filter((b) => b.checkpoint === true).length).toBeGreaterThanOrEqual(6);
    // Every checkpoint batch covers at least one entry no earlier checkpoint batch covered (the first
    // one may cover entries of the test before, written before \`from\`).
    let uncovered = true;
    const extra: number[] = [];
    for (const b of batches) {
      if (b.commands.some((c) => (c.body as { type?: string }).type === LEDGER_APPEND)) uncovered = true;
      if (b.checkpoint !== true) continue;
      if (!uncovered) extra.push(b.seq);
      uncovered = false;
    }
    expect(extra).toEqual([]);
  }, 60_000);
});

describe("cosigning through the integrity watch", () => {
  it("a node whose copy was edited behind its back does not cosign; the other two publish without it", async () => {
    const n3 = nodes.find((n) => n.name === "node3") as Node;
    const others = online().filter((n) => n !== n3);
    await n3.ledger.close();
    // One entry's bytes changed in node3's own ledger.db; its stored leaf hash and interior nodes (what
    // a root read from storage would use) left as they were.
    const raw = new Database(join(n3.dir, "ledger.db"));
    try {
      const row = raw.prepare<[], { entry: Buffer }>("SELECT entry FROM entries WHERE idx = 2").get();
      const text = (row?.entry ?? Buffer.alloc(0)).toString("utf8");
      expect(text).toContain('"time":"2025');
      raw
        .prepare("UPDATE entries SET entry = ? WHERE idx = 2")
        .run(Buffer.from(text.replace('"time":"2025', '"time":"2024'), "utf8"));
    } finally {
      raw.close();
    }
    const errors: unknown[] = [];
    set.reopen(n3, { onError: (e) => errors.push(e) });
    const results = await Promise.all(
      others.map((n, i) =>
        n.ledger.append([{ record: noteRecord(40_000 + i) }], { command: put(`tamper-${i}`, n.name) }),
      ),
    );
    const last = Math.max(...results.flat().map((r) => r.index));
    await converged();
    const cp = await (others[0] as Node).ledger.checkpointCovering(last);
    await until("node3 to refuse its cosignature", () =>
      errors.some((e) => isCodedError(e) && e.code === "CLUSTER_INTEGRITY_MISMATCH"),
    );
    expect(n3.ledger.stats.cosigned).toBe(0);
    // node3 still applies the log (same size, same state rows); only its vouching stops.
    expect(n3.ledger.size()).toBe((others[0] as Node).ledger.size());
    expect(testRows(n3.db)).toEqual(testRows((others[0] as Node).db));
    const signers = cp.note
      .slice(cp.note.indexOf("\n\n") + 2)
      .split("\n")
      .filter((l) => l.startsWith("\u2014 kenshin.example/node"))
      .map((l) => l.split(" ")[1]);
    expect(signers.sort()).toEqual(["kenshin.example/node1", "kenshin.example/node2"]);
  }, 60_000);
});
