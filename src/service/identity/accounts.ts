/**
 * Login IDs and passwords. The office issues an ID with a temporary password (a sender's only once a
 * mapping is registered), resets a password only on a recorded formal request, and disables an
 * institution (which also revokes its certificates and ends its sessions). The office never sees or
 * stores a password in clear: temporary passwords are shown once and changed at the next login.
 */
import { z } from "zod";
import {
  checkPasswordPolicy,
  generateTemporaryPassword,
  hashPassword,
  verifyPassword,
} from "../../crypto/password.js";
import { neutraliseFormula, quoteCell } from "../../format/csv-cell.js";
import { adminRecord, audit } from "../audit/audit.js";
import { revokeCertificates } from "./certificates.js";
import type { Actor, ServiceContext } from "../context.js";
import { ServiceError } from "../errors.js";
import { loginIdFor } from "../ids.js";
import { getInstitution, type Institution } from "./institutions.js";
import {
  accountCreate,
  institutionDisable,
  passwordChange,
  passwordReset,
} from "../state-commands/account-commands.js";

export interface Account {
  readonly loginId: string;
  readonly institutionId: string;
  readonly mustChange: boolean;
  readonly failedCount: number;
  readonly lockedUntil: number | null;
  readonly lastLoginAt: string | null;
  readonly passwordHash: string;
}

interface AccountRow {
  login_id: string;
  institution_id: string;
  password_hash: string;
  must_change: number;
  failed_count: number;
  locked_until: number | null;
  last_login_at: string | null;
}

const toAccount = (r: AccountRow): Account => ({
  loginId: r.login_id,
  institutionId: r.institution_id,
  mustChange: r.must_change === 1,
  failedCount: r.failed_count,
  lockedUntil: r.locked_until,
  lastLoginAt: r.last_login_at,
  passwordHash: r.password_hash,
});

export function findAccount(ctx: ServiceContext, loginId: string): Account | undefined {
  const row = ctx.db.prepare<[string], AccountRow>("SELECT * FROM accounts WHERE login_id = ?").get(loginId);
  return row ? toAccount(row) : undefined;
}

export function accountOfInstitution(ctx: ServiceContext, institutionId: string): Account | undefined {
  const row = ctx.db
    .prepare<[string], AccountRow>("SELECT * FROM accounts WHERE institution_id = ?")
    .get(institutionId);
  return row ? toAccount(row) : undefined;
}

export interface IssuedAccount {
  readonly loginId: string;
  /** Shown once; the holder must change it at the first login. */
  readonly temporaryPassword: string;
}

/** Issues the institution's login ID with a temporary password. */
export async function issueAccount(
  ctx: ServiceContext,
  actor: Actor,
  institutionId: string,
): Promise<IssuedAccount> {
  const institution = getInstitution(ctx, institutionId);
  if (institution.status !== "active")
    throw new ServiceError("AUTH_ACCOUNT_DISABLED", "利用不可の機関です", {});
  if (accountOfInstitution(ctx, institutionId)) {
    throw new ServiceError("ACCOUNT_EXISTS", "この機関には既に利用者IDがあります (1機関1ID)", {});
  }
  if (institution.kind === "sender") {
    const mapping = ctx.db
      .prepare("SELECT 1 FROM mappings WHERE institution_id = ? AND active = 1")
      .get(institutionId);
    if (!mapping) {
      throw new ServiceError(
        "MAPPING_REQUIRED",
        "健診機関の利用者IDは、マッピングファイルを登録してから発行します",
        {},
      );
    }
  }
  const loginId = loginIdFor(institution.kind, institution.number, ctx.random);
  const temporaryPassword = generateTemporaryPassword(ctx.random);
  const now = ctx.now().toISOString();
  const passwordHash = await hashPassword(temporaryPassword);
  await audit(ctx, [adminRecord(ctx, actor, "account.create", { kind: "account", id: loginId })], {
    command: accountCreate.of({ loginId, institutionId, passwordHash, at: now }),
  });
  return { loginId, temporaryPassword };
}

export const resetRequestSchema = z
  .object({
    /** Who at the institution asked (name and role, as written on the request form). */
    requestedBy: z.string().trim().min(1).max(100),
    /** How the office confirmed the request (e.g. 折り返し電話で登録番号を確認). */
    confirmedHow: z.string().trim().min(1).max(200),
  })
  .strict();

/** Resets a password after a formal request: records who asked and how it was confirmed. */
export async function resetPassword(
  ctx: ServiceContext,
  actor: Actor,
  loginId: string,
  request: unknown,
): Promise<IssuedAccount> {
  const parsed = resetRequestSchema.safeParse(request);
  if (!parsed.success) {
    throw new ServiceError("REQUEST_INVALID", "再設定の依頼者と確認方法を記録してください", {
      path: parsed.error.issues[0]?.path.join("."),
    });
  }
  const account = findAccount(ctx, loginId);
  if (!account) throw new ServiceError("NOT_FOUND", "利用者IDが見つかりません", {});
  const temporaryPassword = generateTemporaryPassword(ctx.random);
  const hash = await hashPassword(temporaryPassword);
  const now = ctx.now().toISOString();
  await audit(ctx, [adminRecord(ctx, actor, "password.reset", { kind: "account", id: loginId })], {
    command: passwordReset.of({
      loginId,
      passwordHash: hash,
      requestedBy: parsed.data.requestedBy,
      confirmedHow: parsed.data.confirmedHow,
      officeLoginId: actor.loginId,
      at: now,
    }),
  });
  return { loginId, temporaryPassword };
}

