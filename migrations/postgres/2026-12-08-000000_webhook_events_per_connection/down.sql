-- Back to one delivery per provider and event id: of deliveries sharing an event id, the
-- earliest received is kept.
DROP INDEX webhook_events_unaddressed_event_key;
DROP INDEX webhook_events_connection_event_key;

DELETE FROM webhook_events w
USING webhook_events earlier
WHERE earlier.provider = w.provider
  AND earlier.event_id = w.event_id
  AND (earlier.received_at, earlier.id) < (w.received_at, w.id);

ALTER TABLE webhook_events ADD CONSTRAINT webhook_events_provider_event_id_key
    UNIQUE (provider, event_id);

ALTER TABLE webhook_events DROP COLUMN connection_id;
