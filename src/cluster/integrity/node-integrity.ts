/**
 * Everything a node wires for issue 11, in one place: its health (quarantine), the watch over new entries
 * and the guarded cosign, the peer route other nodes localise and repair with, and the rolling full
 * check whose findings go straight to the repair. The node supplies its files, how to reopen its ledger,
 * its peers (online first, the offline node last), the latest published checkpoint, and how to append the
 * repair entry through its write port (every node must append it, so never a local write).
 */
import type { RecordInput } from "../../ledger/entry/operation-record.js";
import { openPublishedCheckpoint, type CosignerPolicy } from "../../ledger/verify/published-checkpoint.js";
import type { Checkpoint } from "../../ledger/verify/checkpoint.js";
import type { VerifierKey } from "../../ledger/verify/verifier-key.js";
import type { Cosigned, CosignInput } from "../checkpoint-cosigner.js";
import { createPeerClient, type PeerEndpoint } from "../peer/peer-client.js";
import type { PeerRoute, PeerTls } from "../peer/peer-server.js";
import { cosignAfterCheck } from "./cosign-guard.js";
import { EntryWatch } from "./entry-watch.js";
import type { Finding } from "./finding.js";
import type { WatchMarkStore } from "./watch-mark.js";
import { appliedLedgerSize, runFullCheck, type FullCheckResult } from "./full-check.js";
import { createLedgerPeerClient } from "./ledger-peer-client.js";
import { ledgerPeerRoutes } from "./ledger-peer-routes.js";
import { NodeHealth } from "./node-health.js";
import { repairDamage, type NodeFiles, type RepairOutcome } from "./repair.js";
import { startRollingCheck } from "./rolling-check.js";

export interface NodeIntegrityOptions {
  readonly node: string;
  readonly logKey: VerifierKey;
  readonly policy: CosignerPolicy;
  /** Time between the end of one full check and the start of the next. */
  readonly intervalMs: number;
  readonly files: () => NodeFiles;
  /** Reopens the node's ledger after ledger.db was repaired underneath it. */
  readonly reopen: () => void;
  /** Starts a replica the damage stopped again, once a repair passed its re-check (`RepairDeps`). */
  readonly resumeReplica?: () => void;
  readonly peers: readonly PeerEndpoint[];
  /** This node's certificate for calling peers. */
  readonly tls: PeerTls;
  readonly publishedNote: () => Promise<string | undefined>;
  readonly appendRepair: (record: RecordInput) => Promise<number | undefined>;
  readonly chunkOwner?: (address: string) => string | undefined;
  readonly onUnrepairable?: (damage: { transfer: string | undefined; address: string }) => Promise<void>;
  /**
   * Damage already known and dealt with (a chunk of a transfer marked damaged: no copy can repair it,
   * it is never served): such findings neither quarantine the node nor start a repair again.
   */
  readonly knownDamage?: (finding: Finding) => boolean;
  /**
   * Where the entry watch keeps its "checked up to" mark across restarts (`watch-mark.ts`): the first
   * cosignature after a restart then checks only the entries appended since (the rolling full check
   * still walks everything).
   */
  readonly watchMark?: WatchMarkStore;
  readonly onRepair?: (outcome: RepairOutcome) => void;
  readonly onError?: (error: unknown) => void;
  readonly now: () => Date;
  /** The node's health, when the node made it before this (its sequencer gate follows it); else new. */
  readonly health?: NodeHealth;
  readonly timeoutMs?: number;
  /**
   * Runs the scheduled full check (default: `runFullCheck` over `files()` in this thread). A node passes
   * `runFullCheckInWorker` over its file paths so a long check does not stall it (full-check-thread.ts).
   */
  readonly runCheck?: (published: Checkpoint | undefined) => Promise<FullCheckResult>;
}

export interface NodeIntegrity {
  readonly health: NodeHealth;
  /** The route to add to the node's peer endpoint (`startPeerServer({ routes })`). */
  readonly peerRoute: PeerRoute;
  /** Cosigns through the guard (refuses while quarantined; checks new entries first). */
  cosign(input: Omit<CosignInput, "ownSize" | "ownRootAt">): Cosigned;
  /** One full check now (and a repair when it finds damage). */
  runNow(): Promise<FullCheckResult>;
  stop(): Promise<void>;
}

