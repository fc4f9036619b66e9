"""Each run of the monthly DAG says in the Airflow UI which month it loads, and why.

Why a note: which month a run loads depends on its ``month`` param, its data interval or the
time it was triggered (``orchestration.month_and_reason``), and a UI trigger with logical date
2024-03-01 loading February surprises everyone once. Airflow 3.3 gives a task no way to write
its run's note (the execution API has no such route) and builds run ids without the run's
params, so the note is written by a listener in the scheduler, when the run starts: the same
function the ``prepare_extract`` task calls, so the note and the load cannot disagree.

A note someone gave at trigger time is kept as it is; a cleared run keeps its note.
"""

from __future__ import annotations

import logging

from airflow.listeners import hookimpl

log = logging.getLogger(__name__)


class MonthNoteListener:
    """Airflow listener: the monthly DAG's run gets its month as note when it starts.

    Plugins load in every Airflow process; the month logic (and pandas behind it) is imported
    only when the scheduler starts a run.
    """

    @hookimpl
    def on_dag_run_running(self, dag_run, msg: str) -> None:
        from credit_risk.deadline import MONTHLY_DAG_ID
        from credit_risk.orchestration import run_note

        if dag_run.dag_id != MONTHLY_DAG_ID or dag_run.note:
            return
        # the scheduler's session holds the run and commits this with the run's own update
        dag_run.note = run_note(
            dag_run.conf,
            dag_run.data_interval_start,
            dag_run.data_interval_end,
            dag_run.run_after,
        )
        log.info("run %s: %s", dag_run.run_id, dag_run.note)
