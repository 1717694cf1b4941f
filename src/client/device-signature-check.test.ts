import { describe, expect, it } from "vitest";
import { operationRecordSchema, type OperationRecord } from "../ledger/entry/operation-record.js";
import { compileCheck } from "../ledger/entry/compiled-check.js";
import { encodeEntry, decodeEntry } from "../ledger/entry/canonical-entry.js";
import { deviceIdFromJwk, exportPublicJwk, generateDeviceKey } from "./device-key.js";
import { checkRecordedDeviceSignature } from "./device-signature-check.js";
import { signRequest } from "./request-signing.js";

const hex = "ab".repeat(32);

/** A send entry whose device signature a real key made over the 送信確定 request of transfer T. */
async function signedSend(transfer = "tr_aaaaaaaaaaaaaaaa"): Promise<OperationRecord> {
  const pair = await generateDeviceKey();
  const jwk = await exportPublicJwk(pair.publicKey);
  const deviceId = await deviceIdFromJwk(jwk);
  const path = `/api/v1/transfers/${transfer}/send`;
  const now = Date.parse("2026-12-01T09:00:00.000Z");
  const header = await signRequest({ method: "POST", path, privateKey: pair.privateKey, deviceId, now });
  const fields = Object.fromEntries(
    header
      .split(";")
      .slice(1)
      .map((p) => p.split("=") as [string, string]),
  );
  return operationRecordSchema.parse({
    v: 1,
    time: "2026-12-01T09:00:00.200Z",
    actor: {
      id: "S01",
      role: "sender",
      device: {
        keyId: deviceId,
        signature: fields.sig,
        request: {
          method: "POST",
          path,
          bodySha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
          ts: now,
          nonce: fields.nonce,
        },
        key: { x: jwk.x, y: jwk.y },
      },
    },
    institution: "1312345678",
    outcome: "success",
    source: { observer: "node-1" },
    prev: "0".repeat(64),
    type: "send",
    transfer,
    receiver: "inst_r",
    file: { sha256: hex, bytes: 10 },
  });
}

/** Changes one character of a string (the last one, to another of the same alphabet). */
function oneByte(text: string): string {
  const last = text.at(-1) ?? "";
  const other = last === "A" ? "B" : last === "0" ? "1" : /[0-9]/.test(last) ? "0" : "A";
  return text.slice(0, -1) + other;
}

describe("checkRecordedDeviceSignature", () => {
  it("verifies a signature recorded with what it covered and its key, and names the device and time", async () => {
    const record = await signedSend();
    const check = await checkRecordedDeviceSignature(record);
    expect(check).toMatchObject({
      status: "verified",
      deviceId: record.actor.device?.keyId,
      signedAt: "2026-12-01T09:00:00.000Z",
      request: "POST /api/v1/transfers/tr_aaaaaaaaaaaaaaaa/send",
    });
    // The same after the entry's round trip through the ledger's canonical form.
    expect((await checkRecordedDeviceSignature(decodeEntry(encodeEntry(record)))).status).toBe("verified");
  });

  it("fails on a one-byte change to any covered field, the key or the signature", async () => {
    const record = await signedSend();
    const device = record.actor.device;
    if (device?.request === undefined || device.key === undefined) throw new Error("no device");
    const { request, key } = device;
    const variants: [string, typeof device][] = [
      ["method", { ...device, request: { ...request, method: "PUT" } }],
      ["path", { ...device, request: { ...request, path: oneByte(request.path) } }],
      ["bodySha256", { ...device, request: { ...request, bodySha256: oneByte(request.bodySha256) } }],
      ["ts", { ...device, request: { ...request, ts: request.ts + 1 } }],
      ["nonce", { ...device, request: { ...request, nonce: oneByte(request.nonce) } }],
      ["keyId", { ...device, keyId: oneByte(device.keyId) }],
      ["key.x", { ...device, key: { ...key, x: oneByte(key.x) } }],
      ["key.y", { ...device, key: { ...key, y: oneByte(key.y) } }],
      ["signature", { ...device, signature: oneByte(device.signature) }],
    ];
    for (const [field, changed] of variants) {
      const check = await checkRecordedDeviceSignature({
        ...record,
        actor: { ...record.actor, device: changed },
      });
      expect(check.status, field).toBe("failed");
    }
  });

  it("refuses a genuine signature over another request than this entry's 送信確定", async () => {
    const other = await signedSend("tr_bbbbbbbbbbbbbbbb");
    const record = { ...other, transfer: "tr_aaaaaaaaaaaaaaaa" } as OperationRecord;
    expect(await checkRecordedDeviceSignature(record)).toMatchObject({
      status: "failed",
      code: "DEVICE_REQUEST_MISMATCH",
    });
  });

  it("says an entry written before the covered fields were recorded is not re-checkable, never verified", async () => {
    const record = await signedSend();
    const device = record.actor.device;
    if (device === undefined) throw new Error("no device");
    const old = operationRecordSchema.parse({
      ...record,
      actor: { ...record.actor, device: { keyId: device.keyId, signature: device.signature } },
    });
    expect(compileCheck(operationRecordSchema)(old)).toBe(true);
    expect(await checkRecordedDeviceSignature(old)).toEqual({
      status: "not-recheckable",
      deviceId: device.keyId,
    });
    const actor = { ...record.actor, device: undefined };
    expect(await checkRecordedDeviceSignature({ ...record, actor })).toEqual({ status: "none" });
  });

  it("the entry schema and its compiled check agree on the recorded fields", async () => {
    const record = await signedSend();
    const check = compileCheck(operationRecordSchema);
    expect(check(record)).toBe(true);
    const device = record.actor.device;
    if (device?.request === undefined) throw new Error("no device");
    for (const bad of [
      { ...device, request: { ...device.request, nonce: "short" } },
      { ...device, request: { ...device.request, path: "no-slash" } },
      { ...device, request: { ...device.request, extra: 1 } },
      { ...device, key: { x: "x" } },
    ]) {
      const value = { ...record, actor: { ...record.actor, device: bad } };
      expect(check(value)).toBe(false);
      expect(operationRecordSchema.safeParse(value).success).toBe(false);
    }
  });
});
