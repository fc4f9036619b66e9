"""The pipeline's steps as plain functions: what the CLI commands and the DAG's tasks call.

Each step takes the warehouse (or a path) and a month, never today's date, so that a rerun of a
month gives the same result.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from credit_risk.extract import detect_kind
from credit_risk.generate.legacy import LEGACY_FILE_NAME, generate_legacy
from credit_risk.months import add_months, month_range, validate_month
from credit_risk.quality.runner import SuiteResult, validate_and_record
from credit_risk.settings import Settings, get_settings
from credit_risk.warehouse.db import Warehouse
from credit_risk.warehouse.load import LoadReport, load_extract
from credit_risk.warehouse.publish import Snapshot, build_candidate, publish_candidate

log = logging.getLogger(__name__)

RISK_CATEGORIES = ("High Risk", "Medium Risk", "Low Risk", "Unknown")


class MonthNotGeneratedError(ValueError):
    """The month asked for is outside the generated dataset."""


def generate(
    profile: str, out_dir: Path, *, customers: int, months: int, start: str, seed: int
) -> dict[str, int]:
    """Write a generated extract to ``out_dir``; returns rows per file."""
    validate_month(start)
    if profile == "legacy":
        return generate_legacy(out_dir, customers=customers, months=months, start=start, seed=seed)
    if profile == "realistic":
        from credit_risk.generate.realistic import generate_realistic

        return generate_realistic(
            out_dir, customers=customers, months=months, start=start, seed=seed
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

    @classmethod
    def from_settings(cls, settings: Settings) -> GenerationSpec:
        """The dataset configured through ``CREDIT_RISK_GENERATE_*``."""
        return cls(
            settings.generate_profile,
            settings.generate_customers,
            settings.generate_months,
            settings.generate_start,
            settings.generate_seed,
        )

    @property
    def name(self) -> str:
        """A folder name that changes whenever any parameter, or the generator's code, does.

        The code's hash keeps a cached dataset from outliving a change to the generator.
        """
        module = "legacy" if self.profile == "legacy" else "realistic"
        code = (Path(__file__).parent / "generate" / f"{module}.py").read_bytes()
        version = hashlib.sha256(code).hexdigest()[:8]
        return (
            f"{self.profile}-c{self.customers}-m{self.months}-{self.start}-s{self.seed}-g{version}"
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
    """Gate 2: the month's warehouse tables after the load."""
    from credit_risk.quality.loaded_suite import validate_loaded

    return validate_and_record(lambda: validate_loaded(warehouse, month), warehouse, run_id)


def check_published(
    warehouse: Warehouse, month: str, run_id: str = "cli", *, candidate: bool = True
) -> SuiteResult:
    """Gate 3: the candidate snapshot (or, with ``candidate=False``, the published one)."""
    from credit_risk.quality.published_suite import validate_published

    return validate_and_record(
        lambda: validate_published(warehouse, month, candidate=candidate), warehouse, run_id
    )


@dataclass
class RunReport:
    """What one ``run`` did: the load, each validation, the publication."""

    load: LoadReport
    validations: list[SuiteResult]
    published: Snapshot | None


def run(
    warehouse: Warehouse,
    source: Path,
    month: str | None = None,
    *,
    validate: bool = True,
    run_id: str = "cli",
) -> RunReport:
    """The gated pipeline for one extract: validate input, load, validate loaded, build the
    candidate snapshot, validate it, publish it.

    Any failed gate raises ``ValidationFailedError`` and stops the run; the published views keep
    the last validated snapshot. ``validate=False`` skips the gates (for trusted backfills).
    """
    validations: list[SuiteResult] = []
    if validate:
        validations.append(check_input(warehouse, source, month, run_id))
    report = load_extract(warehouse, source, month)
    if validate:
        validations += [
            check_loaded(warehouse, loaded, run_id) for loaded in report.partition_months
        ]
    build_candidate(warehouse)
    run_month = month or report.partition_months[-1]
    if validate:
        validations.append(check_published(warehouse, run_month, run_id))
    published = publish_candidate(warehouse, run_month=run_month, published_by=run_id)
    return RunReport(report, validations, published)


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
