//! The composition root: the one place where concrete adapters meet the services.
//!
//! [`compose`] builds a [`Runtime`] (clock, ids, field cipher, store, outgoing clients) once,
//! then the adapters, then each use case once, the job handlers and the scheduler. The server
//! (`startup`), the command line and the test harness all go through it; [`Overrides`] (its
//! default is production) lets a caller replace any port, so a test's manual clock reaches every
//! use case. The concrete adapters come from `wiring` (and `keys`, `outbound`, `integrations`,
//! `gated_feed`).

pub mod gated_feed;
pub mod integrations;
pub mod keys;
pub mod outbound;
pub mod reconciliation;
pub mod wiring;

use std::sync::Arc;
use std::time::Duration;

use payymo_adapter_crypto::{
    AesGcmFieldCipher, Argon2PasswordHasher, OpaqueTokenGenerator, RecoveryCodeGenerator,
    RsaTokenCodec, TotpAuthenticator,
};
use payymo_adapter_diesel::DieselStore;
use payymo_ports::bank_feed::BankFeed;
use payymo_ports::clock::{Clock, IdGenerator};
use payymo_ports::crypto::FieldCipher;
use payymo_ports::health::DatabaseHealth;
use payymo_ports::ledger_connector::LedgerConnector;
use payymo_ports::payment_gateway::PaymentGateway;
use payymo_ports::storage::{JobQueue, PlatformStats, SyncTargets};
use payymo_services::banking::{BankingConfig, BankingPorts, BankingService};
use payymo_services::identity::{IdentityConfig, IdentityPorts, IdentityUseCases};
use payymo_services::jobs::{JobHandler, Schedule, Scheduler};
use payymo_services::licences::{LicencePorts, LicenceService};
use payymo_services::overview::OverviewService;
use payymo_services::stripe::{Stripe, StripeConfig, StripePorts};

use crate::config::Settings;
use crate::http::startup::ExtraRoutes;
use integrations::Integrations;
use keys::KeyReloader;
use outbound::OutboundClients;
use wiring::{StartupError, SystemClock, UuidV7Ids};

pub use reconciliation::Reconciliation;

/// What a caller replaces in the production composition; `Overrides::default()` is production.
#[derive(Clone, Default)]
pub struct Overrides {
    /// An open store instead of opening `DATABASE_URL`.
    pub store: Option<DieselStore>,
    /// The clock of every use case, job runner and scheduler (e.g. a test's manual clock).
    pub clock: Option<Arc<dyn Clock>>,
    /// The id generator of every use case.
    pub ids: Option<Arc<dyn IdGenerator>>,
    /// The storage's health (readiness, pool metrics).
    pub database: Option<Arc<dyn DatabaseHealth>>,
    /// The WHMCS ledger connector.
    pub ledgers: Option<Arc<dyn LedgerConnector>>,
    /// The open-banking feed (replaces GoCardless, configured or not).
    pub bank_feed: Option<Arc<dyn BankFeed>>,
    /// The Stripe API.
    pub stripe_gateway: Option<Arc<dyn PaymentGateway>>,
    /// Job handlers besides every feature's own; two handlers must not take the same kind: the
    /// server refuses to start.
    pub job_handlers: Vec<Arc<dyn JobHandler>>,
    /// Extra routes mounted at the root next to the API.
    pub routes: Option<ExtraRoutes>,
}

impl Overrides {
    /// Production, over an already open (and migrated) store.
    #[must_use]
    pub fn with_store(store: DieselStore) -> Self {
        Self {
            store: Some(store),
            ..Self::default()
        }
    }
}

impl std::fmt::Debug for Overrides {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Overrides").finish_non_exhaustive()
    }
}

/// What every part of the application shares: built once.
#[derive(Clone)]
pub struct Runtime {
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// New ids.
    pub ids: Arc<dyn IdGenerator>,
    /// Encryption of stored secrets (its key ring can be replaced at run time).
    pub cipher: Arc<AesGcmFieldCipher>,
    /// The store behind every storage port.
    pub store: DieselStore,
    /// The outgoing HTTPS clients (certificates, pins) of the external services.
    pub outbound: OutboundClients,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").finish_non_exhaustive()
    }
}

impl Runtime {
    /// The runtime of `settings`, with the clock, ids and store of `overrides` when given. Does
    /// no I/O beyond opening the store and reading the field keys.
    ///
    /// # Errors
    /// The store cannot be opened or the field keys are invalid.
    pub fn new(settings: &Settings, overrides: &Overrides) -> Result<Self, StartupError> {
        let clock = overrides
            .clock
            .clone()
            .unwrap_or_else(|| Arc::new(SystemClock));
        let ids = overrides.ids.clone().unwrap_or_else(|| Arc::new(UuidV7Ids));
        let store = match &overrides.store {
            Some(store) => store.clone(),
            None => wiring::open_store(settings)?,
        };
        let cipher = wiring::aes_field_cipher(settings)?;
        let outbound = wiring::outbound_clients(
            settings,
            Arc::new(store.clone()),
            Arc::clone(&clock),
            Arc::clone(&ids),
        );
        Ok(Self {
            clock,
            ids,
            cipher,
            store,
            outbound,
        })
    }

