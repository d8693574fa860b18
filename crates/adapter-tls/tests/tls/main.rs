//! Outgoing TLS against a test PKI made at test time: client identities and their rotation, and
//! outbound connections with pinning.

mod common;
mod identity;
mod outbound;
