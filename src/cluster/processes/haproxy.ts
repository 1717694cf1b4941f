/**
 * haproxy 2.6 in front of the online nodes: one TCP frontend on 127.0.0.1 passing TLS through untouched
 * (mode tcp, so mutual TLS still ends at a kenshin node and haproxy never holds a user's session), with
 * health checks that take a backend out after `fall` failures and back after `rise` successes.
 *
 * Two kinds of check: a TCP connect ("tcp"), or an HTTPS `GET <path>` that must answer 2xx ("https"),
 * made with a client certificate of the service CA because every TLS connection to a node must present
 * one; that is how a node reporting itself unhealthy in /health (e.g. quarantined) leaves the pool.
 * Backend states are read from haproxy's own admin socket (`show stat`), never guessed.
 */
import { writeFileSync } from "node:fs";
import { createConnection, isIP } from "node:net";
import { join } from "node:path";
import { ClusterError } from "../errors.js";
import { freePorts, LOOPBACK } from "./free-ports.js";
import { logTail, requireBinary, startSupervised, type SupervisedProcess } from "./supervised-process.js";
import { waitFor } from "./wait.js";

export const HAPROXY_BINARY = "/usr/sbin/haproxy";

export interface HaproxyBackend {
  /** Server name in haproxy (letters, digits, "-", "_"). */
  readonly name: string;
  readonly port: number;
  readonly host?: string;
  /**
   * The node's last-resort port (setting `listen.lastResortPort`): listed as a `backup` server without
   * a check, used only while no backend is up, so that users then reach a node that answers its coded
   * 503 (quarantined, catching up) instead of a connection haproxy closes at once. A node whose process
   * is gone refuses it too, and haproxy's retries go on to another backup (`option allbackups`).
   */
  readonly lastResortPort?: number;
}

export type HaproxyCheck =
  | { readonly kind: "tcp" }
  | {
      readonly kind: "https";
      readonly path: string;
      /** PEM file holding the client certificate followed by its private key. */
      readonly clientCertKeyFile: string;
      /** The service CA certificate (PEM file) the node's server certificate must chain to. */
      readonly caFile: string;
      /** Host name to send in SNI and to verify the server certificate against. */
      readonly serverName: string;
    };

export interface HaproxyOptions {
  readonly dir: string;
  readonly backends: readonly HaproxyBackend[];
  readonly check?: HaproxyCheck;
  readonly checkIntervalMs?: number;
  readonly fall?: number;
  readonly rise?: number;
  /** As in haproxyConfig (default leastconn); the kenshin cluster uses `source`. */
  readonly balance?: "leastconn" | "source";
  /** As in haproxyConfig: PROXY v2 headers on connections opened from this address (the kenshin cluster). */
  readonly sendProxyFrom?: string;
  readonly binary?: string;
  readonly startTimeoutMs?: number;
}

export type BackendStatus = "UP" | "DOWN" | "MAINT" | "other";

