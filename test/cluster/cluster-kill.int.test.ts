/**
 * The replicated state machine under SIGKILL: three online node processes and the offline node
 * (test/cluster/cluster-member.js, the built ClusterLedger on its own ledger.db + service.db; the offline
 * one follows its own etcd learner) take a burst of appends, each with a state command. Mid-burst the
 * sequencer's process is SIGKILLed, later an etcd member and then another online node too; the killed
 * processes restart on their own files and catch up by themselves. Afterwards: every acknowledged append
 * is in every node's ledger exactly once and its state row in every node's service.db; every append
 * reported as not written is nowhere; all four copies have the same size, root and entry bytes; fsck
 * passes on each; and a quorum-cosigned published checkpoint covers everything.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatSignerKey, generateNoteKey } from "../../src/crypto/note-key.js";
import { createCosigner, createNoteSigner } from "../../src/crypto/note-signer.js";
import { decodeEntry } from "../../src/ledger/entry/canonical-entry.js";
import { fsck } from "../../src/ledger/fsck.js";
import { Ledger } from "../../src/ledger/ledger.js";
import { openPublishedCheckpoint } from "../../src/ledger/verify/published-checkpoint.js";
import { parseVerifierKey } from "../../src/ledger/verify/verifier-key.js";
import { openServiceDb } from "../../src/store/service-db.js";
import { openSqliteLog } from "../../src/store/sqlite-log.js";
import { useEtcdCluster } from "./etcd-suite.js";

const MEMBER = join(process.cwd(), "test/cluster/cluster-member.js");
const PREFIX = "cluster-kill/";
const suite = useEtcdCluster();
const logKey = generateNoteKey("kenshin.example/cluster-kill-log");
const nodeKeys = [1, 2, 3].map((i) => generateNoteKey(`kenshin.example/node${i}`));
const cosignerKeys = nodeKeys.map((k) => createCosigner(k, Date.now).verifierKey);
const logSigner = createNoteSigner(logKey);
const started: ChildProcess[] = [];
let learnerUrl = "";
const leadersSeen = new Set<string>();

beforeAll(async () => {
  learnerUrl = (await suite.cluster().addLearner("etcd-offline")).clientUrl;
}, 60_000);

afterAll(() => {
  for (const p of started) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
});

interface Member {
  readonly name: string;
  readonly dir: string;
  proc: ChildProcess;
  leader: boolean;
  readonly acks: Set<string>;
  readonly notWritten: Set<string>;
  sent: number;
  answered: number;
  published: number | undefined;
  ready: Promise<void>;
}

const alive = (m: Member): boolean => m.proc.exitCode === null && m.proc.signalCode === null;

function launch(name: string, prior?: Member): Member {
  const dir = join(suite.dir(), name);
  mkdirSync(dir, { recursive: true });
  const offline = name === "offline";
  const i = Number(name.slice(-1)) - 1;
  const hosts = offline ? learnerUrl : suite.cluster().clientUrls().join(",");
  const proc = spawn(process.execPath, [MEMBER, hosts, PREFIX, name, dir, offline ? "offline" : "online"], {
    stdio: ["pipe", "pipe", "inherit"],
    env: {
      ...process.env,
      KENSHIN_TEST_LOG_KEY: offline ? "" : formatSignerKey(logKey),
      KENSHIN_TEST_LOG_VKEY: logSigner.verifierKey,
      KENSHIN_TEST_NODE_KEY: offline ? "" : formatSignerKey(nodeKeys[i] as (typeof nodeKeys)[number]),
      KENSHIN_TEST_COSIGNERS: cosignerKeys.join(","),
    },
  });
  started.push(proc);
  const m: Member = {
    name,
    dir,
    proc,
    leader: false,
    acks: prior?.acks ?? new Set(),
    notWritten: prior?.notWritten ?? new Set(),
    sent: 0,
    answered: 0,
    published: undefined,
    ready: Promise.resolve(),
  };
  m.ready = new Promise<void>((resolve) => {
    createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on("line", (line) => {
      const msg = JSON.parse(line) as {
        ready?: boolean;
        event?: string;
        ack?: string;
        nack?: string;
        outcome?: string;
        fatal?: string;
        published?: number;
      };
      if (msg.ready === true) resolve();
      if (msg.event === "leader") {
        m.leader = true;
        leadersSeen.add(name);
      }
      if (msg.ack !== undefined) m.acks.add(msg.ack);
      if (msg.nack !== undefined && msg.outcome === "not-written") m.notWritten.add(msg.nack);
      if (msg.ack !== undefined || msg.nack !== undefined) m.answered++;
      if (msg.published !== undefined) m.published = msg.published;
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

function sizeOf(m: Member): number {
  const log = openSqliteLog(join(m.dir, "ledger.db"));
  try {
    return log.size();
  } finally {
    log.close();
  }
}

describe("replicated state machine under SIGKILL (real processes, real etcd)", () => {
  it("keeps every acknowledged append and its state on every node exactly once, equal roots, fsck clean", async () => {
    const members = ["node1", "node2", "node3", "offline"].map((n) => launch(n));
    await Promise.all(members.map((m) => m.ready));
    await expect.poll(() => members.filter((m) => m.leader).length, { timeout: 20_000 }).toBe(1);
    const leader = members.find((m) => m.leader) as Member;
    const other = members.find((m) => !m.leader && m.name !== "offline") as Member;
    const online = (): Member[] => members.filter((m) => m.name !== "offline");

    const TOTAL = 450;
    for (let sent = 0; sent < TOTAL;) {
      for (let i = 0; i < 15 && sent < TOTAL; i++, sent++) {
        const live = online().filter(alive);
        const target = live[sent % live.length];
        if (target === undefined) continue;
        target.sent++;
        target.proc.stdin?.write(`append e${String(sent).padStart(5, "0")}-${target.name}\n`);
      }
      if (sent === 150) {
        await kill9(members[members.indexOf(leader)] as Member);
        // The take-over is waited for before the old sequencer comes back (on a loaded machine the
        // loop reached the relaunch within the lease's time-to-live, and the relaunched node could win
        // the next election itself — then no other node had been sequencer when the test looked).
        await expect
          .poll(() => online().some((m) => alive(m) && m.leader), { timeout: 60_000, interval: 100 })
          .toBe(true);
      }
      if (sent === 240) {
        members[members.indexOf(leader)] = launch(leader.name, leader);
        await suite.cluster().kill9("etcd1");
      }
      if (sent === 330) await kill9(other);
      await sleep(40);
    }
    await suite.cluster().restart("etcd1");
    members[members.indexOf(other)] = launch(other.name, other);
    await Promise.all(members.map((m) => m.ready));
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
    const size = sizeOf(members[0] as Member);
    for (const m of members) m.proc.stdin?.write("publish\n");
    await expect
      .poll(() => members.every((m) => m.published !== undefined), { timeout: 60_000, interval: 200 })
      .toBe(true);
    for (const m of members) expect(m.published).toBe(size);
    const acked = new Set(members.flatMap((m) => [...m.acks]));
    const notWritten = new Set(members.flatMap((m) => [...m.notWritten]));
    for (const m of members) await kill9(m);

    // Another node took over as sequencer after the first one was killed.
    expect([...leadersSeen].some((n) => n !== leader.name)).toBe(true);
    expect(acked.size).toBeGreaterThan(TOTAL / 2);
    const ledgers = members.map((m) => new Ledger({ storage: openSqliteLog(join(m.dir, "ledger.db")) }));
    const dbs = members.map((m) => openServiceDb(join(m.dir, "service.db"), { create: false }));
    try {
      const [a, ...rest] = ledgers as [Ledger, ...Ledger[]];
      const ids: string[] = [];
      for (let i = 0; i < a.storage.size(); i++) {
        const record = decodeEntry(a.entry(i)) as { data?: { id?: string } };
        if (typeof record.data?.id === "string") ids.push(record.data.id);
      }
      expect(new Set(ids).size).toBe(ids.length);
      for (const id of acked) expect(ids).toContain(id);
      for (const id of notWritten) expect(ids).not.toContain(id);
      for (const l of rest) {
        expect(l.storage.size()).toBe(a.storage.size());
        expect(l.root()).toEqual(a.root());
        for (let i = 0; i < a.storage.size(); i++) expect(l.entry(i)).toEqual(a.entry(i));
      }
      const rows = dbs.map((db) =>
        db.prepare<[], { key: string; entry: number }>("SELECT key, entry FROM test_kv ORDER BY key").all(),
      );
      for (const r of rows) expect(r).toEqual(rows[0]);
      const keys = new Set(rows[0]?.map((r) => r.key));
      expect(keys.size).toBe(ids.length);
      for (const id of acked) expect(keys.has(id)).toBe(true);
      for (const l of ledgers) expect(fsck(l.storage, parseVerifierKey(logSigner.verifierKey)).ok).toBe(true);
      // The published note each node keeps verifies with the quorum of pinned cosigners.
      for (const db of dbs) {
        const note = db.prepare<[], { note: string }>("SELECT note FROM cluster_published").get()?.note;
        const opened = openPublishedCheckpoint(note ?? "", parseVerifierKey(logSigner.verifierKey), {
          cosigners: cosignerKeys.map((k) => parseVerifierKey(k)),
          quorum: 2,
        });
        expect(opened.checkpoint.size).toBe(size);
      }
    } finally {
      for (const l of ledgers) l.close();
      for (const db of dbs) db.close();
    }
  }, 300_000);
});
