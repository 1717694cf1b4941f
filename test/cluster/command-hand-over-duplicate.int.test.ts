/**
 * A handed command whose id was ordered already (handed twice, or also submitted as a pending record),
 * on a real 3-member etcd 3.4 cluster: its batch transaction fails its marker compare, and before, every
 * other handed command of that batch — and of the batches in flight after it — failed with it
 * ("not-taken", then the pending path). Now the failure branch names the known marker: that command is
 * answered "duplicate" and not ordered again, and the others are ordered exactly once by the next
 * batches, still without a pending record. Over the peer endpoint the answer reaches the origin as is.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Etcd3 } from "etcd3";
import { afterAll, describe, expect, it } from "vitest";
import { GENESIS, logKeys, type Command, type LogKeys } from "../../src/cluster/command-log/command-batch.js";
import { createHandOver } from "../../src/cluster/command-log/hand-over.js";
import { handOverRoute } from "../../src/cluster/command-log/hand-over-route.js";
import { DIRECT_MARKER } from "../../src/cluster/command-log/handed-commands.js";
import { startFollower } from "../../src/cluster/command-log/log-follower.js";
import { startSequencer, type RunningSequencer } from "../../src/cluster/command-log/sequencer.js";
import { submitCommand } from "../../src/cluster/command-log/submit-command.js";
import { startPeerServer } from "../../src/cluster/peer/peer-server.js";
import type { IssuedCertificate } from "../../src/crypto/pki/index.js";
import { openChunkStore } from "../../src/store/chunk-store.js";
import { useEtcdCluster } from "./etcd-suite.js";
import { issueTestNodeCertificates } from "./node-certificates.js";

const suite = useEtcdCluster();
const opened: Etcd3[] = [];
const running: { stop(): Promise<void> }[] = [];
const closers: (() => unknown)[] = [];
const dir = mkdtempSync(join(tmpdir(), "kenshin-hand-over-dup-"));

afterAll(async () => {
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

const fresh = (name: string): LogKeys => logKeys(`t-${name}-${randomBytes(3).toString("hex")}/`);
const command = (body: string): Command => ({
  id: `cmd-${randomBytes(8).toString("hex")}`,
  origin: "node2",
  body,
});

/** Every command id ordered under `keys`, in log order (a follower from genesis). */
function follow(c: Etcd3, keys: LogKeys): string[] {
  const ids: string[] = [];
  const f = startFollower({
    client: c,
    keys,
    nodeName: "node2",
    from: GENESIS,
    idleWaitMs: 100,
    apply: (batch) => {
      ids.push(...batch.commands.map((x) => x.id));
    },
  });
  running.push(f);
  return ids;
}

async function leading(c: Etcd3, keys: LogKeys, o: { maxBatch?: number } = {}): Promise<RunningSequencer> {
  const sequencer = startSequencer({
    client: c,
    keys,
    nodeName: "node1",
    leaseTtlSeconds: 2,
    idleWaitMs: 100,
    ...o,
  });
  running.push(sequencer);
  await expect.poll(() => sequencer.isLeader(), { timeout: 15_000 }).toBe(true);
  return sequencer;
}

/** How many times each id is in `log`. */
function counts(log: readonly string[]): Map<string, number> {
  const n = new Map<string, number>();
  for (const id of log) n.set(id, (n.get(id) ?? 0) + 1);
  return n;
}

async function noPendingRecords(c: Etcd3, keys: LogKeys): Promise<void> {
  expect(Object.keys(await c.getAll().prefix(keys.pending).strings())).toEqual([]);
}

