/**
 * Seals (S1–S2): every sent standard file gets a detached JWS by the node's organisation key over the
 * file's exact bytes, and an RFC 3161 time-stamp token over that JWS; the seal is a ledger entry beside
 * the send entry, and the two together are the file's FHIR Provenance (fhir/provenance.ts).
 */
import { createHash } from "node:crypto";
import { DetachedJwsSigner } from "../../crypto/detached-jws.js";
import type { RecordInput } from "../../ledger/entry/operation-record.js";
import { recordCommon } from "../audit/audit.js";
import type { Actor, ServiceContext } from "../context.js";
import { sealIdentity } from "./signing-identities.js";
import { timeStamp } from "./time-stamps.js";

/** A seal being made over a file read piece by piece: `update` with each piece, then `finish`. */
export interface SealInProgress {
  update(piece: Uint8Array): void;
  /** The seal entry: the JWS over every piece given, time-stamped. */
  finish(actor: Actor, transferId: string): Promise<RecordInput>;
}

/**
 * Starts the seal of a standard file about to be sent (its exact stored bytes, given as they are read:
 * the file is never held whole).
 */
export async function startSeal(ctx: ServiceContext): Promise<SealInProgress> {
  const seal = await sealIdentity(ctx);
  const signer = new DetachedJwsSigner({ key: seal.key, chainPem: seal.chainPem, now: ctx.now() });
  const fileHash = createHash("sha256");
  let bytes = 0;
  return {
    update(piece) {
      signer.update(piece);
      fileHash.update(piece);
      bytes += piece.length;
    },
    async finish(actor, transferId) {
      const jws = signer.finish();
      const stamped = await timeStamp(ctx, new TextEncoder().encode(jws));
      return {
        ...recordCommon(ctx, actor, "success"),
        type: "seal",
        transfer: transferId,
        file: { sha256: fileHash.digest("hex"), bytes },
        jws,
        timestamp: {
          token: Buffer.from(stamped.token).toString("base64"),
          time: stamped.time,
          tsa: stamped.tsa.slice(0, 500),
        },
      };
    },
  };
}

/** The seal entry for a standard file held in memory (see {@link startSeal} for a streamed one). */
export async function sealRecord(
  ctx: ServiceContext,
  actor: Actor,
  transferId: string,
  bytes: Uint8Array,
): Promise<RecordInput> {
  const sealing = await startSeal(ctx);
  sealing.update(bytes);
  return sealing.finish(actor, transferId);
}
