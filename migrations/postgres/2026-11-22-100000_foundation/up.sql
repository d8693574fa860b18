-- Foundation: tenants, identity, audit, outside connections, jobs and webhook inbox.
-- Every tenant-owned table carries tenant_id; children reference parents by (tenant_id, id), so a
-- row can never point at another tenant's parent.

CREATE TABLE tenants (
    id uuid PRIMARY KEY,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE TABLE users (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    email text NOT NULL CHECK (length(email) BETWEEN 3 AND 320),
    password_hash text NOT NULL,
    role text NOT NULL CHECK (role IN ('platform_admin', 'owner', 'admin', 'operator', 'viewer')),
    mfa_secret_encrypted bytea,
    failed_logins integer NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
    locked_until timestamptz,
    disabled boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    UNIQUE (tenant_id, id)
);
-- E-mail addresses are unique whatever their case.
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

-- A session is a refresh-token family: every rotation adds a token to it; presenting a token that
-- was already used revokes the whole family (reuse detection).
CREATE TABLE sessions (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    user_id uuid NOT NULL,
    created_at timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz,
    revoked_reason text,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    CHECK ((revoked_at IS NULL) = (revoked_reason IS NULL))
);
CREATE INDEX sessions_user ON sessions (tenant_id, user_id);

CREATE TABLE refresh_tokens (
    token_hash text PRIMARY KEY,
    session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    generation integer NOT NULL CHECK (generation >= 0),
    issued_at timestamptz NOT NULL,
    used_at timestamptz,
    UNIQUE (session_id, generation)
);

-- Revoked access tokens, kept until they would have expired anyway.
CREATE TABLE token_revocations (
    jti text PRIMARY KEY,
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz NOT NULL
);
CREATE INDEX token_revocations_expiry ON token_revocations (expires_at);

CREATE TABLE api_keys (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    prefix text NOT NULL UNIQUE,
    secret_hash text NOT NULL,
    scopes text NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz,
    last_used_at timestamptz,
    revoked_at timestamptz
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id, created_at);

CREATE TABLE licence_keys (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    key_hash text NOT NULL UNIQUE,
    allowed_domain text NOT NULL CHECK (length(allowed_domain) BETWEEN 1 AND 253),
    status text NOT NULL CHECK (status IN ('active', 'suspended', 'revoked')),
    expires_at timestamptz,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX licence_keys_tenant ON licence_keys (tenant_id, created_at);

CREATE TABLE audit_events (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    occurred_at timestamptz NOT NULL,
    actor text NOT NULL,
    action text NOT NULL CHECK (length(action) BETWEEN 1 AND 100),
    target text,
    detail text NOT NULL,
    ip text,
    request_id text
);
CREATE INDEX audit_events_tenant_time ON audit_events (tenant_id, occurred_at DESC, id DESC);

CREATE FUNCTION payymo_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'payymo: % is append-only', TG_TABLE_NAME;
END
$$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION payymo_append_only();

CREATE TABLE whmcs_instances (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    base_url text NOT NULL,
    api_identifier text NOT NULL,
    api_secret_encrypted bytea NOT NULL,
    status text NOT NULL CHECK (status IN ('active', 'disabled', 'failing')),
    invoices_synced_at timestamptz,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, base_url)
);

CREATE TABLE bank_connections (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    institution_id text NOT NULL,
    requisition_id text NOT NULL UNIQUE,
    agreement_id text,
    status text NOT NULL CHECK (status IN ('pending', 'linked', 'expired', 'revoked', 'failed')),
    access_expires_at timestamptz,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    UNIQUE (tenant_id, id)
);

CREATE TABLE bank_accounts (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    connection_id uuid NOT NULL,
    provider_account_id text NOT NULL,
    iban text,
    name text,
    currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    last_synced_at timestamptz,
    created_at timestamptz NOT NULL,
    FOREIGN KEY (tenant_id, connection_id) REFERENCES bank_connections (tenant_id, id) ON DELETE CASCADE,
    UNIQUE (connection_id, provider_account_id),
    UNIQUE (tenant_id, id)
);

CREATE TABLE stripe_connections (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    account_id text NOT NULL,
    api_key_encrypted bytea NOT NULL,
    webhook_secret_encrypted bytea,
    status text NOT NULL CHECK (status IN ('active', 'disabled', 'failing')),
    payments_synced_at timestamptz,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, account_id)
);

-- Background work. PostgreSQL workers claim with FOR UPDATE SKIP LOCKED; a claim is a lease that
-- expires, so a crashed worker's job is picked up again.
CREATE TABLE jobs (
    id uuid PRIMARY KEY,
    tenant_id uuid REFERENCES tenants (id),
    kind text NOT NULL CHECK (length(kind) BETWEEN 1 AND 100),
    payload text NOT NULL,
    status text NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    dedupe_key text UNIQUE,
    run_at timestamptz NOT NULL,
    attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts integer NOT NULL CHECK (max_attempts >= 1),
    locked_by text,
    locked_until timestamptz,
    last_error text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    CHECK ((status = 'running') = (locked_until IS NOT NULL))
);
CREATE INDEX jobs_ready ON jobs (run_at) WHERE status = 'queued';
CREATE INDEX jobs_leased ON jobs (locked_until) WHERE status = 'running';

-- Webhook deliveries received, for idempotency: a provider's event id is processed once.
CREATE TABLE webhook_events (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    provider text NOT NULL CHECK (provider IN ('stripe', 'gocardless', 'whmcs')),
    event_id text NOT NULL,
    event_type text NOT NULL,
    payload text NOT NULL,
    received_at timestamptz NOT NULL,
    processed_at timestamptz,
    UNIQUE (provider, event_id)
);
