/**
 * Commands handed to the sequencer directly (`command-log/handed-commands.ts`, `hand-over.ts`,
 * `hand-over-route.ts`), on a real 3-member etcd 3.4 cluster and real mutual-TLS peer endpoints with
 * certificates made at test start: handed commands are ordered once with no pending record at all and
 * their id markers written by the batch itself; a command whose marker was taken first (withdrawn) is
 * never ordered; bad hand-over requests are refused with a code and change nothing; and the sequencer's
 * process SIGKILLed with handed commands in flight loses none and orders none twice — each was ordered
 * directly, or settled through the pending path and ordered by the successor.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { Etcd3 } from "etcd3";
import { afterAll, describe, expect, it } from "vitest";
import { GENESIS, logKeys, type LogKeys } from "../../src/cluster/command-log/command-batch.js";
import { createHandOver, type HandOver } from "../../src/cluster/command-log/hand-over.js";
import { HAND_OVER_PATH, handOverRoute } from "../../src/cluster/command-log/hand-over-route.js";
import { DIRECT_MARKER, type HandOverAnswer } from "../../src/cluster/command-log/handed-commands.js";
import { startFollower } from "../../src/cluster/command-log/log-follower.js";
import { startSequencer } from "../../src/cluster/command-log/sequencer.js";
import { createGroupedSubmitter } from "../../src/cluster/command-log/submit-command.js";
import { CommandOrdering } from "../../src/cluster/command-ordering.js";
import { peerAgent, postJson } from "../../src/cluster/peer/peer-post.js";
import { startPeerServer, type PeerTls } from "../../src/cluster/peer/peer-server.js";
import type { AppliedBatch } from "../../src/cluster/replicated-state.js";
import type { IssuedCertificate } from "../../src/crypto/pki/index.js";
import { openChunkStore } from "../../src/store/chunk-store.js";
import { useEtcdCluster } from "./etcd-suite.js";
import { issueTestNodeCertificates } from "./node-certificates.js";

const MEMBER = join(process.cwd(), "test/cluster/hand-over-member.js");
const suite = useEtcdCluster();
const opened: Etcd3[] = [];
const running: { stop(): Promise<void> }[] = [];
const closers: (() => unknown)[] = [];
const started: ChildProcess[] = [];
const dir = mkdtempSync(join(tmpdir(), "kenshin-hand-over-"));
const certs = new Map<string, IssuedCertificate>();
let pki: Awaited<ReturnType<typeof issueTestNodeCertificates>> | undefined;

afterAll(async () => {
  for (const p of started) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
  await Promise.all(running.map((r) => r.stop()));
  for (const close of closers) await close();
  for (const c of opened) c.close();
  rmSync(dir, { recursive: true, force: true });
});

function client(): Etcd3 {
  const c = new Etcd3({ hosts: suite.cluster().clientUrls(), dialTimeout: 2000 });
  opened.push(c);
  return c;
}

async function tlsOf(name: string): Promise<PeerTls & { crlPem: string }> {
  pki ??= await issueTestNodeCertificates("hand-over test CA", ["node1", "node2"], certs);
  const cert = certs.get(name) as IssuedCertificate;
  return { caCertPem: pki.ca.certPem, certPem: cert.certPem, keyPem: cert.keyPem, crlPem: pki.crlPem };
}

/** Follows the log, settling the orderings' calls; returns every ordered command, in log order. */
function follow(
  c: Etcd3,
  keys: LogKeys,
  settle: readonly CommandOrdering[],
): { id: string; body: unknown }[] {
  const log: { id: string; body: unknown }[] = [];
  const f = startFollower({
    client: c,
    keys,
    nodeName: "node2",
    from: GENESIS,
    idleWaitMs: 100,
    apply: (batch, position) => {
      const applied: AppliedBatch = {
        position: { ...position, ledgerSize: 0 },
        results: new Map(batch.commands.map((x) => [x.id, []])),
        refused: [],
        checkpoint: false,
      };
      for (const o of settle) o.settle(applied, batch.commands);
      log.push(...batch.commands.map((x) => ({ id: x.id, body: x.body })));
    },
  });
  running.push(f);
  return log;
}

/** Counts the pending records written under `keys` from now on. */
async function pendingPuts(c: Etcd3, keys: LogKeys): Promise<() => number> {
  let puts = 0;
  const w = await c.watch().prefix(keys.pending).create();
  w.on("put", () => {
    puts++;
  });
  closers.push(() => w.cancel());
  return () => puts;
}

/** A hand-over that counts its answers. */
function counted(h: HandOver): {
  handOver: (c: Parameters<HandOver["handOver"]>[0]) => Promise<HandOverAnswer>;
  answers: Record<HandOverAnswer, number>;
} {
  const answers = { sequenced: 0, duplicate: 0, "not-taken": 0 };
  return {
    answers,
    handOver: async (command) => {
      const a = await h.handOver(command);
      answers[a]++;
      return a;
    },
  };
}

