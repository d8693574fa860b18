//! The black-box test harness: starts the real Payymo application in-process on a random port,
//! with a fresh database (PostgreSQL: a new database per test, dropped afterwards; SQLite: a temp
//! file), lets a test swap any adapter for a mock or fake, and gives an HTTP client.
//!
//! ```ignore
//! let app = TestApp::builder().sqlite().env("RATE_LIMIT_AUTH", "3/minute").spawn().await;
//! let res = app.get("/healthz").await;
//! ```

#![expect(
    clippy::expect_used,
    reason = "a test harness that cannot set up must fail the test loudly"
)]
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use actix_web::dev::ServerHandle;
use actix_web::web;
use chrono::{DateTime, Utc};
use payymo_adapter_crypto::JwtSigningKey;
use payymo_adapter_diesel::DieselStore;
use payymo_api::compose::{Overrides, compose};
use payymo_api::config::Settings;
use payymo_api::startup::{Application, ExtraRoutes};
use payymo_ports::clock::Clock;
use payymo_ports::health::DatabaseHealth;
use payymo_test_support::TestDatabase;
use secrecy::ExposeSecret;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub mod browser;
pub mod gocardless;

/// Which database backs the app under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A fresh PostgreSQL database on `TEST_DATABASE_URL`.
    Postgres,
    /// A temp SQLite file.
    Sqlite,
}

/// Rewrites a database URL (to route the app through a proxy).
type UrlRewrite = Box<dyn FnOnce(&str) -> String + Send>;

/// Builds a [`TestApp`]; every adapter can be replaced before spawning.
#[must_use]
pub struct TestAppBuilder {
    backend: Backend,
    env: HashMap<String, String>,
    database: Option<Arc<dyn DatabaseHealth>>,
    routes: Option<ExtraRoutes>,
    database_url_through: Option<UrlRewrite>,
    migrated: bool,
    clock: Option<Arc<dyn Clock>>,
    job_handlers: Vec<Arc<dyn payymo_services::jobs::JobHandler>>,
    overrides: Overrides,
}

/// A clock a test moves by hand (starts at the real time).
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl Default for ManualClock {
    fn default() -> Self {
        Self(Arc::new(Mutex::new(Utc::now())))
    }
}

impl ManualClock {
    /// Moves the clock forward.
    ///
    /// # Panics
    /// When the lock is poisoned.
    pub fn advance(&self, by: chrono::Duration) {
        let mut now = self.0.lock().expect("clock lock");
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("clock lock")
    }
}

/// The RS256 key pair a test app signs its tokens with (PEM), so tests can forge tokens.
#[derive(Debug, Clone)]
pub struct JwtKeys {
    /// PKCS#8 private key.
    pub private_pem: String,
    /// SPKI public key.
    pub public_pem: String,
    /// The key id (`kid`) the app puts in its tokens.
    pub kid: String,
}

impl JwtKeys {
    /// A fresh RSA-2048 key pair.
    ///
    /// # Panics
    /// When key generation fails.
    #[must_use]
    pub fn generate() -> Self {
        let key = JwtSigningKey::generate_ephemeral().expect("generating an RSA key");
        Self {
            private_pem: key
                .to_pkcs8_pem()
                .expect("private key PEM")
                .expose_secret()
                .to_owned(),
            public_pem: key
                .verification_key()
                .to_spki_pem()
                .expect("public key PEM"),
            kid: key.kid().to_owned(),
        }
    }
}

impl std::fmt::Debug for TestAppBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestAppBuilder")
            .field("backend", &self.backend)
            .field("env", &self.env)
            .finish_non_exhaustive()
    }
}

impl TestAppBuilder {
    /// Use PostgreSQL (the default).
    pub fn postgres(mut self) -> Self {
        self.backend = Backend::Postgres;
        self
    }

    /// Use SQLite.
    pub fn sqlite(mut self) -> Self {
        self.backend = Backend::Sqlite;
        self
    }

    /// Use the given backend.
    pub fn backend(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }

