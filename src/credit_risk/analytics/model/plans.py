"""A month's scoring between its steps: the plan the training step leaves for the shards, and
the shards' scores waiting to be recorded.

Why a plan in the warehouse: the DAG trains once per month (``train_model``), scores the
customers in shards on any worker (``score_shard``, mapped), and records the run once every
shard is in (``record_scores``). The champion and the run's measurements must reach tasks that
run in other processes, on other machines, possibly after a retry or a Clear; XCom is for small
values, and the warehouse already keeps the stored champions (``model_artifacts``).
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass

import pandas as pd

from credit_risk.analytics.features import KEY
from credit_risk.analytics.model.runs import ModelRun
from credit_risk.shards import Shard
from credit_risk.warehouse.db import Warehouse, connect
from credit_risk.warehouse.schema import create_tables

PLAN_TABLES = ("model_scoring_plans", "high_risk_prediction_shards")
"""The tables of this module, each created from ``include/sql/analytics/<name>.sql``."""


class ScoringIncompleteError(RuntimeError):
    """The month's shards have not all written their scores (or wrote them for another plan)."""


@dataclass
class ScoringPlan:
    """What the training step decided for a month: the run as it will be recorded (its
    scoring figures still missing), the champion's decision threshold, and how many customers
    the shards must score (the month's statements)."""

    run: ModelRun
    threshold: float | None = None

    @property
    def month(self) -> str:
        return self.run.month

    @property
    def customers(self) -> int:
        return self.run.n_scored

    @property
    def model(self):
        """The champion the shards score with (trained for the month, or the stored one)."""
        if self.run.model is not None:
            return self.run.model
        return None if self.run.reused is None else self.run.reused.model


def ensure_plan_tables(cursor) -> None:
    """Create the tables when missing (DDL: call it before a transaction starts)."""
    create_tables(cursor, PLAN_TABLES)


def save_plan(cursor, plan: ScoringPlan) -> None:
    """Replace the month's plan and clear its shards' scores (inside the caller's
    transaction): shards of an earlier plan, or of another shard count, never mix in."""
    cursor.execute("delete from high_risk_prediction_shards where month = %s", (plan.month,))
    cursor.execute(
        "insert into model_scoring_plans "
        "(scored_month, run_status, model_version, customers_to_score, pickled_plan) "
        "values (%s, %s, %s, %s, %s) on duplicate key update "
        "run_status = values(run_status), model_version = values(model_version), "
        "customers_to_score = values(customers_to_score), "
        "pickled_plan = values(pickled_plan), created_at = current_timestamp(6)",
        (
            plan.month,
            plan.run.status,
            plan.run.model_version,
            plan.customers,
            pickle.dumps(plan, protocol=pickle.HIGHEST_PROTOCOL),
        ),
    )


def load_plan(warehouse: Warehouse, month: str) -> ScoringPlan:
    """The month's plan.

    Raises:
        ScoringIncompleteError: no plan: the training step has not run for the month.
    """
    with connect(warehouse) as conn:
        cursor = conn.cursor()
        ensure_plan_tables(cursor)
        cursor.execute(
            "select pickled_plan from model_scoring_plans where scored_month = %s", (month,)
        )
        row = cursor.fetchone()
    if row is None:
        raise ScoringIncompleteError(
            f"no scoring plan for {month}: run its training step (train_model) first"
        )
    return pickle.loads(row[0])  # written only by save_plan, into our own warehouse


def write_shard_scores(
    warehouse: Warehouse, plan: ScoringPlan, shard: Shard, scores: pd.DataFrame
) -> None:
    """Replace the shard's rows of the month with ``scores`` (``customer_id``,
    ``probability``, ``is_predicted_high_risk``), in one transaction: a rerun of the shard
    gives the same rows. (After :func:`load_plan`, which created the tables.)"""
    values = [
        (
            plan.month,
            shard.index,
            shard.count,
            row.customer_id,
            float(row.probability),
            bool(row.is_predicted_high_risk),
            plan.run.model_version,
        )
        for row in scores.itertuples(index=False)
    ]
    with connect(warehouse) as conn:
        cursor = conn.cursor()
        cursor.execute(
            "delete from high_risk_prediction_shards "
            "where month = %s and shard_count = %s and shard_index = %s",
            (plan.month, shard.count, shard.index),
        )
        if values:
            cursor.executemany(
                "insert into high_risk_prediction_shards (month, shard_index, shard_count, "
                "customer_id, probability, is_predicted_high_risk, model_version) "
                "values (%s, %s, %s, %s, %s, %s, %s)",
                values,
            )
        conn.commit()


def read_shard_scores(warehouse: Warehouse, plan: ScoringPlan) -> pd.DataFrame:
    """Every shard's scores of the month, as rows of ``high_risk_predictions`` in customer
    order (after :func:`load_plan`, which created the tables).

    Raises:
        ScoringIncompleteError: fewer (or more) rows than the plan's customers, or rows of
            another model version: a shard has not run since the month was planned.
    """
    with connect(warehouse) as conn:
        cursor = conn.cursor()
        cursor.execute(
            "select customer_id, probability, is_predicted_high_risk, model_version, "
            "shard_index, shard_count from high_risk_prediction_shards where month = %s "
            "order by customer_id",
            (plan.month,),
        )
        columns = [column[0] for column in cursor.description]
        rows = pd.DataFrame(cursor.fetchall(), columns=columns)
    pairs = rows[["shard_index", "shard_count"]].drop_duplicates()
    pairs = pairs.sort_values(["shard_count", "shard_index"])
    shards_in = [(int(i), int(n)) for i, n in pairs.itertuples(index=False)]
    versions = set(rows["model_version"])
    if len(rows) != plan.customers or versions - {plan.run.model_version}:
        written = ", ".join(f"{i + 1}/{n}" for i, n in shards_in) or "none"
        raise ScoringIncompleteError(
            f"{plan.month}: the shards wrote {len(rows)} scores of {plan.customers} "
            f"(shards written: {written}; model versions {sorted(versions)}, planned "
            f"{plan.run.model_version}): run every shard of the month's scoring again"
        )
    rows["month"] = plan.month
    rows["probability"] = rows["probability"].astype(float)
    rows["is_predicted_high_risk"] = rows["is_predicted_high_risk"].astype(bool)
    return rows[[*KEY, "probability", "is_predicted_high_risk", "model_version"]]


__all__ = [
    "PLAN_TABLES",
    "ScoringIncompleteError",
    "ScoringPlan",
    "ensure_plan_tables",
    "load_plan",
    "read_shard_scores",
    "save_plan",
    "write_shard_scores",
]
