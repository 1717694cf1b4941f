/**
 * The transfer timeline's signer and time check (web/src/timeline-check.ts, the browser's code run
 * here) against tokens made by the service's own TSA: an entry recorded before the checkpoint's
 * genTime is "verified", one recorded after it "failed"; a token under another CA, or over another
 * note, fails every entry; without a token the times are "not checked"; a seal entry gets its time
 * stamp and its signer certificate checked without the file; a device signature recorded with what it
 * covered is re-checked (verified; one changed byte fails).
 */
import { createHash, createPrivateKey } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { deviceIdFromJwk, exportPublicJwk, generateDeviceKey } from "../src/client/device-key.js";
import { signRequest } from "../src/client/request-signing.js";
import { signDetachedJws } from "../src/crypto/detached-jws.js";
import { createCertificateAuthority } from "../src/crypto/pki/ca.js";
import { issueSigningCertificate, type IssuedCertificate } from "../src/crypto/pki/certificates.js";
import { importSigningKey, parseP256PrivateKey } from "../src/crypto/pki/keys.js";
import { issueTimeStamp } from "../src/crypto/timestamp.js";
import type { OperationRecord } from "../src/ledger/entry/operation-record.js";
import { checkTimeline } from "../web/src/timeline-check.js";
import type { TrailCheck } from "../web/src/trail-check.js";

const genTime = new Date(Date.UTC(2026, 11, 1, 6, 0, 0));
const note = "kenshin-exchange/test\n12\nq5bW0Km8c3JhbXBsZSByb290IGhhc2ggMzIgYnl0ZXM=\n\n— key sig\n";
let ca: { certPem: string; keyPem: string };
let otherCa: { certPem: string; keyPem: string };
let tsa: IssuedCertificate;
let seal: IssuedCertificate;

const sha256 = (b: Uint8Array) => new Uint8Array(createHash("sha256").update(b).digest());
const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");

async function tokenOver(text: string, cert = tsa): Promise<string> {
  const key = await importSigningKey(parseP256PrivateKey(cert.keyPem));
  return b64(
    await issueTimeStamp(
      { key, certPem: cert.certPem },
      { digest: sha256(new TextEncoder().encode(text)), genTime },
    ),
  );
}

const common = (time: string) => ({
  v: 1 as const,
  time,
  actor: { id: "u1", role: "sender" as const, device: { keyId: "k".repeat(43), signature: "s".repeat(86) } },
  institution: "in_1",
  outcome: "success" as const,
  source: { observer: "node-1" },
  prev: "0".repeat(64),
});

function trail(records: OperationRecord[]): TrailCheck {
  return {
    checkpoint: { origin: "kenshin-exchange/test", size: 12, root: new Uint8Array(32) },
    entries: records.map((record, index) => ({ index, record, verified: true })),
    verified: true,
    result: undefined,
  } as unknown as TrailCheck;
}

beforeAll(async () => {
  const now = new Date(Date.UTC(2026, 10, 1));
  ca = await createCertificateAuthority({ commonName: "service CA", now, validityDays: 3650 });
  otherCa = await createCertificateAuthority({ commonName: "other CA", now, validityDays: 3650 });
  const base = { organizationName: "テスト事務局", now, validityDays: 365 };
  tsa = await issueSigningCertificate(ca, { ...base, purpose: "tsa", commonName: "kenshin TSA" });
  seal = await issueSigningCertificate(ca, { ...base, purpose: "seal", commonName: "kenshin seal" });
}, 60_000);

