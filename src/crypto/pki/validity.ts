/**
 * Validity periods (RFC 5280 §4.1.2.5) and the recommended defaults of this service's PKI.
 */
import { PkiError } from "./errors.js";

const DAY_MS = 86_400_000;

/**
 * notBefore (and a CRL's thisUpdate) is set this far before `now`, so that a browser or node whose clock
 * runs a few minutes behind the issuing node does not reject a certificate issued a moment ago as
 * "not yet valid". Public CAs do the same (commonly by an hour); five minutes covers NTP-synced
 * machines (security requirement T1) without widening the window much.
 */
export const CLOCK_SKEW_MS = 5 * 60_000;

/** Longest validity accepted for anything, about 27 years; a typo like 36500 is refused. */
export const MAX_VALIDITY_DAYS = 10_000;

/**
 * Recommended validities in days. The API takes the number explicitly; these are what `kenshin init`
 * and `kenshin admin cert issue` should use unless configured.
 * - CA: 10 years; replacing it means re-issuing every certificate and re-importing it in every browser.
 * - Server: 397 days, the most browsers accept for publicly trusted servers (Chrome and Apple policy),
 *   kept here too so nothing breaks if a browser starts applying it to private roots.
 * - Client: 1 year, renewed with the institution's yearly contract check.
 * - CRL nextUpdate: 7 days. OpenSSL refuses EVERY client once the loaded CRL is past nextUpdate, so the
 *   server must re-sign the CRL well before that (daily is the plan); see `tlsServerOptions`.
 */
export const DEFAULT_VALIDITY_DAYS = {
  ca: 3650,
  server: 397,
  client: 365,
  crlNextUpdate: 7,
} as const;

/**
 * Checks `now` and `days` and returns the period [now − skew, now + days].
 * @throws PkiError PKI_OPTION_INVALID
 */
export function validityPeriod(
  now: unknown,
  days: unknown,
  field: string,
): { notBefore: Date; notAfter: Date } {
  const start = checkedDate(now, "now");
  if (typeof days !== "number" || !Number.isInteger(days) || days < 1 || days > MAX_VALIDITY_DAYS) {
    throw new PkiError(
      "PKI_OPTION_INVALID",
      `${field} は 1 以上 ${MAX_VALIDITY_DAYS} 以下の整数 (日数) です`,
      {
        field,
        expected: `integer 1..${MAX_VALIDITY_DAYS}`,
        got: typeof days === "number" ? days : typeof days,
      },
    );
  }
  return {
    notBefore: new Date(start.getTime() - CLOCK_SKEW_MS),
    notAfter: new Date(start.getTime() + days * DAY_MS),
  };
}

/**
 * Checks that `value` is a valid Date.
 * @throws PkiError PKI_OPTION_INVALID
 */
export function checkedDate(value: unknown, field: string): Date {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) {
    throw new PkiError("PKI_OPTION_INVALID", `${field} は有効な日時ではありません`, { field });
  }
  return value;
}
