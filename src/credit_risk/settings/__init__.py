"""The pipeline's knobs, read from ``CREDIT_RISK_*`` environment variables.

Why pydantic-settings: the same values must be seen by the CLI, the Airflow tasks and the tests,
and each must be overridable by an operator without touching code. Every settings class of the
project lives in this package (light: pydantic only): :class:`Settings` here (read once per
process), and, read each time a job runs, ``settings.anomalies.AnomalySettings``
(``CREDIT_RISK_ANOMALY_*``), ``settings.model.ModelSettings`` (``CREDIT_RISK_MODEL_*``) and
``settings.alerts.AlertSettings`` / ``DeadlineSettings`` (``CREDIT_RISK_ALERT_*``,
``CREDIT_RISK_REFRESH_DEADLINE_HOURS``). The modules they configure import them from here.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[3]
"""The repository root when installed in editable mode (``pip install -e .``)."""

SQL_DIR = Path(__file__).parents[1] / "sql"
"""The SQL files, one per table, model and view. In the repository ``credit_risk/sql`` is a link
to ``include/sql`` (where the files are kept and linted); a wheel carries a copy as package
data, so the package finds its SQL wherever it is installed (editable, wheel, Docker image)."""

REALISTIC_GENERATED_MONTHS = 120
"""Default span of generated realistic data: ten years from generate_start, generated once
(about 6 s and 75 MB at 2,000 customers), so every month a scheduled run asks for is there."""
LEGACY_GENERATED_MONTHS = 12
"""The seed's own span (its 1,200 rows are 100 customers x 12 months)."""


