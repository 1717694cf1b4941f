/**
 * "No entry lost, duplicated or reordered" when processes die: three real member processes
 * (test/cluster/command-log-member.js, the built library) on a real 3-member etcd cluster take a burst of
 * submissions; during it the sequencer's process is SIGKILLed (another member takes over once its
 * election lease runs out) and so is an etcd member (the cluster goes on with 2 of 3). The killed member
 * is restarted on its own state file and catches up by itself. Afterwards every member holds the same
 * batches in the same order, every acknowledged command exactly once, and no command twice.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { useEtcdCluster } from "./etcd-suite.js";

const MEMBER = join(process.cwd(), "test/cluster/command-log-member.js");
const PREFIX = "kill-test/";
const suite = useEtcdCluster();
const started: ChildProcess[] = [];

afterAll(() => {
  for (const p of started) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
});

interface Member {
  readonly name: string;
  readonly stateFile: string;
  proc: ChildProcess;
  leader: boolean;
  readonly acks: Set<string>;
  /** Submissions sent to this process instance, and those it answered (ack or nack). */
  sent: number;
  answered: number;
  ready: Promise<void>;
}

function launch(
  m: Omit<Member, "proc" | "ready" | "leader" | "sent" | "answered"> & Partial<Member>,
): Member {
  const proc = spawn(
    process.execPath,
    [MEMBER, suite.cluster().clientUrls().join(","), PREFIX, m.name, m.stateFile],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  started.push(proc);
  const member = m as Member;
  member.proc = proc;
  member.leader = false;
  member.sent = 0;
  member.answered = 0;
  member.ready = new Promise<void>((resolve) => {
    createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on("line", (line) => {
      const msg = JSON.parse(line) as {
        ready?: boolean;
        event?: string;
        ack?: string;
        nack?: string;
        fatal?: string;
      };
      if (msg.ready === true) resolve();
      if (msg.event === "leader") member.leader = true;
      if (msg.ack !== undefined) member.acks.add(msg.ack);
      if (msg.ack !== undefined || msg.nack !== undefined) member.answered++;
      if (msg.fatal !== undefined) throw new Error(`member ${m.name}: ${msg.fatal}`);
    });
  });
  return member;
}

async function kill9(m: Member): Promise<void> {
  if (m.proc.exitCode !== null || m.proc.signalCode !== null) return;
  const exited = new Promise((resolve) => m.proc.once("exit", resolve));
  m.proc.kill("SIGKILL");
  await exited;
  m.leader = false;
}

interface StateLine {
  seq: number;
  hash: string;
  ids: string[];
}
function stateOf(m: Member): StateLine[] {
  let text: string;
  try {
    text = readFileSync(m.stateFile, "utf8");
  } catch {
    return [];
  }
  return text
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as StateLine);
}

describe("command log under SIGKILL (real processes, real etcd)", () => {
  it("loses, duplicates and reorders nothing when the sequencer and an etcd member are killed mid-burst", async () => {
    const members = ["node1", "node2", "node3"].map((name) =>
      launch({ name, stateFile: join(suite.dir(), `${name}.state`), acks: new Set() }),
    );
    await Promise.all(members.map((m) => m.ready));
    await expect.poll(() => members.filter((m) => m.leader).length, { timeout: 20_000 }).toBe(1);
    const firstLeader = members.find((m) => m.leader);
    if (firstLeader === undefined) throw new Error("no leader");

    const TOTAL = 600;
    let sent = 0;
    let killedLeader = false;
    let killedEtcd = false;
    while (sent < TOTAL) {
      // 20 submissions per tick, spread over the members that are running.
      for (let i = 0; i < 20 && sent < TOTAL; i++, sent++) {
        const alive = members.filter((m) => m.proc.exitCode === null && m.proc.signalCode === null);
        const target = alive[sent % alive.length];
        if (target === undefined) continue;
        target.sent++;
        target.proc.stdin?.write(`submit c${String(sent).padStart(5, "0")}-${target.name}\n`);
      }
      if (!killedLeader && sent >= TOTAL / 3) {
        killedLeader = true;
        await kill9(firstLeader);
      }
      if (!killedEtcd && sent >= (2 * TOTAL) / 3) {
        killedEtcd = true;
        await suite.cluster().kill9("etcd3");
      }
      await sleep(40);
    }
    // Another member took over as sequencer.
    await expect
      .poll(() => members.some((m) => m !== firstLeader && m.leader), { timeout: 20_000 })
      .toBe(true);
    // The killed member comes back on its own state file; the etcd member comes back on its data dir.
    const restarted = launch({
      name: firstLeader.name,
      stateFile: firstLeader.stateFile,
      acks: firstLeader.acks,
    });
    members[members.indexOf(firstLeader)] = restarted;
    await restarted.ready;
    await suite.cluster().restart("etcd3");

    // Every running process has answered every submission it was given (those sent to the killed
    // process died with it), and everyone converges on the same last batch (bounded).
    await expect
      .poll(
        () => {
          if (members.some((m) => m.answered < m.sent)) return false;
          const lasts = members.map((m) => stateOf(m).at(-1)?.seq ?? 0);
          return lasts.every((s) => s === lasts[0]);
        },
        { timeout: 120_000, interval: 250 },
      )
      .toBe(true);
    const acked = new Set(members.flatMap((m) => [...m.acks]));

    const states = members.map(stateOf);
    const [reference, ...others] = states;
    if (reference === undefined) throw new Error("no state");
    for (const s of others) expect(s).toEqual(reference);
    // Batches 1..n without a gap, each chained to the one before (the follower checked prev hashes).
    expect(reference.map((l) => l.seq)).toEqual(reference.map((_, i) => i + 1));
    const ids = reference.flatMap((l) => l.ids);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of acked) expect(ids).toContain(id);
    // Most of the burst was acknowledged (submissions to the killed member's stdin were lost with it).
    expect(acked.size).toBeGreaterThan(TOTAL / 2);
    // Each member's own commands are in the order it submitted them.
    for (const m of ["node1", "node2", "node3"]) {
      const own = ids.filter((id) => id.endsWith(`-${m}`));
      expect(own).toEqual([...own].sort());
    }
  }, 240_000);
});
