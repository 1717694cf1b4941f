/**
 * The signer and the time of each entry on a transfer's timeline, verified in this browser against the
 * pinned anchors (signing-trust-pin.ts), on top of the ledger check of trail-check.ts (the one verifier
 * in src/ledger/verify: each entry's leaf hash and inclusion under the signed checkpoint):
 * - time: the checkpoint the entries are proven under carries an RFC 3161 token over its note text
 *   (`checkpointTimestamp` of the trail answer). A verified token whose genTime is not before the
 *   entry's recorded time (1 s accuracy) proves the entry existed by then — the entry's time is
 *   confirmed as "recorded by"; an entry whose time is after it fails. Without a token yet (the node
 *   stamps checkpoints after publishing them) the time is "not checked".
 * - signer of a seal entry: the RFC 3161 token over its JWS and the JWS signer's certificate (issued by
 *   the pinned seal CA, valid at the stamped time) — seal-check.ts, what the 検証 page uses; the JWS
 *   over the file's bytes is checked on the 検証 page, where the file is at hand.
 * - device: the entry holds the device signature, what it covered (method, path, body digest, time,
 *   nonce) and the device's public key, proven by its thumbprint = the device ID; the signature is
 *   re-checked here (src/client/device-signature-check.ts, the one re-check for CLI, browser and
 *   service). Entries written before those fields were recorded are shown as not re-checkable.
 * Never throws.
 */
import {
  checkRecordedDeviceSignature,
  type DeviceSignatureCheck,
} from "../../src/client/device-signature-check.js";
import type { OperationRecord } from "../../src/ledger/entry/operation-record.js";
import {
  base64ToBytes,
  checkSeal,
  checkTimeStampOver,
  type CheckStatus,
  type SealCheck,
} from "./seal-check.js";
import type { SigningTrustAnchors } from "./signing-trust-pin.js";
import type { TrailCheck } from "./trail-check.js";

/** Accuracy of the built-in TSA's genTime (TSTInfo.accuracy = 1 s); entry times carry milliseconds. */
const ACCURACY_MS = 1000;

export interface EntrySigning {
  /** The entry's time against the checkpoint's time stamp. */
  readonly recorded: CheckStatus;
  /** genTime of the checkpoint's token (ISO 8601), when verified. */
  readonly recordedBy?: string;
  readonly recordedTsa?: string;
  /** The entry's device signature, re-checked in this browser. */
  readonly device: DeviceSignatureCheck;
  /** For a seal entry: its time stamp and signer certificate. */
  readonly seal?: SealCheck;
}

export interface TimelineSigning {
  readonly entries: ReadonlyMap<number, EntrySigning>;
  /** The checkpoint's token, over the note as served. */
  readonly checkpointStamp: CheckStatus;
}

/** Checks the timeline of a verified trail answer; entries the ledger check refused get nothing. */
export async function checkTimeline(
  check: TrailCheck,
  answer: unknown,
  anchors: SigningTrustAnchors | undefined,
): Promise<TimelineSigning> {
  const a = (answer ?? {}) as { checkpoint?: unknown; checkpointTimestamp?: unknown };
  let stamp: { status: CheckStatus; time?: string; tsa?: string } = { status: "not-checked" };
  if (anchors === undefined) stamp = { status: "failed" };
  else if (typeof a.checkpointTimestamp === "string" && typeof a.checkpoint === "string") {
    let token: Uint8Array | undefined;
    try {
      token = base64ToBytes(a.checkpointTimestamp);
    } catch {
      token = undefined;
    }
    stamp =
      token === undefined || check.checkpoint === undefined
        ? { status: "failed" }
        : await checkTimeStampOver(token, new TextEncoder().encode(a.checkpoint), anchors);
  }
  const entries = new Map<number, EntrySigning>();
  for (const e of check.entries) {
    const r: OperationRecord | undefined = e.record;
    if (!e.verified || r === undefined) continue;
    let recorded: CheckStatus = stamp.status;
    if (stamp.status === "verified" && stamp.time !== undefined) {
      recorded = Date.parse(r.time) <= Date.parse(stamp.time) + ACCURACY_MS ? "verified" : "failed";
    }
    const seal =
      r.type === "seal"
        ? anchors === undefined
          ? ({ signature: "not-checked", signerCertificate: "failed", stamp: "failed" } as const)
          : await checkSeal(r, anchors)
        : undefined;
    entries.set(e.index, {
      recorded,
      ...(recorded === "verified" && stamp.time !== undefined ? { recordedBy: stamp.time } : {}),
      ...(stamp.tsa !== undefined ? { recordedTsa: stamp.tsa } : {}),
      device: await checkRecordedDeviceSignature(r),
      ...(seal !== undefined ? { seal } : {}),
    });
  }
  return { entries, checkpointStamp: stamp.status };
}
