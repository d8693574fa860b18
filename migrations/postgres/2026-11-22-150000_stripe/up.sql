-- Stripe: webhook secret rotation and sync status on connections, and the payments synced from
-- Stripe with their fee, net, refund and dispute state. Money is integer minor units + currency.

-- While a webhook secret is rotated, deliveries signed with the previous one are still accepted.
ALTER TABLE stripe_connections ADD COLUMN webhook_secret_previous_encrypted bytea;
ALTER TABLE stripe_connections ADD COLUMN last_synced_at timestamptz;
ALTER TABLE stripe_connections ADD COLUMN last_sync_error text;

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
