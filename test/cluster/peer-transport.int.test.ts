/**
 * Node identity and the peer payload transport over real mutual TLS 1.3: node certificates from a CA
 * made at test start, real peer endpoints on 127.0.0.1 with real SQLite chunk stores, and a hostile peer
 * (a real TLS server holding a node certificate) that answers with other bytes.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import "reflect-metadata";
import { createPeerClient, type PeerClient, type PeerEndpoint } from "../../src/cluster/peer/peer-client.js";
import { chunkPath } from "../../src/cluster/peer/peer-routes.js";
import { startPeerServer, type RunningPeerServer } from "../../src/cluster/peer/peer-server.js";
import { isCodedError } from "../../src/coded-error.js";
import {
  createCertificateAuthority,
  createCrl,
  issueClientCertificate,
  issueNodeCertificate,
  nodeIdentity,
  peerIdentity,
  tlsServerOptions,
  type CaMaterial,
  type IssuedCertificate,
} from "../../src/crypto/pki/index.js";
import { x509 } from "../../src/crypto/pki/x509-provider.js";
import { chunkAddress, openChunkStore, type ChunkStore } from "../../src/store/chunk-store.js";

const NODES = ["node1", "node2", "node3", "backup"] as const;
type NodeName = (typeof NODES)[number];

let dir: string;
let ca: CaMaterial;
let crlPem: string;
const certs = {} as Record<NodeName, IssuedCertificate>;
const stores = {} as Record<NodeName, ChunkStore>;
const servers = {} as Partial<Record<NodeName, RunningPeerServer>>;
const clients: PeerClient[] = [];

function endpoint(name: NodeName): PeerEndpoint {
  const s = servers[name];
  if (s === undefined) throw new Error(`${name} not running`);
  return { name, url: s.url };
}

function clientOf(name: NodeName, extra: { rounds?: number; pauseMs?: number; timeoutMs?: number } = {}) {
  const c = createPeerClient({
    tls: { caCertPem: ca.certPem, certPem: certs[name].certPem, keyPem: certs[name].keyPem },
    rounds: 2,
    pauseMs: 50,
    timeoutMs: 3000,
    ...extra,
  });
  clients.push(c);
  return c;
}

async function caught(p: Promise<unknown>): Promise<{ code: string; context: Record<string, unknown> }> {
  try {
    await p;
  } catch (error) {
    if (isCodedError(error)) return { code: error.code, context: { ...error.context } };
    throw error;
  }
  throw new Error("expected a coded error");
}

/** A raw HTTPS request to a peer endpoint with any certificate. */
function rawRequest(
  url: string,
  o: { method: string; path: string; cert?: IssuedCertificate; caPem?: string; body?: Uint8Array },
): Promise<{ status: number; code?: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      new URL(o.path, url),
      {
        method: o.method,
        ca: o.caPem ?? ca.certPem,
        ...(o.cert === undefined ? {} : { cert: o.cert.certPem, key: o.cert.keyPem }),
        agent: false,
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (text += d));
        res.on("end", () => {
          let code: string | undefined;
          try {
            code = (JSON.parse(text) as { code?: string }).code;
          } catch {
            code = undefined;
          }
          resolve({ status: res.statusCode ?? 0, ...(code === undefined ? {} : { code }) });
        });
      },
    );
    req.on("error", reject);
    req.end(o.body);
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "kenshin-peer-"));
  const now = new Date();
  ca = await createCertificateAuthority({ commonName: "kenshin cluster test CA", now, validityDays: 30 });
  crlPem = await createCrl(ca, { revoked: [], now, nextUpdateDays: 1 });
  for (const name of NODES) {
    certs[name] = await issueNodeCertificate(ca, {
      nodeName: name,
      hostNames: ["127.0.0.1"],
      now,
      validityDays: 30,
    });
    stores[name] = openChunkStore(join(dir, `${name}-chunks.db`));
  }
  // node3 only calls (its endpoint is started later in one test); the backup accepts and serves.
  for (const name of ["node1", "node2", "backup"] as const) {
    servers[name] = await startPeerServer({
      tls: { caCertPem: ca.certPem, certPem: certs[name].certPem, keyPem: certs[name].keyPem, crlPem },
      peers: NODES.filter((n) => n !== name),
      chunks: stores[name],
    });
  }
});

afterAll(async () => {
  for (const c of clients) c.close();
  await Promise.all(Object.values(servers).map((s) => s.close()));
  for (const name of NODES) stores[name].close();
  rmSync(dir, { recursive: true, force: true });
});

