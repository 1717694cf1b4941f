/**
 * The external-TSA client against a real RFC 3161 authority: `openssl ts -reply` behind a small HTTP
 * server on 127.0.0.1 (test/support/openssl-tsa.ts), its certificate from a test CA. A good reply
 * verifies (and `openssl ts -verify` agrees); every failure — no answer in time, a reply that is not a
 * TimeStampResp, a reply to another request (nonce), over other data (imprint), from a TSA of another
 * CA, an HTTP error, another content type, an oversized reply, a refused connection — is a coded error.
 */
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startOpensslTsa, type OpensslTsa } from "../../test/support/openssl-tsa.js";
import { CryptoError } from "./errors.js";
import { createCertificateAuthority } from "./pki/ca.js";
import { issueSigningCertificate } from "./pki/certificates.js";
import { verifyTimeStamp } from "./timestamp.js";
import { requestTimeStamp } from "./tsa-client.js";

const dir = mkdtempSync(join(tmpdir(), "kenshin-tsa-client-"));
const now = new Date();
let ca: { certPem: string; keyPem: string };
let otherCa: { certPem: string; keyPem: string };
let tsa: OpensslTsa;
let foreignTsa: OpensslTsa;

const sha256 = (b: Uint8Array) => new Uint8Array(createHash("sha256").update(b).digest());
const random = (n: number) => new Uint8Array(randomBytes(n));

beforeAll(async () => {
  ca = await createCertificateAuthority({ commonName: "tsa test CA", now, validityDays: 3650 });
  otherCa = await createCertificateAuthority({ commonName: "another CA", now, validityDays: 3650 });
  const base = { organizationName: "外部時刻認証局", now, validityDays: 365, purpose: "tsa" as const };
  const cert = await issueSigningCertificate(ca, { ...base, commonName: "openssl TSA" });
  const foreign = await issueSigningCertificate(otherCa, { ...base, commonName: "foreign TSA" });
  tsa = await startOpensslTsa(cert);
  foreignTsa = await startOpensslTsa(foreign);
  writeFileSync(join(dir, "ca.pem"), ca.certPem);
}, 120_000);

afterAll(async () => {
  await tsa.close();
  await foreignTsa.close();
  rmSync(dir, { recursive: true, force: true });
});

async function stamp(data: Uint8Array, url = tsa.url, timeoutMs = 20_000) {
  const exchange = await requestTimeStamp(url, sha256(data), { random, timeoutMs });
  const verified = await verifyTimeStamp(exchange.response, {
    data,
    caPem: ca.certPem,
    nonce: exchange.nonce,
  });
  return { ...exchange, verified };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (error) {
    expect(error).toBeInstanceOf(CryptoError);
    return (error as CryptoError).code;
  }
  throw new Error("expected a coded error");
}

