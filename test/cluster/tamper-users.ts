/**
 * Users of the whole replicated service while one node's files are damaged under it
 * (service-tamper-kinds, service-tamper-sequencer): a sender uploads and sends and a receiver downloads
 * through haproxy in a loop, asking again only what a node refused unprocessed for a moment; and who
 * holds the sequencer election, read from etcd.
 */
import { Etcd3 } from "etcd3";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { errorCode, type ApiClient, type ApiResponse } from "../../src/client/api-client.js";
import { downloadStandard, uploadExport } from "../../src/client/transfer-client.js";
import { etcdClientUrl } from "../../src/cluster/cluster-topology.js";
import { waitFor } from "../../src/cluster/processes/wait.js";
import { sha256Hex, type ServiceCluster } from "../support/service-cluster.js";
import { transportCode } from "../support/tamper-checks.js";
import { EXAMPLE_DIR } from "../support/test-node.js";

/**
 * Answers a node gives while it (or the transfer) is out of service for a moment: asked again. The
 * victim's own request path can meet the damage before its rolling check does (INTEGRITY_FAILURE: the
 * transfer's entries do not verify there; nothing is served) — counted, and asked again. So is a 409
 * ENVELOPE_CHANNEL_INVALID that outlived the client's own one fresh agreement: the key agreement and
 * the body reached different nodes twice, as the victim left and rejoined haproxy.
 */
const RETRYABLE = new Set([
  "CLUSTER_QUARANTINED",
  "TRANSFER_REPAIRING",
  "CLUSTER_UNAVAILABLE",
  "INTEGRITY_FAILURE",
]);

/** Sends `call` again (bounded) while it meets a retryable 503 or a connection cut by a quarantine. */
async function retrying<T>(
  what: string,
  retried: Map<string, number>,
  call: () => Promise<T>,
  refused: (t: T) => ApiResponse | undefined,
): Promise<T> {
  for (let attempt = 0; attempt < 120; attempt++) {
    let result: T;
    try {
      result = await call();
    } catch (error) {
      if (attempt < 119 && /ECONN|EPIPE|socket|TLS/i.test(transportCode(error))) {
        await sleep(250);
        continue;
      }
      throw error;
    }
    const r = refused(result);
    const code = r === undefined ? undefined : errorCode(r);
    const again =
      r !== undefined &&
      code !== undefined &&
      ((r.status === 503 && RETRYABLE.has(code)) ||
        (r.status === 409 && code === "ENVELOPE_CHANNEL_INVALID"));
    if (!again) return result;
    retried.set(code, (retried.get(code) ?? 0) + 1);
    await sleep(250);
  }
  throw new Error(`${what}: still refused after 120 attempts`);
}

export interface Users {
  /** Every download's transfer and the SHA-256 of what was received. */
  readonly downloads: { id: string; sha: string }[];
  /** Transfers uploaded (201: acknowledged), sent and downloaded, in order. */
  readonly completed: string[];
  /** Transfers whose upload was acknowledged (201), in order. */
  readonly acknowledged: string[];
  readonly failures: string[];
  /** What was asked again, by code. */
  readonly retried: Map<string, number>;
  stop(): Promise<void>;
}

/** Uploads, sends and downloads through haproxy until stopped. */
export function startUsers(sender: ApiClient, receiver: ApiClient, receiverId: string): Users {
  const body = readFileSync(join(EXAMPLE_DIR, "export.csv"));
  const users = {
    downloads: [] as { id: string; sha: string }[],
    completed: [] as string[],
    acknowledged: [] as string[],
    failures: [] as string[],
    retried: new Map<string, number>(),
  };
  const run = { on: true };
  const loop = (async () => {
    while (run.on) {
      try {
        const up = await retrying(
          "upload",
          users.retried,
          () => uploadExport(sender, receiverId, body),
          (r) => r,
        );
        if (up.status !== 201) {
          users.failures.push(`upload ${up.status} ${errorCode(up) ?? ""}`);
          continue;
        }
        const id = (up.json as { transfer: { id: string } }).transfer.id;
        users.acknowledged.push(id);
        const sent = await retrying(
          "send",
          users.retried,
          () => sender.post(`/api/v1/transfers/${id}/send`),
          (r) => r,
        );
        if (sent.status !== 200) {
          users.failures.push(`send ${sent.status} ${errorCode(sent) ?? ""}`);
          continue;
        }
        const got = await retrying(
          "download",
          users.retried,
          () => downloadStandard(receiver, id),
          (g) => ("refused" in g ? g.refused : undefined),
        );
        if ("refused" in got) {
          users.failures.push(`download ${got.refused.status} ${errorCode(got.refused) ?? ""}`);
        } else {
          users.downloads.push({ id, sha: sha256Hex(got.bytes) });
          users.completed.push(id);
        }
      } catch (error) {
        users.failures.push(transportCode(error));
      }
      await sleep(300);
    }
  })();
  return {
    ...users,
    async stop() {
      run.on = false;
      await loop;
    },
  };
}

/**
 * Logs in through haproxy, asked again (bounded) when the login itself was refused: right after the
 * cluster started on a busy machine a node may answer CLUSTER_UNAVAILABLE while its etcd client's
 * circuit breaker is open. (A failure after the login succeeded fails the next attempt's login.)
 */
export async function loginRetrying(
  loggedIn: (role: "sender" | "receiver") => Promise<ApiClient>,
  role: "sender" | "receiver",
): Promise<ApiClient> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await loggedIn(role);
    } catch (error) {
      if (attempt >= 10) throw error;
      await sleep(2000);
    }
  }
}

/** The node holding the sequencer election, read from etcd (through node1's member). */
export async function sequencerOf(c: ServiceCluster, names: readonly string[]): Promise<string> {
  const node = c.topology.nodes.find((n) => n.name === "node1");
  if (node === undefined) throw new Error("no node1");
  const e = new Etcd3({ hosts: [etcdClientUrl(node)], dialTimeout: 2000 });
  try {
    return await waitFor(
      async () => {
        const leader = await e
          .election(`${c.topology.prefix}election`)
          .leader()
          .catch(() => undefined);
        return leader !== undefined && names.includes(leader) ? leader : undefined;
      },
      { what: "a sequencer", timeoutMs: 30_000, intervalMs: 250 },
    );
  } finally {
    e.close();
  }
}

/** The names standing in the sequencer election now (the values of its candidates' keys). */
export async function candidatesOf(c: ServiceCluster): Promise<string[]> {
  const node = c.topology.nodes.find((n) => n.name === "node1");
  if (node === undefined) throw new Error("no node1");
  const e = new Etcd3({ hosts: [etcdClientUrl(node)], dialTimeout: 2000 });
  try {
    const kvs = await e.getAll().prefix(`election/${c.topology.prefix}election/`).strings();
    return Object.values(kvs).sort();
  } finally {
    e.close();
  }
}