describe("node certificates", () => {
  it("carry the node name in a SAN URI, the host names, and both serverAuth and clientAuth", () => {
    const cert = new x509.X509Certificate(certs.node2.certPem);
    const san = cert.getExtension(x509.SubjectAlternativeNameExtension)?.names.items ?? [];
    expect(san.map((n) => [n.type, n.value])).toEqual([
      ["url", "urn:kenshin:node:node2"],
      ["ip", "127.0.0.1"],
    ]);
    expect(cert.getExtension(x509.ExtendedKeyUsageExtension)?.usages).toEqual([
      x509.ExtendedKeyUsage.serverAuth,
      x509.ExtendedKeyUsage.clientAuth,
    ]);
    const raw = { raw: Buffer.from(cert.rawData) } as unknown as Parameters<typeof nodeIdentity>[0];
    expect(nodeIdentity(raw)?.nodeName).toBe("node2");
    // A node certificate is not a user login.
    expect(peerIdentity(raw)).toBeUndefined();
  });

  it("refuse node names that are not lower-case letters, digits and inner '-'", async () => {
    for (const nodeName of ["", "Node1", "-a", "a b", "a".repeat(33), "node:1"]) {
      await expect(
        issueNodeCertificate(ca, { nodeName, hostNames: ["127.0.0.1"], now: new Date(), validityDays: 1 }),
      ).rejects.toMatchObject({ code: "PKI_OPTION_INVALID" });
    }
  });
});

