/**
 * The applier registry on real service databases: the same commands applied in the same order to two
 * fresh service.db files give the same rows (what every node of a cluster relies on), a command whose
 * precondition fails throws a coded error and leaves its savepoint's writes undone, and an unknown kind
 * is refused.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isCodedError } from "../../coded-error.js";
import type { AppendResult, StateCommand } from "../../ledger/write-port.js";
import { openServiceDb, type ServiceDb } from "../../store/service-db.js";
import { accountCreate, institutionCreate, institutionLink, passwordReset } from "./account-commands.js";
import { deviceRegister, mappingAdd } from "./device-commands.js";
import { commandApplier, COMMAND_KINDS } from "./registry.js";
import { accountLock, sessionClose, sessionOpen } from "./session-commands.js";
import { transferCreate, transferDownload, transferReceipt, transferSend } from "./transfer-commands.js";

const dir = mkdtempSync(join(tmpdir(), "kenshin-commands-"));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

let n = 0;
function freshDb(): ServiceDb {
  return openServiceDb(join(dir, `service-${n++}.db`), { create: true });
}

const at = "2026-12-01T03:00:00.000Z";
const sender = institutionCreate.of({
  id: "inst_s",
  kind: "sender",
  name: "健診センター",
  number: "1311111111",
  at,
});
const receiver = institutionCreate.of({
  id: "inst_r",
  kind: "receiver",
  name: "健保組合",
  number: "06111111",
  at,
});
const script: readonly StateCommand[] = [
  sender,
  receiver,
  institutionLink.of({ senderId: "inst_s", receiverId: "inst_r", at }),
  accountCreate.of({ loginId: "S-0001", institutionId: "inst_s", passwordHash: "$argon2id$x", at }),
  accountCreate.of({ loginId: "R-0001", institutionId: "inst_r", passwordHash: "$argon2id$y", at }),
  sessionOpen.of({
    loginId: "S-0001",
    tokenHash: "aa".repeat(32),
    csrfToken: "csrf",
    certificate: "bb".repeat(32),
    at: 1_764_558_000_000,
    expiresAt: 1_764_600_000_000,
  }),
  deviceRegister.of({ id: "dev_1", loginId: "S-0001", publicJwk: "{}", label: "受付", at }),
  mappingAdd.of({
    id: "map_1",
    institutionId: "inst_s",
    name: "m",
    sha256: "cc".repeat(32),
    body: "x",
    activate: true,
    at,
  }),
  transferCreate.of({
    id: "tr_aaaaaaaaaaaaaaaa",
    senderId: "inst_s",
    receiverId: "inst_r",
    mappingId: "map_1",
    original: { sha256: "dd".repeat(32), bytes: 10 },
    standard: { sha256: "ee".repeat(32), bytes: 20 },
    records: 3,
    rowsRejected: 0,
    reportJson: "{}",
    at,
    deleteAfter: "2026-12-31T03:00:00.000Z",
  }),
  transferSend.of({ id: "tr_aaaaaaaaaaaaaaaa", receiverId: "inst_r", records: 3, at }),
  transferDownload.of({ id: "tr_aaaaaaaaaaaaaaaa", at }),
  transferReceipt.of({ id: "tr_aaaaaaaaaaaaaaaa", at, deleteAfter: "2026-12-08T03:00:00.000Z" }),
  accountLock.of({ loginId: "R-0001", until: 1_764_559_000_000 }),
  passwordReset.of({
    loginId: "R-0001",
    passwordHash: "$argon2id$z",
    requestedBy: "総務 山田",
    confirmedHow: "折り返し電話",
    officeLoginId: "O-0001",
    at,
  }),
  sessionClose.of({ tokenHash: "aa".repeat(32) }),
];

function run(db: ServiceDb, commands: readonly StateCommand[], payloads: string[]): void {
  const apply = commandApplier({ commitPayload: (_db, id) => void payloads.push(id) });
  commands.forEach((command, i) => {
    const results: AppendResult[] = [{ index: i, leafHash: "00".repeat(32) }];
    db.transaction(() => {
      apply(command, results, db);
    })();
  });
}

function dump(db: ServiceDb): unknown {
  const tables = [
    "institutions",
    "links",
    "accounts",
    "sessions",
    "devices",
    "mappings",
    "transfers",
    "record_counts",
    "password_resets",
  ];
  return Object.fromEntries(tables.map((t) => [t, db.prepare(`SELECT * FROM ${t} ORDER BY 1`).all()]));
}

function codeOf(fn: () => void): string {
  try {
    fn();
    return "applied";
  } catch (error) {
    return isCodedError(error) ? error.code : String(error);
  }
}

describe("state command appliers", () => {
  it("give the same rows on two nodes from the same commands (and stage the upload's payload)", () => {
    const a = freshDb();
    const b = freshDb();
    const payloadsA: string[] = [];
    const payloadsB: string[] = [];
    run(a, script, payloadsA);
    run(b, script, payloadsB);
    expect(dump(a)).toEqual(dump(b));
    expect(payloadsA).toEqual(["tr_aaaaaaaaaaaaaaaa"]);
    const row = a.prepare("SELECT status, received_at FROM transfers").get();
    expect(row).toEqual({ status: "received", received_at: at });
    expect(a.prepare("SELECT records FROM record_counts").get()).toEqual({ records: 3 });
    expect(a.prepare("SELECT count(*) AS n FROM sessions").get()).toEqual({ n: 0 });
    a.close();
    b.close();
  });

  it("refuse when a precondition fails, leaving nothing of the command", () => {
    const db = freshDb();
    run(db, script.slice(0, 9), []);
    const apply = commandApplier({ commitPayload: () => undefined });
    const once = (command: StateCommand): string =>
      codeOf(() => {
        db.transaction(() => {
          apply(command, [{ index: 99, leafHash: "00".repeat(32) }], db);
        })();
      });
    // Received is only after downloaded; a second send of the same transfer is refused.
    expect(once(transferReceipt.of({ id: "tr_aaaaaaaaaaaaaaaa", at, deleteAfter: at }))).toBe(
      "TRANSFER_STATE",
    );
    expect(once(transferSend.of({ id: "tr_aaaaaaaaaaaaaaaa", receiverId: "inst_r", records: 3, at }))).toBe(
      "applied",
    );
    expect(once(transferSend.of({ id: "tr_aaaaaaaaaaaaaaaa", receiverId: "inst_r", records: 3, at }))).toBe(
      "TRANSFER_STATE",
    );
    // The refused send counted nothing: the records were counted once.
    expect(db.prepare("SELECT records FROM record_counts").get()).toEqual({ records: 3 });
    expect(once(sender)).toBe("INSTITUTION_EXISTS");
    expect(once({ kind: "no.such.kind", args: null })).toBe("STATE_COMMAND_UNKNOWN");
    db.close();
  });

  it("cover every kind the registry lists with a distinct name", () => {
    expect(new Set(COMMAND_KINDS).size).toBe(COMMAND_KINDS.length);
    expect(COMMAND_KINDS).toEqual(
      expect.arrayContaining(["transfer.create", "session.open", "certificate.revoke"]),
    );
  });
});
