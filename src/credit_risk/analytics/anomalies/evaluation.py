"""How good the detectors are against a ground truth (``labels.csv`` of the synthetic sources):
precision, recall and F1 of each detector, of their combination and of the seed's Power BI
rule (spend > 1.5 x the 6-month average, the month included), on the same eligible months.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from credit_risk.analytics.anomalies.baselines import KEY
from credit_risk.analytics.anomalies.detectors import DETECTORS

COMBINED = "combined"
SEED_RULE = "seed_rule_1_5x"
SEED_RULE_MULTIPLE = 1.5


def seed_rule(frame: pd.DataFrame) -> pd.Series:
    """The seed's Power BI rule: spend > 1.5 x the 6-month average, the month itself included.

    ``rolling_6_month_avg`` is the published column: the mean of the months m-5..m that lie in
    the customer's history, so the rule reproduces the seed report exactly.
    """
    average = frame["rolling_6_month_avg"].astype(float)
    return frame["monthly_spend"].astype(float) > SEED_RULE_MULTIPLE * average


# --- evaluation against labels ---------------------------------------------------------------


def evaluation_table(scored: pd.DataFrame, labels: pd.DataFrame, min_history: int) -> pd.DataFrame:
    """Precision, recall and F1 of each detector, the combination and the seed's rule.

    Every rule is scored on the same customer-months: those with at least ``min_history``
    prior months (the seed's rule included, although it would flag newer customers too).
    A detector's precision counts any labelled month as a hit, its recall every label.

    Args:
        scored: Output of :func:`score_customer_months` (with ``rolling_6_month_avg``).
        labels: ``customer_id``, ``month``, ``anomaly_type`` (labels.csv); several rows of one
            customer-month count once.
        min_history: Prior months that make a customer-month eligible.

    Returns:
        One row per rule: ``rule``, ``flagged``, ``true_positives``, ``precision``, ``recall``,
        ``f1``, then ``recall_<anomaly_type>`` for each type in the labels, and
        ``december_normal_flagged`` (share of unlabelled Decembers flagged).
    """
    eligible = scored[scored["history_months"] >= min_history].copy()
    truth = labels.drop_duplicates(KEY).merge(eligible[KEY], on=KEY, how="inner")
    eligible = eligible.merge(truth, on=KEY, how="left")
    actual = eligible["anomaly_type"].notna()
    rules = {name: eligible[name] for name in DETECTORS}
    rules[COMBINED] = eligible["is_anomaly"]
    rules[SEED_RULE] = seed_rule(eligible)
    types = sorted(truth["anomaly_type"].unique())
    rows = [
        _metrics(name, flags.astype(bool), actual, eligible, types) for name, flags in rules.items()
    ]
    return pd.DataFrame(rows)


def _metrics(
    name: str, flagged: pd.Series, actual: pd.Series, frame: pd.DataFrame, types: list[str]
) -> dict[str, Any]:
    """Counts and ratios of one rule (ratios are NaN when undefined)."""
    hits = int((flagged & actual).sum())
    precision = hits / flagged.sum() if flagged.sum() else float("nan")
    recall = hits / actual.sum() if actual.sum() else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
    row: dict[str, Any] = {
        "rule": name,
        "flagged": int(flagged.sum()),
        "true_positives": hits,
        "precision": precision,
        "recall": recall,
        "f1": f1,
    }
    for kind in types:
        of_kind = frame["anomaly_type"] == kind
        row[f"recall_{kind}"] = (flagged & of_kind).sum() / of_kind.sum()
    december = frame["month"].astype(str).str.endswith("-12") & ~actual
    row["december_normal_flagged"] = (
        (flagged & december).sum() / december.sum() if december.any() else float("nan")
    )
    return row


def format_evaluation(frame: pd.DataFrame) -> str:
    """The evaluation as a fixed-width text table, ratios with three decimals."""
    shown = frame.copy()
    for column in shown.columns:
        if column in ("precision", "recall", "f1", "december_normal_flagged") or column.startswith(
            "recall_"
        ):
            shown[column] = shown[column].map(lambda v: "-" if pd.isna(v) else f"{v:.3f}")
    return shown.to_string(index=False)


def read_labels(path: Path) -> pd.DataFrame:
    """labels.csv as written by the generators (all text)."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)
