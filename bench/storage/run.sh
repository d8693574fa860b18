#!/usr/bin/env sh
# Storage benchmark: ingest of 100 000 transactions through the port vs psql \copy, and a page of
# 50 unmatched transactions from a tenant with 1 000 000 rows. Needs PostgreSQL at
# TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres) and psql on the path.
# Prints a Markdown report; a fresh database is created and dropped.
set -eu
cd "$(dirname "$0")/../.."
cargo bench -p payymo-adapter-diesel --bench storage
