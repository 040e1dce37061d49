#!/usr/bin/env bash
# Runs Mamori's whole test suite: Rust unit and integration tests on SQLite and PostgreSQL
# (PostgreSQL at TEST_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/test; under
# CI=true an unreachable PostgreSQL fails the run), the Windows agent's unit tests under Wine,
# the headless-browser console tests, then schemathesis against a running server (the OpenAPI
# document must be true of every answer).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/install-test-deps.sh
# One build for everything below: the binaries (target/debug/mamori, -bench, -agent) are built
# with the test run's features, so neither the test run nor a later `cargo build` of a package
# compiles the workspace again with another feature set.
cargo build --workspace --bins --tests
cargo test --workspace
bash scripts/test-windows-agent.sh
node --test tests/browser/
bash scripts/test-openapi.sh
