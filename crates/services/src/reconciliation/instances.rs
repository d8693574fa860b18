//! WHMCS instances: connecting (credentials checked with a real call, the secret encrypted),
//! listing, removing, and syncing their open invoices into the cache.

use std::sync::Arc;

use chrono::Utc;
use payymo_domain::connection::{ConnectionStatus, WhmcsInstance};
use payymo_domain::ids::{ConnectionId, InvoiceId};
use payymo_domain::invoice::Invoice;
use payymo_domain::money::Currency;
use payymo_ports::invoice_ledger::LedgerError;
use payymo_ports::ledger_connector::LedgerCredentials;
use payymo_ports::storage::{InvoiceStore, JobQueue, StoreError, WhmcsOptions};
use secrecy::SecretString;
use serde_json::json;

use super::ledgers::{Ledgers, to_cached};
use super::trail::Trail;
use super::{
    Caller, DEFAULT_GATEWAY, ReconciliationConfig, ReconciliationError, ReconciliationPorts,
};

/// A WHMCS instance to connect.
#[derive(Debug, Clone)]
pub struct NewWhmcsInstance {
    /// A label (defaults to the URL's host).
    pub name: Option<String>,
    /// The WHMCS base URL.
    pub base_url: String,
    /// The API credential's identifier.
    pub api_identifier: String,
    /// The API credential's secret.
    pub api_secret: SecretString,
    /// The gateway payments are recorded under (default `banktransfer`).
    pub gateway: Option<String>,
    /// The currency assumed where WHMCS does not say one.
    pub default_currency: Currency,
}

/// A WHMCS instance as shown (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhmcsInstanceView {
    /// Its id.
    pub id: ConnectionId,
    /// Its label.
    pub name: String,
    /// The base URL.
    pub base_url: String,
    /// The API credential's identifier.
    pub api_identifier: String,
    /// The gateway payments are recorded under.
    pub gateway: String,
    /// The default currency.
    pub default_currency: Currency,
    /// Its health.
    pub status: ConnectionStatus,
    /// When its invoices were last synced.
    pub invoices_synced_at: Option<chrono::DateTime<Utc>>,
}

/// What a sync did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SyncReport {
    /// Open invoices read from WHMCS and stored.
    pub open: usize,
    /// Cached invoices that were open and are no longer (paid, cancelled), refreshed.
    pub closed: usize,
    /// Open invoices that were not open in the cache before (new, or open again): a
    /// reconciliation is queued for them, so that money that came before its invoice is matched.
    pub newly_open: usize,
}

fn valid_gateway(gateway: &str) -> Result<String, ReconciliationError> {
    let gateway = gateway.trim();
    if gateway.is_empty()
        || gateway.len() > 100
        || !gateway
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(ReconciliationError::Invalid {
            field: "gateway",
            message: "a WHMCS gateway system name: 1 to 100 letters, digits, '_' or '-'".into(),
        });
    }
    Ok(gateway.to_owned())
}

pub(super) fn checked_gateway(gateway: &str) -> Result<String, ReconciliationError> {
    valid_gateway(gateway)
}

fn host_of(url: &str) -> String {
    url.split("://")
        .nth(1)
        .unwrap_or(url)
        .split(['/', '?', '#'])
        .next()
        .unwrap_or(url)
        .to_owned()
}

/// WHMCS instances: connecting, listing, removing, and syncing their invoices into the cache.
#[derive(Clone)]
pub struct WhmcsInstances {
    ledgers: Ledgers,
    invoices: Arc<dyn InvoiceStore>,
    jobs: Arc<dyn JobQueue>,
    trail: Trail,
    allow_private_targets: bool,
}

impl std::fmt::Debug for WhmcsInstances {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WhmcsInstances")
            .field("allow_private_targets", &self.allow_private_targets)
            .finish_non_exhaustive()
    }
}

