"""The monthly refresh as steps: one function per task of ``credit_risk_monthly``, each with its
gate, called alike by the DAG's tasks and by the ``credit-risk`` commands.

Why one set: when the DAG and the command line each strung the services together, they drifted
(the command's ``run`` stopped before anomalies and scoring; its ``anomalies`` and ``score``
skipped the suites the DAG ran after them). Now a task of the DAG is a step here, under the
same name (``MONTHLY_STEPS``, held to the DAG's tasks by a test), and ``credit-risk run`` is
:func:`run_extract`, the same steps in the DAG's order.

What stays out: Airflow. A step raises plain exceptions (a failed gate, a blocked month, a
publication superseded by a newer run); ``credit_risk.orchestration`` turns them into Airflow's
fail-now and skip signals, and the DAG adds only what Airflow does: which month a run loads,
retries, the branch to on-call's approval. Every step takes the warehouse and the month
explicitly, never the clock, and returns a small dict: what a task pushes to XCom and what the
command line prints.

The services (``pipeline``: pandas, the Great Expectations runner) are imported by the steps that
use them, not with this module: ``credit-risk load`` starts the server's bulk load about 0.3 s
sooner for it (``benchmarks/load_benchmark.py``).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from credit_risk.settings import get_settings
from credit_risk.warehouse import ledger
from credit_risk.warehouse.build import load_build
from credit_risk.warehouse.db import connect
from credit_risk.warehouse.load import load_extract
from credit_risk.warehouse.publish import SUPERSEDED_OUTCOME

if TYPE_CHECKING:
    from credit_risk.quality.runner import SuiteResult
    from credit_risk.warehouse.build import Build
    from credit_risk.warehouse.db import Warehouse

log = logging.getLogger(__name__)

MONTHLY_STEPS = (
    "prepare_extract",
    "validate_input",
    "load_month",
    "validate_loaded",
    "build_views",
    "validate_published",
    "decide_shift",
    "publish_views",
    "detect_anomalies",
    "train_model",
    "score_shard",
    "record_scores",
    "summarize_risk",
)
"""The steps of one month, in the order they run; each is a function of this module. The DAG's
tasks carry these names, except ``decide_shift``, which the ``approve_shift`` task calls with
on-call's answer; its ``route_verdict`` is Airflow's branch and does no work."""
WATCHDOG_STEPS = ("check_refresh_deadline",)
"""The steps of ``credit_risk_refresh_watchdog``."""


class MonthNotConfiguredError(ValueError):
    """The month's extract is not where the configuration says (no retry can help)."""


class PublicationSupersededError(RuntimeError):
    """A newer run reloaded the month after this one built it; that run publishes it."""


# --- the steps of one month, in the DAG's order -----------------------------------------------


def prepare_extract(month: str, source_template: str = "") -> dict[str, str]:
    """The month's extract: the configured source (``{month}`` becomes ``YYYY-MM``), or a
    monthly drop cut from the generated dataset when no source is configured.

    Raises:
        MonthNotConfiguredError: the file is not there, or the generated data does not cover
            the month; the message says what to do.
    """
    from credit_risk import pipeline

    template = source_template or get_settings().source
    if template:
        try:
            path = pipeline.resolve_source(template, month)
        except FileNotFoundError as error:
            # a retry 2 minutes later will not find it either: fail now, say what to do
            raise MonthNotConfiguredError(
                f"{error}; deliver it there, then clear this task to run the month"
            ) from error
    else:
        try:
            path = pipeline.month_extract_from_generator(month)
        except pipeline.MonthNotGeneratedError as error:
            raise MonthNotConfiguredError(str(error)) from error
    log.info("extract for %s: %s", month, path)
    return {"month": month, "source": str(path)}


def validate_input(
    warehouse: Warehouse, source: str | Path, month: str | None, run_id: str = "cli"
) -> dict:
    """Gate 1: the extract as delivered (files, columns, shares of bad rows)."""
    from credit_risk import pipeline

    return outcome(pipeline.check_input(warehouse, Path(source), month, run_id))


