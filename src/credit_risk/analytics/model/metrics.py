"""The model's measures, as pure functions of labels and scores: AUC, Gini, KS, the
population stability index and the F1-best threshold (what a risk committee reads)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from sklearn.metrics import precision_recall_curve, roc_auc_score, roc_curve

PSI_EPSILON = 0.0001
"""Stand-in share of an empty bucket, as in the published suite's utilization PSI."""

SCORE_EDGES = np.linspace(0.1, 0.9, 9)
"""Inner edges of the score buckets: ten probability deciles of fixed width."""

UTILIZATION_EDGES = np.arange(0.0, 101.0, 10.0)
"""Inner edges of the utilization buckets (percent): below 0, 0-10, ..., 90-100, 100 and up —
the buckets of the published suite's utilization PSI, so both report the same number."""


# --- pure metrics --------------------------------------------------------------------------------


def auc_score(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC, NaN when only one class is present (it is undefined, not 0.5)."""
    labels = np.asarray(labels)
    if labels.size == 0 or np.unique(labels).size < 2:
        return math.nan
    return float(roc_auc_score(labels, scores))


def gini(auc: float) -> float:
    """Gini coefficient (accuracy ratio) of a score: 2 * AUC - 1."""
    return 2.0 * auc - 1.0


def ks_statistic(labels: np.ndarray, scores: np.ndarray) -> float:
    """Kolmogorov-Smirnov: largest gap between the score CDFs of positives and negatives."""
    labels = np.asarray(labels)
    if labels.size == 0 or np.unique(labels).size < 2:
        return math.nan
    fpr, tpr, _ = roc_curve(labels, scores)
    return float(np.max(tpr - fpr))


def population_stability_index(
    expected: Sequence[float] | np.ndarray,
    actual: Sequence[float] | np.ndarray,
    edges: Sequence[float] | np.ndarray,
    epsilon: float = PSI_EPSILON,
) -> float:
    """PSI = sum((actual% - expected%) * ln(actual% / expected%)) over fixed buckets.

    Fixed buckets (rather than quantiles of the expected sample) keep the number comparable
    from month to month and equal to the published suite's utilization PSI.

    Args:
        expected: The reference sample (the previous month).
        actual: The sample to compare (this month).
        edges: Inner bucket edges, ascending; a value equal to an edge falls in the upper bucket.
        epsilon: Share given to an empty bucket so the logarithm stays finite.

    Returns:
        The index (0 is identical; above 0.25 is usually called a significant shift), or NaN
        when either sample is empty.
    """
    expected_shares = _bucket_shares(expected, edges)
    actual_shares = _bucket_shares(actual, edges)
    if expected_shares is None or actual_shares is None:
        return math.nan
    expected_shares = np.maximum(expected_shares, epsilon)
    actual_shares = np.maximum(actual_shares, epsilon)
    terms = (actual_shares - expected_shares) * np.log(actual_shares / expected_shares)
    return float(terms.sum())


def _bucket_shares(values: Sequence[float] | np.ndarray, edges: Sequence[float] | np.ndarray):
    """Share of the non-missing ``values`` in each bucket, or None when there are none."""
    array = np.asarray(values, dtype=float)
    array = array[~np.isnan(array)]
    if array.size == 0:
        return None
    edges = np.asarray(edges, dtype=float)
    buckets = np.searchsorted(edges, array, side="right")
    return np.bincount(buckets, minlength=edges.size + 1) / array.size


def best_f1_threshold(labels: np.ndarray, scores: np.ndarray) -> float:
    """The probability cut maximizing F1 (0.5 when F1 is undefined, e.g. no positives)."""
    labels = np.asarray(labels)
    if labels.size == 0 or labels.sum() == 0:
        return 0.5
    precision, recall, thresholds = precision_recall_curve(labels, scores)
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    # The last precision/recall pair has no threshold (it is the "predict nothing" point).
    return float(thresholds[int(np.argmax(f1[:-1]))])
