//! The composition root: builds the actix-web application from settings and adapters.
//!
//! Architecture invariant: this is the one place where concrete adapters meet the services.
//! Tests (see the `tests/` harness) call [`Application::build`] with their own [`Adapters`], so
//! any port can be a mock or a fake without globals.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServerHandle, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::{App, HttpResponse, web};

use payymo_ports::crypto::FieldCipher;
use payymo_ports::health::DatabaseHealth;
use payymo_ports::storage::{JobQueue, OverviewStore, PlatformStats};
use payymo_services::banking::{BankingConfig, BankingPorts, BankingService};
use payymo_services::identity::{IdentityConfig, IdentityPorts, IdentityUseCases, Sessions};
use payymo_services::jobs::{JobHandler, JobRunner, RunnerConfig, Schedule, Scheduler};
use payymo_services::licences::{LicencePorts, LicenceService};
use payymo_services::reconciliation::{Reconciliation, ReconciliationConfig, ReconciliationPorts};

use crate::config::Settings;
use crate::metrics::Metrics;
use crate::middleware::{self as mw, HttpsPolicy};
use crate::net::TrustedProxies;
use crate::problem::{self, ApiError, ProblemKind};
use crate::rate_limit::{self, RateLimiters};
use crate::routes::banking as banking_routes;
use crate::routes::stripe as stripe_routes;
use crate::routes::{admin, api_keys, audit, auth as auth_routes, docs, health, jwks, users};
use crate::routes::{licences, platform};

/// The adapters behind the ports, chosen by the caller.
#[derive(Clone)]
pub struct Adapters {
    /// The storage's health (readiness, pool metrics).
    pub database: Arc<dyn DatabaseHealth>,
    /// The ports of the identity service (stores, crypto, clock).
    pub identity: IdentityPorts,
    /// Encryption of stored secrets (TOTP secrets, connection credentials).
    pub field_cipher: Arc<dyn FieldCipher>,
    /// The outgoing HTTPS clients (certificates, pins) of the external services.
    pub outbound: crate::outbound::OutboundClients,
    /// Re-reads keys and certificates on SIGHUP and on an interval; `None` in tests that do not
    /// rotate.
    pub reloader: Option<Arc<crate::keys::KeyReloader>>,
    /// The optional integrations' credentials and state.
    pub integrations: crate::integrations::Integrations,
    /// The background job queue (the runners, `/api/admin/jobs`).
    pub jobs: Arc<dyn JobQueue>,
    /// Handlers the job runners dispatch to besides every feature's own (a test's, say); two
    /// handlers must not take the same kind: the server refuses to start.
    pub job_handlers: Vec<Arc<dyn JobHandler>>,
    /// Platform-wide counts (`/api/admin/stats`).
    pub platform_stats: Arc<dyn PlatformStats>,
    /// The facts behind the tenant overview (`/api/overview`).
    pub overview: Arc<dyn OverviewStore>,
    /// Open banking (GoCardless): the feed, when configured, and its stores.
    pub banking: BankingPorts,
    /// The ports of the Stripe service.
    pub stripe: payymo_services::stripe::StripePorts,
    /// The ports of the reconciliation workflow (stores, WHMCS connector, crypto, clock).
    pub reconciliation: ReconciliationPorts,
    /// The connections synced on a schedule (Stripe, WHMCS).
    pub sync_targets: Arc<dyn payymo_ports::storage::SyncTargets>,
}

impl std::fmt::Debug for Adapters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Adapters").finish_non_exhaustive()
    }
}

/// Extra routes a caller mounts next to the API (tests use it to probe the shared HTTP
/// contract: body limits, panics, ...).
pub type ExtraRoutes = Arc<dyn Fn(&mut web::ServiceConfig) + Send + Sync>;

