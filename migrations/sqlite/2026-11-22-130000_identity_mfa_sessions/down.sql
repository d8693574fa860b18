DELETE FROM tenants WHERE id = zeroblob(16)
    AND NOT EXISTS (SELECT 1 FROM audit_events WHERE tenant_id = zeroblob(16));
ALTER TABLE sessions DROP COLUMN ip;
ALTER TABLE sessions DROP COLUMN user_agent;
DROP TABLE recovery_codes;
ALTER TABLE users DROP COLUMN mfa_last_step;
ALTER TABLE users DROP COLUMN mfa_pending_secret_encrypted;
