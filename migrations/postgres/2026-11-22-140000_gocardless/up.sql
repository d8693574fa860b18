-- Open banking (GoCardless): each account's sync state and budget, and pending transactions kept
-- apart from the booked ones (never matched until the bank books them).

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
