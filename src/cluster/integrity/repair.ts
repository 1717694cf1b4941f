/**
 * The repair of a quarantined node, from the findings of a check to rejoining:
 *
 * 1. the ledger (`repair-ledger.ts`): bad entries localised with a peer by subtree hashes, fetched,
 *    proven against the quorum-published checkpoint, replaced; derived rows rebuilt;
 * 2. transfer rows (`repair-rows.ts`): a peer's row is taken only when it says exactly what the (now
 *    proven) entries this node applied commit to (`transfer-projection.ts`); with no such peer, the
 *    committed columns are written from the entries themselves and the rest of the local row is kept;
 *    `transfer_damage` rows the same way against their alarm entries (`damage-rows.ts`);
 * 3. chunks: fetched from any peer (or the offline node) that has bytes hashing to the address (the
 *    peer client re-hashes on receipt), then replaced. A chunk no copy has is *unrepairable*: its
 *    transfer is marked damaged (never served) and `onUnrepairable` raises the alarm. Chunk findings
 *    alone never quarantine the node: they are repaired while it serves, only their transfer held
 *    (`repairWhileServing`; `quarantinesNode` in finding.ts says why);
 * 4. the full check runs again over the repaired files; only when it passes (unrepairable chunks
 *    aside) does a replica the damage stopped follow the log again (`resumeReplica`), is the `repair`
 *    entry appended — through the cluster's write port, so every node records it — and the node
 *    rejoins. Otherwise it stays quarantined (and its replica stopped).
 */
import type Database from "better-sqlite3";
import type { RecordInput } from "../../ledger/entry/operation-record.js";
import type { LogStorage } from "../../ledger/log-storage.js";
import { nodeHasher } from "../../ledger/node-hasher.js";
import { toHex } from "../../ledger/verify/encoding.js";
import type { TreeHasher } from "../../ledger/verify/hash.js";
import { openPublishedCheckpoint, type CosignerPolicy } from "../../ledger/verify/published-checkpoint.js";
import type { VerifierKey } from "../../ledger/verify/verifier-key.js";
import { isCodedError } from "../../coded-error.js";
import type { ChunkStore } from "../../store/chunk-store.js";
import type { LogRepairAccess } from "../../store/sqlite-log-repair.js";
import { ClusterError } from "../errors.js";
import type { PeerClient, PeerEndpoint } from "../peer/peer-client.js";
import { quarantinesNode, type Finding } from "./finding.js";
import type { FullCheckResult } from "./full-check.js";
import type { LedgerPeerClient } from "./ledger-peer-client.js";
import type { NodeHealth, RepairReport } from "./node-health.js";
import { assertMissingCovered, repairLedger, type LedgerRepairResult } from "./repair-ledger.js";
import { projectRows, repairDamageRow, repairTransferRow } from "./repair-rows.js";

export interface NodeFiles {
  readonly storage: LogStorage;
  readonly access: LogRepairAccess;
  readonly serviceDb?: Database.Database | undefined;
  readonly chunks?: ChunkStore | undefined;
}

export interface RepairDeps {
  /** This node's name (as in its certificate and the repair entry). */
  readonly node: string;
  readonly logKey: VerifierKey;
  readonly policy: CosignerPolicy;
  readonly hasher?: TreeHasher;
  /** The node's files as they are now (read again after `reopen`). */
  readonly files: () => NodeFiles;
  /**
   * Reopens the node's ledger after its file was repaired (its in-memory head may be stale); called
   * synchronously right after the repair's write transaction, before the node appends again.
   */
  readonly reopen: () => void;
  /**
   * Starts the node's replica again if it stopped on the damaged copy (the next batch did not fit it:
   * CLUSTER_APPLY_FAILED) — whatever the damage was: entry rows, state rows, chunks. Called once per
   * repair, only after the re-check passed, and before the repair entry is appended: that append
   * resolves once this node's own replica applied it, which a stopped one never would.
   */
  readonly resumeReplica?: () => void;
  /** Healthy peers, preferred first; the offline node last (source of last resort). */
  readonly peers: readonly PeerEndpoint[];
  readonly ledgerClient: LedgerPeerClient;
  readonly chunkClient?: PeerClient;
  /** The latest published (quorum-cosigned) checkpoint note. */
  readonly publishedNote: () => Promise<string | undefined>;
  readonly chunkOwner?: (address: string) => string | undefined;
  readonly health: NodeHealth;
  /** The full check again, over the files as they are after the repair. */
  readonly recheck: () => FullCheckResult;
  /** Appends the repair entry through the cluster's write port; resolves with its index. */
  readonly appendRepair?: (record: RecordInput) => Promise<number | undefined>;
  readonly onUnrepairable?: (damage: { transfer: string | undefined; address: string }) => Promise<void>;
  readonly now: () => Date;
  /** Monotonic milliseconds (durations in the outcome). */
  readonly clock?: () => number;
}