    /// The field cipher as a port.
    #[must_use]
    pub fn field_cipher(&self) -> Arc<dyn FieldCipher> {
        self.cipher.clone()
    }
}

/// The assembled application: every use case built once, and what the server runs beside them.
pub struct Composition {
    /// The shared runtime.
    pub runtime: Runtime,
    /// The storage's health.
    pub database: Arc<dyn DatabaseHealth>,
    /// The identity use cases.
    pub identity: IdentityUseCases,
    /// Licences.
    pub licences: LicenceService,
    /// The tenant overview.
    pub overview: OverviewService,
    /// Open banking (GoCardless).
    pub banking: BankingService,
    /// The Stripe use cases.
    pub stripe: Stripe,
    /// The reconciliation workflow and its ports.
    pub reconciliation: Reconciliation,
    /// The optional integrations' credentials and state.
    pub integrations: Integrations,
    /// Re-reads keys and certificates on SIGHUP and on an interval.
    pub reloader: Arc<KeyReloader>,
    /// The background job queue.
    pub jobs: Arc<dyn JobQueue>,
    /// Every job handler the runners dispatch to.
    pub job_handlers: Vec<Arc<dyn JobHandler>>,
    /// The scheduler of Stripe and WHMCS syncs and of the applier's sweep.
    pub scheduler: Scheduler,
    /// Platform-wide counts (`/api/admin/stats`).
    pub platform_stats: Arc<dyn PlatformStats>,
    /// Extra routes mounted at the root.
    pub routes: Option<ExtraRoutes>,
}

impl std::fmt::Debug for Composition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Composition").finish_non_exhaustive()
    }
}

/// Builds the application of `settings`, with `overrides` in place of the production ports.
///
/// # Errors
/// A key, certificate, integration or the store cannot be set up.
pub fn compose(settings: &Settings, overrides: Overrides) -> Result<Composition, StartupError> {
    let runtime = Runtime::new(settings, &overrides)?;
    let Overrides {
        database,
        ledgers,
        bank_feed,
        stripe_gateway,
        job_handlers: extra_handlers,
        routes,
        ..
    } = overrides;
    let store = &runtime.store;
    let clock = &runtime.clock;
    let ids = &runtime.ids;

    // Adapters.
    let services = runtime
        .outbound
        .preload()
        .map_err(|e| StartupError::Certificates(e.to_string()))?;
    if !services.is_empty() {
        tracing::info!(
            ?services,
            "outgoing TLS configured from the certificates directory"
        );
    }
    let codec = Arc::new(wiring::token_codec(settings)?);
    let reloader = Arc::new(key_reloader(settings, &runtime, Arc::clone(&codec))?);
    let integrations = wiring::integrations(settings, Arc::clone(clock))?;
    let bank_feed = match bank_feed {
        Some(feed) => Some(feed),
        None => wiring::bank_feed(settings, clock, &runtime.outbound, &integrations)?,
    };
    let stripe_gateway = match stripe_gateway {
        Some(gateway) => gateway,
        None => wiring::stripe_gateway(settings)?,
    };
    let ledgers = match ledgers {
        Some(ledgers) => ledgers,
        None => wiring::whmcs_connector(settings.environment.is_production())?,
    };
    let jobs: Arc<dyn JobQueue> = Arc::new(store.clone());

    // Use cases, each once.
    let identity_ports = identity_ports(&runtime, codec)?;
    let licences = LicenceService::new(LicencePorts::from_identity(&identity_ports));
    let identity = IdentityUseCases::new(
        identity_ports,
        &IdentityConfig {
            open_registration: settings.open_registration,
            admin_api_key: settings.admin_api_key.clone(),
            ..IdentityConfig::default()
        },
    );
    let overview = OverviewService::new(Arc::new(store.clone()), Arc::clone(clock));
    let banking = BankingService::new(
        banking_ports(store, bank_feed, Arc::clone(clock), Arc::clone(ids)),
        BankingConfig::new(format!("{}/api/gocardless/callback", settings.public_url)),
    );
    let stripe = Stripe::new(
        &stripe_ports(&runtime, stripe_gateway),
        StripeConfig::default(),
    );
    let reconciliation = reconciliation::reconciliation(
        settings,
        store,
        runtime.field_cipher(),
        Arc::clone(clock),
        Arc::clone(ids),
        ledgers,
    );

    // Background work: every feature's handlers, dispatched by kind, and the schedules.
    let job_handlers = job_handlers(extra_handlers, &banking, &stripe, &reconciliation);
    let scheduler = sync_scheduler(
        settings,
        Arc::new(store.clone()),
        Arc::clone(&jobs),
        Arc::clone(ids),
        Arc::clone(clock),
    );

    Ok(Composition {
        database: database.unwrap_or_else(|| Arc::new(store.clone())),
        platform_stats: Arc::new(store.clone()),
        identity,
        licences,
        overview,
        banking,
        stripe,
        reconciliation,
        integrations,
        reloader,
        jobs,
        job_handlers,
        scheduler,
        routes,
        runtime,
    })
}

