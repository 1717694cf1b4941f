/**
 * The front door over real HTTPS: TLS 1.3 only, a client certificate from the service CA on every
 * connection, revoked certificates refused without a restart (revoked by this server or by another
 * process on the same data directory, as `kenshin admin` does), a certificate bound to its own
 * institution's ID, security headers, and the served OpenAPI document matching the routes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCertificateAuthority } from "../src/crypto/pki/ca.js";
import { issueClientCertificate } from "../src/crypto/pki/certificates.js";
import { OPERATIONS } from "../src/server/operations/operations.js";
import { revokeCertificates } from "../src/service/identity/certificates.js";
import { systemActor } from "../src/service/context.js";
import { closeNode, openNode } from "../src/service/node.js";
import type { ApiClient } from "../src/client/api-client.js";
import {
  expectCode,
  firstLogin,
  ledgerRecords,
  reach,
  startTestNode,
  fsckDataDir,
  type TestNode,
} from "./support/test-node.js";

let node: TestNode;
let office: ApiClient;
let receiverId: string;

beforeAll(async () => {
  node = await startTestNode({ crlPollMs: 50 });
  office = node.client("office");
  const a = node.account("office");
  await firstLogin(office, a.loginId, a.password);
  const list = await office.get("/api/v1/admin/institutions");
  const receiver = (list.json as { institutions: { id: string; kind: string }[] }).institutions.find(
    (i) => i.kind === "receiver",
  );
  if (!receiver) throw new Error("no demo receiver");
  receiverId = receiver.id;
});

afterAll(async () => {
  await node.close();
});

/** A new certificate for the demo receiver, issued by the office through the API. */
async function issueReceiverCertificate(): Promise<{ serial: string; certPem: string; keyPem: string }> {
  const r = await office.post(`/api/v1/admin/institutions/${receiverId}/certificates`);
  expect(r.status).toBe(201);
  return r.json as { serial: string; certPem: string; keyPem: string };
}

/** Polls until a connection with `client` is refused (the CRL file change picked up), at most `ms`. */
async function refusedWithin(client: ApiClient, ms: number): Promise<number | string> {
  const until = Date.now() + ms;
  let last = await reach(client);
  // 403 AUTH_CERTIFICATE_REVOKED: the per-request check refuses before the CRL file reaches TLS.
  while (typeof last === "number" && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 25));
    last = await reach(client);
  }
  return last;
}

/**
 * Under TLS 1.3 the client's side of the handshake ends before the server has checked the client
 * certificate; the server then aborts, which the client sees as a reset or a TLS alert (never as an
 * HTTP answer). Each test also shows the same server still answering a good certificate.
 */
function expectRefused(result: number | string): void {
  expect(result).toMatch(/^(ECONNRESET|EPIPE|EPROTO|ERR_SSL_)/);
}

describe("TLS and client certificates", () => {
  it("accepts a TLS 1.3 connection with the institution's certificate (control)", async () => {
    expect(await reach(node.client("receiver"))).toBe(200);
  });

  it("refuses TLS 1.2", async () => {
    const client = node.client("receiver", { tls: { minVersion: "TLSv1.2", maxVersion: "TLSv1.2" } });
    const result = await reach(client);
    expect(result).toMatch(/^EPROTO: .*alert protocol version/);
  });

  it("refuses a connection without a client certificate", async () => {
    const result = await reach(node.clientWith({}));
    expect(result).toMatch(/^ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED/);
  });

  it("refuses a certificate from another CA (even one with the same name)", async () => {
    const now = new Date();
    const other = await createCertificateAuthority({
      commonName: `kenshin-exchange CA node-1`,
      now,
      validityDays: 30,
    });
    const a = node.account("receiver");
    const forged = await issueClientCertificate(other, {
      loginId: a.loginId,
      institutionId: "inst_aaaaaaaaaaaaaaaa",
      institutionName: "forged",
      now,
      validityDays: 30,
    });
    const result = await reach(node.clientWith({ certPem: forged.certPem, keyPem: forged.keyPem }));
    expectRefused(result);
  });

  it("refuses a certificate revoked through the admin API from the next connection, without a restart", async () => {
    const cert = await issueReceiverCertificate();
    const client = node.clientWith({ certPem: cert.certPem, keyPem: cert.keyPem });
    expect(await reach(client)).toBe(200);
    const r = await office.post(`/api/v1/admin/certificates/${cert.serial}/revoke`, { reason: "test" });
    expect(r.status).toBe(204);
    expectRefused(await reach(client));
    // The institution's other certificate still works.
    expect(await reach(node.client("receiver"))).toBe(200);
  });

  it("refuses a certificate revoked by another process on the same data directory (CRL file change)", async () => {
    const cert = await issueReceiverCertificate();
    const client = node.clientWith({ certPem: cert.certPem, keyPem: cert.keyPem });
    expect(await reach(client)).toBe(200);
    // As `kenshin admin cert revoke` does: its own ServiceContext, no link to the server.
    const admin = await openNode(node.dir, { env: {} });
    try {
      await revokeCertificates(admin, systemActor("kenshin-admin"), [cert.serial], "key lost");
    } finally {
      closeNode(admin);
    }
    const next = await reach(client);
    expect(next === 403 || typeof next === "string").toBe(true);
    expectRefused(await refusedWithin(client, 5_000));
    expect(await reach(node.client("receiver"))).toBe(200);
  });

  it("refuses another institution's certificate for this ID's password (401 as for an unknown ID, audited)", async () => {
    const receiver = node.account("receiver");
    const sender = node.account("sender");
    const client = node.client("sender");
    const before = node.ctx.ledger.size();
    expectCode(await client.login(receiver.loginId, receiver.password), 401, "AUTH_FAILED");
    const entries = ledgerRecords(node.ctx).slice(before);
    expect(entries).toContainEqual(
      expect.objectContaining({
        type: "login",
        outcome: "serious-failure",
        actor: expect.objectContaining({ id: receiver.loginId }) as unknown,
      }),
    );
    // The same certificate with its own ID works.
    expect((await client.login(sender.loginId, sender.password)).status).toBe(201);
  });
});

