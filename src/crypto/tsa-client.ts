/**
 * Asking an external time-stamp authority (RFC 3161 §3.4, time-stamp protocol over HTTP): a DER
 * TimeStampReq with a SHA-256 imprint, a random nonce and certReq, POSTed as
 * `application/timestamp-query`; the answer is a DER TimeStampResp, bounded in size and time. The
 * caller verifies the answer (timestamp.ts) before keeping it.
 */
import http from "node:http";
import https from "node:https";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { CryptoError } from "./errors.js";
import { MAX_TIMESTAMP_BYTES } from "./timestamp.js";

/** A copy in its own ArrayBuffer (a Buffer's `.buffer` is often a shared pool, and Buffer#slice is a view). */
const buf = (bytes: Uint8Array): ArrayBuffer => {
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return copy.buffer;
};

/** The DER TimeStampReq for a SHA-256 digest. */
export function timeStampRequest(digest: Uint8Array, nonce: Uint8Array): Uint8Array {
  const n = Uint8Array.from(nonce);
  n[0] = (n[0] ?? 0) & 0x7f;
  const req = new pkijs.TimeStampReq({
    version: 1,
    messageImprint: new pkijs.MessageImprint({
      hashAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: "2.16.840.1.101.3.4.2.1" }),
      hashedMessage: new asn1js.OctetString({ valueHex: buf(digest) }),
    }),
    nonce: new asn1js.Integer({ valueHex: buf(n) }),
    certReq: true,
  });
  return new Uint8Array(req.toSchema().toBER(false));
}

const unavailable = (why: string, cause?: unknown): CryptoError =>
  new CryptoError("CRYPTO_TSA_UNAVAILABLE", `時刻認証局に接続できません: ${why}`, { why }, { cause });

/**
 * POSTs a request to the TSA at `url` (http or https) and returns the DER response.
 * @throws CryptoError CRYPTO_TSA_UNAVAILABLE
 */
export function requestTimeStamp(
  url: string,
  digest: Uint8Array,
  o: { random: (n: number) => Uint8Array; timeoutMs: number },
): Promise<Uint8Array> {
  const target = new URL(url);
  if (target.protocol !== "http:" && target.protocol !== "https:") {
    return Promise.reject(unavailable("URL must be http or https"));
  }
  const body = timeStampRequest(digest, o.random(8));
  const client = target.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(
      target,
      {
        method: "POST",
        headers: { "content-type": "application/timestamp-query", "content-length": body.length },
        timeout: o.timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          size += c.length;
          if (size > MAX_TIMESTAMP_BYTES) req.destroy(unavailable("response too large"));
          else chunks.push(c);
        });
        res.on("error", (e) => {
          reject(unavailable("response", e));
        });
        res.on("end", () => {
          const type = res.headers["content-type"] ?? "";
          if (res.statusCode !== 200 || !type.startsWith("application/timestamp-reply")) {
            reject(unavailable(`HTTP ${res.statusCode ?? 0} ${type.slice(0, 60)}`));
          } else resolve(new Uint8Array(Buffer.concat(chunks)));
        });
      },
    );
    req.on("timeout", () => req.destroy(unavailable("timeout")));
    req.on("error", (e) => {
      reject(e instanceof CryptoError ? e : unavailable("request", e));
    });
    req.end(body);
  });
}
