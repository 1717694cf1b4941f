/**
 * Nodes with independent copies for the integrity tests: each node has its own ledger.db, service.db
 * and chunks.db in a temp dir, fed the same operations in the same order (as the replicated command log
 * feeds them), so the copies are byte-for-byte equal without one being a copy of another. Transfers go
 * through upload → conversion → send → download → receipt with service rows written the way
 * `service/transfers/` writes them and one encrypted-looking payload chunk each. Checkpoints are
 * log-signed by every node and cosigned through the integrity guard, then published with a quorum.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { addCosignatureLines, type CosignerState } from "../../src/cluster/checkpoint-cosigner.js";
import { cosignAfterCheck } from "../../src/cluster/integrity/cosign-guard.js";
import { EntryWatch } from "../../src/cluster/integrity/entry-watch.js";
import { NodeHealth } from "../../src/cluster/integrity/node-health.js";
import type { RecordInput } from "../../src/ledger/entry/operation-record.js";
import { recordsCommitment } from "../../src/ledger/entry/records-commitment.js";
import { Ledger } from "../../src/ledger/ledger.js";
import type { AppendRequest } from "../../src/ledger/sequencer.js";
import {
  openPublishedCheckpoint,
  type CosignerPolicy,
} from "../../src/ledger/verify/published-checkpoint.js";
import type { Checkpoint } from "../../src/ledger/verify/checkpoint.js";
import { openChunkStore, chunkAddress, type ChunkStore } from "../../src/store/chunk-store.js";
import { openServiceDb, type ServiceDb } from "../../src/store/service-db.js";
import { createSqliteLog, openSqliteLog } from "../../src/store/sqlite-log.js";
import { openLogRepairAccess, type LogRepairAccess } from "../../src/store/sqlite-log-repair.js";
import { cosigningFixture, type CosigningFixture } from "./cosigning-fixture.js";

export interface TestNode {
  readonly name: string;
  readonly index: number;
  readonly dir: string;
  readonly ledgerPath: string;
  ledger: Ledger;
  access: LogRepairAccess;
  readonly db: ServiceDb;
  readonly chunks: ChunkStore;
  readonly health: NodeHealth;
  watch: EntryWatch;
  last: CosignerState | undefined;
}

export interface IntegrityCluster {
  readonly f: CosigningFixture;
  readonly nodes: TestNode[];
  readonly policy: CosignerPolicy;
  /** chunk address → transfer */
  readonly chunkOwners: Map<string, string>;
  /** The latest published note and its checkpoint. */
  published: { note: string; checkpoint: Checkpoint } | undefined;
  append(requests: readonly AppendRequest[], rows?: (db: ServiceDb) => void): Promise<void>;
  /** Runs one transfer through every step on every node. */
  transfer(n: number): Promise<string>;
  /** Transfers first … first + count - 1, every step, appended as one batch per node (benchmarks). */
  transferBatch(first: number, count: number): Promise<void>;
  /** Every node signs and cosigns its own checkpoint; published once a quorum agrees. */
  publish(): string;
  /** Reopens a node's ledger (after its file was edited or repaired underneath). */
  reopen(node: TestNode): void;
  close(): void;
}

const T = "2026-12-01T09:00:00.000Z";
const SENDER = "1310000001";
const RECEIVER = "INS-RECV-1";

