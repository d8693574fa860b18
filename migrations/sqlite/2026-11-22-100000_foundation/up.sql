-- Foundation: tenants, identity, audit, outside connections, jobs and webhook inbox.
-- Every tenant-owned table carries tenant_id; children reference parents by (tenant_id, id), so a
-- row can never point at another tenant's parent.

CREATE TABLE tenants (
    id BLOB PRIMARY KEY CHECK (length(id) = 16),
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE users (
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
-- E-mail addresses are unique whatever their case.
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

-- A session is a refresh-token family: every rotation adds a token to it; presenting a token that
-- was already used revokes the whole family (reuse detection).
CREATE TABLE sessions (
    id BLOB PRIMARY KEY CHECK (length(id) = 16),
    tenant_id BLOB NOT NULL,
    user_id BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER,
    revoked_reason TEXT,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    CHECK ((revoked_at IS NULL) = (revoked_reason IS NULL))
) STRICT;
CREATE INDEX sessions_user ON sessions (tenant_id, user_id);

CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    session_id BLOB NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    generation INTEGER NOT NULL CHECK (generation >= 0),
    issued_at INTEGER NOT NULL,
    used_at INTEGER,
    UNIQUE (session_id, generation)
) STRICT;

-- Revoked access tokens, kept until they would have expired anyway.
CREATE TABLE token_revocations (
    jti TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER NOT NULL
) STRICT;
CREATE INDEX token_revocations_expiry ON token_revocations (expires_at);

CREATE TABLE api_keys (
    id BLOB PRIMARY KEY CHECK (length(id) = 16),
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    prefix TEXT NOT NULL UNIQUE,
    secret_hash TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    last_used_at INTEGER,
    revoked_at INTEGER
) STRICT;
CREATE INDEX api_keys_tenant ON api_keys (tenant_id, created_at);

CREATE TABLE licence_keys (
    id BLOB PRIMARY KEY CHECK (length(id) = 16),
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    key_hash TEXT NOT NULL UNIQUE,
    allowed_domain TEXT NOT NULL CHECK (length(allowed_domain) BETWEEN 1 AND 253),
    status TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'revoked')),
    expires_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX licence_keys_tenant ON licence_keys (tenant_id, created_at);

CREATE TABLE audit_events (
    id BLOB PRIMARY KEY CHECK (length(id) = 16),
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    occurred_at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL CHECK (length(action) BETWEEN 1 AND 100),
    target TEXT,
    detail TEXT NOT NULL,
    ip TEXT,
    request_id TEXT
) STRICT;
CREATE INDEX audit_events_tenant_time ON audit_events (tenant_id, occurred_at DESC, id DESC);

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'payymo: audit_events is append-only');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'payymo: audit_events is append-only');
END;

CREATE TABLE whmcs_instances (
    id BLOB PRIMARY KEY CHECK (length(id) = 16),
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    base_url TEXT NOT NULL,
    api_identifier TEXT NOT NULL,
    api_secret_encrypted BLOB NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'disabled', 'failing')),
    invoices_synced_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, base_url)
) STRICT;

CREATE TABLE bank_connections (
    id BLOB PRIMARY KEY CHECK (length(id) = 16),
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    institution_id TEXT NOT NULL,
    requisition_id TEXT NOT NULL UNIQUE,
    agreement_id TEXT,
    status TEXT NOT NULL CHECK (status IN ('pending', 'linked', 'expired', 'revoked', 'failed')),
    access_expires_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (tenant_id, id)
) STRICT;

CREATE TABLE bank_accounts (
    id BLOB PRIMARY KEY CHECK (length(id) = 16),
    tenant_id BLOB NOT NULL,
    connection_id BLOB NOT NULL,
    provider_account_id TEXT NOT NULL,
    iban TEXT,
    name TEXT,
    currency TEXT NOT NULL CHECK (length(currency) = 3 AND currency GLOB '[A-Z][A-Z][A-Z]'),
    last_synced_at INTEGER,
    created_at INTEGER NOT NULL,
    FOREIGN KEY (tenant_id, connection_id) REFERENCES bank_connections (tenant_id, id) ON DELETE CASCADE,
    UNIQUE (connection_id, provider_account_id),
    UNIQUE (tenant_id, id)
) STRICT;

CREATE TABLE stripe_connections (
    id BLOB PRIMARY KEY CHECK (length(id) = 16),
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    account_id TEXT NOT NULL,
    api_key_encrypted BLOB NOT NULL,
    webhook_secret_encrypted BLOB,
    status TEXT NOT NULL CHECK (status IN ('active', 'disabled', 'failing')),
    payments_synced_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, account_id)
) STRICT;

-- Background work. SQLite claims inside an IMMEDIATE transaction; a claim is a lease that
-- expires, so a crashed worker's job is picked up again.
CREATE TABLE jobs (
    id BLOB PRIMARY KEY CHECK (length(id) = 16),
    tenant_id BLOB REFERENCES tenants (id),
    kind TEXT NOT NULL CHECK (length(kind) BETWEEN 1 AND 100),
    payload TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    dedupe_key TEXT UNIQUE,
    run_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts INTEGER NOT NULL CHECK (max_attempts >= 1),
    locked_by TEXT,
    locked_until INTEGER,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    CHECK ((status = 'running') = (locked_until IS NOT NULL))
) STRICT;
CREATE INDEX jobs_ready ON jobs (run_at) WHERE status = 'queued';
CREATE INDEX jobs_leased ON jobs (locked_until) WHERE status = 'running';

-- Webhook deliveries received, for idempotency: a provider's event id is processed once.
CREATE TABLE webhook_events (
    id BLOB PRIMARY KEY CHECK (length(id) = 16),
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    provider TEXT NOT NULL CHECK (provider IN ('stripe', 'gocardless', 'whmcs')),
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    processed_at INTEGER,
    UNIQUE (provider, event_id)
) STRICT;
