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
import { openSqliteLog } from "../src/store/sqlite-log.js";

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
): Promise<RoundResult> {
  const child = spawn(process.execPath, [WRITER, db, keyFile], { stdio: ["pipe", "pipe", "pipe"] });
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
  child.stdin.write(`${lines.join("\n")}\n`);

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
