"""The services the steps are made of: extracts, the three gates, builds, publication,
analytics with their suites. ``credit_risk.steps`` strings them into the DAG's tasks and the
CLI's commands; nothing else calls them in sequence.

Each function takes the warehouse (or a path) and a month, never today's date, so that a rerun
of a month gives the same result.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import MySQLdb
import pandas as pd
import sqlalchemy as sa

from credit_risk.extract import detect_kind
from credit_risk.generate.legacy import LEGACY_FILE_NAME, generate_legacy
from credit_risk.months import add_months, month_range, validate_month
from credit_risk.quality.errors import ValidationFailedError
from credit_risk.quality.runner import SuiteResult, validate_and_record
from credit_risk.settings import Settings, get_settings
from credit_risk.warehouse import ledger
from credit_risk.warehouse.build import (
    FAILED,
    IN_REVIEW,
    SUPERSEDED,
    VALIDATED,
    Build,
    finish_build,
    mark_in_review,
    mark_validated,
)
from credit_risk.warehouse.build import build as build_months
from credit_risk.warehouse.db import Warehouse, WarehouseError, connect
from credit_risk.warehouse.load_transaction import settle_interrupted_loads
from credit_risk.warehouse.publish import Publication, StaleBuildError, publish
from credit_risk.warehouse.schema import ensure_tables

log = logging.getLogger(__name__)

RISK_CATEGORIES = ("High Risk", "Medium Risk", "Low Risk", "Unknown")
RUN_LOCK_TIMEOUT_SECONDS = 3600


class MonthNotGeneratedError(ValueError):
    """The month asked for is outside the generated dataset."""


def generate(
    profile: str,
    out_dir: Path,
    *,
    customers: int,
    months: int,
    start: str,
    seed: int,
    transactions_per_month: float | None = None,
) -> dict[str, int]:
    """Write a generated extract to ``out_dir``; returns rows per file.

    ``transactions_per_month`` (realistic only) sets the portfolio's density; None keeps the
    generator's default.
    """
    validate_month(start)
    if profile == "legacy" and transactions_per_month is not None:
        raise ValueError(
            "the legacy profile has a fixed density (the seed's 1,200 rows): unset "
            "CREDIT_RISK_GENERATE_TRANSACTIONS_PER_MONTH or use the realistic profile"
        )
    if profile == "legacy":
        return generate_legacy(out_dir, customers=customers, months=months, start=start, seed=seed)
    if profile == "realistic":
        from credit_risk.generate.realistic import generate_realistic

        density = (
            {}
            if transactions_per_month is None
            else {"transactions_per_month": transactions_per_month}
        )
        return generate_realistic(
            out_dir, customers=customers, months=months, start=start, seed=seed, **density
        )
    raise ValueError(f"unknown profile {profile!r}: use legacy or realistic")


@dataclass(frozen=True)
class GenerationSpec:
    """Which generated dataset the DAG draws its monthly extracts from."""

    profile: str
    customers: int
    months: int
    start: str
    seed: int
    transactions_per_month: float | None = None
    """The realistic generator's density (None: its default; the legacy profile has none)."""

    @classmethod
    def from_settings(cls, settings: Settings) -> GenerationSpec:
        """The dataset configured through ``CREDIT_RISK_GENERATE_*``."""
        return cls(
            settings.generate_profile,
            settings.generate_customers,
            settings.generated_months,
            settings.generate_start,
            settings.generate_seed,
            settings.generate_transactions_per_month,
        )

    @property
    def name(self) -> str:
        """A folder name that changes whenever any parameter, or the generator's code, does.

        The code's hash keeps a cached dataset from outliving a change to the generator.
        """
        module = (
            Path(__file__).parent
            / "generate"
            / ("legacy.py" if self.profile == "legacy" else "realistic")
        )
        files = sorted(module.rglob("*.py")) if module.is_dir() else [module]
        code = hashlib.sha256()
        for path in files:  # a package: every module of it, in a fixed order
            code.update(path.relative_to(module.parent).as_posix().encode())
            code.update(path.read_bytes())
        version = code.hexdigest()[:8]
        density = (
            "" if self.transactions_per_month is None else f"-t{self.transactions_per_month:g}"
        )
        return (
            f"{self.profile}-c{self.customers}-m{self.months}-{self.start}-s{self.seed}"
            f"{density}-g{version}"
        )

    @property
    def covered_months(self) -> list[str]:
        """The statement months the dataset holds."""
        return month_range(self.start, self.months)


