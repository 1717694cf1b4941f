/**
 * The office's institution list: each institution with what the office needs for a phone call — its
 * login ID, whether that ID is locked (and until when), its last login, whether a mapping file is
 * registered (senders), and how many certificates are valid. Metadata only.
 */
import type { ServiceContext } from "../context.js";
import { listInstitutions, type Institution } from "./institutions.js";

export interface InstitutionOverview extends Institution {
  readonly loginId: string | null;
  readonly lastLoginAt: string | null;
  /** ISO time the lock-out ends, when the ID is locked now. */
  readonly lockedUntil: string | null;
  readonly mustChangePassword: boolean | null;
  /** The active mapping's name (senders), or null when none is registered. */
  readonly mapping: { readonly name: string; readonly registeredAt: string } | null;
  readonly validCertificates: number;
}

export function institutionOverview(ctx: ServiceContext): InstitutionOverview[] {
  const now = ctx.now().getTime();
  const account = ctx.db.prepare<
    [string],
    { login_id: string; last_login_at: string | null; locked_until: number | null; must_change: number }
  >("SELECT login_id, last_login_at, locked_until, must_change FROM accounts WHERE institution_id = ?");
  const mapping = ctx.db.prepare<[string], { name: string; created_at: string }>(
    "SELECT name, created_at FROM mappings WHERE institution_id = ? AND active = 1 ORDER BY created_at DESC LIMIT 1",
  );
  const certs = ctx.db.prepare<[string, string], { n: number }>(
    "SELECT COUNT(*) AS n FROM certificates WHERE institution_id = ? AND revoked_at IS NULL AND not_after > ?",
  );
  const nowIso = new Date(now).toISOString();
  return listInstitutions(ctx).map((i) => {
    const a = account.get(i.id);
    const m = mapping.get(i.id);
    return {
      ...i,
      loginId: a?.login_id ?? null,
      lastLoginAt: a?.last_login_at ?? null,
      lockedUntil:
        a?.locked_until !== null && a?.locked_until !== undefined && a.locked_until > now
          ? new Date(a.locked_until).toISOString()
          : null,
      mustChangePassword: a ? a.must_change === 1 : null,
      mapping: m ? { name: m.name, registeredAt: m.created_at } : null,
      validCertificates: certs.get(i.id, nowIso)?.n ?? 0,
    };
  });
}
