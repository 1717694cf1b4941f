/**
 * Repairs a node's ledger.db from a healthy peer, proving everything it takes:
 *
 * 1. the quorum-published checkpoint (size N, root) is verified with the pinned cosigners;
 * 2. every local leaf of [0, N) is recomputed from the stored bytes, and the bad entries are found by
 *    comparing range hashes with a peer (`localise.ts`);
 * 3. those entries are fetched with inclusion proofs and verified under the published checkpoint by
 *    `verifyRemoteTrail` — the same pure function the CLI and the browser verify trails with — and then
 *    the whole root over the repaired leaves must equal the published root;
 * 4. a conversion entry's record hashes must give the records root its (proven) entry commits to;
 * 5. in one transaction, over the copy as it is at that moment (the node keeps appending during the
 *    round trips; `repair-rebuild.ts`): the proven entries replace the bad ones, every stored leaf hash
 *    is the one recomputed from the bytes, the index rows of touched entries are re-derived, every
 *    interior node is rebuilt from the leaves, and every stored checkpoint that no longer verifies
 *    against the repaired entries is replaced by the peer's (log signature and recomputed root checked)
 *    or removed; then, in the same turn, `afterWrite` (the node reloads its head).
 *
 * A copy whose last entry rows were deleted (the stored size, MAX(idx) + 1, shrank with them; the size
 * this node applied says they existed) is repaired the same way once a published checkpoint covers the
 * missing tail (`assertMissingCovered`; until then nothing is written). That checkpoint may lie past
 * what this node applied — its replica stopped at the first batch after the deletion while the others
 * went on — and every entry up to its size is then fetched and proven: the ones past the applied size
 * are stored ahead of their batches, as a crash between the ledger's and service.db's commits leaves
 * them, and the replica's next apply finds them byte for byte its own and runs only their state
 * changes (`replicated-state.ts`).
 *
 * A peer whose answers do not prove is skipped like one that is down; when none proves, nothing is
 * written (CLUSTER_REPAIR_UNPROVEN). Entries past N cannot be proven yet: their records stay as they
 * are, re-linked onto the repaired prefix where their `prev` names another leaf, and are proven by the
 * next check, once a checkpoint covering them is published.
 */
import { decodeEntry, encodeEntry } from "../../ledger/entry/canonical-entry.js";
import { lookupKeys } from "../../ledger/entry/lookup-keys.js";
import type { OperationRecord } from "../../ledger/entry/operation-record.js";
import { assertRecordsCommitment } from "../../ledger/entry/records-commitment.js";
import type { LogStorage } from "../../ledger/log-storage.js";
import { MemoryTree } from "../../ledger/memory-tree.js";
import { openCheckpoint, type Checkpoint } from "../../ledger/verify/checkpoint.js";
import { bytesEqual, fromHex, toHex } from "../../ledger/verify/encoding.js";
import type { TreeHasher } from "../../ledger/verify/hash.js";
import type { CosignerPolicy } from "../../ledger/verify/published-checkpoint.js";
import { verifyRemoteTrail } from "../../ledger/verify/remote-trail.js";
import type { VerifierKey } from "../../ledger/verify/verifier-key.js";
import { isCodedError } from "../../coded-error.js";
import type { LogRepairAccess } from "../../store/sqlite-log-repair.js";
import { ClusterError } from "../errors.js";
import type { PeerEndpoint } from "../peer/peer-client.js";
import { readEntry } from "./entry-checks.js";
import type { Finding } from "./finding.js";
import type { LedgerPeerClient } from "./ledger-peer-client.js";
import { localiseDamage, type Localisation } from "./localise.js";
import { RebuiltCopy, type ProvenEntry } from "./repair-rebuild.js";

export interface LedgerRepairInput {
  readonly storage: LogStorage;
  readonly access: LogRepairAccess;
  readonly hasher: TreeHasher;
  readonly logKey: VerifierKey;
  readonly policy: CosignerPolicy;
  readonly publishedNote: string;
  readonly published: Checkpoint;
  readonly peers: readonly PeerEndpoint[];
  readonly client: LedgerPeerClient;
  /** Entries whose index rows or record hashes a check found wrong (re-derived / re-fetched). */
  readonly indexKeyIndices: ReadonlySet<number>;
  readonly recordHashIndices: ReadonlySet<number>;
  /** A check found the stored interior nodes wrong (rebuilt even when every leaf is right). */
  readonly treeDamage?: boolean;
  /** Called right after the write, in the same turn (the node reloads its in-memory head). */
  readonly afterWrite?: () => void;
  readonly clock: () => number;
}

