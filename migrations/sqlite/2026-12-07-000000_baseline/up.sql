-- The whole schema, one baseline. Every tenant-owned table carries tenant_id; children reference
-- parents by (tenant_id, id), so a row can never point at another tenant's parent. Money is INTEGER
-- minor units + an ISO 4217 currency. The PostgreSQL baseline creates the same tables and columns;
-- every table is STRICT.

-- ================================================================================================
-- Identity, audit, outside connections, jobs and the webhook inbox.
-- ================================================================================================

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
    role TEXT NOT NULL
        CHECK (role IN ('read_only', 'account_manager', 'financial_admin', 'api_integration', 'system_admin')),
    mfa_secret_encrypted BLOB,
    failed_logins INTEGER NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
    locked_until INTEGER,
    disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    -- MFA enrolment in progress: the secret shown to the user until a first code confirms it.
    mfa_pending_secret_encrypted BLOB,
    -- The last TOTP time step accepted: a code is never accepted twice.
    mfa_last_step INTEGER CHECK (mfa_last_step >= 0),
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
    -- Where the session signed in from.
    user_agent TEXT CHECK (length(user_agent) <= 512),
    ip TEXT CHECK (length(ip) <= 64),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    CHECK ((revoked_at IS NULL) = (revoked_reason IS NULL))
) STRICT;
CREATE INDEX sessions_user ON sessions (tenant_id, user_id);

-- One-time MFA recovery codes.
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
    -- While a webhook secret is rotated, deliveries signed with the previous one are still accepted.
    webhook_secret_previous_encrypted BLOB,
    last_synced_at INTEGER,
    last_sync_error TEXT,
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

-- ================================================================================================
-- Reconciliation: transactions, invoices, matches and their allocations, the payment outbox,
-- Stripe payouts and each tenant's matching settings.
-- ================================================================================================

CREATE TABLE transactions (
    id BLOB PRIMARY KEY CHECK (length(id) = 16),
    tenant_id BLOB NOT NULL,
    bank_account_id BLOB,
    stripe_connection_id BLOB,
    source TEXT NOT NULL CHECK (source IN ('bank', 'stripe', 'statement', 'import')),
    -- The provider's id when it gives one, else a hash of the content: what makes re-imports idempotent.
    provider_id TEXT,
    dedupe_key TEXT NOT NULL,
    booking_date TEXT NOT NULL,
    value_date TEXT,
    amount_minor INTEGER NOT NULL CHECK (amount_minor <> 0),
    currency TEXT NOT NULL CHECK (length(currency) = 3 AND currency GLOB '[A-Z][A-Z][A-Z]'),
    counterparty_name TEXT NOT NULL,
    counterparty_iban TEXT,
    remittance TEXT NOT NULL,
    reference TEXT,
    match_state TEXT NOT NULL DEFAULT 'unmatched'
        CHECK (match_state IN ('unmatched', 'suggested', 'matched', 'ignored', 'held')),
    imported_at INTEGER NOT NULL,
    UNIQUE (tenant_id, id),
    -- A transaction arrives through exactly one channel: a bank account or a Stripe account.
    CHECK ((bank_account_id IS NULL) <> (stripe_connection_id IS NULL)),
    CHECK ((source = 'stripe') = (stripe_connection_id IS NOT NULL)),
    FOREIGN KEY (tenant_id, bank_account_id) REFERENCES bank_accounts (tenant_id, id),
    FOREIGN KEY (tenant_id, stripe_connection_id) REFERENCES stripe_connections (tenant_id, id)
) STRICT;
CREATE UNIQUE INDEX transactions_bank_dedupe ON transactions (bank_account_id, dedupe_key)
    WHERE bank_account_id IS NOT NULL;
CREATE UNIQUE INDEX transactions_stripe_dedupe ON transactions (stripe_connection_id, dedupe_key)
    WHERE stripe_connection_id IS NOT NULL;
-- The work queue: a page of a tenant's unmatched transactions, newest first.
CREATE INDEX transactions_unmatched ON transactions (tenant_id, booking_date DESC, id DESC)
    WHERE match_state = 'unmatched';
CREATE INDEX transactions_tenant_date ON transactions (tenant_id, booking_date DESC, id DESC);

