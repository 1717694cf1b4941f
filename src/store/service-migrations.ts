/**
 * The service database's schema, as migrations applied in order (never edit an applied one; add a new
 * one). Times are ISO 8601 UTC text where people read them and epoch milliseconds where code compares
 * them (sessions, lock-outs, nonces).
 */
export const SERVICE_MIGRATIONS: readonly string[] = [
  `
CREATE TABLE institutions (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('office', 'sender', 'receiver')),
  name TEXT NOT NULL,
  number TEXT,
  status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
  created_at TEXT NOT NULL,
  UNIQUE (kind, number)
) STRICT;

CREATE TABLE accounts (
  login_id TEXT PRIMARY KEY,
  institution_id TEXT NOT NULL UNIQUE REFERENCES institutions (id),
  password_hash TEXT NOT NULL,
  must_change INTEGER NOT NULL DEFAULT 1,
  failed_count INTEGER NOT NULL DEFAULT 0,
  locked_until INTEGER,
  last_login_at TEXT,
  password_changed_at TEXT NOT NULL,
  created_at TEXT NOT NULL
) STRICT;

CREATE TABLE certificates (
  serial TEXT PRIMARY KEY,
  institution_id TEXT NOT NULL REFERENCES institutions (id),
  login_id TEXT NOT NULL,
  fingerprint TEXT NOT NULL UNIQUE,
  not_before TEXT NOT NULL,
  not_after TEXT NOT NULL,
  revoked_at TEXT,
  revoke_reason TEXT,
  created_at TEXT NOT NULL
) STRICT;
CREATE INDEX certificates_by_institution ON certificates (institution_id);

CREATE TABLE links (
  sender_id TEXT NOT NULL REFERENCES institutions (id),
  receiver_id TEXT NOT NULL REFERENCES institutions (id),
  created_at TEXT NOT NULL,
  PRIMARY KEY (sender_id, receiver_id)
) STRICT;

CREATE TABLE mappings (
  id TEXT PRIMARY KEY,
  institution_id TEXT NOT NULL REFERENCES institutions (id),
  name TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  body TEXT NOT NULL,
  active INTEGER NOT NULL,
  created_at TEXT NOT NULL
) STRICT;
CREATE INDEX mappings_by_institution ON mappings (institution_id, active);

CREATE TABLE sessions (
  token_hash TEXT PRIMARY KEY,
  login_id TEXT NOT NULL REFERENCES accounts (login_id),
  csrf_token TEXT NOT NULL,
  certificate TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX sessions_by_login ON sessions (login_id);

CREATE TABLE devices (
  id TEXT PRIMARY KEY,
  login_id TEXT NOT NULL REFERENCES accounts (login_id),
  public_jwk TEXT NOT NULL,
  label TEXT NOT NULL,
  created_at TEXT NOT NULL,
  ledger_index INTEGER
) STRICT;
CREATE INDEX devices_by_login ON devices (login_id);

CREATE TABLE device_nonces (
  device_id TEXT NOT NULL,
  nonce TEXT NOT NULL,
  ts INTEGER NOT NULL,
  PRIMARY KEY (device_id, nonce)
) STRICT, WITHOUT ROWID;

CREATE TABLE password_resets (
  id INTEGER PRIMARY KEY,
  login_id TEXT NOT NULL REFERENCES accounts (login_id),
  requested_by TEXT NOT NULL,
  confirmed_how TEXT NOT NULL,
  office_login_id TEXT NOT NULL,
  created_at TEXT NOT NULL
) STRICT;
`,
  `
CREATE TABLE transfers (
  id TEXT PRIMARY KEY,
  sender_id TEXT NOT NULL REFERENCES institutions (id),
  receiver_id TEXT NOT NULL REFERENCES institutions (id),
  status TEXT NOT NULL CHECK (status IN ('converted', 'sent', 'downloaded', 'received', 'discarded', 'deleted')),
  mapping_id TEXT,
  original_sha256 TEXT NOT NULL,
  original_bytes INTEGER NOT NULL,
  standard_sha256 TEXT,
  standard_bytes INTEGER,
  records INTEGER,
  rows_rejected INTEGER,
  report_json TEXT,
  created_at TEXT NOT NULL,
  sent_at TEXT,
  downloaded_at TEXT,
  received_at TEXT,
  deleted_at TEXT,
  delete_after TEXT
) STRICT;
CREATE INDEX transfers_by_sender ON transfers (sender_id, created_at);
CREATE INDEX transfers_by_receiver ON transfers (receiver_id, status, created_at);
CREATE INDEX transfers_by_standard_hash ON transfers (standard_sha256);
CREATE INDEX transfers_by_original_hash ON transfers (original_sha256);
CREATE INDEX transfers_by_delete_after ON transfers (delete_after);

-- Per-transfer data keys, wrapped by the key-encryption key (which lives outside the database).
CREATE TABLE transfer_keys (
  transfer_id TEXT PRIMARY KEY REFERENCES transfers (id),
  kek_id TEXT NOT NULL,
  wrapped_key BLOB NOT NULL
) STRICT;

-- Encrypted payload chunks (AES-256-GCM under the transfer's data key); never files.
CREATE TABLE payload_chunks (
  transfer_id TEXT NOT NULL REFERENCES transfers (id),
  kind TEXT NOT NULL CHECK (kind IN ('original', 'standard')),
  seq INTEGER NOT NULL,
  nonce BLOB NOT NULL,
  ciphertext BLOB NOT NULL,
  PRIMARY KEY (transfer_id, kind, seq)
) STRICT, WITHOUT ROWID;

-- Converted records per receiver per month (the office bills on them).
CREATE TABLE record_counts (
  receiver_id TEXT NOT NULL REFERENCES institutions (id),
  month TEXT NOT NULL,
  records INTEGER NOT NULL,
  PRIMARY KEY (receiver_id, month)
) STRICT;

CREATE TABLE backups (
  id INTEGER PRIMARY KEY,
  file TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  ledger_size INTEGER NOT NULL,
  created_at TEXT NOT NULL
) STRICT;
`,
  `
-- RFC 3161 time-stamp tokens over signed checkpoints (the note text), one per checkpoint size.
CREATE TABLE checkpoint_timestamps (
  size INTEGER PRIMARY KEY,
  root TEXT NOT NULL,
  token BLOB NOT NULL,
  gen_time TEXT NOT NULL,
  tsa TEXT NOT NULL
) STRICT;
`,
  // 4: the ledger outbox — a batch's entries written in the same transaction as the state changes they
  // record, appended to ledger.db afterwards (ledger/embedded-ledger.ts).
  `
CREATE TABLE ledger_outbox (
  idx INTEGER PRIMARY KEY,
  entry BLOB NOT NULL,
  keys TEXT NOT NULL,
  record_hashes BLOB
) STRICT;
`,
  // 5: the AuditEvent search index (store/audit-search-index.ts): a cache derived from the ledger's
  // entries, caught up before each search; dropping it loses nothing.
  `
CREATE TABLE audit_index (
  idx INTEGER PRIMARY KEY,
  recorded_ms INTEGER NOT NULL,
  institution TEXT NOT NULL,
  transfer TEXT,
  confidentiality TEXT NOT NULL
) STRICT;
CREATE INDEX audit_index_by_recorded ON audit_index (recorded_ms);
CREATE INDEX audit_index_by_institution ON audit_index (institution, idx);
CREATE INDEX audit_index_by_transfer ON audit_index (transfer, idx);
CREATE TABLE audit_index_keys (
  key TEXT NOT NULL,
  idx INTEGER NOT NULL,
  PRIMARY KEY (key, idx)
) STRICT, WITHOUT ROWID;
`,
  // 6: transfers whose payload no copy could repair (issue 11, service/transfers/damage.ts): written by
  // the replicated `transfer.damage` command with its `transfer-damaged` alert entry, so every node
  // and every restart knows them; the transfer is never served again.
  `
CREATE TABLE transfer_damage (
  transfer_id TEXT PRIMARY KEY,
  address TEXT NOT NULL,
  marked_at TEXT NOT NULL,
  entry_index INTEGER NOT NULL
) STRICT;
`,
];