export type LedgerRepairKind = "entries" | "tree" | "checkpoints" | "index-keys" | "record-hashes";

export interface LedgerRepairResult {
  /**
   * Entries replaced: by proven ones below the published size, re-linked ones from it on (`relinked`;
   * their records are our own, proven at a later check).
   */
  readonly replaced: readonly number[];
  readonly relinked: readonly number[];
  readonly what: ReadonlySet<LedgerRepairKind>;
  /** The peer the entries came from (undefined when nothing was fetched). */
  readonly from: string | undefined;
  readonly localisation: Localisation | undefined;
  readonly localiseMs: number;
  /** Peers skipped and why (codes only). */
  readonly skipped: readonly { peer: string; code: string }[];
}

interface Proven {
  readonly from: string;
  readonly localisation: Localisation;
  readonly entries: Map<number, ProvenEntry>;
  readonly recordHashes: Map<number, Uint8Array[]>;
}

/**
 * A missing entry is proven only by a published checkpoint that covers it: one at or past the copy's
 * end (its last rows deleted under a running node: the size this node applied says they existed) waits
 * until a checkpoint reaching it is published — nothing unproven is ever written, the node stays
 * quarantined and the next run tries again (the cluster port asks the sequencer for that checkpoint:
 * `ClusterLedger.newestPublished`).
 * @throws ClusterError CLUSTER_REPAIR_UNPROVEN
 */
export function assertMissingCovered(findings: readonly Finding[], publishedSize: number): void {
  // A loop, not a spread: a copy with most rows gone has as many findings as entries.
  let last = -1;
  for (const f of findings) {
    if (f.code === "LEDGER_ENTRY_MISSING" && f.index !== undefined && f.index > last) last = f.index;
  }
  if (last >= publishedSize) {
    throw new ClusterError(
      "CLUSTER_REPAIR_UNPROVEN",
      "欠けたエントリを含む公開チェックポイントがまだありません",
      {
        missing: last,
        published: publishedSize,
      },
    );
  }
}