describe("peer transport (mutual TLS, content-addressed chunks)", () => {
  it("pushes a chunk to peers, which store it durably and serve it to any other node", async () => {
    const bytes = new Uint8Array(randomBytes(100_000));
    const address = chunkAddress(bytes);
    const node1 = clientOf("node1");
    expect(await node1.pushChunk(endpoint("node2"), address, bytes)).toBe("stored");
    expect(await node1.pushChunk(endpoint("node2"), address, bytes)).toBe("held");
    expect(await node1.pushChunk(endpoint("backup"), address, bytes)).toBe("stored");
    expect(stores.node2.get(address)).toEqual(bytes);
    expect(stores.backup.get(address)).toEqual(bytes);
    const got = await clientOf("node3").fetchChunk(address, [endpoint("node1"), endpoint("node2")]);
    expect(got.from).toBe("node2");
    expect(got.bytes).toEqual(bytes);
    expect(got.outcomes.map((o) => o.code)).toEqual(["CLUSTER_CHUNK_NOT_FOUND", "OK"]);
  });

  it("refuses a pushed chunk whose bytes do not hash to its address (422, nothing stored)", async () => {
    const bytes = new Uint8Array(randomBytes(1000));
    const wrong = chunkAddress(new Uint8Array(randomBytes(1000)));
    const e = await caught(clientOf("node1").pushChunk(endpoint("node2"), wrong, bytes));
    expect(e.code).toBe("CLUSTER_CHUNK_HASH_MISMATCH");
    expect(stores.node2.has(wrong)).toBe(false);
  });

  it("refuses a chunk larger than the limit (413)", async () => {
    const small = await startPeerServer({
      tls: { caCertPem: ca.certPem, certPem: certs.node3.certPem, keyPem: certs.node3.keyPem, crlPem },
      peers: ["node1"],
      chunks: stores.node3,
      maxChunkBytes: 1024,
    });
    try {
      const bytes = new Uint8Array(randomBytes(2048));
      const e = await caught(
        clientOf("node1").pushChunk({ name: "node3", url: small.url }, chunkAddress(bytes), bytes),
      );
      expect(e.code).toBe("CLUSTER_CHUNK_TOO_LARGE");
      expect(stores.node3.count()).toBe(0);
    } finally {
      await small.close();
    }
  });

  it("a peer whose stored copy was edited answers 503 and the fetch goes on to the next peer", async () => {
    const bytes = new Uint8Array(randomBytes(4096));
    const address = chunkAddress(bytes);
    stores.node1.put(address, bytes);
    stores.node2.put(address, bytes);
    // Corrupt node1's copy in its SQLite file, behind the store's back.
    const raw = new Database(join(dir, "node1-chunks.db"));
    const bad = Buffer.from(bytes);
    bad[100] = (bad[100] ?? 0) ^ 0xff;
    raw.prepare("UPDATE chunks SET bytes = ? WHERE address = ?").run(bad, address);
    raw.close();
    const got = await clientOf("node3").fetchChunk(address, [endpoint("node1"), endpoint("node2")]);
    expect(got.from).toBe("node2");
    expect(got.bytes).toEqual(bytes);
    expect(got.outcomes[0]).toEqual({ peer: "node1", code: "CLUSTER_CHUNK_HASH_MISMATCH" });
  });

  it("checks every chunk on receipt: a peer that serves other bytes is refused (coded), never trusted", async () => {
    // A hostile node: a real TLS server with a valid node certificate that lies about content.
    const liar = https.createServer(
      tlsServerOptions({
        caCertPem: ca.certPem,
        certPem: certs.node3.certPem,
        keyPem: certs.node3.keyPem,
        crlPem,
      }),
      (_req, res) => {
        res.writeHead(200, { "content-type": "application/octet-stream" }).end(Buffer.from("not the chunk"));
      },
    );
    await new Promise<void>((resolve) => liar.listen(0, "127.0.0.1", resolve));
    try {
      const liarEndpoint = {
        name: "node3",
        url: `https://127.0.0.1:${(liar.address() as AddressInfo).port}`,
      };
      const bytes = new Uint8Array(randomBytes(512));
      const address = chunkAddress(bytes);
      const only = await caught(clientOf("node1").fetchChunk(address, [liarEndpoint]));
      expect(only.code).toBe("CLUSTER_CHUNK_HASH_MISMATCH");
      stores.backup.put(address, bytes);
      const got = await clientOf("node1").fetchChunk(address, [liarEndpoint, endpoint("backup")]);
      expect(got.from).toBe("backup");
      expect(got.bytes).toEqual(bytes);
    } finally {
      liar.closeAllConnections();
      await new Promise((resolve) => liar.close(resolve));
    }
  });

  it("answers only peer nodes: a user's client certificate gets 403, a foreign CA fails the handshake", async () => {
    const now = new Date();
    const user = await issueClientCertificate(ca, {
      loginId: "clinic-user",
      institutionId: "1310000001",
      institutionName: "テスト健診センター",
      now,
      validityDays: 1,
    });
    const url = endpoint("node2").url;
    const path = chunkPath("0".repeat(64));
    expect(await rawRequest(url, { method: "GET", path, cert: user })).toEqual({
      status: 403,
      code: "CLUSTER_PEER_IDENTITY_INVALID",
    });
    const other = await createCertificateAuthority({ commonName: "other CA", now, validityDays: 1 });
    const foreign = await issueNodeCertificate(other, {
      nodeName: "node1",
      hostNames: ["127.0.0.1"],
      now,
      validityDays: 1,
    });
    await expect(rawRequest(url, { method: "GET", path, cert: foreign })).rejects.toThrow();
    await expect(rawRequest(url, { method: "GET", path })).rejects.toThrow();
    // A node certificate whose name is not among this endpoint's peers.
    const stranger = await issueNodeCertificate(ca, {
      nodeName: "node9",
      hostNames: ["127.0.0.1"],
      now,
      validityDays: 1,
    });
    expect((await rawRequest(url, { method: "GET", path, cert: stranger })).code).toBe(
      "CLUSTER_PEER_IDENTITY_INVALID",
    );
    // Only the chunk resource exists (no route for keys or anything else).
    expect(
      (await rawRequest(url, { method: "GET", path: "/cluster/v1/kek", cert: certs.node1 })).status,
    ).toBe(404);
    expect((await rawRequest(url, { method: "DELETE", path, cert: certs.node1 })).status).toBe(405);
  });

  it("refuses to talk to a server whose certificate names another node than the one called", async () => {
    const bytes = new Uint8Array(randomBytes(64));
    const address = chunkAddress(bytes);
    stores.node2.put(address, bytes);
    // node2's endpoint called as if it were node1: its certificate says node2.
    const e = await caught(
      clientOf("node3").fetchChunk(address, [{ name: "node1", url: endpoint("node2").url }]),
    );
    expect(e.code).toBe("CLUSTER_PEER_UNREACHABLE");
  });

  it("gives up after the configured rounds when no peer answers (bounded), with each attempt reported", async () => {
    const down = { name: "node3", url: "https://127.0.0.1:1" };
    const e = await caught(clientOf("node1", { rounds: 3 }).fetchChunk("a".repeat(64), [down]));
    expect(e.code).toBe("CLUSTER_PEER_UNREACHABLE");
    expect(e.context.outcomes).toHaveLength(3);
    const missing = await caught(
      clientOf("node1").fetchChunk("b".repeat(64), [endpoint("node2"), endpoint("backup")]),
    );
    expect(missing.code).toBe("CLUSTER_CHUNK_NOT_FOUND");
  });

  it("pushToQuorum resolves once the required peers hold the chunk, with one peer down", async () => {
    const bytes = new Uint8Array(randomBytes(20_000));
    const address = chunkAddress(bytes);
    const down = { name: "node3", url: "https://127.0.0.1:1" };
    const push = await clientOf("node1").pushToQuorum(
      [endpoint("node2"), down, endpoint("backup")],
      address,
      bytes,
      2,
    );
    expect([...push.stored].sort()).toEqual(["backup", "node2"]);
    expect(stores.node2.has(address) && stores.backup.has(address)).toBe(true);
    const all = await push.all;
    expect(all.find((o) => o.peer === "node3")?.code).toBe("CLUSTER_PEER_UNREACHABLE");
    const e = await caught(clientOf("node1").pushToQuorum([endpoint("node2"), down], address, bytes, 2));
    expect(e.code).toBe("CLUSTER_UNAVAILABLE");
  });
});
