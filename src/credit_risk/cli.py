"""``credit-risk``: the pipeline's steps from a terminal, without Airflow.

The warehouse comes from ``--db-url`` or ``CREDIT_RISK_DB_URL``
(default ``mysql://root@127.0.0.1:3306/credit_risk``); the database is created if missing.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from credit_risk.months import InvalidMonthError, validate_month

if TYPE_CHECKING:  # the commands import what they need: --help stays quick
    import pandas as pd

    from credit_risk.quality.errors import ValidationFailedError
    from credit_risk.warehouse.db import Warehouse

app = typer.Typer(
    help="Monthly credit-risk monitoring of card customers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

DbUrl = Annotated[
    str | None,
    typer.Option("--db-url", envvar="CREDIT_RISK_DB_URL", help="Warehouse URL (mysql://...)."),
]
MonthOption = Annotated[
    str | None,
    typer.Option("--month", help="Only this month (YYYY-MM); other months' rows are quarantined."),
]


def _month(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return validate_month(value)
    except InvalidMonthError as error:
        raise typer.BadParameter(str(error)) from error


def _warehouse(db_url: str | None) -> Warehouse:
    from credit_risk.warehouse.db import resolve_warehouse

    return resolve_warehouse(db_url=db_url)


def _frame_table(frame: pd.DataFrame, title: str) -> Table:
    import pandas as pd

    table = Table(title=title, title_justify="left")
    for column in frame.columns:
        numeric = pd.api.types.is_numeric_dtype(frame[column])
        table.add_column(str(column), justify="right" if numeric else "left")
    for row in frame.itertuples(index=False):
        table.add_row(*(str(value) for value in row))
    return table


def _print_load(loaded: dict) -> None:
    import pandas as pd

    audit = pd.DataFrame(loaded["audit"])
    title = f"Load of {loaded['source']} ({loaded['kind']}): rows per file and month"
    console.print(_frame_table(audit, title))
    if loaded["quarantine_reasons"]:
        reasons = pd.DataFrame(loaded["quarantine_reasons"])
        console.print(_frame_table(reasons, "Quarantined rows by reason"))
    console.print(
        f"[bold]{loaded['rows_read']}[/] rows read = [green]{loaded['rows_loaded']}[/] loaded + "
        f"[yellow]{loaded['rows_quarantined']}[/] quarantined"
    )


def _print_validation(verdict: dict) -> None:
    console.print(
        f"[green]passed[/] validation suite {verdict['suite']!r} for {verdict['month']}: "
        f"{verdict['evaluated']} expectations met. Data Docs: {verdict['data_docs']}"
    )


def _fail_validation(error: ValidationFailedError) -> None:
    err_console.print(f"[red]FAILED[/] {error}")
    raise typer.Exit(code=1)


def _fail(error: Exception) -> None:
    err_console.print(f"[red]error:[/] {error}")
    raise typer.Exit(code=1)


def _safe_url(db_url: str | None) -> str:
    """The command's warehouse URL with its password hidden (it was parsed once already)."""
    try:
        return _warehouse(db_url).safe_url
    except Exception:  # a message must not fail while reporting a failure
        return "the configured URL"


def _expected_errors() -> tuple[type[BaseException], ...]:
    """Failures a user can act on: printed in one line, exit code 1."""
    from credit_risk.contract import ExtractRefusedError
    from credit_risk.warehouse.db import WarehouseError
    from credit_risk.warehouse.ledger import MonthBlockedError, MonthNotReadyError

    return (
        ExtractRefusedError,
        WarehouseError,
        FileNotFoundError,
        MonthBlockedError,
        MonthNotReadyError,
    )


def _reported(command: Callable) -> Callable:
    """Run a command; a failed gate prints its failures, an expected failure its message."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        from credit_risk.quality.errors import ValidationFailedError
        from credit_risk.warehouse.db import describe_server_error, driver_error

        try:
            return command(*args, **kwargs)
        except ValidationFailedError as error:
            _fail_validation(error)
        except _expected_errors() as error:
            _fail(error)
        except Exception as error:
            if driver_error(error) is None:
                raise  # a defect: its traceback is what a bug report needs
            if logging.getLogger().isEnabledFor(logging.INFO):  # --verbose: the whole story
                logging.getLogger(__name__).exception("the warehouse failed")
            _fail(describe_server_error(error, _safe_url(kwargs.get("db_url"))))

    return wrapper


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress.")] = False,
) -> None:
    """Monthly credit-risk monitoring of card customers."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@app.command()
