/**
 * One TLS connection kept open across requests (HTTP/1.1 keep-alive), written by hand so a test knows
 * that every request travels on the very socket opened before some event (a revocation, a disable).
 * Responses are read by Content-Length (every API answer has one).
 */
import tls from "node:tls";

export interface RawAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export interface KeepAliveConnection {
  /** Sends one request on the connection; rejects when the server has closed it. */
  request(method: string, path: string, headers?: Record<string, string>, body?: string): Promise<RawAnswer>;
  /** Resolves once the server closed the connection (or after `ms`, with false). */
  closedWithin(ms: number): Promise<boolean>;
  readonly closed: () => boolean;
  destroy(): void;
}

export function openKeepAlive(options: {
  port: number;
  caPem: string;
  certPem: string;
  keyPem: string;
}): Promise<KeepAliveConnection> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: "127.0.0.1",
      port: options.port,
      ca: options.caPem,
      cert: options.certPem,
      key: options.keyPem,
      minVersion: "TLSv1.3",
    });
    let buffer = Buffer.alloc(0);
    let isClosed = false;
    let waiting: { resolve: (a: RawAnswer) => void; reject: (e: Error) => void } | undefined;
    const closeWaiters: (() => void)[] = [];
    const tryParse = (): void => {
      if (!waiting) return;
      const sep = buffer.indexOf("\r\n\r\n");
      if (sep < 0) return;
      const head = buffer.subarray(0, sep).toString("latin1").split("\r\n");
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head[0] ?? "")?.[1] ?? 0);
      const headers: Record<string, string> = {};
      for (const line of head.slice(1)) {
        const colon = line.indexOf(":");
        if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      const length = Number(headers["content-length"] ?? 0);
      if (buffer.length < sep + 4 + length) return;
      const body = buffer.subarray(sep + 4, sep + 4 + length).toString("utf8");
      buffer = buffer.subarray(sep + 4 + length);
      const w = waiting;
      waiting = undefined;
      w.resolve({ status, headers, body });
    };
    socket.on("data", (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      tryParse();
    });
    socket.on("error", () => undefined);
    socket.on("close", () => {
      isClosed = true;
      waiting?.reject(new Error("connection closed by the server"));
      waiting = undefined;
      for (const w of closeWaiters.splice(0)) w();
    });
    socket.once("secureConnect", () => {
      resolve({
        request: (method, path, headers = {}, body) =>
          new Promise((res, rej) => {
            if (isClosed) {
              rej(new Error("connection closed by the server"));
              return;
            }
            waiting = { resolve: res, reject: rej };
            const bytes = body === undefined ? Buffer.alloc(0) : Buffer.from(body, "utf8");
            const lines = [`${method} ${path} HTTP/1.1`, "host: localhost", "connection: keep-alive"];
            for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
            if (body !== undefined) lines.push(`content-length: ${bytes.length}`);
            socket.write(Buffer.concat([Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1"), bytes]));
          }),
        closedWithin: (ms) =>
          new Promise((res) => {
            if (isClosed) {
              res(true);
              return;
            }
            const timer = setTimeout(() => {
              res(false);
            }, ms);
            closeWaiters.push(() => {
              clearTimeout(timer);
              res(true);
            });
          }),
        closed: () => isClosed,
        destroy: () => socket.destroy(),
      });
    });
    socket.once("error", reject);
  });
}

/** The session cookie from a Set-Cookie header. */
export function cookieOf(answer: RawAnswer): string {
  const match = /__Host-kenshin_session=([^;]*)/.exec(answer.headers["set-cookie"] ?? "");
  if (!match?.[1]) throw new Error(`no session cookie (status ${answer.status})`);
  return `__Host-kenshin_session=${match[1]}`;
}
