//! See the crate description.

pub mod banking;
pub mod identity;
pub mod jobs;
