/**
 * Signed, time-stamped files over real mutual TLS: a sent standard file's Provenance (GET
 * /fhir/Provenance?target=…) carries the node's detached JWS over the file's exact bytes — verified here
 * by jose, an independent implementation, against the bytes the receiver downloaded, and failing for a
 * one-byte change — the sender's device signature (re-checked from what the send entry recorded: the
 * covered request fields and the public key; a one-byte change to any of them fails), and an RFC 3161 token over the JWS that `openssl ts
 * -verify` accepts with the service CA. Every signed checkpoint has a token openssl accepts too.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as jose from "jose";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { ApiClient } from "../src/client/api-client.js";
import { downloadStandard, uploadExport } from "../src/client/transfer-client.js";
import { verifyDetachedJws } from "../src/crypto/detached-jws.js";
import type { SearchsetBundle } from "../src/fhir/bundle.js";
import {
  DEVICE_SIGNATURE_FORMAT,
  deviceSignatureData,
  readDeviceSignatureData,
  type Provenance,
} from "../src/fhir/provenance.js";
import { checkDeviceSignature } from "../src/client/device-signature-check.js";
import { checkSeals } from "../src/cli/seal-report.js";
import type { DeviceSignatureRecord } from "../src/ledger/entry/operation-record.js";
import { createCertificateAuthority } from "../src/crypto/pki/ca.js";
import { systemActor, type ServiceContext } from "../src/service/context.js";
import { verifyProvenanceSeal } from "../src/service/signing/provenance-verify.js";
import { signingTrust } from "../src/service/signing/signing-identities.js";
import { checkpointTimeStamp } from "../src/service/signing/time-stamps.js";
import { readTsaHistory, tsaHistoryPath } from "../src/service/signing/tsa-trust-history.js";
import type { TransferView } from "../src/service/transfers/view.js";
import { expectValidFhir } from "./support/fhir-validator.js";
import { expectCode, expectStatus, ledgerRecords, type TestNode } from "./support/test-node.js";
import {
  createLoggedInReceiver,
  exampleExport,
  startTransferNode,
  type TransferNode,
} from "./support/transfer-fixtures.js";

let t: TransferNode;
let node: TestNode;
let sender: ApiClient;
let receiver: ApiClient;
let sent: TransferView;
let downloaded: Uint8Array;
const work = mkdtempSync(join(tmpdir(), "kenshin-prov-"));

beforeAll(async () => {
  t = await startTransferNode();
  ({ node, sender, receiver } = t);
  const up = await uploadExport(sender, t.receiverId, exampleExport());
  expectStatus(up, 201);
  sent = (up.json as { transfer: TransferView }).transfer;
  expectStatus(await sender.post(`/api/v1/transfers/${sent.id}/send`), 200);
  const down = await downloadStandard(receiver, sent.id);
  if (!("bytes" in down)) throw new Error("download refused");
  downloaded = down.bytes;
  writeFileSync(join(work, "ca.pem"), node.caPem);
}, 180_000);

afterAll(async () => {
  await node.close();
  rmSync(work, { recursive: true, force: true });
});

async function provenanceFor(client: ApiClient, target: string): Promise<Provenance[]> {
  const r = await client.get(`/fhir/Provenance?target=${encodeURIComponent(target)}`);
  expect(r.status, r.text).toBe(200);
  expect(r.headers["content-type"]).toBe("application/fhir+json; charset=utf-8");
  expectValidFhir(r.json);
  return ((r.json as SearchsetBundle<Provenance>).entry ?? []).map((e) => e.resource);
}

function opensslTsVerify(token: Uint8Array, data: Uint8Array) {
  const name = Math.random().toString(36).slice(2);
  writeFileSync(join(work, `${name}.tsr`), token);
  writeFileSync(join(work, `${name}.dat`), data);
  return spawnSync(
    "openssl",
    [
      "ts",
      "-verify",
      "-in",
      join(work, `${name}.tsr`),
      "-data",
      join(work, `${name}.dat`),
      "-CAfile",
      join(work, "ca.pem"),
    ],
    { encoding: "utf8", timeout: 30_000 },
  );
}

const sigOf = (p: Provenance, code: string) => p.signature.find((s) => s.type[0]?.code === code);

describe("Provenance of a sent file", () => {
  it("is found by the file's hash and by the transfer, for both parties; not for anyone else", async () => {
    const byHash = await provenanceFor(receiver, `Binary/${sent.standard?.sha256 ?? ""}`);
    expect(byHash).toHaveLength(1);
    expect(await provenanceFor(sender, sent.id)).toEqual(byHash);
    const stranger = (await createLoggedInReceiver(node, t.office, "別の保険者")).client;
    expect(await provenanceFor(stranger, sent.id)).toEqual([]);
    expectCode(await sender.get("/fhir/Provenance"), 400, "FHIR_SEARCH_INVALID");
    expect(
      ledgerRecords(node.ctx).some((r) => r.type === "audit-query" && r.query.startsWith("fhir Provenance")),
    ).toBe(true);
  });

  it("its JWS verifies with jose over the downloaded bytes; one changed byte fails (jose and ours)", async () => {
    const [p] = await provenanceFor(receiver, sent.id);
    const seal = sigOf(p as Provenance, "1.2.840.10065.1.12.1.14");
    expect(seal?.sigFormat).toBe("application/jose");
    const jws = Buffer.from(seal?.data ?? "", "base64").toString("ascii");
    const [protectedHeader = "", , signature = ""] = jws.split(".");
    const header = jose.decodeProtectedHeader(jws) as { x5c: string[]; b64: boolean; alg: string };
    expect(header).toMatchObject({ alg: "ES256", b64: false, crit: ["b64"] });
    const leaf = `-----BEGIN CERTIFICATE-----\n${header.x5c[0] ?? ""}\n-----END CERTIFICATE-----\n`;
    const key = await jose.importX509(leaf, "ES256");
    await jose.flattenedVerify({ protected: protectedHeader, payload: downloaded, signature }, key);
    const changed = Uint8Array.from(downloaded);
    changed[100] = (changed[100] ?? 0) ^ 0x01;
    await expect(
      jose.flattenedVerify({ protected: protectedHeader, payload: changed, signature }, key),
    ).rejects.toThrow();
    expect(() => verifyDetachedJws(jws, changed, { caPem: node.caPem })).toThrow(
      expect.objectContaining({ code: "CRYPTO_JWS_INVALID" }) as Error,
    );
    const ours = verifyDetachedJws(jws, downloaded, { caPem: node.caPem });
    expect(ours.subject).toContain("kenshin-exchange seal");
  });

  it("carries the sender's device signature from the send entry, with what it covered and the key: re-checkable", async () => {
    const [p] = await provenanceFor(sender, sent.id);
    const device = sigOf(p as Provenance, "1.2.840.10065.1.12.1.1");
    const send = ledgerRecords(node.ctx).find((r) => r.type === "send" && r.transfer === sent.id);
    // The send entry records what the browser's device key signed over real TLS: 送信確定 of this transfer.
    expect(send?.actor.device?.request).toMatchObject({
      method: "POST",
      path: `/api/v1/transfers/${sent.id}/send`,
    });
    expect(device?.sigFormat).toBe(DEVICE_SIGNATURE_FORMAT);
    const carried = readDeviceSignatureData(device?.data);
    expect(carried).toEqual(send?.actor.device);
    expect(device?.when).toBe(new Date(carried?.request?.ts ?? 0).toISOString());
    const expected = { method: "POST", path: `/api/v1/transfers/${sent.id}/send` };
    const check = await checkDeviceSignature(carried ?? { keyId: "-", signature: "-" }, expected);
    expect(check).toMatchObject({ status: "verified", deviceId: send?.actor.device?.keyId });
    // The same signature offered as another transfer's 送信確定 is refused.
    expect(
      await checkDeviceSignature(carried ?? { keyId: "-", signature: "-" }, {
        method: "POST",
        path: "/api/v1/transfers/tr_aaaaaaaaaaaaaaaa/send",
      }),
    ).toMatchObject({ status: "failed", code: "DEVICE_REQUEST_MISMATCH" });
  });

  it("its RFC 3161 token over the JWS verifies with openssl ts -verify; a changed JWS does not", async () => {
    const [p] = await provenanceFor(sender, sent.id);
    const jws = Buffer.from(sigOf(p as Provenance, "1.2.840.10065.1.12.1.14")?.data ?? "", "base64");
    const token = Buffer.from(sigOf(p as Provenance, "1.2.840.10065.1.12.1.18")?.data ?? "", "base64");
    const ok = opensslTsVerify(token, jws);
    expect(ok.stdout + ok.stderr).toContain("Verification: OK");
    const bad = Buffer.from(jws);
    bad[10] = (bad[10] ?? 0) ^ 1;
    expect(opensslTsVerify(token, bad).status).not.toBe(0);
  });
});

describe("Provenance/$verify (FHIR input)", () => {
  const verify = (client: ApiClient, provenance: unknown, file: Uint8Array) =>
    client.request("POST", "/fhir/Provenance/$verify", {
      body: JSON.stringify({
        resourceType: "Parameters",
        parameter: [
          { name: "provenance", resource: provenance },
          { name: "file", valueBase64Binary: Buffer.from(file).toString("base64") },
        ],
      }),
      contentType: "application/fhir+json",
    });

  it("the downloaded file matches; one changed byte is 422 SIGNATURE_INVALID with an AuditEvent of outcome 8", async () => {
    const [p] = await provenanceFor(receiver, sent.id);
    const ok = await verify(receiver, p, downloaded);
    expect(ok.status, ok.text).toBe(200);
    expectValidFhir(ok.json);
    expect(ok.text).toContain("SIGNATURE_VALID");
    const changed = Uint8Array.from(downloaded);
    changed[50] = (changed[50] ?? 0) ^ 0x20;
    const refused = await verify(receiver, p, changed);
    expectCode(refused, 422, "SIGNATURE_INVALID");
    expectValidFhir(refused.json);
    const last = ledgerRecords(node.ctx).at(-1);
    expect(last).toMatchObject({
      type: "denial",
      action: "integrity",
      code: "SIGNATURE_INVALID",
      outcome: "serious-failure",
    });
    // The alarm is a security event (labelled R): the office, cleared for R, finds it; the receiver's
    // staff, cleared for N, do not (Z4).
    const alarms = await t.office.get("/fhir/AuditEvent?outcome=8&subtype=integrity-alarm");
    expectValidFhir(alarms.json);
    expect(((alarms.json as SearchsetBundle<Provenance>).entry ?? []).length).toBeGreaterThan(0);
    const hidden = await receiver.get("/fhir/AuditEvent?outcome=8&subtype=integrity-alarm");
    expect((hidden.json as SearchsetBundle<Provenance>).entry ?? []).toEqual([]);
  });

  it("FHIR input with script, event attributes, javascript: URLs or external references is refused with an OperationOutcome", async () => {
    const [p] = await provenanceFor(receiver, sent.id);
    const corpus = [
      {
        text: {
          status: "generated",
          div: '<div xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script></div>',
        },
      },
      {
        text: {
          status: "generated",
          div: '<div xmlns="http://www.w3.org/1999/xhtml"><img src="#x" onerror="alert(1)"/></div>',
        },
      },
      {
        text: {
          status: "generated",
          div: '<div xmlns="http://www.w3.org/1999/xhtml"><a href="jav&#x09;ascript:alert(1)">x</a></div>',
        },
      },
      { target: [{ reference: "https://evil.example/Binary/1" }] },
      { agent: [{ who: { display: "<iframe src=//evil.example>" } }] },
    ];
    for (const extra of corpus) {
      const r = await verify(receiver, { ...p, ...extra }, downloaded);
      expectCode(r, 400, "FHIR_INPUT_UNSAFE");
      expectValidFhir(r.json);
    }
    const notJson = await receiver.request("POST", "/fhir/Provenance/$verify", {
      body: "{",
      contentType: "application/fhir+json",
    });
    expectCode(notJson, 400, "FHIR_INPUT_INVALID");
  });
});

describe("the sender's device signature, re-checked by Provenance/$verify and kenshin verify", () => {
  /** The Provenance with its device signature's covered field `field` changed by one byte. */
  const withDevice = (
    p: Provenance,
    change: (d: DeviceSignatureRecord) => DeviceSignatureRecord,
  ): Provenance => ({
    ...p,
    signature: p.signature.map((s) => {
      const d = s.type[0]?.code === "1.2.840.10065.1.12.1.1" ? readDeviceSignatureData(s.data) : undefined;
      return d === undefined ? s : { ...s, data: deviceSignatureData(change(d)) };
    }),
  });
  const hexFlip = (hex: string): string => (hex.startsWith("0") ? "1" : "0") + hex.slice(1);
  const flip = (text: string): string => text.slice(0, -1) + (text.endsWith("A") ? "B" : "A");
  const changes: [string, (d: DeviceSignatureRecord) => DeviceSignatureRecord][] = [
    ["method", (d) => ({ ...d, request: { ...must(d.request), method: "PUT" } })],
    ["path", (d) => ({ ...d, request: { ...must(d.request), path: `${must(d.request).path}x` } })],
    [
      "bodySha256",
      (d) => ({ ...d, request: { ...must(d.request), bodySha256: hexFlip(must(d.request).bodySha256) } }),
    ],
    ["ts", (d) => ({ ...d, request: { ...must(d.request), ts: must(d.request).ts + 1 } })],
    ["nonce", (d) => ({ ...d, request: { ...must(d.request), nonce: flip(must(d.request).nonce) } })],
    ["key", (d) => ({ ...d, key: { ...must(d.key), x: flip(must(d.key).x) } })],
    ["signature", (d) => ({ ...d, signature: flip(d.signature) })],
  ];
  function must<T>(v: T | undefined): T {
    if (v === undefined) throw new Error("the send entry lacks the covered fields");
    return v;
  }
  const verify = (provenance: unknown) =>
    receiver.request("POST", "/fhir/Provenance/$verify", {
      body: JSON.stringify({
        resourceType: "Parameters",
        parameter: [
          { name: "provenance", resource: provenance },
          { name: "file", valueBase64Binary: Buffer.from(downloaded).toString("base64") },
        ],
      }),
      contentType: "application/fhir+json",
    });

  it("$verify names the device and its signing time; a one-byte change to any covered field is 422", async () => {
    const [p] = await provenanceFor(receiver, sent.id);
    if (p === undefined) throw new Error("no Provenance");
    const ok = await verify(p);
    expect(ok.status, ok.text).toBe(200);
    expect(ok.text).toMatch(/端末署名: 検証済み — 端末 [A-Za-z0-9_-]{43} \/ 署名時刻 \d{4}-/);
    for (const [field, change] of changes) {
      const r = await verify(withDevice(p, change));
      expect(r.status, field).toBe(422);
      expectCode(r, 422, "SIGNATURE_INVALID");
    }
  });

  it("kenshin verify re-checks it from the proven send entry and prints the device and time; a changed field fails", async () => {
    const file = join(work, "downloaded-device.csv");
    writeFileSync(file, downloaded);
    const r = spawnSync(
      process.execPath,
      [
        join(process.cwd(), "dist/cli/main.js"),
        "verify",
        file,
        "--db",
        node.ctx.paths.ledgerDb,
        "--verifier",
        node.ctx.paths.ledgerVerifierKey,
      ],
      { encoding: "utf8", timeout: 60_000 },
    );
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /送信者の端末署名: 検証済み — 端末 [A-Za-z0-9_-]{43} \/ 署名時刻 \d{4}-\d{2}-\d{2}T[0-9:.]+Z \(POST \/api\/v1\/transfers\/tr_[a-z2-7]+\/send\)/,
    );
    // The CLI's check over the ledger's own records, each covered field changed by one byte.
    const records = ledgerRecords(node.ctx).filter((x) => "transfer" in x && x.transfer === sent.id);
    const fileSha256 = sent.standard?.sha256 ?? "";
    const [good] = await checkSeals(records, fileSha256, downloaded, node.caPem);
    expect(good).toMatchObject({ ok: true, device: { status: "verified" } });
    for (const [field, change] of changes) {
      const changed = records.map((x) =>
        x.type === "send" && x.actor.device !== undefined
          ? { ...x, actor: { ...x.actor, device: change(x.actor.device) } }
          : x,
      );
      const [bad] = await checkSeals(changed, fileSha256, downloaded, node.caPem);
      expect(bad?.ok, field).toBe(false);
      expect(bad?.device?.status, field).toBe("failed");
    }
  });
});

