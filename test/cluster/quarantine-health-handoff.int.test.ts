/**
 * The quarantine hand-off through real haproxy (issue 11: users on healthy nodes never see a failure):
 * three real kenshin servers over TLS 1.3 behind haproxy 2.6 configured as the cluster configures it
 * (TCP pass-through, `balance source`, HTTPS check of /api/v1/health every second, fall 2 / rise 2,
 * PROXY v2 headers the nodes trust).
 * Clients keep asking through the one frontend address — two holding keep-alive connections, two opening
 * one per request, one of them logging in (a state change) each time — while the node haproxy sends them
 * to is quarantined, taken out, and rejoins. Every request is answered by a serving node.
 *
 * The three servers are copies of one demo data directory (the same CA, accounts and certificates), each
 * with its own NodeHealth: what is under test is what a node does to its connections when it stops
 * serving (server/quarantine-gate.ts, server/user-listener.ts), haproxy's redispatch, and the API
 * client's rule for sending a request again — not replication (test/cluster/service-tamper does the
 * whole service).
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiClient, errorCode, type ApiClient } from "../../src/client/api-client.js";
import { NodeHealth } from "../../src/cluster/integrity/node-health.js";
import { startHaproxy, writeCertKeyFile, type RunningHaproxy } from "../../src/cluster/processes/haproxy.js";
import { waitFor } from "../../src/cluster/processes/wait.js";
import { startServer, type RunningServer } from "../../src/server/serve.js";
import { createDemo, type DemoAccount } from "../../src/service/demo.js";
import { EXAMPLE_DIR } from "../support/test-node.js";

const HOST = "127.0.0.1";
const NAMES = ["node1", "node2", "node3"];
let base: string;
let caPem: string;
let sender: DemoAccount;
let lb: RunningHaproxy;
const servers: RunningServer[] = [];
const healths: NodeHealth[] = [];
const clients: ApiClient[] = [];

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), "kenshin-handoff-"));
  const first = join(base, NAMES[0] ?? "node1");
  const demo = await createDemo(first, {
    port: 0,
    host: HOST,
    exampleMapping: join(EXAMPLE_DIR, "mapping.yaml"),
  });
  // As cluster init writes each node's config: PROXY v2 headers trusted from haproxy's address.
  const configPath = join(first, "config.json");
  const config = JSON.parse(readFileSync(configPath, "utf8")) as Record<string, unknown>;
  writeFileSync(configPath, `${JSON.stringify({ ...config, proxy: { trusted: [HOST] } }, null, 2)}\n`);
  for (const name of NAMES.slice(1)) cpSync(first, join(base, name), { recursive: true });
  caPem = readFileSync(demo.caCertificate, "utf8");
  const office = demo.accounts.find((a) => a.role === "office");
  const found = demo.accounts.find((a) => a.role === "sender");
  if (office === undefined || found === undefined) throw new Error("demo accounts missing");
  sender = found;
  for (const name of NAMES) {
    const health = new NodeHealth({ now: () => new Date() });
    healths.push(health);
    servers.push(await startServer(join(base, name), { port: 0, host: HOST, env: {}, nodeHealth: health }));
  }
  const lbDir = join(base, "haproxy");
  mkdirSync(lbDir);
  writeCertKeyFile(join(lbDir, "check.pem"), {
    certPem: readFileSync(office.certificate, "utf8"),
    keyPem: readFileSync(office.key, "utf8"),
  });
  lb = await startHaproxy({
    dir: lbDir,
    backends: servers.map((s, i) => ({ name: NAMES[i] ?? "", port: s.port })),
    check: {
      kind: "https",
      path: "/api/v1/health",
      clientCertKeyFile: join(lbDir, "check.pem"),
      caFile: demo.caCertificate,
      serverName: "localhost",
    },
    // As cluster-init writes haproxy.cfg for a real cluster.
    checkIntervalMs: 1000,
    fall: 2,
    rise: 2,
    balance: "source",
    sendProxyFrom: HOST,
  });
  for (const name of NAMES) await lb.waitForBackend(name, "UP", 30_000);
}, 120_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await lb.stop();
  for (const s of servers) await s.close();
  rmSync(base, { recursive: true, force: true });
}, 60_000);

function client(keepAlive: boolean): ApiClient {
  const c = createApiClient({
    baseUrl: `https://${HOST}:${lb.port}/`,
    caPem,
    certPem: readFileSync(sender.certificate, "utf8"),
    keyPem: readFileSync(sender.key, "utf8"),
    keepAlive,
    timeoutMs: 20_000,
  });
  clients.push(c);
  return c;
}

interface Asker {
  readonly what: string;
  readonly ask: () => Promise<{ ok: boolean; said: string }>;
  answered: number;
}

function askers(): Asker[] {
  const health = (c: ApiClient) => async () => {
    const r = await c.get("/api/v1/health");
    return { ok: r.status === 200, said: `${r.status} ${errorCode(r) ?? ""}` };
  };
  const login = (c: ApiClient) => async () => {
    const r = await c.login(sender.loginId, sender.password);
    return { ok: r.status === 201, said: `${r.status} ${errorCode(r) ?? ""}` };
  };
  const kept = [client(true), client(true)];
  const fresh = [client(false), client(false)];
  return [
    { what: "keep-alive GET", ask: health(kept[0] as ApiClient), answered: 0 },
    { what: "keep-alive login", ask: login(kept[1] as ApiClient), answered: 0 },
    { what: "new-connection GET", ask: health(fresh[0] as ApiClient), answered: 0 },
    { what: "new-connection login", ask: login(fresh[1] as ApiClient), answered: 0 },
  ];
}

describe("a node quarantined under clients connected through haproxy", () => {
  it("hands every request to a serving node, and takes its users back when it rejoins", async () => {
    const load = askers();
    const failures: string[] = [];
    const run = { on: true };
    const loops = load.map(async (a) => {
      while (run.on) {
        try {
          const got = await a.ask();
          if (!got.ok) failures.push(`${a.what}: ${got.said}`);
        } catch (error) {
          failures.push(`${a.what}: ${(error as { code?: string }).code ?? String(error)}`);
        }
        a.answered++;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    });
    const answeredAll = (n: number) => () =>
      Promise.resolve(load.every((a) => a.answered >= n) ? true : undefined);
    try {
      await waitFor(answeredAll(5), { what: "clients answered", timeoutMs: 30_000 });
      // `balance source`: every client (one address) is on the same node.
      const before = await lb.counters();
      await waitFor(answeredAll(10), { what: "clients answered", timeoutMs: 30_000 });
      const during = await lb.counters();
      const victimName = NAMES.find((n) => (during[n]?.stot ?? 0) > (before[n]?.stot ?? 0)) ?? "";
      const victim = NAMES.indexOf(victimName);
      expect(victim).toBeGreaterThanOrEqual(0);

      healths[victim]?.quarantine([{ kind: "entry", code: "LEDGER_LEAF_HASH_MISMATCH", index: 1 }]);
      await lb.waitForBackend(victimName, "DOWN", 30_000);
      const out = await lb.counters();
      const counts = load.map((a) => a.answered);
      await waitFor(
        () => Promise.resolve(load.every((a, i) => a.answered >= (counts[i] ?? 0) + 5) ? true : undefined),
        { what: "clients answered while the node is out", timeoutMs: 30_000 },
      );
      const served = await lb.counters();
      // Others served meanwhile; the victim refused the connections haproxy still sent it before its check
      // noticed, and haproxy redispatched every one of them.
      const others = NAMES.filter((n) => n !== victimName);
      expect(others.some((n) => (served[n]?.stot ?? 0) > (out[n]?.stot ?? 0))).toBe(true);
      expect(served[victimName]?.stot).toBe(out[victimName]?.stot);
      expect(served[victimName]?.wredis ?? 0).toBeGreaterThan(before[victimName]?.wredis ?? 0);

      healths[victim]?.rejoin();
      await lb.waitForBackend(victimName, "UP", 30_000);
      // Its users come back to it (consistent hashing), still without a failure.
      await waitFor(
        async () =>
          ((await lb.counters())[victimName]?.stot ?? 0) > (served[victimName]?.stot ?? 0) + 3 || undefined,
        { what: `${victimName} serving its users again`, timeoutMs: 30_000 },
      );
    } finally {
      run.on = false;
      await Promise.all(loops);
    }
    expect(failures).toEqual([]);
    for (const a of load) expect([a.what, a.answered > 15]).toEqual([a.what, true]);
  }, 180_000);
});
