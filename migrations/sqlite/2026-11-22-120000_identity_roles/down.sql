-- SQLite cannot alter a CHECK constraint: the users table is rebuilt (the documented 12-step
-- procedure). Foreign keys must be off while the old table is dropped, or sessions referencing it
-- would cascade away; that pragma only works outside a transaction, hence metadata.toml.
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE users_rebuilt (
    id BLOB PRIMARY KEY CHECK (length(id) = 16),
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    email TEXT NOT NULL CHECK (length(email) BETWEEN 3 AND 320),
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('platform_admin', 'owner', 'admin', 'operator', 'viewer')),
    mfa_secret_encrypted BLOB,
    failed_logins INTEGER NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
    locked_until INTEGER,
    disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (tenant_id, id)
) STRICT;
INSERT INTO users_rebuilt (id, tenant_id, email, password_hash, role, mfa_secret_encrypted,
                           failed_logins, locked_until, disabled, created_at, updated_at)
SELECT id, tenant_id, email, password_hash, CASE role WHEN 'system_admin' THEN 'platform_admin' WHEN 'financial_admin' THEN 'admin' WHEN 'account_manager' THEN 'operator' ELSE 'viewer' END, mfa_secret_encrypted, failed_logins,
       locked_until, disabled, created_at, updated_at
FROM users;
DROP TABLE users;
ALTER TABLE users_rebuilt RENAME TO users;
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
PRAGMA foreign_key_check;
COMMIT;
PRAGMA foreign_keys = ON;
