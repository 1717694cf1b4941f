import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  consistentRewrite,
  corruptChunk,
  deleteEntryKeys,
  deleteEntryRow,
  deleteLastEntryRow,
  editEntryBytes,
  editTransferRow,
  swapEntryRows,
} from "../../../test/cluster/damage.js";
import {
  chunkOf,
  makeIntegrityCluster,
  type IntegrityCluster,
  type TestNode,
} from "../../../test/cluster/integrity-fixture.js";
import { fsck } from "../../ledger/fsck.js";
import { chunkAddress } from "../../store/chunk-store.js";
import { cosignAfterCheck } from "./cosign-guard.js";
import { runFullCheck } from "./full-check.js";

let c: IntegrityCluster;
let ids: string[];

beforeEach(async () => {
  c = makeIntegrityCluster();
  ids = [];
  for (let n = 1; n <= 4; n++) ids.push(await c.transfer(n));
  c.publish();
});
afterEach(() => {
  c.close();
});

function check(node: TestNode) {
  return runFullCheck({
    storage: node.ledger.storage,
    access: node.access,
    logKey: c.f.logKey,
    published: c.published?.checkpoint,
    serviceDb: node.db,
    chunks: node.chunks,
  });
}

const kinds = (node: TestNode) => [...new Set(check(node).findings.map((f) => f.kind))].sort();

