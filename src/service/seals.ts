/**
 * Seals (S1–S2): every sent standard file gets a detached JWS by the node's organisation key over the
 * file's exact bytes, and an RFC 3161 time-stamp token over that JWS; the seal is a ledger entry beside
 * the send entry, and the two together are the file's FHIR Provenance (fhir/provenance.ts).
 */
import { createHash } from "node:crypto";
import { signDetachedJws } from "../crypto/detached-jws.js";
import type { RecordInput } from "../ledger/entry/operation-record.js";
import { recordCommon } from "./audit.js";
import type { Actor, ServiceContext } from "./context.js";
import { sealIdentity } from "./signing-identities.js";
import { timeStamp } from "./time-stamps.js";

/** The seal entry for a standard file about to be sent (its exact stored bytes). */
export async function sealRecord(
  ctx: ServiceContext,
  actor: Actor,
  transferId: string,
  bytes: Uint8Array,
): Promise<RecordInput> {
  const seal = await sealIdentity(ctx);
  const jws = signDetachedJws({ payload: bytes, key: seal.key, chainPem: seal.chainPem, now: ctx.now() });
  const stamped = await timeStamp(ctx, new TextEncoder().encode(jws));
  return {
    ...recordCommon(ctx, actor, "success"),
    type: "seal",
    transfer: transferId,
    file: { sha256: createHash("sha256").update(bytes).digest("hex"), bytes: bytes.length },
    jws,
    timestamp: {
      token: Buffer.from(stamped.token).toString("base64"),
      time: stamped.time,
      tsa: stamped.tsa.slice(0, 500),
    },
  };
}
