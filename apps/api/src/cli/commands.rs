//! The bodies of the `payymo` subcommands: each reads the settings, builds what it needs from
//! the composition root's pieces and reports on stderr (or stdout), returning the exit code.

use std::process::ExitCode;
use std::sync::Arc;

use payymo_offline_match::MatchArgs;

use crate::compose::{self, Overrides, Runtime};
use crate::config::Settings;
use crate::http::startup::Application;
use crate::{telemetry, wiring};

/// Reports `message` on stderr; the exit code of a failed command.
#[must_use]
#[expect(
    clippy::print_stderr,
    reason = "the CLI reports fatal errors on stderr"
)]
pub fn fail(message: &str) -> ExitCode {
    eprintln!("payymo: {message}");
    ExitCode::from(2)
}

fn settings() -> Result<Settings, ExitCode> {
    let settings = Settings::load().map_err(|e| fail(&e.to_string()))?;
    telemetry::init(&settings);
    telemetry::log_panics();
    Ok(settings)
}

/// `payymo match`: decides the transactions of the files offline.
#[must_use]
#[expect(clippy::print_stderr, reason = "the CLI reports its summary on stderr")]
pub fn offline_match(args: &MatchArgs) -> ExitCode {
    let mut stderr = std::io::stderr().lock();
    match payymo_offline_match::run(args, &mut stderr) {
        Ok(summary) => {
            eprintln!(
                "payymo match: {} transactions: {} auto, {} review, {} unmatched",
                summary.transactions, summary.auto, summary.review, summary.unmatched
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e.to_string()),
    }
}

/// `payymo migrate`: applies pending migrations.
pub async fn migrate() -> ExitCode {
    let settings = match settings() {
        Ok(s) => s,
        Err(code) => return code,
    };
    let store = match wiring::open_store(&settings) {
        Ok(s) => s,
        Err(e) => return fail(&e.to_string()),
    };
    match wiring::migrate(&store).await {
        Ok(applied) => {
            tracing::info!(count = applied.len(), ?applied, "migrations applied");
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e.to_string()),
    }
}

/// Reads the new administrator's password: on a terminal, prompted twice without echo; otherwise
/// the first line of standard input.
#[expect(clippy::print_stderr, reason = "the CLI prompts on stderr")]
fn read_password() -> Result<secrecy::SecretString, String> {
    use std::io::{BufRead, IsTerminal};
    let stdin = std::io::stdin();
    let read_line = || -> Result<String, String> {
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .map_err(|e| format!("cannot read the password: {e}"))?;
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    };
    if !stdin.is_terminal() {
        return read_line().map(secrecy::SecretString::from);
    }
    // No echo while the password is typed; restored whatever happens.
    let stty = |arg: &str| {
        std::process::Command::new("stty")
            .arg(arg)
            .stdin(std::process::Stdio::inherit())
            .status()
    };
    let _ = stty("-echo");
    eprint!("Password: ");
    let first = read_line();
    eprint!("\nRepeat password: ");
    let second = read_line();
    eprintln!();
    let _ = stty("echo");
    let (first, second) = (first?, second?);
    if first != second {
        return Err("the passwords differ".to_owned());
    }
    Ok(secrecy::SecretString::from(first))
}

/// `payymo create-admin`: creates a system administrator (password from a prompt or stdin).
#[expect(clippy::print_stderr, reason = "the CLI reports its result on stderr")]
pub async fn create_admin(email: &str) -> ExitCode {
    let settings = match settings() {
        Ok(s) => s,
        Err(code) => return code,
    };
    let password = match read_password() {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    let store = match wiring::open_store(&settings) {
        Ok(s) => s,
        Err(e) => return fail(&e.to_string()),
    };
    if settings.auto_migrate
        && let Err(e) = wiring::migrate(&store).await
    {
        return fail(&e.to_string());
    }
    let ports = match Runtime::new(&settings, &Overrides::with_store(store)).and_then(|runtime| {
        compose::identity_ports(&runtime, Arc::new(wiring::token_codec(&settings)?))
    }) {
        Ok(p) => p,
        Err(e) => return fail(&e.to_string()),
    };
    let registration = payymo_services::identity::IdentityUseCases::new(
        ports,
        &payymo_services::identity::IdentityConfig::default(),
    )
    .registration;
    match registration
        .create_tenant_with_user(
            email,
            password,
            "Payymo platform",
            payymo_domain::user::Role::SystemAdmin,
            &payymo_services::identity::RequestContext::default(),
            "admin.created_from_cli",
        )
        .await
    {
        Ok((tenant, user)) => {
            eprintln!(
                "payymo: created system_admin {email} (user {user}, platform tenant {tenant})"
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e.to_string()),
    }
}

/// `payymo rotate-keys`: re-encrypts the stored secrets under the active field key.
#[expect(clippy::print_stderr, reason = "the CLI reports its result on stderr")]
pub async fn rotate_keys() -> ExitCode {
    let settings = match settings() {
        Ok(s) => s,
        Err(code) => return code,
    };
    if settings.field_keys.is_none() {
        // An ephemeral key would re-encrypt everything under a key that dies with this process.
        return fail(
            "PAYYMO_FIELD_KEYS (or PAYYMO_FIELD_KEYS_FILE) is not set: there is no key to rotate to",
        );
    }
    let store = match wiring::open_store(&settings) {
        Ok(s) => s,
        Err(e) => return fail(&e.to_string()),
    };
    let Runtime { store, cipher, .. } = match Runtime::new(&settings, &Overrides::with_store(store))
    {
        Ok(runtime) => runtime,
        Err(e) => return fail(&e.to_string()),
    };
    match payymo_services::keys::rotate_keys(&store, cipher.as_ref()).await {
        Ok(report) => {
            eprintln!(
                "payymo rotate-keys: {} of {} stored secrets re-encrypted under key {}{}",
                report.reencrypted,
                report.examined,
                payymo_ports::crypto::FieldCipher::active_key_id(cipher.as_ref()),
                if report.raced > 0 {
                    format!(" ({} changed meanwhile: run again)", report.raced)
                } else {
                    String::new()
                }
            );
            for (column, count) in &report.by_column {
                eprintln!("  {column}: {count}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(&format!("rotate-keys stopped: {e}")),
    }
}

/// `payymo serve` (the default): composes the application and serves until stopped.
pub async fn serve(no_migrate: bool) -> ExitCode {
    let settings = match settings() {
        Ok(s) => s,
        Err(code) => return code,
    };
    for fallback in settings.development_fallbacks() {
        tracing::warn!("DEVELOPMENT FALLBACK: {fallback}");
    }
    let store = match wiring::open_store(&settings) {
        Ok(s) => s,
        Err(e) => return fail(&e.to_string()),
    };
    if settings.auto_migrate && !no_migrate {
        match wiring::migrate(&store).await {
            Ok(applied) if !applied.is_empty() => {
                tracing::info!(count = applied.len(), "migrations applied at start");
            }
            Ok(_) => {}
            Err(e) => return fail(&e.to_string()),
        }
    }
    if settings.integrations.stripe_api_key.is_some() {
        tracing::info!(
            "STRIPE_API_KEY is set: `payymo stripe-seed --tenant <id>` creates the default Stripe \
             connection from it"
        );
    }
    let bind = settings.bind;
    let composition = match compose::compose(&settings, Overrides::with_store(store)) {
        Ok(c) => c,
        Err(e) => return fail(&e.to_string()),
    };
    let app = match Application::build(settings, composition) {
        Ok(app) => app,
        Err(e) => return fail(&format!("cannot listen on {bind}: {e}")),
    };
    tracing::info!(%bind, port = app.port(), "payymo serving");
    match app.run_until_stopped().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&format!("server error: {e}")),
    }
}

/// `payymo stripe-seed`: creates the tenant's Stripe connection from the seed variables.
#[expect(
    clippy::print_stdout,
    reason = "the CLI prints the webhook URL to register"
)]
pub async fn stripe_seed(tenant: uuid::Uuid) -> ExitCode {
    let settings = match settings() {
        Ok(s) => s,
        Err(code) => return code,
    };
    let store = match wiring::open_store(&settings) {
        Ok(s) => s,
        Err(e) => return fail(&e.to_string()),
    };
    let tenant = payymo_domain::ids::TenantId::from_uuid(tenant);
    match crate::cli::stripe_seed::seed_default_connection(&settings, &store, tenant).await {
        Ok(connected) => {
            println!(
                "Stripe connection {} created; register this webhook endpoint in Stripe: \
                 {}/api/webhooks/stripe/{}",
                connected.id, settings.public_url, connected.id
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e.to_string()),
    }
}
