-- The whole schema, one baseline. Every tenant-owned table carries tenant_id; children reference
-- parents by (tenant_id, id), so a row can never point at another tenant's parent. Money is integer
-- minor units + an ISO 4217 currency. The SQLite baseline creates the same tables and columns.

-- ================================================================================================
-- Identity, audit, outside connections, jobs and the webhook inbox.
-- ================================================================================================

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
    role text NOT NULL
        CHECK (role IN ('read_only', 'account_manager', 'financial_admin', 'api_integration', 'system_admin')),
    mfa_secret_encrypted bytea,
    failed_logins integer NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
    locked_until timestamptz,
    disabled boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    -- MFA enrolment in progress: the secret shown to the user until a first code confirms it.
    mfa_pending_secret_encrypted bytea,
    -- The last TOTP time step accepted: a code is never accepted twice.
    mfa_last_step bigint CHECK (mfa_last_step >= 0),
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
    -- Where the session signed in from.
    user_agent text CHECK (length(user_agent) <= 512),
    ip text CHECK (length(ip) <= 64),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    CHECK ((revoked_at IS NULL) = (revoked_reason IS NULL))
);
CREATE INDEX sessions_user ON sessions (tenant_id, user_id);

-- One-time MFA recovery codes.
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
    -- While a webhook secret is rotated, deliveries signed with the previous one are still accepted.
    webhook_secret_previous_encrypted bytea,
    last_synced_at timestamptz,
    last_sync_error text,
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

-- ================================================================================================
-- Reconciliation: transactions, invoices, matches and their allocations, the payment outbox,
-- Stripe payouts and each tenant's matching settings.
-- ================================================================================================

CREATE TABLE transactions (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    bank_account_id uuid,
    stripe_connection_id uuid,
    source text NOT NULL CHECK (source IN ('bank', 'stripe', 'statement', 'import')),
    -- The provider's id when it gives one, else a hash of the content: what makes re-imports idempotent.
    provider_id text,
    dedupe_key text NOT NULL,
    booking_date date NOT NULL,
    value_date date,
    amount_minor bigint NOT NULL CHECK (amount_minor <> 0),
    currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    counterparty_name text NOT NULL,
    counterparty_iban text,
    remittance text NOT NULL,
    reference text,
    match_state text NOT NULL DEFAULT 'unmatched'
        CHECK (match_state IN ('unmatched', 'suggested', 'matched', 'ignored', 'held')),
    imported_at timestamptz NOT NULL,
    UNIQUE (tenant_id, id),
    -- A transaction arrives through exactly one channel: a bank account or a Stripe account.
    CHECK ((bank_account_id IS NULL) <> (stripe_connection_id IS NULL)),
    CHECK ((source = 'stripe') = (stripe_connection_id IS NOT NULL)),
    FOREIGN KEY (tenant_id, bank_account_id) REFERENCES bank_accounts (tenant_id, id),
    FOREIGN KEY (tenant_id, stripe_connection_id) REFERENCES stripe_connections (tenant_id, id)
);
CREATE UNIQUE INDEX transactions_bank_dedupe ON transactions (bank_account_id, dedupe_key)
    WHERE bank_account_id IS NOT NULL;
CREATE UNIQUE INDEX transactions_stripe_dedupe ON transactions (stripe_connection_id, dedupe_key)
    WHERE stripe_connection_id IS NOT NULL;
-- The work queue: a page of a tenant's unmatched transactions, newest first.
CREATE INDEX transactions_unmatched ON transactions (tenant_id, booking_date DESC, id DESC)
    WHERE match_state = 'unmatched';
CREATE INDEX transactions_tenant_date ON transactions (tenant_id, booking_date DESC, id DESC);

CREATE TABLE stripe_payouts (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    stripe_connection_id uuid NOT NULL,
    payout_id text NOT NULL,
    amount_minor bigint NOT NULL,
    currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    arrival_date date NOT NULL,
    status text NOT NULL CHECK (status IN ('pending', 'in_transit', 'paid', 'failed', 'canceled')),
    bank_transaction_id uuid,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    FOREIGN KEY (tenant_id, stripe_connection_id) REFERENCES stripe_connections (tenant_id, id),
    FOREIGN KEY (tenant_id, bank_transaction_id) REFERENCES transactions (tenant_id, id),
    UNIQUE (stripe_connection_id, payout_id)
);

