#!/usr/bin/env bash
# Run every check: lint (ruff, sqlfluff) and all test layers (unit, DAG integrity, integration
# against a real MariaDB, real DAG runs). Sets everything up first, like demo.sh.
# Extra arguments go to pytest, e.g.  ./scripts/test.sh tests/unit -k contract
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/setup.sh
source "$ROOT/scripts/setup.sh"
cd "$ROOT"

log "ruff"
ruff check .
ruff format --check .
log "sqlfluff"
sqlfluff lint include/sql
log "pytest"
python -m pytest "${@:-tests}"
