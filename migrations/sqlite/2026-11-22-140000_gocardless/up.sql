-- Open banking (GoCardless): each account's sync state and budget, and pending transactions kept
-- apart from the booked ones (never matched until the bank books them).

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
