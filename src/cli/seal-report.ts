/**
 * The signer and the time of a verified file, for `kenshin verify`: each seal entry on the file's trail
 * is checked here — the detached JWS against the file's bytes and the service CA, the RFC 3161 token
 * against the JWS — and printed as 署名者 / 署名時刻 / タイムスタンプ. A seal that does not verify fails
 * the verification (exit 1), and so does the sender's device signature on the send entry beside it,
 * re-checked over what it covered (client/device-signature-check.ts; shown with the device and the
 * signing time). Without the CA certificate the seal is shown as not checked.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import {
  checkRecordedDeviceSignature,
  deviceSignatureText,
  type DeviceSignatureCheck,
} from "../client/device-signature-check.js";
import { isCodedError } from "../coded-error.js";
import { verifyDetachedJws } from "../crypto/detached-jws.js";
import type { OperationRecord } from "../ledger/entry/operation-record.js";
import type { ServiceContext } from "../service/context.js";
import { verifyTimeStampWithHistory } from "../service/signing/tsa-trust-history.js";

export interface SealCheck {
  readonly transfer: string;
  readonly ok: boolean;
  readonly signer?: string;
  readonly signedAt?: string;
  readonly timestamp?: { readonly time: string; readonly tsa: string };
  readonly code?: string;
  /** The sender's device signature on the transfer's send entry, re-checked. */
  readonly device?: DeviceSignatureCheck;
}

/** The CA certificate: `--ca`, or the data directory's own beside `--db`. */
export function caPemFor(o: { ca?: string | undefined; db?: string | undefined }): string | undefined {
  const path = o.ca ?? (o.db !== undefined ? join(dirname(o.db), "ca", "ca.cert.pem") : undefined);
  return path !== undefined && existsSync(path) ? readFileSync(path, "utf8") : undefined;
}

/**
 * Checks the seals on a trail that cover exactly `bytes` (by SHA-256). With `dataDir` (beside `--db`)
 * the time stamps are checked against every TSA CA the node has used (tsa-trust-history.ts), so a
 * token made before a TSA rotation still verifies; otherwise against the CA alone.
 */
export async function checkSeals(
  records: readonly OperationRecord[],
  fileSha256: string,
  bytes: Uint8Array,
  caPem: string | undefined,
  dataDir?: string,
): Promise<SealCheck[]> {
  const out: SealCheck[] = [];
  for (const r of records) {
    if (r.type !== "seal" || r.file.sha256 !== fileSha256) continue;
    const send = records.filter((x) => x.type === "send" && x.transfer === r.transfer).at(-1);
    const device = send === undefined ? undefined : await checkRecordedDeviceSignature(send);
    const withDevice = device === undefined || device.status === "none" ? {} : { device };
    if (device?.status === "failed") {
      out.push({ transfer: r.transfer, ok: false, code: device.code ?? "DEVICE_SIGNATURE_INVALID", device });
      continue;
    }
    if (caPem === undefined) {
      out.push({
        transfer: r.transfer,
        ok: false,
        code: "NO_CA",
        timestamp: { time: r.timestamp.time, tsa: r.timestamp.tsa },
        ...withDevice,
      });
      continue;
    }
    try {
      const jws = verifyDetachedJws(r.jws, bytes, { caPem });
      const node = {
        paths: { dir: dataDir ?? "/nonexistent" } as ServiceContext["paths"],
        ca: { certPem: caPem } as ServiceContext["ca"],
        config: { timestamp: { timeoutMs: 0 } } as ServiceContext["config"],
      };
      const ts = await verifyTimeStampWithHistory(
        node,
        Buffer.from(r.timestamp.token, "base64"),
        new TextEncoder().encode(r.jws),
      );
      out.push({
        transfer: r.transfer,
        ok: true,
        signer: jws.subject,
        ...(jws.signedAt !== undefined ? { signedAt: jws.signedAt.toISOString() } : {}),
        timestamp: { time: ts.genTime.toISOString(), tsa: ts.tsa },
        ...withDevice,
      });
    } catch (error) {
      if (!isCodedError(error)) throw error;
      out.push({ transfer: r.transfer, ok: false, code: error.code, ...withDevice });
    }
  }
  return out;
}

/** Lines for the human-readable report. */
export function sealLines(seals: readonly SealCheck[]): string[] {
  return seals.flatMap((s) => [
    sealLine(s),
    ...(s.device !== undefined ? [`  送信者の${deviceSignatureText(s.device)}`] : []),
  ]);
}

function sealLine(s: SealCheck): string {
  return s.ok
    ? `電子署名 (転送 ${s.transfer}): 署名者 ${s.signer ?? "?"} / 署名時刻 ${s.signedAt ?? "?"} / タイムスタンプ ${s.timestamp?.time ?? "?"} (${s.timestamp?.tsa ?? "?"}) — 署名とタイムスタンプを検証しました`
    : s.code === "NO_CA"
      ? `電子署名 (転送 ${s.transfer}): タイムスタンプ ${s.timestamp?.time ?? "?"} — CA 証明書がないため未検証です (--ca で指定してください)`
      : `電子署名 (転送 ${s.transfer}): 検証失敗 (${s.code ?? "?"})`;
}
