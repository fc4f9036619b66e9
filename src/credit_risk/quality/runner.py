"""Run Great Expectations suites, build their Data Docs, record the run, raise on failure.

Why an ephemeral context: suites are code (one module per stage), so nothing needs to persist in
a ``great_expectations.yml``; each validation gets its own Data Docs site under
``CREDIT_RISK_DATA_DOCS_DIR/<month>/<stage>/`` so a rerun replaces its own pages and an alert
can point at them.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from credit_risk.quality.data_docs import make_offline, prune_results
from credit_risk.quality.errors import FailedExpectation, ValidationFailedError
from credit_risk.settings import get_settings
from credit_risk.warehouse.db import Warehouse, connect, session_memory_sql

log = logging.getLogger(__name__)

RESULTS_FOLDER = ".results"
"""Folder of the Data Docs site that holds the validation results (JSON) its pages render."""

DERIVED_SUFFIX = "__number"
"""Suffix of the numeric copies of amount columns the input suite's range checks read; failure
messages name the column as delivered."""

APPROVABLE = "approvable"
"""Key of an expectation's ``meta`` that marks a distribution check on-call may approve."""

ALL_MONTHS = "all"
"""Partition label of a validation that covers every month (a whole-file input check)."""


@dataclass
class Dataset:
    """One batch to validate and the expectations that apply to it.

    Exactly one of ``frame`` (pandas) or ``query`` (SQL on the warehouse) is set.
    """

    name: str
    expectations: list
    frame: pd.DataFrame | None = None
    query: str | None = None


@dataclass
class SuiteResult:
    """The outcome of one stage's validation."""

    suite: str
    stage: str
    month: str
    success: bool
    evaluated: int
    failures: list[FailedExpectation] = field(default_factory=list)
    data_docs: str | None = None
    errored: int = 0
    """Expectations that raised instead of evaluating (a lost connection looks like this)."""

    def error(self) -> ValidationFailedError:
        """The exception that carries this failure to the task log and the alerts."""
        return ValidationFailedError(
            suite=self.suite,
            month=self.month,
            failures=self.failures,
            evaluated=self.evaluated,
            data_docs=self.data_docs,
        )

    @property
    def approvable(self) -> bool:
        """It failed on distribution checks only, each evaluated: a shift a person may approve."""
        return not self.success and self.error().approvable

    def summary(self) -> str:
        """One readable paragraph, whatever the outcome."""
        if self.success:
            return (
                f"validation suite {self.suite!r} passed for {self.month}: "
                f"{self.evaluated} expectations met. Data Docs: {self.data_docs}"
            )
        return str(self.error())


def _quiet_gx():
    # GX logs a warning per cross-table query and draws progress bars: noise in task logs.
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="great_expectations")


def _context(docs_dir: Path):
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
    )

    _quiet_gx()
    # no default temporary docs site: only ours, in the project folder
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False)
    )
    # Results are kept on disk beside the site: GX's index lists (and keeps) only the pages
    # whose results its store holds, so an in-memory store would delete every earlier page.
    config.stores["validation_results_store"] = {
        "class_name": "ValidationResultsStore",
        "store_backend": {
            "class_name": "TupleFilesystemStoreBackend",
            "base_directory": str(docs_dir / RESULTS_FOLDER),
        },
    }
    context = gx.get_context(mode="ephemeral", project_config=config)
    context.variables.progress_bars = {"globally": False}
    docs_dir.mkdir(parents=True, exist_ok=True)
    context.add_data_docs_site(
        "credit_risk",
        {
            "class_name": "SiteBuilder",
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(docs_dir),
            },
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            # suite pages would be rebuilt (and earlier ones removed) by every run: results only
            "site_section_builders": {"expectations": "None", "profiling": "None"},
        },
    )
    return context


def _page(site: Path, key) -> Path:
    """The site page of a validation result, as GX names it:
    validations/<suite, dots as folders>/<run>/<time>/<batch>.html."""
    return site.joinpath("validations", *key.to_tuple()).with_suffix(".html")


def _raised(result) -> bool:
    info = result.exception_info or {}
    if info.get("raised_exception"):
        return True
    return any(isinstance(item, dict) and item.get("raised_exception") for item in info.values())


