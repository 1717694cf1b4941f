/**
 * The replicated ledger under SIGKILL: three real node processes (test/cluster/ledger-member.js, the
 * built library), each building its own ledger.db only from the etcd command log, take a burst of
 * appends; mid-burst the sequencer's process is SIGKILLed, later another node's process and an etcd
 * member too; the killed nodes restart on their own files and catch up by themselves. Afterwards all
 * three ledger.db files have the same size, root and entry bytes, fsck passes on each, and every
 * acknowledged append is in every copy exactly once.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { decodeEntry } from "../../src/ledger/entry/canonical-entry.js";
import { fsck } from "../../src/ledger/fsck.js";
import { Ledger } from "../../src/ledger/ledger.js";
import { openSqliteLog } from "../../src/store/sqlite-log.js";
import { cosigningFixture } from "./cosigning-fixture.js";
import { useEtcdCluster } from "./etcd-suite.js";

const MEMBER = join(process.cwd(), "test/cluster/ledger-member.js");
const PREFIX = "ledger-kill/";
const suite = useEtcdCluster();
const keysFixture = cosigningFixture();
const started: ChildProcess[] = [];

afterAll(() => {
  for (const p of started) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
});

interface Member {
  readonly name: string;
  readonly dir: string;
  proc: ChildProcess;
  leader: boolean;
  readonly acks: Set<string>;
  /** Appends sent to this process instance, and those it answered (ack or nack). */
  sent: number;
  answered: number;
  ready: Promise<void>;
}

function alive(m: Member): boolean {
  return m.proc.exitCode === null && m.proc.signalCode === null;
}

function launch(name: string, acks = new Set<string>()): Member {
  const dir = join(suite.dir(), name);
  mkdirSync(dir, { recursive: true });
  const proc = spawn(
    process.execPath,
    [
      MEMBER,
      suite.cluster().clientUrls().join(","),
      PREFIX,
      name,
      dir,
      keysFixture.logSigner.name,
      keysFixture.logSigner.verifierKey,
    ],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  started.push(proc);
  const m = { name, dir, proc, leader: false, acks, sent: 0, answered: 0 } as Member;
  m.ready = new Promise<void>((resolve) => {
    createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on("line", (line) => {
      const msg = JSON.parse(line) as {
        ready?: boolean;
        event?: string;
        ack?: string;
        nack?: string;
        fatal?: string;
      };
      if (msg.ready === true) resolve();
      if (msg.event === "leader") m.leader = true;
      if (msg.ack !== undefined) m.acks.add(msg.ack);
      if (msg.ack !== undefined || msg.nack !== undefined) m.answered++;
      if (msg.fatal !== undefined) throw new Error(`${name}: ${msg.fatal}`);
    });
  });
  return m;
}

async function kill9(m: Member): Promise<void> {
  if (!alive(m)) return;
  const exited = new Promise((resolve) => m.proc.once("exit", resolve));
  m.proc.kill("SIGKILL");
  await exited;
  m.leader = false;
}

function idsIn(ledger: Ledger): string[] {
  const ids: string[] = [];
  for (let i = 0; i < ledger.storage.size(); i++) {
    const record = decodeEntry(ledger.entry(i)) as { data?: { id?: string } };
    if (typeof record.data?.id === "string") ids.push(record.data.id);
  }
  return ids;
}

describe("replicated ledger under SIGKILL (real processes, real etcd)", () => {
  it("keeps every acknowledged append in every node's own ledger.db exactly once, with equal roots", async () => {
    const members = ["node1", "node2", "node3"].map((n) => launch(n));
    await Promise.all(members.map((m) => m.ready));
    await expect.poll(() => members.filter((m) => m.leader).length, { timeout: 20_000 }).toBe(1);
    const leader = members.find((m) => m.leader) as Member;
    const other = members.find((m) => !m.leader) as Member;

    const TOTAL = 450;
    for (let sent = 0; sent < TOTAL;) {
      for (let i = 0; i < 15 && sent < TOTAL; i++, sent++) {
        const live = members.filter(alive);
        const target = live[sent % live.length];
        if (target === undefined) continue;
        target.sent++;
        target.proc.stdin?.write(`append e${String(sent).padStart(5, "0")}-${target.name}\n`);
      }
      if (sent === 150) await kill9(leader);
      if (sent === 240) {
        members[members.indexOf(leader)] = launch(leader.name, leader.acks);
        await suite.cluster().kill9("etcd1");
      }
      if (sent === 330) await kill9(other);
      await sleep(40);
    }
    await suite.cluster().restart("etcd1");
    members[members.indexOf(other)] = launch(other.name, other.acks);
    await Promise.all(members.map((m) => m.ready));
    // Every running process has answered every append it was given (those sent to a process that was
    // then killed died with it), and the three ledgers have the same size.
    const sizeOf = (m: Member): number => {
      const log = openSqliteLog(join(m.dir, "ledger.db"));
      try {
        return log.size();
      } finally {
        log.close();
      }
    };
    await expect
      .poll(
        () => {
          if (members.some((m) => m.answered < m.sent)) return false;
          const sizes = members.map(sizeOf);
          return sizes.every((x) => x === sizes[0]);
        },
        { timeout: 120_000, interval: 500 },
      )
      .toBe(true);
    const acked = new Set(members.flatMap((m) => [...m.acks]));
    for (const m of members) await kill9(m);

    const ledgers = members.map((m) => new Ledger({ storage: openSqliteLog(join(m.dir, "ledger.db")) }));
    try {
      const [a, ...rest] = ledgers as [Ledger, ...Ledger[]];
      const ids = idsIn(a);
      expect(new Set(ids).size).toBe(ids.length);
      for (const id of acked) expect(ids).toContain(id);
      expect(acked.size).toBeGreaterThan(TOTAL / 2);
      for (const l of rest) {
        expect(l.storage.size()).toBe(a.storage.size());
        expect(l.root()).toEqual(a.root());
        for (let i = 0; i < a.storage.size(); i++) expect(l.entry(i)).toEqual(a.entry(i));
      }
      for (const l of ledgers) {
        l.signCheckpoint(keysFixture.logSigner);
        expect(fsck(l.storage, keysFixture.logKey).ok).toBe(true);
      }
    } finally {
      for (const l of ledgers) l.close();
    }
  }, 240_000);
});
