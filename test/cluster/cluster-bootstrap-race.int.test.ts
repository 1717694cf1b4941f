/**
 * Two first offices at the same moment on two cluster nodes, against one real etcd cluster (3 voting
 * members from `kenshin cluster init` material on free 127.0.0.1 ports): the uniqueness is part of the
 * ordered command (`institution.create` with `firstOffice`), so exactly one office exists and the other
 * call gets a coded refusal — the look at the node's own copy that `kenshin cluster bootstrap` makes
 * first cannot decide this (both nodes look before either office is ordered; here both have looked).
 * Afterwards the real CLI on a third node refuses with CLUSTER_OPTION_INVALID, and every node that
 * applied the log holds one office.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clusterFiles, initCluster } from "../../src/cluster/cluster-init.js";
import { etcdClientUrl, onlineNodes, type ClusterTopology } from "../../src/cluster/cluster-topology.js";
import { startEtcdMember, waitMemberHealthy } from "../../src/cluster/etcd-membership.js";
import { freePorts } from "../../src/cluster/processes/free-ports.js";
import type { SupervisedProcess } from "../../src/cluster/processes/supervised-process.js";
import { isCodedError } from "../../src/coded-error.js";
import type { ServiceContext } from "../../src/service/context.js";
import { issueFirstOffice, openNode, stopNode } from "../../src/service/node.js";

const CLI = fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));
const run = promisify(execFile);

let base = "";
let topology: ClusterTopology;
const etcd: SupervisedProcess[] = [];

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), "kenshin-bootstrap-race-"));
  const ports = await freePorts(1 + 3 * 4);
  topology = await initCluster({
    dir: join(base, "cluster"),
    online: 3,
    offline: 0,
    ports: { frontend: ports[0] ?? 0, nodes: [0, 1, 2].map((i) => ports.slice(1 + 4 * i, 5 + 4 * i)) },
  });
  const files = clusterFiles(join(base, "cluster"));
  for (const n of onlineNodes(topology)) etcd.push(startEtcdMember(files.nodeDir(n.name)));
  await Promise.all(
    onlineNodes(topology).map((n) => waitMemberHealthy(etcdClientUrl(n), { timeoutMs: 60_000 })),
  );
}, 120_000);

afterAll(async () => {
  for (const p of etcd) await p.kill9();
  if (base !== "") rmSync(base, { recursive: true, force: true });
}, 60_000);

const offices = (ctx: ServiceContext): number =>
  ctx.db.prepare<[], { n: number }>("SELECT count(*) AS n FROM institutions WHERE kind = 'office'").get()
    ?.n ?? 0;

describe("two first offices at once on a cluster", () => {
  it("makes exactly one office; the other is refused by the command order with a coded error", async () => {
    const files = clusterFiles(join(base, "cluster"));
    const [a, b] = await Promise.all([openNode(files.nodeDir("node1")), openNode(files.nodeDir("node2"))]);
    try {
      await Promise.all([a.cluster?.caughtUp?.(), b.cluster?.caughtUp?.()]);
      // What the bootstrap's own look sees on both nodes before either office is ordered.
      expect([offices(a), offices(b)]).toEqual([0, 0]);
      const outcomes = await Promise.allSettled([
        issueFirstOffice(a, "test-race", "事務局A"),
        issueFirstOffice(b, "test-race", "事務局B"),
      ]);
      const won = outcomes.filter((o) => o.status === "fulfilled");
      const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === "rejected");
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      const refusal: unknown = lost[0]?.reason;
      expect(isCodedError(refusal) ? [refusal.code, refusal.context["firstOffice"]] : refusal).toEqual([
        "INSTITUTION_EXISTS",
        true,
      ]);
      await Promise.all([a.cluster?.caughtUp?.(), b.cluster?.caughtUp?.()]);
      expect([offices(a), offices(b)]).toEqual([1, 1]);
    } finally {
      await Promise.all([stopNode(a), stopNode(b)]);
    }

    // The real CLI on the third node: the office is there, a coded refusal, nothing written.
    const third = await run(
      process.execPath,
      [CLI, "cluster", "bootstrap", "--data", files.nodeDir("node3")],
      {
        timeout: 90_000,
      },
    ).then(
      () => ({ code: 0, err: "" }),
      (e: unknown) => {
        const failed = e as { code?: number; stderr?: string };
        return { code: failed.code ?? -1, err: failed.stderr ?? "" };
      },
    );
    expect(third.code).not.toBe(0);
    expect(third.err).toContain("CLUSTER_OPTION_INVALID");
    const c = await openNode(files.nodeDir("node3"));
    try {
      await c.cluster?.caughtUp?.();
      expect(offices(c)).toBe(1);
    } finally {
      await stopNode(c);
    }
  }, 240_000);
});
