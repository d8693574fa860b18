//! See the crate description.

pub mod audit;
pub mod banking;
pub mod identity;
pub mod jobs;
pub mod keys;
pub mod licences;
pub mod overview;
pub mod reconciliation;
#[cfg(test)]
mod schedule_tests;
pub mod stripe;
