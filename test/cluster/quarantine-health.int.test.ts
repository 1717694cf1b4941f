/**
 * A quarantined node stops serving users and says so in /health (what haproxy's HTTPS check reads):
 * the real server over TLS 1.3 with a demo account's client certificate, its NodeHealth changed while
 * it runs.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NodeHealth } from "../../src/cluster/integrity/node-health.js";
import { startServer, type RunningServer } from "../../src/server/serve.js";
import { createDemo } from "../../src/service/demo.js";
import { EXAMPLE_DIR } from "../support/test-node.js";

const HOST = "127.0.0.1";
let dir: string;
let server: RunningServer | undefined;
let health: NodeHealth;
let tlsOptions: { ca: string; cert: string; key: string };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "kenshin-quarantine-"));
  const demo = await createDemo(dir, {
    port: 0,
    host: HOST,
    exampleMapping: join(EXAMPLE_DIR, "mapping.yaml"),
  });
  health = new NodeHealth({ now: () => new Date() });
  server = await startServer(dir, { port: 0, host: HOST, env: {}, nodeHealth: health });
  const office = demo.accounts.find((a) => a.role === "office");
  if (office === undefined) throw new Error("no office account");
  tlsOptions = {
    ca: readFileSync(demo.caCertificate, "utf8"),
    cert: readFileSync(office.certificate, "utf8"),
    key: readFileSync(office.key, "utf8"),
  };
});

afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

function get(path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: HOST, port: server?.port, path, method: "GET", ...tlsOptions, agent: false, timeout: 10_000 },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (body += d));
        res.on("end", () => {
          resolve({ status: res.statusCode ?? 0, body });
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

describe("quarantine in /health and on every route", () => {
  it("healthy: /health 200 and the API answers", async () => {
    expect((await get("/api/v1/health")).status).toBe(200);
    expect((await get("/api/v1/openapi.json")).status).toBe(200);
  });

  it("quarantined: /health 503 with the state, every other route 503 CLUSTER_QUARANTINED; back to 200 on rejoin", async () => {
    health.quarantine([{ kind: "entry", code: "LEDGER_LEAF_HASH_MISMATCH", index: 3 }]);
    const h = await get("/api/v1/health");
    expect(h.status).toBe(503);
    expect(JSON.parse(h.body)).toMatchObject({ status: "quarantined" });
    const api = await get("/api/v1/openapi.json");
    expect(api.status).toBe(503);
    expect(api.body).toContain("CLUSTER_QUARANTINED");
    // Findings (positions and codes) are not in the user-facing answer.
    expect(h.body).not.toContain("LEDGER_LEAF_HASH_MISMATCH");
    health.beginRepair();
    expect(JSON.parse((await get("/api/v1/health")).body)).toMatchObject({ status: "repairing" });
    health.rejoin();
    expect((await get("/api/v1/health")).status).toBe(200);
    expect((await get("/api/v1/openapi.json")).status).toBe(200);
  });
});