/// The identity ports over the runtime, with the crypto adapters and `tokens`.
///
/// # Errors
/// The password hasher cannot be built.
pub fn identity_ports(
    runtime: &Runtime,
    tokens: Arc<RsaTokenCodec>,
) -> Result<IdentityPorts, StartupError> {
    let store = Arc::new(runtime.store.clone());
    Ok(IdentityPorts {
        tenants: store.clone(),
        users: store.clone(),
        sessions: store.clone(),
        mfa: store.clone(),
        credentials: store.clone(),
        audit: store,
        passwords: Arc::new(
            Argon2PasswordHasher::new().map_err(|e| StartupError::Keys(e.to_string()))?,
        ),
        tokens,
        opaque: Arc::new(OpaqueTokenGenerator::new()),
        totp: Arc::new(TotpAuthenticator::new()),
        recovery: Arc::new(RecoveryCodeGenerator::new()),
        cipher: runtime.field_cipher(),
        clock: Arc::clone(&runtime.clock),
        ids: Arc::clone(&runtime.ids),
    })
}

/// The open-banking ports over `store`, with `feed` (none: GoCardless is not configured).
#[must_use]
pub fn banking_ports(
    store: &DieselStore,
    feed: Option<Arc<dyn BankFeed>>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
) -> BankingPorts {
    let store = Arc::new(store.clone());
    BankingPorts {
        feed,
        connections: store.clone(),
        transactions: store.clone(),
        banking: store.clone(),
        jobs: store.clone(),
        audit: store,
        clock,
        ids,
    }
}

/// The Stripe ports over the runtime: `gateway`, the webhook verifier (five minutes of
/// tolerance), the runtime's cipher, clock and ids.
#[must_use]
pub fn stripe_ports(runtime: &Runtime, gateway: Arc<dyn PaymentGateway>) -> StripePorts {
    let store = Arc::new(runtime.store.clone());
    StripePorts {
        connections: store.clone(),
        stripe: store.clone(),
        transactions: store.clone(),
        payouts: store.clone(),
        inbox: store.clone(),
        jobs: store.clone(),
        audit: store,
        gateway,
        webhooks: Arc::new(payymo_adapter_stripe::StripeWebhooks::default()),
        cipher: runtime.field_cipher(),
        clock: Arc::clone(&runtime.clock),
        ids: Arc::clone(&runtime.ids),
    }
}

/// The handlers the job runners dispatch to: `extra` and every feature's own.
fn job_handlers(
    extra: Vec<Arc<dyn JobHandler>>,
    banking: &BankingService,
    stripe: &Stripe,
    reconciliation: &Reconciliation,
) -> Vec<Arc<dyn JobHandler>> {
    let mut handlers = extra;
    handlers.push(Arc::new(payymo_services::banking::SyncJobHandler::new(
        banking.clone(),
    )));
    let (process_events, sync_connections) = stripe.job_handlers();
    handlers.push(Arc::new(process_events));
    handlers.push(Arc::new(sync_connections));
    handlers.extend(reconciliation.job_handlers());
    handlers
}

/// The key reloader over `codec`, the runtime's cipher and the outgoing clients' certificates.
fn key_reloader(
    settings: &Settings,
    runtime: &Runtime,
    codec: Arc<RsaTokenCodec>,
) -> Result<KeyReloader, StartupError> {
    let jwt_files = settings
        .jwt_private_key_path
        .clone()
        .zip(settings.jwt_public_key_path.clone());
    let keep_retired_for = chrono::Duration::from_std(settings.jwt_refresh_token_ttl)
        .map_err(|e| StartupError::Keys(e.to_string()))?;
    Ok(KeyReloader::new(
        codec,
        Arc::clone(&runtime.cipher),
        jwt_files,
        settings.field_keys_file.clone(),
        Arc::clone(runtime.outbound.certificates()),
        Arc::clone(&runtime.clock),
        keep_retired_for,
    ))
}

/// The scheduler of Stripe and WHMCS syncs and of the applier's sweep, at the configured
/// intervals, and of every tenant's daily reconciliation.
fn sync_scheduler(
    settings: &Settings,
    targets: Arc<dyn SyncTargets>,
    jobs: Arc<dyn JobQueue>,
    ids: Arc<dyn IdGenerator>,
    clock: Arc<dyn Clock>,
) -> Scheduler {
    let every = |d: Duration| chrono::TimeDelta::from_std(d).unwrap_or(chrono::TimeDelta::MAX);
    let schedules: Vec<Arc<dyn Schedule>> = vec![
        Arc::new(payymo_services::stripe::StripeSyncSchedule::new(
            Arc::clone(&targets),
            every(settings.stripe_sync_interval),
        )),
        Arc::new(payymo_services::reconciliation::InvoiceSyncSchedule::new(
            Arc::clone(&targets),
            every(settings.whmcs_sync_interval),
        )),
        Arc::new(payymo_services::reconciliation::DailyReconcileSchedule::new(targets)),
        Arc::new(payymo_services::reconciliation::ApplySweepSchedule::new(
            every(settings.apply_sweep_interval),
        )),
    ];
    Scheduler::new(schedules, jobs, ids, clock)
}
