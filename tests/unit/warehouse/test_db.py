"""The warehouse URL: parsed without SQLAlchemy, read exactly as SQLAlchemy reads it."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy.engine import make_url

from credit_risk.warehouse.db import WarehouseError, warehouse_from_url

URLS = [
    "mysql://root@127.0.0.1:3306/credit_risk",
    "mysql://a%40b:p%3Aw%2F@db.example:3307/risk?unix_socket=/run/mysqld/mysqld.sock",
    "mariadb://user:secret@[::1]:3307/warehouse",
    "mysql+mysqldb://loader@host/db",
    "mysql://host/db",
    "mysql://user:@host/db",
]


@pytest.mark.parametrize("url", URLS)
def test_a_url_reads_as_sqlalchemy_reads_it(url):
    ours = warehouse_from_url(url).url
    theirs = make_url(url).set(drivername="mysql")
    assert ours.render_as_string(hide_password=False) == theirs.render_as_string(False)
    assert ours.render_as_string(hide_password=True) == theirs.render_as_string(True)
    assert (ours.username, ours.password, ours.host, ours.port, ours.database) == (
        theirs.username,
        theirs.password,
        theirs.host,
        theirs.port,
        theirs.database,
    )
    assert dict(ours.query) == dict(theirs.query)
    assert ours.sqlalchemy() == theirs.set(drivername="mysql+mysqldb")


def test_a_changed_copy_renders_without_a_password_it_dropped():
    url = warehouse_from_url("mysql://admin:secret@h/db").url
    assert url.set(password=None, username="reader").render_as_string() == "mysql://reader@h/db"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "cannot be parsed"),
        ("mysql://host:port/db", "cannot be parsed"),
        ("postgresql://user:secret@h/db", "'postgresql' is not a MySQL/MariaDB URL"),
    ],
)
def test_a_bad_url_is_refused_without_echoing_its_password(url, message):
    with pytest.raises(WarehouseError, match=message) as refused:
        warehouse_from_url(url)
    assert "secret" not in str(refused.value)


def test_connecting_the_load_path_needs_no_sqlalchemy():
    """SQLAlchemy's import is a tenth of a second before the load's server can start."""
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, credit_risk.steps, credit_risk.warehouse.load as load; "
            "from credit_risk.warehouse.db import connect_args, warehouse_from_url; "
            "connect_args(warehouse_from_url('mysql://u:p@h/d'), with_database=True); "
            "print('sqlalchemy' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.strip() == "False"