impl WhmcsInstances {
    /// The use case over its ports: WHMCS instances, cipher, WHMCS connector, invoice cache, the
    /// job queue (a reconciliation after a sync that brought open invoices), audit log, clock
    /// and ids.
    #[must_use]
    pub fn from_ports(ports: &ReconciliationPorts, config: &ReconciliationConfig) -> Self {
        Self {
            ledgers: Ledgers::from_ports(ports),
            invoices: Arc::clone(&ports.invoices),
            jobs: Arc::clone(&ports.jobs),
            trail: Trail::from_ports(ports),
            allow_private_targets: config.allow_private_targets,
        }
    }

    /// Connects a WHMCS instance: checks the credential with a real call, then stores it with the
    /// secret encrypted. Reconnecting a removed instance at the same URL replaces its credential.
    ///
    /// # Errors
    /// [`ReconciliationError::Invalid`] for a bad field; [`ReconciliationError::Ledger`] when
    /// WHMCS refuses the credential or cannot be reached; [`ReconciliationError::Conflict`] when
    /// the tenant already has an instance at that URL.
    pub async fn connect_whmcs(
        &self,
        caller: &Caller,
        new: NewWhmcsInstance,
    ) -> Result<WhmcsInstanceView, ReconciliationError> {
        let (base_url, identifier, gateway, name) = validate(&new, self.allow_private_targets)?;
        let credentials = LedgerCredentials {
            base_url: base_url.clone(),
            identifier: identifier.clone(),
            secret: new.api_secret.clone(),
            default_currency: new.default_currency,
        };
        let ledger = self
            .ledgers
            .connector
            .connect(&credentials)
            .map_err(|e| match e {
                LedgerError::Validation { message } => ReconciliationError::Invalid {
                    field: "base_url",
                    message,
                },
                other => ReconciliationError::Ledger(other),
            })?;
        if let Err(e) = ledger.verify_credentials().await {
            self.trail
                .audit(
                    caller,
                    "whmcs.connect_refused",
                    None,
                    json!({"base_url": base_url, "error": e.to_string()}),
                )
                .await;
            return Err(ReconciliationError::Ledger(e));
        }
        let now = self.trail.now();
        let options = WhmcsOptions {
            gateway,
            default_currency: new.default_currency,
            deleted_at: None,
        };
        let id = self
            .store_instance(caller, &base_url, &name, &identifier, &new.api_secret, now)
            .await?;
        self.ledgers
            .instances
            .put_whmcs_options(caller.tenant, id, &options, now)
            .await?;
        self.trail.audit(
            caller,
            "whmcs.connected",
            Some(format!("whmcs_instance:{id}")),
            json!({"base_url": base_url, "api_identifier": identifier, "gateway": options.gateway,
                   "default_currency": options.default_currency.code()}),
        )
        .await;
        self.whmcs_instance(caller.tenant, id).await
    }

    /// Stores a new instance, or gives a removed one at the same URL its new credential.
    async fn store_instance(
        &self,
        caller: &Caller,
        base_url: &str,
        name: &str,
        identifier: &str,
        secret_plain: &SecretString,
        now: chrono::DateTime<Utc>,
    ) -> Result<ConnectionId, ReconciliationError> {
        let existing = self
            .ledgers
            .instances
            .list_whmcs_instances(caller.tenant)
            .await?
            .into_iter()
            .find(|i| i.base_url == base_url);
        if let Some(existing) = existing {
            let old = self
                .ledgers
                .instances
                .get_whmcs_options(caller.tenant, existing.id)
                .await?;
            if old.is_some_and(|o| o.deleted_at.is_none()) {
                return Err(ReconciliationError::Conflict(
                    "a WHMCS instance at this URL is already connected".into(),
                ));
            }
            let secret = self
                .ledgers
                .encrypt_secret(caller.tenant, existing.id, secret_plain)?;
            self.ledgers
                .instances
                .replace_whmcs_credential(caller.tenant, existing.id, name, identifier, secret, now)
                .await?;
            return Ok(existing.id);
        }
        let id = ConnectionId::from_uuid(self.trail.new_id());
        let secret = self
            .ledgers
            .encrypt_secret(caller.tenant, id, secret_plain)?;
        let instance = WhmcsInstance {
            id,
            tenant_id: caller.tenant,
            name: name.to_owned(),
            base_url: base_url.to_owned(),
            api_identifier: identifier.to_owned(),
            api_secret_encrypted: secret,
            status: ConnectionStatus::Active,
            invoices_synced_at: None,
        };
        match self
            .ledgers
            .instances
            .create_whmcs_instance(&instance, now)
            .await
        {
            Ok(()) => Ok(id),
            Err(StoreError::Duplicate(_)) => Err(ReconciliationError::Conflict(
                "a WHMCS instance at this URL is already connected".into(),
            )),
            Err(e) => Err(e.into()),
        }
    }

