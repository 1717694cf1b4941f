/**
 * Where a node keeps its state. Everything secret is a file with owner-only permissions; the
 * key-encryption key lives outside the database on purpose (a copy of the database alone cannot
 * decrypt payloads).
 */
import { join } from "node:path";

export interface DataPaths {
  readonly dir: string;
  readonly config: string;
  readonly serviceDb: string;
  readonly ledgerDb: string;
  readonly ledgerKey: string;
  readonly ledgerVerifierKey: string;
  readonly kek: string;
  readonly caCert: string;
  readonly caKey: string;
  readonly crl: string;
  readonly serverCert: string;
  readonly serverKey: string;
  /** Certificates and keys handed out (per login ID), for the office to pass on. */
  readonly issued: string;
  /** The organisation seal (detached JWS over sent files) and the built-in RFC 3161 TSA. */
  readonly sealKey: string;
  readonly sealCert: string;
  readonly tsaKey: string;
  readonly tsaCert: string;
}

export function dataPaths(dir: string): DataPaths {
  return {
    dir,
    config: join(dir, "config.json"),
    serviceDb: join(dir, "service.db"),
    ledgerDb: join(dir, "ledger.db"),
    ledgerKey: join(dir, "keys", "ledger.key"),
    ledgerVerifierKey: join(dir, "keys", "ledger.vkey"),
    kek: join(dir, "keys", "kek.key"),
    caCert: join(dir, "ca", "ca.cert.pem"),
    caKey: join(dir, "ca", "ca.key.pem"),
    crl: join(dir, "ca", "crl.pem"),
    serverCert: join(dir, "tls", "server.cert.pem"),
    serverKey: join(dir, "tls", "server.key.pem"),
    issued: join(dir, "issued"),
    sealKey: join(dir, "keys", "seal.key.pem"),
    sealCert: join(dir, "keys", "seal.cert.pem"),
    tsaKey: join(dir, "keys", "tsa.key.pem"),
    tsaCert: join(dir, "keys", "tsa.cert.pem"),
  };
}
