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
use payymo_services::identity::{IdentityConfig, IdentityPorts, IdentityService};
use payymo_services::reconciliation::{
    ReconciliationConfig, ReconciliationPorts, ReconciliationService,
};

use crate::config::Settings;
use crate::metrics::Metrics;
use crate::middleware::{self as mw, HttpsPolicy};
use crate::net::TrustedProxies;
use crate::problem::{self, ApiError, ProblemKind};
use crate::rate_limit::{self, RateLimiters};
use crate::routes::{admin, api_keys, audit, auth as auth_routes, docs, health, jwks, users};

/// The adapters behind the ports, chosen by the caller.
#[derive(Clone)]
pub struct Adapters {
    /// The storage's health (readiness, pool metrics).
    pub database: Arc<dyn DatabaseHealth>,
    /// The ports of the identity service (stores, crypto, clock).
    pub identity: IdentityPorts,
    /// Encryption of stored secrets (TOTP secrets, connection credentials).
    pub field_cipher: Arc<dyn FieldCipher>,
    /// The ports of the reconciliation workflow (stores, WHMCS connector, crypto, clock).
    pub reconciliation: ReconciliationPorts,
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
    identity: IdentityService,
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
        let identity = IdentityService::new(
            adapters.identity,
            IdentityConfig {
                open_registration: settings.open_registration,
                admin_api_key: settings.admin_api_key.clone(),
                ..IdentityConfig::default()
            },
        );
        let reconciliation =
            ReconciliationService::new(adapters.reconciliation, ReconciliationConfig::default());
        let state = SharedState {
            proxies: web::Data::new(TrustedProxies(settings.trusted_proxies.clone())),
            https: web::Data::new(HttpsPolicy {
                enforce: settings.enforce_https,
            }),
            settings: web::Data::new(settings),
            database: web::Data::new(adapters.database),
            identity: web::Data::new(identity.clone()),
            reconciliation: web::Data::new(reconciliation),
            metrics: web::Data::new(Metrics::new()),
            limiters: web::Data::new(limiters.clone()),
            openapi: web::Data::new(docs::OpenApiJson(crate::openapi::render())),
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
            identity,
        })
    }

    /// The bound port.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
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
        let identity = self.identity.clone();
        let housekeeping = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_mins(1));
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        limiters.retain_recent();
                        // Revocations of access tokens that have expired anyway are dead weight.
                        if let Err(e) = identity.prune_revocations().await {
                            tracing::warn!(error = %e, "pruning token revocations failed");
                        }
                    }
                    _ = stop_rx.changed() => break,
                }
            }
        });
        let result = self.server.await;
        let _ = stop_tx.send(true);
        let _ = housekeeping.await;
        tracing::info!("server stopped");
        result
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
    identity: web::Data<IdentityService>,
    reconciliation: web::Data<ReconciliationService>,
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
        reconciliation,
    } = state;
    let max_body = settings.max_body_bytes;
    let mut app = App::new()
        .app_data(settings)
        .app_data(database)
        .app_data(metrics)
        .app_data(limiters)
        .app_data(proxies)
        .app_data(https)
        .app_data(openapi)
        .app_data(identity)
        .app_data(reconciliation)
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
        .configure(crate::routes::reconciliation::configure);
    if let Some(extra) = extra {
        app = app.configure(move |cfg| extra(cfg));
    }
    app.default_service(web::to(not_found))
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
