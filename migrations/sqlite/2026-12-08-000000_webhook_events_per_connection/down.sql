-- Back to one delivery per provider and event id: of deliveries sharing an event id, the
-- earliest received is kept.
CREATE TABLE webhook_events_old (
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

INSERT OR IGNORE INTO webhook_events_old
    (id, tenant_id, provider, event_id, event_type, payload, received_at, processed_at)
SELECT id, tenant_id, provider, event_id, event_type, payload, received_at, processed_at
FROM webhook_events
ORDER BY received_at, id;

DROP TABLE webhook_events;

ALTER TABLE webhook_events_old RENAME TO webhook_events;
