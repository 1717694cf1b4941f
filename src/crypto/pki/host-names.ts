/**
 * Host names of the server certificate. Browsers match only subjectAltName (RFC 6125 §6.4.4; Chrome
 * ignores the CN since version 58), so each name becomes a dNSName or iPAddress entry (RFC 5280
 * §4.2.1.6). Wildcards are refused: one node has a known, short list of names.
 */
import { isIP } from "node:net";
import { PkiError } from "./errors.js";

/** One subjectAltName entry in @peculiar/x509's JSON form. */
export interface HostNameEntry {
  readonly type: "dns" | "ip";
  readonly value: string;
}

/** More names than this is a configuration mistake, not a real node. */
export const MAX_HOST_NAMES = 100;

// RFC 1123 §2.1 letter-digit-hyphen labels; A-labels (xn--) of IDNs match as they are.
const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Classifies and checks host names; DNS names are lower-cased and duplicates dropped, order kept.
 * @throws PkiError PKI_OPTION_INVALID
 */
export function hostNameEntries(hostNames: unknown): HostNameEntry[] {
  if (!Array.isArray(hostNames) || hostNames.length === 0 || hostNames.length > MAX_HOST_NAMES) {
    throw new PkiError("PKI_OPTION_INVALID", `hostNames には 1〜${MAX_HOST_NAMES} 個のホスト名が必要です`, {
      field: "hostNames",
    });
  }
  const seen = new Set<string>();
  const entries: HostNameEntry[] = [];
  for (const [index, raw] of hostNames.entries()) {
    const entry = hostNameEntry(raw, index);
    const key = `${entry.type}:${entry.value}`;
    if (!seen.has(key)) {
      seen.add(key);
      entries.push(entry);
    }
  }
  return entries;
}

function hostNameEntry(raw: unknown, index: number): HostNameEntry {
  if (typeof raw === "string" && raw.length <= 253) {
    if (isIP(raw) !== 0) return { type: "ip", value: raw };
    const name = raw.toLowerCase();
    if (name.split(".").every((label) => DNS_LABEL.test(label))) return { type: "dns", value: name };
  }
  throw new PkiError("PKI_OPTION_INVALID", "ホスト名は DNS 名か IP アドレスでなければなりません", {
    field: `hostNames[${index}]`,
    expected: "DNS name (LDH labels, no wildcard) or IP literal",
  });
}
