#!/usr/bin/env bash
# Checks that the OpenAPI document is true of the server. Schemathesis (pinned, from PyPI, in a
# venv under target/) sends generated requests — valid ones, invalid ones, and sequences that
# carry ids from one answer into the next — to every operation of a real `mamori serve --demo`
# (the debug binary scripts/test.sh builds) on a fresh data directory, with an API token of
# the demo's security admin. It fails on any 5xx, a status the operation does not declare, a
# content type it does not declare, or a body that does not match the declared schema.
#
#   bash scripts/test-openapi.sh
#
# Bounded: OPENAPI_EXAMPLES test cases per operation and phase [50], OPENAPI_MAX_TIME seconds for
# the whole run [150]; OPENAPI_SEED repeats a run (the seed is printed at the end).
# Left out: revoking API tokens and resetting a user's TOTP, which can take away the run's own
# credential (the admin's token, or the admin's second factor) and leave every later request a
# 401 or 403. The agents' routes are run, but without a device key only their 401 is reached.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib/local-server.sh"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SCHEMATHESIS_VERSION=4.32.5
VENV=target/schemathesis-venv
BIN=target/debug/mamori
[[ -x "$BIN" ]] || { echo "test-openapi: $BIN is missing; cargo build --workspace --bins --tests" >&2; exit 1; }

if [[ "$("$VENV/bin/schemathesis" --version 2>/dev/null)" != *" $SCHEMATHESIS_VERSION" ]]; then
    echo "test-openapi: installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

scratch_for_server

port=$(free_port)
base="http://127.0.0.1:$port"
MAMORI_LOG=warn "$BIN" serve --demo --data-dir "$WORK/data" --listen "127.0.0.1:$port" >"$WORK/server.log" 2>&1 &
SERVER=$!
wait_ready "$port" http || { cat "$WORK/server.log" >&2; exit 1; }
demo_admin_sign_in "$base" "$BIN" "$WORK/cookies"
# Every permission the security admin holds, so the run reaches every operation's handler.
permissions="$(curl -sSf -b "$WORK/cookies" "$base/api/v1/me" |
    python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["permissions"]))')"
token="$(session_api_token "$base" "$WORK/cookies" "$permissions")"

# CI runs one fixed seed, so a red run is the code's doing and repeats; by hand, a new seed
# each time keeps finding new cases.
if [[ "${CI:-}" == "true" ]]; then OPENAPI_SEED="${OPENAPI_SEED:-20261128}"; fi
schemathesis="$PWD/$VENV/bin/schemathesis"
started=$SECONDS
status=0
# Run from the scratch directory: schemathesis keeps its example database in the working directory.
(cd "$WORK" && "$schemathesis" run "$base/api/v1/openapi.json" \
    --header "Authorization: Bearer $token" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --exclude-operation-id revoke_token --exclude-operation-id reset_totp \
    --max-examples "${OPENAPI_EXAMPLES:-50}" --max-time "${OPENAPI_MAX_TIME:-150}" \
    --request-timeout 30 --generation-database none --no-color \
    ${OPENAPI_SEED:+--seed "$OPENAPI_SEED"}) || status=$?
echo "test-openapi: schemathesis ran $((SECONDS - started)) s"
if [[ $status -ne 0 ]]; then
    echo "test-openapi: errors and panics in the server's log:" >&2
    grep -E "ERROR|panicked" "$WORK/server.log" | tail -n 30 >&2 || true
fi
exit "$status"
