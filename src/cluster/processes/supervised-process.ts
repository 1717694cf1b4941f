/**
 * One child process the cluster harness started (etcd member, haproxy): its output goes to a log file in
 * its own directory, it is stopped or SIGKILLed by its own PID only, and if the parent exits first the
 * child is killed too, so no test or demo leaves daemons behind.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, closeSync, constants, openSync, readFileSync } from "node:fs";
import { ClusterError } from "../errors.js";

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface SupervisedProcess {
  readonly pid: number;
  readonly logFile: string;
  /** Settles when the process has exited (never rejects). */
  readonly exited: Promise<ExitStatus>;
  /** True until the process has exited. */
  running(): boolean;
  /** SIGKILL now and wait for the exit (what a crash looks like to the rest of the cluster). */
  kill9(): Promise<ExitStatus>;
  /** SIGTERM, then SIGKILL if it is still there after `graceMs`. */
  stop(graceMs?: number): Promise<ExitStatus>;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // "exit" handlers must be synchronous; kill() is. Only children started here are in the set.
  process.once("exit", () => {
    for (const child of live) child.kill("SIGKILL");
  });
}

/**
 * Checks that an executable exists before anything is started, so a missing Debian package is a coded
 * error naming the package rather than a spawn ENOENT.
 * @throws ClusterError CLUSTER_BINARY_MISSING
 */
export function requireBinary(path: string, debianPackage: string): void {
  try {
    accessSync(path, constants.X_OK);
  } catch (cause) {
    throw new ClusterError(
      "CLUSTER_BINARY_MISSING",
      `${path} がありません (Debian パッケージ ${debianPackage} を入れてください)`,
      { path, debianPackage },
      { cause },
    );
  }
}

/** Starts `command` with `args`, stdout and stderr appended to `logFile`. */
export function startSupervised(
  command: string,
  args: readonly string[],
  o: { logFile: string; cwd?: string; env?: NodeJS.ProcessEnv },
): SupervisedProcess {
  installExitHook();
  const fd = openSync(o.logFile, "a");
  let child: ChildProcess;
  try {
    child = spawn(command, args, {
      cwd: o.cwd,
      env: o.env ?? process.env,
      stdio: ["ignore", fd, fd],
    });
  } finally {
    closeSync(fd);
  }
  const pid = child.pid;
  if (pid === undefined) {
    throw new ClusterError("CLUSTER_PROCESS_EXITED", `${command} を起動できません`, { command });
  }
  live.add(child);
  let done = false;
  const exited = new Promise<ExitStatus>((resolve) => {
    child.once("exit", (code, signal) => {
      done = true;
      live.delete(child);
      resolve({ code, signal });
    });
    child.once("error", () => {
      done = true;
      live.delete(child);
      resolve({ code: null, signal: null });
    });
  });
  return {
    pid,
    logFile: o.logFile,
    exited,
    running: () => !done,
    async kill9() {
      if (!done) child.kill("SIGKILL");
      return exited;
    },
    async stop(graceMs = 5000) {
      if (done) return exited;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** The last `chars` characters of a process's log (etcd and haproxy logs hold no personal data). */
export function logTail(logFile: string, chars = 2000): string {
  try {
    const text = readFileSync(logFile, "utf8");
    return text.slice(-chars);
  } catch {
    return "";
  }
}
