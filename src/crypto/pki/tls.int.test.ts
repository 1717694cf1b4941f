/**
 * Real TLS on 127.0.0.1 with material generated at test start: the options from tlsServerOptions must
 * make OpenSSL itself enforce TLS 1.3, the client certificate, the CA and the CRL, and a new CRL must
 * take effect through server.setSecureContext without a restart.
 */
import { once } from "node:events";
import https from "node:https";
import type { AddressInfo } from "node:net";
import tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCertificateAuthority, type CaMaterial } from "./ca.js";
import { issueClientCertificate, issueServerCertificate, type IssuedCertificate } from "./certificates.js";
import { createCrl } from "./crl.js";
import { peerIdentity } from "./peer-identity.js";
import { exportPkcs12 } from "./pkcs12.js";
import { tlsServerOptions } from "./tls-options.js";

const HOST = "127.0.0.1";
const ATTEMPT_TIMEOUT_MS = 5_000;

interface Attempt {
  ok: boolean;
  /** What the server wrote: the peer identity as JSON, only after it accepted the client. */
  body: string;
  error: string | undefined;
  protocol: string | null;
  cipher: string | undefined;
  reused: boolean;
  session: Buffer | undefined;
}

let ca: CaMaterial;
let server: IssuedCertificate;
let alice: IssuedCertificate;
let bob: IssuedCertificate;
let mallory: IssuedCertificate;
let emptyCrl: string;
let tlsServer: tls.Server | undefined;
let port: number;
const serverErrors: string[] = [];

function options(crlPem: string): tls.TlsOptions {
  return tlsServerOptions({ caCertPem: ca.certPem, certPem: server.certPem, keyPem: server.keyPem, crlPem });
}

/**
 * One connection. Under TLS 1.3 the client finishes its handshake before the server has checked the
 * client certificate, so "accepted" means: the server wrote the identity it read from the certificate.
 */
function attempt(client: tls.ConnectionOptions): Promise<Attempt> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: HOST, port, servername: "localhost", ca: ca.certPem, ...client });
    const result: Attempt = {
      ok: false,
      body: "",
      error: undefined,
      protocol: null,
      cipher: undefined,
      reused: false,
      session: undefined,
    };
    const finish = (error?: string): void => {
      result.error ??= error;
      result.ok = result.error === undefined && result.body.length > 0;
      socket.destroy();
      resolve(result);
    };
    socket.setEncoding("utf8");
    socket.setTimeout(ATTEMPT_TIMEOUT_MS, () => {
      finish("timeout");
    });
    socket.on("secureConnect", () => {
      result.protocol = socket.getProtocol();
      result.cipher = socket.getCipher().name;
      result.reused = socket.isSessionReused();
    });
    socket.on("session", (session: Buffer) => {
      result.session = session;
    });
    socket.on("data", (chunk: string) => {
      result.body += chunk;
    });
    socket.on("end", () => {
      finish(result.body.length > 0 ? undefined : "closed without an answer");
    });
    socket.on("error", (error: NodeJS.ErrnoException) => {
      finish(error.code ?? error.message);
    });
  });
}

/**
 * Why OpenSSL rejects a client certificate. With rejectUnauthorized the server just drops such a
 * client (Node checks the verify result after the handshake and destroys the socket without an event),
 * so the reason is read from a probe server built from the same options but told to answer instead.
 */
async function refusalReason(crlPem: string, client: tls.ConnectionOptions): Promise<string> {
  const probe = tls.createServer({ ...options(crlPem), rejectUnauthorized: false }, (socket) => {
    socket.end(socket.authorized ? "AUTHORIZED" : String(socket.authorizationError));
  });
  probe.listen(0, HOST);
  await once(probe, "listening");
  try {
    const probePort = (probe.address() as AddressInfo).port;
    return (await attempt({ ...client, port: probePort })).body;
  } finally {
    probe.close();
    await once(probe, "close");
  }
}

