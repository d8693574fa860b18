-- Reconciliation: transactions, invoices, matches and their allocations, the payment outbox,
-- Stripe payouts and each tenant's matching settings. Money is INTEGER minor units + currency.

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
        CHECK (match_state IN ('unmatched', 'suggested', 'matched', 'ignored')),
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
        CHECK (state IN ('suggested', 'approved', 'applying', 'applied', 'failed', 'rejected', 'undone')),
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

-- The payment outbox: a row is written before the call to WHMCS, with an idempotency key that
-- WHMCS receives as the payment's transaction id, so a crash never applies a payment twice.
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
    version INTEGER NOT NULL CHECK (version >= 1),
    updated_at INTEGER NOT NULL
) STRICT;
