/**
 * `kenshin cluster init` and `join`: the material a cluster needs before anything runs, made once by
 * the operator in a cluster directory and copied to each machine:
 *
 *   cluster.json                  the topology (cluster-topology.ts)
 *   ca/ca.cert.pem, ca.key.pem    the service CA: it signs users' client certificates, the nodes'
 *                                 server certificates and the node certificates of the peer transport
 *   log.vkey                      the log's verifier key (what verifiers pin, as for one node)
 *   cosigners.txt                 the witness verifier keys of the online nodes and the quorum
 *                                 (`kenshin verify --cosigner … --quorum`)
 *   haproxy.cfg, haproxy/check.pem  the frontend (TCP pass-through, HTTPS health checks, PROXY v2 headers)
 *   nodes/<name>/                 each node's data directory (copy it to that machine):
 *     config.json, cluster-node.json, ca/ca.cert.pem (+ ca.key.pem and crl.pem on online nodes),
 *     tls/server.*.pem (online), keys/ledger.key (online; the shared log key) and ledger.vkey,
 *     keys/kek.key (online only: the offline node never holds a KEK), keys/witness.key + .vkey (its own
 *     cosigner key), cluster/node.cert.pem + node.key.pem (its peer identity), etcd/etcd.conf.yml
 *
 * Online nodes share the CA, the log key and the KEK (any of them serves any user and decrypts any
 * payload); each node has its own witness key and node certificate. The databases are not made here:
 * each node builds its own service.db and ledger.db from the command log (an independent copy).
 * Secrets are written owner-only (0600) in owner-only directories.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { dirname, join } from "node:path";
import { writeKeyFile } from "../crypto/key-file.js";
import { generateNoteKey } from "../crypto/note-key.js";
import { createCosigner, createNoteSigner } from "../crypto/note-signer.js";
import { createCertificateAuthority, type CaMaterial } from "../crypto/pki/ca.js";
import { issueNodeCertificate, issueServerCertificate } from "../crypto/pki/certificates.js";
import { createCrl } from "../crypto/pki/crl.js";
import { dataPaths } from "../service/data-dir.js";
import { etcdMemberConfig } from "./etcd-member-config.js";
import { ClusterError } from "./errors.js";
import { haproxyConfig, writeCertKeyFile } from "./processes/haproxy.js";
import {
  etcdRole,
  nodeClusterConfig,
  onlineNodes,
  parseTopology,
  readTopology,
  type ClusterTopology,
  type NodeRole,
  type TopologyNode,
} from "./cluster-topology.js";

export interface ClusterFiles {
  readonly dir: string;
  readonly topology: string;
  readonly caCert: string;
  readonly caKey: string;
  readonly logVerifierKey: string;
  readonly sharedLogKey: string;
  readonly sharedKek: string;
  readonly cosigners: string;
  readonly haproxyConfig: string;
  readonly haproxyCheckPem: string;
  readonly haproxySocket: string;
  nodeDir(name: string): string;
}

export function clusterFiles(dir: string): ClusterFiles {
  return {
    dir,
    topology: join(dir, "cluster.json"),
    caCert: join(dir, "ca", "ca.cert.pem"),
    caKey: join(dir, "ca", "ca.key.pem"),
    logVerifierKey: join(dir, "log.vkey"),
    // Kept in the cluster directory so `join` can give a new online node the same keys.
    sharedLogKey: join(dir, "secrets", "ledger.key"),
    sharedKek: join(dir, "secrets", "kek.key"),
    cosigners: join(dir, "cosigners.txt"),
    haproxyConfig: join(dir, "haproxy.cfg"),
    haproxyCheckPem: join(dir, "haproxy", "check.pem"),
    haproxySocket: join(dir, "haproxy", "admin.sock"),
    nodeDir: (name) => join(dir, "nodes", name),
  };
}

/** Per-node files beyond the single-node data directory's. */
export function nodeFiles(nodeDir: string) {
  return {
    clusterConfig: join(nodeDir, "cluster-node.json"),
    nodeCert: join(nodeDir, "cluster", "node.cert.pem"),
    nodeKey: join(nodeDir, "cluster", "node.key.pem"),
    witnessKey: join(nodeDir, "keys", "witness.key"),
    witnessVerifierKey: join(nodeDir, "keys", "witness.vkey"),
    chunks: join(nodeDir, "chunks.db"),
    pending: join(nodeDir, "pending.db"),
    etcdConfig: join(nodeDir, "etcd", "etcd.conf.yml"),
    etcdData: join(nodeDir, "etcd", "data"),
  };
}

