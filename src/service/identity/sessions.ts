/**
 * Login and sessions. Login = client certificate + login ID + password, and the certificate must
 * belong to the ID's institution. Sessions are server-side: the browser holds an opaque token (only
 * its SHA-256 is stored), with idle and absolute time-outs and a CSRF token for state changes. Every
 * success, failure and lock-out is a ledger entry.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { hashPassword, verifyPassword } from "../../crypto/password.js";
import { cachedStatement } from "../../store/statement-cache.js";
import { audit, recordCommon } from "../audit/audit.js";
import { findAccount } from "./accounts.js";
import { certificateByFingerprint } from "./certificates.js";
import type { Actor, ServiceContext } from "../context.js";
import { ServiceError } from "../errors.js";
import { LOGIN_ID_PATTERN, randomToken } from "../ids.js";
import { getInstitution, type Institution } from "./institutions.js";
import { accountLock, sessionClose, sessionOpen } from "../state-commands/session-commands.js";

/** What TLS tells us about the connection's client certificate. */
export interface PeerCertificate {
  readonly fingerprint: string;
  readonly serial: string;
}

export interface Session {
  readonly tokenHash: string;
  readonly loginId: string;
  readonly institution: Institution;
  readonly role: "sender" | "receiver" | "admin";
  readonly csrfToken: string;
  readonly certificate: string;
  readonly mustChangePassword: boolean;
  readonly expiresAt: number;
}

export interface LoginResult {
  readonly token: string;
  readonly session: Session;
}

const roleOf = (i: Institution): Session["role"] => (i.kind === "office" ? "admin" : i.kind);

const hashToken = (token: string): string => createHash("sha256").update(token).digest("hex");

/**
 * Logs in. Every refusal says only what the person can act on (wrong ID or password, locked until …,
 * wrong certificate) and is recorded.
 */
export async function login(
  ctx: ServiceContext,
  input: {
    loginId: unknown;
    password: unknown;
    peer: PeerCertificate;
    ip?: string | undefined;
    requestId?: string | undefined;
  },
): Promise<LoginResult> {
  const loginId =
    typeof input.loginId === "string" && LOGIN_ID_PATTERN.test(input.loginId) ? input.loginId : undefined;
  const password =
    typeof input.password === "string" && input.password.length <= 256 ? input.password : undefined;
  const actorFor = (id: string, institutionId: string, role: Actor["role"]): Actor => ({
    loginId: id,
    institutionId,
    role,
    ip: input.ip,
    certificate: input.peer.fingerprint,
    requestId: input.requestId,
  });
  const cert = certificateByFingerprint(ctx, input.peer.fingerprint);
  const certActor = actorFor(cert?.loginId ?? "unknown", cert?.institutionId ?? "-", "system");
  const refuse = async (
    code: "AUTH_FAILED" | "AUTH_ACCOUNT_DISABLED",
    actor: Actor,
    message: string,
    desc: string,
  ): Promise<never> => {
    await audit(ctx, [
      { ...recordCommon(ctx, actor, "serious-failure", desc), type: "login", method: "password" },
    ]);
    throw new ServiceError(code, message, {});
  };
  if (loginId === undefined || password === undefined) {
    return refuse("AUTH_FAILED", certActor, "利用者IDまたはパスワードが違います", "malformed credentials");
  }
  const account = findAccount(ctx, loginId);
  if (!account) {
    // Spend the same time as a real check, so timing does not tell which IDs exist.
    await verifyPassword(await dummyHash(), password);
    return refuse("AUTH_FAILED", certActor, "利用者IDまたはパスワードが違います", "unknown login id");
  }
  const institution = getInstitution(ctx, account.institutionId);
  const actor = actorFor(account.loginId, institution.id, roleOf(institution));
  if (!cert || cert.revokedAt !== null || cert.institutionId !== account.institutionId) {
    // Answered exactly like an unknown ID (same code, same text, after the same password hash), so a
    // certificate cannot be used to learn which IDs exist; the ledger keeps the real reason.
    await verifyPassword(await dummyHash(), password);
    return refuse(
      "AUTH_FAILED",
      actor,
      "利用者IDまたはパスワードが違います",
      "certificate of another institution",
    );
  }
  if (institution.status !== "active") {
    return refuse(
      "AUTH_ACCOUNT_DISABLED",
      actor,
      "この利用者IDは利用不可に設定されています。事務局にお問い合わせください",
      "disabled",
    );
  }
  const now = ctx.now().getTime();
  const { maxFailures, minutes } = ctx.config.lockout;
  const place = takeAttemptPlace(ctx, loginId, now, { maxFailures, lockMs: minutes * 60_000 });
  if (place.lockedUntil !== undefined) {
    await audit(ctx, [
      { ...recordCommon(ctx, actor, "serious-failure", "locked"), type: "login", method: "password" },
    ]);
    throw new ServiceError("AUTH_LOCKED", lockedMessage(place.lockedUntil), {
      lockedUntil: place.lockedUntil,
    });
  }
  if (!(await verifyPassword(account.passwordHash, password))) {
    const failures = place.attempt;
    if (failures >= maxFailures) {
      const until = now + minutes * 60_000;
      await audit(
        ctx,
        [
          {
            ...recordCommon(ctx, actor, "serious-failure", `locked after ${failures} failures`),
            type: "login",
            method: "password",
          },
        ],
        {
          // Never shortens a lock another attempt set meanwhile.
          command: accountLock.of({ loginId, until }),
        },
      );
      throw new ServiceError("AUTH_LOCKED", lockedMessage(until), { lockedUntil: until });
    }
    const attemptsLeft = maxFailures - failures;
    if (attemptsLeft === 1) {
      // The person must hear this before the try that locks the ID, not after it.
      await audit(ctx, [
        {
          ...recordCommon(ctx, actor, "serious-failure", `wrong password (${failures})`),
          type: "login",
          method: "password",
        },
      ]);
      throw new ServiceError(
        "AUTH_FAILED",
        "利用者IDまたはパスワードが違います。あと1回間違えると、しばらくの間この利用者IDでログインできなくなります。パスワードがわからない場合は、事務局に再設定を依頼してください",
        { attemptsLeft },
      );
    }
    return refuse("AUTH_FAILED", actor, "利用者IDまたはパスワードが違います", `wrong password (${failures})`);
  }
  const token = randomToken(ctx.random);
  const csrfToken = randomToken(ctx.random);
  const expiresAt = now + ctx.config.session.absoluteHours * 3_600_000;
  // The session exists exactly when its login entry does.
  await audit(ctx, [{ ...recordCommon(ctx, actor, "success"), type: "login", method: "password" }], {
    command: sessionOpen.of({
      loginId,
      tokenHash: hashToken(token),
      csrfToken,
      certificate: input.peer.fingerprint,
      at: now,
      expiresAt,
    }),
  });
  return {
    token,
    session: {
      tokenHash: hashToken(token),
      loginId,
      institution,
      role: roleOf(institution),
      csrfToken,
      certificate: input.peer.fingerprint,
      mustChangePassword: account.mustChange,
      expiresAt,
    },
  };
}

