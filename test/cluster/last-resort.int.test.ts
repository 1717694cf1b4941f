/**
 * When no node serves (every online node quarantined, repairing or catching up), haproxy has no backend
 * up. Without a last-resort port it then closes each user's connection at once — the user sees a broken
 * connection, not a reason. With one (setting `listen.lastResortPort`, haproxy `backup` servers), the
 * user reaches a node's door that stays open and gets its coded 503 in Japanese; once a node serves
 * again, haproxy sends users to its user port and they are served.
 *
 * A real node (demo data, TLS 1.3, a client certificate) whose NodeHealth is changed while it runs, and
 * two real haproxy processes in front of it: one with the last-resort port, one as a cluster made before
 * it (no backup server). The health check is a TCP connect, as the quarantined node's user port refuses.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NodeHealth } from "../../src/cluster/integrity/node-health.js";
import { startHaproxy, type RunningHaproxy } from "../../src/cluster/processes/haproxy.js";
import { startServer, type RunningServer } from "../../src/server/serve.js";
import { createDemo } from "../../src/service/demo.js";
import { EXAMPLE_DIR } from "../support/test-node.js";

const HOST = "127.0.0.1";
let dir: string;
let server: RunningServer | undefined;
let health: NodeHealth;
let withLastResort: RunningHaproxy | undefined;
let without: RunningHaproxy | undefined;
let tlsOptions: { ca: string; cert: string; key: string };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "kenshin-last-resort-"));
  const demo = await createDemo(join(dir, "node"), {
    port: 0,
    host: HOST,
    exampleMapping: join(EXAMPLE_DIR, "mapping.yaml"),
  });
  health = new NodeHealth({ now: () => new Date() });
  server = await startServer(join(dir, "node"), {
    port: 0,
    lastResortPort: 0,
    host: HOST,
    env: {},
    nodeHealth: health,
  });
  const office = demo.accounts.find((a) => a.role === "office");
  if (office === undefined) throw new Error("no office account");
  tlsOptions = {
    ca: readFileSync(demo.caCertificate, "utf8"),
    cert: readFileSync(office.certificate, "utf8"),
    key: readFileSync(office.key, "utf8"),
  };
  const lastResortPort = server.lastResortPort;
  if (lastResortPort === undefined) throw new Error("no last-resort port");
  const lb = (name: string): string => {
    const d = join(dir, name);
    mkdirSync(d);
    return d;
  };
  const common = { checkIntervalMs: 200, fall: 1, rise: 1, check: { kind: "tcp" } as const };
  withLastResort = await startHaproxy({
    ...common,
    dir: lb("lb-last-resort"),
    backends: [{ name: "node1", port: server.port, lastResortPort }],
  });
  without = await startHaproxy({
    ...common,
    dir: lb("lb-old"),
    backends: [{ name: "node1", port: server.port }],
  });
  await withLastResort.waitForBackend("node1", "UP", 15_000);
  await without.waitForBackend("node1", "UP", 15_000);
}, 60_000);

afterAll(async () => {
  await withLastResort?.stop();
  await without?.stop();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

type Answer =
  | { readonly status: number; readonly code: string | undefined; readonly text: string | undefined }
  | { readonly error: string };

/** One GET through `lb` on a new connection: the answer's status and OperationOutcome code, or the error. */
function getThrough(lb: RunningHaproxy | undefined, path: string): Promise<Answer> {
  return new Promise((resolve) => {
    const req = https.request(
      {
        host: lb?.host,
        port: lb?.port,
        path,
        method: "GET",
        servername: "localhost",
        ...tlsOptions,
        agent: false,
        timeout: 10_000,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (body += d));
        res.on("end", () => {
          const issue = res.statusCode === 200 ? undefined : outcomeIssue(body);
          resolve({ status: res.statusCode ?? 0, code: issue?.code, text: issue?.text });
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (error: NodeJS.ErrnoException) => {
      resolve({ error: error.code ?? error.message });
    });
    req.end();
  });
}

function outcomeIssue(body: string): { code: string | undefined; text: string | undefined } | undefined {
  const parsed = JSON.parse(body) as {
    issue?: { details?: { coding?: { code?: string }[]; text?: string } }[];
  };
  const details = parsed.issue?.[0]?.details;
  return { code: details?.coding?.[0]?.code, text: details?.text };
}

describe("no node serving: the last-resort port answers the coded 503 instead of a closed connection", () => {
  it("while the node serves, both load balancers reach it", async () => {
    expect(await getThrough(withLastResort, "/api/v1/health")).toMatchObject({ status: 200 });
    expect(await getThrough(without, "/api/v1/health")).toMatchObject({ status: 200 });
  });

  it("quarantined: the node's coded 503 in Japanese through the backup; without it, a closed connection", async () => {
    health.quarantine([{ kind: "entry", code: "LEDGER_LEAF_HASH_MISMATCH", index: 3 }]);
    await withLastResort?.waitForBackend("node1", "DOWN", 15_000);
    await without?.waitForBackend("node1", "DOWN", 15_000);
    for (const path of ["/api/v1/health", "/api/v1/session", "/api/v1/transfers"]) {
      const answer = await getThrough(withLastResort, path);
      expect(answer, path).toEqual({
        status: 503,
        code: "CLUSTER_QUARANTINED",
        text: "このノードは点検のため利用を停止しています",
      });
    }
    // The same moment through a haproxy with no backup: the connection is closed before TLS is done.
    const old = await getThrough(without, "/api/v1/health");
    expect("error" in old ? "closed" : old).toBe("closed");
  });

  it("repairing: still the coded 503 through the backup (the node is not back yet)", async () => {
    health.beginRepair();
    const answer = await getThrough(withLastResort, "/api/v1/health");
    expect(answer).toMatchObject({ status: 503, code: "CLUSTER_QUARANTINED" });
  });

  it("once it serves again, users reach its user port and are served", async () => {
    health.rejoin();
    await withLastResort?.waitForBackend("node1", "UP", 15_000);
    const counters = await withLastResort?.counters();
    const before = counters?.["node1"]?.stot ?? 0;
    expect(await getThrough(withLastResort, "/api/v1/health")).toMatchObject({ status: 200 });
    const after = (await withLastResort?.counters())?.["node1"]?.stot ?? 0;
    expect(after).toBeGreaterThan(before);
  });
});
