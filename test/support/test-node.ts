/**
 * A real node for integration tests: a demo data directory made at test start (CA, server and client
 * certificates generated now), the HTTPS server on 127.0.0.1 and an ephemeral port, a clock the test
 * moves forward instead of sleeping, and API clients holding the demo accounts' certificates.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import tls from "node:tls";
import { expect } from "vitest";
import {
  createApiClient,
  errorCode,
  type ApiClient,
  type ApiClientOptions,
  type ApiDeviceKey,
  type ApiResponse,
} from "../../src/client/api-client.js";
import { deviceIdFromJwk, exportPublicJwk, generateDeviceKey } from "../../src/client/device-key.js";
import { decodeEntry } from "../../src/ledger/entry/canonical-entry.js";
import type { ClusterHooks } from "../../src/service/cluster/cluster-hooks.js";
import type { TransferDamageView } from "../../src/service/transfers/damage.js";
import type { OperationRecord } from "../../src/ledger/entry/operation-record.js";
import { fsck, type FsckResult } from "../../src/ledger/fsck.js";
import { parseVerifierKey } from "../../src/ledger/verify/verifier-key.js";
import type { NodeHealthView } from "../../src/server/quarantine-gate.js";
import { startServer, type RunningServer } from "../../src/server/serve.js";
import type { ServiceContext } from "../../src/service/context.js";
import { createDemo, type DemoAccount, type DemoDescription } from "../../src/service/demo.js";
import type { Clock } from "../../src/service/node.js";
import { openSqliteLog } from "../../src/store/sqlite-log.js";

export const HOST = "127.0.0.1";
export const EXAMPLE_DIR = fileURLToPath(new URL("../../examples/wide-cp932/", import.meta.url));
/** A password the policy accepts (letters, digits, symbols; no ID; not common). */
export const NEW_PASSWORD = "Ks7#river-Maple9";

/** A clock that only moves when the test says so (plus real time, so TLS dates stay sane). */
export interface TestClock extends Clock {
  readonly advance: (ms: number) => void;
  readonly ms: () => number;
}

export function testClock(): TestClock {
  let offset = 0;
  return {
    now: () => new Date(Date.now() + offset),
    random: (n) => new Uint8Array(randomBytes(n)),
    advance: (ms) => {
      offset += ms;
    },
    ms: () => Date.now() + offset,
  };
}

export interface TestNode {
  readonly dir: string;
  readonly demo: DemoDescription;
  readonly server: RunningServer;
  readonly ctx: ServiceContext;
  readonly clock: TestClock;
  readonly baseUrl: string;
  readonly caPem: string;
  account(role: DemoAccount["role"]): DemoAccount & { certPem: string; keyPem: string };
  /** A client with the demo account's certificate (and optional device key / TLS overrides). */
  client(role: DemoAccount["role"], extra?: Partial<ApiClientOptions>): ApiClient;
  /** A client with any certificate. */
  clientWith(cert: Partial<ApiClientOptions>): ApiClient;
  close(): Promise<void>;
}

