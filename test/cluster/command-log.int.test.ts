/**
 * The ordered command log on a real 3-member etcd 3.4 cluster, in-process: election, batched
 * compare-and-swap appends, followers applying in order, idempotent submission, resuming after a restart
 * (also when etcd compacted its history past the follower), trimming, and edits inside etcd being
 * caught. The multi-process SIGKILL test is command-log-kill.int.test.ts.
 */
import { randomBytes } from "node:crypto";
import { Etcd3 } from "etcd3";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, describe, expect, it, onTestFinished } from "vitest";
import { isCodedError } from "../../src/coded-error.js";
import {
  GENESIS,
  encodeBatch,
  logKeys,
  MAX_COMMAND_BYTES,
  type CommandBatch,
  type LogKeys,
  type LogPosition,
} from "../../src/cluster/command-log/command-batch.js";
import { startFollower, type RunningFollower } from "../../src/cluster/command-log/log-follower.js";
import { trimLog } from "../../src/cluster/command-log/log-trim.js";
import { startSequencer, type RunningSequencer } from "../../src/cluster/command-log/sequencer.js";
import { createGroupedSubmitter, submitCommand } from "../../src/cluster/command-log/submit-command.js";
import { useEtcdCluster } from "./etcd-suite.js";

const suite = useEtcdCluster();
const opened: { close(): void }[] = [];
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

const id = (): string => randomBytes(9).toString("base64url");

interface Recorder {
  readonly follower: RunningFollower;
  readonly ids: string[];
  readonly batches: CommandBatch[];
}

function follow(c: Etcd3, keys: LogKeys, nodeName: string, from: LogPosition = GENESIS): Recorder {
  const ids: string[] = [];
  const batches: CommandBatch[] = [];
  const follower = startFollower({
    client: c,
    keys,
    nodeName,
    from,
    idleWaitMs: 300,
    apply: (batch) => {
      batches.push(batch);
      for (const cmd of batch.commands) ids.push(cmd.id);
    },
  });
  running.push(follower);
  return { follower, ids, batches };
}

function sequence(c: Etcd3, keys: LogKeys, nodeName: string): RunningSequencer {
  const s = startSequencer({ client: c, keys, nodeName, leaseTtlSeconds: 2, idleWaitMs: 200 });
  running.push(s);
  return s;
}

async function headSeq(c: Etcd3, keys: LogKeys): Promise<number> {
  const text = await c.get(keys.head).string();
  return text === null ? 0 : (JSON.parse(text) as LogPosition).seq;
}

