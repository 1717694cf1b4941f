/**
 * Gathering cosignatures through etcd until a checkpoint is published (log signature + a quorum of pinned
 * node cosignatures, published-checkpoint.ts):
 *
 *   checkpoints/<size, 16 digits>/note         the log-signed checkpoint of that size (first offer wins)
 *   checkpoints/<size, 16 digits>/cosig/<node> that node's cosignature line over exactly that note
 *   published                                  the latest published note (only ever moves forward)
 *
 * Every node signs the checkpoint of its own copy with the log key (Ed25519 is deterministic, so equal
 * copies give byte-equal notes) and cosigns it with its own witness key. A node whose note differs from
 * the one already offered for that size has a copy that diverged: its line is not added (it reports
 * "diverged"), and the checkpoint is published by the nodes that agree — or not at all.
 */
import type { Etcd3 } from "etcd3";
import {
  openPublishedCheckpoint,
  type CosignedCheckpoint,
  type CosignerPolicy,
} from "../ledger/verify/published-checkpoint.js";
import { parseCheckpoint } from "../ledger/verify/checkpoint.js";
import { parseSignedNote } from "../ledger/verify/signed-note.js";
import type { VerifierKey } from "../ledger/verify/verifier-key.js";
import { addCosignatureLines } from "./checkpoint-cosigner.js";
import { ClusterError } from "./errors.js";

function sizeKey(prefix: string, size: number): string {
  return `${prefix}checkpoints/${String(size).padStart(16, "0")}/`;
}

/**
 * Offers this node's log-signed note and its cosignature line for the note's size.
 * @returns "offered", or "diverged" when another note of that size was offered first
 */
export async function offerCosignature(
  client: Etcd3,
  prefix: string,
  o: { node: string; note: string; line: string },
): Promise<"offered" | "diverged"> {
  const size = parseCheckpoint(parseSignedNote(o.note).text).size;
  const base = sizeKey(prefix, size);
  await client
    .if(`${base}note`, "Version", "==", 0)
    .then(client.put(`${base}note`).value(o.note))
    .commit();
  const stored = await client.get(`${base}note`).string();
  if (stored !== o.note) return "diverged";
  await client.put(`${base}cosig/${o.node}`).value(o.line);
  return "offered";
}

/**
 * Assembles the note of `size` with every cosignature line that verifies on its own and, once a quorum
 * verifies, records it as the latest published note (unless a larger one is already published).
 * @returns the published checkpoint, or undefined while the quorum is not reached
 */
export async function publishIfQuorum(
  client: Etcd3,
  prefix: string,
  o: { size: number; logKey: VerifierKey; policy: CosignerPolicy },
): Promise<{ note: string; cosigned: CosignedCheckpoint } | undefined> {
  const base = sizeKey(prefix, o.size);
  const note = await client.get(`${base}note`).string();
  if (note === null) return undefined;
  const lines = Object.values(await client.getAll().prefix(`${base}cosig/`).strings());
  const good = lines.filter((line) => {
    try {
      openPublishedCheckpoint(addCosignatureLines(note, [line]), o.logKey, { ...o.policy, quorum: 1 });
      return true;
    } catch {
      return false;
    }
  });
  let published: string;
  let cosigned: CosignedCheckpoint;
  try {
    published = addCosignatureLines(note, good);
    cosigned = openPublishedCheckpoint(published, o.logKey, o.policy);
  } catch {
    return undefined;
  }
  const key = `${prefix}published`;
  for (let attempt = 0; attempt < 5; attempt++) {
    const current = await client.get(key).exec();
    const kv = current.kvs[0];
    if (kv !== undefined) {
      const size = parseCheckpoint(parseSignedNote(kv.value.toString("utf8")).text).size;
      if (size >= o.size) return { note: published, cosigned };
    }
    const txn =
      kv === undefined ? client.if(key, "Version", "==", 0) : client.if(key, "Mod", "==", kv.mod_revision);
    if ((await txn.then(client.put(key).value(published)).commit()).succeeded)
      return { note: published, cosigned };
  }
  throw new ClusterError("CLUSTER_LOG_CONFLICT", "公開チェックポイントを更新できません", { size: o.size });
}

/** The latest published note, if any. */
export async function latestPublished(client: Etcd3, prefix: string): Promise<string | undefined> {
  return (await client.get(`${prefix}published`).string()) ?? undefined;
}