def _atomic_dir(target: Path, fill) -> Path:
    """Build a folder in a sibling temp dir and move it into place, so readers never see half."""
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        fill(scratch)
        os.replace(scratch, target)
    except OSError:
        if not target.is_dir():
            raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def generated_dataset(spec: GenerationSpec, data_dir: Path) -> Path:
    """The full generated dataset for ``spec``, generated once and reused."""
    return _atomic_dir(
        data_dir / "generated" / spec.name,
        lambda folder: generate(
            spec.profile,
            folder,
            customers=spec.customers,
            months=spec.months,
            start=spec.start,
            seed=spec.seed,
            transactions_per_month=spec.transactions_per_month,
        ),
    )


def slice_month(source: Path, month: str, out_dir: Path) -> Path:
    """Write the rows of one month of an extract to ``out_dir`` (same layout as the source).

    This is the monthly drop a bank's export job would deliver: the month's statements and
    transactions, plus the customer list.
    """
    month = validate_month(month)

    def fill(folder: Path) -> None:
        if detect_kind(source) == "legacy":
            legacy = source if source.is_file() else source / LEGACY_FILE_NAME
            rows = _read_strings(legacy)
            rows = rows[rows["transaction_date"].str.startswith(month)]
            rows.to_csv(folder / LEGACY_FILE_NAME, index=False, lineterminator="\n")
            return
        if (source / "customers.csv").is_file():
            shutil.copyfile(source / "customers.csv", folder / "customers.csv")
        statements = _read_strings(source / "statements.csv")
        statements[statements["statement_month"] == month].to_csv(
            folder / "statements.csv", index=False, lineterminator="\n"
        )
        transactions = _read_strings(source / "transactions.csv")
        transactions[transactions["transaction_date"].str.startswith(month)].to_csv(
            folder / "transactions.csv", index=False, lineterminator="\n"
        )

    return _atomic_dir(out_dir, fill)


def _read_strings(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, engine="pyarrow")


def month_extract_from_generator(month: str, settings: Settings | None = None) -> Path:
    """The month's extract cut from the configured generated dataset (what the DAG loads).

    Raises:
        MonthNotGeneratedError: the month is outside the generated span.
    """
    settings = settings or get_settings()
    spec = GenerationSpec.from_settings(settings)
    if month not in spec.covered_months:
        raise MonthNotGeneratedError(
            f"month {month} is outside the generated data ({spec.start} to "
            f"{add_months(spec.start, spec.months - 1)}); set CREDIT_RISK_GENERATE_START/"
            "CREDIT_RISK_GENERATE_MONTHS or point CREDIT_RISK_SOURCE at a real extract"
        )
    dataset = generated_dataset(spec, settings.data_dir)
    return slice_month(dataset, month, settings.data_dir / "extracts" / spec.name / month)


def resolve_source(template: str, month: str) -> Path:
    """A configured source path, with ``{month}`` replaced by the run's month."""
    path = Path(template.replace("{month}", month)).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"the extract for {month} is not there: {path}")
    return path


def check_input(
    warehouse: Warehouse | None, source: Path, month: str | None, run_id: str = "cli"
) -> SuiteResult:
    """Gate 1: the extract as delivered (raises ``ValidationFailedError`` when unfit)."""
    from credit_risk.quality.input_suite import validate_input

    return validate_and_record(lambda: validate_input(source, month), warehouse, run_id)


