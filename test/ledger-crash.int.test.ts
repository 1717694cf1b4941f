/**
 * "An acknowledged entry survives kill -9" (issue 3, storage). A real writer process
 * (`test/ledger/acknowledging-appender.js`, the built library, one batch = one transaction, an
 * acknowledgement printed only after the commit) is fed batches on stdin and SIGKILLed mid-stream, several
 * rounds on the same SQLite file. After each kill the file is reopened: every acknowledged index holds the
 * acknowledged leaf hash and the data that was sent, the size is a batch boundary (no half batch), fsck
 * finds the log intact (an unsigned tail is allowed), and the next round appends where the last left off.
 *
 * Power loss cannot be simulated here: kill -9 loses the process, not the OS page cache. Surviving power
 * loss rests on SQLite's WAL with synchronous=FULL (the WAL is fsynced at every commit,
 * https://www.sqlite.org/pragma.html#pragma_synchronous), so this test asserts that the writer's connection
 * really runs with journal_mode=wal and synchronous=FULL rather than trusting the source.
 *
 * The second test writes the way the service does: through the node's write port (group commit, the
 * outbox in a service database, checkpoints on a cadence), calls fed as requests arrive, each with a
 * state change inserting a row that names its first entry. After each kill the port is opened again —
 * which appends what a kill between the service.db and ledger.db commits left in the outbox — and every
 * committed call must have exactly its row and every row its entries; acknowledged calls are all there.
 *
 * `npm test` builds first ("pretest"); run `npm run build` before running this file alone.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fsck } from "../src/ledger/fsck.js";
import { parseVerifierKey, type VerifierKey } from "../src/ledger/verify/verifier-key.js";
import { EmbeddedLedger } from "../src/ledger/embedded-ledger.js";
import { openServiceDb } from "../src/store/service-db.js";
import { sqliteOutbox } from "../src/store/sqlite-outbox.js";
import { openSqliteLog } from "../src/store/sqlite-log.js";
import { readKeyFile } from "../src/crypto/key-file.js";
import { createNoteSigner } from "../src/crypto/note-signer.js";

const CLI = join(process.cwd(), "dist/cli/main.js");
const WRITER = join(process.cwd(), "test/ledger/acknowledging-appender.js");
/** SQLite's PRAGMA synchronous value for FULL. */
const SYNCHRONOUS_FULL = 2;

let dir: string;
let db: string;
let keyFile: string;
let vkey: VerifierKey;
let vkeyText: string;
const started: ChildProcess[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "kenshin-ledger-crash-"));
  db = join(dir, "ledger.db");
  keyFile = join(dir, "ledger.key");
  const init = kenshin(["ledger", "init", "--db", db, "--key", keyFile, "--origin", "kenshin.example/crash"]);
  expect(init.code).toBe(0);
  vkeyText = init.out.trim();
  vkey = parseVerifierKey(vkeyText);
});
afterAll(async () => {
  // Only the writers this file started, by their handles.
  for (const child of started)
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  await rm(dir, { recursive: true, force: true });
});

function kenshin(args: readonly string[], input = ""): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { input, encoding: "utf8", timeout: 30_000 });
  return { code: r.status, out: r.stdout };
}

function leafHashOf(entry: Uint8Array): string {
  return createHash("sha256")
    .update(Buffer.from([0x00]))
    .update(entry)
    .digest("hex");
}

interface Ack {
  index: number;
  leafHash: string;
}

interface RoundResult {
  ready: { journalMode: unknown; synchronous: unknown };
  acks: Ack[];
  /** Data of every entry sent, in order, and the batch sizes. */
  sent: Record<string, number>[];
  batchSizes: number[];
  signal: NodeJS.Signals | null;
}

/** When to kill: as soon as `acks` entries are acknowledged, or `ms` after the writer is ready. */
type KillAt = { readonly acks: number } | { readonly ms: number };

/**
 * Starts a writer, sends `batches` batches without closing stdin, and SIGKILLs it at `killAt`. Bounded:
 * fails after `deadlineMs`.
 */
