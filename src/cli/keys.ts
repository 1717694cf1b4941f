/**
 * `kenshin keys rotate`: replaces the node's key-encryption key, re-wrapping every live data key and
 * destroying the old KEK (see `store/payload-store.ts` rotateKek). Also the way to finish or roll back
 * a rotation a crash interrupted. The rotation, or its failure, is a ledger entry with the console user
 * as actor; the entry names key ids only, never key material. Refused on a cluster node
 * (DATA_KEY_KEK_SHARED, below).
 */
import type { Command } from "commander";

import { readNodeClusterConfig } from "../cluster/cluster-agent.js";
import { isCodedError } from "../coded-error.js";
import { DataKeyError } from "../crypto/data-keys.js";
import { adminRecord, audit } from "../service/audit/audit.js";

import { consoleActor } from "./console-node.js";
import { closeNode, openNode } from "../service/node.js";
import { rotateKek } from "../store/kek-rotation.js";

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
}

/**
 * A cluster node is refused before anything is opened: the online nodes share one KEK (the uploading
 * node wraps the data key once and every node stores those bytes from the payload's manifest), so a KEK
 * replaced on one node alone would leave the others unable to read what it uploads next, and the
 * offline node (which never holds the KEK) with keys under the old one. Opening the node would also
 * start a second cluster member on a directory whose `kenshin serve` may be running. What a rotation
 * of the whole cluster needs is in the README ("Crypto-shredding on a cluster").
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
