/**
 * A cluster node's integrity as `cluster-node.ts` starts it on every node: `startNodeIntegrity`
 * (`cluster/integrity/node-integrity.ts`) over connections of the node's own to ledger.db (reopened after
 * a repair rewrote it), its full check in a worker thread, its route on the agent's peer endpoint, and its
 * health in etcd (the ordered fact, `health-facts.ts`) and in the node's presence. Kept apart from the
 * opening of the port because it is the node's second reader of ledger.db and its own life cycle.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { ClusterAgent } from "../../cluster/cluster-agent.js";
import type { ClusterLedger } from "../../cluster/cluster-ledger.js";
import { nodeFiles } from "../../cluster/cluster-init.js";
import type { NodeClusterConfig } from "../../cluster/cluster-topology.js";
import { runFullCheckInWorker } from "../../cluster/integrity/full-check-thread.js";
import { publishIntegrityFact } from "../../cluster/integrity/health-facts.js";
import type { NodeHealth, NodeHealthSnapshot } from "../../cluster/integrity/node-health.js";
import { startNodeIntegrity, type NodeIntegrity } from "../../cluster/integrity/node-integrity.js";
import { orderedFact } from "../../cluster/integrity/ordered-fact.js";
import type { RepairOutcome } from "../../cluster/integrity/repair.js";
import { fileWatchMark } from "../../cluster/integrity/watch-mark.js";
import { readCosignerPolicy } from "../../cluster/node-ledger-port.js";
import type { LedgerPort } from "../../ledger/embedded-ledger.js";
import { parseVerifierKey } from "../../ledger/verify/verifier-key.js";
import type { ServiceDb } from "../../store/service-db.js";
import { openLogRepairAccess, type LogRepairAccess } from "../../store/sqlite-log-repair.js";
import { openSqliteLog, type SqliteLog } from "../../store/sqlite-log.js";
import { dataPaths } from "../data-dir.js";
import { isMarkedDamaged } from "../state-commands/damage-commands.js";

const CHECK_INTERVAL_MS = 5 * 60_000;

/** How long a connection a repair replaced stays open for readers that still hold it. */
const RETIRED_CLOSE_MS = 30_000;
/** The entry watch's "checked up to" mark (cluster/integrity/watch-mark.ts), beside ledger.db. */
export const WATCH_MARK_FILE = "integrity-mark.json";

/** What of `openClusterNode`'s options the integrity side uses (its documentation is there). */
export interface ClusterNodeIntegrityOptions {
  readonly dir: string;
  readonly config: NodeClusterConfig;
  readonly db: ServiceDb;
  readonly onError?: (error: unknown) => void;
  readonly checkIntervalMs?: number;
  readonly onRepair?: (outcome: RepairOutcome) => void;
  readonly onIntegrityError?: (error: unknown) => void;
  readonly onUnrepairable?: (damage: { transfer: string | undefined; address: string }) => Promise<void>;
  readonly now?: () => Date;
}

/**
 * The node's integrity over connections of its own to ledger.db (reopened after a repair rewrote it),
 * its route on the agent's peer endpoint, and its health in etcd (the fact and the presence). An online
 * node appends the repair entry through `appendTo` (every node records it); the offline node cannot.
 */
