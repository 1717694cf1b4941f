/**
 * The history of the CAs this node's time-stamp tokens chain to, so that a token stays verifiable for
 * the whole legal retention period (S2) after the TSA is rotated: from the built-in TSA to an external
 * one, or from one external TSA CA (`timestamp.tsaCaPem`) to the next. A token carries its own TSA
 * certificate, so a renewed TSA certificate under the same CA needs nothing here; a new CA does.
 *
 * Rule: whenever a token is made under an anchor (the configured TSA CA, or the service CA for the
 * built-in TSA) that the history does not hold yet, the anchor is added (first use = now) and every
 * earlier anchor is retired at that moment. A token verifies against the current anchors (the
 * configured one and the service CA, always) or against a retired one if its genTime is no later than
 * that anchor's retirement — a retired CA's key cannot vouch for a time after it was replaced. Anchors
 * are never removed (the retention period outlives any TSA certificate); the file is
 * `ca/tsa-trust-history.json` beside the CA certificate, written aside and renamed.
 */
import { createHash, X509Certificate } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { isCodedError } from "../../coded-error.js";
import { CryptoError } from "../../crypto/errors.js";
import { verifyTimeStamp, type VerifiedTimeStamp } from "../../crypto/timestamp.js";
import type { ServiceContext } from "../context.js";

/** One CA that time-stamp tokens of this node have chained to. */
export interface TsaAnchor {
  /** SHA-256 of the certificate (DER), lower-case hex. */
  readonly sha256: string;
  readonly pem: string;
  /** When a token was first made under it (ISO 8601). */
  readonly firstUsed: string;
  /** When a later anchor replaced it; absent for the current one. */
  readonly retired?: string | undefined;
}

const historySchema = z
  .object({
    format: z.literal("kenshin-tsa-trust-history"),
    anchors: z
      .array(
        z
          .object({
            sha256: z.string().regex(/^[0-9a-f]{64}$/),
            pem: z
              .string()
              .min(1)
              .max(64 * 1024),
            firstUsed: z.iso.datetime(),
            retired: z.iso.datetime().optional(),
          })
          .strict(),
      )
      .max(1000),
  })
  .strict();

/** The history file of a data directory. */
export function tsaHistoryPath(ctx: Pick<ServiceContext, "paths">): string {
  return join(ctx.paths.dir, "ca", "tsa-trust-history.json");
}

const norm = (pem: string): string => `${pem.replace(/\r\n/g, "\n").trim()}\n`;
const fingerprint = (pem: string): string =>
  createHash("sha256").update(new X509Certificate(pem).raw).digest("hex");

/** The recorded anchors, oldest first (none when the file does not exist yet). */
export function readTsaHistory(path: string): TsaAnchor[] {
  if (!existsSync(path)) return [];
  return historySchema.parse(JSON.parse(readFileSync(path, "utf8"))).anchors;
}

/** The anchor new tokens chain to: the configured external TSA's CA, else the service CA. */
export function currentTsaAnchor(ctx: Pick<ServiceContext, "config" | "ca">): string {
  return norm(ctx.config.timestamp.tsaCaPem ?? ctx.ca.certPem);
}

/**
 * Records that a token was made under `pem` at `now`: a new anchor is added and the earlier ones are
 * retired; a known current anchor changes nothing (no write on the hot path).
 */
export async function rememberTsaAnchor(path: string, pem: string, now: Date): Promise<void> {
  const anchors = readTsaHistory(path);
  const sha256 = fingerprint(pem);
  const known = anchors.find((a) => a.sha256 === sha256);
  if (known !== undefined && known.retired === undefined) return;
  const at = now.toISOString();
  const next: TsaAnchor[] = [
    ...anchors
      .filter((a) => a.sha256 !== sha256)
      .map((a) => (a.retired === undefined ? { ...a, retired: at } : a)),
    // A CA used again after it was replaced becomes current again (its first use stays the first).
    { sha256, pem: norm(pem), firstUsed: known?.firstUsed ?? at },
  ];
  const body = `${JSON.stringify({ format: "kenshin-tsa-trust-history", anchors: next }, null, 2)}\n`;
  await writeFile(`${path}.new`, body, { mode: 0o644 });
  await rename(`${path}.new`, path);
}

/**
 * Every anchor a token of this node may chain to, current ones first: the configured TSA CA, the
 * service CA (the built-in TSA's), then the retired ones with the time they were retired.
 */
export function tsaAnchors(
  ctx: Pick<ServiceContext, "config" | "ca" | "paths">,
): { readonly pem: string; readonly retired?: Date }[] {
  const out: { pem: string; retired?: Date }[] = [];
  const seen = new Set<string>();
  const add = (pem: string, retired?: string) => {
    const sha = fingerprint(pem);
    if (seen.has(sha)) return;
    seen.add(sha);
    out.push({ pem: norm(pem), ...(retired !== undefined ? { retired: new Date(retired) } : {}) });
  };
  add(currentTsaAnchor(ctx));
  add(ctx.ca.certPem);
  const history = readTsaHistory(tsaHistoryPath(ctx));
  for (const a of history) if (a.retired === undefined) add(a.pem);
  for (const a of [...history].reverse()) if (a.retired !== undefined) add(a.pem, a.retired);
  return out;
}

/**
 * Verifies a token over `data` against the history: the first anchor that verifies it wins; under a
 * retired anchor the token's genTime must not be later than the retirement.
 * @throws CryptoError CRYPTO_TIMESTAMP_INVALID — the current anchor's reason when none verifies it
 */
export async function verifyTimeStampWithHistory(
  ctx: Pick<ServiceContext, "config" | "ca" | "paths">,
  token: Uint8Array,
  data: Uint8Array,
): Promise<VerifiedTimeStamp> {
  let first: unknown;
  for (const anchor of tsaAnchors(ctx)) {
    try {
      const v = await verifyTimeStamp(token, { data, caPem: anchor.pem });
      if (anchor.retired !== undefined && v.genTime.getTime() > anchor.retired.getTime()) {
        throw new CryptoError(
          "CRYPTO_TIMESTAMP_INVALID",
          "時刻認証トークンの時刻が、その認証局が交代した後です",
          { why: "genTime after the anchor was retired" },
        );
      }
      return v;
    } catch (error) {
      if (!isCodedError(error)) throw error;
      first ??= error;
    }
  }
  throw first;
}
