//! Invariant: every Rust source file of the workspace starts with a `//!` line saying what it is for.

use std::path::{Path, PathBuf};

use crate::workspace_root;

/// Folders never walked: build output and version control.
const SKIPPED: &[&str] = &["target", ".git"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|error| panic!("cannot list {}: {error}", dir.display()));
    for entry in entries {
        let path = entry
            .unwrap_or_else(|error| panic!("cannot list {}: {error}", dir.display()))
            .path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if path.is_dir() {
            if !SKIPPED.contains(&name) {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_rust_source_file_starts_with_a_line_saying_what_it_is_for() {
    let root = workspace_root();
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    assert!(
        files.len() > 50,
        "found only {} .rs files under {}: is the walk broken?",
        files.len(),
        root.display()
    );
    let mut offenders: Vec<String> = files
        .iter()
        .filter(|path| {
            let text = std::fs::read_to_string(path)
                .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
            !text.lines().next().is_some_and(|l| l.starts_with("//! "))
        })
        .map(|path| {
            path.strip_prefix(&root)
                .unwrap_or(path)
                .display()
                .to_string()
        })
        .collect();
    offenders.sort();
    assert!(
        offenders.is_empty(),
        "these files do not start with a `//! ...` line saying what they are for:\n  {}",
        offenders.join("\n  ")
    );
}
