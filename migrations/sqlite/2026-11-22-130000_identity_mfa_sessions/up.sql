-- MFA enrolment state, one-time recovery codes, where a session signed in from, and the platform
-- tenant that owns platform-level audit events (the admin key acts outside any tenant).
ALTER TABLE users ADD COLUMN mfa_pending_secret_encrypted BLOB;
-- The last TOTP time step accepted: a code is never accepted twice.
ALTER TABLE users ADD COLUMN mfa_last_step INTEGER CHECK (mfa_last_step >= 0);

CREATE TABLE recovery_codes (
    id BLOB PRIMARY KEY CHECK (length(id) = 16),
    tenant_id BLOB NOT NULL,
    user_id BLOB NOT NULL,
    code_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    used_at INTEGER,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    UNIQUE (user_id, code_hash)
) STRICT;
CREATE INDEX recovery_codes_user ON recovery_codes (tenant_id, user_id);

ALTER TABLE sessions ADD COLUMN user_agent TEXT CHECK (length(user_agent) <= 512);
ALTER TABLE sessions ADD COLUMN ip TEXT CHECK (length(ip) <= 64);

INSERT OR IGNORE INTO tenants (id, name, status, created_at, updated_at)
VALUES (zeroblob(16), 'Platform', 'active', CAST(strftime('%s', 'now') AS INTEGER) * 1000000, CAST(strftime('%s', 'now') AS INTEGER) * 1000000);