/// A bound, not yet running server.
pub struct Application {
    port: u16,
    server: Server,
    limiters: RateLimiters,
    sessions: Sessions,
    reloader: Option<Arc<crate::keys::KeyReloader>>,
    reload_interval: Duration,
    certificates: Arc<payymo_adapter_tls::CertificateStore>,
    runners: Vec<JobRunner>,
    shutdown_timeout: Duration,
    banking: BankingService,
    scheduler: Scheduler,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl Application {
    /// Binds `settings.bind` (port 0 picks a free port) and builds the server.
    ///
    /// # Errors
    /// The address cannot be bound.
    pub fn build(settings: Settings, adapters: Adapters) -> std::io::Result<Self> {
        Self::build_with_routes(settings, adapters, None)
    }

    /// As [`Application::build`], with extra routes mounted at the root.
    ///
    /// # Errors
    /// The address cannot be bound.
    pub fn build_with_routes(
        settings: Settings,
        adapters: Adapters,
        extra: Option<ExtraRoutes>,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(settings.bind)?;
        let port = listener.local_addr()?.port();
        let limiters = RateLimiters::new(&settings.rate_limits);
        let (workers, shutdown) = (settings.workers, settings.shutdown_timeout.as_secs());
        let reload_interval = settings.key_reload_interval;
        let reloader = adapters.reloader.clone();
        let certificates = Arc::clone(adapters.outbound.certificates());
        let job_clock = Arc::clone(&adapters.identity.clock);
        let job_ids = Arc::clone(&adapters.identity.ids);
        let licence_service = LicenceService::new(LicencePorts::from_identity(&adapters.identity));
        let overview = payymo_services::overview::OverviewService::new(
            Arc::clone(&adapters.overview),
            Arc::clone(&adapters.identity.clock),
        );
        let shutdown_timeout = settings.shutdown_timeout;
        let identity = IdentityUseCases::new(
            adapters.identity,
            &IdentityConfig {
                open_registration: settings.open_registration,
                admin_api_key: settings.admin_api_key.clone(),
                ..IdentityConfig::default()
            },
        );
        let banking = BankingService::new(
            adapters.banking,
            BankingConfig::new(format!("{}/api/gocardless/callback", settings.public_url)),
        );
        let stripe = payymo_services::stripe::StripeService::new(
            adapters.stripe,
            payymo_services::stripe::StripeConfig::default(),
        );
        let reconciliation = Reconciliation::new(
            &adapters.reconciliation,
            &ReconciliationConfig {
                // Production refuses WHMCS URLs into this machine or a private network.
                allow_private_targets: !settings.environment.is_production(),
                ..ReconciliationConfig::default()
            },
        );
        // Every feature's background work, dispatched by kind (the adapters may add any other
        // handler, e.g. a test's).
        let mut handlers = adapters.job_handlers.clone();
        handlers.push(Arc::new(payymo_services::banking::SyncJobHandler::new(
            banking.clone(),
        )));
        handlers.push(Arc::new(
            payymo_services::stripe::ProcessEventJobHandler::new(stripe.clone()),
        ));
        handlers.push(Arc::new(payymo_services::stripe::SyncJobHandler::new(
            stripe.clone(),
        )));
        handlers.push(Arc::new(reconciliation.jobs()));
        let runners = job_runners(&settings, &adapters.jobs, &job_clock, &handlers)?;
        let scheduler = sync_scheduler(
            &settings,
            adapters.sync_targets,
            Arc::clone(&adapters.jobs),
            Arc::clone(&job_ids),
            Arc::clone(&job_clock),
        );
        let state = SharedState {
            stripe: web::Data::new(stripe),
            proxies: web::Data::new(TrustedProxies(settings.trusted_proxies.clone())),
            https: web::Data::new(HttpsPolicy {
                enforce: settings.enforce_https,
            }),
            settings: web::Data::new(settings),
            database: web::Data::new(adapters.database),
            identity: identity.clone(),
            banking: web::Data::new(banking.clone()),
            reconciliation: ReconciliationData::new(&reconciliation),
            metrics: web::Data::new(Metrics::new()),
            limiters: web::Data::new(limiters.clone()),
            openapi: web::Data::new(docs::OpenApiJson(crate::openapi::render())),
            outbound: web::Data::new(adapters.outbound),
            integrations: web::Data::new(adapters.integrations),
            licences: web::Data::new(licence_service),
            jobs: web::Data::new(adapters.jobs),
            platform_stats: web::Data::new(adapters.platform_stats),
            overview: web::Data::new(overview),
        };
        let server = actix_web::HttpServer::new(move || build_app(state.clone(), extra.clone()))
            .listen(listener)?
            .workers(workers)
            .shutdown_timeout(shutdown)
            .run();
        Ok(Self {
            port,
            server,
            limiters,
            sessions: identity.sessions,
            reloader,
            reload_interval,
            certificates,
            runners,
            shutdown_timeout,
            banking,
            scheduler,
        })
    }

    /// The bound port.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The open-banking service, for the job runner: register
    /// `payymo_services::banking::SyncJobHandler::new(app.banking())` for
    /// `gocardless.sync_account`, and call `enqueue_due_syncs()` on a schedule.
    #[must_use]
    pub fn banking(&self) -> BankingService {
        self.banking.clone()
    }

    /// A handle to stop the server gracefully.
    #[must_use]
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped (SIGTERM/SIGINT or the handle): in-flight requests finish within the
    /// shutdown timeout, then background tasks stop.
    ///
    /// # Errors
    /// The server failed.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
        let limiters = self.limiters.clone();
        let sessions = self.sessions.clone();
        let banking = self.banking.clone();
        let scheduler = self.scheduler.clone();
        let housekeeping = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_mins(1));
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        limiters.retain_recent();
                        // Revocations of access tokens that have expired anyway are dead weight.
                        if let Err(e) = sessions.prune_revocations().await {
                            tracing::warn!(error = %e, "pruning token revocations failed");
                        }
                        // Bank accounts due a sync within their daily budget get a job.
                        match banking.enqueue_due_syncs().await {
                            Ok(0) => {}
                            Ok(queued) => tracing::info!(queued, "scheduled bank syncs queued"),
                            Err(e) => tracing::warn!(error = %e, "scheduling bank syncs failed"),
                        }
                        // Stripe connections and WHMCS instances due a sync, and the applier's
                        // sweep over payments waiting for a retry.
                        match scheduler.enqueue_due().await {
                            Ok(r) if r.queued("stripe") + r.queued("whmcs") > 0 => tracing::info!(
                                stripe = r.queued("stripe"),
                                whmcs = r.queued("whmcs"),
                                "scheduled syncs queued"
                            ),
                            Ok(_) => {}
                            Err(e) => tracing::warn!(error = %e, "scheduling syncs failed"),
                        }
                    }
                    _ = stop_rx.changed() => break,
                }
            }
        });
        let rotation = tokio::spawn(rotate_keys_on_signal(
            self.reloader.clone(),
            Arc::clone(&self.certificates),
            self.reload_interval,
            stop_tx.subscribe(),
        ));
        let runners: Vec<_> = self
            .runners
            .into_iter()
            .map(|runner| tokio::spawn(runner.run(stop_tx.subscribe())))
            .collect();
        let result = self.server.await;
        let _ = stop_tx.send(true);
        let _ = housekeeping.await;
        let _ = rotation.await;
        // Runners stop claiming at once and finish the job in hand, within the shutdown timeout;
        // a job cut off there keeps its lease and runs again once it expires.
        let deadline = tokio::time::Instant::now() + self.shutdown_timeout;
        for runner in runners {
            let abort = runner.abort_handle();
            if tokio::time::timeout_at(deadline, runner).await.is_err() {
                tracing::warn!("a job runner did not finish within the shutdown timeout");
                abort.abort();
            }
        }
        tracing::info!("server stopped");
        result
    }
}

