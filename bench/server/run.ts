/**
 * bench/server: a demo node on 127.0.0.1 (ephemeral port, temporary data directory) measured through
 * its HTTPS API with the client library, in one run:
 *
 * (a) upload + convert + 送信確定 of a synthetic 10,000-examinee wide CP932 export end to end (client
 *     seals the envelope, server opens, converts with the sender's mapping, encrypts at rest, ledgers;
 *     then send): seconds and records/s;
 * (b) enveloped download of that transfer's standard CSV: MB/s (median of 3);
 * (c) `GET /api/v1/transfers` (list) and `GET /api/v1/transfers/:id/trail` at 50 concurrent keep-alive
 *     TLS 1.3 connections with the receiver's client certificate and session: requests/s and p50/p99
 *     latency, by autocannon (its `tlsOptions` carry the certificate; it does not check the server's
 *     certificate, which is harmless on 127.0.0.1), fired from a worker thread so the load generator
 *     does not share the server's event loop.
 *
 *   npm run bench:server -- [--examinees 10000] [--seconds 10] [--connections 50]
 *
 * Every trail read is itself a ledger entry (audit-query), appended through the node's write port: the
 * reads of all connections share group commits (one transaction and fsync per batch) and checkpoints are
 * signed on a cadence, so (c) trail measures verification plus a share of a durable append per request. Bounded: each load phase stops after
 * --seconds or 200,000 requests, whichever comes first; the server is stopped and the data directory
 * removed at the end. Benchmarks are not tests: nothing here asserts on time. Figures are from one
 * machine and one run.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { Session } from "node:inspector";
import { performance as perfHooks } from "node:perf_hooks";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import type * as ApiClientModule from "../../src/client/api-client.js";
import type * as TransferClientModule from "../../src/client/transfer-client.js";
import type * as ServeModule from "../../src/server/serve.js";
import { DIST, flag, load } from "../support/built-service.js";
import { BENCH_HOST as HOST, createBenchDemo, expectStatus, logInParties } from "../support/demo-parties.js";
import { syntheticInput } from "../support/synthetic-input.js";

const MAX_REQUESTS = 200_000;
const DOWNLOAD_ROUNDS = 3;
const SESSION_COOKIE = "__Host-kenshin_session";

type ApiClient = ApiClientModule.ApiClient;

interface Load {
  readonly requests: number;
  readonly seconds: number;
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
  /**
   * The server thread's CPU time per request it answered (see {@link serverThreadCpuMs}), µs, counted
   * after the first {@link WARM_UP_MS}: the 50 TLS handshakes and client-certificate checks at the start
   * of a phase are per connection, and on a loaded machine they were most of a short phase's CPU.
   */
  readonly cpuUs: number;
}