function withCert(cert: IssuedCertificate): tls.ConnectionOptions {
  return { cert: cert.certPem, key: cert.keyPem };
}

beforeAll(async () => {
  const now = new Date();
  ca = await createCertificateAuthority({ commonName: "kenshin test CA", now, validityDays: 30 });
  const otherCa = await createCertificateAuthority({ commonName: "kenshin test CA", now, validityDays: 30 });
  server = await issueServerCertificate(ca, { hostNames: ["localhost", HOST], now, validityDays: 30 });
  const client = { institutionName: "テスト健診センター", now, validityDays: 30 };
  alice = await issueClientCertificate(ca, { loginId: "alice-01", institutionId: "1310000001", ...client });
  bob = await issueClientCertificate(ca, { loginId: "bob-02", institutionId: "1310000002", ...client });
  // Same subject and institution as alice, but from another CA: only the issuer differs.
  mallory = await issueClientCertificate(otherCa, {
    loginId: "alice-01",
    institutionId: "1310000001",
    ...client,
  });
  emptyCrl = await createCrl(ca, { revoked: [], now, nextUpdateDays: 1 });

  const started = tls.createServer(options(emptyCrl), (socket) => {
    socket.end(JSON.stringify(peerIdentity(socket.getPeerCertificate()) ?? null));
  });
  tlsServer = started;
  started.on("tlsClientError", (error: NodeJS.ErrnoException) => {
    serverErrors.push(`${error.code ?? ""} ${error.message}`);
  });
  started.listen(0, HOST);
  await once(started, "listening");
  port = (started.address() as AddressInfo).port;
});

afterAll(async () => {
  if (tlsServer?.listening === true) {
    tlsServer.close();
    await once(tlsServer, "close");
  }
});