def load_month(
    warehouse: Warehouse, source: str | Path, month: str | None, run_id: str = "cli"
) -> dict:
    """Bulk-load the extract, replacing the month (``None``: every month it covers); rows
    that break the data contract go to ``quarantined_rows``. Returns the accounting, with the
    rows per file and month and the quarantine's reasons."""
    report = load_extract(warehouse, Path(source), month, run_id=run_id)
    accounting = {
        "rows_read": report.rows_read,
        "rows_loaded": report.rows_loaded,
        "rows_quarantined": report.rows_quarantined,
    }
    audit = report.audit.drop(columns=["source_sha256", "source_file"], errors="ignore")
    log.info("load of %s: %s\n%s", month or "the extract", accounting, audit.to_string(index=False))
    return {
        **accounting,
        "source": str(report.source),
        "kind": report.kind,
        "months": list(report.partition_months),
        "audit": _records(audit),
        "quarantine_reasons": _records(report.quarantine_reasons),
    }


def validate_loaded(warehouse: Warehouse, month: str, run_id: str = "cli") -> dict:
    """Gate 2: the month's tables reconcile with the load's accounting; the ledger records
    the verdict (a failed month blocks the later months whose windows read it)."""
    from credit_risk import pipeline

    return outcome(pipeline.check_loaded(warehouse, month, run_id))


def build_views(
    warehouse: Warehouse,
    month: str | None,
    run_id: str = "cli",
    *,
    full: bool = False,
    wait_seconds: float | None = None,
) -> dict:
    """Build the months the refresh of ``month`` changes in candidate tables readers do not
    see (``full``: every month, the reference).

    Waits (``CREDIT_RISK_REFRESH_WAIT_MINUTES`` unless ``wait_seconds`` says otherwise) while a
    month it reads is still being loaded by another run, as in a parallel backfill.

    Raises:
        MonthBlockedError: a month the windows read failed a gate; the message says which.
    """
    from credit_risk import pipeline

    if wait_seconds is None:
        wait_seconds = get_settings().refresh_wait_minutes * 60
    built = pipeline.build_refresh(warehouse, month, run_id, full=full, wait_seconds=wait_seconds)
    return {
        "build_id": built.build_id,
        "months": built.plan.months,
        "customer_month_rows": built.customer_month_rows,
        "transaction_rows": built.transaction_rows,
    }


def validate_published(
    warehouse: Warehouse, build: dict, run_id: str = "cli", *, allow_review: bool | None = None
) -> dict:
    """Gate 3: every row of the build's months, and each month's distribution against the one
    before it, before readers see them.

    A failure of distribution checks only (a shift a person may judge real) does not raise
    when ``allow_review`` (default: ``CREDIT_RISK_SHIFT_APPROVAL_HOURS`` > 0): the verdict has
    ``review`` set, with the failures in words, and on-call decides (:func:`decide_shift`).

    Raises:
        ValidationFailedError: the gate failed; the months stay unpublished.
    """
    from credit_risk import pipeline

    if allow_review is None:
        allow_review = get_settings().shift_approval_hours > 0
    built = _build(warehouse, build)
    result = pipeline.check_published(warehouse, built, run_id, allow_review=allow_review)
    verdict = {**outcome(result), "build_id": built.build_id, "review": not result.success}
    if not result.success:
        verdict["failures"] = str(result.error())
    return verdict


def decide_shift(
    warehouse: Warehouse,
    verdict: dict,
    run_id: str = "cli",
    *,
    approved: bool,
    decided_by: str,
    reason: str,
) -> None:
    """Record on-call's decision on a month in review (see ``pipeline.decide_review``)."""
    from credit_risk import pipeline

    pipeline.decide_review(
        warehouse,
        _build(warehouse, verdict),
        approved=approved,
        decided_by=decided_by,
        reason=reason,
        run_id=run_id,
    )


def publish_views(
    warehouse: Warehouse, build: dict, run_id: str = "cli", *, validate: bool = True
) -> dict:
    """Replace exactly the build's months for readers, in one transaction (``validate=False``:
    a build that skipped the published gate).

    Raises:
        PublicationSupersededError: a newer run reloaded the month after this one built it.
    """
    from credit_risk import pipeline

    built = _build(warehouse, build)
    publication = pipeline.publish_build(warehouse, built, run_id, validate=validate)
    log.info("publication of build %d: %s", publication.build_id, publication.outcome)
    if publication.outcome == SUPERSEDED_OUTCOME:
        raise PublicationSupersededError(
            f"{built.plan.trigger_month or built.plan.last_month} was reloaded by a newer run "
            "after this one built it; that run publishes it"
        )
    return {
        "build_id": publication.build_id,
        "months": publication.months,
        "outcome": publication.outcome,
        "latest_month": publication.latest_month,
        "customer_month_rows": publication.customer_month_rows,
        "transaction_rows": publication.transaction_rows,
    }


