DROP INDEX stripe_payouts_list;
DROP TABLE stripe_payments;
ALTER TABLE stripe_connections DROP COLUMN last_sync_error;
ALTER TABLE stripe_connections DROP COLUMN last_synced_at;
ALTER TABLE stripe_connections DROP COLUMN webhook_secret_previous_encrypted;
