/**
 * Seeding an empty command log from an existing copy's last batch (`cluster/log-genesis.ts`, the
 * disaster drill's `kenshin cluster reform`), on a real etcd: the batch, the head, the published note
 * and the genesis record are written together and only on an empty log; afterwards a follower at the
 * copy's position continues with the next batch, and a follower starting from nothing finds the log
 * "trimmed" at the seeded batch — the signal that sends a new node to catch up from a peer.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import {
  GENESIS,
  batchHash,
  encodeBatch,
  logKeys,
  type CommandBatch,
  type LogPosition,
} from "../../src/cluster/command-log/command-batch.js";
import { startFollower } from "../../src/cluster/command-log/log-follower.js";
import { ClusterError } from "../../src/cluster/errors.js";
import {
  genesisKey,
  logStartProblem,
  readGenesis,
  seedLog,
  type SeedInput,
} from "../../src/cluster/log-genesis.js";
import { useEtcdCluster } from "./etcd-suite.js";

const suite = useEtcdCluster({ members: 1 });

/** A chain of batches 1…n as a copy's archive holds them. */
function chain(n: number): { texts: string[]; positions: LogPosition[] } {
  const texts: string[] = [];
  const positions: LogPosition[] = [];
  let prev = GENESIS;
  for (let seq = 1; seq <= n; seq++) {
    const batch: CommandBatch = {
      seq,
      prev: prev.hash,
      commands: [{ id: `command-${String(seq).padStart(4, "0")}`, origin: "node1", body: { n: seq } }],
    };
    const text = encodeBatch(batch);
    texts.push(text);
    prev = { seq, hash: batchHash(text) };
    positions.push(prev);
  }
  return { texts, positions };
}

function seedOf(text: string): SeedInput {
  return {
    batch: text,
    ledgerSize: 12,
    root: "ab".repeat(32),
    published: "example.org/log\n12\nq83=\n\n— example.org/log AAAA\n",
    node: "node1",
    seededAt: "2026-12-01T19:00:00.000Z",
  };
}

async function codeOf(run: Promise<unknown>): Promise<string | undefined> {
  return run.then(
    () => undefined,
    (e: unknown) => (e instanceof ClusterError ? e.code : String(e)),
  );
}

describe("seeding a command log from a copy", () => {
  it("writes batch, head, published note and genesis once, and only on an empty log", async () => {
    const client = suite.cluster().client();
    const prefix = "genesis-a/";
    const keys = logKeys(prefix);
    const { texts, positions } = chain(5);
    const last = texts[4] ?? "";
    const genesis = await seedLog(client, prefix, seedOf(last));
    expect(genesis).toMatchObject({ seq: 5, hash: positions[4]?.hash, ledgerSize: 12, node: "node1" });
    expect(await client.get(keys.logKey(5)).string()).toBe(last);
    expect(JSON.parse((await client.get(keys.head).string()) ?? "null")).toEqual(positions[4]);
    expect(await client.get(`${prefix}published`).string()).toBe(seedOf(last).published);
    expect(await readGenesis(client, prefix)).toEqual(genesis);
    // Nothing before the seeded batch.
    expect(await client.getAll().prefix(keys.log).keys()).toEqual([keys.logKey(5)]);

    // Once seeded, never again (also not from another copy's batch).
    expect(await codeOf(seedLog(client, prefix, seedOf(last)))).toBe("CLUSTER_LOG_NOT_EMPTY");
    expect(await codeOf(seedLog(client, prefix, seedOf(texts[2] ?? "")))).toBe("CLUSTER_LOG_NOT_EMPTY");
    expect(await readGenesis(client, prefix)).toEqual(genesis);
  });

  it("refuses a log that already holds batches or a head, and a batch that is not one, writing nothing", async () => {
    const client = suite.cluster().client();
    const { texts } = chain(3);
    const withLog = "genesis-b/";
    await client.put(logKeys(withLog).logKey(1)).value(texts[0] ?? "");
    expect(await codeOf(seedLog(client, withLog, seedOf(texts[2] ?? "")))).toBe("CLUSTER_LOG_NOT_EMPTY");
    expect(await client.get(genesisKey(withLog)).string()).toBeNull();
    expect(await client.get(logKeys(withLog).head).string()).toBeNull();

    const withHead = "genesis-c/";
    await client.put(logKeys(withHead).head).value(JSON.stringify({ seq: 9, hash: "00".repeat(32) }));
    expect(await codeOf(seedLog(client, withHead, seedOf(texts[2] ?? "")))).toBe("CLUSTER_LOG_NOT_EMPTY");
    expect(await client.get(genesisKey(withHead)).string()).toBeNull();
    expect(await client.getAll().prefix(logKeys(withHead).log).keys()).toEqual([]);

    const bad = "genesis-d/";
    expect(await codeOf(seedLog(client, bad, seedOf("not json")))).toBe("CLUSTER_LOG_ENTRY_INVALID");
    expect(await codeOf(seedLog(client, bad, seedOf('{"seq":0}')))).toBe("CLUSTER_LOG_ENTRY_INVALID");
    expect(await client.getAll().prefix(bad).keys()).toEqual([]);
  });

  it("lets the copy's follower go on from its position and sends an empty node to catch up", async () => {
    const client = suite.cluster().client();
    const prefix = "genesis-e/";
    const keys = logKeys(prefix);
    const { texts, positions } = chain(6);
    await seedLog(client, prefix, seedOf(texts[4] ?? ""));
    // The next batch, as the new sequencer writes it after the seeded head.
    await client.put(keys.logKey(6)).value(texts[5] ?? "");

    const applied: number[] = [];
    const copy = startFollower({
      client,
      keys,
      nodeName: "node1",
      from: positions[4] ?? GENESIS,
      idleWaitMs: 50,
      apply: (batch) => {
        applied.push(batch.seq);
      },
    });
    const fresh = startFollower({
      client,
      keys,
      nodeName: "node2",
      from: GENESIS,
      idleWaitMs: 50,
      apply: () => undefined,
    });
    try {
      await copy.waitFor(6, 15_000);
      expect(applied).toEqual([6]);
      for (let i = 0; i < 200 && fresh.failure() === undefined; i++) await sleep(25);
      expect(fresh.failure()?.code).toBe("CLUSTER_LOG_TRIMMED");
      expect(fresh.failure()?.context).toMatchObject({ needed: 1, firstAvailable: 5 });
    } finally {
      await copy.stop();
      await fresh.stop();
    }
  });

  it("tells a copy that applied batches when etcd's log is empty or behind it (not re-formed)", async () => {
    const client = suite.cluster().client();
    const prefix = "genesis-f/";
    const { texts } = chain(5);
    expect(await logStartProblem(client, prefix, { seq: 0 })).toBeUndefined();
    const empty = await logStartProblem(client, prefix, { seq: 5 });
    expect([empty?.code, empty?.context]).toEqual(["CLUSTER_LOG_NOT_SEEDED", { position: 5, head: 0 }]);
    await seedLog(client, prefix, seedOf(texts[3] ?? ""));
    expect((await logStartProblem(client, prefix, { seq: 5 }))?.context).toEqual({ position: 5, head: 4 });
    expect(await logStartProblem(client, prefix, { seq: 4 })).toBeUndefined();
    expect(await logStartProblem(client, prefix, { seq: 3 })).toBeUndefined();
  });
});
