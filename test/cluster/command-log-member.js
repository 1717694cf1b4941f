// One cluster member for the SIGKILL test (test/cluster/command-log-kill.int.test.ts), run as
// `node <this> <etcd hosts,comma-separated> <prefix> <node name> <state file>` after `npm run build`.
// It uses the built command-log library exactly as a node would: it stands for sequencer, follows the
// log, and applies each batch by appending one line {seq, hash, ids} to its state file and fsyncing it
// before the follower moves on (its "database"); on start it resumes from the file's last line.
// stdin: "submit <id>" → the command is submitted (retried with the same id while etcd is unavailable)
// and, once this member has applied it, {"ack":"<id>"} is printed. stdout is a pipe, which Node writes
// synchronously on Linux, so an acknowledgement never leaves before the apply was fsynced.
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, writeSync } from "node:fs";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { Etcd3 } from "etcd3";
import { GENESIS, logKeys } from "../../dist/cluster/command-log/command-batch.js";
import { startFollower } from "../../dist/cluster/command-log/log-follower.js";
import { startSequencer } from "../../dist/cluster/command-log/sequencer.js";
import { submitCommand } from "../../dist/cluster/command-log/submit-command.js";

const [hosts, prefix, nodeName, stateFile] = process.argv.slice(2);
if (stateFile === undefined) throw new Error("usage: command-log-member <hosts> <prefix> <node> <state>");

const say = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
const keys = logKeys(prefix);
const client = new Etcd3({ hosts: hosts.split(","), dialTimeout: 2000 });

// Resume: only complete lines count.
const text = existsSync(stateFile) ? readFileSync(stateFile, "utf8") : "";
const complete = text.slice(0, text.lastIndexOf("\n") + 1);
const lines = complete
  .split("\n")
  .filter((l) => l.length > 0)
  .map((l) => JSON.parse(l));
const last = lines.at(-1);
const applied = new Set(lines.flatMap((l) => l.ids));
const waiting = new Map();

const follower = startFollower({
  client,
  keys,
  nodeName,
  from: last === undefined ? GENESIS : { seq: last.seq, hash: last.hash },
  idleWaitMs: 300,
  apply: (batch, position) => {
    const ids = batch.commands.map((c) => c.id);
    const fd = openSync(stateFile, "a");
    writeSync(fd, `${JSON.stringify({ seq: position.seq, hash: position.hash, ids })}\n`);
    fsyncSync(fd);
    closeSync(fd);
    for (const id of ids) {
      applied.add(id);
      waiting.get(id)?.();
      waiting.delete(id);
    }
  },
  onError: (e) => {
    if (e?.code === "CLUSTER_LOG_GAP" || e?.code === "CLUSTER_LOG_TRIMMED") say({ fatal: e.code });
  },
});

let wasLeader = false;
const sequencer = startSequencer({ client, keys, nodeName, leaseTtlSeconds: 2, idleWaitMs: 100 });
setInterval(() => {
  const now = sequencer.isLeader();
  if (now && !wasLeader) say({ event: "leader", node: nodeName });
  wasLeader = now;
}, 50);

// Submissions go to etcd one after another, in stdin order (waiting for the apply is concurrent), so
// this member's commands are ordered as it received them.
let queue = Promise.resolve();

async function submit(id) {
  const done = queue.then(() => register(id));
  queue = done.catch(() => undefined);
  if (!(await done)) return;
  if (!applied.has(id)) {
    await Promise.race([new Promise((resolve) => waiting.set(id, resolve)), sleep(60_000)]);
  }
  if (applied.has(id)) say({ ack: id });
  else say({ nack: id, code: "CLUSTER_WAIT_TIMEOUT" });
}

async function register(id) {
  for (let attempt = 0; attempt < 40; attempt++) {
    try {
      await submitCommand(client, keys, { id, origin: nodeName, body: { id } }, { timeoutMs: 2000 });
      return true;
    } catch (e) {
      if (e?.code !== "CLUSTER_UNAVAILABLE" || attempt === 39) {
        say({ nack: id, code: e?.code ?? "unknown" });
        return false;
      }
      await sleep(250);
    }
  }
  return false;
}

createInterface({ input: process.stdin }).on("line", (line) => {
  const [verb, id] = line.split(" ");
  if (verb === "submit" && id !== undefined) void submit(id);
});
say({ ready: true, node: nodeName, from: follower.position().seq });
