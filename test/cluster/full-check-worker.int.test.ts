/**
 * The full check in a worker thread (`full-check-thread.ts`, from dist where the worker script is): on
 * an intact copy it finds nothing; on damaged copies it finds exactly what the same check in this thread
 * finds; and while it runs, this thread's event loop keeps turning (the in-thread check cannot let a
 * single callback run until it is done — the difference a node serving requests needs).
 */
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runFullCheck } from "../../src/cluster/integrity/full-check.js";
import { corruptChunk, deleteEntryKeys, editEntryBytes, editTransferRow } from "./damage.js";
import { chunkOf, makeIntegrityCluster, transferId, type IntegrityCluster } from "./integrity-fixture.js";
import { chunkAddress } from "../../src/store/chunk-store.js";
import type * as FullCheckThread from "../../src/cluster/integrity/full-check-thread.js";

type ThreadModule = typeof FullCheckThread;

const dist = (await import(
  new URL("../../dist/cluster/integrity/full-check-thread.js", import.meta.url).href
)) as ThreadModule;

let c: IntegrityCluster;
beforeEach(async () => {
  c = makeIntegrityCluster({ nodes: 3 });
  for (let n = 0; n < 12; n++) await c.transfer(n);
  c.publish();
});
afterEach(() => {
  c.close();
});

function job(i: number) {
  const node = c.nodes[i];
  if (node === undefined) throw new Error("no node");
  return {
    ledgerDb: node.ledgerPath,
    serviceDb: join(node.dir, "service.db"),
    chunksDb: join(node.dir, "chunks.db"),
    logKey: c.f.logSigner.verifierKey,
    published: c.published && { size: c.published.checkpoint.size, root: c.published.checkpoint.root },
  };
}

async function ticksWhile(run: () => Promise<unknown>): Promise<number> {
  let ticks = 0;
  let done = false;
  const spin = (): void => {
    if (done) return;
    ticks++;
    setImmediate(spin);
  };
  setImmediate(spin);
  const p = run();
  await p.finally(() => {
    done = true;
  });
  return ticks;
}

describe("the full check in a worker thread", () => {
  it("runs in a worker from the build, finds nothing on an intact copy, and leaves the event loop free", async () => {
    expect(dist.fullCheckWorkerAvailable()).toBe(true);
    let result: Awaited<ReturnType<ThreadModule["runFullCheckInWorker"]>> | undefined;
    const ticks = await ticksWhile(async () => {
      result = await dist.runFullCheckInWorker(job(0));
    });
    expect(result?.inWorker).toBe(true);
    expect(result?.findings).toEqual([]);
    expect(result?.transfers).toBe(12);
    expect(result?.chunks).toBe(12);
    expect(ticks).toBeGreaterThan(0);
  });

  it("finds what the in-thread check finds on damaged copies (entry bytes, row, entry_keys, chunk)", async () => {
    const node = c.nodes[1];
    if (node === undefined) throw new Error("no node");
    editEntryBytes(node, 5);
    editTransferRow(node, transferId(3), "status = 'sent'");
    deleteEntryKeys(node, transferId(7));
    corruptChunk(node, chunkAddress(chunkOf(9)));
    const inWorker = await dist.runFullCheckInWorker(job(1));
    const here = runFullCheck({
      storage: node.ledger.storage,
      access: node.access,
      logKey: c.f.logKey,
      published: c.published?.checkpoint,
      serviceDb: node.db,
      chunks: node.chunks,
    });
    expect(inWorker.inWorker).toBe(true);
    expect(here.findings.length).toBeGreaterThanOrEqual(4);
    expect(inWorker.findings).toEqual(here.findings);
    const kinds = new Set(inWorker.findings.map((f) => f.kind));
    for (const k of ["entry", "transfer-row", "index-keys", "chunk"]) expect(kinds).toContain(k);
  });

  it("a file it cannot open is a coded failure of the check, not a finding", async () => {
    await expect(
      dist.runFullCheckInWorker({ ...job(0), ledgerDb: join(c.nodes[0]?.dir ?? "", "missing.db") }),
    ).rejects.toMatchObject({ code: "CLUSTER_INTEGRITY_CHECK_FAILED" });
  });
});
