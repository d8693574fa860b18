DROP INDEX matches_one_suggested;
DROP INDEX invoices_tenant_id;
DROP INDEX matches_tenant_id_desc;
DROP TABLE reconciliation_preferences;
DROP TABLE match_notes;
DROP TABLE payment_application_retries;
DROP TABLE known_payers;
DROP TABLE whmcs_instance_options;
