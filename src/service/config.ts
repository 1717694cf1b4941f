/**
 * Service configuration: `config.json` in the data directory, overridden by environment variables
 * (KENSHIN_*), validated once at start with messages that say which setting is wrong and why.
 */
import { isIP } from "node:net";
import { readJsonFile } from "../json-file.js";
import { z } from "zod";
import { formatPath } from "../convert/mapping.js";
import { ServiceError } from "./errors.js";

export const configSchema = z
  .object({
    /** Host names and IP literals the server certificate is issued for. */
    hostNames: z.array(z.string().min(1).max(253)).min(1).default(["localhost", "127.0.0.1"]),
    listen: z
      .object({
        host: z.string().min(1).default("127.0.0.1"),
        port: z.number().int().min(0).max(65535).default(8443),
        /**
         * A cluster node's last-resort port (absent: none): a second door to the same server that stays
         * open while the node does not serve, so that when haproxy has no serving node left it sends
         * users here (`backup` servers, cluster/processes/haproxy.ts) and they get the node's coded 503
         * instead of a closed connection (server/user-listener.ts).
         */
        lastResortPort: z.number().int().min(1).max(65535).optional(),
      })
      .strict()
      .default({ host: "127.0.0.1", port: 8443 }),
    /** This node's name in ledger entries (AuditEvent.source.observer). */
    nodeName: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,62}$/)
      .default("node-1"),
    session: z
      .object({
        idleMinutes: z
          .number()
          .int()
          .min(1)
          .max(24 * 60)
          .default(15),
        absoluteHours: z.number().int().min(1).max(24).default(8),
      })
      .strict()
      .default({ idleMinutes: 15, absoluteHours: 8 }),
    /** A cluster node's rolling full check of its own copy (cluster/integrity/rolling-check.ts). */
    integrity: z
      .object({ checkIntervalMs: z.number().int().min(1000).max(86_400_000).default(300_000) })
      .strict()
      .default({ checkIntervalMs: 300_000 }),
    lockout: z
      .object({
        maxFailures: z.number().int().min(1).max(100).default(5),
        minutes: z
          .number()
          .int()
          .min(1)
          .max(24 * 60)
          .default(15),
      })
      .strict()
      .default({ maxFailures: 5, minutes: 15 }),
    /** Largest accepted clock difference of a device signature. */
    deviceMaxSkewSeconds: z.number().int().min(5).max(3600).default(300),
    certificates: z
      .object({
        clientValidityDays: z.number().int().min(1).max(825).default(397),
        serverValidityDays: z.number().int().min(1).max(825).default(397),
        caValidityDays: z.number().int().min(365).max(7300).default(3650),
      })
      .strict()
      .default({ clientValidityDays: 397, serverValidityDays: 397, caValidityDays: 3650 }),
    /** Largest upload (the enveloped original export) the server accepts. */
    maxUploadBytes: z
      .number()
      .int()
      .min(1024)
      .max(2 * 1024 * 1024 * 1024)
      .default(2 * 1024 * 1024 * 1024),
    /** Retention of payloads: after receipt confirmation, and for transfers never confirmed. */
    retention: z
      .object({
        afterReceiptDays: z.number().int().min(0).max(365).default(7),
        unconfirmedDays: z.number().int().min(1).max(365).default(30),
        /** Lists warn this many days before a payload is deleted. */
        warnDays: z.number().int().min(0).max(60).default(3),
        /** How often the server looks for payloads due for deletion (after a run at start). */
        checkIntervalMs: z.number().int().min(500).max(86_400_000).default(600_000),
        /**
         * Cluster nodes: a chunk in chunks.db that no committed payload references (an upload never
         * acknowledged) is released after this long (cluster/payload-chunk-sweep.ts).
         */
        unacknowledgedChunkGraceMs: z
          .number()
          .int()
          .min(1000)
          .max(30 * 86_400_000)
          .default(21_600_000),
      })
      .strict()
      .default({
        afterReceiptDays: 7,
        unconfirmedDays: 30,
        warnDays: 3,
        checkIntervalMs: 600_000,
        unacknowledgedChunkGraceMs: 21_600_000,
      }),
    backup: z
      .object({ keep: z.number().int().min(1).max(365).default(7) })
      .strict()
      .default({ keep: 7 }),
    /**
     * Bounds on every connection, so slow or idle clients cannot hold the server: the TLS handshake,
     * the request headers, the whole request (body included), an idle keep-alive connection, and the
     * connections open at once from one address.
     */
    connections: z
      .object({
        handshakeSeconds: z.number().int().min(1).max(120).default(10),
        headerSeconds: z.number().int().min(1).max(300).default(20),
        requestSeconds: z.number().int().min(1).max(3600).default(600),
        idleSeconds: z.number().int().min(1).max(600).default(30),
        perAddress: z.number().int().min(1).max(10_000).default(64),
      })
      .strict()
      .default({
        handshakeSeconds: 10,
        headerSeconds: 20,
        requestSeconds: 600,
        idleSeconds: 30,
        perAddress: 64,
      }),
    /**
     * A load balancer in front (a cluster node behind haproxy): a connection from a `trusted` address
     * may start with a PROXY protocol v2 header naming the user's address, which must then arrive
     * whole within `headerSeconds` (server/proxy-protocol-listener.ts). Empty (the default, an
     * embedded node): no header is read from anyone.
     */
    proxy: z
      .object({
        trusted: z
          .array(z.string().refine((v) => isIP(v) !== 0, { message: "IP アドレスではありません" }))
          .max(64)
          .default([]),
        headerSeconds: z.number().int().min(1).max(60).default(5),
      })
      .strict()
      .default({ trusted: [], headerSeconds: 5 }),
    /**
     * RFC 3161 time stamps on sent files and checkpoints: the built-in TSA (default), or an external
     * TSA at `tsaUrl` whose certificate chains to `tsaCaPem` (PEM; default: the service CA).
     */
    timestamp: z
      .object({
        tsaUrl: z
          .url({ protocol: /^https?$/ })
          .max(500)
          .optional(),
        tsaCaPem: z
          .string()
          .min(1)
          .max(64 * 1024)
          .optional(),
        timeoutMs: z.number().int().min(100).max(60_000).default(10_000),
      })
      .strict()
      .default({ timeoutMs: 10_000 }),
    /**
     * Restricted findings (infectious, psychiatric: fhir/sensitive-findings.ts, labelled R) reach in
     * the eCheckup download only the receivers listed here by institution number (e.g. where the
     * examinees' consent is on file); others get the Bundles without them and a list of what was
     * withheld. The standard CSV itself is the signed file and always whole.
     */
    restrictedFindings: z
      .object({ clearedReceivers: z.array(z.string().min(1).max(20)).max(10_000).default([]) })
      .strict()
      .default({ clearedReceivers: [] }),
    /** Monitoring alerts (L6): more than `threshold` entries of a kind within `windowMinutes` raise an alert. */
    alerts: z
      .object({
        windowMinutes: z.number().int().min(1).max(1440).default(10),
        authFailures: z.number().int().min(1).max(100_000).default(10),
        downloads: z.number().int().min(1).max(100_000).default(100),
        exports: z.number().int().min(1).max(100_000).default(5),
        auditReads: z.number().int().min(1).max(100_000).default(300),
      })
      .strict()
      .default({ windowMinutes: 10, authFailures: 10, downloads: 100, exports: 5, auditReads: 300 }),
    /** Time servers the node's clock daemon should use (reported by /health; NICT's public NTP by default). */
    time: z
      .object({ servers: z.array(z.string().min(1).max(253)).max(20).default(["ntp.nict.jp"]) })
      .strict()
      .default({ servers: ["ntp.nict.jp"] }),
    /** Largest request body the server reads (JSON API). */
    maxBodyBytes: z
      .number()
      .int()
      .min(1024)
      .max(64 * 1024 * 1024)
      .default(2 * 1024 * 1024),
  })
  .strict();

