/**
 * The KEK of a cluster (the real CLI from dist/).
 *
 * `kenshin keys rotate` on one node (on the material `kenshin cluster init` writes): refused with
 * DATA_KEY_KEK_SHARED before anything is opened. The online nodes share one KEK — the uploading node
 * wraps a data key once and every node stores those bytes from the payload's manifest — so a KEK replaced
 * on one node alone would leave the others unable to read what it uploads next. Nothing changes: the KEK
 * file is the same bytes, no `kek.key.new`, no database is made, no cluster member is started.
 *
 * `kenshin keys rotate-cluster` on the whole replicated service (test/support/service-cluster.ts: 3
 * `kenshin serve` + the offline node on real etcd 3.4, real haproxy): with node1's serve stopped (the
 * command goes through node1's port) and node3 down since before an upload it missed, one new KEK on
 * every online node, the `kek.rotate` command applied by the three running nodes and by node3 once it
 * starts and catches up (the command says it is pending meanwhile). Afterwards the old KEK's bytes are in no node's key file, every key row of every node is
 * under the new KEK (the offline node's fetched re-wrapped from a peer: they open under the new KEK and
 * not under the old one, and its copy of each live payload decrypts to the recorded SHA-256), every live
 * payload downloads with its recorded hash from each online node, the discarded transfer stays
 * unreadable, and a new upload works and reaches every node under the new KEK.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiClient, type ApiClient } from "../../src/client/api-client.js";
import { downloadStandard, uploadExport } from "../../src/client/transfer-client.js";
import { clusterFiles, initCluster } from "../../src/cluster/cluster-init.js";
import { freePorts } from "../../src/cluster/processes/free-ports.js";
import { waitFor } from "../../src/cluster/processes/wait.js";
import type { Kek } from "../../src/crypto/data-keys.js";
import { loadKek } from "../../src/crypto/kek-file.js";
import { dataPaths } from "../../src/service/data-dir.js";
import { readPayload } from "../../src/store/payload-store.js";
import { sha256Hex, useServiceCluster } from "../support/service-cluster.js";
import { EXAMPLE_DIR, expectStatus, firstLogin } from "../support/test-node.js";

const CLI = join(process.cwd(), "dist/cli/main.js");
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "kenshin-keys-cluster-"));
  const ports = await freePorts(1 + 4 * 4);
  await initCluster({
    dir,
    online: 3,
    offline: 1,
    ports: { frontend: ports[0] ?? 0, nodes: [0, 1, 2, 3].map((i) => ports.slice(1 + 4 * i, 5 + 4 * i)) },
  });
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function rotate(nodeDir: string): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, "keys", "rotate", "--data", nodeDir], {
    encoding: "utf8",
    timeout: 60_000,
  });
  return { status: r.status, stderr: r.stderr };
}

describe("kenshin keys rotate on a cluster node", () => {
  it("is refused on an online node (DATA_KEY_KEK_SHARED) and changes nothing", () => {
    const node1 = clusterFiles(dir).nodeDir("node1");
    const paths = dataPaths(node1);
    const kek = readFileSync(paths.kek);
    const r = rotate(node1);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("DATA_KEY_KEK_SHARED");
    expect(r.stderr).toContain("鍵暗号化鍵");
    expect(readFileSync(paths.kek).equals(kek)).toBe(true);
    expect(existsSync(`${paths.kek}.new`)).toBe(false);
    expect(existsSync(paths.serviceDb)).toBe(false);
    // The other online nodes still hold the very same KEK.
    for (const name of ["node2", "node3"]) {
      expect(readFileSync(dataPaths(clusterFiles(dir).nodeDir(name)).kek).equals(kek)).toBe(true);
    }
  });

  it("is refused on the offline node, which never holds a KEK (none is made)", () => {
    const backup = clusterFiles(dir).nodeDir("backup");
    const r = rotate(backup);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("DATA_KEY_KEK_SHARED");
    expect(existsSync(dataPaths(backup).kek)).toBe(false);
  });
});

describe("kenshin keys rotate-cluster refusals before anything is ordered", () => {
  const kekOf = (name: string): string => dataPaths(clusterFiles(dir).nodeDir(name)).kek;
  const rotateCluster = (): { status: number | null; stderr: string } => {
    const r = spawnSync(process.execPath, [CLI, "keys", "rotate-cluster", "--cluster", dir], {
      encoding: "utf8",
      timeout: 60_000,
    });
    return { status: r.status, stderr: r.stderr };
  };
  const pendingOn = (): string[] => ["node1", "node2", "node3"].filter((n) => existsSync(`${kekOf(n)}.new`));

  it("when the online nodes' KEKs differ → DATA_KEY_KEK_SHARED, no new key placed", () => {
    const kept = readFileSync(kekOf("node2"));
    writeFileSync(kekOf("node2"), `${Buffer.alloc(32, 7).toString("base64")}\n`, { mode: 0o600 });
    try {
      const r = rotateCluster();
      expect(r.status).toBe(2);
      expect(r.stderr).toContain("DATA_KEY_KEK_SHARED");
      expect(pendingOn()).toEqual([]);
    } finally {
      writeFileSync(kekOf("node2"), kept, { mode: 0o600 });
    }
  });

  it("when a rotation is pending on one node already → DATA_KEY_KEK_ROTATING, none placed on the others", () => {
    writeFileSync(`${kekOf("node3")}.new`, `${Buffer.alloc(32, 9).toString("base64")}\n`, { mode: 0o600 });
    try {
      const r = rotateCluster();
      expect(r.status).toBe(2);
      expect(r.stderr).toContain("DATA_KEY_KEK_ROTATING");
      expect(pendingOn()).toEqual(["node3"]);
    } finally {
      rmSync(`${kekOf("node3")}.new`);
    }
  });
});

const cluster = useServiceCluster();
const ONLINE = ["node1", "node2", "node3"];
const ALL = [...ONLINE, "backup"];

function runCli(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString("utf8")));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
    const timer = setTimeout(() => child.kill("SIGKILL"), 180_000);
    child.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

async function decrypt(db: Database.Database, kek: Kek, id: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const part of readPayload(db, kek, id, "standard")) hash.update(part);
  return hash.digest("hex");
}

describe("kenshin keys rotate-cluster on the replicated service", () => {
  it("re-wraps every node's keys under one new KEK and destroys the old one everywhere", async () => {
    const c = cluster();
    const body = readFileSync(join(EXAMPLE_DIR, "export.csv"));
    const sender = c.client("sender");
    const receiver = c.client("receiver");
    await firstLogin(sender, c.account("sender").loginId, c.account("sender").password);
    const receiverLogin = await firstLogin(
      receiver,
      c.account("receiver").loginId,
      c.account("receiver").password,
    );
    const receivers = (await sender.get("/api/v1/receivers")).json as { receivers: { id: string }[] };
    const receiverId = receivers.receivers[0]?.id ?? "";
    const upload = async (): Promise<{ id: string; sha256: string }> => {
      const up = await uploadExport(sender, receiverId, body);
      expectStatus(up, 201);
      const t = (up.json as { transfer: { id: string; standard: { sha256: string } } }).transfer;
      return { id: t.id, sha256: t.standard.sha256 };
    };
    const live = await upload();
    expectStatus(await sender.post(`/api/v1/transfers/${live.id}/send`), 200);
    const gone = await upload();
    expectStatus(await sender.post(`/api/v1/transfers/${gone.id}/discard`), 200);
    await c.waitSamePosition(ALL);
    // node3 is down from here across the rotation: it misses `late`'s payload, fetches it after the
    // rotation and must take its key re-wrapped from a peer, not from the manifest (old KEK).
    await c.kill9Node("node3");
    const late = await upload();
    expectStatus(await sender.post(`/api/v1/transfers/${late.id}/send`), 200);
    await c.waitSamePosition(["node1", "node2", "backup"]);

    const kekFile = (name: string): string => dataPaths(c.files.nodeDir(name)).kek;
    const oldBytes = readFileSync(kekFile("node1"));
    const oldKekPath = join(c.dir, "..", "old-kek.key");
    writeFileSync(oldKekPath, oldBytes, { mode: 0o600 });
    const oldKek = await loadKek(oldKekPath);
    const keyRows = (name: string): { transfer_id: string; kek_id: string; wrapped_key: Buffer }[] =>
      c.serviceDb(
        name,
        (db) =>
          db.prepare("SELECT transfer_id, kek_id, wrapped_key FROM transfer_keys").all() as {
            transfer_id: string;
            kek_id: string;
            wrapped_key: Buffer;
          }[],
      );
    for (const name of ["node1", "node2", "backup"]) {
      expect([name, keyRows(name).map((r) => r.kek_id)]).toEqual([name, [oldKek.id, oldKek.id]]);
    }

    // node1's serve stops; the operator's command goes through node1's port.
    await c.kill9Node("node1");
    const r = await runCli([
      "keys",
      "rotate-cluster",
      "--cluster",
      c.dir,
      "--via",
      "node1",
      "--wait-ms",
      "5000",
    ]);
    // node3 still holds the new key beside the old one: exit 1, named as pending.
    expect([r.status, r.stderr]).toEqual([1, ""]);
    const result = JSON.parse(r.stdout) as {
      oldKekId: string;
      newKekId: string;
      rotated: string[];
      pending: string[];
    };
    expect(result.oldKekId).toBe(oldKek.id);
    expect(result.newKekId).not.toBe(oldKek.id);
    expect(result.rotated).toEqual(["node1", "node2"]);
    expect(result.pending).toEqual(["node3"]);
    expect(existsSync(`${kekFile("node3")}.new`)).toBe(true);
    c.startNode("node1");
    c.startNode("node3");
    for (const name of ONLINE) await c.waitBackend(name, "UP", 120_000);
    await waitFor(() => Promise.resolve(existsSync(`${kekFile("node3")}.new`) ? undefined : true), {
      what: "node3 finished its rotation",
      timeoutMs: 60_000,
      intervalMs: 250,
    });

    // The old KEK is gone from every online node; they all hold the same new one. The offline node
    // has none.
    const newBytes = readFileSync(kekFile("node1"));
    const newKek = await loadKek(kekFile("node1"));
    expect(newKek.id).toBe(result.newKekId);
    for (const name of ONLINE) {
      expect([name, readFileSync(kekFile(name)).equals(newBytes)]).toEqual([name, true]);
      expect([name, existsSync(`${kekFile(name)}.new`)]).toEqual([name, false]);
    }
    expect(existsSync(kekFile("backup"))).toBe(false);

    // Every node's rows under the new KEK: the offline node's come from a peer (bounded wait).
    for (const name of ALL) {
      await waitFor(
        () => Promise.resolve(keyRows(name).every((k) => k.kek_id === newKek.id) ? true : undefined),
        { what: `${name}'s keys under the new KEK`, timeoutMs: 60_000, intervalMs: 250 },
      );
      const rows = keyRows(name);
      expect([name, rows.map((k) => k.transfer_id).sort()]).toEqual([name, [live.id, late.id].sort()]);
      for (const k of rows) {
        expect(() => newKek.unwrap(k.wrapped_key, k.transfer_id)).not.toThrow();
        expect(() => oldKek.unwrap(k.wrapped_key, k.transfer_id)).toThrow();
      }
      // The rotation is a `key.rotate` entry with its `kek.rotate` command in every node's log.
      const batches = c.serviceDb(name, (db) =>
        (db.prepare("SELECT batch FROM cluster_batches").all() as { batch: string }[]).map((b) => b.batch),
      );
      expect([name, batches.some((b) => b.includes('"kek.rotate"') && b.includes('"key.rotate"'))]).toEqual([
        name,
        true,
      ]);
    }
    // The offline node's own copy decrypts under the new KEK (what a drill from it would restore).
    const backupDb = new Database(join(c.files.nodeDir("backup"), "service.db"), { readonly: true });
    try {
      for (const t of [live, late]) expect(await decrypt(backupDb, newKek, t.id)).toBe(t.sha256);
    } finally {
      backupDb.close();
    }

    // A new upload after the rotation, through haproxy: stored under the new KEK on every node.
    const after = await upload();
    expectStatus(await sender.post(`/api/v1/transfers/${after.id}/send`), 200);
    await c.waitSamePosition(ALL);
    for (const name of ALL) {
      const row = await waitFor(
        () => Promise.resolve(keyRows(name).find((k) => k.transfer_id === after.id)),
        { what: `${after.id}'s key on ${name}`, timeoutMs: 60_000, intervalMs: 250 },
      );
      expect([name, row.kek_id]).toEqual([name, newKek.id]);
    }

    // Every live payload downloads from each online node with its recorded hash; the discarded one not.
    const a = c.account("receiver");
    const clients: ApiClient[] = [];
    try {
      for (const node of ONLINE) {
        const rc = createApiClient({
          baseUrl: c.nodeUrl(node),
          caPem: c.caPem,
          certPem: readFileSync(a.certificate, "utf8"),
          keyPem: readFileSync(a.key, "utf8"),
          timeoutMs: 30_000,
        });
        clients.push(rc);
        rc.setDeviceKey(receiverLogin.deviceKey);
        expect((await rc.login(a.loginId, receiverLogin.password)).status).toBe(201);
        for (const t of [live, late, after]) {
          const d = await downloadStandard(rc, t.id);
          if ("refused" in d) throw new Error(`download refused on ${node}: ${d.refused.status}`);
          expect([node, sha256Hex(d.bytes)]).toEqual([node, t.sha256]);
        }
        expect([node, "refused" in (await downloadStandard(rc, gone.id))]).toEqual([node, true]);
      }
    } finally {
      for (const rc of clients) rc.close();
    }
  }, 600_000);
});
