//! The one error type of the storage ports.

/// Why a storage operation failed.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum StoreError {
    /// The row does not exist (or belongs to another tenant, which is the same thing to the caller).
    #[error("not found")]
    NotFound,
    /// A uniqueness rule rejected the write; the payload names the rule (e.g. `users.email`).
    #[error("duplicate {0}")]
    Duplicate(String),
    /// The write contradicts other stored data: a missing parent row, a check constraint, a state
    /// that does not allow it. The payload says which.
    #[error("conflict: {0}")]
    Conflict(String),
    /// Optimistic concurrency: the row changed since the caller read it (its version moved on).
    #[error("stale version")]
    StaleVersion,
    /// The requested state change is not allowed from the row's current state.
    #[error("invalid transition from {from} to {to}")]
    InvalidTransition {
        /// The current state.
        from: String,
        /// The requested state.
        to: String,
    },
    /// The database cannot be reached, timed out, or failed in a way worth retrying.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// A stored value could not be turned back into a domain value.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// The adapter was configured wrongly (bad URL, unknown scheme).
    #[error("invalid storage configuration: {0}")]
    Config(String),
}
