// The sequencer's process for the hand-over SIGKILL test (test/cluster/command-hand-over.int.test.ts), run
// as `node <this> <etcd hosts,comma-separated> <prefix> <node name> <tls dir> <peer,peer…>` after
// `npm run build`. It uses the built library exactly as a node would: it stands for sequencer and serves
// the hand-over route on a real mutual-TLS peer endpoint (its certificates and CRL in <tls dir>, its own
// chunks.db there). stdout: {"ready":true,"port":…} once listening, {"event":"leader"} when it leads.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Etcd3 } from "etcd3";
import { logKeys } from "../../dist/cluster/command-log/command-batch.js";
import { handOverRoute } from "../../dist/cluster/command-log/hand-over-route.js";
import { startSequencer } from "../../dist/cluster/command-log/sequencer.js";
import { startPeerServer } from "../../dist/cluster/peer/peer-server.js";
import { openChunkStore } from "../../dist/store/chunk-store.js";

const [hosts, prefix, nodeName, tlsDir, peers] = process.argv.slice(2);
if (peers === undefined) throw new Error("usage: hand-over-member <hosts> <prefix> <node> <tls dir> <peers>");

const say = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
const read = (name) => readFileSync(join(tlsDir, name), "utf8");
const client = new Etcd3({ hosts: hosts.split(","), dialTimeout: 2000 });
const sequencer = startSequencer({
  client,
  keys: logKeys(prefix),
  nodeName,
  leaseTtlSeconds: 2,
  idleWaitMs: 100,
});
const server = await startPeerServer({
  tls: {
    caCertPem: read("ca.pem"),
    certPem: read(`${nodeName}.cert.pem`),
    keyPem: read(`${nodeName}.key.pem`),
    crlPem: read("crl.pem"),
  },
  peers: peers.split(","),
  chunks: openChunkStore(join(tlsDir, `${nodeName}-chunks.db`)),
  routes: [handOverRoute(() => sequencer)],
});
let wasLeader = false;
setInterval(() => {
  const now = sequencer.isLeader();
  if (now && !wasLeader) say({ event: "leader" });
  wasLeader = now;
}, 20);
say({ ready: true, port: server.port });