    async fn whmcs_instance(
        &self,
        tenant: payymo_domain::ids::TenantId,
        id: ConnectionId,
    ) -> Result<WhmcsInstanceView, ReconciliationError> {
        let instance = self
            .ledgers
            .instances
            .get_whmcs_instance(tenant, id)
            .await?;
        let options = self.ledgers.instances.get_whmcs_options(tenant, id).await?;
        if options.as_ref().is_some_and(|o| o.deleted_at.is_some()) {
            return Err(ReconciliationError::NotFound);
        }
        Ok(view(instance, options))
    }

    /// The tenant's connected WHMCS instances, oldest first.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn list_whmcs(
        &self,
        caller: &Caller,
    ) -> Result<Vec<WhmcsInstanceView>, ReconciliationError> {
        let mut out = Vec::new();
        for instance in self
            .ledgers
            .instances
            .list_whmcs_instances(caller.tenant)
            .await?
        {
            let options = self
                .ledgers
                .instances
                .get_whmcs_options(caller.tenant, instance.id)
                .await?;
            if options.as_ref().is_some_and(|o| o.deleted_at.is_some()) {
                continue;
            }
            out.push(view(instance, options));
        }
        Ok(out)
    }

    /// Removes a WHMCS instance: it is disabled and hidden; its invoices and matches stay for
    /// the record.
    ///
    /// # Errors
    /// [`ReconciliationError::NotFound`] for an unknown (or another tenant's) instance.
    pub async fn remove_whmcs(
        &self,
        caller: &Caller,
        id: ConnectionId,
    ) -> Result<(), ReconciliationError> {
        let current = self.whmcs_instance(caller.tenant, id).await?;
        let now = self.trail.now();
        self.ledgers
            .instances
            .put_whmcs_options(
                caller.tenant,
                id,
                &WhmcsOptions {
                    gateway: current.gateway,
                    default_currency: current.default_currency,
                    deleted_at: Some(now),
                },
                now,
            )
            .await?;
        self.ledgers
            .instances
            .set_whmcs_status(caller.tenant, id, ConnectionStatus::Disabled, now)
            .await?;
        self.trail
            .audit(
                caller,
                "whmcs.removed",
                Some(format!("whmcs_instance:{id}")),
                json!({"base_url": current.base_url}),
            )
            .await;
        Ok(())
    }

    /// Syncs an instance's open invoices into the cache, and refreshes cached invoices that are
    /// no longer open in WHMCS (so that paid ones show as paid).
    ///
    /// # Errors
    /// [`ReconciliationError::NotFound`] for an unknown instance; [`ReconciliationError::Ledger`]
    /// when WHMCS fails (the instance is marked failing when it refuses the credential or cannot
    /// be reached, and active again by the next successful sync).
    pub async fn sync_invoices(
        &self,
        caller: &Caller,
        id: ConnectionId,
    ) -> Result<SyncReport, ReconciliationError> {
        self.whmcs_instance(caller.tenant, id).await?;
        let (ledger, _) = self.ledgers.ledger_for(caller.tenant, id).await?;
        let open = match ledger.list_open_invoices().await {
            Ok(open) => open,
            Err(e) => {
                // A refused credential or an unreachable WHMCS both need attention (the
                // dashboard's overview lists failing connections); the next good sync clears it.
                if e.is_configuration() || e.is_retryable() {
                    self.ledgers
                        .instances
                        .set_whmcs_status(
                            caller.tenant,
                            id,
                            ConnectionStatus::Failing,
                            self.trail.now(),
                        )
                        .await?;
                }
                return Err(ReconciliationError::Ledger(e));
            }
        };
        let today = self.trail.now().date_naive();
        let mut rows: Vec<(String, Invoice)> = open
            .iter()
            .map(|i| to_cached(InvoiceId::from_uuid(self.trail.new_id()), i, today))
            .collect();
        let seen: std::collections::HashSet<String> =
            rows.iter().map(|(ext, _)| ext.clone()).collect();
        let cached_open = self.invoices.open_invoice_refs(caller.tenant, id).await?;
        let was_open: std::collections::HashSet<&str> =
            cached_open.iter().map(|(_, ext)| ext.as_str()).collect();
        let newly_open = seen
            .iter()
            .filter(|ext| !was_open.contains(ext.as_str()))
            .count();
        let mut closed = 0;
        for (cached, external) in cached_open.iter().cloned() {
            if seen.contains(&external) {
                continue;
            }
            let Ok(ledger_id) = external.parse::<u64>() else {
                continue;
            };
            match ledger.get_invoice(ledger_id).await {
                Ok(invoice) => {
                    rows.push(to_cached(cached, &invoice, today));
                    closed += 1;
                }
                Err(LedgerError::InvoiceNotFound) => {}
                Err(e) => return Err(ReconciliationError::Ledger(e)),
            }
        }
        let now = self.trail.now();
        self.invoices
            .upsert_invoices(caller.tenant, id, &rows, now)
            .await?;
        self.ledgers
            .instances
            .advance_invoice_watermark(caller.tenant, id, now)
            .await?;
        self.ledgers
            .instances
            .set_whmcs_status(caller.tenant, id, ConnectionStatus::Active, now)
            .await?;
        let report = SyncReport {
            open: open.len(),
            closed,
            newly_open,
        };
        if newly_open > 0 {
            super::queue_reconciliation(self.jobs.as_ref(), self.trail.ids(), caller.tenant, now)
                .await;
        }
        self.trail
            .audit(
                caller,
                "whmcs.invoices_synced",
                Some(format!("whmcs_instance:{id}")),
                json!({"open": report.open, "closed": report.closed,
                       "newly_open": report.newly_open}),
            )
            .await;
        Ok(report)
    }
}

