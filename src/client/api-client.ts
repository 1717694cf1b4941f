/**
 * The Node-side API client the tests and the CLI use: HTTPS with the institution's client certificate
 * (TLS 1.3 only), the session cookie kept between calls, the CSRF token sent on every state change, and
 * every state-changing request signed with the device key (request-signing.ts, the same code the
 * browser uses). HTTP error answers are returned, never thrown: callers look at `status` and the
 * OperationOutcome code. Only transport failures (refused handshake, reset, time-out) reject.
 *
 * A request is sent again (at most `MAX_ATTEMPTS` times in all, each on a new connection, signed
 * anew, after growing pauses: refused-unprocessed.ts) only when it is known that nothing was done: a
 * cluster node that stopped serving refused it before any route ran (503 `CLUSTER_QUARANTINED` or
 * `CLUSTER_CATCHING_UP`, server/quarantine-gate.ts); with `loadBalanced`, a node that met damage to its
 * own copy refused it (503 `INTEGRITY_FAILURE`, verified before any state change); or its connection
 * failed before the TLS handshake completed (so not a byte of the request left), or a kept connection
 * the node had closed while idle was reset under it — or, for GET/HEAD, which change nothing, the
 * connection was reset (send-again.ts). Through haproxy the next connection reaches a serving node. One
 * attempt on one connection is `https-exchange.ts`.
 */
import https from "node:https";
import { Readable } from "node:stream";
import type { IncomingHttpHeaders } from "node:http";
import type { ConnectionOptions } from "node:tls";
import type { DevicePublicJwk } from "./device-key.js";
import { DEVICE_SIGNATURE_HEADER, signRequest } from "./request-signing.js";
import { sendOnce, type ApiResponse } from "./https-exchange.js";
import { pauseBeforeNextAttempt, unprocessedRefusal } from "./refused-unprocessed.js";
import { mayRetryError, newAttempt, type AttemptState } from "./send-again.js";

export type { ApiResponse } from "./https-exchange.js";

/** A device key as device-key-file.ts loads it (or any holder of a signing key and its ID). */
export interface ApiDeviceKey {
  readonly privateKey: CryptoKey;
  readonly deviceId: string;
  readonly publicJwk: DevicePublicJwk;
}

export interface ApiClientOptions {
  /** e.g. `https://localhost:8443/`; only origin matters, paths are given per call. */
  readonly baseUrl: string;
  /** The service CA: the only trust anchor for the server certificate. */
  readonly caPem: string;
  readonly certPem?: string;
  readonly keyPem?: string;
  /** PKCS#12 instead of certPem/keyPem. */
  readonly pfx?: Uint8Array;
  readonly passphrase?: string;
  readonly deviceKey?: ApiDeviceKey;
  /** Signing time (ms since the epoch); defaults to Date.now. */
  readonly now?: () => number;
  /** Extra TLS options, overriding the defaults (tests: maxVersion, servername…). */
  readonly tls?: ConnectionOptions;
  /** Per-request time-out (ms); default 15 s. */
  readonly timeoutMs?: number;
  /** Keep connections open between requests, as a browser does (default: a new one per request). */
  readonly keepAlive?: boolean;
  /**
   * `baseUrl` is a load balancer in front of a cluster's nodes: a 503 `INTEGRITY_FAILURE` (the node met
   * damage to its own copy and quarantines itself) is sent again too, since a later attempt reaches a
   * healthy node. Default false: a client of one node gets that node's refusal at once.
   */
  readonly loadBalanced?: boolean;
}

export interface RequestOptions {
  /** A JSON value, serialised once; the exact bytes are what is signed and sent. */
  readonly json?: unknown;
  /** Raw body (with `contentType`), for malformed-input tests. */
  readonly body?: string | Uint8Array;
  /**
   * A body sent as it is read (a large upload), with its SHA-256 and length known beforehand (the device
   * signature covers the digest). Instead of `body`.
   */
  readonly stream?: {
    readonly sha256Hex: string;
    readonly length: number;
    readonly chunks: () => AsyncIterable<Uint8Array>;
  };
  readonly contentType?: string;
  /** Extra headers; a header given here replaces the client's own (e.g. a forged X-Kenshin-Device). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Sign with the device key; default: for every method but GET/HEAD, when a key is set. */
  readonly sign?: boolean;
  /** Send the CSRF token; default: for every method but GET/HEAD. */
  readonly csrf?: boolean;
}