def check_loaded(warehouse: Warehouse, month: str, run_id: str = "cli") -> SuiteResult:
    """Gate 2: the month's warehouse tables after the load; the ledger records the verdict.

    Raises:
        ValidationFailedError: the month is ``failed`` (stage loaded) and blocks later months.
    """
    from credit_risk.quality.loaded_suite import validate_loaded

    load_id = _current_load(warehouse, month)
    try:
        result = validate_and_record(lambda: validate_loaded(warehouse, month), warehouse, run_id)
    except ValidationFailedError as error:
        _record_failed(warehouse, {month: load_id}, ledger.STAGE_LOADED, run_id, error)
        raise
    with connect(warehouse) as conn:
        if not ledger.record_validated(conn.cursor(), month, load_id, run_id):
            log.info(
                "%s was reloaded while it was validated: its new load is validated by its run",
                month,
            )
        conn.commit()
    return result


def _current_load(warehouse: Warehouse, month: str) -> str:
    """The id of the load that wrote ``month``, once both its branches have committed."""
    with connect(warehouse) as conn:
        ensure_tables(conn)
        settle_interrupted_loads(conn, warehouse.database)  # a dead load's locks hold nothing up
        cursor = conn.cursor()
        for _ in range(50):
            record = ledger.read_ledger(cursor).get(month)
            conn.commit()
            if record is None:
                raise ledger.MonthNotReadyError(f"{month} has not been loaded: load it first")
            if record.is_settled:
                return record.load_id
            settle_interrupted_loads(conn, warehouse.database)
            time.sleep(0.2)
    raise ledger.MonthNotReadyError(
        f"the load of {month} is between its two commits; the next load finishes it"
    )


def _record_failed(
    warehouse: Warehouse,
    months: dict[str, str],
    stage: str,
    run_id: str,
    error: BaseException | str,
) -> None:
    first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
    with connect(warehouse) as conn:
        ledger.record_failed(conn.cursor(), months, stage, run_id, first_line)
        conn.commit()


def build_refresh(
    warehouse: Warehouse,
    month: str | None,
    run_id: str = "cli",
    *,
    full: bool = False,
    wait_seconds: float = 0.0,
) -> Build:
    """Build the months a refresh of ``month`` changes (``full``: every month) into candidate
    tables; readers see nothing yet.

    Raises:
        MonthBlockedError: a month the refresh reads failed a gate; the message says which.
        MonthNotReadyError: a month it reads is still not ready after ``wait_seconds``.
    """
    return build_months(warehouse, month, full=full, run_id=run_id, wait_seconds=wait_seconds)


def check_published(
    warehouse: Warehouse, build: Build, run_id: str = "cli", *, allow_review: bool = False
) -> SuiteResult:
    """Gate 3: the build's months, before they are published.

    With ``allow_review`` (the DAG, when ``CREDIT_RISK_SHIFT_APPROVAL_HOURS`` > 0), a failure of
    distribution checks only does not raise: the changed months are ``failed`` as awaiting
    on-call's decision, the build is ``in_review`` (``decide_review`` records the decision), and
    the failed result is returned.

    Raises:
        ValidationFailedError: the months that changed are ``failed`` (stage published); they,
            and the months after them, stay unpublished.
    """
    from credit_risk.quality.published_suite import validate_published

    plan = build.plan
    table = build.table("published_customer_month")
    result = validate_and_record(
        lambda: validate_published(
            warehouse, plan.months, table, suite_month=plan.trigger_month or plan.last_month
        ),
        warehouse,
        run_id,
        raise_on_failure=False,
    )
    if result.success:
        mark_validated(warehouse, build.build_id)
        return result
    error = result.error()
    changed = {month: plan.inputs[month] for month in plan.changed}
    # the months whose data changed fail; a rebuild of published months that fails
    # (thresholds changed since) leaves them as they are
    if allow_review and result.approvable:
        _record_failed(
            warehouse, changed, ledger.STAGE_PUBLISHED, run_id, f"{AWAITING_DECISION}: {error}"
        )
        mark_in_review(warehouse, build.build_id)
        log.warning(
            "%s\n%s: distribution checks only, on-call may approve", error, AWAITING_DECISION
        )
        return result
    _record_failed(warehouse, changed, ledger.STAGE_PUBLISHED, run_id, error)
    finish_build(warehouse, build.build_id, FAILED, str(error).splitlines()[0])
    raise error


