/**
 * Trust on first use of the seal and time-stamp anchors (`GET /api/v1/ledger/signing-trust`: the CA
 * that issues the organisation seal, and the CAs of the trusted TSAs), as verifier-pin.ts does for the
 * ledger key: the first answer is pinned in IndexedDB and every seal check uses the pinned anchors. A
 * service that later serves other anchors cannot make a seal from another CA look verified; the page
 * says the anchors changed.
 */
import type { Api } from "./api.js";
import { loadSigningTrustPin, saveSigningTrustPin } from "./device-store.js";

export interface SigningTrustAnchors {
  /** PEM of the CA that issues the seal certificate. */
  readonly sealCa: string;
  /** PEMs of the CAs that issue TSA certificates. */
  readonly tsaCas: readonly string[];
}

export type TrustPinState =
  | { readonly status: "pinned-now" | "match"; readonly anchors: SigningTrustAnchors }
  | { readonly status: "changed"; readonly anchors: SigningTrustAnchors }
  | { readonly status: "unavailable" };

const PEM = /^-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE-----\n$/;

/** The anchors in a served or pinned text, strictly (anything else is not trusted). */
export function parseSigningTrust(text: string): SigningTrustAnchors {
  const o = JSON.parse(text) as { sealCa?: unknown; tsaCas?: unknown };
  const pem = (v: unknown): string => {
    const norm = typeof v === "string" ? `${v.replace(/\r\n/g, "\n").trim()}\n` : "";
    if (norm.length > 16_384 || !PEM.test(norm)) throw new Error("signing trust");
    return norm;
  };
  if (!Array.isArray(o.tsaCas) || o.tsaCas.length < 1 || o.tsaCas.length > 16) {
    throw new Error("signing trust");
  }
  return { sealCa: pem(o.sealCa), tsaCas: (o.tsaCas as unknown[]).map(pem) };
}

/** Fetches the served anchors and compares them with (or pins them as) the pinned ones. */
export async function checkSigningTrust(api: Api, now: Date): Promise<TrustPinState> {
  try {
    const served = JSON.stringify(
      parseSigningTrust(
        JSON.stringify(await api.get<unknown>("/api/v1/ledger/signing-trust", { reportAuth: false })),
      ),
    );
    const pinned = await loadSigningTrustPin();
    if (pinned === undefined) {
      await saveSigningTrustPin({ text: served, pinnedAt: now.toISOString() });
      return { status: "pinned-now", anchors: parseSigningTrust(served) };
    }
    const anchors = parseSigningTrust(pinned.text);
    return { status: pinned.text === served ? "match" : "changed", anchors };
  } catch {
    return { status: "unavailable" };
  }
}