/**
 * Takes this attempt's place in the failure count before the (slow) password check, in one synchronous
 * transaction: every attempt counts as a failure until its password proves right, so concurrent
 * guesses cannot all read the same count. An ID that is locked, or whose places are all taken by
 * attempts already made or in flight, is locked (again) and refused without a password check. A lock
 * that has run out starts the count from zero.
 */
function takeAttemptPlace(
  ctx: ServiceContext,
  loginId: string,
  now: number,
  limits: { maxFailures: number; lockMs: number },
): { attempt: number; lockedUntil?: undefined } | { attempt?: undefined; lockedUntil: number } {
  return ctx.db.transaction(() => {
    const row = ctx.db
      .prepare<[string], { failed_count: number; locked_until: number | null }>(
        "SELECT failed_count, locked_until FROM accounts WHERE login_id = ?",
      )
      .get(loginId);
    if (!row) return { lockedUntil: now };
    if (row.locked_until !== null && row.locked_until > now) return { lockedUntil: row.locked_until };
    const taken = row.locked_until !== null ? 0 : row.failed_count;
    if (taken >= limits.maxFailures) {
      const until = now + limits.lockMs;
      ctx.db.prepare("UPDATE accounts SET locked_until = ? WHERE login_id = ?").run(until, loginId);
      return { lockedUntil: until };
    }
    ctx.db
      .prepare("UPDATE accounts SET failed_count = ?, locked_until = NULL WHERE login_id = ?")
      .run(taken + 1, loginId);
    return { attempt: taken + 1 };
  })();
}

const TOUCH_EVERY_MS = 30_000;

let dummy: Promise<string> | undefined;
/** A hash of a random password, made once per process, to verify unknown IDs against. */
function dummyHash(): Promise<string> {
  dummy ??= hashPassword(randomBytes(24).toString("base64"));
  return dummy;
}

function lockedMessage(until: number): string {
  const t = new Date(until).toLocaleTimeString("ja-JP", {
    timeZone: "Asia/Tokyo",
    hour: "2-digit",
    minute: "2-digit",
  });
  return `ログインに続けて失敗したため、${t} (日本時間) まで利用者IDをロックしています。急ぎの場合は事務局に連絡して、ロックの解除を依頼してください`;
}

/** A session with its account and institution, read together (one query per request). */
interface SessionRow {
  login_id: string;
  csrf_token: string;
  certificate: string;
  last_seen_at: number;
  expires_at: number;
  /** null when the account (or below, its institution) is gone. */
  must_change: number | null;
  institution_id: string | null;
  kind: Institution["kind"] | null;
  name: string;
  number: string | null;
  status: Institution["status"] | null;
  created_at: string;
}