export type ServiceConfig = z.output<typeof configSchema>;
export type ServiceConfigInput = z.input<typeof configSchema>;

/** Environment variables that override the file, with the setting each one sets. */
const ENV: readonly (readonly [string, (c: Record<string, unknown>, v: string) => void])[] = [
  ["KENSHIN_HOST", (c, v) => (c["listen"] = { ...(c["listen"] as object), host: v })],
  ["KENSHIN_PORT", (c, v) => (c["listen"] = { ...(c["listen"] as object), port: Number(v) })],
  ["KENSHIN_HOST_NAMES", (c, v) => (c["hostNames"] = v.split(",").map((s) => s.trim()))],
  ["KENSHIN_NODE_NAME", (c, v) => (c["nodeName"] = v)],
  [
    "KENSHIN_SESSION_IDLE_MINUTES",
    (c, v) => (c["session"] = { ...(c["session"] as object), idleMinutes: Number(v) }),
  ],
  [
    "KENSHIN_SESSION_ABSOLUTE_HOURS",
    (c, v) => (c["session"] = { ...(c["session"] as object), absoluteHours: Number(v) }),
  ],
  [
    "KENSHIN_LOCKOUT_MAX_FAILURES",
    (c, v) => (c["lockout"] = { ...(c["lockout"] as object), maxFailures: Number(v) }),
  ],
  [
    "KENSHIN_INTEGRITY_CHECK_MS",
    (c, v) => (c["integrity"] = { ...(c["integrity"] as object), checkIntervalMs: Number(v) }),
  ],
  [
    "KENSHIN_RETENTION_AFTER_RECEIPT_DAYS",
    (c, v) => (c["retention"] = { ...(c["retention"] as object), afterReceiptDays: Number(v) }),
  ],
  [
    "KENSHIN_RETENTION_CHECK_MS",
    (c, v) => (c["retention"] = { ...(c["retention"] as object), checkIntervalMs: Number(v) }),
  ],
  [
    "KENSHIN_CHUNK_GRACE_MS",
    (c, v) => (c["retention"] = { ...(c["retention"] as object), unacknowledgedChunkGraceMs: Number(v) }),
  ],
  ["KENSHIN_LOCKOUT_MINUTES", (c, v) => (c["lockout"] = { ...(c["lockout"] as object), minutes: Number(v) })],
];

