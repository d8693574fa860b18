//! Embeds the dashboard: generates a table of every file under `web/` (path, content type, `ETag`,
//! bytes via `include_bytes!`), so the binary serves the dashboard without a separate web server
//! and without a list of files to keep in step by hand.

#![expect(
    clippy::disallowed_methods,
    reason = "a build script reads cargo's variables"
)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest =
        PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").ok_or("no CARGO_MANIFEST_DIR")?);
    let out = PathBuf::from(std::env::var_os("OUT_DIR").ok_or("no OUT_DIR")?);
    let web = manifest.join("web");
    println!("cargo:rerun-if-changed=web");
    let mut files = Vec::new();
    collect(&web, &web, &mut files)?;
    files.sort();
    let mut code = String::from(
        "/// The embedded dashboard files: (path under `web/`, content type, `ETag`, bytes).\n",
    );
    code.push_str("pub static ASSETS: &[(&str, &str, &str, &[u8])] = &[\n");
    for (relative, absolute) in &files {
        println!("cargo:rerun-if-changed={}", absolute.display());
        let bytes = std::fs::read(absolute)?;
        writeln!(
            code,
            "    ({relative:?}, {:?}, \"\\\"{:016x}\\\"\", include_bytes!({:?})),",
            content_type(relative),
            fnv1a(&bytes),
            absolute.display().to_string(),
        )?;
    }
    code.push_str("];\n");
    std::fs::write(out.join("web_assets.rs"), code)?;
    Ok(())
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        // Editor swap files, dot files and the like are not part of the dashboard.
        if name.starts_with('.') || name.ends_with('~') {
            continue;
        }
        if path.is_dir() {
            collect(root, &path, files)?;
        } else if let Ok(relative) = path.strip_prefix(root) {
            let relative = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            files.push((relative, path));
        }
    }
    Ok(())
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}

/// FNV-1a, 64 bits: enough to tell versions of a file apart for caching.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}
