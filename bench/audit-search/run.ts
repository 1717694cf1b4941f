/**
 * AuditEvent search benchmark: a node's ledger of AUDIT_BENCH_SIZE entries (logins, failed logins,
 * uploads and downloads of many transfers by many accounts, appended through the service's audit()),
 * then, for a few searches, the time of one page from the search index beside its peer — the scan this
 * index replaced (newest first: decode each entry, build its AuditEvent, match, up to 20,000 entries per
 * page). Also the one-off cost of indexing the log (catch-up), per entry.
 *
 *   npm run bench:audit            (AUDIT_BENCH_SIZE=20000 for a quicker run)
 *
 * Benchmarks are not tests: nothing here asserts on time.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type * as AuditEventModule from "../../src/fhir/audit-event.js";
import type * as SearchModule from "../../src/fhir/audit-event-search.js";
import type { RecordInput } from "../../src/ledger/entry/operation-record.js";
import type * as EntriesModule from "../../src/service/audit/audit-entries.js";
import type * as IndexModule from "../../src/service/audit/audit-event-index.js";
import type * as AuditModule from "../../src/service/audit/audit.js";
import type * as NodeModule from "../../src/service/node.js";

// The built service (npm run build): it finds its data files (password lists, dictionary) beside itself.
const dist = (path: string) => new URL(`../../../dist/${path}`, import.meta.url).href;
const { auditEventOf } = (await import(dist("fhir/audit-event.js"))) as typeof AuditEventModule;
const { matchesAuditEvent, parseAuditEventSearch } = (await import(
  dist("fhir/audit-event-search.js")
)) as typeof SearchModule;
const { entryRef, ledgerSize } = (await import(
  dist("service/audit/audit-entries.js")
)) as typeof EntriesModule;
const { catchUpAuditIndex, indexedSearch } = (await import(
  dist("service/audit/audit-event-index.js")
)) as typeof IndexModule;
const { audit } = (await import(dist("service/audit/audit.js"))) as typeof AuditModule;
const { closeNode, initDataDir, openNode } = (await import(dist("service/node.js"))) as typeof NodeModule;

const SIZE = Number(process.env["AUDIT_BENCH_SIZE"] ?? 200_000);
const BATCH = 2000;
const OLD_SCAN_CAP = 20_000;
const now = (): number => performance.now();

function record(n: number): RecordInput {
  const actor = {
    id: `user-${n % 200}`,
    role: "sender" as const,
    network: { address: "192.0.2.1", type: "ip" as const },
  };
  const common = {
    time: new Date(Date.UTC(2026, 11, 1) + n * 60_000).toISOString(),
    actor,
    institution: `inst-${n % 50}`,
    outcome: "success" as const,
    source: { observer: "node-1" },
  };
  const file = { sha256: createHash("sha256").update(String(n)).digest("hex"), bytes: 4096 };
  switch (n % 4) {
    case 0:
      return { ...common, type: "login", method: "password" };
    case 1:
      return {
        ...common,
        type: "upload",
        transfer: `tr_${String(n).padStart(16, "a")}`,
        receiver: "inst-r",
        file,
      };
    case 2:
      return {
        ...common,
        type: "download",
        transfer: `tr_${String(n - 1).padStart(16, "a")}`,
        file,
        format: "csv",
      };
    default:
      return n % 40 === 3
        ? {
            ...common,
            outcome: "serious-failure",
            outcomeDesc: "AUTH_FAILED",
            type: "login",
            method: "password",
          }
        : { ...common, type: "logout", reason: "user" };
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "kenshin-bench-audit-"));
  try {
    await initDataDir(join(dir, "node"));
    const ctx = await openNode(join(dir, "node"));
    // Few alerts: thresholds far above what the bench appends per window.
    const quiet = {
      ...ctx,
      config: { ...ctx.config, alerts: { ...ctx.config.alerts, authFailures: 1e5, downloads: 1e5 } },
    };
    let t0 = now();
    for (let n = 0; n < SIZE; n += BATCH) {
      await audit(
        quiet,
        Array.from({ length: Math.min(BATCH, SIZE - n) }, (_, i) => record(n + i)),
      );
    }
    const size = ledgerSize(ctx);
    console.log(`ledger: ${size} entries appended in ${((now() - t0) / 1000).toFixed(1)} s`);

    t0 = now();
    const indexed = catchUpAuditIndex(ctx);
    const build = now() - t0;
    console.log(
      `index catch-up: ${indexed} entries in ${(build / 1000).toFixed(1)} s (${((build * 1000) / indexed).toFixed(0)} µs/entry, once)`,
    );

    const searches: [string, string][] = [
      ["newest page (office)", "_count=20"],
      ["one account", "agent=user-7&_count=20"],
      ["failed logins", "type=110114&outcome=8&_count=20"],
      ["one transfer", `entity=tr_${String(5).padStart(16, "a")}&_count=20`],
      ["one day, weeks back", "date=2026-12-02&_count=20"],
      ["nothing matches", "agent=nobody&_count=20"],
    ];
    console.log("search (one page)              index (median of 9)   scan peer (median of 3)");
    for (const [name, q] of searches) {
      const criteria = parseAuditEventSearch(new Map([...new URLSearchParams(q)].map(([k, v]) => [k, [v]])));
      const idx: number[] = [];
      let hits = 0;
      for (let r = 0; r < 9; r++) {
        const s = now();
        hits = indexedSearch(ctx, criteria, {
          party: undefined,
          clearance: "R",
          limit: criteria.count + 1,
        }).length;
        idx.push(now() - s);
      }
      const scan: number[] = [];
      let scanHits = 0;
      for (let r = 0; r < 3; r++) {
        const s = now();
        scanHits = 0;
        for (
          let i = size - 1, seen = 0;
          i >= 0 && scanHits < criteria.count && seen < OLD_SCAN_CAP;
          i--, seen++
        ) {
          if (matchesAuditEvent(auditEventOf(entryRef(ctx, i)), criteria)) scanHits++;
        }
        scan.push(now() - s);
      }
      console.log(
        `${name.padEnd(30)} ${median(idx).toFixed(2).padStart(8)} ms (${Math.min(hits, criteria.count)} hits)  ${median(scan).toFixed(1).padStart(8)} ms (${scanHits} hits${scanHits < criteria.count ? ", capped at 20,000 entries" : ""})`,
      );
    }
    closeNode(ctx);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
