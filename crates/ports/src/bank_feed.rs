//! The bank feed port: reading institutions, consents, accounts and transactions from an
//! open-banking provider.