describe("timeline signers and times, checked in the browser", () => {
  it("times before the checkpoint's genTime verify, a later one fails; the seal's stamp and signer verify", async () => {
    const jws = signDetachedJws({
      payload: new TextEncoder().encode("a,b\r\n"),
      key: createPrivateKey(seal.keyPem),
      chainPem: [seal.certPem, ca.certPem],
      now: genTime,
    });
    const sealRecord = {
      ...common("2026-12-01T05:59:59.500Z"),
      type: "seal",
      transfer: "tr_aaaaaaaaaaaaaaaa",
      file: { sha256: "a".repeat(64) },
      jws,
      timestamp: { token: await tokenOver(jws), time: genTime.toISOString(), tsa: "kenshin TSA" },
    } as unknown as OperationRecord;
    const records = [
      { ...common("2026-12-01T05:00:00.000Z"), type: "login", method: "password" },
      sealRecord,
      { ...common("2026-12-01T06:00:05.000Z"), type: "login", method: "password" },
    ] as unknown as OperationRecord[];
    const anchors = { sealCa: ca.certPem, tsaCas: [ca.certPem] };
    const out = await checkTimeline(
      trail(records),
      { checkpoint: note, checkpointTimestamp: await tokenOver(note) },
      anchors,
    );
    expect(out.checkpointStamp).toBe("verified");
    expect([0, 1, 2].map((i) => out.entries.get(i)?.recorded)).toEqual(["verified", "verified", "failed"]);
    expect(out.entries.get(0)?.recordedBy).toBe(genTime.toISOString());
    // An entry holding the signature only (written before the covered fields were recorded).
    expect(out.entries.get(0)?.device).toEqual({ status: "not-recheckable", deviceId: "k".repeat(43) });
    const s = out.entries.get(1)?.seal;
    expect(s).toMatchObject({ stamp: "verified", signerCertificate: "verified", signature: "not-checked" });
    expect(s?.signer).toContain("kenshin seal");
  });

  it("a device signature recorded with what it covered verifies in the browser; one changed byte fails", async () => {
    const pair = await generateDeviceKey();
    const jwk = await exportPublicJwk(pair.publicKey);
    const deviceId = await deviceIdFromJwk(jwk);
    const path = "/api/v1/transfers/tr_aaaaaaaaaaaaaaaa/send";
    const ts = Date.parse("2026-12-01T05:00:00.000Z");
    const header = await signRequest({
      method: "POST",
      path,
      privateKey: pair.privateKey,
      deviceId,
      now: ts,
    });
    const sig = /sig=([A-Za-z0-9_-]+)/.exec(header)?.[1] ?? "";
    const nonce = /nonce=([A-Za-z0-9_-]+)/.exec(header)?.[1] ?? "";
    const bodySha256 = createHash("sha256").update("").digest("hex");
    const device = {
      keyId: deviceId,
      signature: sig,
      request: { method: "POST", path, bodySha256, ts, nonce },
    };
    const send = (d: object) => ({
      ...common("2026-12-01T05:00:00.100Z"),
      actor: { id: "u1", role: "sender", device: { ...d, key: { x: jwk.x, y: jwk.y } } },
      type: "send",
      transfer: "tr_aaaaaaaaaaaaaaaa",
      receiver: "in_2",
      file: { sha256: "a".repeat(64) },
    });
    const records = [
      send(device),
      send({ ...device, request: { ...device.request, bodySha256: `0${bodySha256.slice(1)}` } }),
    ] as unknown as OperationRecord[];
    const out = await checkTimeline(trail(records), {}, undefined);
    expect(out.entries.get(0)?.device).toEqual({
      status: "verified",
      deviceId,
      signedAt: "2026-12-01T05:00:00.000Z",
      request: `POST ${path}`,
    });
    expect(out.entries.get(1)?.device).toMatchObject({ status: "failed", code: "DEVICE_SIGNATURE_INVALID" });
  });

  it("another CA pinned, or a token over another note: every time fails; no token yet: not checked", async () => {
    const records = [
      { ...common("2026-12-01T05:00:00.000Z"), type: "login", method: "password" },
    ] as unknown as OperationRecord[];
    const token = await tokenOver(note);
    const other = { sealCa: otherCa.certPem, tsaCas: [otherCa.certPem] };
    const mine = { sealCa: ca.certPem, tsaCas: [ca.certPem] };
    const a = await checkTimeline(trail(records), { checkpoint: note, checkpointTimestamp: token }, other);
    expect(a.entries.get(0)?.recorded).toBe("failed");
    const b = await checkTimeline(
      trail(records),
      { checkpoint: `${note}x`, checkpointTimestamp: token },
      mine,
    );
    expect(b.entries.get(0)?.recorded).toBe("failed");
    const c = await checkTimeline(trail(records), { checkpoint: note }, mine);
    expect(c.entries.get(0)?.recorded).toBe("not-checked");
  });
});
