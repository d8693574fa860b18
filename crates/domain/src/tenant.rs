//! A tenant (one customer organisation) and its reconciliation settings.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::TenantId;
use crate::matching::MatchSettings;

/// Whether a tenant may use Payymo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TenantStatus {
    /// In use.
    Active,
    /// Locked out by the platform (unpaid, abuse); data kept.
    Suspended,
}

impl TenantStatus {
    /// The stored word.
    #[must_use]
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
        }
    }

    /// Parses the stored word.
    #[must_use]
    pub fn parse(word: &str) -> Option<Self> {
        [Self::Active, Self::Suspended]
            .into_iter()
            .find(|s| s.as_str() == word)
    }
}

/// A tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    /// Its id.
    pub id: TenantId,
    /// Display name (1..=200 characters).
    pub name: String,
    /// Active or suspended.
    pub status: TenantStatus,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// A tenant's reconciliation settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconciliationSettings {
    /// The matching engine's thresholds and tolerances.
    pub matching: MatchSettings,
    /// Whether matches the engine rates `auto` are applied without a person approving them.
    pub auto_apply: bool,
    /// Whether a payment short of its invoice by no more than the fee tolerance closes the
    /// invoice in the ledger (the balance recorded, the shortfall as fees, so the client is not
    /// dunned for bank charges); otherwise only what arrived is recorded.
    pub fees_close_invoice: bool,
    /// The ledger's gateway card money (Stripe) is recorded under: what the ledger's own Stripe
    /// module uses (`stripe` in WHMCS), so that card payments read the same whoever recorded them.
    pub card_gateway: String,
}

impl Default for ReconciliationSettings {
    /// Nothing applied without a person until the tenant turns automatic application on; and
    /// then partial payments still wait for a person unless the tenant allows them too (an
    /// amount that does not fit its invoice is a bookkeeper's call by default).
    fn default() -> Self {
        Self {
            matching: MatchSettings {
                auto_partial_payments: false,
                ..MatchSettings::default()
            },
            auto_apply: false,
            fees_close_invoice: true,
            card_gateway: "stripe".to_owned(),
        }
    }
}
