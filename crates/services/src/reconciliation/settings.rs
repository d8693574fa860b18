//! The tenant's reconciliation settings: automatic application, thresholds, fee tolerance and
//! the gateway payments are recorded under.

use std::sync::Arc;

use payymo_domain::matching::Confidence;
use payymo_domain::tenant::ReconciliationSettings;
use payymo_ports::storage::{TenantStore, WhmcsInstanceStore};
use serde_json::json;

use super::instances::checked_gateway;
use super::trail::Trail;
use super::{Caller, DEFAULT_GATEWAY, ReconciliationError, ReconciliationPorts};

/// A change of the reconciliation settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsUpdate {
    /// The version read (0 when never saved); a stale one is refused.
    pub version: u32,
    /// Apply `auto` matches without a person.
    pub auto_apply: bool,
    /// The confidence from which a match is `auto`.
    pub auto_threshold: Confidence,
    /// Fee tolerance, absolute part, in hundredths of the major unit.
    pub fee_tolerance_hundredths: i64,
    /// Fee tolerance, relative part, in basis points of the balance.
    pub fee_tolerance_basis_points: u32,
    /// Whether a partial payment its invoice's client names exactly may be applied
    /// automatically; `None` keeps the current choice.
    pub auto_partial_payments: Option<bool>,
    /// Whether a payment short by no more than the fee tolerance closes its invoice (the
    /// shortfall recorded as fees); `None` keeps the current choice.
    pub fees_close_invoice: Option<bool>,
    /// The gateway card (Stripe) money is recorded under; `None` keeps the current one.
    pub card_gateway: Option<String>,
    /// The gateway payments are recorded under.
    pub gateway: String,
}

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

/// Reads and changes the tenant's reconciliation settings.
#[derive(Clone)]
pub struct SettingsEditor {
    tenants: Arc<dyn TenantStore>,
    whmcs: Arc<dyn WhmcsInstanceStore>,
    trail: Trail,
}

impl std::fmt::Debug for SettingsEditor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SettingsEditor").finish_non_exhaustive()
    }
}

impl SettingsEditor {
    /// The use case over its ports: tenants, WHMCS instances (the gateway preference), audit
    /// log, clock and ids.
    #[must_use]
    pub fn from_ports(ports: &ReconciliationPorts) -> Self {
        Self {
            tenants: Arc::clone(&ports.tenants),
            whmcs: Arc::clone(&ports.whmcs),
            trail: Trail::from_ports(ports),
        }
    }

    /// The tenant's reconciliation settings and their version.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn settings(&self, caller: &Caller) -> Result<SettingsView, ReconciliationError> {
        let (settings, version) = self.tenants.get_settings(caller.tenant).await?;
        let gateway = self
            .whmcs
            .get_gateway_preference(caller.tenant)
            .await?
            .unwrap_or_else(|| DEFAULT_GATEWAY.to_owned());
        Ok(SettingsView {
            settings,
            version,
            gateway,
        })
    }

    /// Saves the settings if `update.version` is still current.
    ///
    /// # Errors
    /// [`ReconciliationError::StaleVersion`] when someone saved in between;
    /// [`ReconciliationError::Invalid`] for values out of range.
    pub async fn update_settings(
        &self,
        caller: &Caller,
        update: SettingsUpdate,
    ) -> Result<SettingsView, ReconciliationError> {
        let gateway = checked_gateway(&update.gateway)?;
        if !(0..=10_000_000).contains(&update.fee_tolerance_hundredths) {
            return Err(ReconciliationError::Invalid {
                field: "fee_tolerance_hundredths",
                message: "must be between 0 and 10000000".into(),
            });
        }
        if update.fee_tolerance_basis_points > 5_000 {
            return Err(ReconciliationError::Invalid {
                field: "fee_tolerance_basis_points",
                message: "must be between 0 and 5000".into(),
            });
        }
        let (current, _) = self.tenants.get_settings(caller.tenant).await?;
        if update.auto_threshold <= current.matching.review_threshold {
            return Err(ReconciliationError::Invalid {
                field: "auto_threshold",
                message: format!(
                    "must be above the review threshold {}",
                    current.matching.review_threshold
                ),
            });
        }
        let mut next: ReconciliationSettings = current;
        next.auto_apply = update.auto_apply;
        next.matching.auto_threshold = update.auto_threshold;
        next.matching.fee_tolerance_hundredths = update.fee_tolerance_hundredths;
        next.matching.fee_tolerance_basis_points = update.fee_tolerance_basis_points;
        if let Some(partial) = update.auto_partial_payments {
            next.matching.auto_partial_payments = partial;
        }
        if let Some(close) = update.fees_close_invoice {
            next.fees_close_invoice = close;
        }
        if let Some(card) = &update.card_gateway {
            next.card_gateway =
                checked_gateway(card).map_err(|_| ReconciliationError::Invalid {
                    field: "card_gateway",
                    message: "a WHMCS gateway system name: letters, digits, '_' or '-'".into(),
                })?;
        }
        let now = self.trail.now();
        let version = self
            .tenants
            .put_settings(caller.tenant, &next, update.version, now)
            .await?;
        self.whmcs
            .put_gateway_preference(caller.tenant, &gateway, now)
            .await?;
        self.trail.audit(
            caller,
            "reconciliation.settings_updated",
            None,
            json!({"auto_apply": next.auto_apply, "auto_threshold": next.matching.auto_threshold.to_string(),
                   "fee_tolerance_hundredths": next.matching.fee_tolerance_hundredths,
                   "fee_tolerance_basis_points": next.matching.fee_tolerance_basis_points,
                   "auto_partial_payments": next.matching.auto_partial_payments,
                   "fees_close_invoice": next.fees_close_invoice,
                   "card_gateway": next.card_gateway,
                   "gateway": gateway, "version": version}),
        )
        .await;
        Ok(SettingsView {
            settings: next,
            version,
            gateway,
        })
    }
}
