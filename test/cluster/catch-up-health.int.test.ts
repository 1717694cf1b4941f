/**
 * A node that is catching up does not serve users (cluster/serving-state.ts over server/quarantine-gate.ts):
 * the real server over TLS 1.3, its serving state made of a real NodeHealth and a real presence publisher
 * on a real etcd (node-presence.ts: the rule monitoring shows), fed the facts a node learns — its lag
 * behind the log head, the quorum probe's answer — as cluster-node.ts feeds them.
 *
 * - lag far above `caughtUpLag` with the head readable: presence "catching-up" in etcd, new connections
 *   refused (haproxy's check fails and its connect goes to another node), a request on a connection
 *   still open answered 503 CLUSTER_CATCHING_UP with Connection: close and Retry-After;
 * - no majority (the survivor of two nodes down; the head cannot be read): "read-only", and it serves;
 * - near the head again: it listens on the same port and answers 200;
 * - a copy that failed a check while behind: CLUSTER_QUARANTINED (integrity first).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import https from "node:https";
import { connect, type TLSSocket } from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NodeHealth } from "../../src/cluster/integrity/node-health.js";
import {
  publishPresence,
  readPresence,
  type PresenceFacts,
  type PresencePublisher,
} from "../../src/cluster/node-presence.js";
import { waitFor } from "../../src/cluster/processes/wait.js";
import { servingState } from "../../src/cluster/serving-state.js";
import { startServer, type RunningServer } from "../../src/server/serve.js";
import { createDemo } from "../../src/service/demo.js";
import { useEtcdCluster } from "./etcd-suite.js";
import { EXAMPLE_DIR } from "../support/test-node.js";

const HOST = "127.0.0.1";
const PREFIX = "catch-up-health/";
const etcd = useEtcdCluster();
let dir: string;
let server: RunningServer | undefined;
let health: NodeHealth;
let presence: PresencePublisher;
let facts: PresenceFacts = { quorum: true };
let tlsOptions: { ca: string; cert: string; key: string };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "kenshin-catch-up-"));
  const demo = await createDemo(dir, {
    port: 0,
    host: HOST,
    exampleMapping: join(EXAMPLE_DIR, "mapping.yaml"),
  });
  health = new NodeHealth({ now: () => new Date() });
  presence = publishPresence(etcd.cluster().client(), {
    prefix: PREFIX,
    node: "node1",
    role: "online",
    facts: () => ({ ...facts, health: health.state }),
    refreshMs: 200,
  });
  const serving = servingState({ integrity: health, presence });
  server = await startServer(dir, { port: 0, host: HOST, env: {}, nodeHealth: serving });
  const office = demo.accounts.find((a) => a.role === "office");
  if (office === undefined) throw new Error("no office account");
  tlsOptions = {
    ca: readFileSync(demo.caCertificate, "utf8"),
    cert: readFileSync(office.certificate, "utf8"),
    key: readFileSync(office.key, "utf8"),
  };
}, 60_000);

afterAll(async () => {
  await server?.close();
  await presence.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** `GET /api/v1/health` on a new connection: its status, or the transport error's code. */
function health200(): Promise<number | string> {
  return new Promise((resolve) => {
    const req = https.request(
      {
        host: HOST,
        port: server?.port,
        path: "/api/v1/health",
        ...tlsOptions,
        agent: false,
        timeout: 10_000,
      },
      (res) => {
        res.resume();
        res.on("end", () => {
          resolve(res.statusCode ?? 0);
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (error: NodeJS.ErrnoException) => {
      resolve(error.code ?? "error");
    });
    req.end();
  });
}

/** A TLS connection to the server, handshake done, no request sent yet. */
function openConnection(): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: HOST, port: server?.port ?? 0, servername: "localhost", ...tlsOptions });
    socket.once("secureConnect", () => {
      resolve(socket);
    });
    socket.once("error", reject);
  });
}