describe("ordered command log on etcd", () => {
  it("orders concurrent submissions from three nodes once, identically for every follower", async () => {
    const keys = logKeys("t-order/");
    const nodes = ["node1", "node2", "node3"].map((name) => ({ name, client: client() }));
    const sequencers = nodes.map((n) => sequence(n.client, keys, n.name));
    const recorders = nodes.map((n) => follow(n.client, keys, n.name));
    const submitted: Record<string, string[]> = {};
    await Promise.all(
      nodes.map(async (n) => {
        submitted[n.name] = [];
        for (let i = 0; i < 60; i++) {
          const cid = `${n.name}-${i}-${id()}`;
          submitted[n.name]?.push(cid);
          expect(await submitCommand(n.client, keys, { id: cid, origin: n.name, body: { i } })).toBe(
            "submitted",
          );
        }
      }),
    );
    const head = await (async () => {
      await expect
        .poll(() => recorders.map((r) => r.ids.length), { timeout: 30_000 })
        .toEqual([180, 180, 180]);
      return headSeq(nodes[0]?.client ?? client(), keys);
    })();
    const [first, ...rest] = recorders;
    for (const r of rest) expect(r.ids).toEqual(first?.ids);
    expect(new Set(first?.ids).size).toBe(180);
    // Each node's own commands keep the order it submitted them in.
    for (const n of nodes)
      expect(first?.ids.filter((x) => x.startsWith(`${n.name}-`))).toEqual(submitted[n.name]);
    // Batching: fewer batches than commands, numbered 1..head without a gap.
    expect(first?.batches.map((b) => b.seq)).toEqual(Array.from({ length: head }, (_, i) => i + 1));
    expect(head).toBeLessThanOrEqual(180);
    expect(sequencers.filter((s) => s.isLeader())).toHaveLength(1);
  });

  it("accepts a command id once: a retried submission is reported as a duplicate, never ordered twice", async () => {
    const keys = logKeys("t-dup/");
    const c = client();
    sequence(c, keys, "node1");
    const r = follow(c, keys, "node1");
    const cid = id();
    expect(await submitCommand(c, keys, { id: cid, origin: "node1", body: 1 })).toBe("submitted");
    expect(await submitCommand(c, keys, { id: cid, origin: "node1", body: 1 })).toBe("duplicate");
    await r.follower.waitFor(1);
    expect(await submitCommand(c, keys, { id: cid, origin: "node2", body: 2 })).toBe("duplicate");
    const other = id();
    await submitCommand(c, keys, { id: other, origin: "node1", body: 3 });
    await expect.poll(() => r.ids.length, { timeout: 10_000 }).toBe(2);
    expect(r.ids).toEqual([cid, other]);
  });

  it("groups concurrent submissions into one transaction and still answers each exactly", async () => {
    const keys = logKeys("t-group/");
    const c = client();
    sequence(c, keys, "node1");
    const r = follow(c, keys, "node1");
    const known = id();
    await submitCommand(c, keys, { id: known, origin: "node1", body: "first" });
    const submitter = createGroupedSubmitter(c, keys, { maxDelayMs: 5 });
    const ids = Array.from({ length: 150 }, () => id());
    const twice = ids[3] ?? "";
    const answers = await Promise.all([
      ...ids.map((x) => submitter.submit({ id: x, origin: "node1", body: x })),
      submitter.submit({ id: twice, origin: "node1", body: "again" }),
      submitter.submit({ id: known, origin: "node1", body: "again" }),
    ]);
    expect(answers.slice(0, 150).every((a) => a === "submitted")).toBe(true);
    expect(answers.slice(150)).toEqual(["duplicate", "duplicate"]);
    await expect.poll(() => r.ids.length, { timeout: 15_000 }).toBe(151);
    expect(new Set(r.ids)).toEqual(new Set([known, ...ids]));
  });

  it("the offline node follows from its own etcd learner with member-local reads, without voting", async () => {
    const keys = logKeys("t-learner/");
    const c = client();
    sequence(c, keys, "node1");
    const online = follow(c, keys, "node1");
    const learner = await suite.cluster().addLearner("backup");
    const local = new Etcd3({ hosts: learner.clientUrl, dialTimeout: 2000 });
    opened.push(local);
    const ids: string[] = [];
    const offline = startFollower({
      client: local,
      keys,
      nodeName: "backup",
      from: GENESIS,
      idleWaitMs: 200,
      serializable: true,
      reportProgress: false,
      apply: (batch) => {
        for (const cmd of batch.commands) ids.push(cmd.id);
      },
    });
    running.push(offline);
    for (let i = 0; i < 30; i++)
      await submitCommand(c, keys, { id: `l${i}-${id()}`, origin: "node1", body: i });
    await expect.poll(() => ids.length, { timeout: 20_000 }).toBe(30);
    // The online follower may be a wake-up behind the offline one: wait for it too, then compare.
    await expect.poll(() => online.ids.length, { timeout: 20_000 }).toBe(30);
    expect(ids).toEqual(online.ids);
    expect(offline.failure()).toBeUndefined();
    // A linearizable read on the learner is refused: it really is a non-voting member.
    await expect(local.get(keys.head).string()).rejects.toThrow();
  });

  it("a deposed sequencer's late batch fails on the head compare-and-swap: the log never forks", async () => {
    const keys = logKeys("t-deposed/");
    const c = client();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let held = 0;
    // The first sequencer reads the head and the pending command, then stalls before its write.
    onTestFinished(() => {
      release();
    });
    const first = startSequencer({
      client: c,
      keys,
      nodeName: "node1",
      leaseTtlSeconds: 2,
      idleWaitMs: 100,
      prepare: async (_head, commands) => {
        held++;
        await gate;
        return { accepted: commands, refused: [], checkpoint: false };
      },
    });
    running.push(first);
    await expect.poll(() => first.isLeader(), { timeout: 10_000 }).toBe(true);
    const live = follow(c, keys, "node-live");
    const cmd = id();
    await submitCommand(c, keys, { id: cmd, origin: "node1", body: "once" });
    await expect.poll(() => held, { timeout: 10_000 }).toBe(1);
    // Its leadership ends (its election key gone, as when its lease expires); another is elected and
    // orders the same pending command.
    const second = sequence(c, keys, "node2");
    const campaign = await c.getAll().prefix(`election/${keys.election}/`).sort("Create", "Ascend").keys();
    expect(campaign.length).toBeGreaterThan(0);
    await c.delete().key(campaign[0] as string);
    await expect.poll(() => live.ids, { timeout: 15_000 }).toEqual([cmd]);
    expect(second.appended()).toBe(1);
    // Now the deposed one writes what it prepared: refused by etcd, nothing appended.
    release();
    await sleep(500);
    expect(first.appended()).toBe(0);
    expect(await headSeq(c, keys)).toBe(1);
    expect(live.ids).toEqual([cmd]);
  });

  it("refuses malformed commands before they reach etcd (coded)", async () => {
    const keys = logKeys("t-bad/");
    const c = client();
    for (const bad of [
      { id: "short", origin: "node1", body: 1 },
      { id: id(), origin: "Node 1", body: 1 },
      { id: id(), origin: "node1", body: "x".repeat(MAX_COMMAND_BYTES + 1) },
    ]) {
      await expect(submitCommand(c, keys, bad)).rejects.toMatchObject({ code: "CLUSTER_LOG_ENTRY_INVALID" });
    }
    expect(await c.getAll().prefix("t-bad/").count()).toBe(0);
  });

  it("a restarted follower resumes from its last position, even after etcd compacted past it", async () => {
    const keys = logKeys("t-resume/");
    const c = client();
    sequence(c, keys, "node1");
    const live = follow(c, keys, "node-live");
    const early = follow(c, keys, "node-down");
    for (let i = 0; i < 5; i++)
      await submitCommand(c, keys, { id: `early-${i}-${id()}`, origin: "node1", body: i });
    await expect.poll(() => early.ids.length, { timeout: 10_000 }).toBe(5);
    await early.follower.stop();
    const stoppedAt = early.follower.position();
    const revisionThen = (await c.get(keys.head).exec()).header.revision;
    for (let i = 0; i < 7; i++)
      await submitCommand(c, keys, { id: `late-${i}-${id()}`, origin: "node1", body: i });
    await expect.poll(() => live.ids.length, { timeout: 10_000 }).toBe(12);
    // Compact etcd's history up to now: revisionThen is gone.
    const now = (await c.get(keys.head).exec()).header.revision;
    await c.kv.compact({ revision: now, physical: true });
    await expect(c.get(keys.head).revision(revisionThen).string()).rejects.toThrow(/compacted/);
    const resumed = follow(c, keys, "node-down", stoppedAt);
    await expect.poll(() => resumed.ids.length, { timeout: 10_000 }).toBe(7);
    expect([...early.ids, ...resumed.ids]).toEqual(live.ids);
    expect(resumed.follower.position()).toEqual(live.follower.position());
  });

  it("a follower behind a trimmed log stops with CLUSTER_LOG_TRIMMED; trimming past a node is refused", async () => {
    const keys = logKeys("t-trim/");
    const c = client();
    sequence(c, keys, "node1");
    const a = follow(c, keys, "node1");
    // One command at a time, each waited for: four batches.
    for (let i = 0; i < 4; i++) {
      await submitCommand(c, keys, { id: id(), origin: "node1", body: i });
      await a.follower.waitFor(i + 1);
    }
    const head = await headSeq(c, keys);
    expect(head).toBe(4);
    await expect
      .poll(async () => c.get(keys.applied + "node1").string(), { timeout: 5000 })
      .toBe(String(head));
    await expect(trimLog(c, keys, { below: head, nodes: ["node1", "node-never"] })).rejects.toMatchObject({
      code: "CLUSTER_OPTION_INVALID",
    });
    expect(await trimLog(c, keys, { below: head, nodes: ["node1"] })).toBe(head - 1);
    const late = follow(c, keys, "node-late");
    await expect.poll(() => late.follower.failure()?.code, { timeout: 10_000 }).toBe("CLUSTER_LOG_TRIMMED");
    expect(late.ids).toEqual([]);
    // One that had applied up to head-1 continues with the batches that remain.
    const near = follow(c, keys, "node-near", a.follower.position());
    await submitCommand(c, keys, { id: id(), origin: "node1", body: "after trim" });
    await near.follower.waitFor(head + 1);
    expect(near.ids).toHaveLength(1);
  });

  it("a batch edited inside etcd is caught at its successor (CLUSTER_LOG_GAP), nothing after it applied", async () => {
    const keys = logKeys("t-edit/");
    const c = client();
    const s = sequence(c, keys, "node1");
    const a = follow(c, keys, "node1");
    for (let i = 0; i < 4; i++) {
      await submitCommand(c, keys, { id: `edit-${i}-${id()}`, origin: "node1", body: i });
      await a.follower.waitFor(i + 1);
    }
    await s.stop();
    const original = a.batches[1];
    if (original === undefined) throw new Error("no batch 2");
    const forged: CommandBatch = { ...original, commands: [{ id: id(), origin: "node9", body: "forged" }] };
    await c.put(keys.logKey(2)).value(encodeBatch(forged));
    const b = follow(c, keys, "node-check");
    await expect.poll(() => b.follower.failure()?.code, { timeout: 10_000 }).toBe("CLUSTER_LOG_GAP");
    expect(b.follower.position().seq).toBe(2);
    expect(b.batches.map((x) => x.seq)).toEqual([1, 2]);
  });

  it("a state machine that refuses a batch stops the follower (CLUSTER_APPLY_FAILED) without skipping it", async () => {
    const keys = logKeys("t-apply/");
    const c = client();
    sequence(c, keys, "node1");
    const seen: number[] = [];
    const f = startFollower({
      client: c,
      keys,
      nodeName: "node1",
      from: GENESIS,
      idleWaitMs: 200,
      apply: (batch) => {
        if (batch.commands.some((x) => x.body === "poison")) throw new Error("cannot apply");
        seen.push(batch.seq);
      },
    });
    running.push(f);
    await submitCommand(c, keys, { id: id(), origin: "node1", body: "fine" });
    await f.waitFor(1);
    await submitCommand(c, keys, { id: id(), origin: "node1", body: "poison" });
    await expect.poll(() => f.failure()?.code, { timeout: 10_000 }).toBe("CLUSTER_APPLY_FAILED");
    expect(f.position().seq).toBe(1);
    expect(seen).toEqual([1]);
    const e = await f.waitFor(2).catch((x: unknown) => x);
    expect(isCodedError(e) ? e.code : e).toBe("CLUSTER_APPLY_FAILED");
  });
});