export interface ApiClient {
  login(loginId: string, password: string): Promise<ApiResponse>;
  logout(): Promise<ApiResponse>;
  get(path: string): Promise<ApiResponse>;
  post(path: string, body?: unknown): Promise<ApiResponse>;
  del(path: string): Promise<ApiResponse>;
  /** Registers this client's device key (the request is signed by that key itself). */
  registerDevice(o: { label: string; confirmAdditional?: boolean }): Promise<ApiResponse>;
  changePassword(current: string, next: string): Promise<ApiResponse>;
  /** Any request, with control over body, headers, signing and CSRF. */
  request(method: string, path: string, options?: RequestOptions): Promise<ApiResponse>;
  /**
   * Like `request`, but the answer's body is not read: it is handed over as a stream (a large
   * download), with the status and headers.
   */
  requestStream(
    method: string,
    path: string,
    options?: RequestOptions,
  ): Promise<{ status: number; headers: IncomingHttpHeaders; body: AsyncIterable<Uint8Array> }>;
  /** The X-Kenshin-Device value for a request, as this client would send it. */
  sign(method: string, path: string, body?: Uint8Array): Promise<string>;
  setDeviceKey(key: ApiDeviceKey | undefined): void;
  /** Session cookie value and CSRF token, as last received (undefined when logged out). */
  readonly session: { token: string | undefined; csrfToken: string | undefined };
  /** Closes the agent's sockets. */
  close(): void;
}

