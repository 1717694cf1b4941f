/**
 * Withdrawing a command that was not ordered in time, when it travels in a group (one pending record
 * for several commands, `command-log/submit-command.ts`): on a real 3-member etcd 3.4 cluster, the
 * withdrawn command is taken out of its group's record and never ordered, while the rest of its group is
 * ordered once; a sequencer that had already taken the record fails its compare and orders only what is
 * left.
 */
import { randomBytes } from "node:crypto";
import { Etcd3 } from "etcd3";
import { afterAll, describe, expect, it, onTestFinished } from "vitest";
import { GENESIS, logKeys, type LogKeys } from "../../src/cluster/command-log/command-batch.js";
import { startFollower } from "../../src/cluster/command-log/log-follower.js";
import { startSequencer, type PrepareBatch } from "../../src/cluster/command-log/sequencer.js";
import { createGroupedSubmitter, parseGroupRecord } from "../../src/cluster/command-log/submit-command.js";
import { CommandOrdering } from "../../src/cluster/command-ordering.js";
import type { AppliedBatch } from "../../src/cluster/replicated-state.js";
import { useEtcdCluster } from "./etcd-suite.js";

const suite = useEtcdCluster();
const opened: Etcd3[] = [];
const running: { stop(): Promise<void> }[] = [];

afterAll(async () => {
  await Promise.all(running.map((r) => r.stop()));
  for (const c of opened) c.close();
});

function client(): Etcd3 {
  const c = new Etcd3({ hosts: suite.cluster().clientUrls(), dialTimeout: 2000 });
  opened.push(c);
  return c;
}

/** Two orderings of one node on one submitter: the first gives up after 1 s, the second waits long. */
function orderings(c: Etcd3, keys: LogKeys): { hasty: CommandOrdering; patient: CommandOrdering } {
  const submitter = createGroupedSubmitter(c, keys, { maxDelayMs: 20 });
  const make = (appendTimeoutMs: number): CommandOrdering =>
    new CommandOrdering({ client: c, keys, nodeName: "node1", submitter, appendTimeoutMs });
  return { hasty: make(1000), patient: make(60_000) };
}

/** Follows the log, settling both orderings' calls; returns every ordered body, in log order. */
function follow(c: Etcd3, keys: LogKeys, settle: readonly CommandOrdering[]): unknown[] {
  const bodies: unknown[] = [];
  const f = startFollower({
    client: c,
    keys,
    nodeName: "node1",
    from: GENESIS,
    idleWaitMs: 200,
    apply: (batch, position) => {
      const applied: AppliedBatch = {
        position: { ...position, ledgerSize: 0 },
        results: new Map(batch.commands.map((x) => [x.id, []])),
        refused: [],
        checkpoint: false,
      };
      for (const o of settle) o.settle(applied, batch.commands);
      bodies.push(...batch.commands.map((x) => x.body));
    },
  });
  running.push(f);
  return bodies;
}

async function pendingBodies(c: Etcd3, keys: LogKeys): Promise<unknown[]> {
  const records = await c.getAll().prefix(keys.pending).strings();
  return Object.values(records).flatMap((text) => parseGroupRecord(text).map((x) => x.body));
}

describe("withdrawing a command from its group", () => {
  it("takes it out of the group's record: never ordered, the rest of its group ordered once", async () => {
    const keys = logKeys(`t-withdraw-${randomBytes(3).toString("hex")}/`);
    const c = client();
    const { hasty, patient } = orderings(c, keys);
    // No sequencer yet: all four wait in one pending record.
    const gone = hasty.order("gone");
    const alsoGone = hasty.order("also gone");
    const kept = [patient.order("kept 1"), patient.order("kept 2")];
    await expect.poll(() => pendingBodies(c, keys), { timeout: 5000 }).toHaveLength(4);
    expect(Object.keys(await c.getAll().prefix(keys.pending).strings())).toHaveLength(1);
    // Both hasty calls withdraw at about the same time from the same record: each rewrite compares its
    // mod revision, so the second one reads it again.
    const answers = await Promise.allSettled([gone, alsoGone]);
    for (const a of answers) {
      expect(a.status).toBe("rejected");
      expect((a as PromiseRejectedResult).reason).toMatchObject({
        code: "CLUSTER_UNAVAILABLE",
        context: { outcome: "not-written" },
      });
    }
    expect(await pendingBodies(c, keys)).toEqual(["kept 1", "kept 2"]);
    const s = startSequencer({ client: c, keys, nodeName: "node1", leaseTtlSeconds: 2, idleWaitMs: 100 });
    running.push(s);
    const bodies = follow(c, keys, [hasty, patient]);
    await Promise.all(kept);
    expect(bodies).toEqual(["kept 1", "kept 2"]);
    expect(await pendingBodies(c, keys)).toEqual([]);
  });

  it("a batch that took the record before the withdrawal fails its compare; the next orders the rest", async () => {
    const keys = logKeys(`t-withdraw-race-${randomBytes(3).toString("hex")}/`);
    const c = client();
    const { hasty, patient } = orderings(c, keys);
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    onTestFinished(() => {
      release();
    });
    const judged: unknown[][] = [];
    // The sequencer takes the record and holds its batch until the withdrawal is done.
    const prepare: PrepareBatch = async (_head, commands) => {
      judged.push(commands.map((x) => x.body));
      if (judged.length === 1) await gate;
      return { accepted: commands, refused: [], checkpoint: false };
    };
    const s = startSequencer({
      client: c,
      keys,
      nodeName: "node1",
      leaseTtlSeconds: 2,
      idleWaitMs: 100,
      prepare,
    });
    running.push(s);
    await expect.poll(() => s.isLeader(), { timeout: 10_000 }).toBe(true);
    const bodies = follow(c, keys, [hasty, patient]);
    const gone = hasty.order("gone");
    const kept = patient.order("kept");
    await expect.poll(() => judged.length, { timeout: 10_000 }).toBe(1);
    expect(judged[0]).toEqual(["gone", "kept"]);
    await expect(gone).rejects.toMatchObject({ context: { outcome: "not-written" } });
    release();
    await kept;
    expect(judged.at(-1)).toEqual(["kept"]);
    expect(bodies).toEqual(["kept"]);
    await expect.poll(() => s.appended(), { timeout: 5000 }).toBe(1);
  });
});
