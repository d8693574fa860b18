-- Identity roles: the five roles of the access-control model replace the first draft's words.
ALTER TABLE users DROP CONSTRAINT users_role_check;
UPDATE users SET role = CASE role
    WHEN 'platform_admin' THEN 'system_admin'
    WHEN 'owner' THEN 'financial_admin'
    WHEN 'admin' THEN 'financial_admin'
    WHEN 'operator' THEN 'account_manager'
    ELSE 'read_only'
END;
ALTER TABLE users ADD CONSTRAINT users_role_check
    CHECK (role IN ('read_only', 'account_manager', 'financial_admin', 'api_integration', 'system_admin'));