export async function repairLedger(input: LedgerRepairInput): Promise<LedgerRepairResult> {
  const { storage, hasher, published } = input;
  const n = published.size;
  const localSize = storage.size();
  const total = Math.max(n, localSize);
  const leaves: (Uint8Array | undefined)[] = [];
  const leafColumnWrong = new Set<number>();
  for (let i = 0; i < total; i++) {
    const stored = readEntry(storage, i);
    if (stored === undefined) {
      leaves.push(undefined);
      continue;
    }
    const leaf = hasher.hashLeaf(stored.entry);
    if (!bytesEqual(leaf, stored.leafHash)) leafColumnWrong.add(i);
    leaves.push(leaf);
  }
  const published_ = leaves.slice(0, n);
  const intact =
    published_.every((l) => l !== undefined) &&
    bytesEqual(new MemoryTree(published_, hasher).root(), published.root);
  const wanted = new Set<number>([...input.recordHashIndices].filter((i) => i < n));
  const started = input.clock();
  let proven: Proven | undefined;
  const skipped: { peer: string; code: string }[] = [];
  if (!intact || wanted.size > 0) {
    for (const peer of input.peers) {
      try {
        proven = await proveFromPeer(input, peer, published_, intact, wanted);
        break;
      } catch (error) {
        skipped.push({ peer: peer.name, code: isCodedError(error) ? error.code : "CLUSTER_REPAIR_UNPROVEN" });
      }
    }
    if (proven === undefined) {
      throw new ClusterError("CLUSTER_REPAIR_UNPROVEN", "どのノードからも正しい記録を証明できません", {
        skipped,
      });
    }
  }
  const localiseMs = input.clock() - started;

  // The copy as it is now (the node kept appending during the round trips): proven entries in, the
  // entries past the published size re-linked onto them, the tree over all of it (repair-rebuild.ts).
  const stored = [...storage.scanCheckpoints()].map((cp) => ({
    size: cp.size,
    root: cp.root,
    note: cp.note,
  }));
  const rebuilt = new RebuiltCopy({
    storage,
    hasher,
    publishedSize: n,
    first: { size: localSize, leaves, leafColumnWrong },
    proven: proven?.entries ?? new Map(),
    rootSizes: [n, ...stored.map((cp) => cp.size)],
  });
  rebuilt.extendTo(Math.max(n, storage.size()));
  assertPublishedRoot(rebuilt, published);
  const checkpoints = await checkpointRepairs(input, stored, rebuilt.roots, proven?.from);

  // Synchronously from here to the write: nothing is appended in between (one thread; the node's own
  // appends run on this event loop), so the tree written covers every stored entry.
  const size = storage.size();
  const later = [...storage.scanCheckpoints()].filter((cp) => !stored.some((s) => s.size === cp.size));
  for (const cp of later) rebuilt.wantRoot(cp.size);
  rebuilt.extendTo(Math.max(n, size));
  for (const cp of later) {
    // Signed by this node while the repair ran, over the tree as it was: kept only if it still holds.
    if (verifiesAt(input, cp.note, cp.size, rebuilt.roots) === undefined) checkpoints.set(cp.size, undefined);
  }
  const what = new Set<LedgerRepairKind>();
  const replaced = [...rebuilt.replaced, ...rebuilt.relinked].sort((a, b) => a - b);
  if (replaced.length > 0) what.add("entries");
  if (checkpoints.size > 0) what.add("checkpoints");
  const rebuildTree = input.treeDamage === true || rebuilt.changesEntries || !intact;
  if (rebuildTree) what.add("tree");
  const rekey = new Set([...replaced, ...input.indexKeyIndices].filter((i) => i < rebuilt.size));
  if (rekey.size > 0) what.add("index-keys");
  const recordHashes = proven?.recordHashes ?? new Map<number, Uint8Array[]>();
  if (recordHashes.size > 0) what.add("record-hashes");

  input.access.repair((w) => {
    for (const [index, e] of rebuilt.puts) w.putEntry(index, e.bytes, e.leaf);
    for (const index of rekey) {
      const record = rebuilt.records.get(index) ?? decodeStored(storage, index);
      if (record !== undefined) w.setIndexKeys(index, lookupKeys(record));
    }
    w.dropIndexKeysFrom(rebuilt.size);
    for (const [index, hashes] of recordHashes) w.setRecordHashes(index, hashes);
    if (rebuildTree) w.replaceNodes(rebuilt.nodes);
    for (const [cpSize, cp] of checkpoints) w.setCheckpoint(cpSize, cp);
  });
  // Still in the same turn: the node's head is reloaded before anything else is appended.
  input.afterWrite?.();
  return {
    replaced,
    relinked: rebuilt.relinked,
    what,
    from: proven?.from,
    localisation: proven?.localisation,
    localiseMs,
    skipped,
  };
}

function assertPublishedRoot(rebuilt: RebuiltCopy, published: Checkpoint): void {
  if (published.size === 0) return;
  const root = rebuilt.roots.get(published.size);
  if (root === undefined || !bytesEqual(root, published.root)) {
    throw new ClusterError("CLUSTER_REPAIR_FAILED", "修復中に台帳が変わりました", { size: published.size });
  }
}