    /// Leaves the database empty (no migrations applied), as a new deployment finds it.
    pub fn unmigrated(mut self) -> Self {
        self.migrated = false;
        self
    }

    /// Sets a configuration variable, exactly as the environment would.
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.insert(name.to_owned(), value.to_owned());
        self
    }

    /// Replaces the database health adapter.
    pub fn with_database_health(mut self, health: Arc<dyn DatabaseHealth>) -> Self {
        self.database = Some(health);
        self
    }

    /// Mounts extra routes (to probe the shared HTTP contract).
    pub fn with_routes(
        mut self,
        routes: impl Fn(&mut web::ServiceConfig) + Send + Sync + 'static,
    ) -> Self {
        self.routes = Some(Arc::new(routes));
        self
    }

    /// Replaces the clock of every use case, job runner and scheduler (e.g. a [`ManualClock`]).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Replaces the id generator of every use case.
    pub fn with_ids(mut self, ids: Arc<dyn payymo_ports::clock::IdGenerator>) -> Self {
        self.overrides.ids = Some(ids);
        self
    }

    /// Replaces the WHMCS ledger connector.
    pub fn with_ledger_connector(
        mut self,
        ledgers: Arc<dyn payymo_ports::ledger_connector::LedgerConnector>,
    ) -> Self {
        self.overrides.ledgers = Some(ledgers);
        self
    }

    /// Replaces the open-banking feed.
    pub fn with_bank_feed(mut self, feed: Arc<dyn payymo_ports::bank_feed::BankFeed>) -> Self {
        self.overrides.bank_feed = Some(feed);
        self
    }

    /// Replaces the Stripe API.
    pub fn with_stripe_gateway(
        mut self,
        gateway: Arc<dyn payymo_ports::payment_gateway::PaymentGateway>,
    ) -> Self {
        self.overrides.stripe_gateway = Some(gateway);
        self
    }

    /// Registers a job handler next to the app's own (start runners with
    /// `.env("PAYYMO_JOB_WORKERS", "1")`: the harness starts none by default).
    pub fn with_job_handler(mut self, handler: Arc<dyn payymo_services::jobs::JobHandler>) -> Self {
        self.job_handlers.push(handler);
        self
    }

    /// Rewrites the database URL the app connects to (the test database itself is still created
    /// and migrated at its real address) — e.g. to go through a [`ToggleProxy`].
    pub fn database_url_through(
        mut self,
        rewrite: impl FnOnce(&str) -> String + Send + 'static,
    ) -> Self {
        self.database_url_through = Some(Box::new(rewrite));
        self
    }

    /// Creates the database, builds the app on 127.0.0.1:0 and starts serving.
    ///
    /// # Panics
    /// When the database or the server cannot be started: the test cannot run.
    pub async fn spawn(self) -> TestApp {
        let db = test_database(self.backend, self.migrated).await;
        let url = match self.database_url_through {
            Some(rewrite) => rewrite(db.url()),
            None => db.url().to_owned(),
        };
        let keys = JwtKeys::generate();
        let key_dir = tempfile::tempdir().expect("a temp dir for the JWT keys");
        let vars = test_vars(self.env, url, &keys, &key_dir);
        let settings = Settings::from_vars(&vars).unwrap_or_else(|e| panic!("test settings: {e}"));
        let overrides = Overrides {
            clock: self.clock,
            database: self.database,
            job_handlers: self.job_handlers,
            routes: self.routes,
            ..self.overrides
        };
        let composition =
            compose(&settings, overrides).unwrap_or_else(|e| panic!("composing the test app: {e}"));
        let store = composition.runtime.store.clone();
        let reconciliation = composition.reconciliation.ports.clone();
        let stripe = composition.stripe.clone();
        let app = Application::build(settings, composition).expect("binding the test server");
        let port = app.port();
        let handle = app.handle();
        let server = tokio::spawn(app.run_until_stopped());
        TestApp {
            address: format!("http://127.0.0.1:{port}"),
            port,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("building the HTTP client"),
            handle,
            server: Some(server),
            store,
            reconciliation,
            jwt: keys,
            stripe,
            _keys: key_dir,
            db,
        }
    }
}