describe("rolling full check (each kind of damage issue 11 lists, on one node of three)", () => {
  it("finds nothing on intact copies (and counts what it checked)", () => {
    for (const node of c.nodes) {
      const result = check(node);
      expect(result.findings).toEqual([]);
      expect(result).toMatchObject({ size: 20, transfers: 4, chunks: 4 });
    }
  });

  it("an entry's bytes edited → entry finding at that index", () => {
    editEntryBytes(c.nodes[1] as TestNode, 7);
    const findings = check(c.nodes[1] as TestNode).findings;
    expect(findings).toContainEqual({ kind: "entry", code: "LEDGER_LEAF_HASH_MISMATCH", index: 7 });
    expect(check(c.nodes[0] as TestNode).findings).toEqual([]);
  });

  it("the last entry row deleted → LEDGER_ENTRY_MISSING at that index once the applied size is given (the stored size shrank with it)", async () => {
    await c.transfer(5);
    const victim = c.nodes[1] as TestNode;
    expect(deleteLastEntryRow(victim)).toBe(24);
    const at = (node: TestNode, appliedSize: number | undefined) =>
      runFullCheck({
        storage: node.ledger.storage,
        access: node.access,
        logKey: c.f.logKey,
        published: c.published?.checkpoint,
        appliedSize,
        // As the worker reads it: index rows past the scanned entries could be appends made since.
        concurrentAppends: true,
      });
    const found = at(victim, 25);
    expect(found.size).toBe(24);
    expect(found.findings).toContainEqual({ kind: "entry", code: "LEDGER_ENTRY_MISSING", index: 24 });
    // Without the applied size the copy merely looks one entry shorter.
    expect(at(victim, undefined).findings.filter((f) => f.code === "LEDGER_ENTRY_MISSING")).toEqual([]);
    expect(at(c.nodes[0] as TestNode, 25).findings).toEqual([]);
  });

  it("an entry row deleted → LEDGER_ENTRY_MISSING at that index", () => {
    deleteEntryRow(c.nodes[1] as TestNode, 12);
    expect(check(c.nodes[1] as TestNode).findings).toContainEqual({
      kind: "entry",
      code: "LEDGER_ENTRY_MISSING",
      index: 12,
    });
  });

  it("two rows swapped → chain findings at both", () => {
    swapEntryRows(c.nodes[1] as TestNode, 3, 9);
    const idx = check(c.nodes[1] as TestNode)
      .findings.filter((f) => f.kind === "entry")
      .map((f) => f.index);
    expect(idx).toContain(3);
    expect(idx).toContain(9);
  });

  it("a consistent rewrite (leaf + stored hash + interior nodes + re-signed checkpoints) passes fsck and is caught only by the published root", () => {
    const node = c.nodes[1] as TestNode;
    consistentRewrite(node, 6, c.f.logSigner);
    c.reopen(node);
    expect(fsck(node.ledger.storage, c.f.logKey).ok).toBe(true);
    expect(check(node).findings).toEqual([{ kind: "published-root", code: "LEDGER_ROOT_MISMATCH" }]);
  });

  it("a payload chunk corrupted → chunk finding naming its address", () => {
    const address = chunkAddress(chunkOf(2));
    corruptChunk(c.nodes[1] as TestNode, address);
    expect(check(c.nodes[1] as TestNode).findings).toEqual([
      { kind: "chunk", code: "STORE_CHUNK_HASH_MISMATCH", address },
    ]);
  });

  it("a transfer row's status, receiver-side hash or counts edited → transfer-row findings naming the columns", () => {
    const node = c.nodes[1] as TestNode;
    editTransferRow(node, ids[0] as string, "status = 'sent'");
    editTransferRow(node, ids[1] as string, "standard_sha256 = '" + "0".repeat(64) + "'");
    editTransferRow(node, ids[2] as string, "receiver_id = sender_id");
    const findings = check(node).findings;
    expect(findings).toEqual([
      { kind: "transfer-row", code: "CLUSTER_INTEGRITY_MISMATCH", transfer: ids[0], field: "status" },
      {
        kind: "transfer-row",
        code: "CLUSTER_INTEGRITY_MISMATCH",
        transfer: ids[1],
        field: "standard_sha256",
      },
      { kind: "transfer-row", code: "CLUSTER_INTEGRITY_MISMATCH", transfer: ids[2], field: "receiver_id" },
    ]);
  });

  it("a transfer row deleted → finding; a transfer's entry_keys deleted → index-keys findings for its entries", () => {
    const node = c.nodes[1] as TestNode;
    expect(deleteEntryKeys(node, ids[3] as string)).toBe(5);
    const findings = check(node).findings;
    expect(findings.filter((f) => f.kind === "index-keys").map((f) => f.index)).toEqual([15, 16, 17, 18, 19]);
    expect(kinds(node)).toEqual(["index-keys"]);
  });

  it("the watch before cosigning: a new entry edited under the node → it refuses to cosign and quarantines itself", async () => {
    const node = c.nodes[1] as TestNode;
    await c.transfer(5);
    editEntryBytes(node, 21);
    expect(() =>
      cosignAfterCheck({
        note: node.ledger.signCheckpoint(c.f.logSigner).note,
        logKey: c.f.logKey,
        cosigner: c.f.cosigner(1),
        last: node.last,
        watch: node.watch,
        health: node.health,
        storedSize: node.ledger.storage.size(),
      }),
    ).toThrow(expect.objectContaining({ code: "CLUSTER_INTEGRITY_MISMATCH" }) as Error);
    expect(node.health.state).toBe("quarantined");
    expect(node.health.snapshot().findings[0]).toContain("#21");
    // The two healthy nodes still publish.
    expect(c.publish()).toContain("node1");
  });

  it("entries ahead of the rows (a node between its ledger.db and service.db commits): no finding below stateSize", async () => {
    const node = c.nodes[1] as TestNode;
    const before = node.ledger.storage.size();
    // The alarm of a transfer damaged on every copy, appended; its transfer_damage row not written yet.
    await c.append([
      {
        record: {
          time: "2026-12-01T09:30:00.000Z",
          actor: { id: "monitor", role: "system" },
          institution: "-",
          outcome: "serious-failure",
          outcomeDesc: `transfer-damaged: ${ids[0] as string} chunk ${"ab".repeat(32)} bad on every copy`,
          source: { observer: "node1" },
          type: "alert",
          kind: "transfer-damaged",
          count: 1,
          threshold: 0,
          windowMinutes: 0,
          subject: ids[0] as string,
        },
      },
    ]);
    expect(check(node).findings).toEqual([
      { kind: "damage-row", code: "CLUSTER_INTEGRITY_MISMATCH", transfer: ids[0], field: "row" },
    ]);
    const consistent = runFullCheck({
      storage: node.ledger.storage,
      access: node.access,
      logKey: c.f.logKey,
      published: c.published?.checkpoint,
      serviceDb: node.db,
      stateSize: before,
      chunks: node.chunks,
    });
    expect(consistent.findings).toEqual([]);
  });
});