CREATE TABLE stripe_payouts (
    id BLOB PRIMARY KEY CHECK (length(id) = 16),
    tenant_id BLOB NOT NULL,
    stripe_connection_id BLOB NOT NULL,
    payout_id TEXT NOT NULL,
    amount_minor INTEGER NOT NULL,
    currency TEXT NOT NULL CHECK (length(currency) = 3 AND currency GLOB '[A-Z][A-Z][A-Z]'),
    arrival_date TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'in_transit', 'paid', 'failed', 'canceled')),
    bank_transaction_id BLOB,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    FOREIGN KEY (tenant_id, stripe_connection_id) REFERENCES stripe_connections (tenant_id, id),
    FOREIGN KEY (tenant_id, bank_transaction_id) REFERENCES transactions (tenant_id, id),
    UNIQUE (stripe_connection_id, payout_id)
) STRICT;

CREATE TABLE invoices (
    id BLOB PRIMARY KEY CHECK (length(id) = 16),
    tenant_id BLOB NOT NULL,
    whmcs_instance_id BLOB NOT NULL,
    external_id TEXT NOT NULL,
    number TEXT NOT NULL,
    client_id TEXT,
    client_name TEXT NOT NULL,
    client_company TEXT,
    total_minor INTEGER NOT NULL,
    balance_minor INTEGER NOT NULL,
    currency TEXT NOT NULL CHECK (length(currency) = 3 AND currency GLOB '[A-Z][A-Z][A-Z]'),
    invoice_date TEXT NOT NULL,
    due_date TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('Unpaid', 'Overdue', 'Payment Pending', 'Paid',
                                           'Cancelled', 'Refunded', 'Collections', 'Draft')),
    synced_at INTEGER NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (whmcs_instance_id, external_id),
    FOREIGN KEY (tenant_id, whmcs_instance_id) REFERENCES whmcs_instances (tenant_id, id)
) STRICT;
CREATE INDEX invoices_open ON invoices (tenant_id, due_date)
    WHERE status IN ('Unpaid', 'Overdue', 'Payment Pending', 'Collections');

-- The match lifecycle: suggested -> approved -> applying -> applied | failed; suggested -> rejected;
-- applied -> undone. `version` is the optimistic-concurrency token.
CREATE TABLE matches (
    id BLOB PRIMARY KEY CHECK (length(id) = 16),
    tenant_id BLOB NOT NULL,
    transaction_id BLOB NOT NULL,
    state TEXT NOT NULL
        CHECK (state IN ('suggested', 'approved', 'applying', 'applied', 'failed', 'rejected', 'undone', 'released')),
    confidence_bp INTEGER NOT NULL CHECK (confidence_bp BETWEEN 0 AND 10000),
    reasons TEXT NOT NULL,
    version INTEGER NOT NULL CHECK (version >= 1),
    decided_by TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, transaction_id) REFERENCES transactions (tenant_id, id)
) STRICT;
-- At most one accepted match per transaction, whatever races happen.
CREATE UNIQUE INDEX matches_one_accepted ON matches (transaction_id)
    WHERE state IN ('approved', 'applying', 'applied');
CREATE INDEX matches_tenant_state ON matches (tenant_id, state, created_at);

