/**
 * A service.db row edit can stop a node's replica, and the row repair starts it again (issue 11). On the
 * whole replicated service (test/support/service-cluster.ts: 3 online `kenshin serve` + the offline
 * node, real etcd, real haproxy), a converted transfer's status is edited to "sent" in one online node's
 * service.db (not the sequencer's, which would refuse the send); then the sender sends it through a
 * healthy node. The sequencer accepts (its row is good), the victim stores the batch's entries and its
 * `transfer.send` finds no "converted" row: its replica stops (CLUSTER_APPLY_FAILED, in its log). Its
 * rolling check finds the row differing from what its applied entries commit to, the repair puts the
 * row back as those entries say ("converted": the send is still to run there), the re-check passes, the
 * replica follows again and applies the send, and only then is the one `repair` entry appended.
 *
 * Before: the repair wrote the row as every stored entry said ("sent", the send's entries included), the
 * re-check — against the applied entries — failed, so the node went round quarantined for ever; and a
 * repair of rows only never started a stopped replica (the node would have looked healthy and not
 * applied the log). Now: the victim ends at the same position, tree size and root as its peers, the new
 * upload after it is downloadable from the victim itself, and its replica never stops again.
 *
 * The second case deletes the row instead (`DELETE FROM transfers WHERE id = ?`): the send stops the
 * victim's replica the same way, and then no peer's row says what the victim's applied entries commit
 * to (the peers applied the send) and there is no local row to rewrite — before, nothing repaired it
 * and the node stayed quarantined. Now the row is re-created from the victim's archived commands with
 * its committed columns from the entries (`archived-transfer-row.ts`), and ends equal, column for
 * column, to the healthy nodes' row; its key and payload rows, never deleted, serve it again.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { ApiClient } from "../../src/client/api-client.js";
import { downloadStandard, uploadExport } from "../../src/client/transfer-client.js";
import { waitFor } from "../../src/cluster/processes/wait.js";
import { sha256Hex, useServiceCluster, type ServiceCluster } from "../support/service-cluster.js";
import { fsckEach, ledgerDbOf, repairRecords, watchHealth } from "../support/tamper-checks.js";
import { EXAMPLE_DIR, firstLogin } from "../support/test-node.js";
import { deleteTransferRow, editTransferRow } from "./damage.js";
import { sequencerOf } from "./tamper-users.js";

process.env["KENSHIN_INTEGRITY_CHECK_MS"] = "3000";
const cluster = useServiceCluster();
const ONLINE = ["node1", "node2", "node3"];
const ALL = [...ONLINE, "backup"];
const STOPPED = "CLUSTER_APPLY_FAILED";

/** How often the node's log says its replica stopped on a batch it could not apply. */
function stopsLogged(c: ServiceCluster, name: string): number {
  const log = readFileSync(join(c.files.nodeDir(name), "node.log"), "utf8");
  return log.split("\n").filter((line) => line.includes(STOPPED)).length;
}

function transferRow(c: ServiceCluster, name: string, id: string): Record<string, unknown> | undefined {
  return c.serviceDb(name, (db) =>
    db
      .prepare(
        "SELECT id, status, sender_id, receiver_id, standard_sha256, records, sent_at FROM transfers WHERE id = ?",
      )
      .get(id),
  ) as Record<string, unknown> | undefined;
}

type Login = Awaited<ReturnType<typeof firstLogin>>;
/** The parties' passwords and device keys once the first login set them (both cases share the cluster). */
let logins: { sender: Login; receiver: Login } | undefined;

/** Logs the parties in: the first time with their temporary passwords, later with the ones set then. */
async function loggedIn(
  c: ServiceCluster,
  sender: ApiClient,
  receiver: ApiClient,
): Promise<{ sender: Login; receiver: Login }> {
  if (logins === undefined) {
    const s = await firstLogin(sender, c.account("sender").loginId, c.account("sender").password);
    const r = await firstLogin(receiver, c.account("receiver").loginId, c.account("receiver").password);
    logins = { sender: s, receiver: r };
    return logins;
  }
  for (const [client, role] of [
    [sender, "sender"],
    [receiver, "receiver"],
  ] as const) {
    client.setDeviceKey(logins[role].deviceKey);
    expect((await client.login(c.account(role).loginId, logins[role].password)).status).toBe(201);
  }
  return logins;
}

