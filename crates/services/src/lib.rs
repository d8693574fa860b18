//! See the crate description.

pub mod identity;
pub mod jobs;
pub mod reconciliation;
