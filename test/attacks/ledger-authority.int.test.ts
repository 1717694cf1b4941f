/**
 * Attack 3 (issue 15): authorisation that trusted unverified rows, and a ledger going back in time.
 * Before the fix: changing `transfers.receiver_id` in service.db let an unlinked receiver read and
 * download the results; swapping ledger.db for an older valid copy went unnoticed (fsck OK, trail 200
 * with 0 entries, download 200); deleting a transfer's `entry_keys` rows made its segment check pass with
 * zero entries; deleting the newest entries and checkpoints made every later write answer 500. Now who
 * may see a transfer, and its hashes, are checked against the entries the ledger verifies; a transfer
 * with no verified entries is an integrity failure; the node remembers its last signed checkpoint
 * outside ledger.db and compares at start and on every check. Real node, real TLS, real SQLite files
 * edited by the attacker through their own connections.
 */
import Database from "better-sqlite3";
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorCode, type ApiClient } from "../../src/client/api-client.js";
import { downloadStandard, uploadExport } from "../../src/client/transfer-client.js";
import { isCodedError } from "../../src/coded-error.js";
import { startServer } from "../../src/server/serve.js";
import type { TransferView } from "../../src/service/transfers/view.js";
import { deleteLookupKey } from "../cluster/damage.js";
import { HOST, expectCode, expectStatus } from "../support/test-node.js";
import {
  createLoggedInReceiver,
  denials,
  entriesSince,
  exampleExport,
  startTransferNode,
  type TransferNode,
} from "../support/transfer-fixtures.js";

const CLI = join(process.cwd(), "dist/cli/main.js");

let t: TransferNode;
let outsider: { client: ApiClient; institutionId: string };

beforeAll(async () => {
  t = await startTransferNode();
  outsider = await createLoggedInReceiver(t.node, t.office, "無関係な受信機関");
});

afterAll(async () => {
  await t.node.close();
});

async function uploadAndSend(): Promise<TransferView> {
  const up = await uploadExport(t.sender, t.receiverId, exampleExport());
  expectStatus(up, 201);
  const transfer = (up.json as { transfer: TransferView }).transfer;
  expectStatus(await t.sender.post(`/api/v1/transfers/${transfer.id}/send`), 200);
  return transfer;
}

function edit(path: string, sql: string, ...params: unknown[]): void {
  const db = new Database(path);
  try {
    db.prepare(sql).run(...params);
  } finally {
    db.close();
  }
}

function integrityAlarmsSince(before: number, transferId?: string) {
  return denials(entriesSince(t.node.ctx, before)).filter(
    (d) =>
      d.action === "integrity" &&
      d.outcome === "major-failure" &&
      (transferId === undefined || d.transfer === transferId),
  );
}

describe("attack: point a transfer at another receiver in service.db", () => {
  it("the unlinked receiver can neither read, list, trail nor download it (503 INTEGRITY_FAILURE, alarm)", async () => {
    const transfer = await uploadAndSend();
    edit(
      t.node.ctx.paths.serviceDb,
      "UPDATE transfers SET receiver_id = ? WHERE id = ?",
      outsider.institutionId,
      transfer.id,
    );
    const before = t.node.ctx.ledger.size();
    const o = outsider.client;
    const view = await o.get(`/api/v1/transfers/${transfer.id}`);
    expect(view.status).not.toBe(200);
    expectCode(view, 503, "INTEGRITY_FAILURE");
    expectCode(await o.get(`/api/v1/transfers/${transfer.id}/trail`), 503, "INTEGRITY_FAILURE");
    const down = await downloadStandard(o, transfer.id);
    if (!("refused" in down)) throw new Error("the results were served to an unlinked receiver");
    expectCode(down.refused, 503, "INTEGRITY_FAILURE");
    const list = await o.get("/api/v1/transfers");
    expect(list.status).toBe(200);
    expect((list.json as { transfers: { id: string }[] }).transfers.map((x) => x.id)).not.toContain(
      transfer.id,
    );
    expect(integrityAlarmsSince(before, transfer.id).length).toBeGreaterThan(0);
  });

  it("a changed hash in service.db is noticed before use (503 INTEGRITY_FAILURE)", async () => {
    const transfer = await uploadAndSend();
    const listed = async () =>
      ((await t.receiver.get("/api/v1/transfers")).json as { transfers: { id: string }[] }).transfers.map(
        (x) => x.id,
      );
    // Listed once before the edit: the list keeps the entries' fields it has checked, never its verdict.
    expect(await listed()).toContain(transfer.id);
    edit(
      t.node.ctx.paths.serviceDb,
      "UPDATE transfers SET standard_sha256 = ? WHERE id = ?",
      "ab".repeat(32),
      transfer.id,
    );
    const before = t.node.ctx.ledger.size();
    expect(await listed()).not.toContain(transfer.id);
    expect(integrityAlarmsSince(before).length).toBeGreaterThan(0);
    expectCode(await t.receiver.get(`/api/v1/transfers/${transfer.id}`), 503, "INTEGRITY_FAILURE");
  });
});

