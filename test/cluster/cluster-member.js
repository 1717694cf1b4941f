// One cluster node for the SIGKILL proof (test/cluster/cluster-kill.int.test.ts), run after `npm run build`
// as `node <this> <etcd hosts,comma-separated> <prefix> <node name> <dir> <online|offline>`, with the keys in
// the environment: KENSHIN_TEST_LOG_KEY (the log's signer key, the same on every online node; the offline
// node gets none), KENSHIN_TEST_LOG_VKEY (its verifier key),
// KENSHIN_TEST_NODE_KEY (this node's witness key; online nodes), KENSHIN_TEST_COSIGNERS (the pinned
// cosigner vkeys, comma-separated). It is the built library's ClusterLedger on its own <dir>/ledger.db and
// <dir>/service.db, with a deterministic applier on a test table (`test.put`: one row per key, a key taken
// twice is refused).
// stdin: "append <id>" → a note record carrying <id> with the command put(<id>), answered
// {"ack":"<id>"} once this node applied it, or {"nack":"<id>","code":…}; "publish" → {"published":size}
// once a quorum-cosigned checkpoint covers everything this node holds. stdout is a synchronous pipe.
// KENSHIN_TEST_MAX_TXN_OPS: the etcd cluster's --max-txn-ops (default etcd's 128).
// With KENSHIN_TEST_PEER_TLS (a directory of ca.pem, crl.pem, <node>.cert.pem, <node>.key.pem) and
// KENSHIN_TEST_PEERS (the other nodes' names, comma-separated), for bench/cluster: it first serves its
// peer endpoint (mutual TLS; the ledger's peer route — the hand-over of commands to the sequencer —
// once the ledger exists), says {"peerPort":…}, and waits for the line "peers <json [{name,url}]>"
// naming the other nodes' endpoints before it starts its ledger.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { Etcd3 } from "etcd3";
import { ClusterLedger } from "../../dist/cluster/cluster-ledger.js";
import { startPeerServer } from "../../dist/cluster/peer/peer-server.js";
import { openChunkStore } from "../../dist/store/chunk-store.js";
import { parseSignerKey } from "../../dist/crypto/note-key.js";
import { createCosigner, createNoteSigner } from "../../dist/crypto/note-signer.js";
import { parseVerifierKey } from "../../dist/ledger/verify/verifier-key.js";
import { openServiceDb } from "../../dist/store/service-db.js";
import { createSqliteLog, openSqliteLog } from "../../dist/store/sqlite-log.js";

const [hosts, prefix, nodeName, dir, role] = process.argv.slice(2);
if (role === undefined)
  throw new Error("usage: cluster-member <hosts> <prefix> <node> <dir> <online|offline>");
const say = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);

const offline = role === "offline";
// The offline node holds no log key, only its verifier key.
const logSigner = offline
  ? undefined
  : createNoteSigner(parseSignerKey(process.env.KENSHIN_TEST_LOG_KEY ?? ""));
const logVerifierKey = process.env.KENSHIN_TEST_LOG_VKEY ?? "";
const cosigner = offline
  ? undefined
  : createCosigner(parseSignerKey(process.env.KENSHIN_TEST_NODE_KEY ?? ""), Date.now);
const policy = {
  cosigners: (process.env.KENSHIN_TEST_COSIGNERS ?? "").split(",").map((k) => parseVerifierKey(k)),
  quorum: 2,
};

const path = join(dir, "ledger.db");
const storage = existsSync(path)
  ? openSqliteLog(path)
  : createSqliteLog({ path, origin: logVerifierKey.split("+")[0], verifierKey: logVerifierKey });
const db = openServiceDb(join(dir, "service.db"), { create: true });
db.exec(
  "CREATE TABLE IF NOT EXISTS test_kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, entry INTEGER NOT NULL) STRICT",
);
const applyCommand = (command, results, sdb) => {
  if (command.kind !== "test.put")
    throw Object.assign(new Error("unknown command"), { code: "TEST_COMMAND_UNKNOWN" });
  const { key, value } = command.args;
  if (sdb.prepare("SELECT 1 FROM test_kv WHERE key = ?").get(key) !== undefined)
    throw Object.assign(new Error("key taken"), { code: "TEST_KEY_EXISTS" });
  sdb
    .prepare("INSERT INTO test_kv (key, value, entry) VALUES (?, ?, ?)")
    .run(key, value, results[0]?.index ?? -1);
};

