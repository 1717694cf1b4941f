// A writer for the crash test (test/ledger-crash.int.test.ts), run as `node <this> <db> <keyfile>` after
// `npm run build`. It uses the built ledger library exactly as a service would: each stdin line is a JSON
// array of note data objects, appended as ONE batch (one transaction); only after append() resolved — the
// transaction committed — does it print one {"index","leafHash"} line per entry. stdout is a pipe, which
// Node writes synchronously on Linux, so an acknowledgement never leaves before its commit. It signs a
// checkpoint after every 4th batch, so a kill can also land while signing.
//
// First line out: {"ready":true,"journalMode","synchronous"} — the PRAGMA values of the very connection the
// log writes through (found by observing better-sqlite3's prepare(), a pass-through; nothing is replaced).
//
// With a third argument `<service.db>` it writes the way the service does instead: through the node's
// write port (EmbeddedLedger: group commit, checkpoints on a cadence), every stdin line one concurrent
// append call (not awaited in turn), each with a state command (`crash.put {call}`) whose applier — the
// port's `applyCommand`, as the node wires its registry — inserts a row naming the call and its first entry
// index into `crash_state` in that service database (made atomic by the outbox). A call's acknowledgement
// is printed when its promise resolves.
import Database from "better-sqlite3";
import { createInterface } from "node:readline";
import { readKeyFile } from "../../dist/crypto/key-file.js";
import { createNoteSigner } from "../../dist/crypto/note-signer.js";
import { Ledger } from "../../dist/ledger/ledger.js";
import { openSqliteLog } from "../../dist/store/sqlite-log.js";

const [db, keyFile, serviceDbPath] = process.argv.slice(2);
if (db === undefined || keyFile === undefined) throw new Error("usage: acknowledging-appender <db> <key>");

const connections = new Set();
const prepare = Database.prototype.prepare;
Database.prototype.prepare = function (...args) {
  connections.add(this);
  return prepare.apply(this, args);
};

const signer = createNoteSigner(readKeyFile(keyFile));
const storage = openSqliteLog(db);
Database.prototype.prepare = prepare;
const log = serviceDbPath === undefined ? new Ledger({ storage }) : null;
if (connections.size !== 1) throw new Error(`expected one connection, saw ${connections.size}`);
const [connection] = connections;
process.stdout.write(
  `${JSON.stringify({
    ready: true,
    journalMode: connection.pragma("journal_mode", { simple: true }),
    synchronous: connection.pragma("synchronous", { simple: true }),
  })}\n`,
);

const noteOf = (d) => ({
  type: "note",
  time: new Date().toISOString(),
  actor: { id: "crash-test", role: "system" },
  institution: "-",
  outcome: "success",
  source: { observer: "crash-test" },
  data: d,
});

if (serviceDbPath !== undefined) {
  const { EmbeddedLedger } = await import("../../dist/ledger/embedded-ledger.js");
  const { openServiceDb } = await import("../../dist/store/service-db.js");
  const { sqliteOutbox } = await import("../../dist/store/sqlite-outbox.js");
  const service = openServiceDb(serviceDbPath, { create: true });
  service.exec(
    "CREATE TABLE IF NOT EXISTS crash_state (call TEXT PRIMARY KEY, first_index INTEGER NOT NULL) STRICT",
  );
  const insert = service.prepare("INSERT INTO crash_state (call, first_index) VALUES (?, ?)");
  const port = new EmbeddedLedger({
    storage,
    signer,
    outbox: sqliteOutbox(service),
    applyCommand: (command, results) => {
      if (command.kind !== "crash.put") throw new Error(`unknown command ${command.kind}`);
      insert.run(command.args.call, results[0].index);
    },
    checkpointIntervalMs: 50,
  });
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === "") continue;
    const data = JSON.parse(line);
    const call = `${data[0].round}/${data[0].batch}`;
    void port
      .append(
        data.map((d) => ({ record: noteOf(d) })),
        { command: { kind: "crash.put", args: { call } } },
      )
      .then((results) => process.stdout.write(results.map((r) => `${JSON.stringify(r)}\n`).join("")));
  }
  await new Promise(() => undefined); // Until killed.
}

let batches = 0;
for await (const line of createInterface({ input: process.stdin })) {
  if (line === "") continue;
  const data = JSON.parse(line);
  const results = await log.append(data.map((d) => ({ record: noteOf(d) })));
  process.stdout.write(results.map((r) => `${JSON.stringify(r)}\n`).join(""));
  if (++batches % 4 === 0) log.signCheckpoint(signer);
}
log.signCheckpoint(signer);
log.close();
