/**
 * A node configured with an external TSA (`timestamp.tsaUrl`, `timestamp.tsaCaPem`) over real mutual
 * TLS, the TSA being `openssl ts -reply` behind a small HTTP server on 127.0.0.1: a sent file's
 * Provenance carries openssl's token over the JWS (openssl ts -verify accepts it with the TSA's CA) and
 * names the TSA; signed checkpoints are stamped by it too. When the TSA answers badly — a reply to
 * another request, over other data, nothing in time — the send is refused with a coded 503 and nothing
 * changes: the transfer stays unsent, no send or seal entry is written.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { uploadExport } from "../src/client/transfer-client.js";
import { createCertificateAuthority } from "../src/crypto/pki/ca.js";
import { issueSigningCertificate } from "../src/crypto/pki/certificates.js";
import type { SearchsetBundle } from "../src/fhir/bundle.js";
import type { Provenance } from "../src/fhir/provenance.js";
import { checkpointTimeStamp } from "../src/service/signing/time-stamps.js";
import type { TransferView } from "../src/service/transfers/view.js";
import { expectValidFhir } from "./support/fhir-validator.js";
import { startOpensslTsa, type OpensslTsa } from "./support/openssl-tsa.js";
import { expectCode, expectStatus, ledgerRecords, type TestNode } from "./support/test-node.js";
import { exampleExport, startTransferNode, type TransferNode } from "./support/transfer-fixtures.js";

const work = mkdtempSync(join(tmpdir(), "kenshin-ext-tsa-"));
let tsa: OpensslTsa;
let t: TransferNode;
let node: TestNode;

beforeAll(async () => {
  const now = new Date();
  const ca = await createCertificateAuthority({ commonName: "external TSA CA", now, validityDays: 3650 });
  const cert = await issueSigningCertificate(ca, {
    purpose: "tsa",
    commonName: "openssl TSA",
    organizationName: "外部時刻認証局",
    now,
    validityDays: 365,
  });
  tsa = await startOpensslTsa(cert);
  writeFileSync(join(work, "tsa-ca.pem"), ca.certPem);
  t = await startTransferNode({
    config: { timestamp: { tsaUrl: tsa.url, tsaCaPem: ca.certPem, timeoutMs: 6000 } },
  });
  node = t.node;
}, 180_000);

afterAll(async () => {
  await node.close();
  await tsa.close();
  rmSync(work, { recursive: true, force: true });
});

function opensslTsVerify(token: Uint8Array, data: Uint8Array) {
  const name = Math.random().toString(36).slice(2);
  writeFileSync(join(work, `${name}.tsr`), token);
  writeFileSync(join(work, `${name}.dat`), data);
  return spawnSync(
    "openssl",
    ["ts", "-verify", "-in", `${name}.tsr`, "-data", `${name}.dat`, "-CAfile", "tsa-ca.pem"],
    { cwd: work, encoding: "utf8", timeout: 30_000 },
  );
}

async function upload(): Promise<TransferView> {
  const up = await uploadExport(t.sender, t.receiverId, exampleExport());
  expectStatus(up, 201);
  return (up.json as { transfer: TransferView }).transfer;
}

describe("an external RFC 3161 TSA", () => {
  it("stamps the seal of a sent file and the signed checkpoints; openssl verifies both", async () => {
    tsa.mode = "ok";
    const asked = tsa.queries.length;
    const transfer = await upload();
    expectStatus(await t.sender.post(`/api/v1/transfers/${transfer.id}/send`), 200);
    expect(tsa.queries.length).toBeGreaterThan(asked);

    const r = await t.receiver.get(`/fhir/Provenance?target=${transfer.id}`);
    expectStatus(r, 200);
    expectValidFhir(r.json);
    const [p] = ((r.json as SearchsetBundle<Provenance>).entry ?? []).map((e) => e.resource);
    const sig = (code: string) => p?.signature.find((s) => s.type[0]?.code === code);
    const jws = Buffer.from(sig("1.2.840.10065.1.12.1.14")?.data ?? "", "base64");
    const token = Buffer.from(sig("1.2.840.10065.1.12.1.18")?.data ?? "", "base64");
    const ok = opensslTsVerify(token, jws);
    expect(ok.stdout + ok.stderr).toContain("Verification: OK");
    const seal = ledgerRecords(node.ctx).find((x) => x.type === "seal" && x.transfer === transfer.id);
    expect(seal).toMatchObject({ timestamp: { tsa: tsa.url } });

    // The checkpoint covering the seal, stamped by the ledger port's publication hook: a bounded wait.
    const checkpoint = await node.ctx.ledger.checkpointCovering(node.ctx.ledger.size() - 1);
    const stamped = await vi.waitFor(
      () => {
        const found = checkpointTimeStamp(node.ctx, checkpoint.size);
        if (found === undefined) throw new Error(`checkpoint ${checkpoint.size} not stamped yet`);
        return found;
      },
      { timeout: 15_000, interval: 25 },
    );
    expect(stamped.tsa).toBe(tsa.url);
    const cp = opensslTsVerify(stamped.token, new TextEncoder().encode(checkpoint.note));
    expect(cp.stdout + cp.stderr).toContain("Verification: OK");
  });

  it("a bad answer (other nonce, other imprint, none in time) refuses the send with 503 and changes nothing", async () => {
    for (const mode of ["other-nonce", "other-imprint", "hang"] as const) {
      tsa.mode = "ok";
      const transfer = await upload();
      tsa.mode = mode;
      const entries = ledgerRecords(node.ctx).length;
      expectCode(await t.sender.post(`/api/v1/transfers/${transfer.id}/send`), 503, "SERVICE_BUSY");
      const after = ledgerRecords(node.ctx).filter((x) => "transfer" in x && x.transfer === transfer.id);
      expect(
        after.map((x) => x.type),
        mode,
      ).toEqual(["upload", "conversion"]);
      expect(ledgerRecords(node.ctx).length - entries, mode).toBe(0);
      const view = await t.sender.get(`/api/v1/transfers/${transfer.id}`);
      expect((view.json as { transfer: TransferView }).transfer.status, mode).toBe("converted");
      // Once the TSA answers properly again, the same send goes through.
      tsa.mode = "ok";
      expectStatus(await t.sender.post(`/api/v1/transfers/${transfer.id}/send`), 200);
    }
  });
});
