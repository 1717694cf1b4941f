import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCertificateAuthority } from "../../crypto/pki/ca.js";
import { issueSigningCertificate } from "../../crypto/pki/certificates.js";
import { importSigningKey, parseP256PrivateKey } from "../../crypto/pki/keys.js";
import { issueTimeStamp } from "../../crypto/timestamp.js";
import type { ServiceContext } from "../context.js";
import {
  readTsaHistory,
  rememberTsaAnchor,
  tsaAnchors,
  tsaHistoryPath,
  verifyTimeStampWithHistory,
} from "./tsa-trust-history.js";

type Ca = { certPem: string; keyPem: string };
const dir = mkdtempSync(join(tmpdir(), "kenshin-tsa-history-"));
mkdirSync(join(dir, "ca"));
const t0 = new Date(Date.UTC(2026, 0, 5, 9, 0, 0));
const t1 = new Date(Date.UTC(2026, 3, 1, 9, 0, 0)); // the rotation
const data = new TextEncoder().encode('header..signature of a sealed file"');
const digest = new Uint8Array(createHash("sha256").update(data).digest());
let serviceCa: Ca;
let caA: Ca;
let caB: Ca;
let caC: Ca;

async function stamp(ca: Ca, genTime: Date): Promise<Uint8Array> {
  const tsa = await issueSigningCertificate(ca, {
    purpose: "tsa",
    commonName: "TSA",
    organizationName: "時刻認証局",
    now: new Date(Date.UTC(2026, 0, 1)),
    validityDays: 365,
  });
  const key = await importSigningKey(parseP256PrivateKey(tsa.keyPem));
  return issueTimeStamp({ key, certPem: tsa.certPem }, { digest, genTime });
}

/** What the history needs of a node: its data directory, its CA and the configured TSA CA. */
function node(tsaCaPem: string): Pick<ServiceContext, "config" | "ca" | "paths"> {
  return {
    paths: { dir } as ServiceContext["paths"],
    ca: { certPem: serviceCa.certPem } as ServiceContext["ca"],
    config: { timestamp: { tsaCaPem, timeoutMs: 1000 } } as ServiceContext["config"],
  };
}

beforeAll(async () => {
  const o = { now: new Date(Date.UTC(2025, 11, 1)), validityDays: 3650 };
  serviceCa = await createCertificateAuthority({ commonName: "service CA", ...o });
  caA = await createCertificateAuthority({ commonName: "external TSA CA A", ...o });
  caB = await createCertificateAuthority({ commonName: "external TSA CA B", ...o });
  caC = await createCertificateAuthority({ commonName: "never used CA C", ...o });
}, 60_000);
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("TSA trust history across a rotation (S2: verifiable for the retention period)", () => {
  it("a token made under TSA CA A still verifies after the node moved to CA B; C, never used, does not", async () => {
    const path = tsaHistoryPath(node(caA.certPem));
    const fromA = await stamp(caA, t0);
    await rememberTsaAnchor(path, caA.certPem, t0);
    // Rotation: the operator configures TSA B; its first token records B and retires A.
    const fromB = await stamp(caB, t1);
    await rememberTsaAnchor(path, caB.certPem, t1);
    const history = readTsaHistory(path);
    expect(history.map((a) => [a.firstUsed, a.retired])).toEqual([
      [t0.toISOString(), t1.toISOString()],
      [t1.toISOString(), undefined],
    ]);

    const now = node(caB.certPem);
    expect((await verifyTimeStampWithHistory(now, fromA, data)).genTime).toEqual(t0);
    expect((await verifyTimeStampWithHistory(now, fromB, data)).genTime).toEqual(t1);
    await expect(verifyTimeStampWithHistory(now, await stamp(caC, t1), data)).rejects.toMatchObject({
      code: "CRYPTO_TIMESTAMP_INVALID",
    });
    // Over other data the old token is refused as before.
    await expect(verifyTimeStampWithHistory(now, fromA, new Uint8Array([1]))).rejects.toMatchObject({
      code: "CRYPTO_TIMESTAMP_INVALID",
    });
    // The anchors handed to browsers carry the old CA too.
    expect(tsaAnchors(now).map((a) => a.pem)).toContain(`${caA.certPem.trim()}\n`);
  });

  it("a retired CA cannot vouch for a time after its retirement", async () => {
    const late = await stamp(caA, new Date(t1.getTime() + 60_000));
    await expect(verifyTimeStampWithHistory(node(caB.certPem), late, data)).rejects.toMatchObject({
      code: "CRYPTO_TIMESTAMP_INVALID",
    });
  });

  it("the service CA (built-in TSA) always stays trusted, recorded or not", async () => {
    const builtIn = await stamp(serviceCa, t0);
    expect((await verifyTimeStampWithHistory(node(caB.certPem), builtIn, data)).genTime).toEqual(t0);
  });

  it("a known current anchor is not written again; going back to A makes it current again", async () => {
    const path = tsaHistoryPath(node(caB.certPem));
    await rememberTsaAnchor(path, caB.certPem, new Date(t1.getTime() + 1000));
    expect(readTsaHistory(path)).toHaveLength(2);
    const t2 = new Date(Date.UTC(2026, 6, 1));
    await rememberTsaAnchor(path, caA.certPem, t2);
    const h = readTsaHistory(path);
    expect(h.map((a) => [a.firstUsed, a.retired])).toEqual([
      [t1.toISOString(), t2.toISOString()],
      [t0.toISOString(), undefined],
    ]);
  });
});