@_reported
def generate(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the extract to.")],
    profile: Annotated[str, typer.Option(help="legacy (the seed, byte for byte) or realistic.")] = (
        "legacy"
    ),
    customers: Annotated[int, typer.Option(min=1)] = 100,
    months: Annotated[int, typer.Option(min=1)] = 12,
    start: Annotated[str, typer.Option(help="First month, YYYY-MM.")] = "2024-01",
    seed: int = 42,
    transactions_per_month: Annotated[
        float | None,
        typer.Option(
            min=0.1,
            help="realistic: mean transactions a customer attempts a month (default 5.5, about "
            "3.9 authorised); monthly spend stays the same.",
        ),
    ] = None,
) -> None:
    """Generate card-account data (legacy: bank_transactions.csv; realistic: three files)."""
    from credit_risk import pipeline

    if profile not in ("legacy", "realistic"):
        raise typer.BadParameter("use legacy or realistic", param_hint="--profile")
    start = _month(start) or start
    counts = pipeline.generate(
        profile,
        out,
        customers=customers,
        months=months,
        start=start,
        seed=seed,
        transactions_per_month=transactions_per_month,
    )
    for name, rows in counts.items():
        console.print(f"wrote {out / name}: {rows} rows")


@app.command()
@_reported
def load(
    source: Annotated[Path, typer.Option("--source", help="Extract file or folder.")],
    month: MonthOption = None,
    db_url: DbUrl = None,
) -> None:
    """Load an extract, replacing the months it covers, and print the row accounting."""
    from credit_risk import steps

    _print_load(steps.load_month(_warehouse(db_url), source, _month(month)))


def _print_publication(publication: dict) -> None:
    months = ", ".join(publication["months"])
    if publication["outcome"] != "published":
        console.print(f"{months}: {publication['outcome']}")
        return
    console.print(
        f"published {months}: {publication['customer_month_rows']} customer-months and "
        f"{publication['transaction_rows']} transactions (latest published month "
        f"{publication['latest_month']})"
    )


@app.command()
@_reported
def build(
    db_url: DbUrl = None,
    month: Annotated[
        str | None,
        typer.Option(
            "--month",
            help="Refresh this month (and the later months whose windows read it); "
            "default: the latest month not published yet.",
        ),
    ] = None,
    full: Annotated[
        bool,
        typer.Option(
            "--full",
            help="Rebuild every month from the loaded tables: the reference a refresh is "
            "tested against.",
        ),
    ] = False,
    validate: Annotated[
        bool, typer.Option(help="Run the published suite before publishing.")
    ] = True,
) -> None:
    """Build the months a refresh changes, validate them and publish them."""
    from credit_risk import steps

    warehouse = _warehouse(db_url)
    built = steps.build_views(warehouse, _month(month), full=full, wait_seconds=0.0)
    if validate:
        _print_validation(steps.validate_published(warehouse, built, allow_review=False))
    _print_publication(steps.publish_views(warehouse, built, validate=validate))


@app.command()
@_reported
def run(
    source: Annotated[Path, typer.Option("--source", help="Extract file or folder.")],
    month: MonthOption = None,
    db_url: DbUrl = None,
    validate: Annotated[
        bool, typer.Option(help="Run the Great Expectations gates (input, loaded, published).")
    ] = True,
    analytics: Annotated[
        bool,
        typer.Option(
            help="Flag anomalies and score customers (each with its suite) for every month "
            "published."
        ),
    ] = True,
) -> None:
    """The DAG's whole chain for one extract: input gate, load, loaded gate, build, published
    gate, publish, anomalies and scoring with their suites, summary."""
    from credit_risk import pipeline, steps

    warehouse = _warehouse(db_url)
    report = steps.run_extract(
        warehouse, source, _month(month), validate=validate, analytics=analytics
    )
    _print_load(report.loaded)
    for verdict in report.validations:
        _print_validation(verdict)
    if report.published is not None:
        _print_publication(report.published)
    for flags in report.anomalies:
        _print_validation(flags)
    for scores in report.scores:
        _print_scores(scores)
    console.print(
        _frame_table(pipeline.segment_summary(warehouse), "Customers per risk segment and month")
    )