function crashRound(
  round: number,
  killAt: KillAt,
  batches = 1000,
  deadlineMs = 20_000,
  target: { db: string; key: string; serviceDb?: string; trickle?: boolean } = { db, key: keyFile },
): Promise<RoundResult> {
  const args = [WRITER, target.db, target.key, ...(target.serviceDb !== undefined ? [target.serviceDb] : [])];
  const child = spawn(process.execPath, args, { stdio: ["pipe", "pipe", "pipe"] });
  started.push(child);
  const sent: Record<string, number>[] = [];
  const batchSizes: number[] = [];
  const lines: string[] = [];
  for (let b = 0; b < batches; b++) {
    const size = 1 + ((b * 7 + round) % 4);
    const batch = Array.from({ length: size }, (_, i) => ({ round, batch: b, i }));
    sent.push(...batch);
    batchSizes.push(size);
    lines.push(JSON.stringify(batch));
  }
  // Writes after the kill fail with EPIPE; that is expected.
  child.stdin.on("error", () => undefined);
  const trickle = (): void => {
    // Ten calls every 2 ms, as requests arrive at a server: many small group commits.
    let at = 0;
    const feed = setInterval(() => {
      if (at >= lines.length || child.exitCode !== null || child.signalCode !== null) {
        clearInterval(feed);
        return;
      }
      child.stdin.write(`${lines.slice(at, at + 10).join("\n")}\n`);
      at += 10;
    }, 2);
  };
  if (target.trickle !== true) child.stdin.write(`${lines.join("\n")}\n`);

  return new Promise((resolve, reject) => {
    let buffered = "";
    let stderr = "";
    let ready: RoundResult["ready"] | null = null;
    const acks: Ack[] = [];
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`round ${round}: not killed within ${deadlineMs} ms; ${stderr}`));
    }, deadlineMs);
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    child.stdout.on("data", (chunk: Buffer) => {
      buffered += chunk.toString("utf8");
      let nl: number;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        const value = JSON.parse(line) as Ack & { ready?: true; journalMode: unknown; synchronous: unknown };
        if (value.ready === true) {
          ready = { journalMode: value.journalMode, synchronous: value.synchronous };
          if (target.trickle === true) trickle();
          if ("ms" in killAt) setTimeout(() => child.kill("SIGKILL"), killAt.ms);
        } else {
          acks.push({ index: value.index, leafHash: value.leafHash });
        }
      }
      // Only complete lines count as acknowledged; a partial line at the kill is not an acknowledgement.
      if ("acks" in killAt && ready !== null && acks.length >= killAt.acks && child.signalCode === null) {
        child.kill("SIGKILL");
      }
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (ready === null || signal !== "SIGKILL") {
        reject(new Error(`round ${round}: writer exited (code ${code}, signal ${signal}) ${stderr}`));
        return;
      }
      resolve({ ready, acks, sent, batchSizes, signal });
    });
  });
}

describe("ledger durability under kill -9", () => {
  it("every acknowledged entry survives, batches stay whole, fsck passes, and appending continues", async () => {
    let start = 0;
    // Right at start-up, right after an acknowledgement (the next batch is in flight), and at times
    // unrelated to acknowledgements (inside a commit's fsync or a checkpoint signature, as it falls).
    const kills: KillAt[] = [{ acks: 0 }, { acks: 3 }, { ms: 40 }, { acks: 26 }, { ms: 150 }, { ms: 90 }];
    for (const [round, killAt] of kills.entries()) {
      const r = await crashRound(round, killAt);
      expect(r.signal).toBe("SIGKILL");
      // Durability is not silently weakened: the writer's own connection.
      expect(r.ready).toEqual({ journalMode: "wal", synchronous: SYNCHRONOUS_FULL });
      if ("acks" in killAt) expect(r.acks.length).toBeGreaterThanOrEqual(killAt.acks);
      expect(r.acks.map((a) => a.index)).toEqual(r.acks.map((_, i) => start + i));

      const storage = openSqliteLog(db);
      try {
        const size = storage.size();
        // Whole batches only: the stored size is the start plus a prefix of the batch sizes.
        const boundaries = r.batchSizes.reduce<number[]>(
          (acc, n) => [...acc, (acc.at(-1) ?? start) + n],
          [start],
        );
        expect(boundaries).toContain(size);
        expect(size).toBeGreaterThanOrEqual(start + r.acks.length);
        for (const ack of r.acks) {
          const stored = storage.entry(ack.index);
          expect(Buffer.from(stored.leafHash).toString("hex")).toBe(ack.leafHash);
          expect(leafHashOf(stored.entry)).toBe(ack.leafHash);
        }
        // Everything committed in this round (acknowledged or not) is what was sent, in order.
        for (let index = start; index < size; index++) {
          const record = JSON.parse(Buffer.from(storage.entry(index).entry).toString("utf8")) as {
            data: unknown;
          };
          expect(record.data).toEqual(r.sent[index - start]);
        }
        const check = fsck(storage, vkey);
        expect(check).toMatchObject({ ok: true, size });
        if (check.ok) expect(check.unsignedEntries).toBe(size - check.signedSize);
        start = size;
      } finally {
        storage.close();
      }
    }
    expect(start).toBeGreaterThan(0);

    // Appending continues through the CLI where the killed writers stopped, and signs a checkpoint.
    const more = kenshin(["ledger", "append", "--db", db, "--key", keyFile], '{"after":"crash"}\n{"n":2}\n');
    expect(more.code).toBe(0);
    expect(
      more.out
        .trim()
        .split("\n")
        .map((l) => (JSON.parse(l) as Ack).index),
    ).toEqual([start, start + 1]);
    const final = kenshin(["ledger", "fsck", "--db", db, "--verifier", vkeyText]);
    expect(final.code).toBe(0);
    expect(JSON.parse(final.out)).toMatchObject({
      ok: true,
      size: start + 2,
      signedSize: start + 2,
      unsignedEntries: 0,
    });
  });
});