/** Changes one's own password (required after a temporary one). */
export async function changePassword(
  ctx: ServiceContext,
  actor: Actor,
  current: string,
  next: string,
): Promise<void> {
  const account = findAccount(ctx, actor.loginId);
  if (!account) throw new ServiceError("AUTH_REQUIRED", "ログインしてください", {});
  if (!(await verifyPassword(account.passwordHash, current))) {
    throw new ServiceError("PASSWORD_WRONG", "現在のパスワードが違います", {});
  }
  const institution = getInstitution(ctx, account.institutionId);
  const policy = checkPasswordPolicy(next, {
    loginId: account.loginId,
    ...(institution.number !== null ? { institutionNumber: institution.number } : {}),
  });
  if (!policy.ok) throw new ServiceError("PASSWORD_POLICY", policy.message, { policy: policy.code });
  if (next === current) {
    throw new ServiceError("PASSWORD_POLICY", "新しいパスワードは現在のものと違うものにしてください", {});
  }
  const nextHash = await hashPassword(next);
  const changedAt = ctx.now().toISOString();
  await audit(ctx, [adminRecord(ctx, actor, "password.change", { kind: "account", id: account.loginId })], {
    command: passwordChange.of({ loginId: account.loginId, passwordHash: nextHash, at: changedAt }),
  });
}

/** Marks an institution 利用不可: revokes its certificates and ends its sessions. */
export async function disableInstitution(
  ctx: ServiceContext,
  actor: Actor,
  institutionId: string,
): Promise<Institution> {
  const institution = getInstitution(ctx, institutionId);
  if (institution.kind === "office" && institution.id === actor.institutionId) {
    throw new ServiceError("REQUEST_INVALID", "事務局自身は利用不可にできません", {});
  }
  // The status and the end of its sessions with the disable entry; then each revocation with its own.
  await audit(ctx, [adminRecord(ctx, actor, "account.disable", { kind: "institution", id: institutionId })], {
    command: institutionDisable.of({ institutionId }),
  });
  const serials = ctx.db
    .prepare<[string], { serial: string }>(
      "SELECT serial FROM certificates WHERE institution_id = ? AND revoked_at IS NULL",
    )
    .all(institutionId)
    .map((r) => r.serial);
  await revokeCertificates(ctx, actor, serials, "institution disabled");
  return { ...institution, status: "disabled" };
}

/**
 * The inventory report (棚卸): one row per ID with kind, status, last login, certificate expiry and,
 * for receivers, the records converted for them this month and last month (JST; what the office bills).
 */
export function inventoryCsv(ctx: ServiceContext): string {
  const jst = new Date(ctx.now().getTime() + 9 * 3_600_000);
  const thisMonth = jst.toISOString().slice(0, 7);
  const lastMonth = new Date(Date.UTC(jst.getUTCFullYear(), jst.getUTCMonth() - 1, 1))
    .toISOString()
    .slice(0, 7);
  const count = ctx.db.prepare<[string, string], { records: number }>(
    "SELECT records FROM record_counts WHERE receiver_id = ? AND month = ?",
  );
  const rows = ctx.db
    .prepare<
      [],
      {
        login_id: string;
        institution_id: string;
        kind: string;
        name: string;
        status: string;
        last_login_at: string | null;
        not_after: string | null;
      }
    >(
      `SELECT a.login_id, a.institution_id, i.kind, i.name, i.status, a.last_login_at,
              (SELECT MAX(c.not_after) FROM certificates c WHERE c.institution_id = i.id AND c.revoked_at IS NULL) AS not_after
       FROM accounts a JOIN institutions i ON i.id = a.institution_id ORDER BY i.kind, a.login_id`,
    )
    .all();
  const kindName: Record<string, string> = { office: "事務局", sender: "健診機関", receiver: "健診実施主体" };
  const esc = (v: string) => quoteCell(neutraliseFormula(v));
  const lines = [
    `利用者ID,種別,機関名,状態,最終ログイン,証明書有効期限,変換件数(${thisMonth}),変換件数(${lastMonth})`,
  ];
  const records = (institutionId: string, month: string): string =>
    String(count.get(institutionId, month)?.records ?? 0);
  for (const r of rows) {
    lines.push(
      [
        r.login_id,
        kindName[r.kind] ?? r.kind,
        r.name,
        r.status === "active" ? "利用可" : "利用不可",
        r.last_login_at ?? "",
        r.not_after ?? "",
        r.kind === "receiver" ? records(r.institution_id, thisMonth) : "",
        r.kind === "receiver" ? records(r.institution_id, lastMonth) : "",
      ]
        .map(esc)
        .join(","),
    );
  }
  return `\uFEFF${lines.join("\r\n")}\r\n`;
}