async function main(): Promise<void> {
  const examinees = flag("--examinees", 10_000);
  const seconds = flag("--seconds", 10);
  const connections = flag("--connections", 50);

  const [transfers, { startServer }] = await Promise.all([
    load<typeof TransferClientModule>("client/transfer-client.js"),
    load<typeof ServeModule>("server/serve.js"),
  ]);

  // The export, generated once into bench/out (deterministic, so runs compare).
  const { path: input, shape } = await syntheticInput(examinees);
  const exportBytes = await readFile(input);

  const dir = await mkdtemp(join(tmpdir(), "kenshin-bench-server-"));
  const clients: ApiClient[] = [];
  let server: ServeModule.RunningServer | undefined;
  try {
    const demo = await createBenchDemo(dir);
    server = await startServer(dir, { port: 0, host: HOST, env: {} });
    const baseUrl = `https://${HOST}:${server.port}/`;
    /** Each party through its first login: device key registered, password changed. */
    const { caPem, office, sender, receiver, senderId, receiverId } = await logInParties(demo, {
      baseUrl,
      timeoutMs: 600_000,
      clients,
    });

    // A list worth reading: 50 small transfers (the shipped example) sent before the big one.
    const example = await readFile(fileURLToPath(new URL("../examples/wide-cp932/export.csv", DIST)));
    for (let i = 0; i < 50; i++) {
      const up = await transfers.uploadExport(sender.client, receiverId, example);
      if (up.status !== 201) throw new Error(`seed upload: ${up.status} ${up.text.slice(0, 200)}`);
      const id = (up.json as { transfer: { id: string } }).transfer.id;
      await expectStatus(sender.client.post(`/api/v1/transfers/${id}/send`), 200, "seed send");
    }
    // The synthetic export's mapping, registered for the sender by the office.
    await expect201(
      office.client.post(`/api/v1/admin/institutions/${senderId}/mapping`, { mapping: shape.mapping }),
      "mapping",
    );

    // (a) upload + convert + send, end to end.
    const t0 = performance.now();
    const up = await transfers.uploadExport(sender.client, receiverId, exportBytes);
    const t1 = performance.now();
    if (up.status !== 201) throw new Error(`upload: ${up.status} ${up.text.slice(0, 300)}`);
    const { transfer, report } = up.json as {
      transfer: { id: string; standard: { bytes: number } };
      report: { counts: { recordsOut: number; rowsRejected: number } };
    };
    await expectStatus(sender.client.post(`/api/v1/transfers/${transfer.id}/send`), 200, "send");
    const t2 = performance.now();
    const records = report.counts.recordsOut;

    // (b) download throughput (standard CSV bytes per second, envelope opened by the client).
    const downloads: number[] = [];
    for (let i = 0; i < DOWNLOAD_ROUNDS; i++) {
      const d0 = performance.now();
      const down = await transfers.downloadStandard(receiver.client, transfer.id);
      const d1 = performance.now();
      if ("refused" in down) throw new Error(`download: ${down.refused.status} ${down.refused.text}`);
      if (down.bytes.length !== transfer.standard.bytes) throw new Error("download size differs");
      downloads.push((d1 - d0) / 1000);
    }
    downloads.sort((a, b) => a - b);
    const downloadSeconds = downloads[Math.floor(downloads.length / 2)] ?? Number.NaN;

    // (c) list and trail under load, as the receiver (cookie session; GETs need no device signature).
    const token = receiver.client.session.token;
    if (token === undefined) throw new Error("no session");
    const common: autocannon.Options = {
      url: baseUrl,
      connections,
      duration: seconds,
      maxOverallRequests: MAX_REQUESTS,
      workers: 1,
      headers: { accept: "application/json", cookie: `${SESSION_COOKIE}=${token}` },
      tlsOptions: { ca: caPem, cert: receiver.certPem, key: receiver.keyPem, minVersion: "TLSv1.3" },
    };
    const served = answeredRequests(server);
    const fire = (name: string, options: autocannon.Options) => phase(name, options, served);
    const health = await fire("health", { ...common, url: new URL("/api/v1/health", baseUrl).href });
    const sessionLoad = await fire("session", { ...common, url: new URL("/api/v1/session", baseUrl).href });
    const list = await fire("list", { ...common, url: new URL("/api/v1/transfers", baseUrl).href });
    const trail = await fire("trail", {
      ...common,
      url: new URL(`/api/v1/transfers/${transfer.id}/trail`, baseUrl).href,
    });

    const mb = exportBytes.length / 1e6;
    const stdMb = transfer.standard.bytes / 1e6;
    const lines = [
      `node ${process.version}, ${HOST}, TLS 1.3 with client certificates, data directory in ${tmpdir()}`,
      `export: ${examinees.toLocaleString("en")} examinees × ${shape.header.length} columns, CP932, ${mb.toFixed(1)} MB → ` +
        `standard CSV ${stdMb.toFixed(1)} MB, ${records.toLocaleString("en")} records (${report.counts.rowsRejected} rows rejected)`,
      "",
      "| measure | figure |",
      "|---|---|",
      `| (a) upload + convert (sealed, sent, opened, converted, stored, ledgered) | ${sec(t1 - t0)} s, ${Math.round(records / ((t1 - t0) / 1000)).toLocaleString("en")} records/s |`,
      `| (a) … + 送信確定, end to end | ${sec(t2 - t0)} s, ${Math.round(records / ((t2 - t0) / 1000)).toLocaleString("en")} records/s, ${(mb / ((t2 - t0) / 1000)).toFixed(1)} MB/s of export |`,
      `| (b) download of the standard CSV (median of ${DOWNLOAD_ROUNDS}) | ${downloadSeconds.toFixed(2)} s, ${(stdMb / downloadSeconds).toFixed(1)} MB/s |`,
      loadRow(`baseline: GET /api/v1/health (${connections} connections; TLS and routing only)`, health),
      loadRow(`baseline: GET /api/v1/session (${connections} connections; session check only)`, sessionLoad),
      loadRow(`(c) GET /api/v1/transfers (${connections} connections, 51 transfers listed)`, list),
      loadRow(
        `(c) GET /api/v1/transfers/:id/trail (${connections} connections; each read is ledgered)`,
        trail,
      ),
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
  } finally {
    for (const c of clients) c.close();
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  }
}

function sec(ms: number): string {
  return (ms / 1000).toFixed(2);
}

function loadRow(name: string, l: Load): string {
  const failures =
    l.non2xx + l.errors + l.timeouts > 0
      ? ` — ${l.non2xx} non-2xx, ${l.errors} errors, ${l.timeouts} time-outs`
      : "";
  return `| ${name} | ${Math.round(l.rps).toLocaleString("en")} req/s, p50 ${l.p50} ms, p99 ${l.p99} ms, server thread CPU ${Math.round(l.cpuUs)} µs/request (${l.requests.toLocaleString("en")} requests in ${l.seconds.toFixed(1)} s)${failures} |`;
}

/**
 * With `SERVER_BENCH_PROFILE=<dir>`, each load phase is CPU-profiled on the server's thread (V8's
 * sampling profiler through `node:inspector`) and written as `<dir>/<name>.cpuprofile`.
 */
async function phase(name: string, options: autocannon.Options, served: () => number): Promise<Load> {
  const profileDir = process.env["SERVER_BENCH_PROFILE"];
  const profiler = profileDir === undefined ? undefined : await startProfile();
  try {
    return await measure(options, served);
  } finally {
    if (profiler && profileDir !== undefined) {
      await mkdir(profileDir, { recursive: true });
      await writeFile(join(profileDir, `${name}.cpuprofile`), JSON.stringify(await profiler.stop()));
    }
  }
}

async function startProfile(): Promise<{ stop(): Promise<unknown> }> {
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object): Promise<unknown> =>
    new Promise((resolve, reject) => {
      session.post(method, params, (error, result) => {
        if (error) reject(error);
        else resolve(result);
      });
    });
  await post("Profiler.enable");
  await post("Profiler.setSamplingInterval", { interval: 200 });
  await post("Profiler.start");
  return {
    async stop() {
      const { profile } = (await post("Profiler.stop")) as { profile: unknown };
      session.disconnect();
      return profile;
    },
  };
}

