/**
 * Client certificates: the office issues them per institution (PEM and PKCS#12 with a password) and
 * revokes them; every change rewrites the CRL file, which the running server reloads without a
 * restart (on its own changes at once, on the CLI's when it sees the file change).
 */
import { mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createCrl } from "../../crypto/pki/crl.js";
import { issueClientCertificate } from "../../crypto/pki/certificates.js";
import { exportPkcs12 } from "../../crypto/pki/pkcs12.js";
import { generateTemporaryPassword } from "../../crypto/password.js";
import { cachedStatement } from "../../store/statement-cache.js";
import { adminRecord, audit } from "../audit/audit.js";
import type { Actor, ServiceContext } from "../context.js";
import { ServiceError } from "../errors.js";
import { getInstitution } from "./institutions.js";
import { certificateIssue, certificateRevoke } from "../state-commands/device-commands.js";

export interface CertificateInfo {
  readonly serial: string;
  readonly institutionId: string;
  readonly loginId: string;
  readonly fingerprint: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly revokedAt: string | null;
}

interface CertificateRow {
  serial: string;
  institution_id: string;
  login_id: string;
  fingerprint: string;
  not_before: string;
  not_after: string;
  revoked_at: string | null;
}

const toInfo = (r: CertificateRow): CertificateInfo => ({
  serial: r.serial,
  institutionId: r.institution_id,
  loginId: r.login_id,
  fingerprint: r.fingerprint,
  notBefore: r.not_before,
  notAfter: r.not_after,
  revokedAt: r.revoked_at,
});

export interface IssuedClientCertificate extends CertificateInfo {
  readonly certPem: string;
  readonly keyPem: string;
  readonly pkcs12: Buffer;
  /** Password of the PKCS#12 file: shown once, never stored. */
  readonly pkcs12Password: string;
  /** Where the files were written (under the data directory's `issued/`), when written. */
  readonly files?: { readonly pem: string; readonly key: string; readonly pkcs12: string };
}

/** Issues a client certificate for the institution's login ID. */
export async function issueCertificate(
  ctx: ServiceContext,
  actor: Actor,
  institutionId: string,
  options: { writeFiles: boolean },
): Promise<IssuedClientCertificate> {
  const institution = getInstitution(ctx, institutionId);
  if (institution.status !== "active") {
    throw new ServiceError("AUTH_ACCOUNT_DISABLED", "利用不可の機関には証明書を発行できません", {});
  }
  const account = ctx.db
    .prepare<[string], { login_id: string }>("SELECT login_id FROM accounts WHERE institution_id = ?")
    .get(institutionId);
  if (!account) throw new ServiceError("NOT_FOUND", "この機関にはまだ利用者IDがありません", {});
  const issued = await issueClientCertificate(ctx.ca, {
    loginId: account.login_id,
    institutionId,
    institutionName: institution.name,
    now: ctx.now(),
    validityDays: ctx.config.certificates.clientValidityDays,
  });
  const pkcs12Password = generateTemporaryPassword(ctx.random);
  const pkcs12 = await exportPkcs12({
    certPem: issued.certPem,
    keyPem: issued.keyPem,
    caCertPem: ctx.ca.certPem,
    password: pkcs12Password,
    friendlyName: `kenshin-exchange ${account.login_id}`,
  });
  const info: CertificateInfo = {
    serial: issued.serialHex,
    institutionId,
    loginId: account.login_id,
    fingerprint: issued.fingerprintSha256,
    notBefore: issued.notBefore.toISOString(),
    notAfter: issued.notAfter.toISOString(),
    revokedAt: null,
  };
  const createdAt = ctx.now().toISOString();
  await audit(ctx, [adminRecord(ctx, actor, "certificate.issue", { kind: "certificate", id: info.serial })], {
    command: certificateIssue.of({
      serial: info.serial,
      institutionId,
      loginId: info.loginId,
      fingerprint: info.fingerprint,
      notBefore: info.notBefore,
      notAfter: info.notAfter,
      at: createdAt,
    }),
  });
  let files: IssuedClientCertificate["files"];
  if (options.writeFiles) {
    const dir = join(ctx.paths.issued, account.login_id);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const base = join(dir, info.serial.slice(0, 16));
    files = { pem: `${base}.cert.pem`, key: `${base}.key.pem`, pkcs12: `${base}.p12` };
    await writeFile(files.pem, issued.certPem, { mode: 0o600 });
    await writeFile(files.key, issued.keyPem, { mode: 0o600 });
    await writeFile(files.pkcs12, pkcs12, { mode: 0o600 });
  }
  return {
    ...info,
    certPem: issued.certPem,
    keyPem: issued.keyPem,
    pkcs12,
    pkcs12Password,
    ...(files ? { files } : {}),
  };
}

