/**
 * `kenshin demo --cluster` as a newcomer runs it: the real CLI as a child process brings up 3 etcd voting
 * members, the offline node's learner, 4 node processes and haproxy on 127.0.0.1; `cluster status` sees
 * every member and node; Ctrl-C (SIGINT to the demo's PID) stops every process it listed, and nothing
 * else. Bounded waits throughout; the demo process itself is SIGKILLed if the test fails midway.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { waitFor } from "../../src/cluster/processes/wait.js";
import { pidAlive } from "./etcd-suite.js";

const base = mkdtempSync(join(tmpdir(), "kenshin-demo-cluster-"));
const dir = join(base, "cluster");
let demo: ChildProcess | undefined;
let out = "";

afterAll(() => {
  if (demo?.exitCode === null) demo.kill("SIGKILL");
  rmSync(base, { recursive: true, force: true });
});

function cli(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["dist/cli/main.js", ...args],
      { encoding: "utf8", timeout: 60_000 },
      (e, so, se) => {
        resolve({ code: e ? (typeof e.code === "number" ? e.code : null) : 0, out: so, err: se });
      },
    );
  });
}

interface Overview {
  ok: boolean;
  etcd: { name: string; healthy: boolean; learner: boolean }[];
  overview: { name: string; role: string; state: string }[];
}

describe("kenshin demo --cluster", () => {
  it("brings up 3 + 1 nodes, 3 etcd members + the learner and haproxy, and Ctrl-C stops exactly those", async () => {
    demo = spawn(process.execPath, ["dist/cli/main.js", "demo", "--cluster", "--data", dir], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    demo.stdout?.setEncoding("utf8");
    demo.stdout?.on("data", (d: string) => (out += d));
    let err = "";
    demo.stderr?.setEncoding("utf8");
    demo.stderr?.on("data", (d: string) => (err += d));
    await waitFor(
      () => {
        if (demo?.exitCode !== null) throw new Error(`demo exited: ${err}`);
        return Promise.resolve(out.includes("Ctrl-C") ? true : undefined);
      },
      { what: "demo up", timeoutMs: 120_000, intervalMs: 200 },
    );
    const pids = [...out.matchAll(/pid (\d+) {2}(.+)/g)].map((m) => ({
      pid: Number(m[1]),
      what: m[2] ?? "",
    }));
    expect(pids.map((p) => p.what)).toEqual([
      "etcd node1",
      "etcd node2",
      "etcd node3",
      "etcd backup (learner)",
      "node node1",
      "node node2",
      "node node3",
      "node backup",
      "haproxy",
    ]);
    for (const p of pids) expect(pidAlive(p.pid)).toBe(true);

    const status = await cli(["cluster", "status", "--cluster", dir, "--json"]);
    const s = JSON.parse(status.out) as Overview;
    expect(s.etcd.map((m) => [m.name, m.healthy, m.learner]).sort()).toEqual([
      ["backup", true, true],
      ["node1", true, false],
      ["node2", true, false],
      ["node3", true, false],
    ]);
    expect(s.overview.map((n) => [n.name, n.role, n.state])).toEqual([
      ["backup", "offline", "serving"],
      ["node1", "online", "serving"],
      ["node2", "online", "serving"],
      ["node3", "online", "serving"],
    ]);

    demo.kill("SIGINT");
    await waitFor(() => Promise.resolve(demo?.exitCode === null ? undefined : true), {
      what: "demo stopped",
      timeoutMs: 60_000,
      intervalMs: 200,
    });
    expect(demo.exitCode).toBe(0);
    for (const p of pids) expect(pidAlive(p.pid)).toBe(false);
    expect(out).toContain("停止しました");
  }, 240_000);
});
