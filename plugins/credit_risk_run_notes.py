"""Airflow plugin: each run of ``credit_risk_monthly`` shows the month it loads as its note.

The listener (``credit_risk.run_notes``) runs in the scheduler when a run starts.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from credit_risk.run_notes import MonthNoteListener


class CreditRiskRunNotesPlugin(AirflowPlugin):
    """Registers the listener that writes a run's month into its note."""

    name = "credit_risk_run_notes"
    listeners = [MonthNoteListener()]  # noqa: RUF012 (AirflowPlugin's attributes are class-level lists)
