/**
 * The whole replicated service through haproxy (test/support/service-cluster.ts: 3 real `kenshin
 * serve` nodes + the offline node, real etcd 3.4, real haproxy in TLS pass-through): a clinic uploads
 * and sends, an insurer downloads and confirms receipt, all through the one frontend address, while the
 * online node serving them is SIGKILLed. Afterwards every operation that was acknowledged with a 2xx is
 * there on every node (the offline one included, which holds the payload as ciphertext and no KEK),
 * every acknowledged upload downloads with its recorded hash from each surviving node, the killed node
 * catches up by itself on restart to the same log position, and every node's ledger passes fsck.
 */
import { existsSync, readFileSync, readdirSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import type { ApiClient } from "../../src/client/api-client.js";
import { downloadStandard, uploadExport } from "../../src/client/transfer-client.js";
import { fsck } from "../../src/ledger/fsck.js";
import { parseVerifierKey } from "../../src/ledger/verify/verifier-key.js";
import { openSqliteLog } from "../../src/store/sqlite-log.js";
import { sha256Hex, useServiceCluster } from "../support/service-cluster.js";
import { EXAMPLE_DIR, firstLogin } from "../support/test-node.js";

const cluster = useServiceCluster();
const ALL = ["node1", "node2", "node3", "backup"];

/** One operation; a transport failure (the node died under it) is an unacknowledged attempt. */
async function attempt(op: () => Promise<{ status: number; json?: unknown }>): Promise<unknown> {
  try {
    const r = await op();
    return r.status >= 200 && r.status < 300 ? (r.json ?? true) : undefined;
  } catch {
    return undefined;
  }
}

/** TCP ports a process listens on (from /proc: its socket inodes among the LISTEN sockets). */
function listeningPorts(pid: number): number[] {
  const inodes = new Set(
    readdirSync(`/proc/${pid}/fd`)
      .map((fd) => {
        try {
          return /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
        } catch {
          return undefined;
        }
      })
      .filter((x): x is string => x !== undefined),
  );
  const ports: number[] = [];
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of readFileSync(table, "utf8").split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[3] === "0A" && inodes.has(cols[9] ?? "")) {
        ports.push(parseInt((cols[1] ?? ":0").split(":")[1] ?? "0", 16));
      }
    }
  }
  return ports;
}

