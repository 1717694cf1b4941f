/** Commands of devices, certificates and mappings (devices.ts, device-management.ts, certificates.ts, mappings). */
import { commandType } from "./command.js";

/** A registered device key, naming its registration entry. */
export const deviceRegister = commandType<{
  id: string;
  loginId: string;
  publicJwk: string;
  label: string;
  at: string;
}>("device.register", (a, results, db) => {
  db.prepare(
    "INSERT INTO devices (id, login_id, public_jwk, label, created_at, ledger_index) VALUES (?, ?, ?, ?, ?, ?)",
  ).run(a.id, a.loginId, a.publicJwk, a.label, a.at, results[0]?.index ?? null);
});

/** A device renamed by its owner. */
export const deviceRename = commandType<{ id: string; label: string }>("device.rename", (a, _r, db) => {
  db.prepare("UPDATE devices SET label = ? WHERE id = ?").run(a.label, a.id);
});

/** A device removed: its key signs nothing from now on. */
export const deviceRemove = commandType<{ id: string }>("device.remove", (a, _r, db) => {
  db.prepare("DELETE FROM device_nonces WHERE device_id = ?").run(a.id);
  db.prepare("DELETE FROM devices WHERE id = ?").run(a.id);
});

/** An issued client certificate (the CA signed it before; this records it). */
export const certificateIssue = commandType<{
  serial: string;
  institutionId: string;
  loginId: string;
  fingerprint: string;
  notBefore: string;
  notAfter: string;
  at: string;
}>("certificate.issue", (a, _r, db) => {
  db.prepare(
    "INSERT INTO certificates (serial, institution_id, login_id, fingerprint, not_before, not_after, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
  ).run(a.serial, a.institutionId, a.loginId, a.fingerprint, a.notBefore, a.notAfter, a.at);
});

/** Certificates revoked and the sessions made with them ended (one already revoked stays as it was). */
export const certificateRevoke = commandType<{ serials: string[]; reason: string; at: string }>(
  "certificate.revoke",
  (a, _r, db) => {
    for (const serial of a.serials) {
      db.prepare(
        "UPDATE certificates SET revoked_at = ?, revoke_reason = ? WHERE serial = ? AND revoked_at IS NULL",
      ).run(a.at, a.reason, serial);
      db.prepare(
        "DELETE FROM sessions WHERE certificate IN (SELECT fingerprint FROM certificates WHERE serial = ?)",
      ).run(serial);
    }
  },
);

/** A new mapping version of a sender; with `activate`, the one its uploads use from now on. */
export const mappingAdd = commandType<{
  id: string;
  institutionId: string;
  name: string;
  sha256: string;
  body: string;
  activate: boolean;
  at: string;
}>("mapping.add", (a, _r, db) => {
  if (a.activate) db.prepare("UPDATE mappings SET active = 0 WHERE institution_id = ?").run(a.institutionId);
  db.prepare(
    "INSERT INTO mappings (id, institution_id, name, sha256, body, active, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
  ).run(a.id, a.institutionId, a.name, a.sha256, a.body, a.activate ? 1 : 0, a.at);
});

/** A kept mapping version made the active one. */
export const mappingActivate = commandType<{ id: string; institutionId: string }>(
  "mapping.activate",
  (a, _r, db) => {
    db.prepare("UPDATE mappings SET active = 0 WHERE institution_id = ?").run(a.institutionId);
    db.prepare("UPDATE mappings SET active = 1 WHERE id = ? AND institution_id = ?").run(
      a.id,
      a.institutionId,
    );
  },
);