CREATE TABLE match_allocations (
    match_id BLOB NOT NULL,
    tenant_id BLOB NOT NULL,
    invoice_id BLOB NOT NULL,
    amount_minor INTEGER NOT NULL CHECK (amount_minor > 0),
    currency TEXT NOT NULL CHECK (length(currency) = 3 AND currency GLOB '[A-Z][A-Z][A-Z]'),
    PRIMARY KEY (match_id, invoice_id),
    FOREIGN KEY (tenant_id, match_id) REFERENCES matches (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoices (tenant_id, id)
) STRICT;

-- The payment outbox: a row per match and invoice (its idempotency key derived from both) is written
-- before any call to WHMCS; WHMCS receives `PYM-<row id>` as the payment's transaction id, and the
-- invoice is re-read for it before every attempt, so a crash never applies a payment twice.
CREATE TABLE payment_applications (
    id BLOB PRIMARY KEY CHECK (length(id) = 16),
    tenant_id BLOB NOT NULL,
    match_id BLOB NOT NULL,
    invoice_id BLOB NOT NULL,
    amount_minor INTEGER NOT NULL CHECK (amount_minor > 0),
    currency TEXT NOT NULL CHECK (length(currency) = 3 AND currency GLOB '[A-Z][A-Z][A-Z]'),
    idempotency_key TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'applied', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    external_ref TEXT,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (match_id, invoice_id),
    CHECK ((state = 'applied') = (external_ref IS NOT NULL)),
    FOREIGN KEY (tenant_id, match_id) REFERENCES matches (tenant_id, id),
    FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoices (tenant_id, id)
) STRICT;
CREATE INDEX payment_applications_unsettled ON payment_applications (updated_at)
    WHERE state IN ('pending', 'sending');

CREATE TABLE tenant_settings (
    tenant_id BLOB PRIMARY KEY REFERENCES tenants (id),
    match_settings TEXT NOT NULL,
    auto_apply INTEGER NOT NULL CHECK (auto_apply IN (0, 1)),
    fees_close_invoice INTEGER NOT NULL DEFAULT 1 CHECK (fees_close_invoice IN (0, 1)),
    card_gateway TEXT NOT NULL DEFAULT 'stripe',
    version INTEGER NOT NULL CHECK (version >= 1),
    updated_at INTEGER NOT NULL
) STRICT;

-- ================================================================================================
-- Open banking (GoCardless): each account's sync state and budget, and pending transactions kept
-- apart from the booked ones (never matched until the bank books them).
-- ================================================================================================

CREATE TABLE bank_account_sync (
    bank_account_id BLOB PRIMARY KEY CHECK (length(bank_account_id) = 16),
    tenant_id BLOB NOT NULL,
    -- The provider's view of the account (READY, PROCESSING, ERROR, EXPIRED, SUSPENDED ...).
    status TEXT NOT NULL,
    -- Days of history the agreement grants: the first sync reads that far back.
    history_days INTEGER NOT NULL CHECK (history_days >= 0),
    last_synced_at INTEGER,
    -- The latest booking date seen: later syncs read from it, less an overlap.
    last_booked_date TEXT,
    budget_limit INTEGER CHECK (budget_limit >= 0),
    budget_remaining INTEGER CHECK (budget_remaining >= 0),
    budget_resets_at INTEGER,
    -- The balances read at the last sync, a JSON document.
    balances TEXT,
    balances_at INTEGER,
    last_error TEXT,
    updated_at INTEGER NOT NULL,
    FOREIGN KEY (tenant_id, bank_account_id) REFERENCES bank_accounts (tenant_id, id) ON DELETE CASCADE
) STRICT;

CREATE TABLE bank_pending_transactions (
    id BLOB PRIMARY KEY CHECK (length(id) = 16),
    tenant_id BLOB NOT NULL,
    bank_account_id BLOB NOT NULL,
    dedupe_key TEXT NOT NULL,
    booking_date TEXT NOT NULL,
    value_date TEXT,
    amount_minor INTEGER NOT NULL,
    currency TEXT NOT NULL CHECK (length(currency) = 3 AND currency GLOB '[A-Z][A-Z][A-Z]'),
    counterparty_name TEXT NOT NULL,
    counterparty_iban TEXT,
    remittance TEXT NOT NULL,
    reference TEXT,
    seen_at INTEGER NOT NULL,
    UNIQUE (bank_account_id, dedupe_key),
    FOREIGN KEY (tenant_id, bank_account_id) REFERENCES bank_accounts (tenant_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX bank_pending_tenant_date ON bank_pending_transactions (tenant_id, booking_date DESC, id DESC);
CREATE INDEX transactions_bank_account_date ON transactions (bank_account_id, booking_date DESC, id DESC)
    WHERE bank_account_id IS NOT NULL;

-- ================================================================================================
-- Stripe: the payments synced from Stripe with their fee, net, refund and dispute state.
-- ================================================================================================

-- One row per Stripe payment, keyed by its payment intent (`pi_...`) when it has one, else by the
-- charge (`ch_...`): `payment_intent.succeeded` and `charge.succeeded` of one payment meet here.
CREATE TABLE stripe_payments (
    id BLOB PRIMARY KEY CHECK (length(id) = 16),
    tenant_id BLOB NOT NULL,
    stripe_connection_id BLOB NOT NULL,
    payment_key TEXT NOT NULL,
    charge_id TEXT,
    -- The Stripe transaction (source 'stripe') the matching engine sees.
    transaction_id BLOB,
    status TEXT NOT NULL,
    amount_minor INTEGER NOT NULL,
    currency TEXT NOT NULL CHECK (length(currency) = 3 AND currency GLOB '[A-Z][A-Z][A-Z]'),
    fee_minor INTEGER,
    net_minor INTEGER,
    settlement_currency TEXT
        CHECK (length(settlement_currency) = 3 AND settlement_currency GLOB '[A-Z][A-Z][A-Z]'),
    refunded_minor INTEGER NOT NULL DEFAULT 0 CHECK (refunded_minor >= 0),
    dispute_id TEXT,
    dispute_status TEXT,
    -- 'refund_after_payment' or 'dispute' when a person must look at it.
    review TEXT CHECK (review IN ('refund_after_payment', 'dispute')),
    invoice_hint TEXT,
    customer TEXT,
    description TEXT,
    payout_id TEXT,
    paid_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (stripe_connection_id, payment_key),
    FOREIGN KEY (tenant_id, stripe_connection_id) REFERENCES stripe_connections (tenant_id, id),
    FOREIGN KEY (tenant_id, transaction_id) REFERENCES transactions (tenant_id, id)
) STRICT;
CREATE INDEX stripe_payments_list ON stripe_payments (tenant_id, paid_at DESC, id DESC);
CREATE INDEX stripe_payments_charge ON stripe_payments (stripe_connection_id, charge_id);
CREATE INDEX stripe_payouts_list ON stripe_payouts (tenant_id, arrival_date DESC, id DESC);

-- ================================================================================================
-- The reconciliation workflow: WHMCS instance options, remembered payers, retry times of the
-- payment outbox, notes on matches (failure reasons, undo instructions) and the tenant's
-- preferred payment gateway.
-- ================================================================================================

CREATE TABLE whmcs_instance_options (
    instance_id BLOB PRIMARY KEY CHECK (length(instance_id) = 16),
    tenant_id BLOB NOT NULL,
    gateway TEXT NOT NULL CHECK (length(gateway) BETWEEN 1 AND 100),
    default_currency TEXT NOT NULL
        CHECK (length(default_currency) = 3 AND default_currency GLOB '[A-Z][A-Z][A-Z]'),
    -- Set when the tenant removed the instance (its invoices and matches stay for the record).
    deleted_at INTEGER,
    updated_at INTEGER NOT NULL,
    FOREIGN KEY (tenant_id, instance_id) REFERENCES whmcs_instances (tenant_id, id)
) STRICT;

-- Payers learned from confirmed matches: this IBAN (or this name) pays for this WHMCS client.
CREATE TABLE known_payers (
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    key_kind TEXT NOT NULL CHECK (key_kind IN ('iban', 'name')),
    payer_key TEXT NOT NULL CHECK (length(payer_key) BETWEEN 1 AND 300),
    client_id TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, key_kind, payer_key)
) STRICT;

-- When a payment application that met an outage may be tried again.
CREATE TABLE payment_application_retries (
    application_id BLOB PRIMARY KEY REFERENCES payment_applications (id),
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    not_before INTEGER NOT NULL
) STRICT;

CREATE TABLE match_notes (
    match_id BLOB PRIMARY KEY CHECK (length(match_id) = 16),
    tenant_id BLOB NOT NULL,
    failure_reason TEXT,
    undo_instructions TEXT,
    updated_at INTEGER NOT NULL,
    FOREIGN KEY (tenant_id, match_id) REFERENCES matches (tenant_id, id)
) STRICT;

CREATE TABLE reconciliation_preferences (
    tenant_id BLOB PRIMARY KEY REFERENCES tenants (id),
    gateway TEXT NOT NULL CHECK (length(gateway) BETWEEN 1 AND 100),
    updated_at INTEGER NOT NULL
) STRICT;

CREATE INDEX matches_tenant_id_desc ON matches (tenant_id, id DESC);
CREATE INDEX invoices_tenant_id ON invoices (tenant_id, id DESC);

-- At most one open suggestion per transaction, so that two matching runs side by side cannot
-- suggest the same transaction twice.
CREATE UNIQUE INDEX matches_one_suggested ON matches (transaction_id) WHERE state = 'suggested';

-- ================================================================================================
-- Seed.
-- ================================================================================================

-- The platform tenant (nil id) owns platform-level audit events: the admin key acts outside any tenant.
INSERT OR IGNORE INTO tenants (id, name, status, created_at, updated_at)
VALUES (zeroblob(16), 'Platform', 'active', CAST(strftime('%s', 'now') AS INTEGER) * 1000000, CAST(strftime('%s', 'now') AS INTEGER) * 1000000);