def detect_anomalies(warehouse: Warehouse, month: str, run_id: str = "cli") -> dict:
    """Flag the month's spending anomalies from the published data, then check the flags
    (the anomaly suite). Reads the month and the baseline months before it only."""
    from credit_risk import pipeline

    rows, result = pipeline.detect_anomalies(warehouse, month, run_id)
    return {**outcome(result), "flagged": int(rows["is_anomaly"].astype(bool).sum())}


def train_model(warehouse: Warehouse, month: str, run_id: str = "cli") -> dict:
    """Train the month's high-risk model once, on the whole portfolio (or reuse a stored
    champion), and plan its scoring: the shards to score, ``CREDIT_RISK_SHARDS`` of them (none
    when too little labelled history exists yet: the run records why)."""
    from credit_risk.analytics.model import SCORED
    from credit_risk.analytics.model import train_model as train

    plan = train(warehouse, month)
    count = get_settings().shards if plan.run.status == SCORED else 0
    log.info(
        "scoring plan for %s: %s, %s, %d customers in %d shard(s)",
        month,
        plan.run.status,
        plan.run.detail or plan.run.model_version,
        plan.customers,
        count,
    )
    return {
        "month": month,
        "status": plan.run.status,
        "model_version": plan.run.model_version,
        "customers": plan.customers,
        "shards": [{"month": month, "shard": index, "shards": count} for index in range(count)],
    }


def score_shard(
    warehouse: Warehouse, month: str, shard: int, shards: int, run_id: str = "cli"
) -> dict:
    """Score shard ``shard`` of ``shards`` of the month's customers with the month's plan; the
    scores wait in ``high_risk_prediction_shards`` for :func:`record_scores`."""
    from credit_risk.analytics.model import score_shard as score
    from credit_risk.shards import Shard

    part = Shard(shard, shards)
    return {"month": month, "shard": part.label(), "scored": score(warehouse, month, part)}


def record_scores(warehouse: Warehouse, month: str, run_id: str = "cli") -> dict:
    """Record the month's scoring run once every shard is in (its scores replace the month's
    predictions in one transaction), then check the scores (the score suite). A month the
    plan skipped records why, and nothing is checked."""
    from credit_risk import pipeline

    run, result = pipeline.record_scores(warehouse, month, run_id)
    return _score_summary(run, result)


def score_customers(
    warehouse: Warehouse, month: str, run_id: str = "cli", *, shards: int = 1
) -> dict:
    """:func:`train_model`, :func:`score_shard` for every shard in turn, :func:`record_scores`:
    what the DAG's three tasks do, in one call (``credit-risk score``, ``credit-risk run``)."""
    from credit_risk import pipeline

    run, result = pipeline.score_customers(warehouse, month, run_id, shards=shards)
    return _score_summary(run, result)


def _score_summary(run, result: SuiteResult | None) -> dict:
    summary = {
        "month": run.month,
        "status": run.status,
        "detail": run.detail,
        "model_version": run.model_version,
        "n_scored": run.n_scored,
        "champion_auc": run.champion_auc,
        "baseline_auc": run.baseline_auc,
        "predicted_positive_rate": run.predicted_positive_rate,
    }
    if result is None:
        return summary
    return {**outcome(result), **summary}


def summarize_risk(warehouse: Warehouse, month: str | None = None) -> dict[str, int]:
    """Customers per risk segment in the month, logged for the run's record."""
    from credit_risk import pipeline

    summary = pipeline.segment_summary(warehouse, month)
    log.info("risk segments for %s:\n%s", month or "every month", summary.to_string(index=False))
    if summary.empty or month is None:
        return {}
    row = summary.iloc[0]
    return {column: int(row[column]) for column in summary.columns if column != "month"}


def check_refresh_deadline(warehouse: Warehouse, now: dt.datetime) -> dict:
    """The watchdog's check at ``now`` (its run's data interval end, so a rerun of a check
    gives the same verdict): page on-call about months past their refresh deadline."""
    from credit_risk.deadline import check_refresh_deadline as check

    result = check(warehouse, now)
    return {
        "due_month": result.due_month,
        "overdue": [item.month for item in result.overdue],
        "paged": result.paged,
        "channels": result.channels,
    }


