//! The `payymo` binary: parses the command line and runs the command (`cli::commands`).

use std::process::ExitCode;

use clap::Parser;

use payymo_api::cli::commands::{
    create_admin, fail, migrate, offline_match, rotate_keys, serve, stripe_seed,
};
use payymo_api::cli::import_statement::{ImportArgs, import_statement};
use payymo_api::cli::{Cli, Command};
use payymo_offline_match::MatchArgs;

// mimalloc instead of the system allocator: `payymo match` allocates and frees millions of small
// strings, and runs about a sixth faster with it (bench/matching/README.md); the server's many
// short-lived request buffers do well with it too.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&format!("cannot start the async runtime: {e}")),
    };
    runtime.block_on(async move {
        match cli.command.unwrap_or(Command::Serve { no_migrate: false }) {
            Command::Serve { no_migrate } => serve(no_migrate).await,
            Command::Migrate => migrate().await,
            Command::CreateAdmin { email } => create_admin(&email).await,
            Command::RotateKeys => rotate_keys().await,
            Command::StripeSeed { tenant } => stripe_seed(tenant).await,
            Command::Match {
                invoices,
                transactions,
                output,
                auto_threshold,
            } => offline_match(&MatchArgs {
                invoices,
                transactions,
                output,
                auto_threshold,
            }),
            Command::ImportStatement {
                file,
                account,
                dry_run,
                json,
                currency,
            } => import_statement(&ImportArgs {
                file: &file,
                account,
                dry_run,
                json,
                currency,
            }),
        }
    })
}
