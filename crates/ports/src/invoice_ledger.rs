//! The invoice ledger port: reading open invoices from the billing system and recording payments
//! against them.
