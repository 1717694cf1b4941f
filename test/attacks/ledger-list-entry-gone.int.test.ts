/**
 * A list page reads the indices and leaf hashes of all its transfers in one ledger read
 * (`keyedLeafHashesOf`) and the bytes of entries it has not kept in one more. An index row whose entry
 * row was deleted behind the node's back refuses that transfer alone (left out, one alarm), also when
 * the list had already kept that entry's fields; the other transfers of the page are still listed.
 * Real node, real TLS, ledger.db edited through the attacker's own connection.
 */
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { uploadExport } from "../../src/client/transfer-client.js";
import { decodeEntry } from "../../src/ledger/entry/canonical-entry.js";
import type { TransferView } from "../../src/service/transfers/view.js";
import { expectStatus } from "../support/test-node.js";
import {
  denials,
  exampleExport,
  startTransferNode,
  type TransferNode,
} from "../support/transfer-fixtures.js";

let t: TransferNode;

beforeAll(async () => {
  t = await startTransferNode();
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

const listed = async (): Promise<string[]> => {
  const list = await t.receiver.get("/api/v1/transfers");
  expect(list.status).toBe(200);
  return (list.json as { transfers: { id: string }[] }).transfers.map((x) => x.id);
};

describe("attack: delete one listed transfer's entry row in ledger.db (its index rows kept)", () => {
  it("that transfer alone is left out of the list with an alarm; the others stay listed", async () => {
    const transfers = [await uploadAndSend(), await uploadAndSend(), await uploadAndSend()];
    const ids = transfers.map((x) => x.id);
    // Listed once first: the list keeps the entries' fields, which must not mask the missing row.
    expect(await listed()).toEqual(expect.arrayContaining(ids));
    const victim = transfers[1] as TransferView;
    const ledger = t.node.ctx.ledger;
    const upload = ledger
      .findByKey(`transfer:${victim.id}`)
      .find((i) => decodeEntry(ledger.entry(i)).type === "upload");
    expect(upload).toBeDefined();
    const db = new Database(t.node.ctx.paths.ledgerDb);
    try {
      db.prepare("DELETE FROM entries WHERE idx = ?").run(upload);
    } finally {
      db.close();
    }
    const before = ledger.size();
    const after = await listed();
    expect(after).not.toContain(victim.id);
    expect(after).toEqual(expect.arrayContaining(ids.filter((id) => id !== victim.id)));
    const since = Array.from({ length: ledger.size() - before }, (_, i) =>
      decodeEntry(ledger.entry(before + i)),
    );
    const alarms = denials(since).filter((d) => d.action === "integrity" && d.outcome === "major-failure");
    expect(alarms.length).toBe(1);
  });
});
