"""On-call's decision on a real shift: Airflow's human-in-the-loop approval, for one month.

Why a person decides: the published gate compares each month with the one before. When the
High Risk share or the utilization mix moves past its threshold while every row is valid,
the cause may be a broken extract or a real change of the portfolio (a rate rise, a new card
product). Only a person can tell, so the DAG asks on-call, in the Airflow UI's Required
Actions (or ``PATCH .../hitlDetails`` of the REST API), to approve the month with a reason or
reject it. The decision is recorded where the failure is (``month_ledger``, the gate's row in
``validation_runs``). Row-level failures never come here: they fail the gate.

On Airflow 3.3 the task waits in the ``awaiting_input`` state, holding no worker slot and
needing no triggerer; the scheduler rejects the month when nobody decides within
``CREDIT_RISK_SHIFT_APPROVAL_HOURS``.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from airflow.providers.standard.exceptions import HITLRejectException, HITLTimeoutError
from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import Param
from airflow.sdk.exceptions import AirflowFailException, ParamValidationError

from credit_risk.alerts import ApprovalRequestNotifier
from credit_risk.settings import get_settings

log = logging.getLogger(__name__)

REASON_MIN_CHARS = 10
"""A decision's reason is read by auditors months later: a word is not enough."""


def response_timeout() -> dt.timedelta | None:
    """``CREDIT_RISK_SHIFT_APPROVAL_HOURS`` as the approval's response timeout."""
    hours = get_settings().shift_approval_hours
    return dt.timedelta(hours=hours) if hours > 0 else None


def _decider(event_or_payload: dict[str, Any]) -> str:
    user = event_or_payload.get("responded_by_user") or {}
    return str(user.get("name") or user.get("id") or "unknown user")


class ShiftApprovalOperator(ApprovalOperator):
    """Ask on-call to approve or reject a month whose published gate failed on distribution
    checks only; record the decision in the warehouse.

    Approve (with a reason): the month is validated and the next task publishes it. Reject, or
    no decision in time: the task fails, the month stays unpublished, and no second page goes
    out (the request was the page). The task never retries: a retry would ask again.

    Args:
        gate_task_id: The published gate's task, whose verdict (XCom) names the build and says
            what failed.
        conn_id: The warehouse's Airflow connection.
    """

    def __init__(self, *, gate_task_id: str, conn_id: str, **kwargs: Any) -> None:
        # the DAG's params and retries arrive through default_args: the form has its own
        # field, and a retry would ask again
        kwargs.pop("params", None)
        kwargs.pop("retries", None)
        super().__init__(
            subject="Approve a distribution shift?",
            params={
                # null until on-call answers: the task's params are validated when it
                # starts, before anyone could have written a reason
                "reason": Param(
                    None,
                    type=["null", "string"],
                    minLength=REASON_MIN_CHARS,
                    title="Reason",
                    description="Why the shift is real (approve) or not (reject); recorded "
                    "in the month ledger and validation_runs.",
                )
            },
            fail_on_reject=True,
            response_timeout=response_timeout(),
            notifiers=[ApprovalRequestNotifier()],
            retries=0,
            **kwargs,
        )
        self.gate_task_id = gate_task_id
        self.conn_id = conn_id

    def _verdict(self, context: Any) -> dict:
        return context["ti"].xcom_pull(task_ids=self.gate_task_id)

    def execute(self, context: Any) -> Any:
        verdict = self._verdict(context)
        self.subject = f"Approve the distribution shift of {verdict['month']}?"
        self.body = (
            f"The published gate of **{verdict['month']}** failed on distribution checks only; "
            "every row is valid. Approve if the shift is real (the month publishes), reject if "
            "the extract is wrong (the month stays unpublished: fix it and rerun). Give a "
            f"reason of at least {REASON_MIN_CHARS} characters either way.\n\n"
            f"```\n{verdict['failures']}\n```"
        )
        return super().execute(context)

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        from credit_risk import steps  # the warehouse stack: not at DAG parse time
        from credit_risk.orchestration import run_step

        verdict = self._verdict(context)
        month, run_id = verdict["month"], context["run_id"]
        reason = str((event.get("params_input") or {}).get("reason") or "").strip()
        if "error" not in event and event.get("chosen_options") == [self.REJECT]:
            # a rejection stands whatever its reason: record it, then fail
            run_step(
                steps.decide_shift,
                self.conn_id,
                verdict,
                run_id,
                approved=False,
                decided_by=_decider(event),
                reason=reason,
            )
            try:
                return super().execute_complete(context, event)
            except ParamValidationError as error:
                raise HITLRejectException(f"{month} rejected ({error})") from error
        try:
            decision = super().execute_complete(context, event)
        except HITLTimeoutError:
            hours = get_settings().shift_approval_hours
            run_step(
                steps.decide_shift,
                self.conn_id,
                verdict,
                run_id,
                approved=False,
                decided_by=f"nobody decided within {hours:g} h",
                reason="",
            )
            raise
        except ParamValidationError as error:
            raise AirflowFailException(
                f"an approval of {month} needs a reason of at least {REASON_MIN_CHARS} "
                f"characters ({error}); nothing was recorded: clear this task to decide again"
            ) from error
        if len(reason) < REASON_MIN_CHARS:  # the REST API does not check the form's schema
            raise AirflowFailException(
                f"an approval of {month} needs a reason of at least {REASON_MIN_CHARS} "
                "characters; nothing was recorded: clear this task to decide again"
            )
        run_step(
            steps.decide_shift,
            self.conn_id,
            verdict,
            run_id,
            approved=True,
            decided_by=_decider(decision),
            reason=reason,
        )
        return decision