const fresh = (name: string): LogKeys => logKeys(`t-${name}-${randomBytes(3).toString("hex")}/`);

describe("commands handed to the sequencer directly", () => {
  it("in-process: ordered once, markers written by the batch, no pending record at all", async () => {
    const keys = fresh("hand-local");
    const c = client();
    const sequencer = startSequencer({
      client: c,
      keys,
      nodeName: "node1",
      leaseTtlSeconds: 2,
      idleWaitMs: 100,
    });
    running.push(sequencer);
    await expect.poll(() => sequencer.isLeader(), { timeout: 15_000 }).toBe(true);
    const puts = await pendingPuts(c, keys);
    const h = counted(createHandOver({ client: c, keys, nodeName: "node1", local: () => sequencer }));
    const ordering = new CommandOrdering({
      client: c,
      keys,
      nodeName: "node1",
      submitter: createGroupedSubmitter(c, keys),
      handOver: h.handOver,
    });
    const log = follow(c, keys, [ordering]);
    const bodies = Array.from({ length: 60 }, (_, i) => `local ${i}`);
    await Promise.all(bodies.map((b) => ordering.order(b)));
    expect(log.map((e) => e.body).sort()).toEqual([...bodies].sort());
    expect(new Set(log.map((e) => e.id)).size).toBe(log.length);
    const markers = Object.values(await c.getAll().prefix(keys.ids).strings());
    expect(markers).toHaveLength(60);
    expect(markers.every((m) => m === DIRECT_MARKER)).toBe(true);
    expect(h.answers).toEqual({ sequenced: 60, duplicate: 0, "not-taken": 0 });
    expect(puts()).toBe(0);
  }, 60_000);

  it("a command whose id marker was taken first (withdrawn) is never ordered (answered duplicate); the next one is", async () => {
    const keys = fresh("hand-withdrawn");
    const c = client();
    const sequencer = startSequencer({
      client: c,
      keys,
      nodeName: "node1",
      leaseTtlSeconds: 2,
      idleWaitMs: 100,
    });
    running.push(sequencer);
    await expect.poll(() => sequencer.isLeader(), { timeout: 15_000 }).toBe(true);
    const log = follow(c, keys, []);
    const withdrawn = `withdrawn-${randomBytes(6).toString("hex")}`;
    // What `CommandOrdering`'s withdrawal does: one create-only put of the id marker.
    const taken = await c
      .if(keys.ids + withdrawn, "Version", "==", 0)
      .then(c.put(keys.ids + withdrawn).value("withdrawn"))
      .commit();
    expect(taken.succeeded).toBe(true);
    expect(await sequencer.handOver([{ id: withdrawn, origin: "node2", body: "never" }])).toEqual([
      "duplicate",
    ]);
    const after = `after-${randomBytes(6).toString("hex")}`;
    expect(await sequencer.handOver([{ id: after, origin: "node2", body: "after" }])).toEqual(["sequenced"]);
    await expect.poll(() => log.map((e) => e.body), { timeout: 10_000 }).toEqual(["after"]);
    expect(await c.get(keys.ids + withdrawn).string()).toBe("withdrawn");
  }, 60_000);

  it("over the peer endpoint: ordered once with no pending record; bad requests refused with a code, nothing changed", async () => {
    const keys = fresh("hand-peer");
    const c = client();
    const sequencer = startSequencer({
      client: c,
      keys,
      nodeName: "node1",
      leaseTtlSeconds: 2,
      idleWaitMs: 100,
    });
    running.push(sequencer);
    const server = await startPeerServer({
      tls: await tlsOf("node1"),
      peers: ["node2"],
      chunks: openChunkStore(join(dir, "peer-node1-chunks.db")),
      routes: [handOverRoute(() => sequencer)],
    });
    closers.push(() => server.close());
    await expect.poll(() => sequencer.isLeader(), { timeout: 15_000 }).toBe(true);
    const puts = await pendingPuts(c, keys);
    const node1 = { name: "node1", url: server.url };
    const tls2 = await tlsOf("node2");
    const hand = createHandOver({
      client: c,
      keys,
      nodeName: "node2",
      local: () => undefined,
      peers: { endpoints: [node1], tls: tls2 },
    });
    closers.push(() => {
      hand.close();
    });
    const h = counted(hand);
    const ordering = new CommandOrdering({
      client: c,
      keys,
      nodeName: "node2",
      submitter: createGroupedSubmitter(c, keys),
      handOver: h.handOver,
    });
    const log = follow(c, keys, [ordering]);
    const bodies = Array.from({ length: 40 }, (_, i) => `peer ${i}`);
    await Promise.all(bodies.map((b) => ordering.order(b)));
    expect(log.map((e) => e.body).sort()).toEqual([...bodies].sort());
    expect(new Set(log.map((e) => e.id)).size).toBe(log.length);
    expect(h.answers).toEqual({ sequenced: 40, duplicate: 0, "not-taken": 0 });
    expect(puts()).toBe(0);

    const head = await c.get(keys.head).string();
    const agent = peerAgent(tls2);
    closers.push(() => {
      agent.destroy();
    });
    const post = (body: unknown): Promise<{ status: number; answer: unknown }> =>
      postJson(agent, node1, HAND_OVER_PATH, body, { timeoutMs: 5000, maxAnswerBytes: 4096 });
    const id = `forged-${randomBytes(6).toString("hex")}`;
    // A node hands over only its own commands.
    expect(await post([{ id, origin: "node1", body: "forged" }])).toEqual({
      status: 403,
      answer: { code: "CLUSTER_PEER_IDENTITY_INVALID" },
    });
    for (const bad of [{}, [], [{ id: "x" }], [{ id, origin: "node2" }], "text"]) {
      expect(await post(bad)).toEqual({ status: 400, answer: { code: "CLUSTER_PEER_REQUEST_INVALID" } });
    }
    await sleep(300);
    expect(await c.get(keys.head).string()).toBe(head);
    expect(await c.get(keys.ids + id).string()).toBeNull();
  }, 60_000);

  it("the sequencer SIGKILLed with handed commands in flight: each ordered once or refused, none lost, none twice", async () => {
    const prefix = `t-hand-kill-${randomBytes(3).toString("hex")}/`;
    const keys = logKeys(prefix);
    const c = client();
    const tls1 = await tlsOf("node1");
    const tls2 = await tlsOf("node2");
    const tlsDir = join(dir, "member");
    mkdirSync(tlsDir);
    writeFileSync(join(tlsDir, "ca.pem"), tls1.caCertPem);
    writeFileSync(join(tlsDir, "crl.pem"), tls1.crlPem);
    writeFileSync(join(tlsDir, "node1.cert.pem"), tls1.certPem);
    writeFileSync(join(tlsDir, "node1.key.pem"), tls1.keyPem);
    const proc = spawn(
      process.execPath,
      [MEMBER, suite.cluster().clientUrls().join(","), prefix, "node1", tlsDir, "node2"],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    started.push(proc);
    let port = 0;
    let leading = false;
    createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on("line", (line) => {
      const msg = JSON.parse(line) as { ready?: boolean; port?: number; event?: string };
      if (msg.ready === true) port = msg.port ?? 0;
      if (msg.event === "leader") leading = true;
    });
    await expect.poll(() => port > 0 && leading, { timeout: 20_000 }).toBe(true);
    // The successor: this process's own sequencer, standing once node1 leads.
    const successor = startSequencer({
      client: c,
      keys,
      nodeName: "node2",
      leaseTtlSeconds: 2,
      idleWaitMs: 100,
    });
    running.push(successor);
    const hand = createHandOver({
      client: c,
      keys,
      nodeName: "node2",
      local: () => successor,
      peers: { endpoints: [{ name: "node1", url: `https://127.0.0.1:${port}` }], tls: tls2 },
    });
    closers.push(() => {
      hand.close();
    });
    const h = counted(hand);
    const ordering = new CommandOrdering({
      client: c,
      keys,
      nodeName: "node2",
      submitter: createGroupedSubmitter(c, keys),
      handOver: h.handOver,
      appendTimeoutMs: 60_000,
    });
    const log = follow(c, keys, [ordering]);

    const calls: { body: string; outcome: Promise<string> }[] = [];
    for (let i = 0; i < 300; i++) {
      const body = `burst ${i}`;
      calls.push({
        body,
        outcome: ordering.order(body).then(
          () => "acked",
          (e: unknown) => (e as { code?: string }).code ?? "error",
        ),
      });
      if (i === 120) proc.kill("SIGKILL");
      await sleep(5);
    }
    const outcomes = await Promise.all(calls.map((x) => x.outcome));
    const acked = calls.filter((_, i) => outcomes[i] === "acked").map((x) => x.body);
    // Every acknowledged command is in the log exactly once, and no command is in it twice.
    await expect
      .poll(() => acked.every((b) => log.some((e) => e.body === b)), { timeout: 20_000 })
      .toBe(true);
    const bodies = log.map((e) => e.body as string);
    expect(new Set(bodies).size).toBe(bodies.length);
    expect(new Set(log.map((e) => e.id)).size).toBe(log.length);
    // A call not acknowledged was not ordered (here none should fail: the successor takes over in time).
    const failed = calls.filter((_, i) => outcomes[i] !== "acked").map((x) => x.body);
    for (const b of failed) expect(bodies).not.toContain(b);
    expect(acked).toHaveLength(300);
    // Both paths were taken: directly before the kill (and by the successor), the pending path after it.
    expect(h.answers.sequenced).toBeGreaterThan(0);
    expect(h.answers["not-taken"]).toBeGreaterThan(0);
    const markers = Object.values(await c.getAll().prefix(keys.ids).strings());
    expect(markers.filter((m) => m === DIRECT_MARKER).length).toBeGreaterThan(0);
    expect(markers.filter((m) => m !== DIRECT_MARKER).length).toBeGreaterThan(0);
  }, 120_000);
});