describe("external TSA client against openssl ts -reply", () => {
  it("a granted reply verifies: imprint, signature, chain to the CA, the nonce we sent; openssl agrees", async () => {
    tsa.mode = "ok";
    const data = new TextEncoder().encode("signed checkpoint note\n");
    const before = Date.now();
    const { response, nonce, verified } = await stamp(data);
    expect(verified.tsa).toContain("openssl TSA");
    expect(verified.policy).toBe("1.2.3.4.1");
    expect(verified.nonce).toBe(Buffer.from(nonce).toString("hex"));
    expect(Math.abs(verified.genTime.getTime() - before)).toBeLessThan(10 * 60_000);
    // The query openssl received is ours: certReq, SHA-256 imprint of the data.
    expect(Buffer.from(tsa.queries.at(-1) ?? []).includes(Buffer.from(sha256(data)))).toBe(true);

    writeFileSync(join(dir, "r.tsr"), response);
    writeFileSync(join(dir, "r.dat"), data);
    const v = spawnSync("openssl", ["ts", "-verify", "-in", "r.tsr", "-data", "r.dat", "-CAfile", "ca.pem"], {
      cwd: dir,
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(v.stdout + v.stderr).toContain("Verification: OK");
    // Each request carries a fresh nonce.
    const again = await stamp(data);
    expect(Buffer.from(again.nonce).equals(Buffer.from(nonce))).toBe(false);
  });

  it("a reply to another request (same digest, other nonce) is refused", async () => {
    tsa.mode = "other-nonce";
    const data = new TextEncoder().encode("nonce test");
    const exchange = await requestTimeStamp(tsa.url, sha256(data), { random, timeoutMs: 20_000 });
    // Genuine otherwise: without the nonce check it would pass.
    await expect(verifyTimeStamp(exchange.response, { data, caPem: ca.certPem })).resolves.toBeDefined();
    const error = await verifyTimeStamp(exchange.response, {
      data,
      caPem: ca.certPem,
      nonce: exchange.nonce,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CryptoError);
    expect((error as CryptoError).code).toBe("CRYPTO_TIMESTAMP_INVALID");
    expect((error as CryptoError).context).toMatchObject({ why: "nonce does not match the request" });
  });

  it("a reply over other data (wrong imprint) is refused", async () => {
    tsa.mode = "other-imprint";
    const error = await stamp(new TextEncoder().encode("what we asked for")).catch((e: unknown) => e);
    expect((error as CryptoError).code).toBe("CRYPTO_TIMESTAMP_INVALID");
    expect((error as CryptoError).context).toMatchObject({ why: "message imprint does not match" });
  });

  it("bytes that are not a TimeStampResp are refused", async () => {
    tsa.mode = "garbage";
    expect(await codeOf(stamp(new TextEncoder().encode("x")))).toBe("CRYPTO_TIMESTAMP_INVALID");
  });

  it("a TSA whose certificate is from another CA is refused", async () => {
    foreignTsa.mode = "ok";
    expect(await codeOf(stamp(new TextEncoder().encode("x"), foreignTsa.url))).toBe(
      "CRYPTO_TIMESTAMP_INVALID",
    );
  });

  it("no answer within the deadline, HTTP errors, other content types and oversized replies are CRYPTO_TSA_UNAVAILABLE", async () => {
    const data = new TextEncoder().encode("y");
    for (const mode of ["hang", "http-500", "wrong-type", "huge"] as const) {
      tsa.mode = mode;
      const error = await stamp(data, tsa.url, 1500).catch((e: unknown) => e);
      expect(error, mode).toBeInstanceOf(CryptoError);
      expect((error as CryptoError).code, mode).toBe("CRYPTO_TSA_UNAVAILABLE");
    }
    tsa.mode = "hang";
    const hung = await stamp(data, tsa.url, 1500).catch((e: unknown) => e);
    expect((hung as CryptoError).context).toMatchObject({ why: "timeout" });
  });

  it("a TSA that trickles its answer is cut at the deadline, not at the socket's idle time-out", async () => {
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/timestamp-reply" });
      const timer = setInterval(() => res.write("0"), 100);
      res.on("close", () => {
        clearInterval(timer);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const error = await requestTimeStamp(`http://127.0.0.1:${port}/`, sha256(new Uint8Array(1)), {
        random,
        timeoutMs: 1000,
      }).catch((e: unknown) => e);
      expect((error as CryptoError).code).toBe("CRYPTO_TSA_UNAVAILABLE");
      expect((error as CryptoError).context).toMatchObject({ why: "timeout" });
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      );
    }
  });

  it("a refused connection and a non-HTTP URL are CRYPTO_TSA_UNAVAILABLE", async () => {
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) =>
      server.close(() => {
        resolve();
      }),
    );
    const digest = sha256(new Uint8Array(1));
    const o = { random, timeoutMs: 2000 };
    expect(await codeOf(requestTimeStamp(`http://127.0.0.1:${port}/`, digest, o))).toBe(
      "CRYPTO_TSA_UNAVAILABLE",
    );
    expect(await codeOf(requestTimeStamp("ftp://127.0.0.1/", digest, o))).toBe("CRYPTO_TSA_UNAVAILABLE");
  });
});
