-- Reconciliation: transactions, invoices, matches and their allocations, the payment outbox,
-- Stripe payouts and each tenant's matching settings. Money is integer minor units + currency.

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
        CHECK (match_state IN ('unmatched', 'suggested', 'matched', 'ignored')),
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
        CHECK (state IN ('suggested', 'approved', 'applying', 'applied', 'failed', 'rejected', 'undone')),
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

-- The payment outbox: a row is written before the call to WHMCS, with an idempotency key that
-- WHMCS receives as the payment's transaction id, so a crash never applies a payment twice.
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
    version integer NOT NULL CHECK (version >= 1),
    updated_at timestamptz NOT NULL
);