class Settings(BaseSettings):
    """Runtime configuration; each field maps to ``CREDIT_RISK_<FIELD>``."""

    # an empty variable means "the default" (compose passes ${VAR:-} for optional ones)
    model_config = SettingsConfigDict(
        env_prefix="CREDIT_RISK_", env_ignore_empty=True, extra="ignore"
    )

    db_url: str = Field(
        default="mysql://root@127.0.0.1:3306/credit_risk",
        description="Warehouse URL used outside Airflow. The database is created if missing.",
    )
    high_risk_ratio: float = Field(
        default=0.80,
        gt=0,
        le=10,
        description="Balance / limit at or above which a statement is High Risk.",
    )
    medium_risk_ratio: float = Field(
        default=0.50,
        gt=0,
        le=10,
        description="Balance / limit at or above which (below high) a statement is Medium Risk.",
    )
    data_dir: Path = Field(
        default=PROJECT_ROOT / "data",
        description="Where generated extracts and per-month drops are written.",
    )
    source: str = Field(
        default="",
        description=(
            "Extract the DAG loads, with {month} replaced by the run's YYYY-MM. "
            "Empty means: generate the data (see generate_profile)."
        ),
    )
    generate_profile: str = Field(default="realistic", pattern="^(legacy|realistic)$")
    generate_customers: int = Field(default=2000, gt=0)
    generate_months: int | None = Field(
        default=None,
        gt=0,
        description="Months of generated data from generate_start. Default: realistic 120 "
        "(2024-01 to 2033-12: every month the scheduler asks for, so unpausing the DAG works "
        "out of the box; the months a run does not load are never read), legacy 12 (the seed).",
    )
    generate_start: str = Field(default="2024-01", pattern=r"^\d{4}-(0[1-9]|1[0-2])$")
    generate_seed: int = 42
    generate_transactions_per_month: float | None = Field(
        default=None,
        gt=0,
        le=1000,
        description="Realistic profile: the mean card transactions a customer attempts in a "
        "month, before seasonality and declines (the portfolio's density). Empty: the "
        "generator's default.",
    )

    analytics_queue: str = Field(
        default="",
        pattern=r"^[A-Za-z0-9_.-]*$",
        description="Celery queue of the DAG's analytics tasks (detect_anomalies, train_model, "
        "score_shard, record_scores), so that workers with more memory can take them alone "
        "(start them with `airflow celery worker --queues <it>`). Empty: Airflow's default "
        "queue.",
    )
    shards: int = Field(
        default=1,
        ge=1,
        le=256,
        description="Customer shards the DAG's per-customer scoring fans out over: one mapped "
        "score_shard task per shard and month, each on any worker (the model is trained once "
        "per month, before them). 1 on one machine; about the workers' total concurrency on "
        "several. No result depends on it.",
    )

    earliest_month: str = Field(
        default="2000-01",
        pattern=r"^\d{4}-(0[1-9]|1[0-2])$",
        description="No statement or transaction dated before this month is loaded (quarantined "
        "as month_out_of_range), nor any dated after the month the load runs in.",
    )

    @property
    def generated_months(self) -> int:
        """``generate_months``, or the profile's default span."""
        if self.generate_months is not None:
            return self.generate_months
        return (
            LEGACY_GENERATED_MONTHS
            if self.generate_profile == "legacy"
            else REALISTIC_GENERATED_MONTHS
        )

    quarantine_ceiling: float = Field(
        default=0.01,
        ge=0,
        le=1,
        description="Largest share of a month's input rows that may be bad (quarantined) before "
        "the input and loaded suites fail.",
    )
    unknown_share_ceiling: float = Field(
        default=0.05, ge=0, le=1, description="Largest share of a month's statements in Unknown."
    )
    high_risk_share_max_shift: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="Largest move of the High Risk share against the previous published month "
        "that needs no explanation; a month fails beyond it, or beyond what sampling noise "
        "explains on a small portfolio, whichever is more.",
    )
    utilization_psi_max: float = Field(
        default=0.25,
        gt=0,
        description="Largest population stability index of utilization against the previous "
        "published month (or what sampling noise explains, whichever is more).",
    )
    distribution_false_alarm_rate: float = Field(
        default=0.01,
        gt=0,
        lt=0.5,
        description="Share of unchanged months the distribution checks may fail by sampling "
        "noise alone: it sets their noise bounds (two-proportion z-test on the High Risk "
        "share, chi-square bound on the utilization PSI), at every portfolio size.",
    )
    shift_approval_hours: float = Field(
        default=48,
        ge=0,
        description="When a month fails only its distribution checks (the High Risk share or "
        "the utilization mix moved: a real shift, or a broken extract whose rows are each "
        "valid), the DAG waits this long for on-call to approve it with a reason, or reject it, "
        "in the Airflow UI; no decision in time rejects it. 0: no approval step, such a month "
        "fails its gate like any other. Row-level failures can never be approved.",
    )
    max_abs_amount: float = Field(
        default=1_000_000, gt=0, description="Largest plausible transaction amount (absolute)."
    )
    min_credit_limit: float = Field(default=100, gt=0, description="Smallest plausible limit.")
    max_credit_limit: float = Field(
        default=5_000_000, gt=0, description="Largest plausible credit limit."
    )
    build_temp_table_mb: int = Field(
        default=512,
        ge=16,
        description="Memory (MB) each in-memory temporary table of the snapshot build may use "
        "before the server moves it to disk. The build groups and joins whole tables; at the "
        "servers' default of 16 MB they spill to disk and the build takes about 3x as long.",
    )
    refresh_wait_minutes: float = Field(
        default=30,
        ge=0,
        description="How long a DAG run's build waits for a month its windows read that another "
        "run is still loading or validating (a parallel backfill), before it fails.",
    )
    data_docs_dir: Path = Field(
        default=PROJECT_ROOT / "data" / "data_docs",
        description="The Data Docs site every validation writes into (its index lists them all).",
    )
    data_docs_keep_days: float = Field(
        default=400,
        ge=0,
        description="Days a validation's results and page stay in the Data Docs site (0: for "
        "ever); validation_runs keeps every verdict regardless.",
    )

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> Settings:
        if self.medium_risk_ratio >= self.high_risk_ratio:
            raise ValueError(
                "CREDIT_RISK_MEDIUM_RISK_RATIO must be below CREDIT_RISK_HIGH_RISK_RATIO "
                f"(got {self.medium_risk_ratio} and {self.high_risk_ratio})"
            )
        return self


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (cached; tests clear the cache after changing the env)."""
    return Settings()
