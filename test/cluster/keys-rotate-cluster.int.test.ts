/**
 * `kenshin keys rotate` on a node of a cluster (the real CLI from dist/, on the material `kenshin cluster
 * init` writes): refused with DATA_KEY_KEK_SHARED before anything is opened. The online nodes share one
 * KEK — the uploading node wraps a data key once and every node stores those bytes from the payload's
 * manifest — so a KEK replaced on one node alone would leave the others unable to read what it uploads
 * next. Nothing changes: the KEK file is the same bytes, no `kek.key.new`, no database is made, no
 * cluster member is started.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clusterFiles, initCluster } from "../../src/cluster/cluster-init.js";
import { freePorts } from "../../src/cluster/processes/free-ports.js";
import { dataPaths } from "../../src/service/data-dir.js";

const CLI = join(process.cwd(), "dist/cli/main.js");
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "kenshin-keys-cluster-"));
  const ports = await freePorts(1 + 4 * 4);
  await initCluster({
    dir,
    online: 3,
    offline: 1,
    ports: { frontend: ports[0] ?? 0, nodes: [0, 1, 2, 3].map((i) => ports.slice(1 + 4 * i, 5 + 4 * i)) },
  });
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function rotate(nodeDir: string): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, "keys", "rotate", "--data", nodeDir], {
    encoding: "utf8",
    timeout: 60_000,
  });
  return { status: r.status, stderr: r.stderr };
}

describe("kenshin keys rotate on a cluster node", () => {
  it("is refused on an online node (DATA_KEY_KEK_SHARED) and changes nothing", () => {
    const node1 = clusterFiles(dir).nodeDir("node1");
    const paths = dataPaths(node1);
    const kek = readFileSync(paths.kek);
    const r = rotate(node1);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("DATA_KEY_KEK_SHARED");
    expect(r.stderr).toContain("鍵暗号化鍵");
    expect(readFileSync(paths.kek).equals(kek)).toBe(true);
    expect(existsSync(`${paths.kek}.new`)).toBe(false);
    expect(existsSync(paths.serviceDb)).toBe(false);
    // The other online nodes still hold the very same KEK.
    for (const name of ["node2", "node3"]) {
      expect(readFileSync(dataPaths(clusterFiles(dir).nodeDir(name)).kek).equals(kek)).toBe(true);
    }
  });

  it("is refused on the offline node, which never holds a KEK (none is made)", () => {
    const backup = clusterFiles(dir).nodeDir("backup");
    const r = rotate(backup);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("DATA_KEY_KEK_SHARED");
    expect(existsSync(dataPaths(backup).kek)).toBe(false);
  });
});