def _observed(result) -> str:
    """What the expectation saw, in words an on-call engineer can act on."""
    if result.exception_info and result.exception_info.get("raised_exception"):
        return f"could not be evaluated: {result.exception_info.get('exception_message')}"
    for info in (result.exception_info or {}).values():
        if isinstance(info, dict) and info.get("raised_exception"):
            return f"could not be evaluated: {info.get('exception_message')}"
    details = result.result or {}
    if "unexpected_count" in details and details.get("element_count") is not None:
        sample = [_plain(value) for value in (details.get("partial_unexpected_list") or [])[:5]]
        return (
            f"{int(details['unexpected_count'])} of {details['element_count']} rows unexpected "
            f"({details.get('unexpected_percent') or 0:.2f}%), e.g. {sample}"
        )
    if result.expectation_config.type == "unexpected_rows_expectation":
        return f"{details.get('observed_value')} unexpected rows"
    if "observed_value" in details:
        return f"{_shown(details['observed_value'])}{_bounds(result.expectation_config)}"
    return json.dumps(details, default=str)[:300]


def _shown(value) -> str:
    """An observed value as on-call reads it: lists without the suites' internal columns."""
    if isinstance(value, list | tuple):
        return ", ".join(str(_plain(item)) for item in value if not _internal(item)) or "none"
    return str(_plain(value))


def _bounds(config) -> str:
    """`` (allowed: ...)`` from the expectation's own bounds, in the value's own unit."""
    kwargs = config.kwargs or {}
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    if low is not None and high is not None:
        return f" (allowed: {_plain(low)} to {_plain(high)})"
    if high is not None:
        return f" (allowed: at most {_plain(high)})"
    if low is not None:
        return f" (allowed: at least {_plain(low)})"
    return ""


def _internal(name) -> bool:
    """A column the input suite derives for its checks (``credit_limit__number``)."""
    return isinstance(name, str) and name.endswith(DERIVED_SUFFIX)


def _plain(value):
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, float):
        return round(value, 6)
    return str(value) if not isinstance(value, int | str) else value


def _column_of(config) -> str | None:
    kwargs = config.kwargs or {}
    if "column" in kwargs:
        return kwargs["column"].removesuffix(DERIVED_SUFFIX)
    if "column_list" in kwargs:
        return ", ".join(name.removesuffix(DERIVED_SUFFIX) for name in kwargs["column_list"])
    return None