export interface InitClusterOptions {
  readonly dir: string;
  readonly online?: number;
  readonly offline?: number;
  readonly host?: string;
  /** Ports: the frontend at basePort, node i at basePort + 10·(i+1) + 0..3. */
  readonly basePort?: number;
  /** Explicit ports (the demo takes free ones); overrides basePort. */
  readonly ports?: { readonly frontend: number; readonly nodes: readonly number[][] };
  readonly prefix?: string;
  readonly now?: Date;
  readonly random?: (n: number) => Uint8Array;
}

const VALIDITY_DAYS = 397;

function writeSecret(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, text, { mode: 0o600, flag: "wx" });
}
function writePublic(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, text, { mode: 0o644 });
}

function nodeName(role: NodeRole, i: number): string {
  return role === "online" ? `node${i + 1}` : i === 0 ? "backup" : `backup${i + 1}`;
}

/**
 * Makes a new cluster directory. Refuses a directory that already holds a cluster.
 * @throws ClusterError CLUSTER_OPTION_INVALID
 */
export async function initCluster(o: InitClusterOptions): Promise<ClusterTopology> {
  const files = clusterFiles(o.dir);
  if (existsSync(files.topology)) {
    throw new ClusterError("CLUSTER_OPTION_INVALID", `クラスタ構成は既にあります: ${files.topology}`, {});
  }
  const online = o.online ?? 3;
  const offline = o.offline ?? 1;
  if (
    !Number.isInteger(online) ||
    online < 1 ||
    online > 7 ||
    !Number.isInteger(offline) ||
    offline < 0 ||
    offline > 3
  ) {
    throw new ClusterError(
      "CLUSTER_OPTION_INVALID",
      "オンラインノードは 1〜7、オフラインノードは 0〜3 です",
      {
        online,
        offline,
      },
    );
  }
  const host = o.host ?? "127.0.0.1";
  const base = o.basePort ?? 24000;
  const roles: NodeRole[] = [
    ...Array<NodeRole>(online).fill("online"),
    ...Array<NodeRole>(offline).fill("offline"),
  ];
  let onlineIndex = 0;
  let offlineIndex = 0;
  const nodes = roles.map((role, i): TopologyNode => {
    const p = o.ports?.nodes[i] ?? [0, 1, 2, 3, 4].map((k) => base + 10 * (i + 1) + k);
    const name = nodeName(role, role === "online" ? onlineIndex++ : offlineIndex++);
    return {
      name,
      role,
      host,
      ports: {
        ...(role === "online" ? { https: p[0] ?? 0 } : {}),
        ...(role === "online" && p[4] !== undefined ? { lastResort: p[4] } : {}),
        peer: p[1] ?? 0,
        etcdClient: p[2] ?? 0,
        etcdPeer: p[3] ?? 0,
      },
    };
  });
  const topology = parseTopology({
    version: 1,
    prefix: o.prefix ?? "kenshin/",
    etcdToken: `kenshin-${Buffer.from((o.random ?? randomBytes)(6)).toString("hex")}`,
    frontend: { host, port: o.ports?.frontend ?? base },
    nodes,
  });
  const now = o.now ?? new Date();
  const random = o.random ?? ((n: number) => new Uint8Array(randomBytes(n)));

  mkdirSync(o.dir, { recursive: true, mode: 0o700 });
  const ca = await createCertificateAuthority({
    commonName: "kenshin-exchange cluster CA",
    now,
    validityDays: 3650,
  });
  writeSecret(files.caKey, ca.keyPem);
  writePublic(files.caCert, ca.certPem);
  const logKey = generateNoteKey(`${topology.frontend.host}/kenshin-exchange/log`, random);
  mkdirSync(dirname(files.sharedLogKey), { recursive: true, mode: 0o700 });
  writeKeyFile(files.sharedLogKey, logKey);
  writePublic(files.logVerifierKey, `${createNoteSigner(logKey).verifierKey}\n`);
  writeSecret(files.sharedKek, `${Buffer.from(random(32)).toString("base64")}\n`);
  const check = await issueNodeCertificate(ca, {
    nodeName: "lb",
    hostNames: [host],
    now,
    validityDays: VALIDITY_DAYS,
  });
  mkdirSync(dirname(files.haproxyCheckPem), { recursive: true, mode: 0o700 });
  writeCertKeyFile(files.haproxyCheckPem, check);

  for (const n of topology.nodes) await writeNodeDir(files, topology, n, { ca, now, random, initial: "new" });
  writeTopologyFiles(files, topology);
  return topology;
}

