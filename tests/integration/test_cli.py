"""The ``credit-risk`` command as a user runs it: a new process, real MariaDB, exit codes and
messages (one line naming the month and what to do, never a traceback)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from credit_risk import pipeline
from credit_risk.generate.realistic import generate_realistic
from tests.conftest import query
from tests.integration.alert_servers import free_port

pytestmark = pytest.mark.integration

CLI = str(Path(sys.executable).with_name("credit-risk"))


def credit_risk(db_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CREDIT_RISK_DB_URL": db_url, "COLUMNS": "200"}
    return subprocess.run([CLI, *args], capture_output=True, text=True, env=env, check=False)


@pytest.fixture(scope="module")
def drops(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("cli")
    generate_realistic(root / "full", customers=250, months=3, start="2024-01", seed=13)
    return {
        month: pipeline.slice_month(root / "full", month, root / month)
        for month in ("2024-01", "2024-02", "2024-03")
    }


def test_help_lists_the_commands_quickly():
    result = subprocess.run([CLI, "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0
    for command in ("load", "build", "run", "validate", "report"):
        assert command in result.stdout


def test_a_blocked_month_is_one_line_naming_the_month_that_blocks_it(db_url, drops, tmp_path):
    first = credit_risk(db_url, "run", "--source", str(drops["2024-01"]), "--month", "2024-01")
    assert first.returncode == 0, first.stderr
    bad = tmp_path / "bad-february"
    shutil.copytree(drops["2024-02"], bad)
    statements = pd.read_csv(bad / "statements.csv", dtype=str)
    statements["outstanding_balance"] = (statements["credit_limit"].astype(float) * 0.97).map(
        "{:.2f}".format
    )
    statements.to_csv(bad / "statements.csv", index=False)
    failed = credit_risk(db_url, "run", "--source", str(bad), "--month", "2024-02")
    assert failed.returncode == 1 and "FAILED" in failed.stderr
    blocked = credit_risk(db_url, "run", "--source", str(drops["2024-03"]), "--month", "2024-03")
    assert blocked.returncode == 1
    message = " ".join(blocked.stderr.split())  # rich wraps long lines
    assert message.startswith("error: 2024-03 is blocked: 2024-02")
    assert "rerun 2024-02" in message and "Traceback" not in blocked.stderr
    # the full rebuild stops before the failed month: it republishes January only
    full = credit_risk(db_url, "build", "--full")
    assert full.returncode == 0, full.stderr
    assert "published 2024-01:" in " ".join(full.stdout.split())
    assert query(db_url, "select distinct month from risk_segmentation") == [("2024-01",)]


def test_a_gap_is_named(db_url, drops):
    credit_risk(db_url, "run", "--source", str(drops["2024-01"]), "--month", "2024-01")
    result = credit_risk(db_url, "run", "--source", str(drops["2024-03"]), "--month", "2024-03")
    assert result.returncode == 1
    message = " ".join(result.stderr.split())
    assert "2024-03 waits for 2024-02: not loaded" in message
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "url", ["postgresql://analyst:s3cret-pw@db.example/risk", "mysql//analyst:s3cret-pw@db"]
)
def test_a_wrong_warehouse_url_is_one_line_that_never_shows_the_password(url):
    result = credit_risk(url, "report")
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "s3cret-pw" not in output
    assert "Traceback" not in output
    assert "URL" in output


COMMANDS_THAT_READ_OR_WRITE = [
    ("report",),
    ("anomalies", "--month", "2024-01"),
    ("score", "--month", "2024-01"),
    ("validate", "--stage", "loaded", "--month", "2024-01"),
    ("validate", "--stage", "published", "--month", "2024-01"),
    ("build",),
    ("load", "--source", "{drop}", "--month", "2024-01"),
    ("run", "--source", "{drop}", "--month", "2024-01"),
]


@pytest.mark.parametrize("args", COMMANDS_THAT_READ_OR_WRITE, ids=lambda args: " ".join(args[:3]))
def test_every_command_with_the_server_down_is_one_line_without_the_password(args, drops):
    url = f"mysql://analyst:s3cret-pw@127.0.0.1:{free_port()}/risk"
    result = credit_risk(url, *(arg.format(drop=drops["2024-01"]) for arg in args))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "s3cret-pw" not in result.stdout + result.stderr
    message = " ".join(result.stderr.split())
    assert message.startswith("error: the warehouse at mysql://analyst:***@127.0.0.1:")
    assert "is the server up" in message


@pytest.mark.parametrize("command", ["report", "anomalies", "score"])
def test_reading_a_warehouse_where_nothing_was_published_says_what_to_do(db_url, command):
    result = credit_risk(db_url, command)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    message = " ".join(result.stderr.split())
    assert "doesn't exist); nothing has been loaded and published there yet" in message


def test_verbose_keeps_the_traceback_of_a_server_error(drops):
    url = f"mysql://analyst:s3cret-pw@127.0.0.1:{free_port()}/risk"
    result = credit_risk(url, "--verbose", "report")
    assert result.returncode == 1 and "Traceback" in result.stderr
    assert "s3cret-pw" not in result.stderr


def test_a_gzip_drop_runs_end_to_end_like_the_plain_one(db_url, drops, tmp_path):
    import gzip

    compressed = tmp_path / "gz"
    compressed.mkdir()
    for path in drops["2024-01"].iterdir():
        (compressed / (path.name + ".gz")).write_bytes(gzip.compress(path.read_bytes()))
    result = credit_risk(db_url, "run", "--source", str(compressed), "--month", "2024-01")
    assert result.returncode == 0, result.stderr
    (source_file,) = {
        row[0]
        for row in query(
            db_url, "select source_file from load_audit where dataset = 'transactions'"
        )
    }
    assert source_file.endswith("transactions.csv.gz")
    assert query(db_url, "select distinct month from risk_segmentation") == [("2024-01",)]


def test_a_folder_named_like_a_file_is_one_line_before_anything_loads(db_url, drops, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(drops["2024-01"], broken)
    (broken / "customers.csv").unlink()
    (broken / "customers.csv").mkdir()
    result = credit_risk(db_url, "run", "--source", str(broken), "--month", "2024-01")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "customers.csv: line 1: is a folder, not a file" in " ".join(result.stderr.split())


def test_the_dashboard_given_a_url_of_the_wrong_kind_is_one_line():
    result = credit_risk(
        "postgresql://analyst:s3cret-pw@db.example/risk", "dashboard", "--port", "1"
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "s3cret-pw" not in result.stderr
    assert "is not a MySQL/MariaDB URL" in result.stderr


def test_run_is_the_dags_whole_chain_and_analytics_commands_run_their_suites(db_url, tmp_path):
    extract = tmp_path / "seven-months"
    generate_realistic(extract, customers=300, months=7, start="2024-01", seed=21)
    result = credit_risk(db_url, "run", "--source", str(extract))
    assert result.returncode == 0, result.stderr
    months = [f"2024-{month:02d}" for month in range(1, 8)]
    suites = query(
        db_url,
        "select suite, count(distinct partition_month) from validation_runs "
        "where is_success group by suite order by suite",
    )
    # the gates of every month, then the anomaly suite of every month published and the score
    # suite of every month that had the history to be scored
    counts = dict(suites)
    assert counts["anomalies"] == 7 and counts["published"] >= 1 and counts["loaded"] == 7
    scored = query(
        db_url,
        "select scored_month from model_runs where run_status = 'scored' order by scored_month",
    )
    assert scored and counts["scores"] == len({month for (month,) in scored})
    assert query(db_url, "select distinct month from spend_anomalies order by month") == [
        (month,) for month in months
    ]
    output = " ".join(result.stdout.split())
    assert "passed validation suite 'anomalies' for 2024-07" in output
    assert "2024-07: scored" in output
    before = dict(query(db_url, "select suite, count(*) from validation_runs group by suite"))
    anomalies = credit_risk(db_url, "anomalies", "--month", "2024-07")
    score = credit_risk(db_url, "score")  # the latest published month: 2024-07
    assert anomalies.returncode == 0 and score.returncode == 0, anomalies.stderr + score.stderr
    after = dict(query(db_url, "select suite, count(*) from validation_runs group by suite"))
    assert after["anomalies"] == before["anomalies"] + 1
    assert after["scores"] == before["scores"] + 1
    assert "flagged" in anomalies.stdout and "2024-07: scored" in " ".join(score.stdout.split())
