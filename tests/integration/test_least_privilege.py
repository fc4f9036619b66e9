"""The warehouse's two users, as ``credit-risk create-users`` makes them: the loader runs the
whole pipeline (CLI and DAG) with rights on its schema only; the dashboard's user reads the
published objects and writes nothing; a second run rotates both passwords."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import MySQLdb
import pendulum
import pytest
from sqlalchemy.engine import make_url

from credit_risk import pipeline
from credit_risk.generate.realistic import generate_realistic
from tests.conftest import REPO_ROOT, query

pytestmark = pytest.mark.integration

CLI = str(Path(sys.executable).with_name("credit-risk"))
MONTHS = ("2024-01", "2024-02")


def credit_risk(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CLI, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", **env},
        check=False,
    )


def as_user(url: str, user: str, password: str) -> str:
    return make_url(url).set(username=user, password=password).render_as_string(False)


@pytest.fixture(scope="module")
def drops(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("privilege")
    generate_realistic(root / "full", customers=120, months=3, start="2024-01", seed=8)
    return {m: pipeline.slice_month(root / "full", m, root / m) for m in (*MONTHS, "2024-03")}


@pytest.fixture(scope="module")
def users(new_db_url, db_server):
    """(admin URL, loader URL, dashboard URL) of a new warehouse and its two users."""
    admin = new_db_url()
    tag = secrets.token_hex(3)
    names = {"loader": f"crm_load_{tag}", "dashboard": f"crm_dash_{tag}"}
    passwords = {role: secrets.token_urlsafe(12) for role in names}
    created = credit_risk(
        "create-users",
        "--db-url",
        admin,
        "--loader-user",
        names["loader"],
        "--dashboard-user",
        names["dashboard"],
        CREDIT_RISK_LOADER_PASSWORD=passwords["loader"],
        CREDIT_RISK_DASHBOARD_PASSWORD=passwords["dashboard"],
    )
    try:
        assert created.returncode == 0, created.stderr
        assert passwords["loader"] not in created.stdout + created.stderr
        assert f"{names['loader']}@127.0.0.1" in created.stdout
        yield (
            admin,
            as_user(admin, names["loader"], passwords["loader"]),
            as_user(admin, names["dashboard"], passwords["dashboard"]),
        )
    finally:
        cursor = db_server.cursor()
        for name in names.values():
            cursor.execute(f"drop user if exists '{name}'@'%'")


def refused(url: str, statement: str) -> int:
    """The server's error code for ``statement`` run as ``url``'s user (0: it ran)."""
    try:
        query(url, statement)
    except MySQLdb.Error as error:
        return error.args[0]
    return 0


def test_the_loader_runs_the_whole_pipeline_from_the_cli(users, drops):
    admin, loader, _ = users
    for month in MONTHS:
        result = credit_risk(
            "run", "--source", str(drops[month]), "--month", month, "--db-url", loader
        )
        assert result.returncode == 0, result.stderr
    for command in ("anomalies", "score"):
        result = credit_risk(command, "--month", MONTHS[-1], "--db-url", loader)
        assert result.returncode == 0, result.stderr
    assert query(admin, "select distinct month from risk_segmentation order by 1") == [
        (month,) for month in MONTHS
    ]


def test_the_loader_runs_the_dag(users, drops, airflow_home, settings_env, monkeypatch, tmp_path):
    from airflow.dag_processing.dagbag import DagBag

    admin, loader, _ = users
    monkeypatch.setenv("AIRFLOW_CONN_CREDIT_RISK_MYSQL", loader)
    settings_env(data_dir=tmp_path / "data", source=str(drops["2024-03"].parent / "{month}"))
    dag = DagBag(dag_folder=str(REPO_ROOT / "dags")).dags["credit_risk_monthly"]
    dag_run = dag.test(logical_date=pendulum.datetime(2024, 4, 1, tz="UTC"))
    assert dag_run.state == "success"
    assert ("2024-03",) in query(admin, "select distinct month from risk_segmentation")


@pytest.mark.parametrize(
    "statement",
    [
        "create table test.credit_risk_probe (a int)",
        "select * from mysql.user",
        "create database credit_risk_probe",
        "create user 'credit_risk_probe'@'%'",
    ],
)
def test_the_loader_cannot_reach_beyond_its_schema(users, statement):
    _, loader, _ = users
    assert refused(loader, statement) in (1044, 1142, 1227, 1045)


@pytest.mark.parametrize(
    "statement",
    [
        "insert into publications (latest_month, customer_month_rows, transaction_rows, "
        "published_by) values ('2099-01', 0, 0, 'x')",
        "delete from risk_thresholds",
        "select * from transactions",
        "select * from quarantined_rows",
        "drop view risk_segmentation",
    ],
)
def test_the_dashboard_user_reads_published_data_only(users, statement):
    _, _, dashboard = users
    assert query(dashboard, "select count(*) from risk_segmentation")[0][0] > 0
    assert refused(dashboard, statement) == 1142


def test_a_second_run_rotates_both_passwords(users):
    admin, loader, dashboard = users
    new = {"loader": secrets.token_urlsafe(12), "dashboard": secrets.token_urlsafe(12)}
    loader_user, dashboard_user = make_url(loader).username, make_url(dashboard).username
    rotated = credit_risk(
        "create-users",
        "--db-url",
        admin,
        "--loader-user",
        loader_user,
        "--dashboard-user",
        dashboard_user,
        CREDIT_RISK_LOADER_PASSWORD=new["loader"],
        CREDIT_RISK_DASHBOARD_PASSWORD=new["dashboard"],
    )
    assert rotated.returncode == 0, rotated.stderr
    assert refused(loader, "select 1") == 1045  # the old password is gone
    assert (
        refused(as_user(admin, loader_user, new["loader"]), "select count(*) from statements") == 0
    )
    assert (
        refused(
            as_user(admin, dashboard_user, new["dashboard"]),
            "select count(*) from risk_segmentation",
        )
        == 0
    )
