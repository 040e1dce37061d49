#!/usr/bin/env bash
# Runs Mamori's whole test suite: Rust unit and integration tests on SQLite and PostgreSQL
# (PostgreSQL at TEST_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/test; under
# CI=true an unreachable PostgreSQL fails the run), the Windows agent's unit tests under Wine,
# the headless-browser console tests, then schemathesis against a running server (the OpenAPI
# document must be true of every answer).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/install-test-deps.sh
cargo test --workspace
bash scripts/test-windows-agent.sh
cargo build -p mamori
node --test tests/browser/
bash scripts/test-openapi.sh
