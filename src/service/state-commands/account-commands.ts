/** Commands of IDs, passwords, institutions and links (accounts.ts, institutions.ts). */
import { ServiceError } from "../errors.js";
import { commandType } from "./command.js";

/** A new ID with its temporary password's hash (argon2, computed by the caller). */
export const accountCreate = commandType<{
  loginId: string;
  institutionId: string;
  passwordHash: string;
  at: string;
}>("account.create", (a, _results, db) => {
  const taken = db.prepare("SELECT 1 FROM accounts WHERE login_id = ?").get(a.loginId);
  if (taken !== undefined) throw new ServiceError("ACCOUNT_EXISTS", "この利用者IDは既にあります", {});
  db.prepare(
    "INSERT INTO accounts (login_id, institution_id, password_hash, must_change, password_changed_at, created_at) VALUES (?, ?, ?, 1, ?, ?)",
  ).run(a.loginId, a.institutionId, a.passwordHash, a.at, a.at);
});

/** The office resets a password on a confirmed request: new temporary hash, its record, sessions end. */
export const passwordReset = commandType<{
  loginId: string;
  passwordHash: string;
  requestedBy: string;
  confirmedHow: string;
  officeLoginId: string;
  at: string;
}>("password.reset", (a, _results, db) => {
  db.prepare(
    "UPDATE accounts SET password_hash = ?, must_change = 1, failed_count = 0, locked_until = NULL, password_changed_at = ? WHERE login_id = ?",
  ).run(a.passwordHash, a.at, a.loginId);
  db.prepare(
    "INSERT INTO password_resets (login_id, requested_by, confirmed_how, office_login_id, created_at) VALUES (?, ?, ?, ?, ?)",
  ).run(a.loginId, a.requestedBy, a.confirmedHow, a.officeLoginId, a.at);
  db.prepare("DELETE FROM sessions WHERE login_id = ?").run(a.loginId);
});

/** The person changes their own password. */
export const passwordChange = commandType<{ loginId: string; passwordHash: string; at: string }>(
  "password.change",
  (a, _results, db) => {
    db.prepare(
      "UPDATE accounts SET password_hash = ?, must_change = 0, password_changed_at = ? WHERE login_id = ?",
    ).run(a.passwordHash, a.at, a.loginId);
  },
);

/** An institution marked 利用不可, and the sessions of its ID ended. */
export const institutionDisable = commandType<{ institutionId: string }>(
  "institution.disable",
  (a, _results, db) => {
    const r = db.prepare("UPDATE institutions SET status = 'disabled' WHERE id = ?").run(a.institutionId);
    if (r.changes === 0) throw new ServiceError("NOT_FOUND", "機関が見つかりません", {});
    db.prepare(
      "DELETE FROM sessions WHERE login_id IN (SELECT login_id FROM accounts WHERE institution_id = ?)",
    ).run(a.institutionId);
  },
);

/**
 * A new institution. `firstOffice`: the service's first office ID (`kenshin init`, `kenshin cluster
 * bootstrap`), refused when an office exists already — decided in the command's order, so of two
 * bootstraps at the same moment on two cluster nodes the sequencer accepts exactly one and refuses the
 * other on every node alike (older logs have no flag: applied as before).
 */
export const institutionCreate = commandType<{
  id: string;
  kind: string;
  name: string;
  number: string | null;
  at: string;
  firstOffice?: true;
}>("institution.create", (a, _results, db) => {
  if (a.firstOffice === true && a.kind === "office") {
    const office = db.prepare("SELECT 1 FROM institutions WHERE kind = 'office' LIMIT 1").get();
    if (office !== undefined) {
      throw new ServiceError("INSTITUTION_EXISTS", "このサービスの事務局IDは既に作成されています", {
        kind: "office",
        firstOffice: true,
      });
    }
  }
  try {
    db.prepare(
      "INSERT INTO institutions (id, kind, name, number, status, created_at) VALUES (?, ?, ?, ?, 'active', ?)",
    ).run(a.id, a.kind, a.name, a.number, a.at);
  } catch (cause) {
    throw new ServiceError(
      "INSTITUTION_EXISTS",
      "同じ番号の機関が既に登録されています",
      { kind: a.kind },
      { cause },
    );
  }
});

/** A sender may send to a receiver (kept when it exists). */
export const institutionLink = commandType<{ senderId: string; receiverId: string; at: string }>(
  "institution.link",
  (a, _results, db) => {
    db.prepare("INSERT OR IGNORE INTO links (sender_id, receiver_id, created_at) VALUES (?, ?, ?)").run(
      a.senderId,
      a.receiverId,
      a.at,
    );
  },
);