export interface RepairOutcome {
  readonly ok: boolean;
  readonly record: RecordInput | undefined;
  readonly entryIndex: number | undefined;
  /** What the re-run check still finds (empty when ok). */
  readonly remaining: readonly Finding[];
  readonly ledger: LedgerRepairResult | undefined;
  readonly unrepaired: readonly string[];
  readonly timings: { readonly localiseMs: number; readonly totalMs: number };
}

const LEDGER_KINDS = new Set([
  "entry",
  "tree",
  "checkpoint",
  "published-root",
  "index-keys",
  "record-hashes",
]);

/**
 * Repairs what `findings` name; the node is "repairing" meanwhile — unless every finding is local to a
 * transfer (chunks: `quarantinesNode`), which is repaired while the node serves everything else.
 */
export async function repairDamage(deps: RepairDeps, findings: readonly Finding[]): Promise<RepairOutcome> {
  if (!findings.some(quarantinesNode)) return repairWhileServing(deps, findings);
  const clock = deps.clock ?? (() => performance.now());
  const started = clock();
  const hasher = deps.hasher ?? nodeHasher;
  deps.health.beginRepair();
  let ledger: LedgerRepairResult | undefined;
  let sourceNode: string | undefined;
  let checkpointRef: { size: number; root: string } | undefined;
  const repairedTransfers: string[] = [];
  const repairedChunks: string[] = [];
  const unrepaired: string[] = [];
  try {
    const note = await deps.publishedNote();
    if (findings.some((f) => LEDGER_KINDS.has(f.kind))) {
      if (note === undefined) {
        throw new ClusterError("CLUSTER_REPAIR_UNPROVEN", "公開されたチェックポイントがありません", {});
      }
      const published = openPublishedCheckpoint(note, deps.logKey, deps.policy).checkpoint;
      assertMissingCovered(findings, published.size);
      checkpointRef = { size: published.size, root: toHex(published.root) };
      const indicesOf = (kind: Finding["kind"]): Set<number> =>
        new Set(
          findings.filter((f) => f.kind === kind && f.index !== undefined).map((f) => f.index as number),
        );
      const files = deps.files();
      ledger = await repairLedger({
        storage: files.storage,
        access: files.access,
        hasher,
        logKey: deps.logKey,
        policy: deps.policy,
        publishedNote: note,
        published,
        peers: deps.peers,
        client: deps.ledgerClient,
        indexKeyIndices: indicesOf("index-keys"),
        recordHashIndices: indicesOf("record-hashes"),
        treeDamage: findings.some((f) => f.kind === "tree"),
        // In the same turn as the write: the node's head is reloaded before it appends again.
        afterWrite: deps.reopen,
        clock,
      });
      sourceNode = ledger.from;
    }
    const idsOf = (kind: Finding["kind"]): string[] => [
      ...new Set(findings.flatMap((f) => (f.kind === kind && f.transfer !== undefined ? [f.transfer] : []))),
    ];
    const rowFindings = idsOf("transfer-row");
    const damageFindings = idsOf("damage-row");
    if (rowFindings.length > 0 || damageFindings.length > 0) {
      const files = deps.files();
      if (files.serviceDb === undefined)
        throw new ClusterError("CLUSTER_REPAIR_FAILED", "service.db がありません", {});
      const projection = projectRows(files.storage, files.serviceDb);
      for (const id of rowFindings) {
        const from = await repairTransferRow(deps, files.serviceDb, projection.transfers, id);
        if (from !== undefined) {
          repairedTransfers.push(id);
          sourceNode ??= from;
        }
      }
      for (const id of damageFindings) {
        const from = await repairDamageRow(deps, files.serviceDb, projection.damage, id);
        if (from !== deps.node) sourceNode ??= from;
        if (!repairedTransfers.includes(id)) repairedTransfers.push(id);
      }
    }
    for (const f of findings) {
      if (f.kind !== "chunk" || f.address === undefined) continue;
      const from = await repairChunk(deps, f.address);
      if (from === undefined) unrepaired.push(f.address);
      else {
        repairedChunks.push(f.address);
        sourceNode ??= from;
      }
    }
  } catch (error) {
    deps.health.repairFailed();
    throw error;
  }
  const check = deps.recheck();
  const remaining = check.findings.filter(
    (f) => !(f.kind === "chunk" && unrepaired.includes(f.address ?? "")),
  );
  const timings = { localiseMs: Math.round(ledger?.localiseMs ?? 0), totalMs: Math.round(clock() - started) };
  if (remaining.length > 0) {
    deps.health.repairFailed();
    deps.health.quarantine(remaining);
    return { ok: false, record: undefined, entryIndex: undefined, remaining, ledger, unrepaired, timings };
  }
  deps.resumeReplica?.();
  const record = repairRecord(deps, {
    ledger,
    sourceNode,
    checkpointRef,
    transfers: repairedTransfers,
    chunks: repairedChunks,
    unrepaired,
  });
  const entryIndex = await deps.appendRepair?.(record.record);
  deps.health.rejoin({ ...record.report, ...(entryIndex !== undefined ? { entryIndex } : {}) });
  return { ok: true, record: record.record, entryIndex, remaining: [], ledger, unrepaired, timings };
}

