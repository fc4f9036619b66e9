#!/usr/bin/env bash
# Set up everything this project needs on a Debian/Ubuntu machine, idempotently:
#   system packages (when root), a reachable MariaDB/MySQL, the .venv with pinned packages,
#   and Airflow's metadata DB (SQLite under .airflow/).
# Sourced by demo.sh and test.sh; safe to run again at any time.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CREDIT_RISK_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"
log() { printf '\033[1;34m[setup]\033[0m %s\n' "$*" >&2; }

apt_install() {
  if [ "$(id -u)" -ne 0 ]; then
    log "missing system packages: $* (run as root or install them with sudo apt-get install $*)"
    return 1
  fi
  log "installing system packages: $*"
  if [ -z "${_APT_UPDATED:-}" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    _APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

ensure_system_packages() {
  local missing=()
  command -v gcc >/dev/null || missing+=(gcc)
  command -v pkg-config >/dev/null || missing+=(pkg-config)
  pkg-config --exists mysqlclient 2>/dev/null || pkg-config --exists libmariadb 2>/dev/null \
    || missing+=(default-libmysqlclient-dev)
  "$PYTHON" -c 'import sysconfig,os,sys; sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_paths()["include"],"Python.h")) else 1)' \
    || missing+=(python3-dev)
  "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
  command -v mariadb >/dev/null || command -v mysql >/dev/null || missing+=(mariadb-client)
  if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi
  # `docker-compose config` checks docker-compose.yaml against .env.example where no Docker
  # engine runs (tests/unit/test_deployment_files.py); only reported when it cannot be had
  if ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null; then
    if [ "$(id -u)" -eq 0 ]; then
      apt_install docker-compose || log "docker-compose is unavailable: its config checks skip"
    else
      log "no compose CLI: the compose config checks skip (sudo apt-get install docker-compose)"
    fi
  fi
}

# Headless Chromium for the dashboard's browser tests: Debian's package, driven by Playwright
# (`playwright install` is never run). Without root it is only reported: those tests then skip.
ensure_browser() {
  [ -x /usr/bin/chromium ] && return
  if [ "$(id -u)" -ne 0 ]; then
    log "chromium is missing: the dashboard's browser tests will skip (sudo apt-get install chromium)"
    return
  fi
  apt_install chromium
}

ensure_python_version() {
  "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || {
    log "Python 3.11+ is required; $PYTHON is $("$PYTHON" --version 2>&1). Set PYTHON=/path/to/python3.11"
    exit 1
  }
}

ensure_venv() {
  local stamp="$VENV/.credit-risk-installed"
  local wanted
  wanted="$(cat "$ROOT/requirements.txt" "$ROOT/constraints.txt" "$ROOT/pyproject.toml" | sha256sum | cut -c1-16)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
    return
  fi
  [ -x "$VENV/bin/python" ] || { log "creating virtualenv $VENV"; "$PYTHON" -m venv "$VENV"; }
  log "installing pinned Python packages (first run takes a few minutes)"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet -r "$ROOT/requirements.txt" -c "$ROOT/constraints.txt"
  "$VENV/bin/python" -m pip install --quiet --no-deps -e "$ROOT"
  echo "$wanted" > "$stamp"
}

# The warehouse: answer if it answers; if it is local and silent, start (or install) MariaDB.
db_ping() {
  "$VENV/bin/python" - <<'PY'
import os, sys
import MySQLdb
from sqlalchemy.engine import make_url
url = make_url(os.environ["CREDIT_RISK_DB_URL"])
try:
    MySQLdb.connect(host=url.host or "127.0.0.1", port=url.port or 3306, user=url.username or "root",
                    passwd=url.password or "", connect_timeout=3).close()
except MySQLdb.OperationalError as error:
    print(error, file=sys.stderr)
    sys.exit(1)
PY
}

db_host_is_local() {
  "$VENV/bin/python" -c 'import os; from sqlalchemy.engine import make_url; h = make_url(os.environ["CREDIT_RISK_DB_URL"]).host or "127.0.0.1"; raise SystemExit(0 if h in ("127.0.0.1", "localhost", "::1") else 1)'
}

start_local_mariadb() {
  if [ ! -x /usr/sbin/mariadbd ] && [ ! -x /usr/sbin/mysqld ]; then
    apt_install mariadb-server
  fi
  log "starting the local MariaDB server"
  if command -v service >/dev/null && service mariadb start >/dev/null 2>&1; then :; else
    mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd >/dev/null
  fi
  for _ in $(seq 1 60); do
    mariadb-admin ping --silent 2>/dev/null && break
    sleep 1
  done
  # A fresh Debian MariaDB lets root in through the socket only; the default URL uses TCP with an
  # empty password, which is fine for a throwaway local server and nothing else.
  mariadb -uroot -e "create user if not exists 'root'@'127.0.0.1' identified by '';
    grant all privileges on *.* to 'root'@'127.0.0.1' with grant option;" 2>/dev/null || true
}

ensure_warehouse() {
  if db_ping 2>/dev/null; then return; fi
  if db_host_is_local; then
    start_local_mariadb
    db_ping || { log "MariaDB still does not answer at $CREDIT_RISK_DB_URL"; exit 1; }
  else
    log "the warehouse at $CREDIT_RISK_DB_URL does not answer"; db_ping; exit 1
  fi
}

# PostgreSQL: Airflow's metadata for the real-scheduler tests and "run it for real" (backfills
# need it; SQLite is for `airflow dags test` only). Answer if it answers; if it is local and
# silent, start (or install) it. CREDIT_RISK_TEST_PG_URL / CREDIT_RISK_AIRFLOW_PG_URL elsewhere.
PG_HOST="${CREDIT_RISK_PG_HOST:-127.0.0.1}"
PG_PORT="${CREDIT_RISK_PG_PORT:-5432}"
pg_answers() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT" 2>/dev/null; }

ensure_postgres() {
  command -v pg_isready >/dev/null || apt_install postgresql-client || return 0
  if pg_answers; then return; fi
  case "$PG_HOST" in 127.0.0.1|localhost|::1) ;; *)
    log "PostgreSQL at $PG_HOST:$PG_PORT does not answer (the real-scheduler tests will fail)"; return;;
  esac
  local fresh=""
  if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    apt_install postgresql || return 0
    fresh=1
  fi
  log "starting the local PostgreSQL server"
  service postgresql start >/dev/null 2>&1 || {
    local version
    version="$(ls /usr/lib/postgresql | sort -V | tail -1)"
    pg_ctlcluster "$version" main start >/dev/null 2>&1 || true
  }
  for _ in $(seq 1 60); do pg_answers && break; sleep 1; done
  if [ -n "$fresh" ]; then
    # a throwaway local server installed here: let local TCP connections in without a password,
    # as on the machines this project is developed on (never do this on a shared server)
    local hba
    hba="$(ls /etc/postgresql/*/main/pg_hba.conf | head -1)"
    sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
    service postgresql reload >/dev/null 2>&1 || true
  fi
  pg_answers || log "PostgreSQL still does not answer at $PG_HOST:$PG_PORT"
}

