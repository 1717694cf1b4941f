/**
 * Kills through the whole replicated service (test/support/service-cluster.ts: haproxy in TLS
 * pass-through in front of 3 real `kenshin serve` nodes + the offline node, on real etcd 3.4), each
 * during a burst of uploads and sends from three clinics' clients at once:
 *
 * 1. SIGKILL of the **sequencer** node's kenshin process (the node holding the etcd election);
 * 2. SIGKILL of one **etcd member** (the Raft leader's process, not a kenshin process).
 *
 * Afterwards (test/support/service-burst.ts): every acknowledged upload and send is on every node once,
 * with its hashes; nothing of a refused operation anywhere and no more unanswered traces than unanswered
 * attempts; every acknowledged upload downloads with its recorded hash from each online node; the same
 * tree everywhere and fsck passing; and the service went on through haproxy. One cluster for the file.
 */
import { Etcd3 } from "etcd3";
import { afterAll, describe, expect, it } from "vitest";
import type { ApiClient, ApiDeviceKey } from "../../src/client/api-client.js";
import { etcdClientUrl } from "../../src/cluster/cluster-topology.js";
import { waitFor } from "../../src/cluster/processes/wait.js";
import { emptyBurst, expectBurstKept, runBurst, transferIds } from "../support/service-burst.js";
import { useServiceCluster, type ServiceCluster } from "../support/service-cluster.js";
import { expectStatus, NEW_PASSWORD, newDeviceKey } from "../support/test-node.js";

const cluster = useServiceCluster();
const etcdClients: Etcd3[] = [];
afterAll(() => {
  for (const e of etcdClients) e.close();
});

let ready:
  | {
      senders: ApiClient[];
      receiverId: string;
      receiver: { password: string; deviceKey: ApiDeviceKey };
    }
  | undefined;

/**
 * Retries an operation answered 503 (the cluster forming, or busy on a loaded machine: a coded refusal
 * changes nothing, so the same request again is safe), bounded by time.
 */
async function until2xx<T extends { status: number; text: string }>(op: () => Promise<T>): Promise<T> {
  const end = Date.now() + 60_000;
  for (;;) {
    const r = await op();
    if (r.status !== 503 || Date.now() > end) return r;
    process.stderr.write(`503 before the burst, retried: ${r.text.slice(0, 200)}\n`);
    await new Promise((done) => setTimeout(done, 500));
  }
}

async function login(
  client: ApiClient,
  loginId: string,
  temporary: string,
): Promise<{ password: string; deviceKey: ApiDeviceKey }> {
  const deviceKey = await newDeviceKey();
  client.setDeviceKey(deviceKey);
  expectStatus(await until2xx(() => client.login(loginId, temporary)), 201);
  expectStatus(await until2xx(() => client.registerDevice({ label: "test" })), 201);
  expectStatus(await until2xx(() => client.changePassword(temporary, NEW_PASSWORD)), 204);
  return { password: NEW_PASSWORD, deviceKey };
}

/** The sender's three clients (each its own connection and session) and the receiver, logged in once. */
async function clients(c: ServiceCluster): Promise<NonNullable<typeof ready>> {
  if (ready !== undefined) return ready;
  const first = c.client("sender");
  const signedIn = await login(first, c.account("sender").loginId, c.account("sender").password);
  const senders = [first];
  for (let i = 0; i < 2; i++) {
    const more = c.client("sender");
    more.setDeviceKey(signedIn.deviceKey);
    expectStatus(await until2xx(() => more.login(c.account("sender").loginId, signedIn.password)), 201);
    senders.push(more);
  }
  const receiver = await login(
    c.client("receiver"),
    c.account("receiver").loginId,
    c.account("receiver").password,
  );
  const receivers = (await until2xx(() => first.get("/api/v1/receivers"))).json as {
    receivers: { id: string }[];
  };
  ready = { senders, receiverId: receivers.receivers[0]?.id ?? "", receiver };
  return ready;
}

function etcdOf(c: ServiceCluster, name: string): Etcd3 {
  const node = c.topology.nodes.find((n) => n.name === name);
  if (node === undefined) throw new Error(`no node ${name}`);
  const e = new Etcd3({ hosts: [etcdClientUrl(node)], dialTimeout: 2000 });
  etcdClients.push(e);
  return e;
}

const ONLINE = ["node1", "node2", "node3"];

/** The node holding the sequencer election, read from etcd. */
async function sequencer(c: ServiceCluster): Promise<string> {
  const e = etcdOf(c, "node1");
  return waitFor(
    async () => {
      const leader = await e
        .election(`${c.topology.prefix}election`)
        .leader()
        .catch(() => undefined);
      return leader !== undefined && ONLINE.includes(leader) ? leader : undefined;
    },
    { what: "a sequencer", timeoutMs: 30_000, intervalMs: 250 },
  );
}

/** The online node whose etcd member is the Raft leader now. */
async function etcdLeader(c: ServiceCluster): Promise<string> {
  return waitFor(
    async () => {
      for (const name of ONLINE) {
        const s = await etcdOf(c, name)
          .maintenance.status({ deadline: new Date(Date.now() + 2000) })
          .catch(() => undefined);
        if (s !== undefined && s.leader === s.header.member_id) return name;
      }
      return undefined;
    },
    { what: "the etcd leader", timeoutMs: 30_000, intervalMs: 250 },
  );
}

describe("the replicated service through haproxy: kills during a burst", () => {
  it("SIGKILL of the sequencer node mid-burst: another takes over, nothing acknowledged lost, nothing refused left", async () => {
    const c = cluster();
    const { senders, receiverId, receiver } = await clients(c);
    const before = transferIds(c, "node1");
    const victim = await sequencer(c);
    const record = emptyBurst();
    let successor = "";
    await runBurst({
      clients: senders,
      receiverId,
      untilMs: 20_000,
      record,
      during: async () => {
        await c.kill9Node(victim);
        successor = await waitFor(
          async () => {
            const now = await sequencer(c);
            return now !== victim ? now : undefined;
          },
          { what: "a new sequencer", timeoutMs: 30_000, intervalMs: 250 },
        );
      },
    });
    expect(successor).not.toBe(victim);
    expect(ONLINE).toContain(successor);
    // The service went on: uploads and sends were acknowledged after the kill through haproxy.
    const afterKill = record.uploaded.length;
    expect(afterKill).toBeGreaterThanOrEqual(senders.length + 1);
    expect(record.sent.size).toBeGreaterThanOrEqual(senders.length + 1);

    c.startNode(victim);
    await c.waitBackend(victim, "UP", 120_000);
    await expectBurstKept(c, { record, before, receiver });
  }, 420_000);

  it("SIGKILL of the etcd leader's member mid-burst: the service goes on, nothing acknowledged lost, nothing refused left", async () => {
    const c = cluster();
    const { senders, receiverId, receiver } = await clients(c);
    const before = transferIds(c, "node1");
    const member = await etcdLeader(c);
    const record = emptyBurst();
    let uploadedAtKill = 0;
    await runBurst({
      clients: senders,
      receiverId,
      untilMs: 20_000,
      record,
      during: async () => {
        await c.kill9Etcd(member);
        uploadedAtKill = record.uploaded.length;
      },
    });
    // The service went on with that member down (its kenshin node fails over to the other members).
    expect(record.uploaded.length).toBeGreaterThan(uploadedAtKill);
    await c.startEtcd(member);
    await expectBurstKept(c, { record, before, receiver });
  }, 420_000);
});