/// The scheduler of Stripe and WHMCS syncs and of the applier's sweep, at the configured
/// intervals.
fn sync_scheduler(
    settings: &Settings,
    targets: Arc<dyn payymo_ports::storage::SyncTargets>,
    jobs: Arc<dyn JobQueue>,
    ids: Arc<dyn payymo_ports::clock::IdGenerator>,
    clock: Arc<dyn payymo_ports::clock::Clock>,
) -> Scheduler {
    let every = |d: Duration| chrono::TimeDelta::from_std(d).unwrap_or(chrono::TimeDelta::MAX);
    let schedules: Vec<Arc<dyn Schedule>> = vec![
        Arc::new(payymo_services::stripe::StripeSyncSchedule::new(
            Arc::clone(&targets),
            every(settings.stripe_sync_interval),
        )),
        Arc::new(payymo_services::reconciliation::InvoiceSyncSchedule::new(
            targets,
            every(settings.whmcs_sync_interval),
        )),
        Arc::new(payymo_services::reconciliation::ApplySweepSchedule::new(
            every(settings.apply_sweep_interval),
        )),
    ];
    Scheduler::new(schedules, jobs, ids, clock)
}

/// Re-reads keys and certificates on SIGHUP and every `interval` (zero: SIGHUP only), and warns
/// about certificates close to expiry, until `stop` changes.
async fn rotate_keys_on_signal(
    reloader: Option<Arc<crate::keys::KeyReloader>>,
    certificates: Arc<payymo_adapter_tls::CertificateStore>,
    interval: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(signal) => Some(signal),
        Err(e) => {
            tracing::warn!(error = %e, "SIGHUP cannot be watched: keys reload on the timer only");
            None
        }
    };
    let period = if interval.is_zero() {
        Duration::from_hours(24 * 365)
    } else {
        interval
    };
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    loop {
        let hangup_received = async {
            match hangup.as_mut() {
                Some(signal) => signal.recv().await,
                None => std::future::pending().await,
            }
        };
        let why = tokio::select! {
            _ = hangup_received => "SIGHUP",
            _ = tick.tick(), if !interval.is_zero() => "interval",
            _ = stop.changed() => return,
        };
        let reloader = reloader.clone();
        let certificates = Arc::clone(&certificates);
        let done = tokio::task::spawn_blocking(move || {
            if let Some(reloader) = reloader {
                reloader.reload();
            } else {
                certificates.reload();
            }
            certificates.warn_expiring();
        })
        .await;
        match done {
            Ok(()) => tracing::info!(trigger = why, "keys and certificates re-read"),
            Err(e) => tracing::error!(error = %e, "key reload failed"),
        }
    }
}

