/**
 * `kenshin keys rotate-cluster`: the operator's rotation of the KEK every online node of a cluster shares
 * (README "KEK rotation on a cluster"). On the layout `kenshin cluster init` writes (every node's
 * directory under one cluster directory):
 *
 * 1. every online node's `kek.key` is read: they must be the same key (its id is the rotation's `old`);
 * 2. ONE new KEK is made and written beside each of them as `keys/kek.key.new` (0600, fsynced) — from then
 *    on each node refuses to load its KEK (DATA_KEY_KEK_ROTATING, a 503 to retry) until its own rotation
 *    is done, so nothing is wrapped or served under a key about to be destroyed;
 * 3. the `key.rotate` admin entry with the `kek.rotate {old, new}` command goes through the write port of
 *    the online node `via` (opened here, as `cluster bootstrap` does: its `kenshin serve` must be stopped);
 *    every node applies it in log order (cluster/kek-cluster-rotation.ts), re-wraps its own keys in the
 *    apply transaction and renames the new KEK over the old one after the commit;
 * 4. waits (bounded) until no online node has `kek.key.new` left, and says which still have one (a node
 *    that is down finishes when it starts and applies the command).
 *
 * When the command is refused (no node applied it), every `kek.key.new` placed in step 2 is destroyed
 * again, so the cluster keeps serving under the old KEK; the refusal is recorded as a failed `key.rotate`
 * when the port still takes entries.
 */
import { existsSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { readNodeClusterConfig } from "../../cluster/cluster-agent.js";
import { clusterFiles } from "../../cluster/cluster-init.js";
import { readTopology } from "../../cluster/cluster-topology.js";
import { ClusterError } from "../../cluster/errors.js";
import { isCodedError } from "../../coded-error.js";
import { DataKeyError, generateDataKey } from "../../crypto/data-keys.js";
import { discardPendingKek, loadKekSync, pendingKekPath, writePendingKekKey } from "../../crypto/kek-file.js";
import { adminRecord, audit } from "../audit/audit.js";
import type { Actor, ServiceContext } from "../context.js";
import { dataPaths } from "../data-dir.js";
import { openNode, stopNode } from "../node.js";
import { kekRotate } from "../state-commands/key-commands.js";

export interface ClusterKekRotation {
  readonly oldKekId: string;
  readonly newKekId: string;
  /** Online nodes whose KEK file is the new key now. */
  readonly rotated: readonly string[];
  /** Online nodes still holding `kek.key.new` when the wait ended (down, or behind the log). */
  readonly pending: readonly string[];
}

/**
 * Rotates the cluster's KEK (steps above).
 * @throws DataKeyError DATA_KEY_KEK_SHARED (the online nodes' KEKs differ), DATA_KEY_KEK_ROTATING (a
 *   rotation is pending already), DATA_KEY_KEK_NOT_GIVEN (the sequencer's copy lacked the new key);
 *   ClusterError CLUSTER_OPTION_INVALID (not a cluster directory, `via` not an online node)
 */
export async function rotateClusterKek(o: {
  readonly clusterDir: string;
  readonly via?: string;
  readonly actor: (ctx: ServiceContext) => Actor;
  readonly random: (n: number) => Uint8Array;
  /** How long to wait for every online node to finish (default 60 s). */
  readonly waitMs?: number;
}): Promise<ClusterKekRotation> {
  const files = clusterFiles(o.clusterDir);
  const online = readTopology(files.topology)
    .nodes.filter((n) => n.role === "online")
    .map((n) => n.name);
  const via = o.via ?? online[0];
  if (via === undefined || !online.includes(via)) {
    throw new ClusterError("CLUSTER_OPTION_INVALID", "オンラインノードを指定してください", {
      via: via ?? "",
    });
  }
  const kekPaths = new Map(online.map((name) => [name, dataPaths(files.nodeDir(name)).kek]));
  const oldKekId = sharedKekId(kekPaths);
  if (readNodeClusterConfig(files.nodeDir(via))?.role !== "online") {
    throw new ClusterError("CLUSTER_OPTION_INVALID", "オンラインのクラスタノードを指定してください", { via });
  }

  const key = generateDataKey(o.random);
  let newId = "";
  try {
    const placed: string[] = [];
    try {
      for (const path of kekPaths.values()) {
        newId = writePendingKekKey(path, key).id;
        placed.push(path);
      }
    } catch (error) {
      for (const path of placed) discardPendingKek(path);
      throw error;
    }
  } finally {
    key.fill(0);
  }

  const ctx = await openNode(files.nodeDir(via));
  try {
    await ctx.cluster?.caughtUp?.();
    const actor = o.actor(ctx);
    try {
      await audit(
        ctx,
        [
          adminRecord(
            ctx,
            actor,
            "key.rotate",
            { kind: "key", id: newId },
            "success",
            `cluster old=${oldKekId}`,
          ),
        ],
        { command: kekRotate.of({ old: oldKekId, new: newId }) },
      );
    } catch (error) {
      // Refused by the sequencer (coded, nothing applied anywhere): the old KEK stays in use. Whether a
      // call etcd stopped answering was ordered is not known: then the new files stay for the operator.
      if (isCodedError(error) && error.code !== "CLUSTER_UNAVAILABLE") {
        for (const path of kekPaths.values()) discardPendingKek(path);
        const code = error.code;
        await audit(ctx, [
          adminRecord(ctx, actor, "key.rotate", { kind: "key", id: "kek" }, "serious-failure", code),
        ]).catch(() => undefined);
      }
      throw error;
    }
    const pending = await waitRotated(kekPaths, o.waitMs ?? 60_000);
    return {
      oldKekId,
      newKekId: newId,
      rotated: online.filter((n) => !pending.includes(n)),
      pending,
    };
  } finally {
    await stopNode(ctx);
  }
}

/** The one KEK id every online node holds. */
function sharedKekId(kekPaths: ReadonlyMap<string, string>): string {
  const ids = new Map<string, string>();
  for (const [name, path] of kekPaths) ids.set(name, loadKekSync(path).id);
  const distinct = new Set(ids.values());
  const [id] = [...distinct];
  if (distinct.size !== 1 || id === undefined) {
    throw new DataKeyError("DATA_KEY_KEK_SHARED", "オンラインノードの鍵暗号化鍵が一致しません", {
      nodes: [...ids.keys()],
    });
  }
  return id;
}

async function waitRotated(kekPaths: ReadonlyMap<string, string>, waitMs: number): Promise<string[]> {
  const left = (): string[] =>
    [...kekPaths].filter(([, path]) => existsSync(pendingKekPath(path))).map(([name]) => name);
  const end = Date.now() + waitMs;
  while (left().length > 0 && Date.now() < end) await sleep(100);
  return left();
}