describe("answers", () => {
  it("carry HSTS, a strict CSP, nosniff and no Server / X-Powered-By header", async () => {
    const client = node.client("receiver");
    for (const r of [
      await client.get("/api/v1/health"),
      await client.get("/api/v1/session"),
      await client.get("/api/v1/nowhere"),
      await office.get("/api/v1/admin/inventory.csv"),
    ]) {
      expect(r.headers["strict-transport-security"]).toMatch(/max-age=\d{8,}/);
      const csp = String(r.headers["content-security-policy"]);
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toContain("unsafe-inline");
      expect(csp).not.toContain("unsafe-eval");
      expect(r.headers["x-content-type-options"]).toBe("nosniff");
      expect(r.headers["server"]).toBeUndefined();
      expect(r.headers["x-powered-by"]).toBeUndefined();
    }
  });

  it("serve the OpenAPI document, which names every registered route and no other", async () => {
    const r = await node.client("receiver").get("/api/v1/openapi.json");
    expect(r.status).toBe(200);
    const doc = r.json as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(doc.openapi).toMatch(/^3\.1/);
    const documented = Object.entries(doc.paths)
      .flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`))
      .sort();
    const operations = OPERATIONS.map((o) => `${o.method.toUpperCase()} ${o.path}`).sort();
    expect(documented).toEqual(operations);
    // The FHIR endpoint (/fhir/…) is described by its own CapabilityStatement, not the OpenAPI document.
    const routes = registeredRoutes(node);
    expect(routes.filter((r) => !r.includes(" /fhir/"))).toEqual(operations);
    expect(routes.filter((r) => r.includes(" /fhir/"))).toEqual([
      "GET /fhir/AuditEvent",
      "GET /fhir/AuditEvent/{id}",
      "GET /fhir/Provenance",
      "GET /fhir/metadata",
      "POST /fhir/AuditEvent/_search",
      "POST /fhir/Provenance/$verify",
    ]);
  });
});

describe("ledger", () => {
  it("passes fsck afterwards and holds the revocations", async () => {
    // Checkpoints follow appends on a cadence: once one covers the newest entry, nothing is unsigned.
    await node.ctx.ledger.checkpointCovering(node.ctx.ledger.size() - 1);
    expect(fsckDataDir(node)).toMatchObject({ ok: true, unsignedEntries: 0 });
    const actions = ledgerRecords(node.ctx).flatMap((e) => (e.type === "admin" ? [e.action] : []));
    expect(actions.filter((a) => a === "certificate.revoke")).toHaveLength(2);
  });
});

/**
 * The routes the running app has, as "METHOD /path/{param}" (HEAD routes Fastify adds for GET left
 * out), read from Fastify's own route table.
 */
function registeredRoutes(n: TestNode): string[] {
  const text = n.server.app.app.printRoutes({ commonPrefix: false, includeMeta: false });
  const out: string[] = [];
  const stack: { depth: number; path: string }[] = [];
  for (const line of text.split("\n")) {
    const m = /^([\s│├└─]*)(\S.*?)(?: \(([A-Z, ]+)\))?$/u.exec(line);
    if (!m) continue;
    const depth = (m[1] ?? "").length;
    while ((stack[stack.length - 1]?.depth ?? -1) >= depth) stack.pop();
    const path = (stack[stack.length - 1]?.path ?? "") + (m[2] ?? "");
    stack.push({ depth, path });
    for (const method of (m[3] ?? "").split(", ").filter((x) => x !== "" && x !== "HEAD")) {
      out.push(`${method} ${path.replace(/:([A-Za-z]+)/g, "{$1}")}`);
    }
  }
  return out.sort();
}