/// A fresh test database.
async fn test_database(backend: Backend, migrated: bool) -> TestDatabase {
    tokio::task::spawn_blocking(move || match (backend, migrated) {
        (Backend::Postgres, true) => TestDatabase::postgres(),
        (Backend::Postgres, false) => TestDatabase::postgres_empty(),
        (Backend::Sqlite, true) => TestDatabase::sqlite(),
        (Backend::Sqlite, false) => TestDatabase::sqlite_empty(),
    })
    .await
    .expect("creating the test database panicked")
}

/// The variables of a test app: the test's own, then the database at `url`, the JWT `keys`
/// (written to `key_dir`), a random port, and no job runners nor schedules unless asked for.
fn test_vars(
    mut vars: HashMap<String, String>,
    url: String,
    keys: &JwtKeys,
    key_dir: &tempfile::TempDir,
) -> HashMap<String, String> {
    let (private_path, public_path) = (
        key_dir.path().join("private.pem"),
        key_dir.path().join("public.pem"),
    );
    std::fs::write(&private_path, &keys.private_pem).expect("writing the private key");
    std::fs::write(&public_path, &keys.public_pem).expect("writing the public key");
    vars.entry("JWT_PRIVATE_KEY_PATH".into())
        .or_insert_with(|| private_path.to_string_lossy().into_owned());
    vars.entry("JWT_PUBLIC_KEY_PATH".into())
        .or_insert_with(|| public_path.to_string_lossy().into_owned());
    vars.entry("DATABASE_URL".into()).or_insert(url);
    vars.insert("PAYYMO_BIND".into(), "127.0.0.1:0".into());
    vars.entry("PAYYMO_WORKERS".into())
        .or_insert_with(|| "2".into());
    vars.entry("PAYYMO_SHUTDOWN_TIMEOUT".into())
        .or_insert_with(|| "5".into());
    // No job runners unless a test asks for them: they would poll every test's database.
    vars.entry("PAYYMO_JOB_WORKERS".into())
        .or_insert_with(|| "0".into());
    // Nor scheduled syncs and sweeps, which would queue jobs a test did not ask for.
    for schedule in [
        "PAYYMO_STRIPE_SYNC_INTERVAL",
        "PAYYMO_WHMCS_SYNC_INTERVAL",
        "PAYYMO_APPLY_SWEEP_INTERVAL",
    ] {
        vars.entry(schedule.into()).or_insert_with(|| "0".into());
    }
    vars
}

/// A running app under test. Dropping it stops the server and drops its database.
#[derive(Debug)]
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    /// The bound port.
    pub port: u16,
    /// An HTTP client (redirects are not followed, so tests see them).
    pub client: reqwest::Client,
    handle: ServerHandle,
    server: Option<JoinHandle<std::io::Result<()>>>,
    /// The app's store (for arranging data directly).
    pub store: DieselStore,
    /// The ports the app's reconciliation service runs on (tests build more services over them,
    /// e.g. two payment appliers side by side, or one with a clock of its own).
    pub reconciliation: payymo_services::reconciliation::ReconciliationPorts,
    /// The key pair the app signs tokens with.
    pub jwt: JwtKeys,
    /// The app's Stripe use cases, over its own adapters (to run their job handlers directly).
    pub stripe: payymo_services::stripe::Stripe,
    _keys: tempfile::TempDir,
    db: TestDatabase,
}

impl TestApp {
    /// A builder with PostgreSQL and no overrides.
    pub fn builder() -> TestAppBuilder {
        TestAppBuilder {
            backend: Backend::Postgres,
            env: HashMap::new(),
            database: None,
            routes: None,
            database_url_through: None,
            migrated: true,
            clock: None,
            job_handlers: Vec::new(),
            overrides: Overrides::default(),
        }
    }

