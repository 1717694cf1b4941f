// A writer for the crash test (test/ledger-crash.int.test.ts), run as `node <this> <db> <keyfile>` after
// `npm run build`. It uses the built ledger library exactly as a service would: each stdin line is a JSON
// array of note data objects, appended as ONE batch (one transaction); only after append() resolved — the
// transaction committed — does it print one {"index","leafHash"} line per entry. stdout is a pipe, which
// Node writes synchronously on Linux, so an acknowledgement never leaves before its commit. It signs a
// checkpoint after every 4th batch, so a kill can also land while signing.
//
// First line out: {"ready":true,"journalMode","synchronous"} — the PRAGMA values of the very connection the
// log writes through (found by observing better-sqlite3's prepare(), a pass-through; nothing is replaced).
import Database from "better-sqlite3";
import { createInterface } from "node:readline";
import { readKeyFile } from "../../dist/crypto/key-file.js";
import { createNoteSigner } from "../../dist/crypto/note-signer.js";
import { Ledger } from "../../dist/ledger/ledger.js";
import { openSqliteLog } from "../../dist/store/sqlite-log.js";

const [db, keyFile] = process.argv.slice(2);
if (db === undefined || keyFile === undefined) throw new Error("usage: acknowledging-appender <db> <key>");

const connections = new Set();
const prepare = Database.prototype.prepare;
Database.prototype.prepare = function (...args) {
  connections.add(this);
  return prepare.apply(this, args);
};

const signer = createNoteSigner(readKeyFile(keyFile));
const log = new Ledger({ storage: openSqliteLog(db) });
Database.prototype.prepare = prepare;
if (connections.size !== 1) throw new Error(`expected one connection, saw ${connections.size}`);
const [connection] = connections;
process.stdout.write(
  `${JSON.stringify({
    ready: true,
    journalMode: connection.pragma("journal_mode", { simple: true }),
    synchronous: connection.pragma("synchronous", { simple: true }),
  })}\n`,
);

let batches = 0;
for await (const line of createInterface({ input: process.stdin })) {
  if (line === "") continue;
  const data = JSON.parse(line);
  const results = await log.append(
    data.map((d) => ({
      record: {
        type: "note",
        time: new Date().toISOString(),
        actor: { id: "crash-test", role: "system" },
        institution: "-",
        outcome: "success",
        source: { observer: "crash-test" },
        data: d,
      },
    })),
  );
  process.stdout.write(results.map((r) => `${JSON.stringify(r)}\n`).join(""));
  if (++batches % 4 === 0) log.signCheckpoint(signer);
}
log.signCheckpoint(signer);
log.close();