fn view(instance: WhmcsInstance, options: Option<WhmcsOptions>) -> WhmcsInstanceView {
    let (gateway, default_currency) = options.map_or_else(
        || (DEFAULT_GATEWAY.to_owned(), Currency::EUR),
        |o| (o.gateway, o.default_currency),
    );
    WhmcsInstanceView {
        id: instance.id,
        name: instance.name,
        base_url: instance.base_url,
        api_identifier: instance.api_identifier,
        gateway,
        default_currency,
        status: instance.status,
        invoices_synced_at: instance.invoices_synced_at,
    }
}

/// Why a WHMCS URL is refused, if it is: it must be `https://` with a public host name or
/// address, unless `allow_private` (development) — so a tenant cannot make Payymo call into this
/// machine or a private network. A name that resolves to a private address is caught when the
/// call is made: production's WHMCS client resolves names through `PublicOnlyResolver`
/// (adapter-tls), which refuses them.
pub(super) fn refuse_url(url: &str, allow_private: bool) -> Option<&'static str> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "https" && !(scheme == "http" && allow_private) {
        return Some("must be an https:// URL");
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    if host.is_empty() {
        return Some("must name a host");
    }
    if allow_private {
        return None;
    }
    let lower = host.to_ascii_lowercase();
    let lower = lower.trim_end_matches('.');
    let is_ip = lower.parse::<std::net::IpAddr>().is_ok();
    let local_name = lower == "localhost"
        || [".localhost", ".local", ".internal", ".lan", ".home.arpa"]
            .iter()
            .any(|suffix| lower.ends_with(suffix))
        || (!is_ip && !lower.contains('.'));
    if local_name {
        return Some("must be a public host, not a local or internal name");
    }
    if let Ok(ip) = lower.parse::<std::net::IpAddr>()
        && !payymo_domain::network::is_public_address(ip)
    {
        return Some("must be a public address, not this machine or a private network");
    }
    None
}