/**
 * Chunks repaired while the node keeps serving (no quarantine): each chunk's transfer is held — its
 * payload refused with TRANSFER_REPAIRING, everything else served — while the chunk is fetched by its
 * address from a peer (re-hashed on receipt) and replaced, then read back through its hash check. A
 * chunk no copy has marks its transfer damaged before the hold ends (`repairChunk`). The repair entry is
 * appended as for any repair.
 */
async function repairWhileServing(deps: RepairDeps, findings: readonly Finding[]): Promise<RepairOutcome> {
  const clock = deps.clock ?? (() => performance.now());
  const started = clock();
  const repaired: string[] = [];
  const unrepaired: string[] = [];
  const remaining: Finding[] = [];
  let sourceNode: string | undefined;
  for (const f of findings) {
    if (f.address === undefined) continue;
    const owner = deps.chunkOwner?.(f.address);
    if (owner !== undefined) deps.health.holdTransfer(owner);
    try {
      const from = await repairChunk(deps, f.address);
      if (from === undefined) unrepaired.push(f.address);
      else {
        try {
          deps.files().chunks?.get(f.address);
          repaired.push(f.address);
          sourceNode ??= from;
        } catch (error) {
          if (!isCodedError(error)) throw error;
          remaining.push(f);
        }
      }
    } finally {
      if (owner !== undefined) deps.health.releaseTransfer(owner);
    }
  }
  const timings = { localiseMs: 0, totalMs: Math.round(clock() - started) };
  if (remaining.length > 0) {
    return {
      ok: false,
      record: undefined,
      entryIndex: undefined,
      remaining,
      ledger: undefined,
      unrepaired,
      timings,
    };
  }
  deps.resumeReplica?.();
  const record = repairRecord(deps, { sourceNode, transfers: [], chunks: repaired, unrepaired });
  const entryIndex = await deps.appendRepair?.(record.record);
  deps.health.recordRepair({ ...record.report, ...(entryIndex !== undefined ? { entryIndex } : {}) });
  return {
    ok: true,
    record: record.record,
    entryIndex,
    remaining: [],
    ledger: undefined,
    unrepaired,
    timings,
  };
}

/** The `repair` entry's record and the report monitoring lists for it. */
function repairRecord(
  deps: RepairDeps,
  r: {
    readonly ledger?: LedgerRepairResult | undefined;
    readonly sourceNode: string | undefined;
    readonly checkpointRef?: { size: number; root: string } | undefined;
    readonly transfers: readonly string[];
    readonly chunks: readonly string[];
    readonly unrepaired: readonly string[];
  },
): { record: RecordInput; report: RepairReport } {
  const { ledger, sourceNode, checkpointRef, unrepaired } = r;
  const replaced = ledger?.replaced ?? [];
  const what = [
    ...(ledger?.what ?? []),
    ...(r.transfers.length > 0 ? (["transfer-rows"] as const) : []),
    ...(r.chunks.length > 0 ? (["chunks"] as const) : []),
  ];
  const now = deps.now().toISOString();
  const record: RecordInput = {
    time: now,
    actor: { id: deps.node, role: "system" },
    institution: "-",
    outcome: unrepaired.length > 0 ? "serious-failure" : "success",
    ...(unrepaired.length > 0 ? { outcomeDesc: "payload chunks no copy could repair" } : {}),
    source: { observer: deps.node },
    type: "repair",
    node: deps.node,
    range:
      replaced.length > 0
        ? { from: replaced[0] as number, to: (replaced[replaced.length - 1] as number) + 1 }
        : { from: 0, to: 0 },
    sourceNode: sourceNode ?? deps.node,
    ...(what.length > 0 ? { what } : {}),
    ...(checkpointRef !== undefined ? { checkpoint: checkpointRef } : {}),
    ...(replaced.length > 0 ? { entries: replaced.length } : {}),
    ...(r.transfers.length > 0 ? { transfers: r.transfers.slice(0, 100) } : {}),
    ...(r.chunks.length > 0 ? { chunks: r.chunks.slice(0, 100) } : {}),
    ...(unrepaired.length > 0 ? { unrepaired: unrepaired.slice(0, 100) } : {}),
  };
  const report: RepairReport = {
    at: now,
    what: what.length > 0 ? what : ["none"],
    fromNode: sourceNode ?? deps.node,
    checkpointSize: checkpointRef?.size ?? 0,
  };
  return { record, report };
}

/** @returns the peer the chunk came from, or undefined when no copy could repair it */
async function repairChunk(deps: RepairDeps, address: string): Promise<string | undefined> {
  const chunks = deps.files().chunks;
  if (chunks === undefined || deps.chunkClient === undefined) return undefined;
  try {
    const fetched = await deps.chunkClient.fetchChunk(address, deps.peers);
    chunks.delete(address);
    chunks.put(address, fetched.bytes);
    return fetched.from;
  } catch (error) {
    if (!isCodedError(error)) throw error;
    const transfer = deps.chunkOwner?.(address);
    if (transfer !== undefined) deps.health.markDamaged(transfer);
    await deps.onUnrepairable?.({ transfer, address });
    return undefined;
  }
}
