/**
 * A burst of uploads and sends through the whole service (test/support/service-cluster.ts) and the
 * checks every kill test makes afterwards. Each operation's outcome is what the client saw:
 *
 * - `acked`: a 2xx — it must be on every node, once, with its hashes;
 * - `refused`: an HTTP answer that is not 2xx (a coded error) — it must have changed nothing;
 * - `unknown`: no answer (the connection died with the node) — it may or may not have happened, and
 *   the checks allow it either way, but no more such traces than there were such attempts.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { expect } from "vitest";
import type { ApiClient, ApiDeviceKey } from "../../src/client/api-client.js";
import { downloadStandard, uploadExport } from "../../src/client/transfer-client.js";
import { fsck } from "../../src/ledger/fsck.js";
import { parseVerifierKey } from "../../src/ledger/verify/verifier-key.js";
import { openSqliteLog } from "../../src/store/sqlite-log.js";
import { sha256Hex, type ServiceCluster } from "./service-cluster.js";
import { EXAMPLE_DIR } from "./test-node.js";

export const ALL_NODES = ["node1", "node2", "node3", "backup"] as const;
export const ONLINE_NODES = ["node1", "node2", "node3"] as const;

type Outcome = "acked" | "refused" | "unknown";

async function outcomeOf(
  op: () => Promise<{ status: number; json?: unknown }>,
): Promise<{ outcome: Outcome; json?: unknown }> {
  try {
    const r = await op();
    if (r.status >= 200 && r.status < 300) return { outcome: "acked", json: r.json };
    return { outcome: "refused" };
  } catch {
    return { outcome: "unknown" };
  }
}

/** What a burst did, as the clients saw it. */
export interface BurstRecord {
  /** Transfers whose upload was acknowledged, in order. */
  readonly uploaded: string[];
  /** Acknowledged uploads whose send was acknowledged. */
  readonly sent: Set<string>;
  /** Acknowledged uploads whose send got no answer (may or may not be sent). */
  readonly sendUnknown: Set<string>;
  /** Uploads that got no answer. */
  unknownUploads: number;
  /** Uploads and sends refused with a coded error (nothing may have changed). */
  refused: number;
}

export function emptyBurst(): BurstRecord {
  return { uploaded: [], sent: new Set(), sendUnknown: new Set(), unknownUploads: 0, refused: 0 };
}

/**
 * `workers` clients each upload then send, over and over, until `untilMs` passed (and at least one round
 * each); `during` runs once the first round is acknowledged (the kill), concurrently with the rest.
 */
export async function runBurst(o: {
  readonly clients: readonly ApiClient[];
  readonly receiverId: string;
  readonly untilMs: number;
  readonly record: BurstRecord;
  readonly during?: () => Promise<void>;
}): Promise<void> {
  const body = readFileSync(join(EXAMPLE_DIR, "export.csv"));
  const r = o.record;
  const end = Date.now() + o.untilMs;
  let started: () => void = () => undefined;
  const firstRound = new Promise<void>((resolve) => {
    started = resolve;
  });
  const worker = async (client: ApiClient): Promise<void> => {
    for (let round = 0; round === 0 || Date.now() < end; round++) {
      const up = await outcomeOf(() => uploadExport(client, o.receiverId, body));
      if (up.outcome === "unknown") r.unknownUploads++;
      if (up.outcome === "refused") r.refused++;
      if (up.outcome !== "acked") {
        await sleep(200);
        continue;
      }
      const id = (up.json as { transfer: { id: string } }).transfer.id;
      r.uploaded.push(id);
      const send = await outcomeOf(() => client.post(`/api/v1/transfers/${id}/send`));
      if (send.outcome === "acked") r.sent.add(id);
      else if (send.outcome === "unknown") r.sendUnknown.add(id);
      else r.refused++;
      started();
    }
  };
  const all = Promise.all(o.clients.map(worker));
  if (o.during !== undefined) {
    await Promise.race([firstRound, all]);
    await o.during();
  }
  await all;
}

interface Row {
  status: string;
  sha: string;
  chunks: string;
  keys: number;
}

function rowsOn(c: ServiceCluster, name: string, ids: readonly string[]): Record<string, Row | undefined> {
  return c.serviceDb(name, (db) => {
    const out: Record<string, Row | undefined> = {};
    for (const id of ids) {
      const t = db.prepare("SELECT status, standard_sha256 AS sha FROM transfers WHERE id = ?").get(id) as
        { status: string; sha: string } | undefined;
      if (t === undefined) {
        out[id] = undefined;
        continue;
      }
      const blobs = db
        .prepare(
          "SELECT nonce, ciphertext FROM payload_chunks WHERE transfer_id = ? AND kind = 'standard' ORDER BY seq",
        )
        .all(id) as { nonce: Buffer; ciphertext: Buffer }[];
      const keys = (
        db.prepare("SELECT count(*) AS n FROM transfer_keys WHERE transfer_id = ?").get(id) as { n: number }
      ).n;
      out[id] = {
        status: t.status,
        sha: t.sha,
        chunks: sha256Hex(Buffer.concat(blobs.flatMap((b) => [b.nonce, b.ciphertext]))),
        keys,
      };
    }
    return out;
  });
}