export function sha(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

function common(n: number, role: "sender" | "receiver") {
  return {
    time: T,
    actor: { id: role === "sender" ? "clinic-user" : "insurer-user", role },
    institution: role === "sender" ? SENDER : RECEIVER,
    outcome: "success" as const,
    source: { observer: "node1" },
    requestId: `req-${n}`,
  };
}

export function transferId(n: number): string {
  return `tr_${String(n).padStart(6, "0")}`;
}

/** The five entries of transfer n: upload, conversion, send, download, receipt. */
function transferRecords(n: number): { id: string; requests: AppendRequest[] } {
  const id = transferId(n);
  const original = sha(`original ${n}`);
  const standard = sha(`standard ${n}`);
  const recordHashes = [sha(`record ${n}.1`), sha(`record ${n}.2`)];
  const file = { sha256: standard, bytes: 500 + n };
  const records: RecordInput[] = [
    {
      ...common(n, "sender"),
      type: "upload",
      transfer: id,
      receiver: RECEIVER,
      file: { sha256: original, bytes: 1000 + n },
    },
    {
      ...common(n, "sender"),
      type: "conversion",
      transfer: id,
      input: { sha256: original, bytes: 1000 + n },
      output: file,
      records: recordsCommitment(recordHashes),
      rejected: 0,
      mapping: { id: "map-1", version: "0123456789abcdef" },
    },
    { ...common(n, "sender"), type: "send", transfer: id, receiver: RECEIVER, file },
    { ...common(n, "receiver"), type: "download", transfer: id, file, format: "csv" },
    { ...common(n, "receiver"), type: "receipt", transfer: id, file },
  ];
  return {
    id,
    requests: records.map((record, i) => (i === 1 ? { record, recordHashes } : { record })),
  };
}

/** The payload chunk of transfer n (stands for AES-GCM ciphertext: the store never opens it). */
export function chunkOf(n: number): Uint8Array {
  return new Uint8Array(createHash("sha512").update(`ciphertext ${n}`).digest());
}

export function makeIntegrityCluster(o: { nodes?: number } = {}): IntegrityCluster {
  const f = cosigningFixture();
  const count = o.nodes ?? 3;
  const nodes: TestNode[] = [];
  for (let i = 0; i < count; i++) {
    const dir = mkdtempSync(join(tmpdir(), `kenshin-integrity-${i}-`));
    const ledgerPath = join(dir, "ledger.db");
    const ledger = new Ledger({
      storage: createSqliteLog({
        path: ledgerPath,
        origin: f.logSigner.name,
        verifierKey: f.logSigner.verifierKey,
      }),
    });
    const db = openServiceDb(join(dir, "service.db"), { create: true });
    db.prepare("INSERT INTO institutions (id, kind, name, created_at) VALUES (?, 'sender', 'clinic', ?)").run(
      SENDER,
      T,
    );
    db.prepare(
      "INSERT INTO institutions (id, kind, name, created_at) VALUES (?, 'receiver', 'insurer', ?)",
    ).run(RECEIVER, T);
    nodes.push({
      name: `node${i + 1}`,
      index: i,
      dir,
      ledgerPath,
      ledger,
      access: openLogRepairAccess(ledgerPath),
      db,
      chunks: openChunkStore(join(dir, "chunks.db")),
      health: new NodeHealth({ now: () => new Date() }),
      watch: new EntryWatch({ storage: ledger.storage }),
      last: undefined,
    });
  }
  const policy: CosignerPolicy = { cosigners: f.cosignerKeys.slice(0, Math.min(3, count)), quorum: 2 };
  const chunkOwners = new Map<string, string>();
  const insertRow = (db: ServiceDb, n: number): void => {
    db.prepare(
      `INSERT INTO transfers (id, sender_id, receiver_id, status, mapping_id, original_sha256, original_bytes,
        standard_sha256, standard_bytes, records, rows_rejected, report_json, created_at, delete_after)
       VALUES (?, ?, ?, 'converted', 'map-1', ?, ?, ?, ?, 2, 0, '{}', ?, ?)`,
    ).run(
      transferId(n),
      SENDER,
      RECEIVER,
      sha(`original ${n}`),
      1000 + n,
      sha(`standard ${n}`),
      500 + n,
      T,
      T,
    );
  };
  const storeChunk = (n: number): void => {
    const chunk = chunkOf(n);
    chunkOwners.set(chunkAddress(chunk), transferId(n));
    for (const node of nodes) node.chunks.put(chunkAddress(chunk), chunk);
  };

  const cluster: IntegrityCluster = {
    f,
    nodes,
    policy,
    chunkOwners,
    published: undefined,
    async append(requests, rows) {
      for (const node of nodes) {
        await node.ledger.append(requests);
        rows?.(node.db);
      }
    },
    async transfer(n) {
      const t = transferRecords(n);
      await cluster.append(t.requests.slice(0, 2), (db) => {
        insertRow(db, n);
      });
      storeChunk(n);
      for (const [i, status] of (["sent", "downloaded", "received"] as const).entries()) {
        await cluster.append([t.requests[2 + i] as AppendRequest], (db) => {
          db.prepare("UPDATE transfers SET status = ? WHERE id = ?").run(status, t.id);
        });
      }
      return t.id;
    },
    async transferBatch(first, count) {
      const requests: AppendRequest[] = [];
      for (let n = first; n < first + count; n++) requests.push(...transferRecords(n).requests);
      await cluster.append(requests, (db) => {
        db.transaction(() => {
          for (let n = first; n < first + count; n++) {
            insertRow(db, n);
            db.prepare("UPDATE transfers SET status = 'received' WHERE id = ?").run(transferId(n));
          }
        })();
      });
      for (let n = first; n < first + count; n++) storeChunk(n);
    },
    publish() {
      const signed = nodes.map((node) => {
        try {
          return node.ledger.signCheckpoint(f.logSigner).note;
        } catch {
          return undefined;
        }
      });
      const votes = new Map<string, number>();
      for (const s of signed) if (s !== undefined) votes.set(s, (votes.get(s) ?? 0) + 1);
      const note = [...votes.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
      if (note === undefined) throw new Error("no node could sign");
      const lines: string[] = [];
      for (const node of nodes.slice(0, 3)) {
        const own = signed[node.index];
        if (own === undefined) continue;
        try {
          const cosigned = cosignAfterCheck({
            note: own,
            logKey: f.logKey,
            cosigner: f.cosigner(node.index),
            last: node.last,
            watch: node.watch,
            health: node.health,
            storedSize: node.ledger.storage.size(),
          });
          node.last = cosigned.state;
          if (own === note) lines.push(cosigned.line);
        } catch {
          // A node that refuses (quarantined, or its copy failed the check) does not cosign.
        }
      }
      const published = addCosignatureLines(note, lines);
      const opened = openPublishedCheckpoint(published, f.logKey, policy);
      cluster.published = { note: published, checkpoint: opened.checkpoint };
      return published;
    },
    reopen(node) {
      node.ledger.close();
      node.access.close();
      node.ledger = new Ledger({ storage: openSqliteLog(node.ledgerPath) });
      node.access = openLogRepairAccess(node.ledgerPath);
      node.watch = new EntryWatch({ storage: node.ledger.storage });
    },
    close() {
      for (const node of nodes) {
        node.ledger.close();
        node.access.close();
        node.db.close();
        node.chunks.close();
        rmSync(node.dir, { recursive: true, force: true });
      }
    },
  };
  return cluster;
}
