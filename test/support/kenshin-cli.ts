/**
 * The built CLI (`dist/cli/main.js`) run as a child process, for the CLI contract tests: its exit code,
 * stdout and stderr, and the coded-failure check (`kenshin: <CODE>:` on stderr, never a stack trace).
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { expect } from "vitest";
import { openSqliteLog } from "../../src/store/sqlite-log.js";

const CLI = join(process.cwd(), "dist/cli/main.js");

export interface Run {
  code: number | null;
  stdout: Buffer;
  out: string;
  stderr: string;
}

/** Runs `kenshin <args>` with `input` on stdin (30 s at most). */
export function kenshin(args: readonly string[], input = ""): Run {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    input,
    env: { ...process.env, KENSHIN_DEBUG: "" },
    timeout: 30_000,
  });
  return {
    code: r.status,
    stdout: r.stdout,
    out: r.stdout.toString("utf8"),
    stderr: r.stderr.toString("utf8"),
  };
}

/** Asserts a coded failure: the exit code and `kenshin: <CODE>:` on stderr, never a stack trace. */
export function expectFailure(r: Run, code: number, errorCode: string): void {
  expect({ code: r.code, stderr: r.stderr }).toMatchObject({
    code,
    stderr: expect.stringMatching(new RegExp(`^kenshin: ${errorCode}: `, "m")) as unknown,
  });
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

/** RFC 9162 §2.1.1 leaf hash of an entry's bytes: SHA-256(0x00 ‖ entry). */
export function leafHashOf(entry: Uint8Array): string {
  return createHash("sha256")
    .update(Buffer.from([0x00]))
    .update(entry)
    .digest("hex");
}

/** The verifier key a log file was created with (as init printed it). */
export function kenshinVkey(dbPath: string): string {
  const storage = openSqliteLog(dbPath);
  try {
    return storage.verifierKey;
  } finally {
    storage.close();
  }
}
