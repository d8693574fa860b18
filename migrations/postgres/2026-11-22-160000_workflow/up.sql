-- The reconciliation workflow: WHMCS instance options, remembered payers, retry times of the
-- payment outbox, notes on matches (failure reasons, undo instructions) and the tenant's
-- preferred payment gateway.

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