/**
 * Adds a node's material to an existing cluster directory (the etcd member itself is added by the caller
 * through etcd's API, `addEtcdMember`). Online nodes get the shared log key and KEK; an offline node
 * neither.
 */
export async function joinCluster(o: {
  dir: string;
  name: string;
  role: NodeRole;
  host?: string;
  ports: readonly number[];
  now?: Date;
  random?: (n: number) => Uint8Array;
}): Promise<ClusterTopology> {
  const files = clusterFiles(o.dir);
  const before = readTopology(files.topology);
  const node: TopologyNode = {
    name: o.name,
    role: o.role,
    host: o.host ?? before.frontend.host,
    ports: {
      ...(o.role === "online" ? { https: o.ports[0] ?? 0 } : {}),
      ...(o.role === "online" && o.ports[4] !== undefined ? { lastResort: o.ports[4] } : {}),
      peer: o.ports[1] ?? 0,
      etcdClient: o.ports[2] ?? 0,
      etcdPeer: o.ports[3] ?? 0,
    },
  };
  const topology = parseTopology({ ...before, nodes: [...before.nodes, node] });
  const ca: CaMaterial = {
    certPem: readFileSync(files.caCert, "utf8"),
    keyPem: readFileSync(files.caKey, "utf8"),
  };
  await writeNodeDir(files, topology, node, {
    ca,
    now: o.now ?? new Date(),
    random: o.random ?? ((n: number) => new Uint8Array(randomBytes(n))),
    initial: "existing",
  });
  // Every node's view of its peers changes: rewrite each cluster-node.json (copy them out again).
  writeTopologyFiles(files, topology);
  return topology;
}