@app.command()
@_reported
def validate(
    stage: Annotated[str, typer.Option(help="input, loaded or published.")],
    month: Annotated[str, typer.Option("--month", help="YYYY-MM")],
    source: Annotated[
        Path | None, typer.Option("--source", help="The extract (input stage only).")
    ] = None,
    db_url: DbUrl = None,
) -> None:
    """Run one validation suite and print its failures; exit 1 when the data is wrong.

    The replacement for the seed's validate_risk.py, which printed counts and asserted nothing.
    """
    from credit_risk import pipeline

    month = _month(month) or month
    warehouse = _warehouse(db_url)
    if stage == "input":
        if source is None:
            raise typer.BadParameter("the input stage needs --source", param_hint="--source")
        result = pipeline.check_input(warehouse, source, month)
    elif stage == "loaded":
        result = pipeline.check_loaded(warehouse, month)
    elif stage == "published":
        result = pipeline.check_published_month(warehouse, month)
    else:
        raise typer.BadParameter("use input, loaded or published", param_hint="--stage")
    _print_validation(result)


@app.command()
@_reported
def report(month: MonthOption = None, db_url: DbUrl = None) -> None:
    """Print customers per risk segment and month (what validate_risk.py printed)."""
    from credit_risk import pipeline

    summary = pipeline.segment_summary(_warehouse(db_url), _month(month))
    console.print(_frame_table(summary, "Customers per risk segment and month"))


