/**
 * The browser's seal check (web/src/seal-check.ts: pkijs over WebCrypto, no node:crypto) against seals
 * made by the service's own code (signDetachedJws, the built-in TSA) and tokens made by openssl's TSA:
 * it accepts exactly what the server-side verifiers and openssl accept, and refuses a changed byte of
 * the file, a token over another JWS, a seal CA or a TSA CA that is not the pinned one.
 */
import { createHash, createPrivateKey } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signDetachedJws } from "../src/crypto/detached-jws.js";
import { createCertificateAuthority } from "../src/crypto/pki/ca.js";
import { issueSigningCertificate, type IssuedCertificate } from "../src/crypto/pki/certificates.js";
import { importSigningKey, parseP256PrivateKey } from "../src/crypto/pki/keys.js";
import { issueTimeStamp } from "../src/crypto/timestamp.js";
import { requestTimeStamp } from "../src/crypto/tsa-client.js";
import { checkSeal } from "../web/src/seal-check.js";
import { startOpensslTsa, type OpensslTsa } from "./support/openssl-tsa.js";

const now = new Date(Math.floor(Date.now() / 1000) * 1000);
let ca: { certPem: string; keyPem: string };
let otherCa: { certPem: string; keyPem: string };
let seal: IssuedCertificate;
let tsa: IssuedCertificate;
let externalCa: { certPem: string; keyPem: string };
let external: OpensslTsa;

const file = new TextEncoder().encode("1,2,3\r\n標準,様式\r\n");
const sha256 = (b: Uint8Array) => new Uint8Array(createHash("sha256").update(b).digest());
const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");

beforeAll(async () => {
  ca = await createCertificateAuthority({ commonName: "service CA", now, validityDays: 3650 });
  otherCa = await createCertificateAuthority({ commonName: "other CA", now, validityDays: 3650 });
  externalCa = await createCertificateAuthority({ commonName: "external CA", now, validityDays: 3650 });
  const base = { organizationName: "テスト事務局", now, validityDays: 365 };
  seal = await issueSigningCertificate(ca, { ...base, purpose: "seal", commonName: "kenshin seal" });
  tsa = await issueSigningCertificate(ca, { ...base, purpose: "tsa", commonName: "kenshin TSA" });
  external = await startOpensslTsa(
    await issueSigningCertificate(externalCa, { ...base, purpose: "tsa", commonName: "openssl TSA" }),
  );
}, 120_000);

afterAll(async () => {
  await external.close();
});

function jwsOver(bytes: Uint8Array, cert = seal, chain = [seal.certPem, ca.certPem]): string {
  return signDetachedJws({ payload: bytes, key: createPrivateKey(cert.keyPem), chainPem: chain, now });
}

async function builtinToken(jws: string): Promise<string> {
  const key = await importSigningKey(parseP256PrivateKey(tsa.keyPem));
  return b64(
    await issueTimeStamp(
      { key, certPem: tsa.certPem },
      { digest: sha256(new TextEncoder().encode(jws)), genTime: now },
    ),
  );
}

const anchors = () => ({ sealCa: ca.certPem, tsaCas: [ca.certPem, externalCa.certPem] });