describe("the replicated service through haproxy, one online node SIGKILLed mid-burst", () => {
  it("keeps every acknowledged upload, send and receipt on every node; the killed node catches up", async () => {
    const c = cluster();
    const body = readFileSync(join(EXAMPLE_DIR, "export.csv"));
    const sender = c.client("sender");
    const receiver = c.client("receiver");
    await firstLogin(sender, c.account("sender").loginId, c.account("sender").password);
    const r = await firstLogin(receiver, c.account("receiver").loginId, c.account("receiver").password);
    const receivers = (await sender.get("/api/v1/receivers")).json as { receivers: { id: string }[] };
    const receiverId = receivers.receivers[0]?.id ?? "";

    // A session opened through haproxy works on every node, asked directly.
    const token = sender.session.token ?? "";
    for (const name of ["node1", "node2", "node3"]) {
      const direct = c.client("sender", { node: name });
      const got = await direct.request("GET", "/api/v1/session", {
        headers: { cookie: `__Host-kenshin_session=${token}` },
      });
      expect([name, got.status]).toEqual([name, 200]);
    }

    const uploaded: string[] = [];
    const sent: string[] = [];
    const received: string[] = [];
    const upload = async (): Promise<void> => {
      const json = (await attempt(() => uploadExport(sender, receiverId, body))) as
        { transfer: { id: string } } | undefined;
      if (json !== undefined) uploaded.push(json.transfer.id);
    };
    await upload();
    await upload();
    const victim = await c.busiest();
    expect(["node1", "node2", "node3"]).toContain(victim);
    // The node serving this clinic dies while its next upload is in flight.
    const inFlight = upload();
    await sleep(30);
    await c.kill9Node(victim);
    await inFlight;
    await c.waitBackend(victim, "DOWN");
    for (let i = 0; i < 3; i++) await upload();
    for (const id of uploaded) {
      if ((await attempt(() => sender.post(`/api/v1/transfers/${id}/send`))) !== undefined) sent.push(id);
    }
    for (const id of sent) {
      const got = await downloadStandard(receiver, id).catch(() => undefined);
      if (got === undefined || "refused" in got) continue;
      if ((await attempt(() => receiver.post(`/api/v1/transfers/${id}/receipt`))) !== undefined) {
        received.push(id);
      }
    }
    expect(uploaded.length).toBeGreaterThanOrEqual(5);
    expect(sent.length).toBe(uploaded.length);
    expect(received.length).toBe(sent.length);

    // The killed node comes back and catches up by itself.
    c.startNode(victim);
    await c.waitBackend(victim, "UP", 120_000);
    await c.waitSamePosition(ALL);

    const rows = new Map<string, string>();
    for (const name of ALL) {
      const seen = c.serviceDb(name, (db) => {
        const out: Record<string, { status: string; sha: string; chunks: string; key: number }> = {};
        for (const id of uploaded) {
          const t = db
            .prepare("SELECT status, standard_sha256 AS sha FROM transfers WHERE id = ?")
            .get(id) as { status: string; sha: string } | undefined;
          const blobs = db
            .prepare(
              "SELECT nonce, ciphertext FROM payload_chunks WHERE transfer_id = ? AND kind = 'standard' ORDER BY seq",
            )
            .all(id) as { nonce: Buffer; ciphertext: Buffer }[];
          const key = (
            db.prepare("SELECT count(*) AS n FROM transfer_keys WHERE transfer_id = ?").get(id) as {
              n: number;
            }
          ).n;
          out[id] = {
            status: t?.status ?? "missing",
            sha: t?.sha ?? "",
            chunks: sha256Hex(Buffer.concat(blobs.flatMap((b) => [b.nonce, b.ciphertext]))),
            key,
          };
        }
        return out;
      });
      for (const id of uploaded) {
        expect([name, id, seen[id]?.status]).toEqual([name, id, received.includes(id) ? "received" : "sent"]);
        expect(seen[id]?.key).toBe(1);
      }
      rows.set(name, JSON.stringify(seen));
    }
    // The same rows, the same ciphertext, on all four nodes (each built from the log, not copied).
    expect(new Set(rows.values()).size).toBe(1);
    // The offline node keeps ciphertext only: no KEK, and no user-facing listener (its peer port only).
    const backupDir = c.files.nodeDir("backup");
    expect(existsSync(join(backupDir, "keys", "kek.key"))).toBe(false);
    const backupPid = c.nodeProcess("backup")?.pid ?? 0;
    const backupNode = c.topology.nodes.find((n) => n.name === "backup");
    expect(listeningPorts(backupPid)).toEqual([backupNode?.ports.peer]);

    // Every acknowledged upload downloads with its recorded hash from each online node.
    const recorded = JSON.parse(rows.get("node1") ?? "{}") as Record<string, { sha: string }>;
    for (const name of ["node1", "node2", "node3"]) {
      const direct: ApiClient = c.client("receiver", { node: name });
      direct.setDeviceKey(r.deviceKey);
      expect((await direct.login(c.account("receiver").loginId, r.password)).status).toBe(201);
      for (const id of uploaded) {
        const got = await downloadStandard(direct, id);
        if ("refused" in got) throw new Error(`${name} refused ${id}: ${got.refused.text}`);
        expect([name, id, sha256Hex(got.bytes)]).toEqual([name, id, recorded[id]?.sha]);
      }
    }

    // Same tree on every node, and each node's own ledger passes fsck.
    const logKey = parseVerifierKey(readFileSync(c.files.logVerifierKey, "utf8").trim());
    await c.waitSamePosition(ALL);
    for (const name of ALL) {
      const storage = openSqliteLog(join(c.files.nodeDir(name), "ledger.db"));
      try {
        expect([name, fsck(storage, logKey).ok]).toEqual([name, true]);
      } finally {
        storage.close();
      }
    }
  }, 420_000);
});
