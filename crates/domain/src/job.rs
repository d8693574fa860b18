//! Background jobs: work queued for a worker, claimed under a lease.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{JobId, TenantId};

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Waiting for its `run_at`.
    Queued,
    /// Claimed by a worker whose lease has not expired.
    Running,
    /// Done.
    Succeeded,
    /// Out of attempts.
    Failed,
}

impl JobStatus {
    /// The stored word.
    #[must_use]
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    /// Parses the stored word.
    #[must_use]
    pub fn parse(word: &str) -> Option<Self> {
        [Self::Queued, Self::Running, Self::Succeeded, Self::Failed]
            .into_iter()
            .find(|s| s.as_str() == word)
    }
}

/// A job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// Its id.
    pub id: JobId,
    /// The tenant it works for; `None` for platform work (pruning, say).
    pub tenant_id: Option<TenantId>,
    /// What to do (`sync_bank_account`, `apply_payments` ...).
    pub kind: String,
    /// Its arguments, a JSON document.
    pub payload: String,
    /// Where it is.
    pub status: JobStatus,
    /// When it may run.
    pub run_at: DateTime<Utc>,
    /// Attempts started so far.
    pub attempts: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// The worker holding it, while running.
    pub locked_by: Option<String>,
    /// The last failure.
    pub last_error: Option<String>,
}

/// The first retry waits this long; each further one twice as long as the one before.
pub const RETRY_BASE: chrono::TimeDelta = chrono::TimeDelta::seconds(30);
/// No retry waits longer than this.
pub const RETRY_CAP: chrono::TimeDelta = chrono::TimeDelta::hours(6);

/// How long to wait before retrying a job whose `attempts`-th attempt just failed: exponential
/// backoff (30 s, 1 min, 2 min, ...) capped at six hours. Jitter, if wanted, is the caller's: the
/// domain draws no random numbers.
#[must_use]
pub fn retry_delay(attempts: u32) -> chrono::TimeDelta {
    let doublings = attempts.saturating_sub(1).min(20);
    RETRY_BASE
        .checked_mul(1_i32 << doublings)
        .map_or(RETRY_CAP, |delay| delay.min(RETRY_CAP))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_up_to_the_cap() {
        assert_eq!(retry_delay(0), RETRY_BASE);
        assert_eq!(retry_delay(1), RETRY_BASE);
        assert_eq!(retry_delay(2), chrono::TimeDelta::minutes(1));
        assert_eq!(retry_delay(3), chrono::TimeDelta::minutes(2));
        assert_eq!(retry_delay(10), chrono::TimeDelta::seconds(30 * 512));
        assert_eq!(retry_delay(11), RETRY_CAP);
        assert_eq!(retry_delay(u32::MAX), RETRY_CAP);
    }

    #[test]
    fn job_statuses_round_trip_through_their_stored_words() {
        for status in [
            JobStatus::Queued,
            JobStatus::Running,
            JobStatus::Succeeded,
            JobStatus::Failed,
        ] {
            assert_eq!(JobStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(JobStatus::parse("done"), None);
    }
}