describe("in-browser seal check", () => {
  it("verifies the signature over the file and the built-in TSA's token, naming signer, time and TSA", async () => {
    const jws = jwsOver(file);
    const c = await checkSeal(
      { jws, timestamp: { token: await builtinToken(jws), time: "", tsa: "" } },
      anchors(),
      file,
    );
    expect(c).toMatchObject({ signature: "verified", stamp: "verified", stampTime: now.toISOString() });
    expect(c.signer).toContain("kenshin seal");
    expect(c.signer).toContain("テスト事務局");
    expect(c.tsa).toContain("kenshin TSA");
  });

  it("verifies a token from openssl's TSA (an external authority under a pinned CA)", async () => {
    const jws = jwsOver(file);
    external.mode = "ok";
    const { response } = await requestTimeStamp(external.url, sha256(new TextEncoder().encode(jws)), {
      random: (n) => new Uint8Array(createHash("sha512").update(String(Math.random())).digest()).slice(0, n),
      timeoutMs: 20_000,
    });
    const c = await checkSeal(
      { jws, timestamp: { token: b64(response), time: "", tsa: "" } },
      anchors(),
      file,
    );
    expect(c).toMatchObject({ signature: "verified", stamp: "verified" });
    expect(c.tsa).toContain("openssl TSA");
    // Not with the external CA unpinned.
    const pinnedOnlyOurs = { sealCa: ca.certPem, tsaCas: [ca.certPem] };
    expect(
      (await checkSeal({ jws, timestamp: { token: b64(response), time: "", tsa: "" } }, pinnedOnlyOurs, file))
        .stamp,
    ).toBe("failed");
  });

  it("a one-byte change of the file fails the signature (the token still verifies: it is over the JWS)", async () => {
    const jws = jwsOver(file);
    const changed = Uint8Array.from(file);
    changed[3] = (changed[3] ?? 0) ^ 1;
    const c = await checkSeal(
      { jws, timestamp: { token: await builtinToken(jws), time: "", tsa: "" } },
      anchors(),
      changed,
    );
    expect(c).toMatchObject({ signature: "failed", stamp: "verified" });
    expect(c.why).toContain("signature");
  });

  it("without the file, only the token is checked", async () => {
    const jws = jwsOver(file);
    const c = await checkSeal(
      { jws, timestamp: { token: await builtinToken(jws), time: "", tsa: "" } },
      anchors(),
    );
    expect(c).toMatchObject({ signature: "not-checked", stamp: "verified" });
  });

  it("a token over another JWS, or garbage, fails the time stamp", async () => {
    const jws = jwsOver(file);
    const other = jwsOver(new TextEncoder().encode("other"));
    const c = await checkSeal(
      { jws, timestamp: { token: await builtinToken(other), time: "", tsa: "" } },
      anchors(),
      file,
    );
    expect(c).toMatchObject({ stamp: "failed" });
    expect(c.why).toContain("imprint");
    const g = await checkSeal(
      { jws, timestamp: { token: b64(new Uint8Array([48, 3, 1, 2, 3])), time: "", tsa: "" } },
      anchors(),
      file,
    );
    expect(g.stamp).toBe("failed");
  });

  it("a seal by a certificate of another CA fails even though its own x5c chain is consistent", async () => {
    const foreign = await issueSigningCertificate(otherCa, {
      organizationName: "偽の事務局",
      commonName: "kenshin seal",
      purpose: "seal",
      now,
      validityDays: 365,
    });
    const jws = jwsOver(file, foreign, [foreign.certPem, otherCa.certPem]);
    const c = await checkSeal(
      { jws, timestamp: { token: await builtinToken(jws), time: "", tsa: "" } },
      anchors(),
      file,
    );
    expect(c).toMatchObject({ signature: "failed", stamp: "verified" });
    // …and it verifies once that CA is the pinned one: the check is against the pin, nothing else.
    const pinnedOther = { sealCa: otherCa.certPem, tsaCas: [ca.certPem] };
    expect(
      (
        await checkSeal(
          { jws, timestamp: { token: await builtinToken(jws), time: "", tsa: "" } },
          pinnedOther,
          file,
        )
      ).signature,
    ).toBe("verified");
  });

  it("a TSA certificate without extKeyUsage timeStamping is refused (a seal certificate signing a token)", async () => {
    const jws = jwsOver(file);
    const key = await importSigningKey(parseP256PrivateKey(seal.keyPem));
    const token = b64(
      await issueTimeStamp(
        { key, certPem: seal.certPem },
        { digest: sha256(new TextEncoder().encode(jws)), genTime: now },
      ),
    );
    expect((await checkSeal({ jws, timestamp: { token, time: "", tsa: "" } }, anchors(), file)).stamp).toBe(
      "failed",
    );
  });
});
