//! The payment gateway port: reading card payments, their fees and the payouts that carry them to
//! the bank.
