DROP TABLE tenant_settings;
DROP TABLE payment_applications;
DROP TABLE match_allocations;
DROP TABLE matches;
DROP TABLE invoices;
DROP TABLE stripe_payouts;
DROP TABLE transactions;
