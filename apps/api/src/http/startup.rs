//! The HTTP application over a [`Composition`]: its app data, middleware and routes, and the
//! background tasks (job runners, housekeeping, key rotation) it starts and stops with the server.
//! The use cases themselves are built once, in [`crate::compose`].

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServerHandle, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::{App, HttpResponse, web};

use payymo_ports::health::DatabaseHealth;
use payymo_ports::storage::{JobQueue, PlatformStats};
use payymo_services::banking::BankingService;
use payymo_services::identity::{IdentityUseCases, Sessions};
use payymo_services::jobs::{JobHandler, JobRunner, RunnerConfig, Scheduler};
use payymo_services::licences::LicenceService;

use crate::compose::Composition;
use crate::config::Settings;
use crate::http::metrics::Metrics;
use crate::http::middleware::{self as mw, HttpsPolicy};
use crate::http::net::TrustedProxies;
use crate::http::problem::{self, ApiError, ProblemKind};
use crate::http::rate_limit::{self, RateLimiters};
use crate::http::routes::banking as banking_routes;
use crate::http::routes::stripe as stripe_routes;
use crate::http::routes::{admin, api_keys, audit, auth as auth_routes, docs, health, jwks, users};
use crate::http::routes::{licences, platform};

/// Extra routes a caller mounts next to the API (tests use it to probe the shared HTTP
/// contract: body limits, panics, ...).
pub type ExtraRoutes = Arc<dyn Fn(&mut web::ServiceConfig) + Send + Sync>;

/// A bound, not yet running server.
pub struct Application {
    port: u16,
    server: Server,
    background: Background,
}

/// What runs beside the server: housekeeping, key rotation and the job runners.
struct Background {
    limiters: RateLimiters,
    sessions: Sessions,
    reloader: Arc<crate::compose::keys::KeyReloader>,
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
    /// Binds `settings.bind` (port 0 picks a free port) and builds the server over `composition`
    /// (see [`crate::compose::compose`]).
    ///
    /// # Errors
    /// The address cannot be bound, or two job handlers take the same kind.
    pub fn build(settings: Settings, composition: Composition) -> std::io::Result<Self> {
        let listener = TcpListener::bind(settings.bind)?;
        let port = listener.local_addr()?.port();
        let limiters = RateLimiters::new(&settings.rate_limits);
        let (workers, shutdown) = (settings.workers, settings.shutdown_timeout.as_secs());
        let Composition {
            runtime,
            database,
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
            platform_stats,
            routes,
        } = composition;
        let runners = job_runners(&settings, &jobs, &runtime.clock, &job_handlers)?;
        let certificates = Arc::clone(runtime.outbound.certificates());
        let sessions = identity.sessions.clone();
        let background = Background {
            limiters: limiters.clone(),
            sessions,
            reloader,
            reload_interval: settings.key_reload_interval,
            certificates,
            runners,
            shutdown_timeout: settings.shutdown_timeout,
            banking: banking.clone(),
            scheduler,
        };
        let state = SharedState {
            stripe: StripeData::new(&stripe),
            proxies: web::Data::new(TrustedProxies(settings.trusted_proxies.clone())),
            https: web::Data::new(HttpsPolicy {
                enforce: settings.enforce_https,
            }),
            settings: web::Data::new(settings),
            database: web::Data::new(database),
            identity,
            banking: web::Data::new(banking),
            reconciliation: ReconciliationData::new(&reconciliation.use_cases),
            metrics: web::Data::new(Metrics::new()),
            limiters: web::Data::new(limiters),
            openapi: web::Data::new(docs::OpenApiJson(crate::http::openapi::render())),
            outbound: web::Data::new(runtime.outbound),
            integrations: web::Data::new(integrations),
            licences: web::Data::new(licences),
            jobs: web::Data::new(jobs),
            platform_stats: web::Data::new(platform_stats),
            overview: web::Data::new(overview),
        };
        let server = actix_web::HttpServer::new(move || build_app(state.clone(), routes.clone()))
            .listen(listener)?
            .workers(workers)
            .shutdown_timeout(shutdown)
            .run();
        Ok(Self {
            port,
            server,
            background,
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
        self.background.banking.clone()
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
        let Background {
            limiters,
            sessions,
            reloader,
            reload_interval,
            certificates,
            runners,
            shutdown_timeout,
            banking,
            scheduler,
        } = self.background;
        let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
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
            reloader,
            certificates,
            reload_interval,
            stop_tx.subscribe(),
        ));
        let runners: Vec<_> = runners
            .into_iter()
            .map(|runner| tokio::spawn(runner.run(stop_tx.subscribe())))
            .collect();
        let result = self.server.await;
        let _ = stop_tx.send(true);
        let _ = housekeeping.await;
        let _ = rotation.await;
        // Runners stop claiming at once and finish the job in hand, within the shutdown timeout;
        // a job cut off there keeps its lease and runs again once it expires.
        let deadline = tokio::time::Instant::now() + shutdown_timeout;
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

/// Re-reads keys and certificates on SIGHUP and every `interval` (zero: SIGHUP only), and warns
/// about certificates close to expiry, until `stop` changes.
async fn rotate_keys_on_signal(
    reloader: Arc<crate::compose::keys::KeyReloader>,
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
        let reloader = Arc::clone(&reloader);
        let certificates = Arc::clone(&certificates);
        let done = tokio::task::spawn_blocking(move || {
            reloader.reload();
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
    outbound: web::Data<crate::compose::outbound::OutboundClients>,
    integrations: web::Data<crate::compose::integrations::Integrations>,
    licences: web::Data<LicenceService>,
    jobs: web::Data<Arc<dyn JobQueue>>,
    platform_stats: web::Data<Arc<dyn PlatformStats>>,
    banking: web::Data<BankingService>,
    stripe: StripeData,
    reconciliation: ReconciliationData,
    overview: web::Data<payymo_services::overview::OverviewService>,
}

/// The Stripe use cases the handlers take (the sync runs from jobs too, the event processing only
/// from jobs).
#[derive(Clone)]
struct StripeData {
    connections: web::Data<payymo_services::stripe::StripeConnections>,
    queries: web::Data<payymo_services::stripe::StripeQueries>,
    sync: web::Data<payymo_services::stripe::StripeSync>,
    webhooks: web::Data<payymo_services::stripe::StripeWebhookReceiver>,
}

impl StripeData {
    fn new(s: &payymo_services::stripe::Stripe) -> Self {
        Self {
            connections: web::Data::new(s.connections.clone()),
            queries: web::Data::new(s.queries.clone()),
            sync: web::Data::new(s.sync.clone()),
            webhooks: web::Data::new(s.webhooks.clone()),
        }
    }
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
    fn new(r: &payymo_services::reconciliation::Reconciliation) -> Self {
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
        .app_data(stripe.connections)
        .app_data(stripe.queries)
        .app_data(stripe.sync)
        .app_data(stripe.webhooks)
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
        .wrap(from_fn(crate::http::auth::identify))
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
        .configure(crate::http::routes::reconciliation::configure)
        .configure(crate::http::routes::overview::configure)
        .configure(crate::http::web::configure);
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
