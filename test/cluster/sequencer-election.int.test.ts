/**
 * The sequencer election on a real 3-member etcd cluster (command-log/sequencer-election.ts): one
 * candidate leads, the next takes over when it resigns; and — what once stopped the whole service after
 * two nodes came back (service-no-quorum) — a candidacy that ended while etcd had no majority never
 * holds the election afterwards: once the majority is back, the election holds only the live
 * candidacies and one of them sequences. A sequencer whose node quarantines itself stands aside at once
 * (its integrity gate, integrity/sequencer-gate.ts) and stands again once the node is healthy.
 */
import { Etcd3 } from "etcd3";
import { afterAll, describe, expect, it } from "vitest";
import { logKeys } from "../../src/cluster/command-log/command-batch.js";
import { standForElection } from "../../src/cluster/command-log/sequencer-election.js";
import { startSequencer, type RunningSequencer } from "../../src/cluster/command-log/sequencer.js";
import { NodeHealth } from "../../src/cluster/integrity/node-health.js";
import { sequencerGate } from "../../src/cluster/integrity/sequencer-gate.js";
import { waitFor } from "../../src/cluster/processes/wait.js";
import { useEtcdCluster } from "./etcd-suite.js";

const etcd = useEtcdCluster({ heartbeatMs: 50, electionMs: 500 });
const clients: Etcd3[] = [];
const sequencers: RunningSequencer[] = [];

afterAll(async () => {
  for (const s of sequencers) await s.stop();
  for (const c of clients) c.close();
});

function client(): Etcd3 {
  const c = new Etcd3({ hosts: etcd.cluster().clientUrls(), dialTimeout: 2000 });
  clients.push(c);
  return c;
}

async function candidates(prefix: string): Promise<string[]> {
  const all = await etcd.cluster().client().getAll().prefix(prefix).strings();
  return Object.values(all).sort();
}

describe("sequencer election (real etcd)", () => {
  it("one candidate leads; the next leads once it resigned", async () => {
    const prefix = "election/t1/election/";
    const c = client();
    const first = standForElection(c, { prefix, value: "a", ttlSeconds: 2 });
    const firstElected = new Promise<void>((resolve) => first.on("elected", resolve));
    await firstElected;
    const second = standForElection(c, { prefix, value: "b", ttlSeconds: 2 });
    let secondLeads = false;
    const secondElected = new Promise<void>((resolve) =>
      second.on("elected", () => {
        secondLeads = true;
        resolve();
      }),
    );
    await waitFor(async () => ((await candidates(prefix)).length === 2 ? true : undefined), {
      what: "two candidates",
      timeoutMs: 10_000,
    });
    // Kept alive past several TTLs, the first still leads.
    await new Promise((done) => setTimeout(done, 3000));
    expect(secondLeads).toBe(false);
    expect(await etcd.cluster().client().election("t1/election").leader()).toBe("a");
    await first.resign();
    await secondElected;
    expect(await candidates(prefix)).toEqual(["b"]);
    await second.resign();
    expect(await candidates(prefix)).toEqual([]);
  });

  it("after a time without a majority, no candidacy that ended meanwhile holds the election; a live one sequences", async () => {
    const keys = logKeys("t2/");
    const prefix = `election/${keys.election}/`;
    const survivor = startSequencer({ client: client(), keys, nodeName: "node1", leaseTtlSeconds: 2 });
    sequencers.push(survivor);
    await waitFor(() => Promise.resolve(survivor.isLeader() ? true : undefined), {
      what: "node1 leads",
      timeoutMs: 15_000,
    });
    await etcd.cluster().kill9("etcd2");
    await etcd.cluster().kill9("etcd3");
    await waitFor(() => Promise.resolve(survivor.isLeader() ? undefined : true), {
      what: "node1 no longer leads",
      timeoutMs: 20_000,
    });
    // The survivor stands again and again while there is no majority (each candidacy ends in turn).
    await new Promise((done) => setTimeout(done, 8000));
    await etcd.cluster().restart("etcd2");
    await etcd.cluster().restart("etcd3");
    const other = startSequencer({ client: client(), keys, nodeName: "node2", leaseTtlSeconds: 2 });
    sequencers.push(other);
    // Only live candidacies are left (one each; ended ones expire within a TTL, nothing renews them)...
    const left = await waitFor(
      async () => {
        const now = await candidates(prefix).catch(() => undefined);
        // Two node1 keys (an ended candidacy before its lease expired, and the new one) are not yet the
        // answer: wait, bounded, until exactly one per live sequencer is left.
        return now !== undefined && now.length === 2 && new Set(now).size === 2 ? now : undefined;
      },
      { what: "one candidacy per live sequencer", timeoutMs: 30_000, intervalMs: 250 },
    );
    expect(left).toEqual(["node1", "node2"]);
    // ...and one of them sequences.
    await waitFor(() => Promise.resolve(survivor.isLeader() || other.isLeader() ? true : undefined), {
      what: "a sequencer leads again",
      timeoutMs: 15_000,
    });
    expect(survivor.isLeader() && other.isLeader()).toBe(false);
  });

  it("a sequencer whose node quarantines itself stands aside at once, holds no key while damaged, and stands again when healthy", async () => {
    const keys = logKeys("t3/");
    const prefix = `election/${keys.election}/`;
    const health = new NodeHealth({ now: () => new Date() });
    const errors: unknown[] = [];
    const damaged = startSequencer({
      client: client(),
      keys,
      nodeName: "node1",
      leaseTtlSeconds: 2,
      gate: sequencerGate(health),
      onError: (e) => errors.push(e),
    });
    sequencers.push(damaged);
    await waitFor(() => Promise.resolve(damaged.isLeader() ? true : undefined), {
      what: "node1 leads",
      timeoutMs: 15_000,
    });
    const other = startSequencer({ client: client(), keys, nodeName: "node2", leaseTtlSeconds: 2 });
    sequencers.push(other);
    await waitFor(async () => ((await candidates(prefix)).length === 2 ? true : undefined), {
      what: "two candidates",
      timeoutMs: 10_000,
    });

    // The check found damage: node1 leaves the election (its key revoked, not left to expire) and node2 leads.
    health.quarantine([{ kind: "entry", code: "LEDGER_ENTRY_MISSING", index: 3 }]);
    expect(damaged.isLeader()).toBe(false);
    await waitFor(() => Promise.resolve(other.isLeader() ? true : undefined), {
      what: "node2 leads",
      timeoutMs: 5_000,
      intervalMs: 20,
    });
    expect(errors.map((e) => (e as { code?: string }).code)).toContain("CLUSTER_QUARANTINED");
    // While it is quarantined and repairing, it stands again only as far as its gate: no key.
    health.beginRepair();
    await new Promise((done) => setTimeout(done, 3000));
    expect(await candidates(prefix)).toEqual(["node2"]);
    expect(damaged.isLeader()).toBe(false);

    // Repaired: it stands again, behind node2, which keeps leading.
    health.rejoin();
    await waitFor(async () => ((await candidates(prefix)).length === 2 ? true : undefined), {
      what: "node1 a candidate again",
      timeoutMs: 10_000,
    });
    expect(await candidates(prefix)).toEqual(["node1", "node2"]);
    expect(other.isLeader()).toBe(true);
    expect(damaged.isLeader()).toBe(false);
    // And leads once node2 is gone.
    await other.stop();
    await waitFor(() => Promise.resolve(damaged.isLeader() ? true : undefined), {
      what: "node1 leads again",
      timeoutMs: 10_000,
    });
  });
});
