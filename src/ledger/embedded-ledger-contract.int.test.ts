/**
 * The write port's contract (test/support/write-port-contract.ts) on the embedded node: real ledger.db and
 * service.db files, the outbox in service.db. The contract's state commands are applied by the same
 * applier inside the embedded port's transaction (as a `stateChange` with the entries' results), which is
 * how the embedded node applies a command — so both implementations are held to the same tests.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import type { StateCommand } from "../cluster/state-command.js";
import { generateNoteKey } from "../crypto/note-key.js";
import { createNoteSigner } from "../crypto/note-signer.js";
import { openServiceDb, type ServiceDb } from "../store/service-db.js";
import { sqliteOutbox } from "../store/sqlite-outbox.js";
import { createSqliteLog } from "../store/sqlite-log.js";
import {
  createTestTable,
  testApplier,
  writePortContract,
  type PortUnderTest,
} from "../../test/support/write-port-contract.js";
import { EmbeddedLedger } from "./embedded-ledger.js";
import { parseVerifierKey } from "./verify/verifier-key.js";
import type { AppendRequest } from "./write-port.js";

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
  });
});

afterAll(async () => {
  await port.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The embedded port with `append(requests, { command })`: the command applied inside its transaction. */
function withCommands(): PortUnderTest["port"] {
  const append = (requests: readonly AppendRequest[], options: { command?: StateCommand } = {}) => {
    const command = options.command;
    if (command === undefined) return port.append(requests);
    return port.append(requests, {
      stateChange: (results) => {
        testApplier(command, results, db);
      },
    });
  };
  return new Proxy(port, {
    get(target, key) {
      if (key === "append") return append;
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

writePortContract("embedded node", () => ({
  port: withCommands(),
  db,
  logKey: parseVerifierKey(signer.verifierKey),
}));