export interface RunningHaproxy {
  /** The single address users connect to. */
  readonly host: string;
  readonly port: number;
  readonly process: SupervisedProcess;
  readonly configFile: string;
  /** Each backend server's status as haproxy sees it now. */
  backendStatus(): Promise<Record<string, BackendStatus>>;
  /** Each backend server's connection and retry counters. */
  counters(): Promise<Record<string, ServerCounters>>;
  /** Waits (bounded) until `name` has `status`. */
  waitForBackend(name: string, status: BackendStatus, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const SERVER_NAME = /^[A-Za-z0-9_-]{1,64}$/;
// Paths and host names go into the config file: refuse anything that could end a token or a line.
const CONFIG_SAFE = /^[A-Za-z0-9_./@:+-]{1,512}$/;
const BACKEND = "kenshin_nodes";

function checkSafe(value: string, field: string): string {
  if (!CONFIG_SAFE.test(value)) {
    throw new ClusterError("CLUSTER_OPTION_INVALID", `haproxy の設定に使えない文字があります (${field})`, {
      field,
    });
  }
  return value;
}

const validPort = (port: number): boolean => Number.isInteger(port) && port >= 1 && port <= 65535;

/** The haproxy configuration text for these options (exported so the README's example is the real one). */
export function haproxyConfig(o: {
  port: number;
  socket: string;
  backends: readonly HaproxyBackend[];
  check: HaproxyCheck;
  checkIntervalMs: number;
  fall: number;
  rise: number;
  /**
   * How connections are spread: `leastconn` (default), or `source` — one user address stays on one
   * node while it is up (the kenshin cluster: an envelope key agreed for an upload or download lives in
   * the memory of the node that agreed it), and moves to another when that node goes down (sessions
   * are replicated, so the user stays logged in).
   */
  balance?: "leastconn" | "source";
  /**
   * Open every connection to a backend from this IP address (`source`), health checks included, with a
   * PROXY protocol v2 header naming the user's address (`send-proxy-v2`, `check-send-proxy`; a check
   * sends the LOCAL command, haproxy's own connection). A kenshin node behind haproxy then sees each
   * user apart (its per-address limit, sessions, AuditEvent agent.network) rather than haproxy's one
   * address. The nodes must trust exactly this address (setting `proxy.trusted`): pinning the source
   * is what makes the two agree, whatever interface the kernel would pick.
   */
  sendProxyFrom?: string;
}): string {
  if (o.backends.length === 0) {
    throw new ClusterError("CLUSTER_OPTION_INVALID", "haproxy の転送先がありません", {});
  }
  const serverCheck =
    o.check.kind === "https"
      ? ` check check-ssl verify required ca-file ${checkSafe(o.check.caFile, "caFile")}` +
        ` crt ${checkSafe(o.check.clientCertKeyFile, "clientCertKeyFile")}` +
        ` check-sni ${checkSafe(o.check.serverName, "serverName")}` +
        ` verifyhost ${checkSafe(o.check.serverName, "serverName")}`
      : " check";
  const from = o.sendProxyFrom;
  if (from !== undefined && isIP(from) === 0) {
    throw new ClusterError(
      "CLUSTER_OPTION_INVALID",
      "PROXY プロトコルの送信元は IP アドレスで指定してください",
      {
        field: "sendProxyFrom",
      },
    );
  }
  const proxyLine = from !== undefined ? " send-proxy-v2 check-send-proxy" : "";
  const lines = [
    "global",
    `  stats socket ${checkSafe(o.socket, "socket")} mode 600 level admin`,
    "  maxconn 4096",
    "",
    "defaults",
    "  mode tcp",
    "  timeout connect 2s",
    "  timeout client 120s",
    "  timeout server 120s",
    "  timeout check 2s",
    // A connection a backend refuses (a quarantined kenshin node stops listening: server/user-listener.ts)
    // is retried at once on another backend — `redispatch 1` redispatches on every retry, without the
    // turn-around second of a retry on the same server — before a byte of the user's stream was passed.
    // The health check takes the node out a check interval or two later; meanwhile no user notices.
    "  retries 2",
    "  option redispatch 1",
    "",
    "frontend kenshin",
    `  bind ${LOOPBACK}:${o.port}`,
    `  default_backend ${BACKEND}`,
    "",
    `backend ${BACKEND}`,
    `  balance ${o.balance ?? "leastconn"}`,
    ...(o.balance === "source" ? ["  hash-type consistent"] : []),
    ...(from !== undefined ? [`  source ${checkSafe(from, "sendProxyFrom")}`] : []),
  ];
  if (o.check.kind === "https") {
    lines.push(
      "  option httpchk",
      `  http-check send meth GET uri ${checkSafe(o.check.path, "path")} ver HTTP/1.1 hdr Host ${o.check.serverName}`,
      "  http-check expect status 200-299",
    );
  }
  if (o.backends.some((b) => b.lastResortPort !== undefined)) lines.push("  option allbackups");
  lines.push(`  default-server inter ${o.checkIntervalMs}ms fall ${o.fall} rise ${o.rise}`);
  const lastResorts: string[] = [];
  for (const b of o.backends) {
    if (!SERVER_NAME.test(b.name)) {
      throw new ClusterError("CLUSTER_OPTION_INVALID", "haproxy のサーバー名が正しくありません", {
        field: "name",
      });
    }
    if (!validPort(b.port)) {
      throw new ClusterError("CLUSTER_OPTION_INVALID", "ポート番号が正しくありません", { port: b.port });
    }
    const host = checkSafe(b.host ?? LOOPBACK, "host");
    lines.push(`  server ${b.name} ${host}:${b.port}${proxyLine}${serverCheck}`);
    if (b.lastResortPort !== undefined) {
      if (!validPort(b.lastResortPort)) {
        throw new ClusterError("CLUSTER_OPTION_INVALID", "ポート番号が正しくありません", {
          port: b.lastResortPort,
        });
      }
      const proxied = from !== undefined ? " send-proxy-v2" : "";
      lastResorts.push(`  server ${b.name}-last-resort ${host}:${b.lastResortPort} backup${proxied}`);
    }
  }
  lines.push(...lastResorts);
  return `${lines.join("\n")}\n`;
}

/**
 * Writes the one PEM file haproxy's `crt` wants: the certificate, then its private key (mode 0600).
 * Each PEM block must end in a newline or OpenSSL's reader misses the second one.
 */
export function writeCertKeyFile(file: string, c: { certPem: string; keyPem: string }): void {
  writeFileSync(file, `${c.certPem.trimEnd()}\n${c.keyPem.trimEnd()}\n`, { mode: 0o600 });
}

/** Sends one command to haproxy's admin socket and returns its answer. */
async function adminCommand(socket: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const conn = createConnection(socket);
    let out = "";
    const timer = setTimeout(() => conn.destroy(new Error("admin socket timeout")), 2000);
    conn.setEncoding("utf8");
    conn.on("connect", () => conn.end(`${command}\n`));
    conn.on("data", (d: string) => (out += d));
    conn.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    conn.on("close", () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

function parseStat(csv: string): Record<string, BackendStatus> {
  const lines = csv.split("\n").filter((l) => l.length > 0);
  const header = (lines[0] ?? "").replace(/^# /, "").split(",");
  const px = header.indexOf("pxname");
  const sv = header.indexOf("svname");
  const st = header.indexOf("status");
  const out: Record<string, BackendStatus> = {};
  for (const line of lines.slice(1)) {
    const cols = line.split(",");
    if (cols[px] !== BACKEND) continue;
    const name = cols[sv] ?? "";
    if (name === "BACKEND" || name === "FRONTEND") continue;
    const s = cols[st] ?? "";
    out[name] = s.startsWith("UP") ? "UP" : s.startsWith("DOWN") ? "DOWN" : s === "MAINT" ? "MAINT" : "other";
  }
  return out;
}

/** A backend server's counters from haproxy's `show stat`. */
export interface ServerCounters {
  /** Connections sent to it so far. */
  readonly stot: number;
  /** Connection attempts to it that were retried. */
  readonly wretr: number;
  /** Of those, retries sent on to another server (redispatched). */
  readonly wredis: number;
}

/** Each backend server's counters (`stot`, `wretr`, `wredis`) as haproxy keeps them. */
export async function haproxyServerCounters(socket: string): Promise<Record<string, ServerCounters>> {
  const lines = (await adminCommand(socket, "show stat")).split("\n").filter((l) => l.length > 0);
  const header = (lines[0] ?? "").replace(/^# /, "").split(",");
  const at = (name: string) => header.indexOf(name);
  const out: Record<string, ServerCounters> = {};
  for (const line of lines.slice(1)) {
    const cols = line.split(",");
    const name = cols[at("svname")] ?? "";
    if (cols[at("pxname")] !== BACKEND || name === "BACKEND" || name === "FRONTEND") continue;
    const n = (k: string) => Number(cols[at(k)] ?? 0) || 0;
    out[name] = { stot: n("stot"), wretr: n("wretr"), wredis: n("wredis") };
  }
  return out;
}

/** How many connections haproxy sent to each backend server so far (its `stot` counter). */
export async function haproxyServed(socket: string): Promise<Record<string, number>> {
  const counters = await haproxyServerCounters(socket);
  return Object.fromEntries(Object.entries(counters).map(([name, c]) => [name, c.stot]));
}

/** Each backend server's status as the haproxy listening on this admin socket sees it now. */
export async function haproxyBackendStatus(socket: string): Promise<Record<string, BackendStatus>> {
  return parseStat(await adminCommand(socket, "show stat"));
}

/**
 * Writes the configuration and starts haproxy in the foreground (`-db`), then waits until the frontend
 * accepts connections.
 * @throws ClusterError CLUSTER_BINARY_MISSING, CLUSTER_OPTION_INVALID, CLUSTER_WAIT_TIMEOUT,
 *   CLUSTER_PROCESS_EXITED
 */
export async function startHaproxy(o: HaproxyOptions): Promise<RunningHaproxy> {
  const binary = o.binary ?? HAPROXY_BINARY;
  requireBinary(binary, "haproxy");
  const [port] = await freePorts(1);
  const socket = join(o.dir, "haproxy-admin.sock");
  const configFile = join(o.dir, "haproxy.cfg");
  writeFileSync(
    configFile,
    haproxyConfig({
      port: port ?? 0,
      socket,
      backends: o.backends,
      check: o.check ?? { kind: "tcp" },
      checkIntervalMs: o.checkIntervalMs ?? 500,
      fall: o.fall ?? 2,
      rise: o.rise ?? 2,
      ...(o.balance !== undefined ? { balance: o.balance } : {}),
      ...(o.sendProxyFrom !== undefined ? { sendProxyFrom: o.sendProxyFrom } : {}),
    }),
    { mode: 0o600 },
  );
  const proc = startSupervised(binary, ["-db", "-f", configFile], { logFile: join(o.dir, "haproxy.log") });
  const backendStatus = (): Promise<Record<string, BackendStatus>> => haproxyBackendStatus(socket);
  try {
    await waitFor(
      async () => {
        if (!proc.running()) {
          throw new ClusterError("CLUSTER_PROCESS_EXITED", "haproxy が終了しました", {
            log: logTail(proc.logFile),
          });
        }
        const status = await backendStatus();
        // Each backend is listed, and its last-resort server beside it when it has one.
        const servers = o.backends.length + o.backends.filter((b) => b.lastResortPort !== undefined).length;
        return Object.keys(status).length === servers ? true : undefined;
      },
      { what: "haproxy admin socket", timeoutMs: o.startTimeoutMs ?? 15_000 },
    );
  } catch (error) {
    await proc.kill9();
    throw error;
  }
  return {
    host: LOOPBACK,
    port: port ?? 0,
    process: proc,
    configFile,
    backendStatus,
    counters: () => haproxyServerCounters(socket),
    async waitForBackend(name, status, timeoutMs = 15_000) {
      await waitFor(async () => ((await backendStatus())[name] === status ? true : undefined), {
        what: `haproxy backend ${name} ${status}`,
        timeoutMs,
      });
    },
    async stop() {
      await proc.stop(3000);
    },
  };
}
