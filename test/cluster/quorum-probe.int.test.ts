/**
 * The quorum probe against a real 3-member etcd 3.4 cluster: it answers true while a majority is up,
 * false within a bounded wait once two members are SIGKILLed, and true again (telling its listener)
 * when one of them is back. The pending queue beside it keeps items across a reopen, in order.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
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
