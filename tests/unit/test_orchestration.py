"""Which month a run of the monthly DAG loads, and the note that says so in the UI."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import AirflowFailException

from credit_risk.orchestration import month_and_reason, run_month, run_note
from credit_risk.run_notes import MonthNoteListener

UTC = dt.UTC
MARCH = (dt.datetime(2024, 3, 1, tzinfo=UTC), dt.datetime(2024, 4, 1, tzinfo=UTC))
TRIGGERED = dt.datetime(2026, 12, 2, 13, 30, tzinfo=UTC)


def test_the_month_param_wins_over_the_data_interval():
    assert month_and_reason(" 2024-06 ", *MARCH, TRIGGERED) == ("2024-06", "its month param")


def test_a_scheduled_run_loads_the_month_its_data_interval_covers():
    assert month_and_reason(None, *MARCH) == (
        "2024-03",
        "its data interval 2024-03-01 .. 2024-04-01",
    )


def test_a_manual_run_without_interval_loads_the_last_month_closed_before_its_trigger():
    month, reason = month_and_reason("", None, None, TRIGGERED)
    assert (month, reason) == ("2026-11", "the last month closed before 2026-12-02")


def test_a_bad_month_param_or_a_non_monthly_interval_fails_without_retry():
    with pytest.raises(AirflowFailException, match="month param '2024-13'"):
        run_month("2024-13", *MARCH)
    with pytest.raises(AirflowFailException, match="is not one month"):
        run_month(None, MARCH[0], MARCH[0])
    with pytest.raises(AirflowFailException, match="no month param, data interval or trigger"):
        run_month(None, None, None, None)


def test_the_note_names_the_month_and_why_or_why_it_cannot():
    assert run_note({"month": "2024-06"}, *MARCH, TRIGGERED) == "Loads 2024-06 (its month param)"
    assert run_note(None, None, None, TRIGGERED).startswith("Loads 2026-11 (the last month")
    assert run_note({"month": "June"}, *MARCH, TRIGGERED).startswith(
        "Month unknown: the month param 'June'"
    )


def _run(dag_id: str, note: str | None, conf: dict | None = None) -> SimpleNamespace:
    return SimpleNamespace(
        dag_id=dag_id,
        run_id="scheduled__2024-04-01",
        note=note,
        conf=conf or {},
        data_interval_start=MARCH[0],
        data_interval_end=MARCH[1],
        run_after=MARCH[1],
    )


def test_the_listener_notes_monthly_runs_and_keeps_a_note_given_at_trigger():
    listener = MonthNoteListener()
    scheduled, given, other = (
        _run("credit_risk_monthly", None),
        _run("credit_risk_monthly", "reload after the feed fix", {"month": "2024-01"}),
        _run("another_dag", None),
    )
    for run in (scheduled, given, other):
        listener.on_dag_run_running(dag_run=run, msg="started")
    assert scheduled.note == "Loads 2024-03 (its data interval 2024-03-01 .. 2024-04-01)"
    assert given.note == "reload after the feed fix"
    assert other.note is None
