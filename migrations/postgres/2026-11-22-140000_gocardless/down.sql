DROP INDEX transactions_bank_account_date;
DROP TABLE bank_pending_transactions;
DROP TABLE bank_account_sync;
