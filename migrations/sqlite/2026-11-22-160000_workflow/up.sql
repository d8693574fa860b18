-- The reconciliation workflow: WHMCS instance options, remembered payers, retry times of the
-- payment outbox, notes on matches (failure reasons, undo instructions) and the tenant's
-- preferred payment gateway.

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