describe("tlsServerOptions on a real TLS server", () => {
  it("accepts a CA-issued client certificate (PEM) over TLS 1.3 with an AES-GCM suite", async () => {
    const result = await attempt(withCert(alice));
    expect(result.error).toBeUndefined();
    expect(result.protocol).toBe("TLSv1.3");
    expect(result.cipher).toBe("TLS_AES_256_GCM_SHA384");
    expect(JSON.parse(result.body)).toEqual({
      serialHex: alice.serialHex,
      fingerprintSha256: alice.fingerprintSha256,
      loginId: "alice-01",
      institutionId: "1310000001",
    });
  });

  it("accepts the same certificate loaded from the PKCS#12 export (pfx + passphrase)", async () => {
    const passphrase = "健診 p12 パスワード-1";
    const pfx = await exportPkcs12({
      certPem: alice.certPem,
      keyPem: alice.keyPem,
      caCertPem: ca.certPem,
      password: passphrase,
      friendlyName: "alice-01",
    });
    const result = await attempt({ pfx, passphrase });
    expect(result.error).toBeUndefined();
    expect(JSON.parse(result.body)).toMatchObject({ loginId: "alice-01", serialHex: alice.serialHex });
  });

  it("refuses a client without a certificate", async () => {
    const before = serverErrors.length;
    const result = await attempt({});
    expect(result.ok).toBe(false);
    expect(result.body).toBe("");
    expect(serverErrors.slice(before).join("\n")).toMatch(/peer did not return a certificate/i);
  });

  it("refuses a certificate with the same names from another CA", async () => {
    const result = await attempt(withCert(mallory));
    expect(result.ok).toBe(false);
    expect(result.body).toBe("");
    // OpenSSL finds our CA by the (identical) issuer name, then the CA's key does not verify the leaf.
    expect(await refusalReason(emptyCrl, withCert(mallory))).toBe("UNABLE_TO_VERIFY_LEAF_SIGNATURE");
  });

  it("refuses a client limited to TLS 1.2", async () => {
    const before = serverErrors.length;
    const result = await attempt({ ...withCert(alice), maxVersion: "TLSv1.2" });
    expect(result.ok).toBe(false);
    expect(result.protocol).toBeNull();
    expect(serverErrors.slice(before).join("\n")).toMatch(/unsupported protocol/i);
  });

  it("negotiates TLS_AES_128_GCM_SHA256 but refuses a client offering only ChaCha20-Poly1305", async () => {
    const aes128 = await attempt({ ...withCert(alice), ciphers: "TLS_AES_128_GCM_SHA256" });
    expect(aes128.error).toBeUndefined();
    expect(aes128.cipher).toBe("TLS_AES_128_GCM_SHA256");
    const chacha = await attempt({ ...withCert(alice), ciphers: "TLS_CHACHA20_POLY1305_SHA256" });
    expect(chacha.ok).toBe(false);
    expect(chacha.protocol).toBeNull();
  });

  it("refuses a revoked certificate, even on session resumption, after setSecureContext with a new CRL and without a restart", async () => {
    const first = await attempt(withCert(bob));
    expect(first.error).toBeUndefined();
    expect(first.session).toBeDefined();
    // Resumption works before the reload, so the refusal below is not just resumption being off.
    const resumed = await attempt({ ...withCert(bob), ...(first.session ? { session: first.session } : {}) });
    expect(resumed.error).toBeUndefined();
    expect(resumed.reused).toBe(true);

    const crlPem = await createCrl(ca, {
      revoked: [{ serialHex: bob.serialHex, revokedAt: new Date(), reason: "cessationOfOperation" }],
      now: new Date(),
      nextUpdateDays: 1,
    });
    const running = tlsServer;
    if (running === undefined) throw new Error("server not started");
    running.setSecureContext(options(crlPem));
    expect(running.listening).toBe(true);
    expect((running.address() as AddressInfo).port).toBe(port);

    const fresh = await attempt(withCert(bob));
    expect(fresh.ok).toBe(false);
    expect(fresh.body).toBe("");
    expect(await refusalReason(crlPem, withCert(bob))).toBe("CERT_REVOKED");
    const resumedAfter = await attempt({
      ...withCert(bob),
      ...(first.session ? { session: first.session } : {}),
    });
    expect(resumedAfter.ok).toBe(false);
    expect(resumedAfter.reused).toBe(false);
    // The CA's other clients are unaffected.
    const other = await attempt(withCert(alice));
    expect(other.error).toBeUndefined();
  });
});

describe("tlsServerOptions with https.createServer", () => {
  it("serves a request whose handler reads the client's identity from the socket", async () => {
    const crlPem = await createCrl(ca, { revoked: [], now: new Date(), nextUpdateDays: 1 });
    const httpsServer = https.createServer(options(crlPem), (req, res) => {
      const identity =
        req.socket instanceof tls.TLSSocket ? peerIdentity(req.socket.getPeerCertificate()) : undefined;
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify(identity ?? null));
    });
    httpsServer.listen(0, HOST);
    await once(httpsServer, "listening");
    try {
      const { port: httpsPort } = httpsServer.address() as AddressInfo;
      const body = await new Promise<string>((resolve, reject) => {
        const req = https.get(
          {
            host: HOST,
            port: httpsPort,
            path: "/",
            servername: "localhost",
            ca: ca.certPem,
            ...withCert(alice),
            agent: false,
            timeout: ATTEMPT_TIMEOUT_MS,
          },
          (res) => {
            let text = "";
            res.setEncoding("utf8");
            res.on("data", (chunk: string) => (text += chunk));
            res.on("end", () => {
              resolve(text);
            });
          },
        );
        req.on("timeout", () => req.destroy(new Error("timeout")));
        req.on("error", reject);
      });
      expect(JSON.parse(body)).toMatchObject({ loginId: "alice-01", institutionId: "1310000001" });
    } finally {
      httpsServer.close();
      httpsServer.closeAllConnections();
      await once(httpsServer, "close");
    }
  });
});
