/**
 * What a client certificate says about its holder, and where:
 * - subject CN (2.5.4.3) = the login ID, so the browser's certificate chooser shows it;
 * - subject O (2.5.4.10) = the institution's name, for people;
 * - subjectAltName uniformResourceIdentifier (RFC 5280 §4.2.1.6) =
 *   `urn:kenshin:institution:<institutionId>`, the machine-readable institution ID the server trusts.
 * The ID goes in a URI rather than OU because OU is free text that CAs are told to stop using (CA/B
 * Forum ballot SC47) and a URI has one unambiguous syntax to parse back.
 */
import { PkiError } from "./errors.js";

/** Prefix of the institution URI in the subjectAltName of client certificates. */
export const INSTITUTION_URN_PREFIX = "urn:kenshin:institution:";

/** RFC 5280 Appendix A: ub-common-name and ub-organization-name are both 64 characters. */
export const MAX_NAME_CHARS = 64;

// Characters allowed unescaped in a URN's namespace-specific string (RFC 8141 §2) and safe in file
// names and logs; a 10-digit 健診機関番号 or an insurer number fits.
const INSTITUTION_ID = /^[0-9A-Za-z][0-9A-Za-z._-]{0,63}$/;
// Controls and format characters (bidi overrides, zero-width) would make two names look alike; lone
// surrogates (Cs) cannot be encoded as UTF8String at all.
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u;

/**
 * Checks a name that goes into the subject (CN or O): 1–64 characters, no control or format characters,
 * no surrounding spaces.
 * @throws PkiError PKI_OPTION_INVALID
 */
export function checkSubjectName(value: unknown, field: string): string {
  if (
    typeof value !== "string" ||
    value.length === 0 ||
    codePoints(value) > MAX_NAME_CHARS ||
    value.trim() !== value ||
    INVISIBLE.test(value)
  ) {
    throw new PkiError("PKI_OPTION_INVALID", `${field} は前後に空白のない 1〜${MAX_NAME_CHARS} 文字です`, {
      field,
      expected: `1..${MAX_NAME_CHARS} visible characters`,
    });
  }
  return value;
}

/**
 * Checks an institution ID: ASCII letters, digits, `.`, `_`, `-`, 1–64 characters, starting with a letter
 * or digit.
 * @throws PkiError PKI_OPTION_INVALID
 */
export function checkInstitutionId(value: unknown): string {
  if (typeof value !== "string" || !INSTITUTION_ID.test(value)) {
    throw new PkiError("PKI_OPTION_INVALID", "institutionId は英数字と . _ - の 64 文字以内です", {
      field: "institutionId",
      expected: INSTITUTION_ID.source,
    });
  }
  return value;
}

/** The institution URI for an ID already checked by {@link checkInstitutionId}. */
export function institutionUrn(institutionId: string): string {
  return `${INSTITUTION_URN_PREFIX}${institutionId}`;
}

/** The institution ID in a URI made by {@link institutionUrn}, or undefined for any other URI. */
export function parseInstitutionUrn(uri: string): string | undefined {
  if (!uri.startsWith(INSTITUTION_URN_PREFIX)) return undefined;
  const id = uri.slice(INSTITUTION_URN_PREFIX.length);
  return INSTITUTION_ID.test(id) ? id : undefined;
}

// RFC 5280 upper bounds count characters (code points), not UTF-16 units: 𠮷 is one character.
function codePoints(value: string): number {
  return value.replace(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g, "_").length;
}
