/**
 * Identifiers the service hands out: opaque internal IDs (base32, no personal data) and login IDs
 * people type (kind prefix + institution number, or random when there is no number).
 */
const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";

/** An opaque ID like `inst_k3v9…` (80 random bits). */
export function opaqueId(prefix: string, random: (n: number) => Uint8Array): string {
  const bytes = random(10);
  let bits = 0;
  let value = 0;
  let out = "";
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += BASE32.charAt((value >>> (bits - 5)) & 31);
      bits -= 5;
    }
  }
  return `${prefix}_${out}`;
}

/** base64url of random bytes (session tokens, CSRF tokens). */
export function randomToken(random: (n: number) => Uint8Array, bytes = 32): string {
  return Buffer.from(random(bytes)).toString("base64url");
}

/** Login IDs: letters, digits and hyphens only, 3–32 characters (they appear in certificates too). */
export const LOGIN_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9-]{2,31}$/;

export function loginIdFor(
  kind: "office" | "sender" | "receiver",
  number: string | null,
  random: (n: number) => Uint8Array,
): string {
  const prefix = kind === "office" ? "ADMIN" : kind === "sender" ? "S" : "R";
  if (number !== null && kind !== "office") return `${prefix}${number}`;
  return `${prefix}-${opaqueId("x", random).slice(2, 10).toUpperCase()}`;
}