/// The new instance's URL, identifier, gateway and name, checked.
fn validate(
    new: &NewWhmcsInstance,
    allow_private: bool,
) -> Result<(String, String, String, String), ReconciliationError> {
    let base_url = new.base_url.trim().trim_end_matches('/').to_owned();
    if !base_url.contains("://") {
        return Err(ReconciliationError::Invalid {
            field: "base_url",
            message: "must be an https:// URL".into(),
        });
    }
    if let Some(reason) = refuse_url(&base_url, allow_private) {
        return Err(ReconciliationError::Invalid {
            field: "base_url",
            message: reason.into(),
        });
    }
    let identifier = new.api_identifier.trim().to_owned();
    if identifier.is_empty() || identifier.len() > 200 {
        return Err(ReconciliationError::Invalid {
            field: "api_identifier",
            message: "must be 1 to 200 characters".into(),
        });
    }
    if secrecy::ExposeSecret::expose_secret(&new.api_secret).is_empty() {
        return Err(ReconciliationError::Invalid {
            field: "api_secret",
            message: "must not be empty".into(),
        });
    }
    let gateway = valid_gateway(new.gateway.as_deref().unwrap_or(DEFAULT_GATEWAY))?;
    let name = new
        .name
        .clone()
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| host_of(&base_url));
    if name.chars().count() > 200 {
        return Err(ReconciliationError::Invalid {
            field: "name",
            message: "must be at most 200 characters".into(),
        });
    }
    Ok((base_url, identifier, gateway, name))
}

#[cfg(test)]
mod url_tests {
    use super::refuse_url;

    #[test]
    fn production_accepts_only_public_https_hosts() {
        for ok in [
            "https://billing.example.com",
            "https://billing.example.com:8443/whmcs",
            "https://93.184.216.34/whmcs",
            "https://[2606:4700::1111]/",
        ] {
            assert_eq!(refuse_url(ok, false), None, "{ok}");
        }
        for bad in [
            "https://203.0.113.10/whmcs",
            "https://[2001:db8::1]/",
            "https://169.254.169.254/latest/meta-data",
            "http://billing.example.com",
            "ftp://billing.example.com",
            "https://localhost/whmcs",
            "https://whmcs.internal",
            "https://intranet",
            "https://127.0.0.1",
            "https://10.1.2.3",
            "https://172.16.0.1",
            "https://192.168.1.1",
            "https://169.254.169.254/latest/meta-data",
            "https://100.64.0.1",
            "https://0.0.0.0",
            "https://[::1]/",
            "https://[fd00::1]/",
            "https://[fe80::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://user@127.0.0.1/",
        ] {
            assert!(refuse_url(bad, false).is_some(), "{bad} must be refused");
        }
    }

    #[test]
    fn development_may_use_a_local_mock_over_http() {
        assert_eq!(refuse_url("http://127.0.0.1:4010", true), None);
        assert!(refuse_url("ftp://127.0.0.1", true).is_some());
    }
}