const SESSION_COOKIE = "__Host-kenshin_session";
const SAFE_METHODS = new Set(["GET", "HEAD"]);
export function createApiClient(options: ApiClientOptions): ApiClient {
  const base = new URL(options.baseUrl);
  if (base.protocol !== "https:") throw new TypeError("baseUrl must be https");
  const now = options.now ?? Date.now;
  let deviceKey = options.deviceKey;
  const session: { token: string | undefined; csrfToken: string | undefined } = {
    token: undefined,
    csrfToken: undefined,
  };
  const agent = new https.Agent({
    keepAlive: options.keepAlive ?? false,
    minVersion: "TLSv1.3",
    ca: options.caPem,
    ...(options.certPem !== undefined ? { cert: options.certPem } : {}),
    ...(options.keyPem !== undefined ? { key: options.keyPem } : {}),
    ...(options.pfx !== undefined ? { pfx: Buffer.from(options.pfx) } : {}),
    ...(options.passphrase !== undefined ? { passphrase: options.passphrase } : {}),
    ...options.tls,
  });

  const sign = async (method: string, path: string, body?: Uint8Array): Promise<string> => {
    if (!deviceKey) throw new TypeError("no device key");
    return signRequest({
      method,
      path,
      ...(body !== undefined ? { body } : {}),
      privateKey: deviceKey.privateKey,
      deviceId: deviceKey.deviceId,
      now: now(),
    });
  };

  const remember = (headers: IncomingHttpHeaders): void => {
    for (const cookie of headers["set-cookie"] ?? []) {
      const [pair] = cookie.split(";");
      const eq = pair?.indexOf("=") ?? -1;
      if (pair === undefined || eq < 0 || pair.slice(0, eq).trim() !== SESSION_COOKIE) continue;
      const value = pair.slice(eq + 1).trim();
      const cleared = /;\s*max-age=0\b/i.test(cookie) || value === "";
      session.token = cleared ? undefined : value;
      if (cleared) session.csrfToken = undefined;
    }
  };

  const request = async (method: string, path: string, o: RequestOptions = {}): Promise<ApiResponse> =>
    (await attempts(method, path, o, false)) as ApiResponse;
  const requestStream = async (method: string, path: string, o: RequestOptions = {}) =>
    (await attempts(method, path, o, true)) as {
      status: number;
      headers: IncomingHttpHeaders;
      body: AsyncIterable<Uint8Array>;
    };

  const attempts = async (method: string, path: string, o: RequestOptions, streamAnswer: boolean) => {
    for (let attempt = 1; ; attempt++) {
      const state = newAttempt();
      const pause = pauseBeforeNextAttempt(attempt);
      let response: Awaited<ReturnType<typeof prepare>>;
      try {
        response = await prepare(method, path, o, streamAnswer, state);
      } catch (error) {
        if (pause === undefined || !mayRetryError(error, method.toUpperCase(), state)) throw error;
        await new Promise((resolve) => setTimeout(resolve, pause));
        continue;
      }
      if (response.status !== 503) return response;
      const answer = "body" in response ? await readAnswer(response) : response;
      const refusal = unprocessedRefusal(answer.status, errorCode(answer));
      const again = refusal === "gate" || (refusal === "integrity" && options.loadBalanced === true);
      if (pause === undefined || !again) {
        return "body" in response ? { ...response, body: Readable.from([answer.bytes]) } : answer;
      }
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  };

  const prepare = async (
    method: string,
    path: string,
    o: RequestOptions,
    streamAnswer: boolean,
    state: AttemptState,
  ) => {
    const upper = method.toUpperCase();
    let bytes: Buffer | undefined;
    let contentType = o.contentType;
    if (o.json !== undefined) {
      bytes = Buffer.from(JSON.stringify(o.json), "utf8");
      contentType ??= "application/json";
    } else if (o.body !== undefined) {
      bytes = typeof o.body === "string" ? Buffer.from(o.body, "utf8") : Buffer.from(o.body);
    }
    const headers: Record<string, string> = { accept: "application/json" };
    if (contentType !== undefined) headers["content-type"] = contentType;
    if (bytes !== undefined) headers["content-length"] = String(bytes.length);
    if (o.stream !== undefined) headers["content-length"] = String(o.stream.length);
    if (session.token !== undefined) headers["cookie"] = `${SESSION_COOKIE}=${session.token}`;
    const change = !SAFE_METHODS.has(upper);
    if ((o.csrf ?? change) && session.csrfToken !== undefined) headers["x-csrf-token"] = session.csrfToken;
    if ((o.sign ?? change) && deviceKey !== undefined) {
      headers[DEVICE_SIGNATURE_HEADER.toLowerCase()] =
        o.stream === undefined
          ? await sign(upper, path, bytes)
          : await signRequest({
              method: upper,
              path,
              bodySha256Hex: o.stream.sha256Hex,
              privateKey: deviceKey.privateKey,
              deviceId: deviceKey.deviceId,
              now: now(),
            });
    }
    for (const [name, value] of Object.entries(o.headers ?? {})) headers[name.toLowerCase()] = value;
    const response = await sendOnce({
      agent,
      base,
      method: upper,
      path,
      headers,
      body: o.stream === undefined ? bytes : o.stream.chunks(),
      timeoutMs: options.timeoutMs ?? 15_000,
      streamAnswer,
      state,
    });
    remember(response.headers);
    return response;
  };

  return {
    session,
    request,
    requestStream,
    sign,
    setDeviceKey: (key) => {
      deviceKey = key;
    },
    async login(loginId, password) {
      const r = await request("POST", "/api/v1/session", { json: { loginId, password }, sign: false });
      if (r.status === 201) {
        const csrf = (r.json as { csrfToken?: unknown } | undefined)?.csrfToken;
        session.csrfToken = typeof csrf === "string" ? csrf : undefined;
      }
      return r;
    },
    async logout() {
      const r = await request("DELETE", "/api/v1/session", { sign: false });
      if (r.status === 204) {
        session.token = undefined;
        session.csrfToken = undefined;
      }
      return r;
    },
    get: (path) => request("GET", path),
    post: (path, body) => request("POST", path, body === undefined ? {} : { json: body }),
    del: (path) => request("DELETE", path),
    registerDevice: (o) => {
      if (!deviceKey) throw new TypeError("no device key");
      return request("POST", "/api/v1/devices", {
        json: {
          publicKey: deviceKey.publicJwk,
          label: o.label,
          confirmAdditional: o.confirmAdditional ?? false,
        },
      });
    },
    changePassword: (current, next) =>
      request("POST", "/api/v1/account/password", { json: { current, next } }),
    close: () => {
      agent.destroy();
    },
  };
}

/** A streamed answer read whole (an error answer: small), to look at its code. */
export async function readAnswer(r: {
  status: number;
  headers: IncomingHttpHeaders;
  body: AsyncIterable<Uint8Array>;
}): Promise<ApiResponse> {
  const chunks: Buffer[] = [];
  for await (const c of r.body) chunks.push(Buffer.from(c));
  const bytes = Buffer.concat(chunks);
  const text = bytes.toString("utf8");
  let json: unknown;
  if (/json/i.test(r.headers["content-type"] ?? "") && text.length > 0) {
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
  }
  return { status: r.status, headers: r.headers, json, text, bytes };
}

/** Our error code from an OperationOutcome body (issue[0].details.coding[0].code), if any. */
export function errorCode(response: ApiResponse): string | undefined {
  const body = response.json as { issue?: { details?: { coding?: { code?: unknown }[] } }[] } | undefined;
  const code = body?.issue?.[0]?.details?.coding?.[0]?.code;
  return typeof code === "string" ? code : undefined;
}