/** Writes `request` on the connection and reads until the server closes it (bounded). */
function exchange(socket: TLSSocket, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = "";
    const timer = setTimeout(() => socket.destroy(new Error("no close within 10 s")), 10_000);
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => (got += d));
    socket.once("error", reject);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve(got);
    });
    socket.write(request);
  });
}

/** New facts, as the lag sampler and the quorum probe give them; waits until `/health` says `want`. */
async function learn(next: PresenceFacts, want: number | string): Promise<void> {
  facts = next;
  await presence.refresh();
  await waitFor(async () => ((await health200()) === want ? true : undefined), {
    what: `/health ${String(want)}`,
    timeoutMs: 10_000,
    intervalMs: 50,
  });
}

const stateInEtcd = async (): Promise<string | undefined> =>
  (await readPresence(etcd.cluster().client(), PREFIX))["node1"]?.state;

describe("a catching-up node leaves haproxy's pool until it is near the head", () => {
  it("serves while the head cannot be read yet, though its presence starts catching-up", async () => {
    // A node starts behind until a lag says otherwise; with no lag known it serves what it has.
    expect(presence.current()).toBe("catching-up");
    expect(await health200()).toBe(200);
  });

  it("behind a head it can read: refused (503 CLUSTER_CATCHING_UP on an open connection), then 200 near the head", async () => {
    const port = server?.port;
    const open = await openConnection();
    await learn({ quorum: true, lag: 100 }, "ECONNREFUSED");
    expect(presence.current()).toBe("catching-up");
    await waitFor(async () => ((await stateInEtcd()) === "catching-up" ? true : undefined), {
      what: "presence catching-up in etcd",
      timeoutMs: 10_000,
    });
    const h = await exchange(open, "GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\n\r\n");
    expect(h).toMatch(/^HTTP\/1\.1 503 /);
    expect(h).toContain("CLUSTER_CATCHING_UP");
    expect(h.toLowerCase()).toContain("connection: close");
    expect(h.toLowerCase()).toContain("retry-after: 1");
    expect(h).toContain("urn:kenshin-exchange:outcome:since");

    // Two nodes down: no majority, the head cannot be read — the survivor serves (reads, read-only mode).
    await learn({ quorum: false }, 200);
    expect(presence.current()).toBe("read-only");
    // The majority back, still 50 batches behind (it never was near the head): refused again.
    await learn({ quorum: true, lag: 50 }, "ECONNREFUSED");
    // Near the head: listening again on the same port, presence serving.
    await learn({ quorum: true, lag: 1 }, 200);
    expect(server?.port).toBe(port);
    expect(presence.current()).toBe("serving");
    await waitFor(async () => ((await stateInEtcd()) === "serving" ? true : undefined), {
      what: "presence serving in etcd",
      timeoutMs: 10_000,
    });
    // A busy follower a few batches behind stays in the pool (hysteresis: out again only above 64).
    await learn({ quorum: true, lag: 30 }, 200);
  });

  it("a copy that failed a check while behind is refused as quarantined (integrity first)", async () => {
    const open = await openConnection();
    health.quarantine([{ kind: "entry", code: "LEDGER_LEAF_HASH_MISMATCH", index: 3 }]);
    await learn({ quorum: true, lag: 100 }, "ECONNREFUSED");
    expect(presence.current()).toBe("quarantined");
    const h = await exchange(open, "GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\n\r\n");
    expect(h).toMatch(/^HTTP\/1\.1 503 /);
    expect(h).toContain("CLUSTER_QUARANTINED");
    expect(h).not.toContain("CLUSTER_CATCHING_UP");
    // Its copy good again, but behind: still refused, now as catching up.
    health.rejoin();
    expect(presence.current()).toBe("catching-up");
    expect(await health200()).toBe("ECONNREFUSED");
    await learn({ quorum: true, lag: 1 }, 200);
  });
});
