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

use std::path::{Path, PathBuf};

/// The workspace root (this package lives in `<root>/tests`).
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
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
