// One cluster node's ledger for the SIGKILL test (test/cluster/ledger-kill.int.test.ts), run as
// `node <this> <etcd hosts,comma-separated> <prefix> <node name> <dir>` after `npm run build`. It uses
// the built library as a node would: its own <dir>/ledger.db built only by applying ledger.append
// commands from the etcd log (ledger-replica), a sequencer candidacy, grouped submissions.
// stdin: "append <id>" → a note record carrying <id> is submitted and, once this node's own ledger holds
// it (the apply transaction committed), {"ack":"<id>"} is printed (stdout is a synchronous pipe); a
// submission that cannot be made or is not applied within 60 s gets {"nack":"<id>"}.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { Etcd3 } from "etcd3";
import { logKeys } from "../../dist/cluster/command-log/command-batch.js";
import { startFollower } from "../../dist/cluster/command-log/log-follower.js";
import { startSequencer } from "../../dist/cluster/command-log/sequencer.js";
import { createGroupedSubmitter } from "../../dist/cluster/command-log/submit-command.js";
import { LEDGER_APPEND, openLedgerReplica } from "../../dist/cluster/ledger-replica.js";
import { Ledger } from "../../dist/ledger/ledger.js";
import { createSqliteLog, openSqliteLog } from "../../dist/store/sqlite-log.js";

const [hosts, prefix, nodeName, dir, origin, verifierKey] = process.argv.slice(2);
if (verifierKey === undefined)
  throw new Error("usage: ledger-member <hosts> <prefix> <node> <dir> <origin> <vkey>");

const say = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
const keys = logKeys(prefix);
const client = new Etcd3({ hosts: hosts.split(","), dialTimeout: 2000 });
const path = join(dir, "ledger.db");
const storage = existsSync(path) ? openSqliteLog(path) : createSqliteLog({ path, origin, verifierKey });
const ledger = new Ledger({ storage });
const replica = openLedgerReplica({ ledger, positionPath: join(dir, "position.json") });
const waiting = new Map();

const follower = startFollower({
  client,
  keys,
  nodeName,
  from: replica.position(),
  idleWaitMs: 200,
  apply: async (batch, position) => {
    await replica.apply(batch, position);
    for (const c of batch.commands) {
      waiting.get(c.id)?.();
      waiting.delete(c.id);
    }
  },
  onError: (e) => {
    if (["CLUSTER_LOG_GAP", "CLUSTER_APPLY_FAILED", "CLUSTER_LOG_TRIMMED"].includes(e?.code))
      say({ fatal: e.code });
  },
});
const sequencer = startSequencer({ client, keys, nodeName, leaseTtlSeconds: 2, idleWaitMs: 100 });
let wasLeader = false;
setInterval(() => {
  const now = sequencer.isLeader();
  if (now && !wasLeader) say({ event: "leader", node: nodeName });
  wasLeader = now;
}, 50);
const submitter = createGroupedSubmitter(client, keys, { maxDelayMs: 2 });

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
  const applied = new Promise((resolve) => waiting.set(id, resolve));
  for (let attempt = 0; ; attempt++) {
    try {
      await submitter.submit({
        id,
        origin: nodeName,
        body: { type: LEDGER_APPEND, requests: [{ record: record(id) }] },
      });
      break;
    } catch (e) {
      if (e?.code !== "CLUSTER_UNAVAILABLE" || attempt >= 40) {
        say({ nack: id, code: e?.code ?? "unknown" });
        return;
      }
      await sleep(250);
    }
  }
  const ok = await Promise.race([applied.then(() => true), sleep(60_000).then(() => false)]);
  say(ok ? { ack: id } : { nack: id, code: "CLUSTER_WAIT_TIMEOUT" });
}

createInterface({ input: process.stdin }).on("line", (line) => {
  const [verb, id] = line.split(" ");
  if (verb === "append" && id !== undefined) void append(id);
});
say({ ready: true, node: nodeName, size: ledger.storage.size() });