    /// The URL of `path` on this app.
    #[must_use]
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// `GET path`.
    ///
    /// # Panics
    /// When the request cannot be sent.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("GET failed")
    }

    /// `POST path` with a JSON body.
    ///
    /// # Panics
    /// When the request cannot be sent.
    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("POST failed")
    }

    /// `method path` with a bearer token and an optional JSON body.
    ///
    /// # Panics
    /// When the request cannot be sent.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<&serde_json::Value>,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.expect("request failed")
    }

    /// Registers a tenant with its first user (a `financial_admin`); returns the user's id.
    ///
    /// # Panics
    /// When registration does not answer 201.
    pub async fn register(&self, email: &str, password: &str, organisation: &str) -> String {
        let res = self
            .post_json(
                "/api/auth/register",
                &serde_json::json!({"email": email, "password": password, "organisation": organisation}),
            )
            .await;
        let status = res.status();
        let body: serde_json::Value = res.json().await.expect("register body");
        assert_eq!(status, 201, "register failed: {body}");
        body["user_id"].as_str().expect("user_id").to_owned()
    }

    /// Logs in; returns the token response body.
    ///
    /// # Panics
    /// When login does not answer 200.
    pub async fn login(&self, email: &str, password: &str) -> serde_json::Value {
        let res = self
            .post_json(
                "/api/auth/login",
                &serde_json::json!({"email": email, "password": password}),
            )
            .await;
        let status = res.status();
        let body: serde_json::Value = res.json().await.expect("login body");
        assert_eq!(status, 200, "login failed: {body}");
        body
    }

    /// Registers a tenant and logs its first user (a `financial_admin`) in, then marks the user
    /// MFA-enrolled directly in storage (a placeholder secret: the token from before the marking
    /// keeps working, a new password login would now ask for a code). Returns the access token and
    /// the tenant.
    ///
    /// # Panics
    /// When registration, login or the storage update fails.
    pub async fn enrolled_admin(
        &self,
        email: &str,
        password: &str,
        organisation: &str,
    ) -> (String, payymo_domain::ids::TenantId) {
        use payymo_ports::storage::UserStore;
        self.register(email, password, organisation).await;
        let token = self.login(email, password).await["access_token"]
            .as_str()
            .expect("access token")
            .to_owned();
        let mut user = self
            .store
            .find_user_by_email(email)
            .await
            .expect("the registered user");
        assert_eq!(user.role, payymo_domain::user::Role::FinancialAdmin);
        user.mfa_secret_encrypted = Some(b"v1:k1:placeholder".to_vec());
        self.store
            .update_user(user.tenant_id, &user)
            .await
            .expect("marking MFA enrolled");
        (token, user.tenant_id)
    }

    /// Stores a linked bank connection (access until `access_expires_at`, if given) with one
    /// EUR account (IBAN `NL91ABNA0417164300`) for `tenant`, as a completed GoCardless link
    /// would; returns the account.
    ///
    /// # Panics
    /// When storage refuses it.
    pub async fn linked_bank_account(
        &self,
        tenant: payymo_domain::ids::TenantId,
        access_expires_at: Option<DateTime<Utc>>,
    ) -> payymo_domain::ids::BankAccountId {
        use payymo_domain::connection::{BankAccount, BankConnection, BankConnectionStatus};
        use payymo_domain::ids::{BankAccountId, ConnectionId};
        use payymo_ports::storage::ConnectionStore;
        let ids = &self.reconciliation.ids;
        let now = self.reconciliation.clock.now();
        let connection = BankConnection {
            id: ConnectionId::from_uuid(ids.new_id()),
            tenant_id: tenant,
            institution_id: "SANDBOXFINANCE_SFIN0000".into(),
            requisition_id: format!("req-{}", ids.new_id()),
            agreement_id: None,
            status: BankConnectionStatus::Linked,
            access_expires_at,
        };
        self.store
            .create_bank_connection(&connection, now)
            .await
            .expect("bank connection");
        let account = BankAccount {
            id: BankAccountId::from_uuid(ids.new_id()),
            tenant_id: tenant,
            connection_id: connection.id,
            provider_account_id: format!("acc-{}", ids.new_id()),
            iban: Some("NL91ABNA0417164300".into()),
            name: Some("Main".into()),
            currency: payymo_domain::money::Currency::EUR,
            last_synced_at: None,
        };
        self.store
            .add_bank_account(&account, now)
            .await
            .expect("bank account");
        account.id
    }

    /// The database URL of this app (`postgres://...` or `sqlite://<file>`).
    #[must_use]
    pub fn database_url(&self) -> &str {
        self.db.url()
    }

    /// The audit actions of the tenant of the user with `email`, newest first (read from the
    /// store, not through the API).
    ///
    /// # Panics
    /// When the user or the events cannot be read.
    pub async fn store_actions_of(&self, email: &str) -> Vec<String> {
        use payymo_ports::storage::{AuditLog, UserStore};
        let user = self
            .store
            .find_user_by_email(email)
            .await
            .expect("user by e-mail");
        self.store
            .list_events(user.tenant_id, None, 1000)
            .await
            .expect("audit events")
            .into_iter()
            .map(|e| e.action)
            .collect()
    }

    /// Stops the server gracefully (in-flight requests finish) and waits for it.
    ///
    /// # Panics
    /// When the server task failed.
    pub async fn stop(mut self) {
        self.handle.stop(true).await;
        if let Some(server) = self.server.take() {
            server
                .await
                .expect("server task panicked")
                .expect("server failed");
        }
    }

    /// The stop handle (to stop while a request is in flight).
    #[must_use]
    pub fn handle(&self) -> ServerHandle {
        self.handle.clone()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

/// Reads a response as a problem+json document, asserting the media type.
///
/// # Panics
/// When the response is not a problem document.
pub async fn problem(res: reqwest::Response) -> serde_json::Value {
    let ct = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(ct, "application/problem+json", "not a problem response");
    let header_id = res
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let status = res.status().as_u16();
    let body: serde_json::Value = res.json().await.expect("problem body is not JSON");
    for field in ["type", "title", "status", "detail", "request_id"] {
        assert!(body.get(field).is_some(), "problem lacks {field}: {body}");
    }
    assert_eq!(
        body["status"], status,
        "status field differs from the HTTP status"
    );
    assert_eq!(
        body["request_id"].as_str(),
        header_id.as_deref(),
        "request id differs"
    );
    body
}

/// A TCP proxy in front of a database that a test can cut and restore, to see the app notice an
/// outage and recover — with the real database and driver behind it.
#[derive(Debug)]
pub struct ToggleProxy {
    /// The proxy's port on 127.0.0.1.
    pub port: u16,
    up: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl ToggleProxy {
    /// Starts forwarding 127.0.0.1:PORT to `target`.
    ///
    /// # Panics
    /// When no port can be bound.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let (up, up_rx) = watch::channel(true);
        let task = tokio::spawn(async move {
            let mut connections: Vec<JoinHandle<()>> = Vec::new();
            loop {
                let Ok((inbound, _)) = listener.accept().await else {
                    continue;
                };
                connections.retain(|c| !c.is_finished());
                if !*up_rx.borrow() {
                    // Down: drop the client at once and cut every open connection.
                    drop(inbound);
                    for c in connections.drain(..) {
                        c.abort();
                    }
                    continue;
                }
                let mut watch_down = up_rx.clone();
                connections.push(tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(target).await else { return };
                    let mut inbound = inbound;
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        () = async { while watch_down.changed().await.is_ok() { if !*watch_down.borrow() { break; } } } => {}
                    }
                }));
            }
        });
        Self { port, up, task }
    }

    /// Cuts the database off (open connections are closed, new ones are refused) or restores it.
    pub fn set_up(&self, up: bool) {
        let _ = self.up.send(up);
    }
}

impl Drop for ToggleProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}
