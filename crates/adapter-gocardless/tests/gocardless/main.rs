//! The GoCardless adapter against a mock GoCardless, one module per part: the token lifecycle,
//! linking a bank, and account data.

mod account_data;
mod common;
mod linking;
mod tokens;