describe("the service's write path (group commit, outbox) under kill -9", () => {
  it("concurrent calls with state changes: every acknowledged call survives with its row, no row without its entries or entries without their row, whole calls only, fsck passes", async () => {
    // A second log (its own key, made by the CLI), written through the service's port.
    const gdb = join(dir, "group.db");
    const gkey = join(dir, "group.key");
    const init = kenshin(["ledger", "init", "--db", gdb, "--key", gkey, "--origin", "kenshin.example/group"]);
    expect(init.code).toBe(0);
    const gvkey = parseVerifierKey(init.out.trim());
    const serviceDb = join(dir, "group-service.db");
    let start = 0;
    const rows = new Map<string, number>();
    // Right after an acknowledgement and at times unrelated to them (inside a state change, between the
    // service.db and ledger.db commits, inside a checkpoint signature, as it falls).
    const kills: KillAt[] = [
      { acks: 1 },
      { ms: 150 },
      { acks: 40 },
      { ms: 400 },
      { ms: 260 },
      { acks: 150 },
      { ms: 333 },
    ];
    for (const [round, killAt] of kills.entries()) {
      const r = await crashRound(100 + round, killAt, 1000, 20_000, {
        db: gdb,
        key: gkey,
        serviceDb,
        trickle: true,
      });
      expect(r.ready).toEqual({ journalMode: "wal", synchronous: SYNCHRONOUS_FULL });
      expect(r.acks.map((a) => a.index)).toEqual(r.acks.map((_, i) => start + i));
      // The next start: the port appends whatever the crash left in the outbox, and signs.
      const service = openServiceDb(serviceDb, { create: false });
      const port = new EmbeddedLedger({
        storage: openSqliteLog(gdb),
        signer: createNoteSigner(readKeyFile(gkey)),
        outbox: sqliteOutbox(service),
      });
      try {
        const size = port.size();
        const boundaries = r.batchSizes.reduce<number[]>(
          (acc, n) => [...acc, (acc.at(-1) ?? start) + n],
          [start],
        );
        expect(boundaries).toContain(size);
        expect(size).toBeGreaterThanOrEqual(start + r.acks.length);
        for (const ack of r.acks) expect(leafHashOf(port.entry(ack.index))).toBe(ack.leafHash);
        // Rows and calls match exactly: each committed call has its row naming its first entry.
        const stored = service
          .prepare<[], { call: string; first_index: number }>("SELECT call, first_index FROM crash_state")
          .all();
        for (const row of stored) rows.set(row.call, row.first_index);
        let committedCalls = 0;
        for (let index = start, b = 0; index < size; index += r.batchSizes[b] ?? 1, b++) {
          const record = JSON.parse(Buffer.from(port.entry(index)).toString("utf8")) as { data: unknown };
          expect(record.data).toEqual(r.sent[index - start]);
          expect(rows.get(`${100 + round}/${b}`)).toBe(index);
          committedCalls++;
        }
        expect(stored.filter((row) => row.call.startsWith(`${100 + round}/`))).toHaveLength(committedCalls);
        expect(port.fsck(gvkey)).toMatchObject({ ok: true, size, unsignedEntries: 0 });
        start = size;
      } finally {
        await port.close();
        service.close();
      }
    }
    expect(start).toBeGreaterThan(0);
  });
});