async function upload(sender: ApiClient, receiverId: string): Promise<string> {
  const up = await uploadExport(sender, receiverId, readFileSync(join(EXAMPLE_DIR, "export.csv")));
  expect(up.status).toBe(201);
  return (up.json as { transfer: { id: string } }).transfer.id;
}

describe("a row-only repair on a node whose replica the row damage stopped", () => {
  it("puts the row back as the applied entries say, restarts the replica, and the node follows the log again", async () => {
    const c = cluster();
    await c.waitSamePosition(ALL);
    const sequencer = await sequencerOf(c, ONLINE);
    const victim = ONLINE.find((n) => n !== sequencer) ?? "";
    // Users reach a healthy node directly: the victim refuses while quarantined.
    const healthy = sequencer;
    const sender = c.client("sender", { node: healthy });
    const receiver = c.client("receiver", { node: healthy });
    const receiverLogin = (await loggedIn(c, sender, receiver)).receiver;
    const receivers = (await sender.get("/api/v1/receivers")).json as { receivers: { id: string }[] };
    const receiverId = receivers.receivers[0]?.id ?? "";
    const target = { dir: c.files.nodeDir(victim), ledgerPath: ledgerDbOf(c, victim) };
    const victimRepairs = (name: string): { idx: number; text: string }[] =>
      repairRecords(ledgerDbOf(c, name)).filter((r) => r.text.includes(`"node":"${victim}"`));
    const health = await watchHealth(c, victim);
    try {
      // The rolling check may look between the edit and the send (it then repairs the row before the
      // send reaches the victim, and nothing stops): the damage is done again on a new transfer, bounded.
      let damaged: string | undefined;
      let stops = 0;
      let attempts = 0;
      let stoppedAt = 0;
      for (; attempts < 3 && damaged === undefined; attempts++) {
        const id = await upload(sender, receiverId);
        await c.waitSamePosition(ALL);
        const stopsBefore = stopsLogged(c, victim);
        const repairsBefore = victimRepairs(victim).length;
        editTransferRow(target, id, "status = 'sent'");
        expect((await sender.post(`/api/v1/transfers/${id}/send`)).status).toBe(200);
        const seen = await waitFor(
          () => {
            if (stopsLogged(c, victim) > stopsBefore) return Promise.resolve("stopped" as const);
            return Promise.resolve(
              victimRepairs(victim).length > repairsBefore ? ("repaired" as const) : undefined,
            );
          },
          { what: `${victim}: replica stopped or row repaired`, timeoutMs: 30_000, intervalMs: 50 },
        );
        if (seen === "stopped") {
          damaged = id;
          stops = stopsLogged(c, victim);
          stoppedAt = performance.now();
        } else await c.waitSamePosition(ALL);
      }
      if (damaged === undefined) throw new Error("the row damage never met the send on the victim");
      const [repair] = await waitFor(
        () => {
          const found = victimRepairs(victim).filter((r) => r.text.includes(damaged));
          return Promise.resolve(found.length > 0 ? found : undefined);
        },
        { what: `${victim}: repair entry naming the transfer`, timeoutMs: 90_000, intervalMs: 100 },
      );
      if (repair === undefined) throw new Error("no repair entry");
      const repairedMs = Math.round(performance.now() - stoppedAt);
      expect(repair.text).toContain('"transfer-rows"');
      await waitFor(
        async () => {
          const fact = await health.fact();
          return fact.state === "healthy" && fact.repairs.at(-1)?.entryIndex === repair.idx
            ? true
            : undefined;
        },
        { what: `${victim} healthy again`, timeoutMs: 60_000, intervalMs: 200 },
      );
      // The victim applied the send it stopped on (and the repair entry after it), as every node did.
      await c.waitSamePosition(ALL);
      expect(transferRow(c, victim, damaged)).toEqual(transferRow(c, healthy, damaged));
      expect(transferRow(c, victim, damaged)).toMatchObject({ status: "sent" });

      // A new upload after the repair reaches the victim: its batch applied there, its payload served.
      const fresh = await upload(sender, receiverId);
      expect((await sender.post(`/api/v1/transfers/${fresh}/send`)).status).toBe(200);
      await c.waitSamePosition(ALL);
      expect(transferRow(c, victim, fresh)).toEqual(transferRow(c, healthy, fresh));
      const onVictim = c.client("receiver", { node: victim });
      onVictim.setDeviceKey(receiverLogin.deviceKey);
      expect((await onVictim.login(c.account("receiver").loginId, receiverLogin.password)).status).toBe(201);
      const got = await downloadStandard(onVictim, fresh);
      if ("refused" in got) throw new Error(`download from ${victim}: ${got.refused.status}`);
      expect(sha256Hex(got.bytes)).toBe(transferRow(c, healthy, fresh)?.["standard_sha256"]);
      await c.waitSamePosition(ALL);

      // The replica never stopped again; one repair entry for the damage, the same on every node.
      expect(stopsLogged(c, victim)).toBe(stops);
      const reference = victimRepairs(victim);
      expect(reference.filter((r) => r.text.includes(damaged))).toHaveLength(1);
      for (const name of ALL) expect([name, victimRepairs(name)]).toEqual([name, reference]);
      const checks = fsckEach(c, ALL);
      const ref = checks.get(healthy);
      for (const [name, result] of checks) {
        expect([name, result.ok]).toEqual([name, true]);
        if (result.ok && ref?.ok === true) {
          expect([name, result.size, result.root]).toEqual([name, ref.size, ref.root]);
        }
      }
      process.stdout.write(
        `row-repair-replica (check every 3 s): ${victim} stopped on attempt ${attempts}, repair entry ` +
          `${repairedMs} ms after the stop was logged; states ${health.states.join(" → ")}\n`,
      );
    } finally {
      await health.stop();
    }
  }, 360_000);
});

