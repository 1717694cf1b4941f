/**
 * The write port's contract (test/support/write-port-contract.ts) on the embedded node: real ledger.db and
 * service.db files, the outbox in service.db. The contract's state commands go through the port's own
 * `applyCommand` (the contract's test applier bound to this service.db), inside the batch's transaction —
 * exactly as the node's registry is wired — so both implementations are held to the same tests.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { generateNoteKey } from "../crypto/note-key.js";
import { createNoteSigner } from "../crypto/note-signer.js";
import { openServiceDb, type ServiceDb } from "../store/service-db.js";
import { sqliteOutbox } from "../store/sqlite-outbox.js";
import { createSqliteLog } from "../store/sqlite-log.js";
import { createTestTable, testApplier, writePortContract } from "../../test/support/write-port-contract.js";
import { EmbeddedLedger } from "./embedded-ledger.js";
import { parseVerifierKey } from "./verify/verifier-key.js";

let dir: string;
let db: ServiceDb;
let port: EmbeddedLedger;
const signer = createNoteSigner(generateNoteKey("contract.kenshin.example/log"));

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "kenshin-embedded-contract-"));
  db = openServiceDb(join(dir, "service.db"), { create: true });
  createTestTable(db);
  port = new EmbeddedLedger({
    storage: createSqliteLog({
      path: join(dir, "ledger.db"),
      origin: signer.name,
      verifierKey: signer.verifierKey,
    }),
    signer,
    outbox: sqliteOutbox(db),
    applyCommand: (command, results) => {
      testApplier(command, results, db);
    },
  });
});

afterAll(async () => {
  await port.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

writePortContract("embedded node", () => ({
  port,
  db,
  logKey: parseVerifierKey(signer.verifierKey),
}));
