-- A provider's event id is unique per connection, not per provider: Stripe sends the same event
-- (same id) to every endpoint subscribed to an account, so two tenants connected to one Stripe
-- account each receive it, and each must record it.
--
-- Deliveries stored before this change have no connection (NULL); among those the event id stays
-- unique per provider.
ALTER TABLE webhook_events ADD COLUMN connection_id uuid;

ALTER TABLE webhook_events DROP CONSTRAINT webhook_events_provider_event_id_key;

CREATE UNIQUE INDEX webhook_events_connection_event_key
    ON webhook_events (provider, connection_id, event_id);

CREATE UNIQUE INDEX webhook_events_unaddressed_event_key
    ON webhook_events (provider, event_id)
    WHERE connection_id IS NULL;
