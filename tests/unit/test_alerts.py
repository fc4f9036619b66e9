"""The alert text on-call reads, built from plain dict contexts (no Airflow run needed)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import AirflowFailException

from credit_risk.alerts import (
    MISSED_DEADLINE,
    AlertSettings,
    build_alert,
    email_html,
    find_validation_error,
    refresh_deadline,
    slack_payload,
)
from credit_risk.contract import ExtractRefusedError
from credit_risk.quality.errors import FailedExpectation, ValidationFailedError

DAG_ID = "credit_risk_monthly"
RUN_ID = "scheduled__2024-04-01T00:00:00+00:00"
DATA_DOCS = "/opt/airflow/gx/uncommitted/data_docs/local_site/index.html"
LOG_URL = "http://airflow.example/dags/credit_risk_monthly/runs/x/tasks/validate_statements"

FAILURES = [
    FailedExpectation(
        expectation="expect_column_values_to_not_be_null",
        column="customer_id",
        observed="3 unexpected values (0.5%), e.g. row 17, 42, 99",
        description="every statement belongs to a customer",
    ),
    FailedExpectation(
        expectation="expect_column_mean_to_be_between",
        column="credit_limit",
        observed="observed mean 81234.5, expected 1000 .. 50000",
    ),
]


def validation_failure() -> AirflowFailException:
    """What a validation task raises: the fail-now signal caused by the validation error."""
    error = ValidationFailedError(
        suite="statements_monthly",
        month="2024-03",
        failures=list(FAILURES),
        evaluated=14,
        data_docs=DATA_DOCS,
    )
    try:
        try:
            raise error
        except ValidationFailedError as cause:
            raise AirflowFailException(f"ValidationFailedError: {cause}") from cause
    except AirflowFailException as raised:
        return raised


def task_context(exception, task_id: str = "validate_statements") -> dict:
    """A task failure callback context reduced to the keys Airflow 3.3 provides and we use."""
    return {
        "dag": SimpleNamespace(dag_id=DAG_ID),
        "dag_run": SimpleNamespace(dag_id=DAG_ID, run_id=RUN_ID),
        "run_id": RUN_ID,
        "ti": SimpleNamespace(
            dag_id=DAG_ID, run_id=RUN_ID, task_id=task_id, try_number=1, log_url=LOG_URL
        ),
        "data_interval_start": dt.datetime(2024, 3, 1, tzinfo=dt.UTC),
        "data_interval_end": dt.datetime(2024, 4, 1, tzinfo=dt.UTC),
        "exception": exception,
    }


def test_a_validation_failure_names_run_month_suite_expectations_and_data_docs():
    alert = build_alert(task_context(validation_failure()))

    for expected in (DAG_ID, RUN_ID, "2024-03", "statements_monthly", DATA_DOCS, LOG_URL):
        assert expected in alert.text, expected
    for failure in FAILURES:
        assert failure.expectation in alert.text
        assert failure.observed in alert.text
        assert failure.column in alert.text
    assert "every statement belongs to a customer" in alert.text
    assert "2 of 14" in alert.text
    assert "statements_monthly" in alert.subject and "2024-03" in alert.subject
    assert DAG_ID in alert.subject
    assert (alert.dag_id, alert.run_id, alert.month) == (DAG_ID, RUN_ID, "2024-03")
    assert (alert.task_id, alert.try_number) == ("validate_statements", 1)
    assert alert.error_type == "ValidationFailedError"
    assert alert.suite == "statements_monthly"
    assert alert.failures == FAILURES
    assert alert.data_docs == DATA_DOCS
    assert alert.log_url == LOG_URL


def test_each_observed_value_sits_under_its_expectation():
    text = build_alert(task_context(validation_failure())).text
    block = text[text.index("Failed expectations:") :]
    assert block.index(FAILURES[0].expectation) < block.index(FAILURES[0].observed)
    assert block.index(FAILURES[0].observed) < block.index(FAILURES[1].expectation)
    assert block.index(FAILURES[1].expectation) < block.index(FAILURES[1].observed)


def test_a_generic_exception_names_the_task_error_and_the_month_of_the_interval():
    alert = build_alert(task_context(ConnectionError("MySQL server has gone away"), "load_month"))

    for expected in (DAG_ID, RUN_ID, "2024-03", "load_month", "MySQL server has gone away"):
        assert expected in alert.text, expected
    assert alert.error_type == "ConnectionError"
    assert "load_month" in alert.subject and "ConnectionError" in alert.subject
    assert alert.suite is None and alert.failures == [] and alert.data_docs is None


def test_a_wrapped_data_error_reports_its_root_cause():
    try:
        try:
            raise ExtractRefusedError(Path("2024-03.csv"), 12, "credit_limit", "negative")
        except ExtractRefusedError as cause:
            raise AirflowFailException(f"ExtractRefusedError: {cause}") from cause
    except AirflowFailException as raised:
        alert = build_alert(task_context(raised, "load_month"))

    assert alert.error_type == "ExtractRefusedError"
    assert (
        "Caused by: ExtractRefusedError: 2024-03.csv: line 12, field 'credit_limit'" in alert.text
    )


def test_the_validation_error_is_found_behind_an_implicit_context_too():
    try:
        try:
            raise ValidationFailedError(suite="s", month="2024-03")
        except ValidationFailedError:
            raise RuntimeError("wrapped without 'from'")  # noqa: B904
    except RuntimeError as raised:
        assert find_validation_error(raised).suite == "s"
    assert find_validation_error(ValueError("x")) is None
    assert find_validation_error("a string exception") is None
    assert find_validation_error(None) is None


def test_a_context_without_exception_or_interval_still_gives_an_alert():
    alert = build_alert({"ti": SimpleNamespace(task_id="t", try_number=2)})
    assert alert.month == "unknown"
    assert alert.error_type == "UnknownError"
    assert "no exception in the context" in alert.text


def test_a_missed_deadline_names_each_late_month_and_where_it_is_stuck():
    from credit_risk.deadline import OverdueMonth, missed_deadline_alert
    from credit_risk.warehouse.ledger import MonthRecord

    failed = MonthRecord(
        "2024-03",
        "failed",
        "L1",
        "scheduled__2024-04-01",
        None,
        "published",
        "run-9",
        "High Risk share 0.48, expected at most 0.30",
    )
    alert = missed_deadline_alert(
        [
            OverdueMonth("2024-03", dt.datetime(2024, 4, 4, tzinfo=dt.UTC), failed),
            OverdueMonth("2024-04", dt.datetime(2024, 5, 4, tzinfo=dt.UTC), None),
        ],
        dt.timedelta(hours=72),
    )
    assert alert.error_type == MISSED_DEADLINE and alert.task_id is None
    assert alert.month == "2024-03"
    assert "2 months not published" in alert.subject
    for expected in (
        "Not published 72 h after the month closed: 2024-03, 2024-04",
        "2024-03: failed the published gate (run run-9): High Risk share 0.48",
        "deadline 2024-04-04 00:00 UTC",
        "2024-04: never loaded",
        "month=2024-03",
    ):
        assert expected in alert.text, expected


def test_a_run_of_a_chosen_month_is_alerted_under_that_month():
    error = ValidationFailedError(suite="s", month="2024-07", failures=[], evaluated=1)
    context = {**task_context(error), "params": {"month": "2024-07", "source": None}}
    assert build_alert(context).month == "2024-07"


def test_the_slack_payload_carries_the_text_and_escapes_slack_markup():
    failure = FailedExpectation("expect_x", "amount", "values <0 & > limit: 3")
    error = ValidationFailedError(suite="s", month="2024-03", failures=[failure], evaluated=1)
    payload = slack_payload(build_alert(task_context(error)))

    assert "values &lt;0 &amp; &gt; limit: 3" in payload["text"]
    assert "<0" not in payload["text"]
    assert payload["blocks"][0]["type"] == "header"
    assert "expect_x" in payload["blocks"][1]["text"]["text"]
    assert payload["blocks"][-1]["elements"][0]["text"] == f"<{LOG_URL}|Open in Airflow>"


def test_the_email_body_keeps_the_text_and_escapes_html():
    failure = FailedExpectation("expect_x", None, "<script>alert(1)</script>")
    error = ValidationFailedError(suite="s", month="2024-03", failures=[failure], evaluated=1)
    body = email_html(build_alert(task_context(error)))

    assert "&lt;script&gt;" in body and "<script>" not in body
    assert body.startswith("<pre>")


def test_alert_settings_come_from_the_environment_each_time(monkeypatch):
    monkeypatch.setenv("CREDIT_RISK_ALERT_EMAILS", " oncall@bank.example; risk@bank.example ,, ")
    monkeypatch.setenv("CREDIT_RISK_ALERT_SMTP_CONN_ID", "   ")  # blank: the default
    monkeypatch.setenv("CREDIT_RISK_ALERT_SLACK_CONN_ID", "ops_slack")
    monkeypatch.setenv("CREDIT_RISK_REFRESH_DEADLINE_HOURS", "soon")  # never blocks an alert
    settings = AlertSettings()
    assert settings.recipients == ["oncall@bank.example", "risk@bank.example"]
    assert settings.smtp_conn_id == "smtp_default"
    assert settings.slack_conn_id == "ops_slack"
    monkeypatch.setenv("CREDIT_RISK_ALERT_EMAILS", "")  # changed without a re-import
    assert AlertSettings().recipients == []


def test_the_refresh_deadline_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("CREDIT_RISK_REFRESH_DEADLINE_HOURS", raising=False)
    assert refresh_deadline() == dt.timedelta(hours=72)
    monkeypatch.setenv("CREDIT_RISK_REFRESH_DEADLINE_HOURS", "36.5")
    assert refresh_deadline() == dt.timedelta(hours=36.5)
    for wrong in ("-3", "soon"):
        monkeypatch.setenv("CREDIT_RISK_REFRESH_DEADLINE_HOURS", wrong)
        with pytest.raises(ValueError, match="CREDIT_RISK_REFRESH_DEADLINE_HOURS"):
            refresh_deadline()
    monkeypatch.setenv("CREDIT_RISK_REFRESH_DEADLINE_HOURS", "0")  # off
    assert refresh_deadline() is None


def test_a_data_docs_page_of_the_site_is_linked_as_a_url_of_the_dashboard(tmp_path, monkeypatch):
    from credit_risk.alerts import data_docs_link
    from credit_risk.settings import get_settings

    monkeypatch.setenv("CREDIT_RISK_DATA_DOCS_DIR", str(tmp_path / "docs"))
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.bank.example")
    get_settings.cache_clear()
    try:
        page = tmp_path / "docs" / "validations" / "published" / "run 1" / "page.html"
        assert data_docs_link(str(page)) == (
            "https://airflow.bank.example/credit-risk/data-docs/"
            "validations/published/run%201/page.html"
        )
        # a page outside the site (another machine's path) stays as it is
        assert data_docs_link("/elsewhere/index.html") == "/elsewhere/index.html"
        assert data_docs_link(None) is None
    finally:
        get_settings.cache_clear()


def test_an_approval_request_says_what_shifted_where_to_decide_and_by_when():
    from credit_risk.alerts import AWAITING_APPROVAL, build_approval_request

    task = SimpleNamespace(
        response_timeout=dt.timedelta(hours=48),
        generate_link_to_ui_from_context=lambda context: (
            "http://airflow.example/dags/"
            f"{DAG_ID}/runs/{RUN_ID}/tasks/approve_shift/required_actions?map_index=-1"
        ),
    )
    context = {**task_context(None, task_id="approve_shift"), "task": task}
    verdict = {
        "month": "2024-03",
        "failures": "validation suite 'published' failed for 2024-03: 1 of 9 expectations "
        "failed\n  - expect_column_max_to_be_between on utilization_psi: 3.1",
        "data_docs": None,
    }
    alert = build_approval_request(context, verdict)
    assert alert.error_type == AWAITING_APPROVAL
    assert "2024-03" in alert.subject and "approval" in alert.subject
    assert "required_actions" in alert.text and "utilization_psi: 3.1" in alert.text
    assert "No decision within 2 days, 0:00:00 rejects the month." in alert.text


def test_a_rejection_is_not_paged_again_but_a_timeout_is(monkeypatch):
    from airflow.providers.standard.exceptions import HITLRejectException, HITLTimeoutError

    from credit_risk import alerts

    sent = []
    monkeypatch.setattr(alerts, "send_alert", lambda alert: sent.append(alert) or ["log"])
    notifier = alerts.OnCallNotifier()
    notifier.notify(task_context(HITLRejectException('Receive "Reject"'), "approve_shift"))
    assert sent == []
    notifier.notify(task_context(HITLTimeoutError({"error": "timeout"}), "approve_shift"))
    assert [alert.error_type for alert in sent] == ["HITLTimeoutError"]
