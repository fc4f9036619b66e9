"""On-call alerts reach a real SMTP server and a real webhook receiver through the providers.

No MariaDB is needed: the Airflow connections come from ``AIRFLOW_CONN_*`` variables, which
hooks read without a metadata database outside a task. Only the last test (a real DAG run)
migrates Airflow's SQLite metadata DB.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import textwrap
from types import SimpleNamespace

import pytest
from airflow.sdk import DAG
from airflow.sdk.exceptions import AirflowFailException

from credit_risk.alerts import OnCallNotifier
from credit_risk.quality.errors import FailedExpectation, ValidationFailedError
from tests.integration.alert_servers import (
    ALERT_RECIPIENTS,
    LOCALHOST,
    SLACK_WEBHOOK_TOKEN,
    free_port,
    slack_connection_json,
    smtp_connection_uri,
)

DAG_ID = "credit_risk_monthly"
RUN_ID = "scheduled__2024-04-01T00:00:00+00:00"
DATA_DOCS = "/opt/airflow/gx/uncommitted/data_docs/local_site/index.html"
EXPECTATION = "expect_column_values_to_not_be_null"
OBSERVED = "3 unexpected values (0.5%), e.g. rows 17, 42, 99"


def failed_validation() -> AirflowFailException:
    """The exception a validation task ends with: fail-now, caused by the validation error."""
    cause = ValidationFailedError(
        suite="statements_monthly",
        month="2024-03",
        failures=[FailedExpectation(EXPECTATION, "customer_id", OBSERVED, "no orphan rows")],
        evaluated=14,
        data_docs=DATA_DOCS,
    )
    try:
        try:
            raise cause
        except ValidationFailedError as error:
            raise AirflowFailException(f"ValidationFailedError: {error}") from error
    except AirflowFailException as raised:
        return raised


def failure_context() -> dict:
    """A task failure context as Airflow 3.3 passes it (real DAG object, run and TI stand-ins)."""
    dag = DAG(dag_id=DAG_ID, schedule=None)
    ti = SimpleNamespace(
        dag_id=DAG_ID,
        run_id=RUN_ID,
        task_id="validate_statements",
        try_number=1,
        map_index=-1,
        log_url=f"http://localhost:8080/dags/{DAG_ID}/runs/{RUN_ID}/tasks/validate_statements",
    )
    return {
        "dag": dag,
        "dag_run": SimpleNamespace(dag_id=DAG_ID, run_id=RUN_ID),
        "run_id": RUN_ID,
        "ti": ti,
        "task_instance": ti,
        "data_interval_start": dt.datetime(2024, 3, 1, tzinfo=dt.UTC),
        "data_interval_end": dt.datetime(2024, 4, 1, tzinfo=dt.UTC),
        "exception": failed_validation(),
    }


def assert_names_the_failure(text: str) -> None:
    for expected in (DAG_ID, RUN_ID, "2024-03", "statements_monthly", EXPECTATION, OBSERVED):
        assert expected in text, expected
    assert DATA_DOCS in text


def alert_errors(caplog) -> list[str]:
    """The ERROR messages of the alerting module (providers may log errors of their own)."""
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "credit_risk.alerts" and record.levelno >= logging.ERROR
    ]


def test_a_failure_reaches_email_and_slack_exactly_once(alert_channels):
    OnCallNotifier()(failure_context())  # how Airflow invokes a notifier callback

    (mail,) = alert_channels.smtp.messages
    assert sorted(mail.recipients) == sorted(ALERT_RECIPIENTS)
    assert "statements_monthly" in mail.subject and "2024-03" in mail.subject
    assert_names_the_failure(mail.body)
    assert mail.sender == "airflow@example.com"  # the connection's from_email extra

    (payload,) = alert_channels.webhook.payloads
    assert alert_channels.webhook.paths == [f"/{SLACK_WEBHOOK_TOKEN}"]
    assert_names_the_failure(payload["text"])
    assert EXPECTATION in payload["blocks"][1]["text"]["text"]


def test_without_any_channel_the_alert_is_logged_at_error(monkeypatch, caplog):
    for name in ("CREDIT_RISK_ALERT_EMAILS", "AIRFLOW_CONN_SMTP_DEFAULT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CREDIT_RISK_ALERT_SLACK_CONN_ID", "credit_risk_slack_absent")
    caplog.set_level(logging.ERROR, logger="credit_risk.alerts")

    OnCallNotifier()(failure_context())  # must not raise

    errors = alert_errors(caplog)
    assert len(errors) == 1
    assert "NOT sent" in errors[0]
    assert_names_the_failure(errors[0])


def test_recipients_without_an_smtp_connection_leave_slack_working(monkeypatch, alert_channels):
    monkeypatch.setenv("CREDIT_RISK_ALERT_SMTP_CONN_ID", "smtp_absent")

    OnCallNotifier()(failure_context())

    assert alert_channels.smtp.messages == []
    assert len(alert_channels.webhook.payloads) == 1


def test_an_unreachable_smtp_server_still_lets_slack_through(monkeypatch, alert_channels, caplog):
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", smtp_connection_uri(LOCALHOST, free_port()))
    caplog.set_level(logging.ERROR, logger="credit_risk.alerts")

    OnCallNotifier()(failure_context())

    assert alert_channels.smtp.messages == []
    (payload,) = alert_channels.webhook.payloads
    assert_names_the_failure(payload["text"])
    (error,) = alert_errors(caplog)
    assert "via email failed" in error
    assert_names_the_failure(error)


def test_an_unreachable_webhook_still_lets_email_through(monkeypatch, alert_channels, caplog):
    monkeypatch.setenv(
        "AIRFLOW_CONN_CREDIT_RISK_SLACK", slack_connection_json(LOCALHOST, free_port())
    )
    caplog.set_level(logging.ERROR, logger="credit_risk.alerts")

    OnCallNotifier()(failure_context())

    assert alert_channels.webhook.payloads == []
    (mail,) = alert_channels.smtp.messages
    assert_names_the_failure(mail.body)
    (error,) = alert_errors(caplog)
    assert "via slack failed" in error


def test_a_webhook_answering_an_error_is_reported_not_raised(alert_channels, caplog):
    alert_channels.webhook.status = 500
    caplog.set_level(logging.ERROR, logger="credit_risk.alerts")

    OnCallNotifier()(failure_context())

    assert len(alert_channels.webhook.payloads) == 1
    assert len(alert_channels.smtp.messages) == 1
    assert any("via slack failed" in message for message in alert_errors(caplog))


@pytest.mark.slow
def test_a_real_task_failure_pages_once_with_the_validation_details(
    airflow_home, alert_channels, tmp_path, monkeypatch
):
    """``dag.test()`` runs the task runner's own failure path, callbacks and context included."""
    import pendulum
    from airflow.dag_processing.dagbag import DagBag

    (tmp_path / "alert_probe.py").write_text(
        textwrap.dedent(
            f"""
            import pendulum
            from airflow.sdk import CronDataIntervalTimetable, dag, task
            from airflow.sdk.exceptions import AirflowFailException

            from credit_risk.alerts import OnCallNotifier
            from credit_risk.quality.errors import FailedExpectation, ValidationFailedError


            @dag(
                dag_id="alert_probe",
                schedule=CronDataIntervalTimetable("@monthly", timezone="UTC"),
                start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
                catchup=False,
                default_args={{"retries": 0, "on_failure_callback": OnCallNotifier()}},
            )
            def alert_probe():
                @task
                def validate_statements(data_interval_start=None):
                    error = ValidationFailedError(
                        suite="statements_monthly",
                        month=f"{{data_interval_start:%Y-%m}}",
                        failures=[FailedExpectation({EXPECTATION!r}, "customer_id", {OBSERVED!r})],
                        evaluated=14,
                        data_docs={DATA_DOCS!r},
                    )
                    raise AirflowFailException(str(error)) from error

                validate_statements()


            alert_probe()
            """
        )
    )
    # dag.test() stores the DAG through a configured bundle: add one for the probe's folder
    # (first, so it is found at once) and keep the project's own "dags-folder" bundle active.
    local_bundle = "airflow.dag_processing.bundles.local.LocalDagBundle"
    bundles = [
        {"name": "alert-probe", "classpath": local_bundle, "kwargs": {"path": str(tmp_path)}},
        {"name": "dags-folder", "classpath": local_bundle, "kwargs": {}},
    ]
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps(bundles))
    dagbag = DagBag(dag_folder=str(tmp_path))
    assert dagbag.import_errors == {}

    dag_run = dagbag.dags["alert_probe"].test(logical_date=pendulum.datetime(2024, 4, 1, tz="UTC"))

    assert dag_run.state == "failed"
    (mail,) = alert_channels.smtp.messages
    (payload,) = alert_channels.webhook.payloads
    for text in (mail.body, payload["text"]):
        for expected in ("alert_probe", "2024-03", "statements_monthly", EXPECTATION, OBSERVED):
            assert expected in text, expected
        assert "validate_statements" in text
        assert DATA_DOCS in text
        assert "/dags/alert_probe/runs/" in text  # the task log link from the real TI