/** Every column of the row (the re-created one must equal the healthy nodes' in the uncommitted ones too). */
function wholeRow(c: ServiceCluster, name: string, id: string): unknown {
  return c.serviceDb(name, (db) => db.prepare("SELECT * FROM transfers WHERE id = ?").get(id));
}

function childRows(c: ServiceCluster, name: string, id: string): { keys: number; chunks: number } {
  return c.serviceDb(name, (db) => ({
    keys: (
      db.prepare("SELECT COUNT(*) AS n FROM transfer_keys WHERE transfer_id = ?").get(id) as { n: number }
    ).n,
    chunks: (
      db.prepare("SELECT COUNT(*) AS n FROM payload_chunks WHERE transfer_id = ?").get(id) as { n: number }
    ).n,
  }));
}

/** Downloads `id` until `stop`, noting each outcome: the bytes' SHA-256, a refusal's status, an error code. */
async function downloadLoop(
  client: ApiClient,
  id: string,
  stop: AbortSignal,
  got: (string | number)[],
): Promise<void> {
  while (!stop.aborted) {
    try {
      const r = await downloadStandard(client, id);
      got.push("refused" in r ? r.refused.status : sha256Hex(r.bytes));
    } catch (error) {
      got.push((error as NodeJS.ErrnoException).code ?? "error");
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe("a transfer row deleted on a node whose replica the deletion then stopped", () => {
  it("re-creates the row from the node's applied entries and commands, and the node rejoins", async () => {
    const c = cluster();
    await c.waitSamePosition(ALL);
    const sequencer = await sequencerOf(c, ONLINE);
    const victim = ONLINE.find((n) => n !== sequencer) ?? "";
    const healthy = sequencer;
    // The first case changed the accounts' passwords and registered their device keys: log in again.
    const sender = c.client("sender", { node: healthy });
    const receiver = c.client("receiver");
    const logins = await loggedIn(c, sender, receiver);
    const receivers = (await sender.get("/api/v1/receivers")).json as { receivers: { id: string }[] };
    const receiverId = receivers.receivers[0]?.id ?? "";
    const target = { dir: c.files.nodeDir(victim), ledgerPath: ledgerDbOf(c, victim) };
    const victimRepairs = (name: string): { idx: number; text: string }[] =>
      repairRecords(ledgerDbOf(c, name)).filter((r) => r.text.includes(`"node":"${victim}"`));
    const health = await watchHealth(c, victim);
    let downloads: { stop: AbortController; run: Promise<void>; got: (string | number)[] } | undefined;
    try {
      let damaged: string | undefined;
      let attempts = 0;
      let stoppedAt = 0;
      for (; attempts < 3 && damaged === undefined; attempts++) {
        const id = await upload(sender, receiverId);
        await c.waitSamePosition(ALL);
        const stopsBefore = stopsLogged(c, victim);
        const repairsBefore = victimRepairs(victim).length;
        const before = childRows(c, victim, id);
        deleteTransferRow(target, id);
        expect(childRows(c, victim, id)).toEqual(before);
        expect((await sender.post(`/api/v1/transfers/${id}/send`)).status).toBe(200);
        // The receiver downloads it through haproxy from the send on, all along the repair.
        const stop = new AbortController();
        const got: (string | number)[] = [];
        const run = downloadLoop(receiver, id, stop.signal, got);
        const seen = await waitFor(
          () => {
            if (stopsLogged(c, victim) > stopsBefore) return Promise.resolve("stopped" as const);
            return Promise.resolve(
              victimRepairs(victim).length > repairsBefore ? ("repaired" as const) : undefined,
            );
          },
          { what: `${victim}: replica stopped or row repaired`, timeoutMs: 30_000, intervalMs: 50 },
        );
        if (seen === "stopped") {
          damaged = id;
          stoppedAt = performance.now();
          downloads = { stop, run, got };
        } else {
          stop.abort();
          await run;
          await c.waitSamePosition(ALL);
        }
      }
      if (damaged === undefined) throw new Error("the row deletion never met the send on the victim");
      const recorded = transferRow(c, healthy, damaged)?.["standard_sha256"];
      const id = damaged;
      const [repair] = await waitFor(
        () => {
          const found = victimRepairs(victim).filter((r) => r.text.includes(id));
          return Promise.resolve(found.length > 0 ? found : undefined);
        },
        { what: `${victim}: repair entry naming the transfer`, timeoutMs: 90_000, intervalMs: 100 },
      );
      if (repair === undefined) throw new Error("no repair entry");
      const repairedMs = Math.round(performance.now() - stoppedAt);
      expect(repair.text).toContain('"transfer-rows"');
      await waitFor(
        async () => {
          const fact = await health.fact();
          return fact.state === "healthy" && fact.repairs.at(-1)?.entryIndex === repair.idx
            ? true
            : undefined;
        },
        { what: `${victim} healthy again`, timeoutMs: 60_000, intervalMs: 200 },
      );
      // Downloads append entries: stopped before the nodes are compared.
      downloads?.stop.abort();
      await downloads?.run;
      const outcomes = downloads?.got ?? [];
      await c.waitSamePosition(ALL);
      // Re-created as the victim applied it, then moved on by the send (and downloads) it had stopped on.
      expect(wholeRow(c, victim, id)).toEqual(wholeRow(c, healthy, id));
      expect(childRows(c, victim, id)).toEqual(childRows(c, healthy, id));
      const onVictim = c.client("receiver", { node: victim });
      onVictim.setDeviceKey(logins.receiver.deviceKey);
      expect((await onVictim.login(c.account("receiver").loginId, logins.receiver.password)).status).toBe(
        201,
      );
      const got = await downloadStandard(onVictim, id);
      if ("refused" in got) throw new Error(`download from ${victim}: ${got.refused.status}`);
      expect(sha256Hex(got.bytes)).toBe(recorded);
      // Whatever a download through haproxy returned as bytes is the recorded file.
      const served = outcomes.filter((d) => typeof d === "string" && /^[0-9a-f]{64}$/.test(d));
      expect(served.length).toBeGreaterThan(0);
      for (const d of served) expect(d).toBe(recorded);

      const reference = victimRepairs(victim);
      expect(reference.filter((r) => r.text.includes(id))).toHaveLength(1);
      await c.waitSamePosition(ALL);
      for (const name of ALL) expect([name, victimRepairs(name)]).toEqual([name, reference]);
      const checks = fsckEach(c, ALL);
      for (const [name, result] of checks) expect([name, result.ok]).toEqual([name, true]);
      const others = outcomes.filter((d) => !served.includes(d as string));
      process.stdout.write(
        `row-repair-replica, row deleted (check every 3 s): ${victim} stopped on attempt ${attempts}, repair ` +
          `entry ${repairedMs} ms after the stop was logged; downloads through haproxy: ${served.length} ` +
          `with the recorded hash, others [${others.join(", ")}]; states ${health.states.join(" → ")}\n`,
      );
    } finally {
      downloads?.stop.abort();
      await downloads?.run;
      await health.stop();
    }
  }, 360_000);
});