export function startIntegrity(
  o: ClusterNodeIntegrityOptions,
  agent: ClusterAgent,
  port: ClusterLedger,
  { health, appendTo }: { readonly health: NodeHealth; readonly appendTo: LedgerPort | undefined },
): { integrity: NodeIntegrity; storage: () => SqliteLog; stop(): Promise<void> } {
  const paths = dataPaths(o.dir);
  const logKeyText = readFileSync(paths.ledgerVerifierKey, "utf8").trim();
  let storage: SqliteLog = openSqliteLog(paths.ledgerDb);
  let access: LogRepairAccess = openLogRepairAccess(paths.ledgerDb);
  const onError = o.onIntegrityError ?? o.onError;
  // Chunks without a transfer that no copy could repair: alarmed once, not repaired again each run.
  const unowned = new Set<string>();
  // The connections a repair replaced are closed a while later, not at once: a reader that took them
  // before the repair (a peer's request, a check between its awaits) may still be using them, and a
  // closed connection fails it with "The database connection is not open" (seen once in a cluster
  // test). They read the same file, which the repair rewrote in place, so a late read sees the repair.
  const retired: (() => void)[] = [];
  const retire = (oldStorage: SqliteLog, oldAccess: LogRepairAccess): void => {
    const closeOld = (): void => {
      const at = retired.indexOf(closeOld);
      if (at < 0) return; // closed already (by the stop)
      retired.splice(at, 1);
      oldStorage.close();
      oldAccess.close();
    };
    retired.push(closeOld);
    setTimeout(closeOld, RETIRED_CLOSE_MS).unref();
  };
  const integrity: NodeIntegrity = startNodeIntegrity({
    node: o.config.self,
    logKey: parseVerifierKey(logKeyText),
    policy: readCosignerPolicy(o.dir),
    intervalMs: o.checkIntervalMs ?? CHECK_INTERVAL_MS,
    files: () => ({ storage, access, serviceDb: o.db, chunks: agent.chunks }),
    reopen: () => {
      // Right after the repair's write, in the same turn: the port appends next on the repaired head.
      port.ledgerRepaired();
      retire(storage, access);
      storage = openSqliteLog(paths.ledgerDb);
      access = openLogRepairAccess(paths.ledgerDb);
    },
    resumeReplica: () => {
      port.resumeReplica();
    },
    peers: [...o.config.online, ...o.config.offline],
    tls: agent.tls,
    // The newest published checkpoint, reproduced by this copy or not: a damaged copy reproduces none
    // published after the damage, and a repair proven only against the last one it did would leave
    // every entry past it as the damage left it (the repair went round for ever).
    publishedNote: () => Promise.resolve(publishedNote(port)),
    appendRepair: async (record) => {
      if (appendTo === undefined) return undefined;
      const [landed] = await appendTo.append([{ record }]);
      return landed?.index;
    },
    runCheck: (published) =>
      runFullCheckInWorker({
        ledgerDb: paths.ledgerDb,
        serviceDb: paths.serviceDb,
        chunksDb: nodeFiles(o.dir).chunks,
        logKey: logKeyText,
        published: published === undefined ? undefined : { size: published.size, root: published.root },
      }),
    watchMark: fileWatchMark(join(o.dir, WATCH_MARK_FILE)),
    chunkOwner: (address) => chunkOwner(o.db, address),
    onUnrepairable: async (damage) => {
      if (damage.transfer === undefined) unowned.add(damage.address);
      // The offline node never appends: an online node's alarm carries the mark to it.
      if (appendTo === undefined) return;
      try {
        await o.onUnrepairable?.(damage);
      } catch (error) {
        onError?.(error);
      }
    },
    knownDamage: (f) => {
      if (f.kind !== "chunk" || f.address === undefined) return false;
      if (unowned.has(f.address)) return true;
      const owner = chunkOwner(o.db, f.address);
      return owner !== undefined && (isMarkedDamaged(o.db, owner) || integrity.health.isDamaged(owner));
    },
    ...(o.onRepair !== undefined ? { onRepair: o.onRepair } : {}),
    ...(onError !== undefined ? { onError } : {}),
    now: o.now ?? (() => new Date()),
    health,
  });
  agent.mount(integrity.peerRoute);
  agent.presenceSources({ health: () => integrity.health.state });
  // One put at a time, in order, a failed one tried again (ordered-fact.ts): monitoring must not be
  // left with an older state than the node's.
  const fact = orderedFact((s: NodeHealthSnapshot) =>
    publishIntegrityFact(agent.etcd, o.config.prefix, o.config.self, s),
  );
  integrity.health.onChange((s) => {
    void agent.presence.refresh();
    fact.publish(s);
  });
  return {
    integrity,
    storage: () => storage,
    async stop() {
      try {
        await integrity.stop();
      } finally {
        await fact.stop();
        for (const closeOld of [...retired]) closeOld();
        storage.close();
        access.close();
      }
    },
  };
}

/** The transfer whose payload uses chunk `address` on this node (cluster_payload_refs; none: undefined). */
function chunkOwner(db: ServiceDb, address: string): string | undefined {
  return db
    .prepare<[string], { transfer_id: string }>(
      "SELECT transfer_id FROM cluster_payload_refs WHERE address = ? LIMIT 1",
    )
    .get(address)?.transfer_id;
}

function publishedNote(port: ClusterLedger): string | undefined {
  return port.newestPublished()?.note;
}
