/**
 * RFC 3161 time stamps from the configured authority — the built-in TSA (default) or the external TSA
 * at `config.timestamp.tsaUrl` — each verified before it is kept; and the tokens over signed
 * checkpoints (the note text), one per checkpoint size, in `checkpoint_timestamps`. The CA each token
 * chains to is remembered (tsa-trust-history.ts), so tokens stay verifiable after a TSA rotation.
 */
import { createHash } from "node:crypto";
import { issueTimeStamp, verifyTimeStamp } from "../../crypto/timestamp.js";
import { requestTimeStamp } from "../../crypto/tsa-client.js";
import type { PublishedCheckpoint } from "../../ledger/write-port.js";
import { toHex } from "../../ledger/verify/encoding.js";
import type { ServiceContext } from "../context.js";
import { tsaIdentity } from "./signing-identities.js";
import { currentTsaAnchor, rememberTsaAnchor, tsaHistoryPath } from "./tsa-trust-history.js";

export interface TimeStamped {
  /** DER TimeStampResp. */
  readonly token: Uint8Array;
  readonly time: string;
  readonly tsa: string;
}

/** A time-stamp token over `data` from the configured TSA, checked before it is kept. */
export async function timeStamp(ctx: ServiceContext, data: Uint8Array): Promise<TimeStamped> {
  const digest = new Uint8Array(createHash("sha256").update(data).digest());
  const external = ctx.config.timestamp.tsaUrl;
  if (external !== undefined) {
    const { response, nonce } = await requestTimeStamp(external, digest, {
      random: ctx.random,
      timeoutMs: ctx.config.timestamp.timeoutMs,
    });
    const caPem = ctx.config.timestamp.tsaCaPem ?? ctx.ca.certPem;
    // Imprint, signature, chain to the configured CA, EKU and the nonce we sent: all before keeping it.
    const v = await verifyTimeStamp(response, { data, caPem, nonce });
    await rememberTsaAnchor(tsaHistoryPath(ctx), currentTsaAnchor(ctx), ctx.now());
    return { token: response, time: v.genTime.toISOString(), tsa: external };
  }
  const tsa = await tsaIdentity(ctx);
  // Whole seconds: GeneralizedTime without fractions, the form every RFC 3161 client reads.
  const genTime = new Date(Math.floor(ctx.now().getTime() / 1000) * 1000);
  const token = await issueTimeStamp(tsa, { digest, genTime });
  await rememberTsaAnchor(tsaHistoryPath(ctx), ctx.ca.certPem, ctx.now());
  return { token, time: genTime.toISOString(), tsa: tsa.subject };
}

/**
 * Time-stamps a signed checkpoint (its note text, UTF-8) once; a size already stamped is left alone.
 * Returns the stored token's row.
 */
export async function stampCheckpoint(ctx: ServiceContext, checkpoint: PublishedCheckpoint): Promise<void> {
  const have = ctx.db
    .prepare<[number], { size: number }>("SELECT size FROM checkpoint_timestamps WHERE size = ?")
    .get(checkpoint.size);
  if (have) return;
  const stamped = await timeStamp(ctx, new TextEncoder().encode(checkpoint.note));
  ctx.db
    .prepare(
      "INSERT OR IGNORE INTO checkpoint_timestamps (size, root, token, gen_time, tsa) VALUES (?, ?, ?, ?, ?)",
    )
    .run(checkpoint.size, toHex(checkpoint.root), Buffer.from(stamped.token), stamped.time, stamped.tsa);
}

/** The stored token of the checkpoint of `size`, if any. */
export function checkpointTimeStamp(
  ctx: ServiceContext,
  size: number,
): { token: Uint8Array; time: string; tsa: string } | undefined {
  const row = ctx.db
    .prepare<[number], { token: Buffer; gen_time: string; tsa: string }>(
      "SELECT token, gen_time, tsa FROM checkpoint_timestamps WHERE size = ?",
    )
    .get(size);
  return row ? { token: new Uint8Array(row.token), time: row.gen_time, tsa: row.tsa } : undefined;
}
