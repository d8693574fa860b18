-- MFA enrolment state, one-time recovery codes, where a session signed in from, and the platform
-- tenant that owns platform-level audit events (the admin key acts outside any tenant).
ALTER TABLE users ADD COLUMN mfa_pending_secret_encrypted bytea;
-- The last TOTP time step accepted: a code is never accepted twice.
ALTER TABLE users ADD COLUMN mfa_last_step bigint CHECK (mfa_last_step >= 0);

CREATE TABLE recovery_codes (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    user_id uuid NOT NULL,
    code_hash text NOT NULL,
    created_at timestamptz NOT NULL,
    used_at timestamptz,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    UNIQUE (user_id, code_hash)
);
CREATE INDEX recovery_codes_user ON recovery_codes (tenant_id, user_id);

ALTER TABLE sessions ADD COLUMN user_agent text CHECK (length(user_agent) <= 512);
ALTER TABLE sessions ADD COLUMN ip text CHECK (length(ip) <= 64);

INSERT INTO tenants (id, name, status, created_at, updated_at)
VALUES ('00000000-0000-0000-0000-000000000000', 'Platform', 'active', now(), now())
ON CONFLICT (id) DO NOTHING;
