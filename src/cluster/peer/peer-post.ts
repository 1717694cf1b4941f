/**
 * JSON requests to a peer's endpoint over mutual TLS with this node's certificate (the server must
 * chain to the service CA, match the URL's host and name the node meant — as in `peer-client.ts`),
 * bounded by a timeout and a size limit on the answer.
 */
import https from "node:https";
import type { PeerEndpoint } from "./peer-client.js";
import type { PeerTls } from "./peer-server.js";
import { peerServerIdentity } from "./peer-identity.js";

/** A keep-alive agent presenting this node's certificate, TLS 1.3 only. */
export function peerAgent(tls: PeerTls, maxSockets = 4): https.Agent {
  return new https.Agent({
    keepAlive: true,
    maxSockets,
    ca: tls.caCertPem,
    cert: tls.certPem,
    key: tls.keyPem,
    minVersion: "TLSv1.3",
  });
}

/**
 * POSTs `body` (JSON) to `path` on `peer`; resolves with the status and the parsed JSON answer.
 * @throws Error when the peer cannot be reached, names another node, times out or answers too much
 */
export function postJson(
  agent: https.Agent,
  peer: PeerEndpoint,
  path: string,
  body: unknown,
  o: { timeoutMs: number; maxAnswerBytes: number },
): Promise<{ status: number; answer: unknown }> {
  return requestJson(agent, peer, "POST", path, body, o);
}

/**
 * One request to `path` on `peer`, with `body` as JSON when given; resolves with the status and the
 * answer parsed as JSON (undefined when it is not JSON).
 * @throws Error when the peer cannot be reached, names another node, times out or answers too much
 */
export function requestJson(
  agent: https.Agent,
  peer: PeerEndpoint,
  method: "GET" | "POST",
  path: string,
  body: unknown,
  o: { timeoutMs: number; maxAnswerBytes: number },
): Promise<{ status: number; answer: unknown }> {
  const bytes = body === undefined ? undefined : Buffer.from(JSON.stringify(body), "utf8");
  return new Promise((resolve, reject) => {
    const req = https.request(
      new URL(path, peer.url),
      {
        method,
        agent,
        timeout: o.timeoutMs,
        headers:
          bytes === undefined ? {} : { "content-type": "application/json", "content-length": bytes.length },
        checkServerIdentity: peerServerIdentity(peer.name),
      },
      (res) => {
        const parts: Buffer[] = [];
        let size = 0;
        res.on("data", (part: Buffer) => {
          size += part.length;
          if (size > o.maxAnswerBytes) {
            res.destroy(new Error("answer too large"));
            return;
          }
          parts.push(part);
        });
        res.on("end", () => {
          let answer: unknown;
          try {
            answer = JSON.parse(Buffer.concat(parts).toString("utf8"));
          } catch {
            answer = undefined;
          }
          resolve({ status: res.statusCode ?? 0, answer });
        });
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end(bytes);
  });
}
