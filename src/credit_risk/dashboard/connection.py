"""Where the dashboard's data comes from, and read-only database sessions to it.

Why a factory and not a fixed warehouse: inside Airflow the plugin module is imported when the
API server starts, before (and independently of) any connection being configured, and an
operator may change the connection later. So the warehouse is resolved per request through a
factory, and resolutions are cached for a short while so a page that fires a dozen widget
requests does not look the connection up a dozen times.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import MySQLdb
import sqlalchemy as sa

from credit_risk import catalog
from credit_risk.settings import get_settings
from credit_risk.warehouse.db import (
    Warehouse,
    WarehouseError,
    warehouse_from_airflow,
    warehouse_from_url,
)

log = logging.getLogger(__name__)

DASHBOARD_DB_URL_ENV = "CREDIT_RISK_DASHBOARD_DB_URL"
"""URL of the read-only dashboard user; wins over every other source."""
DASHBOARD_CONN_ID = "credit_risk_dashboard"
"""Airflow connection of the read-only dashboard user (docs/dashboard.md)."""
PIPELINE_CONN_ID = catalog.WAREHOUSE_CONN_ID
"""The DAG's own connection: the fallback when no dashboard connection exists."""

STATEMENT_TIMEOUT_SECONDS = 10
"""A widget query that runs longer is cut off rather than piling up behind the next refresh."""

WarehouseFactory = Callable[[], Warehouse]


def standalone_warehouse(db_url: str | None = None) -> Warehouse:
    """The warehouse for ``credit-risk dashboard``: an explicit URL, else the environment.

    Order: ``db_url``, then ``CREDIT_RISK_DASHBOARD_DB_URL`` (the read-only user), then
    ``CREDIT_RISK_DB_URL`` (the pipeline's settings).
    """
    url = db_url or os.environ.get(DASHBOARD_DB_URL_ENV) or get_settings().db_url
    return warehouse_from_url(url)


def airflow_warehouse() -> Warehouse:
    """The warehouse for the Airflow plugin, looked up when a request needs it.

    Order: ``CREDIT_RISK_DASHBOARD_DB_URL``, then the Airflow connection
    ``credit_risk_dashboard`` (read-only user), then ``credit_risk_mysql``.

    Raises:
        WarehouseError: none of them is configured.
    """
    url = os.environ.get(DASHBOARD_DB_URL_ENV)
    if url:
        return warehouse_from_url(url)
    from airflow.exceptions import AirflowNotFoundException

    for conn_id in (DASHBOARD_CONN_ID, PIPELINE_CONN_ID):
        try:
            return warehouse_from_airflow(conn_id)
        except AirflowNotFoundException:
            log.debug("Airflow connection %s is not defined", conn_id)
    raise WarehouseError(
        f"no warehouse for the dashboard: set {DASHBOARD_DB_URL_ENV} or create the Airflow "
        f"connection {DASHBOARD_CONN_ID!r} (or {PIPELINE_CONN_ID!r})"
    )


class CachedFactory:
    """Call ``factory`` at most once per ``ttl_seconds``; thread-safe (routes run in threads)."""

    def __init__(self, factory: WarehouseFactory, ttl_seconds: float = 60.0) -> None:
        self._factory = factory
        self._ttl = ttl_seconds
        self._lock = threading.Lock()
        self._value: Warehouse | None = None
        self._expires = 0.0

    def __call__(self) -> Warehouse:
        with self._lock:
            now = time.monotonic()
            if self._value is None or now >= self._expires:
                self._value = self._factory()
                self._expires = now + self._ttl
            return self._value


def as_factory(warehouse_or_factory: Warehouse | WarehouseFactory) -> WarehouseFactory:
    """Accept either a fixed warehouse or a factory, and return a factory."""
    if isinstance(warehouse_or_factory, Warehouse):
        return lambda: warehouse_or_factory
    if callable(warehouse_or_factory):
        return warehouse_or_factory
    raise TypeError(f"expected a Warehouse or a factory of one, got {warehouse_or_factory!r}")


def _configure_session(dbapi_connection, _record) -> None:
    """Make every pooled connection read-only, UTC and time-limited.

    Why, when the dashboard user has SELECT only: the app may also run with the pipeline's
    account (the fallback connection); a read-only session keeps it from writing even then.
    """
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("set session transaction read only")
        cursor.execute("set time_zone = '+00:00'")
        try:
            cursor.execute(f"set session max_statement_time = {STATEMENT_TIMEOUT_SECONDS}")
        except MySQLdb.Error:  # MySQL 8 has no max_statement_time; it limits SELECTs in ms
            cursor.execute(f"set session max_execution_time = {STATEMENT_TIMEOUT_SECONDS * 1000}")
    finally:
        cursor.close()


class EngineCache:
    """One pooled engine per warehouse URL, created on first use."""

    def __init__(self) -> None:
        self._engines: dict[str, sa.Engine] = {}
        self._lock = threading.Lock()

    def engine(self, warehouse: Warehouse) -> sa.Engine:
        """The engine for ``warehouse`` (the same object on every call)."""
        key = warehouse.url.render_as_string(hide_password=False)
        with self._lock:
            engine = self._engines.get(key)
            if engine is None:
                engine = warehouse.engine()
                sa.event.listen(engine, "connect", _configure_session)
                self._engines[key] = engine
                log.info("dashboard reads %s", warehouse.safe_url)
            return engine

    @contextmanager
    def connect(self, warehouse: Warehouse) -> Iterator[sa.Connection]:
        """A pooled connection to ``warehouse``, returned to the pool afterwards."""
        with self.engine(warehouse).connect() as conn:
            yield conn

    def dispose(self) -> None:
        """Close every pooled connection (at app shutdown and in tests)."""
        with self._lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()
