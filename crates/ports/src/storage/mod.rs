//! The storage ports: every piece of Payymo's state is read and written through these traits.
//!
//! Architecture invariant: every method that touches tenant data takes the [`TenantId`] as a
//! parameter and only ever sees that tenant's rows, so cross-tenant access cannot be expressed by
//! accident. The few lookups that must work before a tenant is known (login by e-mail, a refresh
//! token, an API key prefix, a licence key) are keyed by a secret's hash and return the owning
//! tenant with the row.
//!
//! All traits share one error type, [`StoreError`]; adapters map their driver errors to it and never
//! let a driver type through.
//!
//! [`TenantId`]: payymo_domain::ids::TenantId

mod error;

pub use error::StoreError;
mod connections;
mod encrypted;
mod identity;
mod invoices;
mod matches;
mod payers;
mod transactions;
mod whmcs;
mod work;

pub use connections::{ConnectionStore, PayoutStore};
#[cfg(feature = "mock")]
pub use connections::{MockConnectionStore, MockPayoutStore};
#[cfg(feature = "mock")]
pub use encrypted::MockEncryptedFieldStore;
pub use encrypted::{EncryptedColumn, EncryptedFieldStore, EncryptedValue};
pub use identity::{
    AuditLog, AuditQuery, CredentialStore, LicenceChange, MfaState, MfaStore, Rotation,
    SessionStore, TenantStore, UserStore,
};
#[cfg(feature = "mock")]
pub use identity::{
    MockAuditLog, MockCredentialStore, MockMfaStore, MockSessionStore, MockTenantStore,
    MockUserStore,
};
#[cfg(feature = "mock")]
pub use invoices::MockInvoiceStore;
pub use invoices::{InvoiceAllocationView, InvoiceListQuery, InvoiceScope, InvoiceStore};
#[cfg(feature = "mock")]
pub use matches::MockMatchStore;
pub use matches::{MatchNotes, MatchStore, OpenWork, StoredMatch};
pub use payers::KnownPayerStore;
#[cfg(feature = "mock")]
pub use payers::MockKnownPayerStore;
#[cfg(feature = "mock")]
pub use transactions::MockTransactionStore;
pub use transactions::{
    IngestReport, NewTransaction, TransactionListQuery, TransactionMatchState, TransactionPage,
    TransactionStore,
};
#[cfg(feature = "mock")]
pub use whmcs::MockWhmcsInstanceStore;
pub use whmcs::{WhmcsInstanceStore, WhmcsOptions};
pub use work::{JobQueue, NewJob, WebhookEvent, WebhookInbox};
mod platform;
#[cfg(feature = "mock")]
pub use platform::MockPlatformStats;
pub use platform::{PlatformCounts, PlatformStats};
mod banking;
#[cfg(feature = "mock")]
pub use banking::MockBankingStore;
pub use banking::{
    BankAccountSyncState, BankTransactionFilter, BankingStore, ListedBankTransaction,
    PendingBankTransaction,
};
#[cfg(feature = "mock")]
pub use work::MockJobQueue;
mod schedule;
#[cfg(feature = "mock")]
pub use schedule::MockSyncTargets;
pub use schedule::{SyncTarget, SyncTargetKind, SyncTargets};
mod stripe;

#[cfg(feature = "mock")]
pub use stripe::MockStripeStore;
pub use stripe::{
    CardPayment, StripeAccountSummary, StripePaymentFilter, StripePaymentListing,
    StripePaymentRecord, StripePaymentReview, StripePayoutFilter, StripeStore,
};
mod overview;
#[cfg(feature = "mock")]
pub use overview::MockOverviewStore;
pub use overview::{OverviewFacts, OverviewStore};