/** Validates a configuration object (file contents with environment overrides applied). */
export function parseConfig(
  input: unknown,
  env: Readonly<Record<string, string | undefined>> = {},
): ServiceConfig {
  const base: Record<string, unknown> = typeof input === "object" && input !== null ? { ...input } : {};
  for (const [name, apply] of ENV) {
    const value = env[name];
    if (value !== undefined && value !== "") apply(base, value);
  }
  const parsed = configSchema.safeParse(base);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new ServiceError(
      "SERVICE_CONFIG_INVALID",
      `設定が正しくありません: ${first ? `${formatPath(first.path)}: ${first.message}` : ""}`,
      {
        issues: parsed.error.issues
          .slice(0, 10)
          .map((i) => ({ path: formatPath(i.path), message: i.message })),
      },
    );
  }
  return parsed.data;
}

/** Reads `config.json` and applies the environment. */
export async function loadConfig(path: string, env: NodeJS.ProcessEnv = process.env): Promise<ServiceConfig> {
  const json = await readJsonFile(path, (kind, cause) =>
    kind === "unreadable"
      ? new ServiceError("SERVICE_CONFIG_INVALID", `設定ファイルを読めません: ${path}`, { path }, { cause })
      : new ServiceError(
          "SERVICE_CONFIG_INVALID",
          `設定ファイルが JSON ではありません: ${path}`,
          { path },
          { cause },
        ),
  );
  return parseConfig(json, env);
}
