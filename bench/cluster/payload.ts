/**
 * Payload replication benchmark: how long an upload waits for its encrypted chunks to be held by a
 * majority of online nodes (README "Payload replication and the upload quorum"). Four real peer
 * endpoints on 127.0.0.1 (three online nodes and the offline backup) over mutual TLS 1.3, each with its
 * own SQLite chunk store (WAL, synchronous=FULL: every put is an fsync); node1 replicates payloads of
 * each size one after another and the time to `replicate()` resolving (quorum of 2 online nodes holds
 * every chunk and the manifest) is measured. Beside it, in the same run, the same payloads stored only in
 * node1's own chunk store (what a single node pays for durability).
 *
 *   npm run bench:cluster:payload   (PAYLOAD_BENCH_SIZES_KIB=256,4096 PAYLOAD_BENCH_COUNT=40)
 *
 * Benchmarks are not tests: nothing here asserts on time. On a shared 2-core machine the four endpoints
 * and the client compete for CPU, so the figures are pessimistic.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import "reflect-metadata";
import { createPayloadReplication } from "../../src/cluster/payload-replication.js";
import { createPeerClient } from "../../src/cluster/peer/peer-client.js";
import { startPeerServer, type RunningPeerServer } from "../../src/cluster/peer/peer-server.js";
import { createCertificateAuthority, createCrl, issueNodeCertificate } from "../../src/crypto/pki/index.js";
import { chunkAddress, openChunkStore, type ChunkStore } from "../../src/store/chunk-store.js";

const SIZES_KIB = (process.env["PAYLOAD_BENCH_SIZES_KIB"] ?? "256,4096").split(",").map(Number);
const COUNT = Number(process.env["PAYLOAD_BENCH_COUNT"] ?? 40);
/** Stored chunk size of the payload store (payload-store.ts DEFAULT_CHUNK_BYTES) plus nonce and tag. */
const CHUNK = 256 * 1024 + 28;
const NODES = ["node1", "node2", "node3", "backup"] as const;

const dir = mkdtempSync(join(tmpdir(), "kenshin-bench-payload-"));

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

function blobsOf(bytes: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < bytes; at += CHUNK)
    out.push(new Uint8Array(randomBytes(Math.min(CHUNK, bytes - at))));
  return out;
}

async function main(): Promise<void> {
  const now = new Date();
  const ca = await createCertificateAuthority({ commonName: "bench CA", now, validityDays: 2 });
  const crlPem = await createCrl(ca, { revoked: [], now, nextUpdateDays: 1 });
  const stores = new Map<string, ChunkStore>();
  const servers = new Map<string, RunningPeerServer>();
  const certs = new Map<string, { certPem: string; keyPem: string }>();
  for (const name of NODES) {
    const cert = await issueNodeCertificate(ca, {
      nodeName: name,
      hostNames: ["127.0.0.1"],
      now,
      validityDays: 2,
    });
    certs.set(name, cert);
    const store = openChunkStore(join(dir, `${name}.db`));
    stores.set(name, store);
    servers.set(
      name,
      await startPeerServer({
        tls: { caCertPem: ca.certPem, certPem: cert.certPem, keyPem: cert.keyPem, crlPem },
        peers: NODES.filter((n) => n !== name),
        chunks: store,
      }),
    );
  }
  const endpoint = (name: string) => ({ name, url: servers.get(name)?.url ?? "" });
  const own = certs.get("node1") ?? { certPem: "", keyPem: "" };
  const client = createPeerClient({ tls: { caCertPem: ca.certPem, ...own } });
  const local = stores.get("node1");
  if (local === undefined) throw new Error("no store");
  const replication = createPayloadReplication({
    self: "node1",
    chunks: local,
    client,
    online: [endpoint("node2"), endpoint("node3")],
    offline: [endpoint("backup")],
  });
  const localOnly = openChunkStore(join(dir, "local-only.db"));

  console.log(
    `payload replication, ${COUNT} payloads per size, 3 online nodes + backup on 127.0.0.1 (mTLS 1.3)`,
  );
  console.log("size KiB | chunks | quorum ack p50 ms | p99 ms | MB/s | local fsync only p50 ms | p99 ms");
  for (const kib of SIZES_KIB) {
    const replicated: number[] = [];
    const alone: number[] = [];
    let chunks = 0;
    const started = performance.now();
    for (let i = 0; i < COUNT; i++) {
      const blobs = blobsOf(kib * 1024);
      chunks = blobs.length;
      const t0 = performance.now();
      await replication.replicate({ transfer: `tr_bench_${kib}_${i}`, kind: "standard" }, blobs);
      replicated.push(performance.now() - t0);
      const again = blobsOf(kib * 1024);
      const t1 = performance.now();
      for (const b of again) localOnly.put(chunkAddress(b), b);
      alone.push(performance.now() - t1);
    }
    const seconds = (performance.now() - started) / 1000;
    replicated.sort((a, b) => a - b);
    alone.sort((a, b) => a - b);
    const mbps = (COUNT * kib) / 1024 / seconds;
    console.log(
      `${kib} | ${chunks} | ${percentile(replicated, 50).toFixed(1)} | ${percentile(replicated, 99).toFixed(1)} | ` +
        `${mbps.toFixed(1)} | ${percentile(alone, 50).toFixed(1)} | ${percentile(alone, 99).toFixed(1)}`,
    );
  }
  client.close();
  localOnly.close();
  await Promise.all([...servers.values()].map((s) => s.close()));
  for (const s of stores.values()) s.close();
}

main()
  .catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(() => {
    rmSync(dir, { recursive: true, force: true });
  });
