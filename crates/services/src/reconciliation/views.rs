//! What the lists show: invoices with what was matched to them, matches with their
//! applications and notes, and the settings.

use payymo_domain::ids::{InvoiceId, MatchId};
use payymo_domain::invoice::Invoice;
use payymo_domain::match_lifecycle::MatchState;
use payymo_domain::outbox::PaymentApplication;
use payymo_domain::tenant::ReconciliationSettings;
use payymo_ports::storage::{InvoiceAllocationView, MatchNotes, StoredMatch};

use super::{Caller, ReconciliationError, ReconciliationService};

/// The reconciliation settings with their version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsView {
    /// The settings.
    pub settings: ReconciliationSettings,
    /// Their version (0 when never saved).
    pub version: u32,
    /// The gateway payments are recorded under.
    pub gateway: String,
}

/// An invoice with what Payymo matched to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceItem {
    /// The invoice as cached.
    pub invoice: Invoice,
    /// The matches allocating money to it.
    pub matches: Vec<InvoiceAllocationView>,
}

/// A match with its payment applications and notes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchItem {
    /// The match.
    pub stored: StoredMatch,
    /// Its payment applications (empty until accepted).
    pub applications: Vec<PaymentApplication>,
    /// Failure reason and undo instructions.
    pub notes: MatchNotes,
}

impl ReconciliationService {
    /// A page of the tenant's open and recently paid invoices (newest first), each with the
    /// matches that allocate money to it.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn list_invoices(
        &self,
        caller: &Caller,
        after: Option<InvoiceId>,
        limit: u32,
    ) -> Result<Vec<InvoiceItem>, ReconciliationError> {
        let since = self.now() - self.config.paid_window;
        let invoices = self
            .ports
            .workflow
            .list_invoices(caller.tenant, since, after, limit)
            .await?;
        let allocations = self
            .ports
            .workflow
            .allocations_of_invoices(caller.tenant, invoices.iter().map(|i| i.id).collect())
            .await?;
        Ok(invoices
            .into_iter()
            .map(|invoice| InvoiceItem {
                matches: allocations
                    .iter()
                    .filter(|a| a.invoice_id == invoice.id)
                    .cloned()
                    .collect(),
                invoice,
            })
            .collect())
    }

    /// A page of the tenant's matches in `states` (all when empty), newest first, with their
    /// applications and notes.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn list_matches(
        &self,
        caller: &Caller,
        states: Vec<MatchState>,
        after: Option<MatchId>,
        limit: u32,
    ) -> Result<Vec<MatchItem>, ReconciliationError> {
        let matches = self
            .ports
            .workflow
            .list_matches(caller.tenant, states, after, limit)
            .await?;
        let notes = self
            .ports
            .workflow
            .notes_of_matches(caller.tenant, matches.iter().map(|m| m.id).collect())
            .await?;
        let mut out = Vec::with_capacity(matches.len());
        for stored in matches {
            let applications = self
                .ports
                .matches
                .list_applications(caller.tenant, stored.id)
                .await?;
            let notes = notes
                .iter()
                .find(|(id, _)| *id == stored.id)
                .map(|(_, n)| n.clone())
                .unwrap_or_default();
            out.push(MatchItem {
                stored,
                applications,
                notes,
            });
        }
        Ok(out)
    }

    /// One match with its applications and notes.
    ///
    /// # Errors
    /// [`ReconciliationError::NotFound`].
    pub async fn get_match(
        &self,
        caller: &Caller,
        id: MatchId,
    ) -> Result<MatchItem, ReconciliationError> {
        let stored = self.ports.matches.get_match(caller.tenant, id).await?;
        let applications = self
            .ports
            .matches
            .list_applications(caller.tenant, id)
            .await?;
        let notes = self
            .ports
            .workflow
            .notes_of_matches(caller.tenant, vec![id])
            .await?
            .into_iter()
            .next()
            .map(|(_, n)| n)
            .unwrap_or_default();
        Ok(MatchItem {
            stored,
            applications,
            notes,
        })
    }
}
