/**
 * Trust on first use of the ledger's verifier key: the first key the service shows is pinned in
 * IndexedDB, and every later verification uses the pinned key, never the one just served. If the
 * service ever shows another key, the UI warns loudly and verification keeps failing against the pin —
 * a service that swapped its log key cannot make its new history look verified.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { toHex, utf8 } from "../../src/ledger/verify/encoding.js";
import { parseVerifierKey, type VerifierKey } from "../../src/ledger/verify/verifier-key.js";
import type { Api } from "./api.js";
import { loadVerifierKeyPin, saveVerifierKeyPin } from "./device-store.js";

export type PinState =
  | {
      readonly status: "pinned-now" | "match";
      readonly key: VerifierKey;
      readonly fingerprint: string;
      /** The key as the console prints it (`台帳の検証鍵: …`), for comparing by eye. */
      readonly text: string;
    }
  | {
      readonly status: "changed";
      /** The pinned key: still the one verification uses. */
      readonly key: VerifierKey;
      readonly fingerprint: string;
      readonly text: string;
      readonly servedFingerprint: string;
    }
  | { readonly status: "unavailable" };

/** SHA-256 of the key text, as 16 groups of 4 hex digits. */
export function keyFingerprint(text: string): string {
  const hex = toHex(sha256(utf8(text)));
  return (hex.match(/.{4}/g) ?? []).join(" ");
}

/** Fetches the served key and compares it with (or pins it as) the pinned one. */
export async function checkVerifierKey(api: Api, now: Date): Promise<PinState> {
  let served: string;
  let pinned: Awaited<ReturnType<typeof loadVerifierKeyPin>>;
  try {
    served = (await api.get<string>("/api/v1/ledger/verifier-key", { reportAuth: false })).trim();
    pinned = await loadVerifierKeyPin();
    if (pinned === undefined) {
      const key = parseVerifierKey(served);
      await saveVerifierKeyPin({ text: served, pinnedAt: now.toISOString() });
      return { status: "pinned-now", key, fingerprint: keyFingerprint(served), text: served };
    }
    const key = parseVerifierKey(pinned.text);
    if (pinned.text === served) {
      return { status: "match", key, fingerprint: keyFingerprint(served), text: served };
    }
    return {
      status: "changed",
      key,
      fingerprint: keyFingerprint(pinned.text),
      text: pinned.text,
      servedFingerprint: keyFingerprint(served),
    };
  } catch {
    return { status: "unavailable" };
  }
}