/** Every transfer id in a node's service.db. */
export function transferIds(c: ServiceCluster, name: string): Set<string> {
  return new Set(
    c.serviceDb(name, (db) =>
      (db.prepare("SELECT id FROM transfers").all() as { id: string }[]).map((t) => t.id),
    ),
  );
}

/**
 * After a burst: every node at the same log position; every acknowledged upload on every node, once,
 * with the same row, hash and ciphertext (each node's own copy), sent when its send was acknowledged,
 * not sent when it was refused; nothing of a refused operation anywhere, and no more unacknowledged
 * traces than attempts without an answer; every acknowledged upload downloads with its recorded hash
 * from each online node; the same tree on every node and fsck passing everywhere.
 */
export async function expectBurstKept(
  c: ServiceCluster,
  o: {
    readonly record: BurstRecord;
    /** Transfer ids that existed before the burst. */
    readonly before: ReadonlySet<string>;
    readonly receiver: { readonly deviceKey: ApiDeviceKey; readonly password: string };
  },
): Promise<void> {
  const r = o.record;
  await c.waitSamePosition(ALL_NODES);
  const rows = new Map<string, string>();
  for (const name of ALL_NODES) {
    const seen = rowsOn(c, name, r.uploaded);
    for (const id of r.uploaded) {
      const row = seen[id];
      expect([name, id, row === undefined]).toEqual([name, id, false]);
      if (r.sent.has(id)) expect([name, id, row?.status]).toEqual([name, id, "sent"]);
      else if (!r.sendUnknown.has(id)) expect([name, id, row?.status]).toEqual([name, id, "converted"]);
    }
    rows.set(name, JSON.stringify(seen));
    // Once each, and traces of unanswered uploads only, never more than there were.
    const extra = [...transferIds(c, name)].filter((id) => !o.before.has(id) && !r.uploaded.includes(id));
    expect([name, extra.length <= r.unknownUploads]).toEqual([name, true]);
  }
  // The same rows and ciphertext on all four nodes. A node that missed a payload's chunks (down, or the
  // burst outran it) fetches them from its peers after applying, so this converges (bounded wait).
  const agreeBy = Date.now() + 60_000;
  while (new Set(rows.values()).size !== 1 && Date.now() < agreeBy) {
    await sleep(500);
    for (const name of ALL_NODES) rows.set(name, JSON.stringify(rowsOn(c, name, r.uploaded)));
  }
  if (new Set(rows.values()).size !== 1) {
    const first = JSON.parse(rows.get("node1") ?? "{}") as Record<string, Row>;
    for (const name of ALL_NODES) {
      const seen = JSON.parse(rows.get(name) ?? "{}") as Record<string, Row>;
      for (const id of r.uploaded) {
        expect([name, id, seen[id]]).toEqual([name, id, first[id]]);
      }
    }
  }
  expect(new Set(r.uploaded).size).toBe(r.uploaded.length);
  // Each node holds the transfer's wrapped data key: it travels in the payload's manifest, so a node that
  // missed the chunks gets its key row with the fetch (part of the rows compared above).
  for (const name of ALL_NODES) {
    const seen = JSON.parse(rows.get(name) ?? "{}") as Record<string, Row>;
    for (const id of r.uploaded) expect([name, id, seen[id]?.keys]).toEqual([name, id, 1]);
  }

  const recorded = JSON.parse(rows.get("node1") ?? "{}") as Record<string, Row>;
  for (const name of ONLINE_NODES) {
    const direct = c.client("receiver", { node: name });
    direct.setDeviceKey(o.receiver.deviceKey);
    expect((await direct.login(c.account("receiver").loginId, o.receiver.password)).status).toBe(201);
    for (const id of r.uploaded) {
      if (recorded[id]?.status !== "sent") continue;
      const got = await downloadStandard(direct, id);
      if ("refused" in got) throw new Error(`${name} refused ${id}: ${got.refused.text}`);
      expect([name, id, sha256Hex(got.bytes)]).toEqual([name, id, recorded[id].sha]);
    }
  }

  const logKey = parseVerifierKey(readFileSync(c.files.logVerifierKey, "utf8").trim());
  await c.waitSamePosition(ALL_NODES);
  const heads = new Set<string>();
  for (const name of ALL_NODES) {
    const storage = openSqliteLog(join(c.files.nodeDir(name), "ledger.db"));
    try {
      expect([name, fsck(storage, logKey).ok]).toEqual([name, true]);
      heads.add(`${storage.size()}`);
    } finally {
      storage.close();
    }
  }
  expect(heads.size).toBe(1);
}
