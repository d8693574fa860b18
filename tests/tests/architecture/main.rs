//! The architecture invariants of `docs/architecture.md`, as tests: each names its offender.
//!
//! - `crate_graph`: which workspace crate may depend on which, and which crates stay free of I/O
//!   and framework crates (from `cargo metadata`).
//! - `source_files`: a `//!` line atop every Rust source file.
//! - `configuration`: `config.rs`'s list of variables, the README's table and `.env.example` are
//!   one set.
//! - `migrations`: the PostgreSQL and SQLite migrations create the same tables and columns.

mod configuration;
mod crate_graph;
mod migrations;
mod source_files;

use std::path::PathBuf;

/// The workspace root (this package lives in `<root>/tests`). Cargo's variable at run time wins
/// over the one compiled in, so a test binary built in another checkout still reads this one.
#[expect(
    clippy::disallowed_methods,
    reason = "a test reads where cargo runs it from, not configuration"
)]
fn workspace_root() -> PathBuf {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    manifest
        .parent()
        .unwrap_or_else(|| panic!("the tests package has no parent directory"))
        .to_path_buf()
}

/// A file of the workspace, as text.
fn read(relative: &str) -> String {
    let path = workspace_root().join(relative);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}