describe("a handed command ordered already, in a batch with fresh ones", () => {
  it("handed twice: the second answered duplicate and not ordered again; the fresh ones of its batch ordered once", async () => {
    const keys = fresh("dup-handed");
    const c = client();
    const sequencer = await leading(c, keys);
    const log = follow(c, keys);
    const dup = command("first");
    expect(await sequencer.handOver([dup])).toEqual(["sequenced"]);
    // One call: the leader queues them together, so one batch carries the duplicate and the fresh ones.
    const others = Array.from({ length: 8 }, (_, i) => command(`fresh ${i}`));
    expect(await sequencer.handOver([others[0] as Command, dup, ...others.slice(1)])).toEqual([
      "sequenced",
      "duplicate",
      ...others.slice(1).map(() => "sequenced"),
    ]);
    await expect.poll(() => log.length, { timeout: 10_000 }).toBe(9);
    const n = counts(log);
    expect(n.get(dup.id)).toBe(1);
    for (const o of others) expect(n.get(o.id)).toBe(1);
    const markers = await c.getAll().prefix(keys.ids).strings();
    expect(Object.values(markers).every((m) => m === DIRECT_MARKER)).toBe(true);
    await noPendingRecords(c, keys);
  }, 60_000);

  it("ordered through its pending record first: answered duplicate, the record's ordering stands, the batches in flight behind it lose nothing", async () => {
    const keys = fresh("dup-pending");
    const c = client();
    // Small batches, so the duplicate's batch has others in flight after it (they fail with it).
    const sequencer = await leading(c, keys, { maxBatch: 10 });
    const log = follow(c, keys);
    const dup = command("pending first");
    expect(await submitCommand(c, keys, dup)).toBe("submitted");
    await expect.poll(() => log.includes(dup.id), { timeout: 10_000 }).toBe(true);
    const groupKey = await c.get(keys.ids + dup.id).string();
    const others = Array.from({ length: 200 }, (_, i) => command(`burst ${i}`));
    const handed = [...others.slice(0, 35), dup, ...others.slice(35)];
    const answers = await sequencer.handOver(handed);
    expect(answers[35]).toBe("duplicate");
    expect(answers.filter((a) => a === "sequenced")).toHaveLength(200);
    await expect.poll(() => log.length, { timeout: 20_000 }).toBe(201);
    const n = counts(log);
    expect(n.get(dup.id)).toBe(1);
    for (const o of others) expect(n.get(o.id)).toBe(1);
    // The duplicate's marker is still its pending record's (nothing overwrote it).
    expect(await c.get(keys.ids + dup.id).string()).toBe(groupKey);
    await noPendingRecords(c, keys);
  }, 90_000);

  it("over the peer endpoint: the origin gets duplicate for the known id and sequenced for the rest", async () => {
    const keys = fresh("dup-peer");
    const c = client();
    const sequencer = await leading(c, keys);
    const certs = new Map<string, IssuedCertificate>();
    const pki = await issueTestNodeCertificates("hand-over dup CA", ["node1", "node2"], certs);
    const tlsOf = (name: string): { caCertPem: string; certPem: string; keyPem: string; crlPem: string } => {
      const cert = certs.get(name) as IssuedCertificate;
      return { caCertPem: pki.ca.certPem, certPem: cert.certPem, keyPem: cert.keyPem, crlPem: pki.crlPem };
    };
    const server = await startPeerServer({
      tls: tlsOf("node1"),
      peers: ["node2"],
      chunks: openChunkStore(join(dir, "peer-node1-chunks.db")),
      routes: [handOverRoute(() => sequencer)],
    });
    closers.push(() => server.close());
    const hand = createHandOver({
      client: c,
      keys,
      nodeName: "node2",
      local: () => undefined,
      peers: { endpoints: [{ name: "node1", url: server.url }], tls: tlsOf("node2") },
    });
    closers.push(() => {
      hand.close();
    });
    const log = follow(c, keys);
    const dup = command("peer first");
    expect(await hand.handOver(dup)).toBe("sequenced");
    const others = Array.from({ length: 20 }, (_, i) => command(`peer ${i}`));
    const answers = await Promise.all([dup, ...others].map((x) => hand.handOver(x)));
    expect(answers).toEqual(["duplicate", ...others.map(() => "sequenced")]);
    await expect.poll(() => log.length, { timeout: 10_000 }).toBe(21);
    const n = counts(log);
    expect(n.get(dup.id)).toBe(1);
    for (const o of others) expect(n.get(o.id)).toBe(1);
    await noPendingRecords(c, keys);
  }, 60_000);
});
