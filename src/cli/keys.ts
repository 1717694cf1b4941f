/**
 * `kenshin keys rotate`: replaces the node's key-encryption key, re-wrapping every live data key and
 * destroying the old KEK (see `store/payload-store.ts` rotateKek). Also the way to finish or roll back
 * a rotation a crash interrupted. The rotation, or its failure, is a ledger entry with the console user
 * as actor; the entry names key ids only, never key material. Refused on a cluster node
 * (DATA_KEY_KEK_SHARED, below): a cluster's KEK is rotated by `kenshin keys rotate-cluster`
 * (service/cluster/cluster-kek-rotation.ts).
 */
import { randomBytes } from "node:crypto";
import type { Command } from "commander";

import { readNodeClusterConfig } from "../cluster/cluster-agent.js";
import { isCodedError } from "../coded-error.js";
import { DataKeyError } from "../crypto/data-keys.js";
import { adminRecord, audit } from "../service/audit/audit.js";

import { consoleActor } from "./console-node.js";
import { closeNode, openNode } from "../service/node.js";
import { rotateKek } from "../store/kek-rotation.js";
import { rotateClusterKek } from "../service/cluster/cluster-kek-rotation.js";
import { EXIT_ISSUES } from "./exit-codes.js";

/** Registers `kenshin keys …`. */
export function registerKeyCommands(program: Command): void {
  const keys = program.command("keys").description("鍵の管理");
  keys
    .command("rotate")
    .description("鍵暗号化鍵 (KEK) を更新する: 保存中のデータ鍵をすべて包み直し、古い KEK を破棄する")
    .requiredOption("--data <dir>", "データディレクトリ")
    .action(async (o: { data: string }) => {
      refuseClusterNode(o.data);
      const ctx = await openNode(o.data);
      try {
        const actor = consoleActor(ctx);
        let result;
        try {
          result = await rotateKek({ db: ctx.db, paths: ctx.paths, random: ctx.random });
        } catch (error) {
          // A refused or failed rotation is audited too; the code says why, without key material.
          const code = isCodedError(error) ? error.code : "INTERNAL";
          await audit(ctx, [
            adminRecord(ctx, actor, "key.rotate", { kind: "key", id: "kek" }, "serious-failure", code),
          ]);
          throw error;
        }
        await audit(ctx, [
          adminRecord(
            ctx,
            actor,
            "key.rotate",
            { kind: "key", id: result.newKekId },
            "success",
            `rewrapped=${result.rewrapped} old=${result.oldKekId} recovered=${result.recovered}`,
          ),
        ]);
        process.stdout.write(
          `${JSON.stringify(
            { rewrapped: result.rewrapped, oldKekId: result.oldKekId, newKekId: result.newKekId },
            null,
            2,
          )}\n`,
        );
      } finally {
        closeNode(ctx);
      }
    });
  keys
    .command("rotate-cluster")
    .description(
      "クラスタの鍵暗号化鍵 (KEK) を更新する: 新しい KEK を全オンラインノードに置き、状態変更として各ノードで包み直させ、古い KEK を破棄させる",
    )
    .requiredOption("--cluster <dir>", "kenshin cluster init で作ったクラスタ構成のディレクトリ")
    .option(
      "--via <node>",
      "状態変更を送るオンラインノード (その serve は止めておく; 既定は最初のオンラインノード)",
    )
    .option("--wait-ms <ms>", "全オンラインノードの完了を待つ時間", "60000")
    .action(async (o: { cluster: string; via?: string; waitMs: string }) => {
      const waitMs = Number(o.waitMs);
      if (!Number.isInteger(waitMs) || waitMs < 0 || waitMs > 3_600_000) {
        throw new DataKeyError("DATA_KEY_INVALID", "--wait-ms は 0〜3600000 の整数です", { got: o.waitMs });
      }
      const result = await rotateClusterKek({
        clusterDir: o.cluster,
        ...(o.via !== undefined ? { via: o.via } : {}),
        actor: consoleActor,
        random: (n) => randomBytes(n),
        waitMs,
      });
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      // A node still holding the new key beside the old one finishes when it applies the command.
      if (result.pending.length > 0) process.exitCode = EXIT_ISSUES;
    });
}

/**
 * A cluster node is refused before anything is opened: the online nodes share one KEK (the uploading
 * node wraps the data key once and every node stores those bytes from the payload's manifest), so a KEK
 * replaced on one node alone would leave the others unable to read what it uploads next, and the
 * offline node (which never holds the KEK) with keys under the old one. Opening the node would also
 * start a second cluster member on a directory whose `kenshin serve` may be running. The whole
 * cluster's rotation is `keys rotate-cluster`.
 * @throws DataKeyError DATA_KEY_KEK_SHARED
 */
function refuseClusterNode(dir: string): void {
  const member = readNodeClusterConfig(dir);
  if (member === undefined) return;
  throw new DataKeyError(
    "DATA_KEY_KEK_SHARED",
    "クラスタのノードでは鍵暗号化鍵 (KEK) をノード単独で更新できません (全オンラインノードで同じ KEK を使っています)",
    { node: member.self, role: member.role },
  );
}
