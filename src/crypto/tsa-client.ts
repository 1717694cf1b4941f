/**
 * Asking an external time-stamp authority (RFC 3161 §3.4, time-stamp protocol over HTTP): a DER
 * TimeStampReq with a SHA-256 imprint, a random nonce and certReq, POSTed as
 * `application/timestamp-query`; the answer is a DER TimeStampResp, bounded in size and in time (one
 * deadline for the whole exchange, so a TSA that trickles bytes cannot hold the caller). The caller
 * verifies the answer (timestamp.ts) against the data, the trusted CA and the request's nonce before
 * keeping it.
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
  const req = new pkijs.TimeStampReq({
    version: 1,
    messageImprint: new pkijs.MessageImprint({
      hashAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: "2.16.840.1.101.3.4.2.1" }),
      hashedMessage: new asn1js.OctetString({ valueHex: buf(digest) }),
    }),
    nonce: new asn1js.Integer({ valueHex: buf(nonce) }),
    certReq: true,
  });
  return new Uint8Array(req.toSchema().toBER(false));
}

const unavailable = (why: string, cause?: unknown): CryptoError =>
  new CryptoError("CRYPTO_TSA_UNAVAILABLE", `時刻認証局に接続できません: ${why}`, { why }, { cause });

/**
 * A positive 64-bit nonce whose DER INTEGER is minimal: high bit clear (not negative) and first byte
 * non-zero (no leading zero octet), so every TSA echoes exactly these bytes.
 */
export function requestNonce(random: (n: number) => Uint8Array): Uint8Array {
  const n = Uint8Array.from(random(8).subarray(0, 8));
  if (n.length !== 8) throw unavailable("no randomness");
  n[0] = (n[0] ?? 0) & 0x7f || 1;
  return n;
}

/** What the TSA answered, with the nonce the request carried (to check the reply against). */
export interface TimeStampExchange {
  /** DER TimeStampResp as received (not yet verified). */
  readonly response: Uint8Array;
  readonly nonce: Uint8Array;
}

/**
 * POSTs a request to the TSA at `url` (http or https) and returns the DER response with the nonce sent.
 * @throws CryptoError CRYPTO_TSA_UNAVAILABLE
 */
export function requestTimeStamp(
  url: string,
  digest: Uint8Array,
  o: { random: (n: number) => Uint8Array; timeoutMs: number },
): Promise<TimeStampExchange> {
  let target: URL;
  try {
    target = new URL(url);
  } catch (error) {
    return Promise.reject(unavailable("URL", error));
  }
  if (target.protocol !== "http:" && target.protocol !== "https:") {
    return Promise.reject(unavailable("URL must be http or https"));
  }
  const nonce = requestNonce(o.random);
  const body = timeStampRequest(digest, nonce);
  const client = target.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    // The first reason wins: a deadline or size limit rejects before the socket errors it causes.
    const fail = (error: CryptoError): void => {
      reject(error);
      req.destroy(error);
    };
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
          if (size > MAX_TIMESTAMP_BYTES) fail(unavailable("response too large"));
          else chunks.push(c);
        });
        res.on("error", (e) => {
          reject(unavailable("response", e));
        });
        res.on("end", () => {
          const type = res.headers["content-type"] ?? "";
          if (res.statusCode !== 200 || !type.startsWith("application/timestamp-reply")) {
            reject(unavailable(`HTTP ${res.statusCode ?? 0} ${type.slice(0, 60)}`));
          } else resolve({ response: new Uint8Array(Buffer.concat(chunks)), nonce });
        });
      },
    );
    // One deadline for connect + request + the whole answer (the socket time-out alone resets on every
    // byte); cleared when the exchange ends either way.
    const deadline = setTimeout(() => {
      fail(unavailable("timeout"));
    }, o.timeoutMs);
    req.on("close", () => {
      clearTimeout(deadline);
    });
    req.on("timeout", () => {
      fail(unavailable("timeout"));
    });
    req.on("error", (e) => {
      reject(e instanceof CryptoError ? e : unavailable("request", e));
    });
    req.end(body);
  });
}