async function writeNodeDir(
  files: ClusterFiles,
  topology: ClusterTopology,
  n: TopologyNode,
  o: { ca: CaMaterial; now: Date; random: (n: number) => Uint8Array; initial: "new" | "existing" },
): Promise<void> {
  const dir = files.nodeDir(n.name);
  if (existsSync(dir)) {
    throw new ClusterError("CLUSTER_OPTION_INVALID", `ノードのディレクトリは既にあります: ${dir}`, {
      node: n.name,
    });
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const paths = dataPaths(dir);
  const nf = nodeFiles(dir);
  const hostNames = [...new Set([topology.frontend.host, n.host, "localhost"])];
  const from = proxyFrom(topology);
  writePublic(
    paths.config,
    `${JSON.stringify(
      {
        nodeName: n.name,
        hostNames,
        listen: {
          host: n.host,
          port: n.ports.https ?? 0,
          ...(n.ports.lastResort !== undefined ? { lastResortPort: n.ports.lastResort } : {}),
        },
        // haproxy's connections to the node come from the frontend's address, each opened with a PROXY
        // v2 header naming the user (processes/haproxy.ts, server/proxy-protocol-listener.ts).
        proxy: { trusted: from !== undefined ? [from] : [] },
      },
      null,
      2,
    )}\n`,
  );
  writePublic(paths.caCert, o.ca.certPem);
  writePublic(paths.ledgerVerifierKey, readFileSync(files.logVerifierKey, "utf8"));
  if (n.role === "online") {
    writeSecret(paths.caKey, o.ca.keyPem);
    writePublic(paths.crl, await createCrl(o.ca, { revoked: [], now: o.now, nextUpdateDays: 7 }));
    const server = await issueServerCertificate(o.ca, { hostNames, now: o.now, validityDays: VALIDITY_DAYS });
    writeSecret(paths.serverKey, server.keyPem);
    writePublic(paths.serverCert, server.certPem);
    writeSecret(paths.ledgerKey, readFileSync(files.sharedLogKey, "utf8"));
    writeSecret(paths.kek, readFileSync(files.sharedKek, "utf8"));
  } else {
    writePublic(paths.crl, await createCrl(o.ca, { revoked: [], now: o.now, nextUpdateDays: 7 }));
  }
  const witness = generateNoteKey(`${topology.frontend.host}/kenshin-exchange/witness/${n.name}`, o.random);
  mkdirSync(dirname(nf.witnessKey), { recursive: true, mode: 0o700 });
  writeKeyFile(nf.witnessKey, witness);
  writePublic(nf.witnessVerifierKey, `${createCosigner(witness, () => o.now.getTime()).verifierKey}\n`);
  const cert = await issueNodeCertificate(o.ca, {
    nodeName: n.name,
    hostNames: [n.host],
    now: o.now,
    validityDays: VALIDITY_DAYS,
  });
  writeSecret(nf.nodeKey, cert.keyPem);
  writePublic(nf.nodeCert, cert.certPem);
  // A watcher (second offline node) runs no etcd member.
  if (etcdRole(topology, n.name) !== "watcher") {
    writePublic(
      nf.etcdConfig,
      etcdMemberConfig(topology, n.name, { dataDir: nf.etcdData, initialState: o.initial }),
    );
  }
}

/**
 * The address haproxy opens its connections to the nodes from, with PROXY v2 headers, and that the
 * nodes trust for them: the frontend's, when it is an IP address (a host name could resolve to several,
 * or differently on each machine; then no PROXY header is sent or trusted).
 */
function proxyFrom(topology: ClusterTopology): string | undefined {
  return isIP(topology.frontend.host) !== 0 ? topology.frontend.host : undefined;
}

/** Rewrites what depends on the whole topology: cluster.json, each cluster-node.json, cosigners, haproxy. */
function writeTopologyFiles(files: ClusterFiles, topology: ClusterTopology): void {
  writePublic(files.topology, `${JSON.stringify(topology, null, 2)}\n`);
  for (const n of topology.nodes) {
    writePublic(
      nodeFiles(files.nodeDir(n.name)).clusterConfig,
      `${JSON.stringify(nodeClusterConfig(topology, n.name), null, 2)}\n`,
    );
  }
  const online = onlineNodes(topology);
  const keys = online.map((n) =>
    readFileSync(nodeFiles(files.nodeDir(n.name)).witnessVerifierKey, "utf8").trim(),
  );
  writePublic(
    files.cosigners,
    `# Pinned witness keys of the online nodes; a checkpoint is published once ${Math.floor(online.length / 2) + 1} cosigned.\n` +
      `quorum ${Math.floor(online.length / 2) + 1}\n${keys.join("\n")}\n`,
  );
  const from = proxyFrom(topology);
  writePublic(
    files.haproxyConfig,
    haproxyConfig({
      port: topology.frontend.port,
      socket: files.haproxySocket,
      backends: online.map((n) => ({
        name: n.name,
        host: n.host,
        port: n.ports.https ?? 0,
        ...(n.ports.lastResort !== undefined ? { lastResortPort: n.ports.lastResort } : {}),
      })),
      check: {
        kind: "https",
        path: "/api/v1/health",
        clientCertKeyFile: files.haproxyCheckPem,
        caFile: files.caCert,
        // haproxy's verifyhost matches DNS names: an IP-literal frontend is checked as localhost.
        serverName: /^[0-9.:]+$/.test(topology.frontend.host) ? "localhost" : topology.frontend.host,
      },
      checkIntervalMs: 1000,
      fall: 2,
      rise: 2,
      balance: "source",
      // Each node sees the users' own addresses: haproxy connects from the frontend's address, which
      // every node trusts for PROXY headers (writeNodeDir). A frontend given by name: not (README).
      ...(from !== undefined ? { sendProxyFrom: from } : {}),
    }),
  );
}
