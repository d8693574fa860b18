//! See the crate description.

pub mod banking;
pub mod identity;
pub mod jobs;
pub mod keys;
pub mod licences;
pub mod overview;
pub mod reconciliation;
pub mod stripe;