async function proveFromPeer(
  input: LedgerRepairInput,
  peer: PeerEndpoint,
  leaves: readonly (Uint8Array | undefined)[],
  intact: boolean,
  wanted: ReadonlySet<number>,
): Promise<Proven> {
  const n = input.published.size;
  const localisation = intact
    ? { bad: [], rounds: 0, compared: 0 }
    : await localiseDamage({
        leaves,
        hasher: input.hasher,
        remote: (ranges) => input.client.rangeHashes(peer, n, ranges),
      });
  if (!intact && localisation.bad.length === 0) {
    // The peer's copy hashes like ours, yet ours does not give the published root: it is no help.
    throw new ClusterError("CLUSTER_REPAIR_UNPROVEN", "ノードの写しも公開された根と一致しません", {
      peer: peer.name,
    });
  }
  const indices = [...new Set([...localisation.bad, ...wanted])].sort((a, b) => a - b);
  const answer = await input.client.provenEntries(peer, n, indices);
  // The one verifier of entries under a checkpoint (CLI, browser, repair): published checkpoint with
  // the pinned cosigners' quorum, each entry's canonical bytes and its inclusion proof.
  const trail = verifyRemoteTrail(
    { checkpoint: input.publishedNote, treeSize: n, entries: answer.entries },
    { logKey: input.logKey, cosigners: input.policy },
  );
  if (toHex(trail.checkpoint.root) !== toHex(input.published.root)) {
    throw new ClusterError("CLUSTER_REPAIR_UNPROVEN", "別のチェックポイントです", { peer: peer.name });
  }
  const entries = new Map<number, ProvenEntry>();
  for (const e of trail.entries) {
    const bytes = encodeEntry(e.record);
    entries.set(e.index, { bytes, leaf: fromHex(e.leafHash), record: e.record });
  }
  if (indices.some((i) => !entries.has(i))) {
    throw new ClusterError("CLUSTER_REPAIR_UNPROVEN", "求めたエントリが揃っていません", { peer: peer.name });
  }
  const repaired = leaves.map((l, i) => entries.get(i)?.leaf ?? l);
  if (
    repaired.some((l) => l === undefined) ||
    !bytesEqual(new MemoryTree(repaired as Uint8Array[], input.hasher).root(), input.published.root)
  ) {
    throw new ClusterError("CLUSTER_REPAIR_UNPROVEN", "修復後の根が公開された根と一致しません", {
      peer: peer.name,
    });
  }
  const recordHashes = new Map<number, Uint8Array[]>();
  for (const [index, e] of entries) {
    if (e.record.type !== "conversion") continue;
    const hashes = answer.recordHashes[String(index)] ?? [];
    assertRecordsCommitment(hashes, e.record.records);
    if (localisation.bad.includes(index) || wanted.has(index)) {
      recordHashes.set(
        index,
        hashes.map((h) => fromHex(h)),
      );
    }
  }
  return { from: peer.name, localisation, entries, recordHashes };
}

/** The root of `note` when it is a log-signed checkpoint of `size` whose root the rebuilt copy has. */
function verifiesAt(
  input: LedgerRepairInput,
  note: string,
  size: number,
  roots: ReadonlyMap<number, Uint8Array>,
): Uint8Array | undefined {
  try {
    const { checkpoint } = openCheckpoint(note, input.logKey);
    const root = roots.get(size);
    return checkpoint.size === size && root !== undefined && bytesEqual(checkpoint.root, root)
      ? checkpoint.root
      : undefined;
  } catch {
    return undefined;
  }
}

/** Stored checkpoints that must change: size → the peer's verified note, or undefined to remove. */
async function checkpointRepairs(
  input: LedgerRepairInput,
  stored: readonly { size: number; root: Uint8Array; note: string }[],
  roots: ReadonlyMap<number, Uint8Array>,
  preferred: string | undefined,
): Promise<Map<number, { root: Uint8Array; note: string } | undefined>> {
  const out = new Map<number, { root: Uint8Array; note: string } | undefined>();
  const verifies = (note: string, size: number): Uint8Array | undefined =>
    verifiesAt(input, note, size, roots);
  // Collected first: no statement of the storage stays open across the peer round trips.
  for (const cp of stored) {
    if (
      verifies(cp.note, cp.size) !== undefined &&
      bytesEqual(cp.root, roots.get(cp.size) ?? new Uint8Array())
    ) {
      continue;
    }
    out.set(cp.size, await peerCheckpoint(input, cp.size, verifies, preferred));
  }
  const n = input.published.size;
  if (!stored.some((cp) => cp.size === n) && n > 0) {
    const found = await peerCheckpoint(input, n, verifies, preferred);
    if (found !== undefined) out.set(n, found);
  }
  return out;
}

async function peerCheckpoint(
  input: LedgerRepairInput,
  size: number,
  verifies: (note: string, size: number) => Uint8Array | undefined,
  preferred: string | undefined,
): Promise<{ root: Uint8Array; note: string } | undefined> {
  const peers = [...input.peers].sort((a, b) => Number(b.name === preferred) - Number(a.name === preferred));
  for (const peer of peers) {
    try {
      const note = await input.client.checkpoint(peer, size);
      const root = note === undefined ? undefined : verifies(note, size);
      if (note !== undefined && root !== undefined) return { root, note };
    } catch {
      continue;
    }
  }
  return undefined;
}

function decodeStored(storage: LogStorage, index: number): OperationRecord | undefined {
  const stored = readEntry(storage, index);
  if (stored === undefined) return undefined;
  try {
    return decodeEntry(stored.entry);
  } catch {
    return undefined;
  }
}
