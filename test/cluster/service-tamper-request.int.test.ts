/**
 * A request meets the damage before the rolling check does (test/support/service-cluster.ts: 3 real
 * `kenshin serve` nodes + the offline node, real etcd, real haproxy). The full check is set far off
 * (10 minutes), so within this test it never runs on its schedule: one entry of a transfer is edited in
 * node2's ledger.db under the running node, and a request straight to node2 for that transfer is refused
 * with 503 INTEGRITY_FAILURE (nothing served). That request asks the node for its full check at once
 * (ClusterHooks.checkIntegrityNow, cluster/integrity/check-request.ts): the check finds the entry, the
 * node quarantines itself, repairs it from a peer and appends a `repair` entry well before the schedule
 * would come round. Afterwards node2 serves the transfer again with the SHA-256 the cluster recorded, and
 * every node's ledger passes fsck.
 */
import Database from "better-sqlite3";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { downloadStandard, uploadExport } from "../../src/client/transfer-client.js";
import { waitFor } from "../../src/cluster/processes/wait.js";
import { UNMERGED_KEY_ROWS } from "../../src/store/sqlite-log-schema.js";
import { sha256Hex, useServiceCluster } from "../support/service-cluster.js";
import { fsckEach, ledgerDbOf, repairRecords, watchHealth } from "../support/tamper-checks.js";
import { EXAMPLE_DIR, expectCode, expectStatus, firstLogin } from "../support/test-node.js";
import { editEntryBytes } from "./damage.js";

// The serving nodes inherit the environment: the scheduled full check would first run after 10 minutes.
process.env["KENSHIN_INTEGRITY_CHECK_MS"] = "600000";
const cluster = useServiceCluster();
const ALL = ["node1", "node2", "node3", "backup"];
const VICTIM = "node2";

/** Entry `index`'s stored bytes in `ledgerDb` (a separate read-only connection). */
function entryBytes(ledgerDb: string, index: number): Buffer | undefined {
  const db = new Database(ledgerDb, { readonly: true });
  try {
    return (db.prepare("SELECT entry FROM entries WHERE idx = ?").get(index) as { entry: Buffer } | undefined)
      ?.entry;
  } finally {
    db.close();
  }
}

/** The indexes of the entries under a transfer's lookup key in `ledgerDb` (main table and unmerged rows). */
function transferEntries(ledgerDb: string, transfer: string): number[] {
  const db = new Database(ledgerDb, { readonly: true });
  try {
    return (
      db
        .prepare(
          `SELECT idx FROM entry_keys WHERE key = ? UNION SELECT idx FROM (${UNMERGED_KEY_ROWS}) WHERE key = ? ORDER BY idx`,
        )
        .all(`transfer:${transfer}`, `transfer:${transfer}`) as { idx: number }[]
    ).map((r) => r.idx);
  } finally {
    db.close();
  }
}

describe("a request on the damaged node meets the damage before its rolling check", () => {
  it("is refused with 503 INTEGRITY_FAILURE and asks for the check at once: repaired long before the schedule", async () => {
    const c = cluster();
    await c.waitSamePosition(ALL);
    // Both parties straight to the victim (sessions are replicated state: made there, known everywhere).
    const sender = c.client("sender", { node: VICTIM });
    const receiver = c.client("receiver", { node: VICTIM });
    await firstLogin(sender, c.account("sender").loginId, c.account("sender").password);
    await firstLogin(receiver, c.account("receiver").loginId, c.account("receiver").password);
    const receivers = (await sender.get("/api/v1/receivers")).json as { receivers: { id: string }[] };
    const up = await uploadExport(
      sender,
      receivers.receivers[0]?.id ?? "",
      readFileSync(join(EXAMPLE_DIR, "export.csv")),
    );
    expectStatus(up, 201);
    const id = (up.json as { transfer: { id: string } }).transfer.id;
    expectStatus(await sender.post(`/api/v1/transfers/${id}/send`), 200);
    expectStatus(await receiver.get(`/api/v1/transfers/${id}`), 200);
    await c.waitSamePosition(ALL);

    const victimLedger = ledgerDbOf(c, VICTIM);
    expect(repairRecords(victimLedger)).toEqual([]);
    const [index] = transferEntries(victimLedger, id);
    if (index === undefined) throw new Error("the transfer has no entries on the victim");
    const health = await watchHealth(c, VICTIM);
    try {
      // An attacker with file access changes one character of the transfer's first entry (leaf hash kept).
      editEntryBytes({ dir: c.files.nodeDir(VICTIM), ledgerPath: victimLedger }, index);
      expect(
        entryBytes(victimLedger, index)?.equals(entryBytes(ledgerDbOf(c, "node1"), index) ?? Buffer.alloc(0)),
      ).toBe(false);

      // The victim's own request path meets it first: refused, nothing served.
      const asked = performance.now();
      const refused = await receiver.get(`/api/v1/transfers/${id}`);
      expectCode(refused, 503, "INTEGRITY_FAILURE");

      // …and the node checks itself at once: the repair entry lands long before the 10-minute schedule.
      const [repair] = await waitFor(
        () => {
          const found = repairRecords(victimLedger);
          return Promise.resolve(found.length > 0 ? found : undefined);
        },
        { what: `repair entry on ${VICTIM}`, timeoutMs: 60_000, intervalMs: 200 },
      );
      if (repair === undefined) throw new Error("no repair entry");
      // Printed, not asserted (the machine is shared).
      process.stdout.write(
        `service-tamper-request: repair entry ${Math.round(performance.now() - asked)} ms after the refused request\n`,
      );
      expect(repair.text).toContain(`"node":"${VICTIM}"`);
      expect(repair.text).toContain('"entries"');
      expect(repair.text).not.toContain(`"sourceNode":"${VICTIM}"`);
      await waitFor(
        async () => {
          const fact = await health.fact();
          return fact.state === "healthy" && fact.repairs.at(-1)?.entryIndex === repair.idx
            ? true
            : undefined;
        },
        { what: `${VICTIM} healthy again`, timeoutMs: 60_000, intervalMs: 200 },
      );
      // It went through the quarantine (stopped serving and cosigning) on the way.
      expect(health.states).toContain("quarantined");
      expect(health.states).toContain("repairing");
    } finally {
      await health.stop();
    }
    expect(
      entryBytes(victimLedger, index)?.equals(entryBytes(ledgerDbOf(c, "node1"), index) ?? Buffer.alloc(0)),
    ).toBe(true);

    // The victim serves the transfer again, with the SHA-256 the cluster recorded.
    await c.waitBackend(VICTIM, "UP", 60_000);
    expectStatus(await receiver.get(`/api/v1/transfers/${id}`), 200);
    const got = await downloadStandard(receiver, id);
    if ("refused" in got) throw new Error(`download refused: ${got.refused.status}`);
    for (const name of ["node1", VICTIM]) {
      const recorded = c.serviceDb(name, (db) =>
        db.prepare("SELECT standard_sha256 AS sha FROM transfers WHERE id = ?").get(id),
      ) as { sha: string } | undefined;
      expect([name, sha256Hex(got.bytes)]).toEqual([name, recorded?.sha]);
    }

    // One repair entry, the same on every node; every node's own ledger passes fsck.
    await c.waitSamePosition(ALL);
    const reference = repairRecords(victimLedger);
    expect(reference).toHaveLength(1);
    for (const name of ALL) expect([name, repairRecords(ledgerDbOf(c, name))]).toEqual([name, reference]);
    for (const [name, result] of fsckEach(c, ALL)) expect([name, result.ok]).toEqual([name, true]);
  }, 300_000);
});
