/** Commands of logins, logouts and lock-outs (sessions.ts, account-unlock.ts). */
import { commandType } from "./command.js";

/** A successful login: the failure count cleared and the session row (its token only as a hash). */
export const sessionOpen = commandType<{
  loginId: string;
  tokenHash: string;
  csrfToken: string;
  certificate: string;
  /** Epoch milliseconds of the login. */
  at: number;
  expiresAt: number;
}>("session.open", (a, _results, db) => {
  db.prepare(
    "UPDATE accounts SET failed_count = 0, locked_until = NULL, last_login_at = ? WHERE login_id = ?",
  ).run(new Date(a.at).toISOString(), a.loginId);
  db.prepare(
    "INSERT INTO sessions (token_hash, login_id, csrf_token, certificate, created_at, last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
  ).run(a.tokenHash, a.loginId, a.csrfToken, a.certificate, a.at, a.at, a.expiresAt);
});

/** A logout or a session timed out: the session row goes. */
export const sessionClose = commandType<{ tokenHash: string }>("session.close", (a, _results, db) => {
  db.prepare("DELETE FROM sessions WHERE token_hash = ?").run(a.tokenHash);
});

/** The lock-out after too many failures; never shortens a lock another attempt set meanwhile. */
export const accountLock = commandType<{ loginId: string; until: number }>(
  "account.lock",
  (a, _results, db) => {
    db.prepare("UPDATE accounts SET locked_until = MAX(COALESCE(locked_until, 0), ?) WHERE login_id = ?").run(
      a.until,
      a.loginId,
    );
  },
);

/** The office lifts a lock-out: the failure count starts again from zero. */
export const accountUnlock = commandType<{ loginId: string }>("account.unlock", (a, _results, db) => {
  db.prepare("UPDATE accounts SET failed_count = 0, locked_until = NULL WHERE login_id = ?").run(a.loginId);
});
