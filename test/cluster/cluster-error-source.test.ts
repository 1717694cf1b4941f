/**
 * A cluster node's background error that is not one of our coded errors is logged with where it was
 * thrown (service/cluster/cluster-error-log.ts `sourceOf`): the first stack frame in our own files, never
 * a library's.
 */
import { describe, expect, it } from "vitest";
import { GRPCUnavailableError } from "etcd3";
import { etcdClientError } from "../../src/cluster/errors.js";
import { sourceOf } from "../../src/service/cluster/cluster-error-log.js";

function withStack(lines: string[]): Error {
  const e = new TypeError("Cannot read properties of undefined (reading 'seq')");
  e.stack = [`TypeError: ${e.message}`, ...lines].join("\n");
  return e;
}

describe("the source of an uncoded cluster error", () => {
  it("names the first frame in our code (dist or src), skipping node_modules and node internals", () => {
    const e = withStack([
      "    at Object.next (/srv/kenshin/node_modules/etcd3/lib/watch.js:10:5)",
      "    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)",
      "    at applyBatch (file:///srv/kenshin/dist/cluster/replica-apply.js:88:17)",
      "    at catchUpFromPeers (file:///srv/kenshin/dist/cluster/log-catch-up.js:250:9)",
    ]);
    expect(sourceOf(e)).toBe(" (at cluster/replica-apply.js:88:17)");
  });

  it("says nothing when no frame is ours", () => {
    expect(sourceOf(withStack(["    at x (/srv/kenshin/node_modules/a/b.js:1:1)"]))).toBe("");
    const none = new Error("x");
    none.stack = "";
    expect(sourceOf(none)).toBe("");
  });
});

describe("the etcd client's own errors", () => {
  it("its circuit breaker and its gRPC errors are the coded CLUSTER_UNAVAILABLE; others are not its", () => {
    // What the etcd client's circuit breaker (cockatiel's BrokenCircuitError) throws, as it builds it.
    const breaker = Object.assign(new Error("Execution prevented because the circuit breaker is open"), {
      isBrokenCircuitError: true,
    });
    expect(etcdClientError(breaker)).toMatchObject({
      code: "CLUSTER_UNAVAILABLE",
      context: { etcd: "circuit-breaker-open" },
    });
    expect(etcdClientError(new GRPCUnavailableError("14 UNAVAILABLE"))).toMatchObject({
      code: "CLUSTER_UNAVAILABLE",
      context: { etcd: "GRPCUnavailableError" },
    });
    expect(etcdClientError(new TypeError("x"))).toBeUndefined();
    expect(etcdClientError("x")).toBeUndefined();
  });
});