/**
 * CPU time (user + system, ms) of this process's main thread — the server's: autocannon runs in a
 * worker. Per request it is the figure a shared machine distorts least (other work stretches wall time
 * and latency, not the work done per request). Linux: /proc clock ticks (10 ms); elsewhere the event
 * loop's busy time, which also counts time the thread waited for a core.
 */
function serverThreadCpuMs(): number {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return perfHooks.eventLoopUtilization().active;
  }
}

/** USER_HZ, the unit of /proc's CPU times (100 on Linux). */
const CLOCK_TICKS = 100;

/** How many requests the server has answered so far (its `finish` events). */
function answeredRequests(server: ServeModule.RunningServer): () => number {
  let answered = 0;
  server.app.app.server.on("request", (_request: unknown, response: NodeJS.EventEmitter) => {
    response.once("finish", () => answered++);
  });
  return () => answered;
}

const WARM_UP_MS = 1500;

async function measure(options: autocannon.Options, served: () => number): Promise<Load> {
  const running = autocannon(options);
  await new Promise((resolve) => setTimeout(resolve, WARM_UP_MS));
  const cpuBefore = serverThreadCpuMs();
  const servedBefore = served();
  const r = await running;
  const cpuMs = serverThreadCpuMs() - cpuBefore;
  return {
    cpuUs: (cpuMs * 1000) / Math.max(1, served() - servedBefore),
    requests: r.requests.total,
    seconds: r.duration,
    rps: r.requests.total / r.duration,
    p50: r.latency.p50,
    p99: r.latency.p99,
    non2xx: r.non2xx,
    errors: r.errors - r.timeouts,
    timeouts: r.timeouts,
  };
}

async function expect201(p: Promise<ApiClientModule.ApiResponse>, what: string): Promise<void> {
  await expectStatus(p, 201, what);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
