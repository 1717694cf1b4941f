/**
 * Certificate serial numbers (RFC 5280 §4.1.2.2): positive INTEGERs of at most 20 octets, unique per CA.
 * Ours are random so that they are unpredictable (the defence the CA/Browser Forum Baseline
 * Requirements §7.1 asks for, with at least 64 random bits) and unique without any shared counter, which
 * lets several nodes issue from the same CA.
 *
 * The hex form used everywhere in this service is the DER INTEGER content octets in lower case. That is
 * exactly what @peculiar/x509 takes and returns, and what a CRL entry must repeat for OpenSSL to match a
 * revoked certificate.
 */
import { PkiError } from "./errors.js";

/** Octets of a serial we issue. */
export const SERIAL_OCTETS = 16;
/** RFC 5280 §4.1.2.2: conforming CAs MUST NOT use serials longer than 20 octets. */
export const MAX_SERIAL_OCTETS = 20;

/**
 * A fresh serial: 16 random octets with the top bit cleared (so the INTEGER is positive without a
 * leading 0x00) and the next bit set (so the first octet is never 0x00 and the DER stays minimal at
 * exactly 16 octets). 126 random bits remain.
 */
export function randomSerialHex(
  random: (octets: number) => Uint8Array = (octets) =>
    globalThis.crypto.getRandomValues(new Uint8Array(octets)),
): string {
  const bytes = random(SERIAL_OCTETS);
  if (bytes.length !== SERIAL_OCTETS) {
    throw new PkiError("PKI_OPTION_INVALID", "乱数の長さが不正です", { got: bytes.length });
  }
  const first = bytes[0] ?? 0;
  bytes[0] = (first & 0x7f) | 0x40;
  return Buffer.from(bytes).toString("hex");
}

const HEX = /^(?:[0-9a-fA-F]{2})+$/;

/**
 * Checks that `hex` is the content of a positive, minimally encoded DER INTEGER of at most 20 octets
 * (X.690 §8.3.2) and returns it in lower case. A serial given with a redundant leading 00 or in two's
 * complement negative form would never match the certificate in a CRL, so it is refused, not fixed.
 * @throws PkiError PKI_SERIAL_INVALID
 */
export function normalizeSerialHex(hex: unknown): string {
  if (typeof hex !== "string" || hex.length > MAX_SERIAL_OCTETS * 2 + 2 || !HEX.test(hex)) {
    throw new PkiError("PKI_SERIAL_INVALID", "シリアル番号は 16 進数 (偶数桁) で指定してください");
  }
  const bytes = Buffer.from(hex, "hex");
  const first = bytes[0] ?? 0;
  const second = bytes[1];
  const negative = first >= 0x80;
  const redundantZero = first === 0x00 && (second === undefined || second < 0x80);
  // A positive value with the high bit set needs one leading 0x00, hence 21 octets are allowed on the
  // wire only in that case; RFC 5280 bounds the value, not the encoding.
  const tooLong = bytes.length > MAX_SERIAL_OCTETS + (first === 0x00 ? 1 : 0);
  if (negative || redundantZero || tooLong) {
    throw new PkiError(
      "PKI_SERIAL_INVALID",
      "シリアル番号が正の DER 整数 (20 オクテット以内) ではありません",
      {
        octets: bytes.length,
      },
    );
  }
  return hex.toLowerCase();
}