AWAITING_DECISION = "awaiting on-call's decision on a distribution shift"
"""How the ledger describes a month whose published gate failed on distribution checks only."""


class ReviewError(RuntimeError):
    """A decision on a build that is not awaiting one (decided already, or superseded)."""


def decide_review(
    warehouse: Warehouse,
    build: Build,
    *,
    approved: bool,
    decided_by: str,
    reason: str,
    run_id: str = "cli",
) -> None:
    """Record on-call's decision on a build in review, where the gate's failure is recorded.

    Approved: the changed months are ``validated`` again in the ledger with who approved and
    why, the gate's failed row in ``validation_runs`` gets the same, and the build may be
    published. Rejected: the months stay ``failed``, their ledger failure says who rejected
    them and why, and the build is failed.

    Raises:
        ReviewError: the build is not in review (a decision was recorded already, or a newer
            run replaced it).
    """
    plan = build.plan
    changed = {month: plan.inputs[month] for month in plan.changed}
    suite_month = plan.trigger_month or plan.last_month
    with connect(warehouse) as conn:
        cursor = conn.cursor()
        cursor.execute("select state from builds where build_id = %s for update", (build.build_id,))
        row = cursor.fetchone()
        if row is None or row[0] != IN_REVIEW:
            conn.rollback()
            raise ReviewError(
                f"build {build.build_id} of {suite_month} is {row[0] if row else 'unknown'}, "
                "not awaiting a decision: rerun the month to build and check it again"
            )
        if approved:
            ledger.record_approved(cursor, changed, decided_by, reason, run_id)
            cursor.execute(
                "update validation_runs set approved_by = %s, approval_reason = %s, "
                "approved_at = current_timestamp(6) where stage = 'published' and "
                "partition_month = %s and run_id <=> %s and not is_success "
                "order by validation_run_id desc limit 1",
                (decided_by[:250], reason[:1000], suite_month, run_id),
            )
            cursor.execute(
                "update builds set state = %s where build_id = %s", (VALIDATED, build.build_id)
            )
            conn.commit()
            log.warning("%s approved by %s: %s", suite_month, decided_by, reason)
            return
        verdict = f"rejected by {decided_by}: {reason}" if reason else f"rejected: {decided_by}"
        ledger.record_failed(cursor, changed, ledger.STAGE_PUBLISHED, run_id, verdict)
        conn.commit()
    finish_build(warehouse, build.build_id, FAILED, verdict)
    log.warning("%s %s", suite_month, verdict)


def check_published_month(warehouse: Warehouse, month: str, run_id: str = "cli") -> SuiteResult:
    """The published suite on a month as readers see it now (nothing is recorded as failed)."""
    from credit_risk.quality.published_suite import validate_published

    return validate_and_record(lambda: validate_published(warehouse, [month]), warehouse, run_id)


def publish_build(
    warehouse: Warehouse, build: Build, run_id: str = "cli", *, validate: bool = True
) -> Publication:
    """Publish a validated build; a build gone stale meanwhile is built, checked and published
    again (a month its windows read was reloaded and republished by another run)."""
    for _ in range(3):
        try:
            return publish(warehouse, build, run_id=run_id, require_validated=validate)
        except StaleBuildError as stale:
            log.warning("%s: building again", stale)
            finish_build(warehouse, build.build_id, SUPERSEDED, str(stale))
            plan = build.plan
            build = build_months(warehouse, plan.trigger_month, full=plan.is_full, run_id=run_id)
            if validate:
                check_published(warehouse, build, run_id)
    raise WarehouseError(
        f"could not publish {build.plan.trigger_month}: the months it reads kept changing"
    )


