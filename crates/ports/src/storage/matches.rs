//! Matches, their lifecycle and notes, and the payment outbox they feed.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use payymo_domain::ids::{ApplicationId, MatchId, TenantId, TransactionId};
use payymo_domain::match_lifecycle::MatchState;
use payymo_domain::matching::{Allocation, Confidence, Reason};
use payymo_domain::outbox::PaymentApplication;

use super::StoreError;

/// A stored match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMatch {
    /// Its id.
    pub id: MatchId,
    /// The tenant.
    pub tenant_id: TenantId,
    /// The transaction matched.
    pub transaction_id: TransactionId,
    /// Where it is in its lifecycle.
    pub state: MatchState,
    /// The engine's confidence.
    pub confidence: Confidence,
    /// Why the engine (or a person) matched it, in the engine's order.
    pub reasons: Vec<Reason>,
    /// How the transaction's money is split over invoices (read back ordered by invoice id).
    pub allocations: Vec<Allocation>,
    /// The optimistic-concurrency version; every transition increments it.
    pub version: u32,
    /// Who made the last decision.
    pub decided_by: Option<String>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// Notes a person needs on a match.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MatchNotes {
    /// Why applying failed.
    pub failure_reason: Option<String>,
    /// What to do by hand in WHMCS after an undo.
    pub undo_instructions: Option<String>,
}

/// A match the payment applier must look at: approved (outbox not yet written) or applying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenWork {
    /// The tenant.
    pub tenant_id: TenantId,
    /// The match.
    pub match_id: MatchId,
    /// Its state.
    pub state: MatchState,
}

/// Matches, their lifecycle, and the payment outbox they feed.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait MatchStore: Send + Sync {
    /// Stores a new match (state and version as given, usually `Suggested` and 1) with its
    /// allocations, and marks the transaction suggested or matched.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the transaction or an invoice is not the tenant's, or an
    /// allocation is not positive; [`StoreError::Duplicate`] when the transaction already has an
    /// accepted match.
    async fn create_match(&self, stored: &StoredMatch) -> Result<(), StoreError>;

    /// The match, within the tenant.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such match.
    async fn get_match(&self, tenant: TenantId, id: MatchId) -> Result<StoredMatch, StoreError>;

    /// Moves the match to `to` if it is still at `expected_version` and the move is legal
    /// ([`MatchState::can_become`]), atomically; returns it as updated. Of several concurrent
    /// callers holding the same version exactly one succeeds. Moving to `Applying` also records
    /// one payment application per allocation in the outbox, in the same transaction (ids from
    /// `application_ids`, in allocation order, i.e. by invoice id), so the payments are known
    /// before any call to the ledger. Moving to `Applied` requires every application applied.
    /// The transaction's match state follows (suggested, matched, or back to unmatched after a
    /// rejection, failure or undo).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such match; [`StoreError::StaleVersion`]
    /// when it changed since `expected_version`; [`StoreError::InvalidTransition`] when the move
    /// is not allowed from its state; [`StoreError::Duplicate`] when accepting it would give the
    /// transaction a second accepted match; [`StoreError::Conflict`] when `application_ids` does
    /// not hold one id per allocation, or `Applied` is asked while an application is unsettled.
    #[expect(
        clippy::too_many_arguments,
        reason = "tenant, id, version, target, actor, outbox ids and time are all part of the move"
    )]
    async fn transition_match(
        &self,
        tenant: TenantId,
        id: MatchId,
        expected_version: u32,
        to: MatchState,
        actor: &str,
        application_ids: Vec<ApplicationId>,
        now: DateTime<Utc>,
    ) -> Result<StoredMatch, StoreError>;

    /// The match's payment applications.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn list_applications(
        &self,
        tenant: TenantId,
        id: MatchId,
    ) -> Result<Vec<PaymentApplication>, StoreError>;

    /// Payment applications not settled (pending, or sending and untouched since `stale_before`),
    /// oldest first, of every tenant: the outbox dispatcher's work, and its recovery after a
    /// crash (a `sending` row older than `stale_before` is one whose dispatcher died mid-call).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn list_unsettled_applications(
        &self,
        stale_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<PaymentApplication>, StoreError>;

    /// Marks the start of a call to the ledger (pending or stale sending -> sending, attempts +1).
    /// Only one caller wins; the others get [`StoreError::StaleVersion`].
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for an unknown application; [`StoreError::StaleVersion`] when it is
    /// settled or another dispatcher holds it.
    async fn begin_application_attempt(
        &self,
        tenant: TenantId,
        id: ApplicationId,
        stale_before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<PaymentApplication, StoreError>;

    /// Settles an application: applied with the ledger's reference, or failed with the reason.
    /// Settling an applied one again with the same reference is a no-op that returns it.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for an unknown application; [`StoreError::InvalidTransition`]
    /// when it is not sending.
    async fn settle_application(
        &self,
        tenant: TenantId,
        id: ApplicationId,
        outcome: Result<String, String>,
        now: DateTime<Utc>,
    ) -> Result<PaymentApplication, StoreError>;

    /// A page of the tenant's matches in one of `states` (all states when empty); newest first,
    /// after `after` (exclusive), at most `limit` (capped at 501).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn list_matches(
        &self,
        tenant: TenantId,
        states: Vec<MatchState>,
        after: Option<MatchId>,
        limit: u32,
    ) -> Result<Vec<StoredMatch>, StoreError>;

    /// The tenant's matches of one transaction.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn matches_of_transaction(
        &self,
        tenant: TenantId,
        transaction: TransactionId,
    ) -> Result<Vec<StoredMatch>, StoreError>;

    /// The tenant's matches of several transactions (the decisions taken on them before), in no
    /// particular order.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn matches_of_transactions(
        &self,
        tenant: TenantId,
        transactions: Vec<TransactionId>,
    ) -> Result<Vec<StoredMatch>, StoreError>;

    /// Matches of every tenant that are approved or applying, oldest first: the applier's
    /// recovery after a crash between two steps.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn list_open_work(&self, limit: u32) -> Result<Vec<OpenWork>, StoreError>;

    /// Sets the notes of a match (fields given as `None` are kept).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such match.
    async fn annotate_match(
        &self,
        tenant: TenantId,
        id: MatchId,
        notes: &MatchNotes,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// The notes of these matches (matches without notes are left out).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn notes_of_matches(
        &self,
        tenant: TenantId,
        ids: Vec<MatchId>,
    ) -> Result<Vec<(MatchId, MatchNotes)>, StoreError>;

    /// Gives back an application whose call could not be made now (sending -> pending), with
    /// the error, not to be tried again before `not_before`.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for an unknown application; [`StoreError::InvalidTransition`]
    /// when it is not sending.
    async fn defer_application(
        &self,
        tenant: TenantId,
        id: ApplicationId,
        error: &str,
        not_before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<PaymentApplication, StoreError>;

    /// Unsettled applications of every tenant that are due: pending and past their retry time,
    /// or sending and untouched since `stale_before` (a dispatcher died holding them); oldest
    /// first.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    async fn list_due_applications(
        &self,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<PaymentApplication>, StoreError>;
}
