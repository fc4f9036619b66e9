"""Connections to the warehouse, from a URL outside Airflow or a connection id inside it.

Everything funnels into one URL so the CLI, the DAG and the tests reach the database the same
way: ``CREDIT_RISK_DB_URL`` outside Airflow, the ``credit_risk_mysql`` connection (through the
MySQL provider's hook) inside it. Connections are raw mysqlclient connections because the bulk
path, ``LOAD DATA LOCAL INFILE``, needs the client's ``local_infile`` flag.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

import MySQLdb

from credit_risk.settings import get_settings

if TYPE_CHECKING:  # SQLAlchemy is imported by the reads that use it, not by every command
    import sqlalchemy as sa

_ACCESS_DENIED_LOCAL_INFILE = {1148, 2068, 3948, 4166}
"""Server/client error codes that mean "LOAD DATA LOCAL is disabled"."""
ER_BAD_DB = 1049
"""Unknown database: the warehouse schema does not exist yet."""


GROUP_CONCAT_MAX_BYTES = 64 * 1024 * 1024
"""Longest list a build's ``group_concat`` may return: about 8 million purchase amounts."""

SORT_BUFFER_MB = 64
"""Sort memory of the sessions that sort a month or more (builds, gates, analytics reads)."""


def session_memory_sql(temp_table_mb: int) -> str:
    """``SET SESSION`` of the memory a session that groups, sorts and windows whole months may
    use before the server spills to disk: internal temporary tables (the servers' default is
    16 MB), the sort buffer (2 MB), and the longest ``group_concat`` (1 MB in MariaDB, 1 KB in
    MySQL: a customer-month's purchase amounts, ``int_purchase_profile``). Session values: no
    privilege needed, gone with the connection. Measured at 100,000 customers: the published
    suite's rolling-average check 19.1 s -> 5.1 s; the anomaly baseline's sums 11.4 s -> 3.8 s
    at 20,000."""
    size = int(temp_table_mb) * 1024 * 1024
    return (
        f"set session tmp_table_size = {size}, max_heap_table_size = {size}, "
        f"sort_buffer_size = {SORT_BUFFER_MB * 1024 * 1024}, "
        f"group_concat_max_len = {GROUP_CONCAT_MAX_BYTES}"
    )


class WarehouseError(RuntimeError):
    """The warehouse cannot be reached or refuses an operation the pipeline needs."""


ER_NO_SUCH_TABLE = 1146

SERVER_ERRORS = (
    MySQLdb.OperationalError,
    MySQLdb.InterfaceError,
    MySQLdb.ProgrammingError,
)
"""What the driver raises for a server that is down, went away mid-way, refused the login or
timed out on a lock, or a warehouse without the tables a read needs: for the user to act on,
not a defect of the pipeline. (SQLAlchemy wraps them in its own errors, and pandas wraps those
in its ``DatabaseError``; ``driver_error`` unwraps both.)"""

_WHAT_TO_DO = {
    1045: "check the user and password of the warehouse URL",
    1698: "check the user and password of the warehouse URL",
    ER_NO_SUCH_TABLE: "nothing has been loaded and published there yet: run `credit-risk run` "
    "(or the DAG) first, or check that the URL names the right database",
    1205: "another run holds the month's locks; rerun when it has finished",
    2002: "is the server up, and does the URL name the right host and port?",
    2003: "is the server up, and does the URL name the right host and port?",
    2005: "the host name does not resolve; check the warehouse URL",
    2006: "the server went away mid-way; rerun when it is back (every step is safe to rerun)",
    2013: "the server went away mid-way; rerun when it is back (every step is safe to rerun)",
}


def driver_error(error: BaseException) -> BaseException | None:
    """The ``SERVER_ERRORS`` error behind ``error`` (itself, or what SQLAlchemy or pandas
    wrapped), if any."""
    while error is not None:
        if isinstance(error, SERVER_ERRORS):
            return error
        error = getattr(error, "orig", None) or error.__cause__
    return None


def describe_server_error(error: BaseException, safe_url: str) -> str:
    """One line for a ``SERVER_ERRORS`` error: the server's code and words, and what to do.

    Uses the driver's own error (never SQLAlchemy's text, which quotes the statement and its
    parameters) and the URL with its password hidden.
    """
    error = driver_error(error) or error
    original = getattr(error, "orig", None) or error
    code, text = (*original.args, None, None)[:2]
    if not isinstance(code, int):
        code, text = None, str(original)
    advice = _WHAT_TO_DO.get(code, "check the server's error log, then rerun")
    return f"the warehouse at {safe_url} failed ({code or 'error'}: {text}); {advice}"


