-- A provider's event id is unique per connection, not per provider: Stripe sends the same event
-- (same id) to every endpoint subscribed to an account, so two tenants connected to one Stripe
-- account each receive it, and each must record it.
--
-- SQLite cannot drop a table constraint: the table is rebuilt. Deliveries stored before this
-- change have no connection (NULL); among those the event id stays unique per provider.
CREATE TABLE webhook_events_new (
    id BLOB PRIMARY KEY CHECK (length(id) = 16),
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    provider TEXT NOT NULL CHECK (provider IN ('stripe', 'gocardless', 'whmcs')),
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    processed_at INTEGER,
    connection_id BLOB CHECK (connection_id IS NULL OR length(connection_id) = 16)
) STRICT;

INSERT INTO webhook_events_new
    (id, tenant_id, provider, event_id, event_type, payload, received_at, processed_at)
SELECT id, tenant_id, provider, event_id, event_type, payload, received_at, processed_at
FROM webhook_events;

DROP TABLE webhook_events;

ALTER TABLE webhook_events_new RENAME TO webhook_events;

CREATE UNIQUE INDEX webhook_events_connection_event_key
    ON webhook_events (provider, connection_id, event_id);

CREATE UNIQUE INDEX webhook_events_unaddressed_event_key
    ON webhook_events (provider, event_id)
    WHERE connection_id IS NULL;
