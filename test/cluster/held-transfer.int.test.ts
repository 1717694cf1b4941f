/**
 * A held transfer says so, through the whole replicated service (test/support/service-cluster.ts: 3 real
 * `kenshin serve` nodes + the offline node, real etcd and haproxy). One payload chunk is zeroed in node2's
 * chunks.db under the running node; its rolling full check finds it and repairs it while it keeps
 * serving (`repairWhileServing`: only that transfer is held). So that the hold lasts long enough to be
 * seen, node1 and node3 — the peers node2 asks first, each with a good copy — are stopped (SIGSTOP) for
 * the moment: each fetch from them waits for its timeout (5 s), and the offline node, asked last, has
 * the good copy. Meanwhile node2's list and detail say `repairing: true` for both parties (its
 * downloads answer 503 TRANSFER_REPAIRING then: test/transfer-damaged.int.test.ts; not asked here, a
 * refusal is a denial entry, which waits for an ordering while two nodes are stopped); once the peers go
 * on (SIGCONT) the chunk is repaired and the transfer is `repairing: false` and downloads with its
 * recorded hash from node2. If the test is
 * late, the repair still succeeds from the offline node (nothing is marked damaged): the test fails,
 * it does not break the cluster.
 */
import Database from "better-sqlite3";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { ApiClient } from "../../src/client/api-client.js";
import { downloadStandard, uploadExport } from "../../src/client/transfer-client.js";
import { nodeFiles } from "../../src/cluster/cluster-init.js";
import { waitFor } from "../../src/cluster/processes/wait.js";
import type { TransferView } from "../../src/service/transfers/view.js";
import { sha256Hex, useServiceCluster } from "../support/service-cluster.js";
import { loggedInClients, repairRecords } from "../support/tamper-checks.js";
import { EXAMPLE_DIR, expectStatus, firstLogin } from "../support/test-node.js";

// The serving nodes inherit the environment: a full check of each copy every 1.5 s.
process.env["KENSHIN_INTEGRITY_CHECK_MS"] = "1500";
const cluster = useServiceCluster();
const loggedIn = loggedInClients(cluster);
const ALL = ["node1", "node2", "node3", "backup"];
const VICTIM = "node2";
const PAUSED = ["node1", "node3"];

describe("a transfer held on one node while its chunk is repaired", () => {
  it("node2's list and detail say repairing for both parties while it fetches the chunk; then repaired, not repairing, served with its hash", async () => {
    const c = cluster();
    const sender = await loggedIn("sender");
    // The receiver's device key too: its download below goes straight to node2.
    const receiver = c.client("receiver");
    const { deviceKey } = await firstLogin(
      receiver,
      c.account("receiver").loginId,
      c.account("receiver").password,
    );
    const receivers = (await sender.get("/api/v1/receivers")).json as { receivers: { id: string }[] };
    const up = await uploadExport(
      sender,
      receivers.receivers[0]?.id ?? "",
      readFileSync(join(EXAMPLE_DIR, "export.csv")),
    );
    expectStatus(up, 201);
    const id = (up.json as { transfer: TransferView }).transfer.id;
    expectStatus(await sender.post(`/api/v1/transfers/${id}/send`), 200);
    await c.waitSamePosition(ALL);
    const standard = ((await sender.get(`/api/v1/transfers/${id}`)).json as { transfer: TransferView })
      .transfer.standard;

    // Both parties straight on node2 (their sessions are replicated), not through haproxy.
    const direct = (client: ApiClient, role: "sender" | "receiver") => {
      const d = c.client(role, { node: VICTIM });
      const cookie = { cookie: `__Host-kenshin_session=${client.session.token ?? ""}` };
      return {
        detail: async (): Promise<TransferView> => {
          const r = await d.request("GET", `/api/v1/transfers/${id}`, { headers: cookie });
          expectStatus(r, 200);
          return (r.json as { transfer: TransferView }).transfer;
        },
        listed: async (): Promise<TransferView | undefined> => {
          const r = await d.request("GET", "/api/v1/transfers", { headers: cookie });
          expectStatus(r, 200);
          return (r.json as { transfers: TransferView[] }).transfers.find((t) => t.id === id);
        },
      };
    };
    const parties = [direct(sender, "sender"), direct(receiver, "receiver")];
    for (const p of parties) expect(await p.detail()).toMatchObject({ repairing: false, damaged: false });

    const address = c.serviceDb(
      VICTIM,
      (db) =>
        (
          db
            .prepare(
              "SELECT address FROM cluster_payload_refs WHERE transfer_id = ? AND manifest = 0 LIMIT 1",
            )
            .get(id) as { address: string } | undefined
        )?.address,
    );
    expect(address).toMatch(/^[0-9a-f]{64}$/);
    const repairsBefore = repairRecords(join(c.files.nodeDir(VICTIM), "ledger.db")).length;

    const pids = PAUSED.map((name) => {
      const pid = c.nodeProcess(name)?.pid;
      if (pid === undefined) throw new Error(`no process for ${name}`);
      return pid;
    });
    let paused = false;
    try {
      for (const pid of pids) process.kill(pid, "SIGSTOP");
      paused = true;
      const db = new Database(nodeFiles(c.files.nodeDir(VICTIM)).chunks);
      try {
        db.pragma("busy_timeout = 5000");
        const changed = db
          .prepare("UPDATE chunks SET bytes = zeroblob(length(bytes)) WHERE address = ?")
          .run(address).changes;
        expect(changed).toBe(1);
      } finally {
        db.close();
      }
      // Found by the next full check and held while node2 asks its stopped peers.
      await waitFor(async () => ((await parties[1]?.detail())?.repairing === true ? true : undefined), {
        what: `${id} shown as repairing on ${VICTIM}`,
        timeoutMs: 30_000,
        intervalMs: 100,
      });
      for (const p of parties) {
        expect(await p.detail()).toMatchObject({ repairing: true, damaged: false });
        expect(await p.listed()).toMatchObject({ repairing: true, damaged: false });
      }
    } finally {
      if (paused) for (const pid of pids) process.kill(pid, "SIGCONT");
    }

    // Repaired from a peer (a repair entry on node2), released, served with its recorded hash.
    await waitFor(
      async () => {
        const done = repairRecords(join(c.files.nodeDir(VICTIM), "ledger.db")).length > repairsBefore;
        return done && (await parties[1]?.detail())?.repairing === false ? true : undefined;
      },
      { what: `${id} repaired on ${VICTIM}`, timeoutMs: 90_000, intervalMs: 250 },
    );
    for (const p of parties) {
      expect(await p.detail()).toMatchObject({ repairing: false, damaged: false });
      expect(await p.listed()).toMatchObject({ repairing: false, damaged: false });
    }
    const receiverOnVictim = c.client("receiver", { node: VICTIM });
    receiverOnVictim.setDeviceKey(deviceKey);
    receiverOnVictim.session.token = receiver.session.token;
    receiverOnVictim.session.csrfToken = receiver.session.csrfToken;
    const got = await downloadStandard(receiverOnVictim, id);
    if ("refused" in got) throw new Error(`refused: ${got.refused.status}`);
    expect({ sha256: sha256Hex(got.bytes), bytes: got.bytes.length }).toEqual(standard);
  }, 300_000);
});
