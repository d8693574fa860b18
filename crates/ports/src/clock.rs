//! Time and identifiers come from outside the core so tests can control them.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// The current time. The domain never reads a clock; services ask this port.
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait Clock: Send + Sync {
    /// The current instant in UTC.
    fn now(&self) -> DateTime<Utc>;
}

/// New identifiers (UUID v7: time-ordered, not guessable from a sequence).
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait IdGenerator: Send + Sync {
    /// A fresh, unique id.
    fn new_id(&self) -> Uuid;
}