CREATE TABLE invoices (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    whmcs_instance_id uuid NOT NULL,
    external_id text NOT NULL,
    number text NOT NULL,
    client_id text,
    client_name text NOT NULL,
    client_company text,
    total_minor bigint NOT NULL,
    balance_minor bigint NOT NULL,
    currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    invoice_date date NOT NULL,
    due_date date NOT NULL,
    status text NOT NULL CHECK (status IN ('Unpaid', 'Overdue', 'Payment Pending', 'Paid',
                                           'Cancelled', 'Refunded', 'Collections', 'Draft')),
    synced_at timestamptz NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (whmcs_instance_id, external_id),
    FOREIGN KEY (tenant_id, whmcs_instance_id) REFERENCES whmcs_instances (tenant_id, id)
);
CREATE INDEX invoices_open ON invoices (tenant_id, due_date)
    WHERE status IN ('Unpaid', 'Overdue', 'Payment Pending', 'Collections');

-- The match lifecycle: suggested -> approved -> applying -> applied | failed; suggested -> rejected;
-- applied -> undone. `version` is the optimistic-concurrency token.
CREATE TABLE matches (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    transaction_id uuid NOT NULL,
    state text NOT NULL
        CHECK (state IN ('suggested', 'approved', 'applying', 'applied', 'failed', 'rejected', 'undone', 'released')),
    confidence_bp integer NOT NULL CHECK (confidence_bp BETWEEN 0 AND 10000),
    reasons text NOT NULL,
    version integer NOT NULL CHECK (version >= 1),
    decided_by text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, transaction_id) REFERENCES transactions (tenant_id, id)
);
-- At most one accepted match per transaction, whatever races happen.
CREATE UNIQUE INDEX matches_one_accepted ON matches (transaction_id)
    WHERE state IN ('approved', 'applying', 'applied');
CREATE INDEX matches_tenant_state ON matches (tenant_id, state, created_at);