const SESSION_QUERY = `SELECT s.login_id, s.csrf_token, s.certificate, s.last_seen_at, s.expires_at, a.must_change,
    i.id AS institution_id, i.kind, i.name, i.number, i.status, i.created_at
  FROM sessions AS s
  LEFT JOIN accounts AS a ON a.login_id = s.login_id
  LEFT JOIN institutions AS i ON i.id = a.institution_id
  WHERE s.token_hash = ?`;

/**
 * The session behind a token, on the same client certificate, within its idle and absolute limits.
 * Touches it (idle time-out restarts). An expired session is deleted and its end recorded. The session,
 * its account and its institution are read on every request (nothing is kept between requests: a
 * logout, a revocation or a disabled institution — on this node or applied from the cluster's log —
 * counts from the next request), in one kept statement.
 */
export async function authenticate(
  ctx: ServiceContext,
  token: string | undefined,
  peer: PeerCertificate,
): Promise<Session> {
  if (token === undefined || token.length === 0 || token.length > 100) {
    throw new ServiceError("AUTH_REQUIRED", "ログインしてください", {});
  }
  const tokenHash = hashToken(token);
  const row = cachedStatement<[string], SessionRow>(ctx.db, SESSION_QUERY).get(tokenHash);
  if (!row) throw new ServiceError("AUTH_REQUIRED", "ログインしてください", {});
  if (
    row.must_change === null ||
    row.institution_id === null ||
    row.kind === null ||
    row.status !== "active"
  ) {
    cachedStatement(ctx.db, "DELETE FROM sessions WHERE token_hash = ?").run(tokenHash);
    throw new ServiceError("AUTH_REQUIRED", "ログインしてください", {});
  }
  const institution: Institution = {
    id: row.institution_id,
    kind: row.kind,
    name: row.name,
    number: row.number,
    status: row.status,
    createdAt: row.created_at,
  };
  if (row.certificate !== peer.fingerprint) {
    throw new ServiceError("AUTH_CERTIFICATE_MISMATCH", "ログインしたときと別のクライアント証明書です", {});
  }
  const now = ctx.now().getTime();
  const idleLimit = ctx.config.session.idleMinutes * 60_000;
  if (now - row.last_seen_at > idleLimit || now >= row.expires_at) {
    const actor: Actor = {
      loginId: row.login_id,
      institutionId: institution.id,
      role: roleOf(institution),
      certificate: peer.fingerprint,
    };
    await audit(
      ctx,
      [
        {
          ...recordCommon(ctx, actor, "success", now >= row.expires_at ? "absolute limit" : "idle limit"),
          type: "logout",
          reason: "timeout",
        },
      ],
      { command: sessionClose.of({ tokenHash }) },
    );
    throw new ServiceError(
      "AUTH_SESSION_EXPIRED",
      "一定時間操作がなかったため、ログアウトしました。もう一度ログインしてください",
      {},
    );
  }
  // Touch at most every 30 s: the idle limit is minutes, and a durable write per request (fsync with
  // synchronous=FULL) was the largest cost of every authenticated request in bench/server.
  if (now - row.last_seen_at >= TOUCH_EVERY_MS) {
    cachedStatement(ctx.db, "UPDATE sessions SET last_seen_at = ? WHERE token_hash = ?").run(now, tokenHash);
  }
  return {
    tokenHash,
    loginId: row.login_id,
    institution,
    role: roleOf(institution),
    csrfToken: row.csrf_token,
    certificate: row.certificate,
    mustChangePassword: row.must_change === 1,
    expiresAt: row.expires_at,
  };
}

/** Checks the CSRF token a state-changing request carries (constant time). */
export function checkCsrf(session: Session, presented: string | undefined): void {
  const a = Buffer.from(session.csrfToken);
  const b = Buffer.from(presented ?? "");
  if (a.length !== b.length || !timingSafeEqual(a, b)) {
    throw new ServiceError("AUTH_CSRF_INVALID", "画面を再読み込みしてから、もう一度操作してください", {});
  }
}

/** Ends a session (logout). */
export async function logout(ctx: ServiceContext, session: Session, actor: Actor): Promise<void> {
  await audit(ctx, [{ ...recordCommon(ctx, actor, "success"), type: "logout", reason: "user" }], {
    command: sessionClose.of({ tokenHash: session.tokenHash }),
  });
}

/** The actor of a request made in a session. */
export function sessionActor(
  session: Session,
  extra: { ip?: string | undefined; requestId?: string | undefined; device?: Actor["device"] },
): Actor {
  return {
    loginId: session.loginId,
    institutionId: session.institution.id,
    role: session.role,
    certificate: session.certificate,
    ip: extra.ip,
    requestId: extra.requestId,
    device: extra.device,
  };
}