describe("after a TSA rotation (S2: tokens stay verifiable for the retention period)", () => {
  it("a Provenance stamped by the built-in TSA still verifies once the node is configured for an external TSA CA", async () => {
    const [p] = await provenanceFor(receiver, sent.id);
    const externalCa = await createCertificateAuthority({
      commonName: "external TSA CA after rotation",
      now: new Date(),
      validityDays: 3650,
    });
    // The same node, its configuration now naming another TSA CA (what an operator's rotation does).
    const rotated: ServiceContext = {
      ...node.ctx,
      config: {
        ...node.ctx.config,
        timestamp: { ...node.ctx.config.timestamp, tsaCaPem: externalCa.certPem },
      },
    };
    const v = await verifyProvenanceSeal(rotated, systemActor("rotation-test"), p ?? {}, downloaded);
    expect(v.timestamp).toBeDefined();
    // The built-in TSA's CA was recorded when the seal was stamped, and is still served to browsers.
    expect(signingTrust(rotated).tsaCas).toContain(`${node.caPem.trim()}\n`);
    expect(readTsaHistory(tsaHistoryPath(node.ctx)).map((a) => a.sha256)).toHaveLength(1);
    // A one-byte change still fails, rotation or not.
    const changed = Uint8Array.from(downloaded);
    changed[10] = (changed[10] ?? 0) ^ 0x01;
    await expect(
      verifyProvenanceSeal(rotated, systemActor("rotation-test"), p ?? {}, changed),
    ).rejects.toMatchObject({ code: "SIGNATURE_INVALID" });
  });
});

