//! The lifecycle of a stored match, as one state machine:
//! `suggested -> approved -> applying -> applied | failed`, `suggested -> rejected`,
//! `applied -> undone`, `undone | failed -> released`. Storage enforces it atomically with a version check; this is the one place
//! that says which moves are legal.

use serde::{Deserialize, Serialize};

/// The state of a stored match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchState {
    /// Proposed by the engine, waiting for a decision.
    Suggested,
    /// Accepted (by a person, or automatically); payments not yet recorded.
    Approved,
    /// Payments recorded in the outbox and being applied to the ledger.
    Applying,
    /// Every payment applied.
    Applied,
    /// Applying failed for good; a person must look.
    Failed,
    /// Turned down.
    Rejected,
    /// Applied, then reversed.
    Undone,
    /// Undone or failed, and a person confirmed that the WHMCS side is cleaned up: the
    /// transaction is free to be matched again, by hand or as a suggestion (never automatically).
    Released,
}

impl MatchState {
    /// All states.
    pub const ALL: [Self; 8] = [
        Self::Suggested,
        Self::Approved,
        Self::Applying,
        Self::Applied,
        Self::Failed,
        Self::Rejected,
        Self::Undone,
        Self::Released,
    ];

    /// The stored word.
    #[must_use]
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::Suggested => "suggested",
            Self::Approved => "approved",
            Self::Applying => "applying",
            Self::Applied => "applied",
            Self::Failed => "failed",
            Self::Rejected => "rejected",
            Self::Undone => "undone",
            Self::Released => "released",
        }
    }

    /// Parses the stored word.
    #[must_use]
    pub fn parse(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == word)
    }

    /// Whether a match in this state may move to `next`.
    #[must_use]
    pub const fn can_become(self, next: Self) -> bool {
        matches!(
            (self, next),
            (Self::Suggested, Self::Approved | Self::Rejected)
                | (Self::Approved, Self::Applying)
                | (Self::Applying, Self::Applied | Self::Failed)
                | (Self::Applied, Self::Undone)
                | (Self::Undone | Self::Failed, Self::Released)
        )
    }

    /// The states from which a match may move to `next` (what storage checks in its `WHERE`).
    #[must_use]
    pub fn predecessors(next: Self) -> Vec<Self> {
        Self::ALL
            .into_iter()
            .filter(|s| s.can_become(next))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_documented_moves_are_legal() {
        use MatchState::*;
        let legal = [
            (Suggested, Approved),
            (Suggested, Rejected),
            (Approved, Applying),
            (Applying, Applied),
            (Applying, Failed),
            (Applied, Undone),
            (Undone, Released),
            (Failed, Released),
        ];
        for from in MatchState::ALL {
            for to in MatchState::ALL {
                assert_eq!(
                    from.can_become(to),
                    legal.contains(&(from, to)),
                    "{from:?} -> {to:?}"
                );
            }
        }
        assert_eq!(MatchState::predecessors(Applied), vec![Applying]);
        for state in MatchState::ALL {
            assert_eq!(MatchState::parse(state.as_str()), Some(state));
        }
    }
}
