#!/usr/bin/env bash
# Airflow for real on one machine: PostgreSQL as the metadata database (the database is
# created when missing, the local server started by setup.sh), LocalExecutor, and every
# component in one command (`airflow standalone`: api-server, scheduler, dag-processor,
# triggerer). Backfills need this: on SQLite they fail under concurrent access. SQLite (.airflow/)
# stays for `airflow dags test` and the demo.
#   ./scripts/airflow.sh                 # UI on http://localhost:8080
#   CREDIT_RISK_AIRFLOW_PG_URL=postgresql://user:pw@host:5432/airflow ./scripts/airflow.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/setup.sh
source "$ROOT/scripts/setup.sh"

PG_URL="${CREDIT_RISK_AIRFLOW_PG_URL:-postgresql://postgres@127.0.0.1:5432/credit_risk_airflow}"
database="${PG_URL##*/}"
server="${PG_URL%/*}"
if ! psql "$server/postgres" -tAc "select 1 from pg_database where datname = '$database'" \
    | grep -q 1; then
  log "creating the Airflow metadata database $database"
  psql "$server/postgres" -qc "create database \"$database\""
fi
export AIRFLOW_HOME="${CREDIT_RISK_AIRFLOW_HOME:-$ROOT/.airflow-postgres}"
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="postgresql+psycopg2://${PG_URL#*://}"
export AIRFLOW__CORE__EXECUTOR=LocalExecutor
mkdir -p "$AIRFLOW_HOME"
log "migrating Airflow's metadata in $database"
airflow db migrate >"$AIRFLOW_HOME/migrate.log" 2>&1 || { tail -20 "$AIRFLOW_HOME/migrate.log"; exit 1; }
log "airflow standalone (AIRFLOW_HOME $AIRFLOW_HOME, LocalExecutor): UI on http://localhost:8080"
exec airflow standalone "$@"