export function listCertificates(ctx: ServiceContext, institutionId?: string): CertificateInfo[] {
  const rows =
    institutionId === undefined
      ? ctx.db.prepare<[], CertificateRow>("SELECT * FROM certificates ORDER BY created_at").all()
      : ctx.db
          .prepare<[string], CertificateRow>(
            "SELECT * FROM certificates WHERE institution_id = ? ORDER BY created_at",
          )
          .all(institutionId);
  return rows.map(toInfo);
}

/** The certificate with this fingerprint, if the service issued it. */
export function certificateByFingerprint(
  ctx: ServiceContext,
  fingerprint: string,
): CertificateInfo | undefined {
  const row = ctx.db
    .prepare<[string], CertificateRow>("SELECT * FROM certificates WHERE fingerprint = ?")
    .get(fingerprint);
  return row ? toInfo(row) : undefined;
}

/**
 * Whether a connection presenting this certificate may still be served: false once the service
 * revoked it or disabled its institution. TLS checks the CRL only at the handshake; the server asks this
 * on every request so a keep-alive connection opened before a revocation is refused from then on.
 * A certificate the service did not issue to an institution (none today) is left to TLS.
 */
export function isCertificateUsable(ctx: ServiceContext, fingerprint: string): boolean {
  // A kept statement: this runs before every request of every connection.
  const row = cachedStatement<[string], { revoked_at: string | null; status: string | null }>(
    ctx.db,
    `SELECT c.revoked_at, i.status FROM certificates c LEFT JOIN institutions i ON i.id = c.institution_id
       WHERE c.fingerprint = ?`,
  ).get(fingerprint);
  return row === undefined || (row.revoked_at === null && row.status === "active");
}

/** Revokes certificates (by serial), ends the sessions made with them and rewrites the CRL. */
export async function revokeCertificates(
  ctx: ServiceContext,
  actor: Actor,
  serials: readonly string[],
  reason: string,
): Promise<void> {
  const now = ctx.now().toISOString();
  const unrevoked = ctx.db.prepare<[string], { n: number }>(
    "SELECT count(*) AS n FROM certificates WHERE serial = ? AND revoked_at IS NULL",
  );
  const revoked = serials.filter((serial) => (unrevoked.get(serial)?.n ?? 0) > 0);
  if (serials.length === 1 && revoked.length === 0) {
    const exists = ctx.db.prepare("SELECT 1 FROM certificates WHERE serial = ?").get(serials[0]);
    if (!exists) throw new ServiceError("NOT_FOUND", "証明書が見つかりません", {});
  }
  if (revoked.length === 0) return;
  // The revocations, the end of their sessions and their entries: one atomic step. A certificate a
  // concurrent call revoked meanwhile is left as that call revoked it (its entry is there already).
  await audit(
    ctx,
    revoked.map((serial) =>
      adminRecord(ctx, actor, "certificate.revoke", { kind: "certificate", id: serial }),
    ),
    {
      command: certificateRevoke.of({ serials: revoked, reason: reason.slice(0, 200), at: now }),
    },
  );
  await writeCrl(ctx);
}

/** Writes the CRL file from the database (all revoked certificates) and tells the server. */
export async function writeCrl(ctx: ServiceContext): Promise<string> {
  const rows = ctx.db
    .prepare<[], { serial: string; revoked_at: string }>(
      "SELECT serial, revoked_at FROM certificates WHERE revoked_at IS NOT NULL ORDER BY serial",
    )
    .all();
  const pem = await createCrl(ctx.ca, {
    revoked: rows.map((r) => ({ serialHex: r.serial, revokedAt: new Date(r.revoked_at) })),
    now: ctx.now(),
    nextUpdateDays: 7,
  });
  // Write then rename: the server never reads a half-written CRL.
  const tmp = `${ctx.paths.crl}.${process.pid}.tmp`;
  await writeFile(tmp, pem, { mode: 0o644 });
  await rename(tmp, ctx.paths.crl);
  ctx.onCrlChanged?.();
  return pem;
}