@dataclass(frozen=True)
class WarehouseUrl:
    """A parsed ``mysql://user:password@host:port/database?unix_socket=...`` URL.

    Why not SQLAlchemy's ``URL``: importing SQLAlchemy costs a tenth of a second, before the
    load's server can start (``benchmarks/load_benchmark.py``), and the load path never uses
    it. The parsing is the standard library's; ``sqlalchemy`` gives SQLAlchemy's URL for the
    reads that need an engine. The method names are SQLAlchemy's, so either reads the same.
    """

    drivername: str
    username: str | None = None
    password: str | None = None
    host: str | None = None
    port: int | None = None
    database: str | None = None
    query: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, url: str) -> WarehouseUrl:
        """Raises ``ValueError`` (never quoting ``url``, which may hold a password)."""
        parts = urlsplit(url)
        if not parts.scheme or not parts.netloc:
            raise ValueError("no scheme://host")
        return cls(
            drivername=parts.scheme,
            username=unquote(parts.username) if parts.username is not None else None,
            password=unquote(parts.password) if parts.password is not None else None,
            host=parts.hostname,
            port=parts.port,  # ValueError when not a number
            database=unquote(parts.path.lstrip("/")) or None,
            query=dict(parse_qsl(parts.query)),
        )

    def set(self, **changes: object) -> WarehouseUrl:
        """A copy with ``changes`` (``username=``, ``password=``, ``database=`` ...)."""
        return dataclasses.replace(self, **changes)

    def render_as_string(self, hide_password: bool = True) -> str:
        """The URL again, its password as ``***`` unless ``hide_password`` is False."""
        login = ""
        if self.username is not None:
            login = quote(self.username, safe="")
            if self.password is not None:
                login += ":" + ("***" if hide_password else quote(self.password, safe=""))
            login += "@"
        host = f"[{self.host}]" if self.host and ":" in self.host else self.host or ""
        port = f":{self.port}" if self.port else ""
        database = "/" + quote(self.database, safe="") if self.database else ""
        query = "?" + urlencode(dict(self.query)) if self.query else ""
        return f"{self.drivername}://{login}{host}{port}{database}{query}"

    def sqlalchemy(self, drivername: str = "mysql+mysqldb") -> sa.URL:
        """SQLAlchemy's URL of the same place, with the mysqlclient driver."""
        import sqlalchemy as sa

        return sa.URL.create(
            drivername,
            username=self.username,
            password=self.password,
            host=self.host,
            port=self.port,
            database=self.database,
            query=dict(self.query),
        )

    def __str__(self) -> str:
        return self.render_as_string(hide_password=True)


@dataclass(frozen=True)
class Warehouse:
    """Where the warehouse is: a parsed URL naming a MySQL/MariaDB database."""

    url: WarehouseUrl

    @property
    def database(self) -> str:
        """The schema the pipeline writes to."""
        if not self.url.database:
            raise WarehouseError(f"warehouse URL {self.safe_url} names no database")
        return self.url.database

    @property
    def safe_url(self) -> str:
        """The URL with the password hidden, for logs and messages."""
        return self.url.render_as_string(hide_password=True)

    def sqlalchemy_url(self) -> sa.URL:
        """The URL with the mysqlclient driver, for SQLAlchemy/pandas/GX."""
        return self.url.sqlalchemy()

    def engine(self, *, temp_table_mb: int | None = None) -> sa.Engine:
        """A SQLAlchemy engine (reads, reports and tests; the load path uses ``connect``).

        Args:
            temp_table_mb: Memory each internal temporary table of a session may use before
                the server moves it to disk (the servers' default is 16 MB): for reads that
                group a year of rows (the analytics), 3x faster at 1M rows.
        """
        import sqlalchemy as sa

        engine = sa.create_engine(
            self.sqlalchemy_url(), connect_args={"charset": "utf8mb4"}, pool_pre_ping=True
        )
        if temp_table_mb:
            statement = session_memory_sql(temp_table_mb)

            @sa.event.listens_for(engine, "connect")
            def _temp_tables(dbapi_connection, _record) -> None:
                cursor = dbapi_connection.cursor()
                cursor.execute(statement)
                cursor.close()

        return engine


