//! Invariant: the configuration variables are one set, named in three places that agree:
//! `payymo_api::config::DOCUMENTED_VARIABLES` (which the settings reader holds itself to), the
//! README's configuration table and `.env.example`.

use std::collections::BTreeSet;

use payymo_api::config::{DOCUMENTED_VARIABLES, is_documented};

use crate::read;

/// A variable name: upper case, digits and underscores, starting with a letter.
fn is_variable_name(word: &str) -> bool {
    word.len() > 2
        && word.starts_with(|c: char| c.is_ascii_uppercase())
        && word
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// `NAME_FILE` stands for `NAME` (a file-mounted secret).
fn canonical(name: &str) -> String {
    match name.strip_suffix("_FILE") {
        Some(base) if DOCUMENTED_VARIABLES.contains(&base) => base.to_owned(),
        _ => name.to_owned(),
    }
}

/// The variables of the README's `## Configuration` table: every `NAME` in a row's first cell.
fn readme_table() -> BTreeSet<String> {
    let readme = read("README.md");
    let section = readme
        .split("\n## Configuration\n")
        .nth(1)
        .unwrap_or_else(|| panic!("README.md has no `## Configuration` section"));
    let section = section.split("\n## ").next().unwrap_or_default();
    section
        .lines()
        .filter(|line| line.starts_with("| `"))
        .filter_map(|line| line.split('|').nth(1))
        .flat_map(|cell| cell.split('`').skip(1).step_by(2).map(str::to_owned))
        .filter(|word| is_variable_name(word))
        .map(|word| canonical(&word))
        .collect()
}

/// The variables `.env.example` sets or shows commented out (`NAME=...` or `#NAME=...`).
fn env_example() -> BTreeSet<String> {
    read(".env.example")
        .lines()
        .map(|line| line.trim_start_matches('#').trim_start())
        .filter_map(|line| line.split_once('=').map(|(name, _)| name))
        .filter(|name| is_variable_name(name))
        .map(canonical)
        .collect()
}

fn documented() -> BTreeSet<String> {
    DOCUMENTED_VARIABLES
        .iter()
        .map(|v| (*v).to_owned())
        .collect()
}

fn difference(a: &BTreeSet<String>, b: &BTreeSet<String>) -> Vec<String> {
    a.difference(b).cloned().collect()
}

#[test]
fn the_documented_variables_are_listed_once_each() {
    let mut seen = BTreeSet::new();
    let twice: Vec<&str> = DOCUMENTED_VARIABLES
        .iter()
        .copied()
        .filter(|v| !seen.insert(*v))
        .collect();
    assert!(
        twice.is_empty(),
        "listed twice in DOCUMENTED_VARIABLES: {twice:?}"
    );
    assert!(is_documented("DATABASE_URL") && is_documented("ADMIN_API_KEY_FILE"));
    assert!(!is_documented("NOT_A_PAYYMO_VARIABLE"));
}

#[test]
fn the_readme_table_names_exactly_the_documented_variables() {
    let (code, readme) = (documented(), readme_table());
    let missing = difference(&code, &readme);
    let unknown = difference(&readme, &code);
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "README.md's configuration table and config.rs's DOCUMENTED_VARIABLES differ:\n  \
         missing from the README table: {missing:?}\n  \
         in the README table but not read by config.rs: {unknown:?}"
    );
}

#[test]
fn env_example_names_exactly_the_documented_variables() {
    let (code, example) = (documented(), env_example());
    let missing = difference(&code, &example);
    let unknown = difference(&example, &code);
    assert!(
        missing.is_empty() && unknown.is_empty(),
        ".env.example and config.rs's DOCUMENTED_VARIABLES differ:\n  \
         missing from .env.example: {missing:?}\n  \
         in .env.example but not read by config.rs: {unknown:?}"
    );
}
