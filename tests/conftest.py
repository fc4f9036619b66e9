"""Shared fixtures: the seed fixture, throwaway warehouse databases, an isolated Airflow home.

Integration tests talk to a real MariaDB/MySQL. The server comes from CREDIT_RISK_TEST_DB_URL
(default ``mysql://root@127.0.0.1:3306``); every test that needs a warehouse gets its own
database, ``crm_test_<random>``, dropped afterwards.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import MySQLdb
import pytest
from sqlalchemy.engine import make_url

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_FIXTURE = REPO_ROOT.parent / "shared" / "fixtures" / "bank_transactions.csv"
FIXTURE_SHA256 = "5b8cd9125d8884cc750317f6c05f77baf137b77bd9524a9b2f91cf1dc70832f2"
TEST_SERVER_URL = os.environ.get("CREDIT_RISK_TEST_DB_URL", "mysql://root@127.0.0.1:3306")

# Airflow reads its configuration once, at first import: point it at a throwaway home before
# any test imports it, so tests never touch a developer's .airflow/ or ~/airflow.
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="credit-risk-test-airflow-"))
os.environ.update(
    {
        "AIRFLOW_HOME": str(_AIRFLOW_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
    }
)


@pytest.fixture(scope="session")
def seed_fixture() -> Path:
    """The original project's dataset (../shared/fixtures/bank_transactions.csv)."""
    if not SHARED_FIXTURE.is_file():
        pytest.fail(f"the seed fixture is missing: {SHARED_FIXTURE}")
    return SHARED_FIXTURE


def _server_connection():
    url = make_url(TEST_SERVER_URL)
    return MySQLdb.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 3306,
        user=url.username or "root",
        passwd=url.password or "",
        autocommit=True,
    )


@pytest.fixture(scope="session")
def db_server():
    """A live connection to the test server (fails loudly when no server answers)."""
    try:
        conn = _server_connection()
    except MySQLdb.OperationalError as error:
        pytest.fail(f"no MariaDB/MySQL answers at {TEST_SERVER_URL}: {error}")
    yield conn
    conn.close()


def _throwaway_url(db_server) -> Iterator[str]:
    name = f"crm_test_{uuid.uuid4().hex[:12]}"
    db_server.cursor().execute(f"create database `{name}` character set utf8mb4")
    try:
        yield str(make_url(TEST_SERVER_URL).set(database=name).render_as_string(False))
    finally:
        db_server.cursor().execute(f"drop database if exists `{name}`")


@pytest.fixture
def db_url(db_server) -> Iterator[str]:
    """The URL of a fresh, empty database dropped after the test."""
    yield from _throwaway_url(db_server)


@pytest.fixture(scope="module")
def new_db_url(db_server):
    """A factory of fresh databases for a module; all are dropped when the module ends."""
    made: list = []

    def make() -> str:
        generator = _throwaway_url(db_server)
        made.append(generator)
        return next(generator)

    yield make
    for generator in made:
        generator.close()


@pytest.fixture
def warehouse(db_url):
    """A ``Warehouse`` on a fresh database."""
    from credit_risk.warehouse.db import warehouse_from_url

    return warehouse_from_url(db_url)


def query(db_url: str, sql: str, params=None) -> list[tuple]:
    """Run one statement against a test database (committed) and return all rows."""
    url = make_url(db_url)
    conn = MySQLdb.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 3306,
        user=url.username or "root",
        passwd=url.password or "",
        database=url.database,
    )
    try:
        cursor = conn.cursor()
        cursor.execute(sql, params)
        rows = list(cursor.fetchall())
        conn.commit()
        return rows
    finally:
        conn.close()


execute = query


@pytest.fixture(scope="session")
def airflow_home() -> Iterator[Path]:
    """The session's AIRFLOW_HOME with a migrated SQLite metadata DB."""
    airflow = Path(sys.executable).with_name("airflow")
    result = subprocess.run(
        [str(airflow), "db", "migrate"], capture_output=True, text=True, env=os.environ.copy()
    )
    if result.returncode != 0:
        pytest.fail(f"airflow db migrate failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    yield _AIRFLOW_HOME
    shutil.rmtree(_AIRFLOW_HOME, ignore_errors=True)


@pytest.fixture
def settings_env(monkeypatch):
    """Set CREDIT_RISK_* variables for one test; the cached settings follow them."""
    from credit_risk.settings import get_settings

    def apply(**values: object) -> None:
        for key, value in values.items():
            monkeypatch.setenv(f"CREDIT_RISK_{key.upper()}", str(value))
        get_settings.cache_clear()

    yield apply
    get_settings.cache_clear()