export async function startTestNode(
  options: {
    crlPollMs?: number;
    /** Settings merged over the demo's config.json before the server starts (e.g. maxUploadBytes). */
    config?: Readonly<Record<string, unknown>>;
    /** The cluster side of a replicated node (payload quorum, monitoring). */
    cluster?: ClusterHooks;
    /** Transfers marked damaged (a NodeHealth, as a cluster node's repair marks them). */
    damage?: TransferDamageView;
    /** Whether the node serves its users (the quarantine gate, server/quarantine-gate.ts). */
    nodeHealth?: NodeHealthView;
  } = {},
): Promise<TestNode> {
  const dir = mkdtempSync(join(tmpdir(), "kenshin-server-test-"));
  const clock = testClock();
  const clients: ApiClient[] = [];
  let server: RunningServer | undefined;
  try {
    const demo = await createDemo(dir, {
      port: 0,
      host: HOST,
      exampleMapping: join(EXAMPLE_DIR, "mapping.yaml"),
      clock,
    });
    if (options.config !== undefined) {
      const configPath = join(dir, "config.json");
      const current = JSON.parse(readFileSync(configPath, "utf8")) as Record<string, unknown>;
      writeFileSync(configPath, `${JSON.stringify({ ...current, ...options.config }, null, 2)}\n`, {
        mode: 0o600,
      });
    }
    server = await startServer(dir, {
      port: 0,
      host: HOST,
      clock,
      env: {},
      crlPollMs: options.crlPollMs ?? 50,
      ...(options.cluster === undefined ? {} : { cluster: options.cluster }),
      ...(options.damage === undefined ? {} : { damage: options.damage }),
      ...(options.nodeHealth === undefined ? {} : { nodeHealth: options.nodeHealth }),
    });
    const running = server;
    const baseUrl = `https://${HOST}:${running.port}/`;
    const caPem = readFileSync(demo.caCertificate, "utf8");
    const account = (role: DemoAccount["role"]) => {
      const a = demo.accounts.find((x) => x.role === role);
      if (!a) throw new Error(`no demo ${role}`);
      return { ...a, certPem: readFileSync(a.certificate, "utf8"), keyPem: readFileSync(a.key, "utf8") };
    };
    const clientWith = (extra: Partial<ApiClientOptions>): ApiClient => {
      const c = createApiClient({ baseUrl, caPem, now: clock.ms, timeoutMs: 10_000, ...extra });
      clients.push(c);
      return c;
    };
    return {
      dir,
      demo,
      server: running,
      ctx: running.ctx,
      clock,
      baseUrl,
      caPem,
      account,
      client: (role, extra = {}) => {
        const a = account(role);
        return clientWith({ certPem: a.certPem, keyPem: a.keyPem, ...extra });
      },
      clientWith,
      close: async () => {
        for (const c of clients) c.close();
        await running.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

export async function newDeviceKey(): Promise<ApiDeviceKey> {
  const pair = await generateDeviceKey();
  const publicJwk = await exportPublicJwk(pair.publicKey);
  return { privateKey: pair.privateKey, publicJwk, deviceId: await deviceIdFromJwk(publicJwk) };
}

/** Asserts status and our error code (never the message text). */
export function expectCode(response: ApiResponse, status: number, code: string): void {
  expect({ status: response.status, code: errorCode(response) }).toEqual({ status, code });
  expect((response.json as { resourceType?: unknown }).resourceType).toBe("OperationOutcome");
}

export function expectStatus(response: ApiResponse, status: number): void {
  // The code in the message makes a failure readable.
  expect({ status: response.status, code: errorCode(response) }).toEqual({ status, code: undefined });
}

/**
 * Logs a client in with a temporary password, registers a fresh device key, changes the password:
 * what a person does at first login. Returns the new password and the device key.
 */
export async function firstLogin(
  client: ApiClient,
  loginId: string,
  temporaryPassword: string,
  password = NEW_PASSWORD,
): Promise<{ password: string; deviceKey: ApiDeviceKey }> {
  const deviceKey = await newDeviceKey();
  client.setDeviceKey(deviceKey);
  const login = await client.login(loginId, temporaryPassword);
  expect(login.status).toBe(201);
  expect((login.json as { mustChangePassword: boolean }).mustChangePassword).toBe(true);
  expectStatus(await client.registerDevice({ label: "test" }), 201);
  expectStatus(await client.changePassword(temporaryPassword, password), 204);
  return { password, deviceKey };
}

/** Logs in again when the session has ended (the tests move the clock past time-outs). */
export async function ensureSession(client: ApiClient, loginId: string, password: string): Promise<void> {
  if ((await client.get("/api/v1/session")).status === 200) return;
  expect((await client.login(loginId, password)).status).toBe(201);
}

/** One attempt to reach /api/v1/health: the status, or the transport error's code. */
export async function reach(client: ApiClient): Promise<number | string> {
  try {
    return (await client.get("/api/v1/health")).status;
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    return `${e.code ?? "ERROR"}: ${e.message}`;
  }
}

/** Every ledger entry, decoded. */
export function ledgerRecords(ctx: ServiceContext): OperationRecord[] {
  const out: OperationRecord[] = [];
  const size = ctx.ledger.size();
  for (let i = 0; i < size; i++) out.push(decodeEntry(ctx.ledger.entry(i)));
  return out;
}

/** fsck over the data directory's ledger with its verifier key, as `kenshin ledger fsck` runs it. */
export function fsckDataDir(node: TestNode): FsckResult {
  const storage = openSqliteLog(node.ctx.paths.ledgerDb);
  try {
    return fsck(storage, parseVerifierKey(readFileSync(node.ctx.paths.ledgerVerifierKey, "utf8").trim()));
  } finally {
    storage.close();
  }
}

/**
 * A raw HTTP/1.1 request over TLS (bytes the https module refuses to send: raw UTF-8 or NUL in the
 * path, odd request lines). Returns the status, the header block and the body.
 */
export function rawRequest(
  node: TestNode,
  role: DemoAccount["role"],
  head: Buffer,
): Promise<{ status: number; head: string; body: string }> {
  const a = node.account(role);
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: HOST,
      port: node.server.port,
      ca: node.caPem,
      cert: a.certPem,
      key: a.keyPem,
      minVersion: "TLSv1.3",
    });
    const chunks: Buffer[] = [];
    socket.setTimeout(10_000, () => socket.destroy(new Error("timeout")));
    socket.on("secureConnect", () => socket.write(head));
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", reject);
    socket.on("close", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const status = /^HTTP\/1\.1 (\d{3})/.exec(text)?.[1];
      const sep = text.indexOf("\r\n\r\n");
      resolve({
        status: status === undefined ? 0 : Number(status),
        head: sep < 0 ? text : text.slice(0, sep),
        body: sep < 0 ? "" : text.slice(sep + 4),
      });
    });
  });
}

export interface IssuedTestAccount {
  readonly institutionId: string;
  readonly loginId: string;
  readonly temporaryPassword: string;
  readonly certPem: string;
  readonly keyPem: string;
}

/** A receiver institution with its ID and a certificate, made by the office through the API. */
export async function createReceiver(office: ApiClient, name: string): Promise<IssuedTestAccount> {
  const inst = await office.post("/api/v1/admin/institutions", { kind: "receiver", name });
  expect(inst.status).toBe(201);
  const institutionId = (inst.json as { id: string }).id;
  const account = await office.post(`/api/v1/admin/institutions/${institutionId}/account`);
  expect(account.status).toBe(201);
  const cert = await office.post(`/api/v1/admin/institutions/${institutionId}/certificates`);
  expect(cert.status).toBe(201);
  const a = account.json as { loginId: string; temporaryPassword: string };
  const c = cert.json as { certPem: string; keyPem: string };
  return { institutionId, loginId: a.loginId, temporaryPassword: a.temporaryPassword, ...c };
}
