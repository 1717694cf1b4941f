/**
 * One real etcd cluster per test file: started in beforeAll in a temp directory, stopped (and the
 * directory removed) in afterAll. Tests in the file share it, so they use distinct key prefixes.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import {
  startEtcdCluster,
  type EtcdCluster,
  type EtcdClusterOptions,
} from "../../src/cluster/processes/etcd-cluster.js";

export interface EtcdSuite {
  /** The running cluster (throws before beforeAll has run). */
  readonly cluster: () => EtcdCluster;
  readonly dir: () => string;
}

export function useEtcdCluster(o: Omit<EtcdClusterOptions, "dir"> = {}): EtcdSuite {
  let cluster: EtcdCluster | undefined;
  let dir: string | undefined;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "kenshin-etcd-"));
    cluster = await startEtcdCluster({ dir, ...o });
  });
  afterAll(async () => {
    await cluster?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });
  return {
    cluster: () => {
      if (cluster === undefined) throw new Error("etcd cluster not started");
      return cluster;
    },
    dir: () => {
      if (dir === undefined) throw new Error("etcd cluster not started");
      return dir;
    },
  };
}

/** True while a process with this PID exists. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
