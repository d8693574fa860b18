#!/usr/bin/env sh
# Identity load figures on the real server: login latency at this build's argon2 parameters,
# /healthz latency idle and while 20 clients log in without pause, and authenticated requests per
# second. RS256 verification alone: `cargo bench -p payymo-adapter-crypto --bench crypto`.
# Prints a Markdown report. Release build; SQLite in a temporary directory.
set -eu
cd "$(dirname "$0")/../.."
cargo bench -p payymo-tests --bench identity