describe("attack: delete a transfer's entry_keys rows in ledger.db", () => {
  it("a transfer with no verified entries is an integrity failure, not an empty trail", async () => {
    const transfer = await uploadAndSend();
    // The key may still be packed in its entries' rows or already merged into the main table: both.
    const db = new Database(t.node.ctx.paths.ledgerDb);
    try {
      expect(deleteLookupKey(db, `transfer:${transfer.id}`)).toBeGreaterThan(0);
    } finally {
      db.close();
    }
    const before = t.node.ctx.ledger.size();
    expectCode(await t.receiver.get(`/api/v1/transfers/${transfer.id}/trail`), 503, "INTEGRITY_FAILURE");
    const down = await downloadStandard(t.receiver, transfer.id);
    if (!("refused" in down)) throw new Error("a transfer with no verified entries was served");
    expectCode(down.refused, 503, "INTEGRITY_FAILURE");
    expect(integrityAlarmsSince(before, transfer.id).length).toBeGreaterThan(0);
  });
});

describe("attack: delete the newest entries and checkpoints in ledger.db while the node runs", () => {
  it("every later operation is a coded integrity failure (503), never a 500", async () => {
    const transfer = await uploadAndSend();
    const size = t.node.ctx.ledger.size();
    const cut = size - 3;
    edit(t.node.ctx.paths.ledgerDb, "DELETE FROM entries WHERE idx >= ?", cut);
    // The unmerged entries' look-ups went with their rows; the main tables' rows are deleted too.
    for (const table of ["entry_keys", "leaf_index"])
      edit(t.node.ctx.paths.ledgerDb, `DELETE FROM ${table} WHERE idx >= ?`, cut);
    edit(t.node.ctx.paths.ledgerDb, "DELETE FROM checkpoints WHERE size > ?", cut);
    const answers = [
      await t.receiver.get(`/api/v1/transfers/${transfer.id}/trail`),
      await t.receiver.get(`/api/v1/transfers/${transfer.id}`),
      await t.sender.post("/api/v1/transfers/tr_aaaaaaaaaaaaaaaa/send"),
      await t.receiver.login("R-0000-NOBODY", "wrong-password-1A!"),
    ];
    for (const a of answers) {
      expect(a.status).not.toBe(500);
      expect(errorCode(a)).not.toBe("INTERNAL");
    }
    // Writes that verify nothing first (a failed login's entry) too: the ledger cannot take them.
    for (const a of answers) expectCode(a, 503, "INTEGRITY_FAILURE");
    // The alarm the office sees, since this ledger can no longer take an alarm entry.
    const watch = await t.office.get("/api/v1/admin/monitoring");
    expect(watch.status).toBe(200);
    expect((watch.json as { ledger: { integrity: string } }).ledger.integrity).toBe("rolled-back");
  });
});

describe("attack: swap ledger.db for an older valid copy while the node is stopped", () => {
  it("the node refuses to start (INTEGRITY_FAILURE): its remembered checkpoint is newer than the ledger", async () => {
    // A node of its own: the rolled-back one of the previous test is broken on purpose.
    const own = await startTransferNode();
    try {
      const paths = own.node.ctx.paths;
      const old = `${paths.ledgerDb}.old`;
      // An older, valid copy of the ledger (the online backup API gives a consistent one).
      await new Database(paths.ledgerDb, { readonly: true }).backup(old);
      const up = await uploadExport(own.sender, own.receiverId, exampleExport());
      expectStatus(up, 201);
      const transfer = (up.json as { transfer: TransferView }).transfer;
      expectStatus(await own.sender.post(`/api/v1/transfers/${transfer.id}/send`), 200);
      await own.node.server.close();
      for (const suffix of ["", "-wal", "-shm"])
        if (existsSync(paths.ledgerDb + suffix)) rmSync(paths.ledgerDb + suffix);
      copyFileSync(old, paths.ledgerDb);
      const started = await startServer(own.node.dir, { port: 0, host: HOST, env: {} }).then(
        async (s) => {
          await s.close();
          return "started";
        },
        (e: unknown) => (isCodedError(e) ? e.code : String(e)),
      );
      expect(started).toBe("INTEGRITY_FAILURE");
      // `kenshin ledger fsck` alone still calls the older copy fine; given the node's memory it does not.
      const fsckArgs = ["ledger", "fsck", "--db", paths.ledgerDb, "--verifier", paths.ledgerVerifierKey];
      expect(spawnSync(process.execPath, [CLI, ...fsckArgs], { encoding: "utf8" }).status).toBe(0);
      const remembered = spawnSync(
        process.execPath,
        [CLI, ...fsckArgs, "--remembered", join(own.node.dir, "ledger-head.note")],
        { encoding: "utf8" },
      );
      expect(remembered.status).toBe(1);
      expect(JSON.parse(remembered.stdout)).toMatchObject({
        ok: false,
        code: "INTEGRITY_FAILURE",
        reason: "ledger-rollback",
      });
    } finally {
      await own.node.close().catch(() => undefined);
    }
  });
});