# --- the chain: what ``credit-risk run`` does -------------------------------------------------


@dataclass
class ChainReport:
    """What one run of the chain did, step by step (each step's returned dict)."""

    loaded: dict
    validations: list[dict] = field(default_factory=list)
    published: dict | None = None
    anomalies: list[dict] = field(default_factory=list)
    scores: list[dict] = field(default_factory=list)


def run_extract(
    warehouse: Warehouse,
    source: str | Path,
    month: str | None = None,
    *,
    validate: bool = True,
    analytics: bool = True,
    run_id: str = "cli",
) -> ChainReport:
    """The DAG's chain for one extract, without Airflow: input gate, load, loaded gate, build,
    published gate, publish, then anomalies and scoring (each with its suite) for every month
    published.

    ``month=None`` loads every month the extract covers (each gated) and builds them in one
    refresh. ``validate=False`` skips the gates (a trusted backfill); ``analytics=False`` stops
    after the publication. A second run of the same month waits for the first, and says so. A
    failed gate raises ``ValidationFailedError``: nothing after it runs, and readers keep the
    last validated months. A distribution shift is not held for on-call here: without a person
    to ask, the published gate fails as it does for a broken row.
    """
    from credit_risk import pipeline

    with pipeline.run_lock(warehouse, month):
        report = _publish_chain(warehouse, source, month, validate=validate, run_id=run_id)
        if analytics and report.published is not None:
            for each in report.published["months"]:
                report.anomalies.append(detect_anomalies(warehouse, each, run_id))
                report.scores.append(score_customers(warehouse, each, run_id))
    return report


def publish_extract(
    warehouse: Warehouse,
    source: str | Path,
    month: str | None = None,
    *,
    validate: bool = True,
    run_id: str = "cli",
) -> ChainReport:
    """:func:`run_extract` up to the publication: the warehouse's part of the chain (what
    tests and benchmarks use to publish an extract quickly)."""
    from credit_risk import pipeline

    with pipeline.run_lock(warehouse, month):
        return _publish_chain(warehouse, source, month, validate=validate, run_id=run_id)


def _publish_chain(
    warehouse: Warehouse, source: str | Path, month: str | None, *, validate: bool, run_id: str
) -> ChainReport:
    validations = []
    if validate:
        validations.append(validate_input(warehouse, source, month, run_id))
    loaded = load_month(warehouse, source, month, run_id)
    for each in loaded["months"]:
        if validate:
            validations.append(validate_loaded(warehouse, each, run_id))
        else:
            _record_validated_unchecked(warehouse, each, run_id)
    built = build_views(warehouse, month or loaded["months"][-1], run_id, wait_seconds=0.0)
    if validate:
        validations.append(validate_published(warehouse, built, run_id, allow_review=False))
    published = publish_views(warehouse, built, run_id, validate=validate)
    return ChainReport(loaded=loaded, validations=validations, published=published)


def _record_validated_unchecked(warehouse: Warehouse, month: str, run_id: str) -> None:
    """``validate=False``: the ledger records the month loaded as validated without a gate."""
    with connect(warehouse) as conn:
        load_id = ledger.read_ledger(conn.cursor())[month].load_id
        ledger.record_validated(conn.cursor(), month, load_id, run_id)
        conn.commit()


# --- helpers ------------------------------------------------------------------------------------


def outcome(result: SuiteResult) -> dict:
    """A suite's verdict as a step returns it."""
    return {
        "suite": result.suite,
        "month": result.month,
        "success": result.success,
        "evaluated": result.evaluated,
        "data_docs": result.data_docs,
    }


def _build(warehouse: Warehouse, build: dict) -> Build:
    built, _state = load_build(warehouse, build["build_id"])
    return built


def _records(frame) -> list[dict[str, Any]]:
    """A small frame as JSON-ready rows (pandas gives Python scalars, not numpy ones)."""
    return frame.to_dict("records")


__all__ = [
    "MONTHLY_STEPS",
    "WATCHDOG_STEPS",
    "ChainReport",
    "MonthNotConfiguredError",
    "PublicationSupersededError",
    *MONTHLY_STEPS,
    "check_refresh_deadline",
    "score_customers",
    "publish_extract",
    "run_extract",
]