def run_suite(
    stage: str,
    month: str | None,
    datasets: list[Dataset],
    *,
    warehouse: Warehouse | None = None,
    docs_root: Path | None = None,
) -> SuiteResult:
    """Validate every dataset with its expectations; build Data Docs; return the outcome."""
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier

    month = month or ALL_MONTHS
    # one site for the warehouse: GX's index lists every validation, static assets exist once
    docs_dir = docs_root or get_settings().data_docs_dir
    context = _context(docs_dir)
    definitions = []
    batch_parameters: dict[str, dict] = {}
    pandas_source = sql_source = None
    for dataset in datasets:
        if dataset.frame is not None:
            pandas_source = pandas_source or context.data_sources.add_pandas("extract")
            asset = pandas_source.add_dataframe_asset(dataset.name)
            batch = asset.add_batch_definition_whole_dataframe(dataset.name)
            batch_parameters[dataset.name] = {"dataframe": dataset.frame}
        else:
            if warehouse is None:
                raise ValueError(f"dataset {dataset.name} is a query but no warehouse was given")
            sql_source = sql_source or context.data_sources.add_sql(
                "warehouse",
                # the suites group and window whole months: the build's session memory
                connection_string=warehouse.sqlalchemy_url()
                .update_query_dict(
                    {"init_command": session_memory_sql(get_settings().build_temp_table_mb)}
                )
                .render_as_string(hide_password=False),
            )
            asset = sql_source.add_query_asset(dataset.name, query=dataset.query.strip())
            batch = asset.add_batch_definition_whole_table(dataset.name)
            batch_parameters[dataset.name] = {}
        suite = context.suites.add(gx.ExpectationSuite(name=f"{stage}.{dataset.name}"))
        for expectation in dataset.expectations:
            suite.add_expectation(expectation)
        definitions.append(
            (
                dataset.name,
                context.validation_definitions.add(
                    gx.ValidationDefinition(name=f"{stage}.{dataset.name}", data=batch, suite=suite)
                ),
            )
        )

    failures: list[FailedExpectation] = []
    evaluated = errored = 0
    failed_suites: list[str] = []
    # this call's own run name: its results are told apart from every earlier one, and from
    # those a concurrent run (another month of a backfill) writes into the same site meanwhile
    run_id = RunIdentifier(
        run_name=f"{stage}-{month}-{uuid.uuid4().hex[:8]}", run_time=dt.datetime.now(dt.UTC)
    )
    for name, definition in definitions:
        result = definition.run(
            batch_parameters=batch_parameters[name] or None,
            result_format={"result_format": "SUMMARY", "partial_unexpected_count": 5},
            run_id=run_id,
        )
        evaluated += result.statistics["evaluated_expectations"]
        if not result.success:
            failed_suites.append(f"{stage}.{name}")
        for outcome in result.results:
            if not outcome.success:
                config = outcome.expectation_config
                errored += _raised(outcome)
                failures.append(
                    FailedExpectation(
                        expectation=config.type,
                        column=_column_of(config),
                        observed=_observed(outcome),
                        description=config.description or f"{name} dataset",
                        approvable=bool((config.meta or {}).get(APPROVABLE))
                        and not _raised(outcome),
                    )
                )
    new_results = [
        key
        for key in context.validation_results_store.list_keys()
        if key.run_id.run_name == run_id.run_name
    ]
    # old results leave the site (and so GX's index) before the index is rebuilt
    pruned = prune_results(
        docs_dir,
        docs_dir / RESULTS_FOLDER,
        get_settings().data_docs_keep_days,
        dt.datetime.now(dt.UTC),
    )
    if pruned:
        log.info("removed %d validation result(s) older than the retention", len(pruned))
    # only this run's pages (and the index): the cost does not grow with the site
    context.build_data_docs(site_names=["credit_risk"], resource_identifiers=new_results)
    pages = {key.expectation_suite_identifier.name: _page(docs_dir, key) for key in new_results}
    index = docs_dir / "index.html"
    make_offline(docs_dir, [index, *pages.values()])
    # the page of the first failed dataset says most; the index lists every validation
    failed_pages = [pages[suite] for suite in failed_suites if suite in pages]
    page = next((path for path in failed_pages if path.is_file()), index)
    outcome = SuiteResult(
        suite=stage,
        stage=stage,
        month=month,
        success=not failures,
        evaluated=evaluated,
        failures=failures,
        data_docs=str(page) if page.is_file() else None,
        errored=errored,
    )
    log.info(outcome.summary())
    return outcome


def ping(warehouse: Warehouse) -> None:
    """Raise ``WarehouseError`` when the warehouse does not answer."""
    with connect(warehouse) as conn:
        conn.cursor().execute("select 1")


def record(warehouse: Warehouse, result: SuiteResult, run_id: str | None) -> None:
    """Append the outcome to ``validation_runs`` (the dashboard shows the latest)."""
    from credit_risk.warehouse.schema import ensure_tables

    failures = [failure.__dict__ for failure in result.failures]
    with connect(warehouse) as conn:
        ensure_tables(conn)
        conn.cursor().execute(
            "insert into validation_runs (suite, stage, partition_month, is_success, "
            "evaluated_expectations, failed_expectations, data_docs_path, failures, run_id) "
            "values (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                result.suite,
                result.stage,
                result.month,
                result.success,
                result.evaluated,
                len(result.failures),
                result.data_docs,
                json.dumps(failures, default=str) if failures else None,
                run_id,
            ),
        )
        conn.commit()


def validate_and_record(
    run: Callable[[], SuiteResult],
    warehouse: Warehouse | None,
    run_id: str | None,
    *,
    raise_on_failure: bool = True,
) -> SuiteResult:
    """Run a suite, record it when there is a warehouse, and raise when the data is wrong.

    Raises:
        ValidationFailedError: the data broke an expectation (retrying cannot help).
        WarehouseError: expectations could not be evaluated because the warehouse stopped
            answering (retryable), told apart from data errors by pinging it.
    """
    result = run()
    if result.errored and warehouse is not None:
        ping(warehouse)
    if warehouse is not None:
        record(warehouse, result, run_id)
    if raise_on_failure and not result.success:
        raise result.error()
    return result
