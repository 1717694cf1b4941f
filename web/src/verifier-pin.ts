/**
 * Trust on first use of the ledger's verifier key: the first key the service shows is pinned in
 * IndexedDB, and every later verification uses the pinned key, never the one just served. If the
 * service ever shows another key, the UI warns loudly and verification keeps failing against the pin —
 * a service that swapped its log key cannot make its new history look verified.
 *
 * A cluster also shows its cosigner policy (`GET /api/v1/ledger/cosigners`: the online nodes' witness
 * keys and the quorum; empty on a single node). It is pinned together with the log key, as one text
 * (the key's line, then the list), so every later verification requires a published checkpoint —
 * cosigned by a quorum of the pinned node keys — and a service that drops or swaps the cosigners is
 * "changed" exactly like a swapped log key.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { toHex, utf8 } from "../../src/ledger/verify/encoding.js";
import { parseCosignerList } from "../../src/ledger/verify/cosigner-list.js";
import type { CosignerPolicy } from "../../src/ledger/verify/published-checkpoint.js";
import { parseVerifierKey, type VerifierKey } from "../../src/ledger/verify/verifier-key.js";
import type { Api } from "./api.js";
import { loadVerifierKeyPin, saveVerifierKeyPin } from "./device-store.js";

export type PinState =
  | {
      readonly status: "pinned-now" | "match";
      readonly key: VerifierKey;
      /** A cluster's pinned node keys and quorum (absent on a single node). */
      readonly cosigners?: CosignerPolicy;
      readonly fingerprint: string;
      /** The key as the console prints it (`台帳の検証鍵: …`), for comparing by eye. */
      readonly text: string;
    }
  | {
      readonly status: "changed";
      /** The pinned key: still the one verification uses (with the pinned cosigners). */
      readonly key: VerifierKey;
      readonly cosigners?: CosignerPolicy;
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

/** The pinned text's key and cosigner policy: the key's line, then (in a cluster) the cosigner list. */
function trustOf(text: string): { key: VerifierKey; cosigners?: CosignerPolicy } {
  const [first = "", ...rest] = text.split("\n");
  const key = parseVerifierKey(first.trim());
  const cosigners = parseCosignerList(rest.join("\n"), key);
  return cosigners === undefined ? { key } : { key, cosigners };
}

/** What the service serves: its key, and its cosigner list when it has one. */
async function servedTrust(api: Api): Promise<string> {
  const key = (await api.get<string>("/api/v1/ledger/verifier-key", { reportAuth: false })).trim();
  const list = (await api.get<string>("/api/v1/ledger/cosigners", { reportAuth: false })).trim();
  return list === "" ? key : `${key}\n${list}`;
}

/** Fetches the served key (and cosigners) and compares them with (or pins them as) the pinned ones. */
export async function checkVerifierKey(api: Api, now: Date): Promise<PinState> {
  let served: string;
  let pinned: Awaited<ReturnType<typeof loadVerifierKeyPin>>;
  try {
    served = await servedTrust(api);
    pinned = await loadVerifierKeyPin();
    if (pinned === undefined) {
      const trust = trustOf(served);
      await saveVerifierKeyPin({ text: served, pinnedAt: now.toISOString() });
      return { status: "pinned-now", ...trust, fingerprint: keyFingerprint(served), text: served };
    }
    const trust = trustOf(pinned.text);
    if (pinned.text === served) {
      return { status: "match", ...trust, fingerprint: keyFingerprint(served), text: served };
    }
    return {
      status: "changed",
      ...trust,
      fingerprint: keyFingerprint(pinned.text),
      text: pinned.text,
      servedFingerprint: keyFingerprint(served),
    };
  } catch {
    return { status: "unavailable" };
  }
}
