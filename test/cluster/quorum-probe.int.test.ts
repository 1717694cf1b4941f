/**
 * The quorum probe against a real 3-member etcd 3.4 cluster: it answers true while a majority is up,
 * false within a bounded wait once two members are SIGKILLed, and true again (telling its listener)
 * when one of them is back; a state change asked right after the loss is decided "no majority" by
 * `confirm()` while the kept answer still says "majority" (what let a receipt into the ordering in
 * service-no-quorum). On its own client (etcd-client.ts, no circuit breaker) it says "majority" at its first
 * check once etcd answers again, however long the majority was gone. The pending queue beside it keeps items across a reopen, in order.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { Etcd3 } from "etcd3";
import { openQuorumProbeClient } from "../../src/cluster/etcd-client.js";
import { openPendingQueue } from "../../src/cluster/pending-queue.js";
import { waitFor } from "../../src/cluster/processes/wait.js";
import { createEtcdQuorumProbe } from "../../src/cluster/quorum-probe.js";
import { useEtcdCluster } from "./etcd-suite.js";

const etcd = useEtcdCluster({ heartbeatMs: 50, electionMs: 500 });

describe("quorum probe (real etcd)", () => {
  it("says no quorum once two of three members are killed and quorum again when one is back", async () => {
    const cluster = etcd.cluster();
    const probe = createEtcdQuorumProbe(cluster.client(), {
      key: "probe/quorum",
      intervalMs: 200,
      timeoutMs: 800,
    });
    const changes: boolean[] = [];
    probe.onChange((q) => changes.push(q));
    try {
      expect(await probe.check()).toBe(true);
      await cluster.kill9("etcd2");
      await cluster.kill9("etcd3");
      await waitFor(async () => ((await probe.check()) ? undefined : true), {
        what: "probe reports no quorum",
        timeoutMs: 15_000,
        intervalMs: 100,
      });
      expect(probe.hasQuorum()).toBe(false);
      await cluster.restart("etcd2");
      await waitFor(async () => ((await probe.check()) ? true : undefined), {
        what: "probe reports quorum",
        timeoutMs: 20_000,
        intervalMs: 100,
      });
      expect(changes).toEqual([false, true]);
      await cluster.restart("etcd3");
    } finally {
      probe.close();
    }
  });
});

describe("quorum probe on its own client: no circuit breaker left open by the lost majority", () => {
  it("meets etcd itself on every read without a majority, and says majority at its first check once etcd answers", async () => {
    const cluster = etcd.cluster();
    // What the node runs (cluster-agent.ts), beside a client with etcd3's default fault handling (a
    // per-host breaker: 3 failures → open for 5 s), which is what the probe shared before.
    const client = openQuorumProbeClient(cluster.clientUrls(), { dialTimeoutMs: 1000 });
    const shared = new Etcd3({ hosts: cluster.clientUrls(), dialTimeout: 1000 });
    const probe = createEtcdQuorumProbe(client, { key: "probe/breaker", intervalMs: 200, timeoutMs: 800 });
    /** How each of 8 reads without a majority failed: "breaker" when no etcd member was asked. */
    const failures = async (c: Etcd3): Promise<string[]> => {
      const seen: string[] = [];
      for (let i = 0; i < 8; i++) {
        try {
          await c
            .get("probe/breaker")
            .options({ deadline: Date.now() + 800 })
            .exec();
          seen.push("answered");
        } catch (error) {
          seen.push(error instanceof Error && "isBrokenCircuitError" in error ? "breaker" : "etcd");
        }
      }
      return seen;
    };
    try {
      expect(await probe.check()).toBe(true);
      await cluster.kill9("etcd2");
      await cluster.kill9("etcd3");
      await waitFor(async () => ((await probe.check()) ? undefined : true), {
        what: "probe reports no quorum",
        timeoutMs: 15_000,
        intervalMs: 100,
      });
      // The shared client soon answers from its breakers' memory; the probe's client asks etcd each time.
      expect(await failures(shared)).toContain("breaker");
      expect(await failures(client)).toEqual(Array<string>(8).fill("etcd"));
      await cluster.restart("etcd2");
      // The majority is back when a client that never failed (a new one per try) reads linearizably.
      await waitFor(
        async () => {
          const fresh = new Etcd3({ hosts: cluster.clientUrls(), dialTimeout: 1000 });
          try {
            await fresh
              .get("probe/breaker")
              .options({ deadline: Date.now() + 800 })
              .exec();
            return true;
          } catch {
            return undefined;
          } finally {
            fresh.close();
          }
        },
        { what: "a fresh client reads linearizably", timeoutMs: 30_000, intervalMs: 100 },
      );
      // The check in flight may have sent its read before the majority was back: let it end.
      await probe.check();
      // The next one reads etcd itself, not a breaker's memory of the last seconds.
      expect(await probe.check()).toBe(true);
      expect(probe.hasQuorum()).toBe(true);
      await cluster.restart("etcd3");
    } finally {
      probe.close();
      client.close();
      shared.close();
    }
  }, 120_000);
});

describe("quorum probe: the answer a state change gets right after the majority went", () => {
  it("is no majority once the last good read is older than freshMs, though the kept answer is still majority", async () => {
    const cluster = etcd.cluster();
    // Its own client: no circuit breaker state from the case above.
    const client = new Etcd3({ hosts: cluster.clientUrls(), dialTimeout: 1000 });
    // A long deadline: the check in flight when the members die misses only after 3 s.
    const probe = createEtcdQuorumProbe(client, {
      key: "probe/confirm",
      intervalMs: 200,
      timeoutMs: 3000,
      freshMs: 400,
    });
    try {
      expect(await probe.check()).toBe(true);
      expect(await probe.confirm()).toBe(true);
      await cluster.kill9("etcd2");
      await cluster.kill9("etcd3");
      await sleep(700);
      // The kept answer: the read in flight has not missed yet (the old code decided state changes on it).
      const kept = probe.hasQuorum();
      const confirmed = await probe.confirm();
      expect([kept, confirmed]).toEqual([true, false]);
      expect(probe.hasQuorum()).toBe(false);
      await cluster.restart("etcd2");
      await waitFor(async () => ((await probe.confirm()) ? true : undefined), {
        what: "confirmed majority again",
        timeoutMs: 30_000,
        intervalMs: 100,
      });
      await cluster.restart("etcd3");
    } finally {
      probe.close();
      client.close();
    }
  }, 120_000);
});

describe("pending queue", () => {
  it("keeps queued appends in order across a reopen and removes them one by one", () => {
    const dir = mkdtempSync(join(tmpdir(), "kenshin-pending-"));
    try {
      const path = join(dir, "pending.db");
      let queue = openPendingQueue(path);
      const a = queue.enqueue({ id: "op-a", requests: [{ record: { type: "download" } }], queuedAt: "t1" });
      const b = queue.enqueue({
        id: "op-b",
        requests: [{ record: { type: "lookup" } }],
        command: { kind: "k", args: {} },
        queuedAt: "t2",
      });
      expect(b).toBeGreaterThan(a);
      queue.close();
      queue = openPendingQueue(path);
      expect(queue.peek(10).map((i) => [i.id, i.command])).toEqual([
        ["op-a", undefined],
        ["op-b", { kind: "k", args: {} }],
      ]);
      queue.remove(a);
      expect(queue.peek(10).map((i) => i.id)).toEqual(["op-b"]);
      // An id is queued once: a retried enqueue of the same operation is refused by the file itself.
      expect(() => queue.enqueue({ id: "op-b", requests: [], queuedAt: "t3" })).toThrow();
      expect(queue.count()).toBe(1);
      queue.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
