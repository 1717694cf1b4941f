/**
 * The one place that prepares @peculiar/x509: it needs the reflect-metadata polyfill loaded before it
 * (its ASN.1 schemas use decorators) and a WebCrypto provider. Node ≥ 20 has WebCrypto as
 * `globalThis.crypto`, so no third-party crypto is involved. Every module of this folder imports x509
 * from here, never from the package, so the set-up cannot be skipped by import order.
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(globalThis.crypto);

export { x509 };