CREATE TABLE match_allocations (
    match_id uuid NOT NULL,
    tenant_id uuid NOT NULL,
    invoice_id uuid NOT NULL,
    amount_minor bigint NOT NULL CHECK (amount_minor > 0),
    currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    PRIMARY KEY (match_id, invoice_id),
    FOREIGN KEY (tenant_id, match_id) REFERENCES matches (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoices (tenant_id, id)
);

-- The payment outbox: a row per match and invoice (its idempotency key derived from both) is written
-- before any call to WHMCS; WHMCS receives `PYM-<row id>` as the payment's transaction id, and the
-- invoice is re-read for it before every attempt, so a crash never applies a payment twice.
CREATE TABLE payment_applications (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    match_id uuid NOT NULL,
    invoice_id uuid NOT NULL,
    amount_minor bigint NOT NULL CHECK (amount_minor > 0),
    currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    idempotency_key text NOT NULL UNIQUE,
    state text NOT NULL CHECK (state IN ('pending', 'sending', 'applied', 'failed')),
    attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    external_ref text,
    last_error text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    UNIQUE (match_id, invoice_id),
    CHECK ((state = 'applied') = (external_ref IS NOT NULL)),
    FOREIGN KEY (tenant_id, match_id) REFERENCES matches (tenant_id, id),
    FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoices (tenant_id, id)
);
CREATE INDEX payment_applications_unsettled ON payment_applications (updated_at)
    WHERE state IN ('pending', 'sending');

CREATE TABLE tenant_settings (
    tenant_id uuid PRIMARY KEY REFERENCES tenants (id),
    match_settings text NOT NULL,
    auto_apply boolean NOT NULL,
    fees_close_invoice boolean NOT NULL DEFAULT true,
    card_gateway text NOT NULL DEFAULT 'stripe',
    version integer NOT NULL CHECK (version >= 1),
    updated_at timestamptz NOT NULL
);

-- ================================================================================================
-- Open banking (GoCardless): each account's sync state and budget, and pending transactions kept
-- apart from the booked ones (never matched until the bank books them).
-- ================================================================================================

CREATE TABLE bank_account_sync (
    bank_account_id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    -- The provider's view of the account (READY, PROCESSING, ERROR, EXPIRED, SUSPENDED ...).
    status text NOT NULL,
    -- Days of history the agreement grants: the first sync reads that far back.
    history_days integer NOT NULL CHECK (history_days >= 0),
    last_synced_at timestamptz,
    -- The latest booking date seen: later syncs read from it, less an overlap.
    last_booked_date date,
    budget_limit integer CHECK (budget_limit >= 0),
    budget_remaining integer CHECK (budget_remaining >= 0),
    budget_resets_at timestamptz,
    -- The balances read at the last sync, a JSON document.
    balances text,
    balances_at timestamptz,
    last_error text,
    updated_at timestamptz NOT NULL,
    FOREIGN KEY (tenant_id, bank_account_id) REFERENCES bank_accounts (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE bank_pending_transactions (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    bank_account_id uuid NOT NULL,
    dedupe_key text NOT NULL,
    booking_date date NOT NULL,
    value_date date,
    amount_minor bigint NOT NULL,
    currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    counterparty_name text NOT NULL,
    counterparty_iban text,
    remittance text NOT NULL,
    reference text,
    seen_at timestamptz NOT NULL,
    UNIQUE (bank_account_id, dedupe_key),
    FOREIGN KEY (tenant_id, bank_account_id) REFERENCES bank_accounts (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX bank_pending_tenant_date ON bank_pending_transactions (tenant_id, booking_date DESC, id DESC);
CREATE INDEX transactions_bank_account_date ON transactions (bank_account_id, booking_date DESC, id DESC)
    WHERE bank_account_id IS NOT NULL;

-- ================================================================================================
-- Stripe: the payments synced from Stripe with their fee, net, refund and dispute state.
-- ================================================================================================

-- One row per Stripe payment, keyed by its payment intent (`pi_...`) when it has one, else by the
-- charge (`ch_...`): `payment_intent.succeeded` and `charge.succeeded` of one payment meet here.
CREATE TABLE stripe_payments (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    stripe_connection_id uuid NOT NULL,
    payment_key text NOT NULL,
    charge_id text,
    -- The Stripe transaction (source 'stripe') the matching engine sees.
    transaction_id uuid,
    status text NOT NULL,
    amount_minor bigint NOT NULL,
    currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    fee_minor bigint,
    net_minor bigint,
    settlement_currency text CHECK (settlement_currency ~ '^[A-Z]{3}$'),
    refunded_minor bigint NOT NULL DEFAULT 0 CHECK (refunded_minor >= 0),
    dispute_id text,
    dispute_status text,
    -- 'refund_after_payment' or 'dispute' when a person must look at it.
    review text CHECK (review IN ('refund_after_payment', 'dispute')),
    invoice_hint text,
    customer text,
    description text,
    payout_id text,
    paid_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (stripe_connection_id, payment_key),
    FOREIGN KEY (tenant_id, stripe_connection_id) REFERENCES stripe_connections (tenant_id, id),
    FOREIGN KEY (tenant_id, transaction_id) REFERENCES transactions (tenant_id, id)
);
CREATE INDEX stripe_payments_list ON stripe_payments (tenant_id, paid_at DESC, id DESC);
CREATE INDEX stripe_payments_charge ON stripe_payments (stripe_connection_id, charge_id);
CREATE INDEX stripe_payouts_list ON stripe_payouts (tenant_id, arrival_date DESC, id DESC);

-- ================================================================================================
-- The reconciliation workflow: WHMCS instance options, remembered payers, retry times of the
-- payment outbox, notes on matches (failure reasons, undo instructions) and the tenant's
-- preferred payment gateway.
-- ================================================================================================

CREATE TABLE whmcs_instance_options (
    instance_id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    gateway text NOT NULL CHECK (length(gateway) BETWEEN 1 AND 100),
    default_currency text NOT NULL CHECK (default_currency ~ '^[A-Z]{3}$'),
    -- Set when the tenant removed the instance (its invoices and matches stay for the record).
    deleted_at timestamptz,
    updated_at timestamptz NOT NULL,
    FOREIGN KEY (tenant_id, instance_id) REFERENCES whmcs_instances (tenant_id, id)
);

-- Payers learned from confirmed matches: this IBAN (or this name) pays for this WHMCS client.
CREATE TABLE known_payers (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    key_kind text NOT NULL CHECK (key_kind IN ('iban', 'name')),
    payer_key text NOT NULL CHECK (length(payer_key) BETWEEN 1 AND 300),
    client_id text NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, key_kind, payer_key)
);

-- When a payment application that met an outage may be tried again.
CREATE TABLE payment_application_retries (
    application_id uuid PRIMARY KEY REFERENCES payment_applications (id),
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    not_before timestamptz NOT NULL
);

CREATE TABLE match_notes (
    match_id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    failure_reason text,
    undo_instructions text,
    updated_at timestamptz NOT NULL,
    FOREIGN KEY (tenant_id, match_id) REFERENCES matches (tenant_id, id)
);

CREATE TABLE reconciliation_preferences (
    tenant_id uuid PRIMARY KEY REFERENCES tenants (id),
    gateway text NOT NULL CHECK (length(gateway) BETWEEN 1 AND 100),
    updated_at timestamptz NOT NULL
);

CREATE INDEX matches_tenant_id_desc ON matches (tenant_id, id DESC);
CREATE INDEX invoices_tenant_id ON invoices (tenant_id, id DESC);

-- At most one open suggestion per transaction, so that two matching runs side by side cannot
-- suggest the same transaction twice.
CREATE UNIQUE INDEX matches_one_suggested ON matches (transaction_id) WHERE state = 'suggested';

-- ================================================================================================
-- Seed.
-- ================================================================================================

-- The platform tenant (nil id) owns platform-level audit events: the admin key acts outside any tenant.
INSERT INTO tenants (id, name, status, created_at, updated_at)
VALUES ('00000000-0000-0000-0000-000000000000', 'Platform', 'active', now(), now())
ON CONFLICT (id) DO NOTHING;