#[derive(Clone)]
struct SharedState {
    settings: web::Data<Settings>,
    database: web::Data<Arc<dyn DatabaseHealth>>,
    metrics: web::Data<Metrics>,
    limiters: web::Data<RateLimiters>,
    proxies: web::Data<TrustedProxies>,
    https: web::Data<HttpsPolicy>,
    openapi: web::Data<docs::OpenApiJson>,
    identity: IdentityUseCases,
    outbound: web::Data<crate::outbound::OutboundClients>,
    integrations: web::Data<crate::integrations::Integrations>,
    licences: web::Data<LicenceService>,
    jobs: web::Data<Arc<dyn JobQueue>>,
    platform_stats: web::Data<Arc<dyn PlatformStats>>,
    banking: web::Data<BankingService>,
    stripe: web::Data<payymo_services::stripe::StripeService>,
    reconciliation: ReconciliationData,
    overview: web::Data<payymo_services::overview::OverviewService>,
}

/// The reconciliation use cases the handlers take (the applier runs in the background only).
#[derive(Clone)]
struct ReconciliationData {
    reconciler: web::Data<payymo_services::reconciliation::Reconciler>,
    decisions: web::Data<payymo_services::reconciliation::MatchDecisions>,
    whmcs: web::Data<payymo_services::reconciliation::WhmcsInstances>,
    settings: web::Data<payymo_services::reconciliation::SettingsEditor>,
    queries: web::Data<payymo_services::reconciliation::ReconciliationQueries>,
}

impl ReconciliationData {
    fn new(r: &Reconciliation) -> Self {
        Self {
            reconciler: web::Data::new(r.reconciler.clone()),
            decisions: web::Data::new(r.decisions.clone()),
            whmcs: web::Data::new(r.whmcs.clone()),
            settings: web::Data::new(r.settings.clone()),
            queries: web::Data::new(r.queries.clone()),
        }
    }
}

