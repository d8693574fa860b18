//! See the crate description.

pub mod identity;