# Redis: the Celery broker of the CeleryExecutor test (tests/integration/test_celery_executor.py)
# and of docker-compose. Answer if it answers; if it is local and silent, start (or install) it.
REDIS_HOST="${CREDIT_RISK_REDIS_HOST:-127.0.0.1}"
REDIS_PORT="${CREDIT_RISK_REDIS_PORT:-6379}"
redis_answers() {
  "$VENV/bin/python" -c "import redis, sys; redis.Redis(host=sys.argv[1], port=int(sys.argv[2]), socket_timeout=2).ping()" \
    "$REDIS_HOST" "$REDIS_PORT" 2>/dev/null
}

ensure_redis() {
  if redis_answers; then return; fi
  case "$REDIS_HOST" in 127.0.0.1|localhost|::1) ;; *)
    log "Redis at $REDIS_HOST:$REDIS_PORT does not answer (the Celery test will fail)"; return;;
  esac
  command -v redis-server >/dev/null || apt_install redis-server || return 0
  log "starting a local Redis server"
  service redis-server start >/dev/null 2>&1 \
    || redis-server --port "$REDIS_PORT" --bind "$REDIS_HOST" --save '' --daemonize yes >/dev/null
  for _ in $(seq 1 30); do redis_answers && break; sleep 1; done
  redis_answers || log "Redis still does not answer at $REDIS_HOST:$REDIS_PORT"
}

ensure_airflow_db() {
  local stamp="$AIRFLOW_HOME/.migrated"
  mkdir -p "$AIRFLOW_HOME"
  if [ ! -f "$stamp" ]; then
    log "migrating Airflow's metadata DB in $AIRFLOW_HOME"
    "$VENV/bin/airflow" db migrate >"$AIRFLOW_HOME/migrate.log" 2>&1 \
      || { tail -20 "$AIRFLOW_HOME/migrate.log"; exit 1; }
    touch "$stamp"
  fi
}

# shellcheck source=scripts/airflow-env.sh
source "$ROOT/scripts/airflow-env.sh"
ensure_python_version
ensure_system_packages
ensure_browser
ensure_venv
export PATH="$VENV/bin:$PATH"
ensure_warehouse
ensure_postgres
ensure_redis
ensure_airflow_db
log "ready: venv $VENV, warehouse $CREDIT_RISK_DB_URL, AIRFLOW_HOME $AIRFLOW_HOME"
