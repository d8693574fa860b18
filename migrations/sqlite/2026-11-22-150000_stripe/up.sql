-- Stripe: webhook secret rotation and sync status on connections, and the payments synced from
-- Stripe with their fee, net, refund and dispute state. Money is integer minor units + currency.

-- While a webhook secret is rotated, deliveries signed with the previous one are still accepted.
ALTER TABLE stripe_connections ADD COLUMN webhook_secret_previous_encrypted BLOB;
ALTER TABLE stripe_connections ADD COLUMN last_synced_at INTEGER;
ALTER TABLE stripe_connections ADD COLUMN last_sync_error TEXT;

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
