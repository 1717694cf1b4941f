/**
 * One request of the API client (`api-client.ts`) on one HTTPS connection of its agent: the body written
 * (a buffer, or a stream with back-pressure), the answer read whole or handed over as a stream, and what
 * the attempt got as far as (`send-again.ts` decides from it whether the request may be sent again).
 * Transport failures reject; any HTTP answer resolves.
 */
import { once } from "node:events";
import https from "node:https";
import type { IncomingHttpHeaders } from "node:http";
import type { AttemptState } from "./send-again.js";

export interface ApiResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** The parsed body when it is JSON, else undefined. */
  readonly json: unknown;
  readonly text: string;
  /** The exact body bytes (downloads are binary). */
  readonly bytes: Buffer;
}

/** An answer whose body is handed over unread (a large download). */
export interface StreamedAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: AsyncIterable<Uint8Array>;
}

export interface SendOnceOptions {
  readonly agent: https.Agent;
  /** Host and port come from here; the path is `path`. */
  readonly base: URL;
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: Buffer | AsyncIterable<Uint8Array> | undefined;
  readonly timeoutMs: number;
  /** Hand the answer's body over unread instead of reading it whole. */
  readonly streamAnswer: boolean;
  /** Filled in as the attempt goes (handshake completed, connection reused). */
  readonly state: AttemptState;
}

/** Sends one request and resolves with its answer. */
export function sendOnce(o: SendOnceOptions): Promise<ApiResponse | StreamedAnswer> {
  const { agent, base, method, path, headers, body, timeoutMs, streamAnswer, state } = o;
  return new Promise((resolve, reject) => {
    // Set once the answer's head arrived. A node may answer before the body is all sent (a coded 503
    // from its gate, a 409 for a key it never agreed): the rest of the body is then not written, and the
    // write error that follows (EPIPE or ECONNRESET once the node closes; Node 24 reports it before the
    // answer's end) is not the outcome — the answer is.
    const answer = { arrived: false, cut: false };
    const req = https.request(
      {
        agent,
        host: base.hostname,
        port: base.port === "" ? 443 : Number(base.port),
        method,
        path,
        headers,
      },
      (res) => {
        answer.arrived = true;
        if (streamAnswer) {
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res });
          return;
        }
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () => {
          // The connection still carries an unfinished body: it cannot serve another request.
          if (answer.cut) req.destroy();
          const raw = Buffer.concat(chunks);
          const text = raw.toString("utf8");
          let json: unknown;
          const type = res.headers["content-type"] ?? "";
          if (/json/i.test(type) && text.length > 0) {
            try {
              json = JSON.parse(text);
            } catch {
              json = undefined;
            }
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, json, text, bytes: raw });
        });
      },
    );
    req.on("socket", (socket) => {
      // A kept connection was established long ago: the request may have left on it.
      if (req.reusedSocket) {
        state.handshaken = true;
        state.reused = true;
      } else socket.once("secureConnect", () => (state.handshaken = true));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`request timed out after ${timeoutMs} ms`)));
    req.on("error", (error) => {
      if (!answer.arrived) reject(error);
    });
    if (body === undefined || Buffer.isBuffer(body)) {
      req.end(body);
      return;
    }
    // A streamed body, written with back-pressure.
    void (async () => {
      try {
        for await (const chunk of body) {
          if (answer.arrived || req.destroyed) {
            answer.cut = true;
            break;
          }
          if (!req.write(chunk)) {
            // A drain that never comes (the node answered and stopped reading) must not hold the loop.
            await Promise.race([once(req, "drain"), once(req, "close")]);
          }
        }
        if (!answer.cut && !req.destroyed) req.end();
      } catch (error) {
        if (!answer.arrived) req.destroy(error as Error);
      }
    })();
  });
}
