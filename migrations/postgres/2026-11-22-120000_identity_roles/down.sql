ALTER TABLE users DROP CONSTRAINT users_role_check;
UPDATE users SET role = CASE role
    WHEN 'system_admin' THEN 'platform_admin'
    WHEN 'financial_admin' THEN 'admin'
    WHEN 'account_manager' THEN 'operator'
    ELSE 'viewer'
END;
ALTER TABLE users ADD CONSTRAINT users_role_check
    CHECK (role IN ('platform_admin', 'owner', 'admin', 'operator', 'viewer'));