def warehouse_from_url(url: str) -> Warehouse:
    """Parse a ``mysql://user:password@host:port/database`` URL.

    Errors never echo the URL as given: it may hold a password.
    """
    try:
        parsed = WarehouseUrl.parse(url)
    except ValueError:
        raise WarehouseError(
            "the warehouse URL cannot be parsed; expected mysql://user:password@host:port/database"
        ) from None
    if not parsed.drivername.startswith(("mysql", "mariadb")):
        raise WarehouseError(
            f"{parsed.drivername!r} is not a MySQL/MariaDB URL: "
            f"{parsed.render_as_string(hide_password=True)}"
        )
    return Warehouse(parsed.set(drivername="mysql"))


def warehouse_from_airflow(conn_id: str) -> Warehouse:
    """Resolve an Airflow connection through the MySQL provider's hook."""
    from airflow.providers.mysql.hooks.mysql import MySqlHook  # only inside Airflow

    return warehouse_from_url(MySqlHook(mysql_conn_id=conn_id).get_uri())


def resolve_warehouse(db_url: str | None = None, conn_id: str | None = None) -> Warehouse:
    """The warehouse from an explicit URL, else an Airflow connection id, else the settings."""
    if db_url:
        return warehouse_from_url(db_url)
    if conn_id:
        return warehouse_from_airflow(conn_id)
    return warehouse_from_url(get_settings().db_url)


def connect_args(warehouse: Warehouse, *, with_database: bool) -> dict:
    url = warehouse.url
    args: dict = {
        "host": url.host or "127.0.0.1",
        "port": url.port or 3306,
        "user": url.username or "root",
        "passwd": url.password or "",
        "charset": "utf8mb4",
        "local_infile": 1,
        "autocommit": False,
    }
    if with_database:
        args["database"] = warehouse.database
    unix_socket = url.query.get("unix_socket")
    if unix_socket:
        args["unix_socket"] = unix_socket
    return args


def ensure_database(warehouse: Warehouse) -> None:
    """Create the warehouse schema when it does not exist yet (idempotent)."""
    try:
        conn = MySQLdb.connect(**connect_args(warehouse, with_database=False))
    except MySQLdb.OperationalError as error:
        raise WarehouseError(describe_server_error(error, warehouse.safe_url)) from error
    try:
        name = warehouse.database.replace("`", "``")
        conn.cursor().execute(
            f"create database if not exists `{name}` "
            "character set utf8mb4 collate utf8mb4_unicode_ci"
        )
    finally:
        conn.close()


def _connect_to_database(warehouse: Warehouse) -> MySQLdb.Connection:
    """A connection to the warehouse schema, created first if the server does not have it.

    Connecting first and creating only on "unknown database" costs one connection, not two.
    """
    try:
        return MySQLdb.connect(**connect_args(warehouse, with_database=True))
    except MySQLdb.OperationalError as error:
        if error.args[0] != ER_BAD_DB:
            raise
    ensure_database(warehouse)
    return MySQLdb.connect(**connect_args(warehouse, with_database=True))


@contextlib.contextmanager
def connect(warehouse: Warehouse) -> Iterator[MySQLdb.Connection]:
    """A transactional connection (autocommit off) with LOCAL INFILE enabled on the client side.

    The caller commits; anything not committed is rolled back when the block exits, so a failed
    load leaves the previous data in place.
    """
    try:
        conn = _connect_to_database(warehouse)
    except MySQLdb.OperationalError as error:
        raise WarehouseError(describe_server_error(error, warehouse.safe_url)) from error
    try:
        yield conn
    except BaseException:
        with contextlib.suppress(MySQLdb.Error):  # keep the original error, not a rollback's
            conn.rollback()
        raise
    finally:
        conn.close()


def is_local_infile_refused(error: Exception) -> bool:
    """Whether a MySQL error means the server (or client) refuses LOAD DATA LOCAL."""
    code = error.args[0] if getattr(error, "args", None) else None
    return code in _ACCESS_DENIED_LOCAL_INFILE


LOCAL_INFILE_HELP = (
    "the server refuses LOAD DATA LOCAL INFILE. Enable it on the server "
    "(MySQL 8: start mysqld with --local-infile=1 or run SET GLOBAL local_infile = 1; "
    "MariaDB enables it by default unless started with --local-infile=0)."
)