describe("kenshin verify shows the signer and the time", () => {
  it("for the downloaded file: signer, signing time and the time stamp, all checked", () => {
    const file = join(work, "downloaded.csv");
    writeFileSync(file, downloaded);
    const r = spawnSync(
      process.execPath,
      [
        join(process.cwd(), "dist/cli/main.js"),
        "verify",
        file,
        "--db",
        node.ctx.paths.ledgerDb,
        "--verifier",
        node.ctx.paths.ledgerVerifierKey,
      ],
      { encoding: "utf8", timeout: 60_000 },
    );
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /電子署名 \(転送 tr_[a-z2-7]+\): 署名者 .*kenshin-exchange seal.* \/ 署名時刻 .* \/ タイムスタンプ .*検証しました/,
    );
  });
});

describe("time-stamped checkpoints", () => {
  it("the latest signed checkpoint has a token openssl accepts for its note", async () => {
    const cp = node.ctx.ledger.latestCheckpoint();
    // Stamped by the ledger port's publication hook, after the checkpoint is stored: a bounded wait.
    const stamp = await vi.waitFor(
      () => {
        const found = checkpointTimeStamp(node.ctx, cp.size);
        if (found === undefined) throw new Error(`checkpoint ${cp.size} not stamped yet`);
        return found;
      },
      { timeout: 15_000, interval: 25 },
    );
    const r = opensslTsVerify(stamp.token, new TextEncoder().encode(cp.note));
    expect(r.stdout + r.stderr).toContain("Verification: OK");
    // And it is this checkpoint's token, not another's.
    expect(opensslTsVerify(stamp.token, new TextEncoder().encode(`${cp.note}x`)).status).not.toBe(0);
  });
});
