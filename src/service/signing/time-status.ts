/**
 * Clock status (T1): whether the node's clock is synchronised, by which daemon, and against which
 * servers — chrony (`chronyc -c tracking`, `chronyc -c sources`) or systemd-timesyncd (`timedatectl
 * show`, `/etc/systemd/timesyncd.conf`) where present — beside the servers this node is configured to
 * expect (`config.time.servers`, default ntp.nict.jp, the NICT public NTP service). The commands run
 * with a short timeout, and the answer is cached for a minute so /health stays cheap.
 */
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";

export interface TimeStatus {
  /** true / false when a daemon said so; null when no daemon could be asked. */
  readonly synchronized: boolean | null;
  readonly source: "chrony" | "timesyncd" | null;
  /** Servers the daemon uses, as far as it tells. */
  readonly servers: readonly string[];
  /** The servers this node is configured to expect (config.time.servers). */
  readonly configured: readonly string[];
  /** chrony's estimate of the system clock's offset, ms (positive: fast). */
  readonly offsetMs?: number;
  readonly checkedAt: string;
}

const TIMEOUT_MS = 2000;

function run(cmd: string, args: readonly string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: TIMEOUT_MS, encoding: "utf8", maxBuffer: 64 * 1024 }, (error, stdout) => {
      resolve(error ? undefined : stdout);
    });
  });
}

/** chronyc -c tracking: CSV, field 4 = system time offset (s), field 13 = leap status. */
async function chrony(): Promise<Omit<TimeStatus, "configured" | "checkedAt"> | undefined> {
  const tracking = await run("chronyc", ["-c", "tracking"]);
  if (tracking === undefined) return undefined;
  const f = tracking.trim().split(",");
  const offset = Number(f[4]);
  const leap = f[13] ?? "";
  const sources = (await run("chronyc", ["-c", "sources"])) ?? "";
  const servers = sources
    .split("\n")
    .map((l) => l.split(",")[2])
    .filter((s): s is string => s !== undefined && s !== "")
    .slice(0, 20);
  return {
    synchronized: leap !== "" && leap !== "Not synchronised",
    source: "chrony",
    servers,
    ...(Number.isFinite(offset) ? { offsetMs: Math.round(offset * 1000 * 1000) / 1000 } : {}),
  };
}

async function timesyncd(): Promise<Omit<TimeStatus, "configured" | "checkedAt"> | undefined> {
  const show = await run("timedatectl", ["show", "-p", "NTPSynchronized", "--value"]);
  const conf = existsSync("/etc/systemd/timesyncd.conf")
    ? readFileSync("/etc/systemd/timesyncd.conf", "utf8")
    : "";
  const servers = conf
    .split("\n")
    .filter((l) => /^\s*(?:NTP|FallbackNTP)\s*=/.test(l))
    .flatMap((l) =>
      l
        .slice(l.indexOf("=") + 1)
        .trim()
        .split(/\s+/),
    )
    .filter((s) => s !== "")
    .slice(0, 20);
  if (show === undefined)
    return servers.length > 0 ? { synchronized: null, source: "timesyncd", servers } : undefined;
  return { synchronized: show.trim() === "yes", source: "timesyncd", servers };
}

/** Asks the daemons now. */
export async function readTimeStatus(configured: readonly string[], now: Date): Promise<TimeStatus> {
  const found = (await chrony()) ?? (await timesyncd()) ?? { synchronized: null, source: null, servers: [] };
  return { ...found, configured, checkedAt: now.toISOString() };
}

/** A one-minute cache around {@link readTimeStatus}, one per server. */
export function timeStatusCache(
  configured: readonly string[],
  now: () => Date,
  ttlMs = 60_000,
): () => Promise<TimeStatus> {
  let cached: { at: number; value: Promise<TimeStatus> } | undefined;
  return () => {
    const t = now().getTime();
    if (cached === undefined || t - cached.at > ttlMs || t < cached.at) {
      cached = { at: t, value: readTimeStatus(configured, now()) };
    }
    return cached.value;
  };
}