export function startNodeIntegrity(o: NodeIntegrityOptions): NodeIntegrity {
  const health = o.health ?? new NodeHealth({ now: o.now });
  const mark = o.watchMark !== undefined ? { mark: o.watchMark } : {};
  let watch = new EntryWatch({ storage: o.files().storage, ...mark, resume: true });
  const ledgerClient = createLedgerPeerClient({
    tls: o.tls,
    ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
  });
  const chunkClient = createPeerClient({
    tls: o.tls,
    rounds: 1,
    ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
  });

  // In this thread nothing is applied while the check runs, so service.db's applied size is both the
  // size the copy must reach (a copy whose last entry rows were deleted only looks shorter) and the
  // entries its rows reflect: a tail repair stores entries past it, ahead of their batches, whose state
  // changes the replica has still to run (repair-ledger.ts).
  const checkHere = (published: Checkpoint | undefined): FullCheckResult => {
    const files = o.files();
    const db = files.serviceDb;
    const applied = db === undefined ? undefined : appliedLedgerSize(db);
    return runFullCheck({ ...files, logKey: o.logKey, published, appliedSize: applied, stateSize: applied });
  };
  const check = async (): Promise<FullCheckResult> => {
    const note = await o.publishedNote();
    const published =
      note === undefined ? undefined : openPublishedCheckpoint(note, o.logKey, o.policy).checkpoint;
    const result = o.runCheck !== undefined ? await o.runCheck(published) : checkHere(published);
    return withoutKnown(result);
  };
  // Damage already dealt with (a chunk of a transfer marked damaged) is left out of every check, the
  // repair's re-check too: otherwise that chunk would keep a repaired node quarantined without a repair
  // entry until the next scheduled run.
  const withoutKnown = (result: FullCheckResult): FullCheckResult => {
    const known = o.knownDamage;
    return known === undefined ? result : { ...result, findings: result.findings.filter((f) => !known(f)) };
  };

  const rolling = startRollingCheck({
    intervalMs: o.intervalMs,
    health,
    check,
    onDamage: async (findings) => {
      const note = await o.publishedNote();
      const published =
        note === undefined ? undefined : openPublishedCheckpoint(note, o.logKey, o.policy).checkpoint;
      try {
        const outcome = await repairDamage(
          {
            node: o.node,
            logKey: o.logKey,
            policy: o.policy,
            files: o.files,
            reopen: () => {
              o.reopen();
              // The repaired copy is checked again from its first entry before the next cosignature.
              watch = new EntryWatch({ storage: o.files().storage, ...mark });
            },
            peers: o.peers,
            ledgerClient,
            chunkClient,
            publishedNote: () => Promise.resolve(note),
            health,
            recheck: () => withoutKnown(checkHere(published)),
            appendRepair: o.appendRepair,
            ...(o.resumeReplica !== undefined ? { resumeReplica: o.resumeReplica } : {}),
            now: o.now,
            ...(o.chunkOwner !== undefined ? { chunkOwner: o.chunkOwner } : {}),
            ...(o.onUnrepairable !== undefined ? { onUnrepairable: o.onUnrepairable } : {}),
          },
          findings,
        );
        o.onRepair?.(outcome);
      } catch (error) {
        o.onError?.(error);
      }
    },
    ...(o.onError !== undefined ? { onError: o.onError } : {}),
  });

  return {
    health,
    peerRoute: ledgerPeerRoutes(() => {
      const files = o.files();
      return { storage: files.storage, serviceDb: files.serviceDb };
    }),
    cosign: (input) => cosignAfterCheck({ ...input, watch, health, storedSize: o.files().storage.size() }),
    runNow: () => rolling.runNow(),
    async stop() {
      await rolling.stop();
      try {
        watch.flush();
      } catch (error) {
        o.onError?.(error);
      }
      ledgerClient.close();
      chunkClient.close();
    },
  };
}