fn build_app(
    state: SharedState,
    extra: Option<ExtraRoutes>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let SharedState {
        settings,
        database,
        metrics,
        limiters,
        proxies,
        https,
        openapi,
        identity,
        outbound,
        integrations,
        licences: licence_service,
        jobs,
        platform_stats,
        banking,
        stripe,
        reconciliation,
        overview,
    } = state;
    let max_body = settings.max_body_bytes;
    let mut app = App::new()
        .app_data(settings)
        .app_data(outbound)
        .app_data(integrations)
        .app_data(database)
        .app_data(metrics)
        .app_data(limiters)
        .app_data(proxies)
        .app_data(https)
        .app_data(openapi)
        .configure(move |cfg| identity_data(cfg, identity))
        .app_data(licence_service)
        .app_data(jobs)
        .app_data(platform_stats)
        .app_data(banking)
        .app_data(stripe)
        .app_data(reconciliation.reconciler)
        .app_data(reconciliation.decisions)
        .app_data(reconciliation.whmcs)
        .app_data(reconciliation.settings)
        .app_data(reconciliation.queries)
        .app_data(overview)
        .app_data(
            web::JsonConfig::default()
                .limit(max_body)
                .error_handler(|err, _req| problem::json_error(&err).into()),
        )
        .app_data(web::PayloadConfig::default().limit(max_body))
        .app_data(
            web::QueryConfig::default()
                .error_handler(|err, _req| problem::query_error(&err).into()),
        )
        .app_data(
            web::PathConfig::default().error_handler(|err, _req| problem::path_error(&err).into()),
        )
        // Innermost first: rate limit, authentication, body limit, HTTPS, then the envelope
        // (request id, logs, panics, problem+json, security headers, metrics) around everything.
        .wrap(from_fn(rate_limit::limit))
        // Identifies the caller just before the rate limiter, so limits follow the user.
        .wrap(from_fn(crate::auth::identify))
        .wrap(from_fn(limit_body))
        .wrap(from_fn(mw::enforce_https))
        .wrap(from_fn(mw::envelope))
        // `web::resource` (not `App::route`) so a known path with a wrong method is a 405.
        .service(web::resource("/healthz").route(web::get().to(health::healthz)))
        .service(web::resource("/readyz").route(web::get().to(health::readyz)))
        .service(web::resource("/metrics").route(web::get().to(health::metrics)))
        .service(web::resource("/api/openapi.json").route(web::get().to(docs::openapi_json)))
        .service(web::resource(["/api/docs", "/api/docs/"]).route(web::get().to(docs::docs_index)))
        .service(web::resource("/api/docs/docs.js").route(web::get().to(docs::docs_script)))
        .service(web::resource("/api/docs/docs.css").route(web::get().to(docs::docs_style)))
        .service(web::resource("/.well-known/jwks.json").route(web::get().to(jwks::jwks)))
        .configure(auth_routes::configure)
        .configure(users::configure)
        .configure(audit::configure)
        .configure(api_keys::configure)
        .configure(admin::configure)
        .configure(licences::configure)
        .configure(platform::configure)
        .configure(banking_routes::configure)
        .configure(stripe_routes::configure)
        .configure(crate::routes::reconciliation::configure)
        .configure(crate::routes::overview::configure)
        .configure(crate::web::configure);
    if let Some(extra) = extra {
        app = app.configure(move |cfg| extra(cfg));
    }
    app.default_service(web::to(not_found))
}

/// Each identity use case as app data, for the handlers that take it.
fn identity_data(cfg: &mut web::ServiceConfig, identity: IdentityUseCases) {
    let IdentityUseCases {
        registration,
        login,
        mfa_login,
        mfa,
        authenticator,
        authorizer,
        sessions,
        passwords,
        users,
        api_keys,
        tenants,
        audit_trail,
    } = identity;
    cfg.app_data(web::Data::new(registration))
        .app_data(web::Data::new(login))
        .app_data(web::Data::new(mfa_login))
        .app_data(web::Data::new(mfa))
        .app_data(web::Data::new(authenticator))
        .app_data(web::Data::new(authorizer))
        .app_data(web::Data::new(sessions))
        .app_data(web::Data::new(passwords))
        .app_data(web::Data::new(users))
        .app_data(web::Data::new(api_keys))
        .app_data(web::Data::new(tenants))
        .app_data(web::Data::new(audit_trail));
}

async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found("no resource at this path"))
}

/// Refuses a declared body larger than the limit before any handler reads it.
async fn limit_body(
    req: ServiceRequest,
    next: actix_web::middleware::Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    let max = req
        .app_data::<web::Data<Settings>>()
        .map_or(usize::MAX, |s| s.max_body_bytes);
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > max as u64) {
        let response = actix_web::ResponseError::error_response(&ApiError::new(
            ProblemKind::PayloadTooLarge,
            format!("the request body is larger than {max} bytes"),
        ));
        return Ok(req.into_response(response));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// The `PAYYMO_JOB_WORKERS` job runners over the adapters' queue, handlers and clock (none when
/// it is 0).
fn job_runners(
    settings: &Settings,
    jobs: &Arc<dyn JobQueue>,
    clock: &Arc<dyn payymo_ports::clock::Clock>,
    handlers: &[Arc<dyn JobHandler>],
) -> std::io::Result<Vec<JobRunner>> {
    // One name per process start: a restarted process never takes over its predecessor's leases.
    let process = uuid::Uuid::now_v7().simple().to_string();
    (0..settings.job_workers)
        .map(|n| {
            JobRunner::new(
                handlers.to_vec(),
                Arc::clone(jobs),
                Arc::clone(clock),
                RunnerConfig {
                    worker: format!("{}-{process}-{n}", std::process::id()),
                    poll_interval: settings.job_poll_interval,
                    lease: settings.job_lease,
                },
            )
            .map_err(std::io::Error::other)
        })
        .collect()
}