@app.command("slice-month")
@_reported
def slice_month(
    source: Annotated[Path, typer.Option("--source", help="Extract file or folder.")],
    month: Annotated[str, typer.Option("--month", help="YYYY-MM")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the month's extract.")],
) -> None:
    """Cut one month out of a multi-month extract (a monthly drop)."""
    from credit_risk import pipeline

    folder = pipeline.slice_month(source, _month(month) or month, out)
    console.print(f"wrote {folder}")


@app.command()
@_reported
def anomalies(month: MonthOption = None, db_url: DbUrl = None) -> None:
    """Flag spending anomalies from the published data (one month, or every published month),
    check the flags with the anomaly suite, and list them."""
    from credit_risk import steps
    from credit_risk.analytics.anomalies import published_months

    warehouse = _warehouse(db_url)
    months = [_month(month)] if month else published_months(warehouse)
    for each in months:
        _print_validation(steps.detect_anomalies(warehouse, each))
    if not months:
        console.print("nothing is published yet: nothing to flag")
        return
    flagged = _read(
        warehouse,
        "select anomaly_reason, anomaly_score, customer_id, month, monthly_spend "
        "from spend_anomalies where is_anomaly and month between :first and :last "
        "order by anomaly_score desc, month, customer_id limit 50",
        {"first": months[0], "last": months[-1]},
    )
    total = _read(
        warehouse,
        "select count(*) as customer_months, coalesce(sum(is_anomaly), 0) as flagged "
        "from spend_anomalies where month between :first and :last",
        {"first": months[0], "last": months[-1]},
    ).iloc[0]
    title = f"{int(total['flagged'])} of {int(total['customer_months'])} flagged"
    console.print(_frame_table(flagged, title))


def _read(warehouse: Warehouse, query: str, params: dict) -> pd.DataFrame:
    from credit_risk.warehouse.frames import read_frame

    engine = warehouse.engine()
    try:
        with engine.connect() as conn:
            return read_frame(conn, query, params)
    finally:
        engine.dispose()


def _print_scores(scores: dict) -> None:
    if scores["status"] != "scored":
        console.print(f"{scores['month']}: {scores['status']} ({scores['detail']})")
        return
    console.print(
        f"{scores['month']}: scored {scores['n_scored']} customers with "
        f"{scores['model_version']}; out-of-time AUC {scores['champion_auc']:.3f} (logistic "
        f"baseline {scores['baseline_auc']:.3f}); {scores['predicted_positive_rate']:.1%} "
        "predicted to turn high-risk"
    )
    if "suite" in scores:
        _print_validation(scores)


@app.command()
@_reported
def score(month: MonthOption = None, db_url: DbUrl = None) -> None:
    """Score every customer's probability of turning high-risk next month (default: the latest
    published month), then check the scores with the score suite."""
    from credit_risk import steps
    from credit_risk.analytics.anomalies import published_months

    warehouse = _warehouse(db_url)
    if month is None:
        months = published_months(warehouse)
        if not months:
            _fail("nothing is published yet: run or build a month first")
        month = months[-1]
    _print_scores(steps.score_customers(warehouse, _month(month)))


@app.command()
@_reported
def evaluate(
    labels: Annotated[
        Path | None,
        typer.Option(help="labels.csv of a generated extract: anomaly precision/recall."),
    ] = None,
    db_url: DbUrl = None,
) -> None:
    """Print how good the detectors and the model are: precision/recall, AUC, Gini, KS."""
    from credit_risk.analytics import anomalies as anomaly_module
    from credit_risk.analytics import model as model_module

    warehouse = _warehouse(db_url)
    if labels is not None:
        evaluation = anomaly_module.evaluate_anomalies(warehouse, labels)
        console.print("Anomaly detection against labels.csv (and the seed's 1.5x rule)")
        console.print(anomaly_module.format_evaluation(evaluation))
    console.print("Next-month high-risk model, out of time")
    console.print(model_module.format_evaluation(model_module.evaluate_model(warehouse)))


@app.command("create-users")
@_reported
def create_users(
    loader_password: Annotated[
        str,
        typer.Option(
            envvar="CREDIT_RISK_LOADER_PASSWORD",
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            help="The loader's new password (asked when not in the environment).",
        ),
    ],
    dashboard_password: Annotated[
        str,
        typer.Option(
            envvar="CREDIT_RISK_DASHBOARD_PASSWORD",
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            help="The dashboard user's new password.",
        ),
    ],
    db_url: Annotated[
        str | None,
        typer.Option(
            "--db-url",
            envvar="CREDIT_RISK_ADMIN_DB_URL",
            help="The warehouse as an administrator who may create users and grant.",
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="Where the users may connect from.")] = "%",
    loader_user: Annotated[str, typer.Option(help="The loader's name.")] = "credit_risk_loader",
    dashboard_user: Annotated[
        str, typer.Option(help="The dashboard user's name.")
    ] = "credit_risk_dashboard",
) -> None:
    """Create the loader (rights on the warehouse schema only) and the dashboard's read-only
    user, or set new passwords for them (rotation). Run as a database administrator."""
    from credit_risk.warehouse.users import create_users as create

    try:
        created = create(
            _warehouse(db_url),
            loader_password,
            dashboard_password,
            host=host,
            loader_user=loader_user,
            dashboard_user=dashboard_user,
        )
    except ValueError as error:
        raise typer.BadParameter(str(error)) from error
    from credit_risk.catalog import WAREHOUSE_CONN_ID

    console.print(
        f"loader:    {created.loader_url}  (DAG: connection {WAREHOUSE_CONN_ID}; CLI: "
        f"CREDIT_RISK_DB_URL)\n"
        f"dashboard: {created.dashboard_url}  (connection credit_risk_dashboard or "
        f"CREDIT_RISK_DASHBOARD_DB_URL; SELECT on {created.granted_tables} published objects)"
    )


@app.command()
@_reported
def dashboard(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8050,
    db_url: Annotated[
        str | None,
        typer.Option(
            "--db-url",
            envvar="CREDIT_RISK_DASHBOARD_DB_URL",
            help="Read-only warehouse URL (default: CREDIT_RISK_DB_URL).",
        ),
    ] = None,
) -> None:
    """Serve the executive dashboard standalone (no Airflow needed)."""
    from credit_risk.dashboard import serve

    _warehouse(db_url)  # a URL of the wrong kind is one line now, not a traceback per request
    console.print(f"dashboard on http://{host}:{port}/")
    serve(host=host, port=port, db_url=db_url)


def console_script() -> None:
    """The ``credit-risk`` console script: the app, then a quick exit.

    Why: a command ends with hundreds of megabytes of frames and every imported module still
    alive, and the interpreter's shutdown runs the cyclic garbage collector over all of it
    (0.15 s of a 3 s ``credit-risk load``, ``benchmarks/load_benchmark.py``). ``gc.freeze``
    takes the live objects out of the collector's view; reference counting still frees them
    and their finalizers still run.
    """
    import gc

    try:
        app()
    finally:
        gc.freeze()