@contextlib.contextmanager
def run_lock(warehouse: Warehouse, month: str | None) -> Iterator[None]:
    """One ``run`` of a month at a time: a second one waits for the first, and says so."""
    name = f"credit_risk_run:{warehouse.database}:{month or 'all'}"[:64]
    with connect(warehouse) as conn:
        cursor = conn.cursor()
        cursor.execute("select get_lock(%s, 0)", (name,))  # taken at once, or held by another
        acquired = cursor.fetchone()[0] == 1
        if not acquired:
            cursor.execute("select is_used_lock(%s)", (name,))
            log.warning(
                "another run of %s is in progress (connection %s): waiting for it to finish",
                month or "the whole extract",
                cursor.fetchone()[0],
            )
            cursor.execute("select get_lock(%s, %s)", (name, RUN_LOCK_TIMEOUT_SECONDS))
            acquired = cursor.fetchone()[0] == 1
        if not acquired:
            raise WarehouseError(
                f"another run of {month or 'the extract'} has held the warehouse for "
                f"{RUN_LOCK_TIMEOUT_SECONDS} s; try again when it has finished"
            )
        try:
            yield
        finally:
            with contextlib.suppress(MySQLdb.Error):
                cursor.execute("select release_lock(%s)", (name,))


def detect_anomalies(warehouse: Warehouse, month: str, run_id: str = "cli"):
    """Flag the month's spending anomalies from the published data, then check the flags.

    Reads the month and the baseline months before it only.

    Returns:
        The rows written to ``spend_anomalies`` and the flags' suite result.
    """
    from credit_risk.analytics.anomalies import detect_anomalies as detect
    from credit_risk.quality.analytics_suite import validate_anomalies

    rows = detect(warehouse, month)
    result = validate_and_record(lambda: validate_anomalies(warehouse, month), warehouse, run_id)
    return rows, result


def score_customers(warehouse: Warehouse, month: str, run_id: str = "cli", *, shards: int = 1):
    """Score every customer's chance of turning high-risk next month, then check the scores:
    the model trained once, the customers scored in ``shards`` shards in turn, the run recorded
    (the DAG runs the shards as parallel tasks; the scores do not depend on their number).

    Returns:
        The model run and the scores' suite result (None when the run was skipped: too little
        labelled history yet, nothing to check).
    """
    from credit_risk.analytics.model import score_shard, train_model
    from credit_risk.shards import all_shards

    plan = train_model(warehouse, month)
    for shard in all_shards(shards):
        score_shard(warehouse, plan.month, shard)
    return record_scores(warehouse, plan.month, run_id)


def record_scores(warehouse: Warehouse, month: str, run_id: str = "cli"):
    """Record the month's scoring run from its shards' scores, then check the scores.

    Returns:
        The model run and the scores' suite result (None when the run was skipped).
    """
    from credit_risk.analytics.model import SCORED
    from credit_risk.analytics.model import record_scores as record
    from credit_risk.quality.analytics_suite import validate_scores

    run = record(warehouse, month)
    log.info(
        "model run for %s: %s (%s), %d scored, out-of-time AUC %s vs logistic %s",
        month,
        run.status,
        run.detail or run.model_version,
        run.n_scored,
        run.champion_auc,
        run.baseline_auc,
    )
    if run.status != SCORED:
        return run, None
    return run, validate_and_record(lambda: validate_scores(warehouse, month), warehouse, run_id)


def segment_summary(warehouse: Warehouse, month: str | None = None) -> pd.DataFrame:
    """Customers per risk segment per month (the seed's validate_risk.py counts, as a table)."""
    query = "select month, risk_category, count(*) as customers from risk_segmentation"
    params: dict[str, str] = {}
    if month:
        query += " where month = %(month)s"
        params["month"] = validate_month(month)
    query += " group by month, risk_category"
    engine = warehouse.engine()
    try:
        with engine.connect() as conn:
            counts = pd.read_sql(sa.text(query.replace("%(month)s", ":month")), conn, params=params)
    finally:
        engine.dispose()
    table = counts.pivot_table(
        index="month", columns="risk_category", values="customers", fill_value=0, aggfunc="sum"
    )
    table = table.reindex(columns=list(RISK_CATEGORIES), fill_value=0).astype(int)
    table["Total"] = table.sum(axis=1)
    return table.reset_index().rename_axis(columns=None)
