/**
 * The API client's rule for sending a request again (src/client/send-again.ts) against a real TLS 1.3 server: a
 * state change written on a kept-alive connection that the server closes without answering (what a
 * node's close of an idle connection looks like when a request crosses it) is sent again on a new
 * connection; the same cut on a connection made for that very request is not (the request may have run).
 */
import https from "node:https";
import type { AddressInfo } from "node:net";
import type { Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueTestNodeCertificates } from "./cluster/node-certificates.js";
import type { IssuedCertificate } from "../src/crypto/pki/index.js";
import { createApiClient, errorCode } from "../src/client/api-client.js";
import { MAX_ATTEMPTS } from "../src/client/refused-unprocessed.js";
import { mayRetryError, newAttempt } from "../src/client/send-again.js";

let server: https.Server;
let caPem: string;
let port: number;
/** Per connection: how many requests it carried. What the server does with the n-th one is `cut`. */
const carried = new WeakMap<Socket, number>();
const seen: string[] = [];
let cut: (n: number, path: string) => boolean = () => false;
/** The coded 503 the server answers the `seen.length`-th request with, if any. */
let refuse: (count: number) => string | undefined = () => undefined;

beforeAll(async () => {
  const certs = new Map<string, IssuedCertificate>();
  const { ca } = await issueTestNodeCertificates("send-again test CA", ["server"], certs);
  caPem = ca.certPem;
  const own = certs.get("server");
  if (own === undefined) throw new Error("no server certificate");
  server = https.createServer({ cert: own.certPem, key: own.keyPem, minVersion: "TLSv1.3" }, (req, res) => {
    const n = (carried.get(req.socket) ?? 0) + 1;
    carried.set(req.socket, n);
    req.resume();
    req.on("end", () => {
      seen.push(`${req.method} ${req.url} #${n}`);
      if (cut(n, req.url ?? "")) {
        req.socket.destroy();
        return;
      }
      const code = refuse(seen.length);
      if (code !== undefined) {
        const outcome = { resourceType: "OperationOutcome", issue: [{ details: { coding: [{ code }] } }] };
        res.writeHead(503, { "content-type": "application/fhir+json" }).end(JSON.stringify(outcome));
        return;
      }
      res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');
    });
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((done) => server.close(done));
});

describe("sending a request again after a cut connection", () => {
  it("sends a POST again when the kept connection it went on is closed before any answer", async () => {
    seen.length = 0;
    // The second request of any connection finds it closed (the node closed it while idle).
    cut = (n) => n === 2;
    const client = createApiClient({ baseUrl: `https://127.0.0.1:${port}/`, caPem, keepAlive: true });
    try {
      expect((await client.get("/first")).status).toBe(200);
      const r = await client.post("/change", { a: 1 });
      expect(r.status).toBe(200);
      // Cut on the kept connection, answered on a new one.
      expect(seen).toEqual(["GET /first #1", "POST /change #2", "POST /change #1"]);
    } finally {
      client.close();
    }
  });

  it("does not send a POST again when the connection made for it is cut after the handshake", async () => {
    seen.length = 0;
    cut = (_n, path) => path === "/change";
    const client = createApiClient({ baseUrl: `https://127.0.0.1:${port}/`, caPem, keepAlive: false });
    try {
      await expect(client.post("/change", { a: 1 })).rejects.toMatchObject({ code: "ECONNRESET" });
      expect(seen).toEqual(["POST /change #1"]);
    } finally {
      client.close();
    }
  });

  it("sends a POST again after 503 INTEGRITY_FAILURE when load-balanced (another node answers), not otherwise", async () => {
    cut = () => false;
    // The first two attempts meet the damaged node, the third a healthy one.
    refuse = (count) => (count <= 2 ? "INTEGRITY_FAILURE" : undefined);
    const balanced = createApiClient({ baseUrl: `https://127.0.0.1:${port}/`, caPem, loadBalanced: true });
    const single = createApiClient({ baseUrl: `https://127.0.0.1:${port}/`, caPem });
    try {
      seen.length = 0;
      expect((await balanced.post("/receipt", { a: 1 })).status).toBe(200);
      expect(seen).toEqual(["POST /receipt #1", "POST /receipt #1", "POST /receipt #1"]);
      seen.length = 0;
      const refused = await single.post("/receipt", { a: 1 });
      expect([refused.status, errorCode(refused)]).toEqual([503, "INTEGRITY_FAILURE"]);
      expect(seen).toEqual(["POST /receipt #1"]);
      // Bounded: a node that refuses every attempt is answered after MAX_ATTEMPTS.
      seen.length = 0;
      refuse = () => "INTEGRITY_FAILURE";
      expect((await balanced.post("/receipt", { a: 1 })).status).toBe(503);
      expect(seen).toHaveLength(MAX_ATTEMPTS);
    } finally {
      refuse = () => undefined;
      balanced.close();
      single.close();
    }
  });

  it("states the rule: what may go again, by method, handshake and reuse", () => {
    const reset = Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
    const refused = Object.assign(new Error("refused"), { code: "ECONNREFUSED" });
    const tlsRefusal = Object.assign(new Error("bad certificate"), {
      code: "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED",
    });
    const before = newAttempt();
    const fresh = { ...newAttempt(), handshaken: true };
    const kept = { handshaken: true, reused: true };
    expect(mayRetryError(refused, "POST", before)).toBe(true);
    expect(mayRetryError(reset, "POST", fresh)).toBe(false);
    expect(mayRetryError(reset, "GET", fresh)).toBe(true);
    expect(mayRetryError(reset, "POST", kept)).toBe(true);
    // Refused anew on a kept connection is not an idle close: the connection was there.
    expect(mayRetryError(Object.assign(new Error("aborted"), { code: "ECONNABORTED" }), "POST", kept)).toBe(
      false,
    );
    expect(mayRetryError(tlsRefusal, "GET", before)).toBe(false);
    expect(mayRetryError(new Error("request timed out after 1 ms"), "GET", before)).toBe(false);
  });
});