const lines = createInterface({ input: process.stdin });
/** The peer endpoint and the other nodes' endpoints (none: this node hands nothing over). */
async function peerSetup() {
  const tlsDir = process.env.KENSHIN_TEST_PEER_TLS;
  if (tlsDir === undefined || tlsDir === "") return undefined;
  const read = (name) => readFileSync(join(tlsDir, name), "utf8");
  const tls = {
    caCertPem: read("ca.pem"),
    certPem: read(`${nodeName}.cert.pem`),
    keyPem: read(`${nodeName}.key.pem`),
  };
  let route;
  const server = await startPeerServer({
    tls: { ...tls, crlPem: read("crl.pem") },
    peers: (process.env.KENSHIN_TEST_PEERS ?? "").split(","),
    chunks: openChunkStore(join(dir, "chunks.db")),
    routes: [(req, res, peer) => route?.(req, res, peer) ?? Promise.resolve(false)],
  });
  const peers = new Promise((resolve) => {
    const take = (line) => {
      if (!line.startsWith("peers ")) return;
      lines.off("line", take);
      resolve(JSON.parse(line.slice("peers ".length)));
    };
    lines.on("line", take);
  });
  say({ peerPort: server.port });
  return {
    catchUp: { peers: await peers, tls },
    mount: (r) => {
      route = r;
    },
  };
}
const peering = await peerSetup();

const client = new Etcd3({ hosts: hosts.split(","), dialTimeout: 2000 });
const ledger = new ClusterLedger({
  client,
  prefix,
  nodeName,
  storage,
  db,
  applyCommand,
  ...(logSigner === undefined ? {} : { logSigner }),
  logVerifierKey,
  ...(cosigner === undefined ? {} : { cosigner }),
  policy,
  offline,
  leaseTtlSeconds: 2,
  checkpointIntervalMs: 500,
  // The etcd cluster's --max-txn-ops, when it is not etcd's default (bench/cluster runs it at 2048).
  ...(process.env.KENSHIN_TEST_MAX_TXN_OPS
    ? { maxTxnOps: Number(process.env.KENSHIN_TEST_MAX_TXN_OPS) }
    : {}),
  ...(peering === undefined ? {} : { catchUp: peering.catchUp }),
  onError: (e) => {
    if (["CLUSTER_LOG_GAP", "CLUSTER_APPLY_FAILED", "CLUSTER_LOG_TRIMMED"].includes(e?.code))
      say({ fatal: e.code });
  },
}).start();
peering?.mount(ledger.peerRoute());

// For bench/cluster: report each published size this node takes.
if (process.env.KENSHIN_TEST_REPORT_PUBLISHED === "1") {
  let last = 0;
  setInterval(() => {
    const p = ledger.status().published;
    if (p > last) say({ publishedSize: p });
    last = p;
  }, 5);
}

let wasLeader = false;
setInterval(() => {
  const now = ledger.status().sequencer;
  if (now && !wasLeader) say({ event: "leader", node: nodeName });
  wasLeader = now;
}, 50);

function record(id) {
  return {
    type: "note",
    time: "2025-04-01T09:00:00.000Z",
    actor: { id: "user-1", role: "sender", network: { address: "192.0.2.1", type: "ip" } },
    institution: "1312345678",
    outcome: "success",
    source: { observer: nodeName },
    data: { id },
  };
}

async function append(id) {
  try {
    const [r] = await ledger.append([{ record: record(id) }], {
      command: { kind: "test.put", args: { key: id, value: nodeName } },
    });
    say({ ack: id, index: r.index });
  } catch (e) {
    say({ nack: id, code: e?.code ?? "unknown", outcome: e?.context?.outcome });
  }
}

async function publish() {
  for (let attempt = 0; attempt < 20; attempt++) {
    const size = ledger.size();
    try {
      const cp = size === 0 ? undefined : await ledger.checkpointCovering(size - 1);
      if (cp === undefined || cp.size >= size) {
        say({ published: cp?.size ?? 0, size });
        return;
      }
    } catch (e) {
      say({ waiting: e?.code ?? "unknown" });
    }
  }
  say({ published: -1 });
}

lines.on("line", (line) => {
  const [verb, id] = line.split(" ");
  if (verb === "append" && id !== undefined) void append(id);
  if (verb === "publish") void publish();
});
say({ ready: true, node: nodeName, size: ledger.size() });
