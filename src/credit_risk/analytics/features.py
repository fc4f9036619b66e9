"""Features and labels for next-month high-risk prediction, from the published snapshot only.

Why only the published tables: they are what readers (and auditors) see, validated by the
published gate. A model fed from the raw load could learn from rows the gate would have refused,
and its scores could not be explained with the figures on the dashboard.

Why "this month and earlier" is enforced by construction: every feature of month ``m`` is a
function of rows ``m, m-1, ..., m-5`` of the same customer (calendar lags on a gap-free month
grid, never a forward shift), so a model trained on past months cannot see the month it
predicts. The label of ``m`` is the only thing that reads ``m + 1``; the unit tests change
month ``m + 1`` and check that the features of ``m`` stay the same.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from credit_risk.months import parse_month
from credit_risk.settings import get_settings
from credit_risk.shards import Shard
from credit_risk.warehouse.db import Warehouse
from credit_risk.warehouse.frames import read_frame

KEY = ["customer_id", "month"]
LABEL = "label"


def high_risk_pct(value: float | None = None) -> float:
    """Utilization (percent of the limit) from which a statement is High Risk: ``value``, or
    the one rule the views, the published suite and the dashboard use
    (``CREDIT_RISK_HIGH_RISK_RATIO``, written to ``risk_thresholds`` by the build)."""
    return get_settings().high_risk_ratio * 100 if value is None else value


SERIOUS_DELINQUENCY_DPD = 30
"""Days past due from which a customer is a full cycle behind (the card is frozen)."""

CUSTOMER_MONTH_COLUMNS = [
    "customer_id",
    "month",
    "monthly_spend",
    "rolling_3_month_avg",
    "rolling_6_month_avg",
    "credit_limit",
    "outstanding_balance",
    "utilization_pct",
    "payment_amount",
    "minimum_due",
    "days_past_due",
    "has_statement",
]
TRANSACTION_COLUMNS = ["customer_id", "month", "transaction_amount", "transaction_type"]
TOTAL_COLUMNS = ["txn_count", "cash_count", "cash_amount", "charge_amount"]
_MONEY = {
    "monthly_spend",
    "rolling_3_month_avg",
    "rolling_6_month_avg",
    "credit_limit",
    "outstanding_balance",
    "utilization_pct",
    "payment_amount",
    "minimum_due",
    "cash_advance_amount",
    "charge_amount",
}


def as_double(columns) -> str:
    """A select list that sends money as doubles: pandas then gets float64 columns instead of
    a Python ``Decimal`` per value (about 12 times the memory, and slow to convert)."""
    return ", ".join(
        f"cast({column} as double) as {column}" if column in _MONEY else column
        for column in columns
    )


FULL, PARTIAL, MINIMUM, MISSED = 0, 1, 2, 3
"""Ordinal payment behaviour read back from the statements (0 is best, 3 is a missed minimum)."""

FEATURES: list[str] = [
    # how much of the limit is used, and where it is heading
    "utilization",
    "utilization_change_1m",
    "utilization_change_3m",
    "utilization_mean_3m",
    "months_high_utilization_6m",
    # spending: its size against the limit and against the customer's own habit
    "spend_to_limit",
    "spend_vs_3m_avg",
    "spend_vs_6m_avg",
    "transaction_count",
    # payments against what was owed on the previous statement
    "payment_to_minimum",
    "payment_to_balance",
    "payment_behaviour",
    "payment_behaviour_mean_3m",
    "missed_payments_6m",
    # delinquency history
    "days_past_due",
    "max_days_past_due_6m",
    "months_delinquent_3m",
    "months_delinquent_6m",
    # cash advances: the classic sign of a customer short of cash
    "cash_advance_count",
    "cash_advance_to_limit",
    "cash_advance_share",
    "cash_advance_months_3m",
    # context
    "log_credit_limit",
    "history_months",
]
"""Model inputs, in the order the models see them (also recorded with every training run)."""


_TOTALS_FROM_CUSTOMER_MONTH = {
    "transaction_count": "txn_count",
    "cash_advance_count": "cash_count",
    "cash_advance_amount": "cash_amount",
    "charge_amount": "charge_amount",
}
"""The month's transaction totals, as the build stored them in ``published_customer_month``
(column there -> name here): a model run reads one row per customer-month, never the
transactions of its window."""


def load_published(
    warehouse: Warehouse,
    first: str | None = None,
    last: str | None = None,
    shard: Shard | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """Read the published months ``first`` .. ``last`` (all when None), only what the features
    need, of every customer or of one ``shard`` of them (the server filters).

    Returns:
        ``(customer_months, totals, prior_statements)``: the customer-months, their transaction
        totals (see :func:`transaction_totals`), and each customer's statement months before
        ``first`` (so ``history_months`` counts the whole history without reading it).
    """
    first, last = first or "0000-01", last or "9999-12"
    customers = (shard or Shard(0, 1)).sql()
    engine = warehouse.engine(temp_table_mb=get_settings().build_temp_table_mb)
    try:
        with engine.connect() as conn:
            customer_months = read_frame(
                conn,
                f"select {as_double([*CUSTOMER_MONTH_COLUMNS, *_TOTALS_FROM_CUSTOMER_MONTH])} "
                "from published_customer_month "
                f"where month between :first and :last and {customers}",
                {"first": first, "last": last},
            )
            prior = read_frame(
                conn,
                "select customer_id, count(*) as statements from published_customer_month "
                f"where month < :first and has_statement and {customers} group by customer_id",
                {"first": first},
            )
    finally:
        engine.dispose()
    totals = customer_months[[*KEY, *_TOTALS_FROM_CUSTOMER_MONTH]].rename(
        columns=_TOTALS_FROM_CUSTOMER_MONTH
    )
    totals[TOTAL_COLUMNS] = totals[TOTAL_COLUMNS].astype(float)
    customer_months = customer_months[CUSTOMER_MONTH_COLUMNS]
    return customer_months, totals, prior.set_index("customer_id")["statements"].astype(float)


def transaction_totals(transactions: pd.DataFrame) -> pd.DataFrame:
    """Per customer-month: transaction count, cash advances (count, amount), charges.

    Args:
        transactions: Rows shaped like ``published_transactions`` (``TRANSACTION_COLUMNS``).
    """
    kind = transactions["transaction_type"].astype(str)
    amount = pd.to_numeric(transactions["transaction_amount"], errors="coerce").astype(float)
    is_cash = (kind == "cash_advance").to_numpy()
    is_charge = is_cash | (kind == "purchase").to_numpy()
    return (
        pd.DataFrame(
            {
                "customer_id": transactions["customer_id"].to_numpy(),
                "month": transactions["month"].astype(str).to_numpy(),
                "txn_count": 1.0,
                "cash_count": is_cash.astype(float),
                "cash_amount": np.where(is_cash, amount, 0.0),
                "charge_amount": np.where(is_charge, amount, 0.0),
            }
        )
        .groupby(KEY, as_index=False)
        .sum()
    )


def load_history(
    warehouse: Warehouse,
    high_risk: float | None = None,
    *,
    first_month: str | None = None,
    last_month: str | None = None,
    shard: Shard | None = None,
) -> pd.DataFrame:
    """Features and next-month label of every published customer-month with a statement (of
    one ``shard`` of the customers: a customer's features read only their own rows).

    Args:
        warehouse: Where the published data is.
        high_risk: Utilization (percent) that counts as High Risk in the label and the
            features (the project's rule, :func:`high_risk_pct`, when None).
        first_month / last_month: Read only these months (all when None). The features of a
            month read the 5 months before it: rows before ``first_month + 5`` have shortened
            windows, so callers read 5 months more than they use.

    Returns:
        One row per customer-month: ``KEY``, ``FEATURES``, ``utilization_pct`` (for stability
        monitoring) and ``label`` (NaN where the next month is not published yet).
    """
    customer_months, totals, prior = load_published(warehouse, first_month, last_month, shard)
    features = build_features(
        customer_months, totals=totals, prior_statements=prior, high_risk=high_risk
    )
    labels = customer_months[KEY].assign(
        **{LABEL: label_next_month(customer_months, high_risk).to_numpy()}
    )
    utilization = customer_months[[*KEY, "utilization_pct"]].astype({"utilization_pct": float})
    return features.merge(utilization, on=KEY, how="left").merge(labels, on=KEY, how="left")


def build_features(
    customer_months: pd.DataFrame,
    transactions: pd.DataFrame | None = None,
    *,
    totals: pd.DataFrame | None = None,
    prior_statements: pd.Series | None = None,
    high_risk: float | None = None,
) -> pd.DataFrame:
    """One row of ``FEATURES`` per customer-month with a statement, from that month and earlier.

    Pure: no database, no clock. Months are calendar months: a customer-month missing from the
    input counts as a month without a statement, so a gap never turns "3 months ago" into
    "3 rows ago".

    Args:
        customer_months: Rows shaped like ``published_customer_month`` (``CUSTOMER_MONTH_COLUMNS``).
        transactions: Rows shaped like ``published_transactions`` (``TRANSACTION_COLUMNS``), or
            instead ``totals``: their :func:`transaction_totals`.
        prior_statements: Statement months of each customer before the first month given
            (``history_months`` counts from there); none when omitted.
        high_risk: Utilization (percent) of a High Risk month (:func:`high_risk_pct`).

    Returns:
        ``KEY`` + ``FEATURES``, sorted by customer and month. Features that need history the
        customer does not have yet (a first statement has no previous minimum due) are NaN.
    """
    if totals is None:
        totals = transaction_totals(transactions)
    grid = _month_grid(customer_months)
    grid = _with_transaction_totals(grid, totals)
    features = pd.concat(
        [
            grid[KEY],
            _utilization_features(grid, high_risk_pct(high_risk)),
            _spend_features(grid),
            _payment_features(grid),
            _delinquency_features(grid),
            _cash_advance_features(grid),
            _context_features(grid, prior_statements),
        ],
        axis=1,
    )
    statement_rows = grid["has_statement"].to_numpy(dtype=bool)
    return features.loc[statement_rows, [*KEY, *FEATURES]].reset_index(drop=True)


def label_next_month(
    customer_months: pd.DataFrame,
    high_risk: float | None = None,
    dpd_threshold: int = SERIOUS_DELINQUENCY_DPD,
) -> pd.Series:
    """1.0 when the customer is High Risk or ``dpd_threshold``+ days past due the month after.

    Reads only the calendar month after each row: that is the whole point of a label, and the
    only place in this module where a later month is looked at.

    Args:
        customer_months: Rows with ``customer_id``, ``month``, ``utilization_pct``,
            ``days_past_due`` and ``has_statement``.
        high_risk: Utilization (percent of the limit) from which a statement is High Risk
            (the project's rule, :func:`high_risk_pct`, when None).
        dpd_threshold: Days past due that count as seriously delinquent.

    Returns:
        A float series aligned with ``customer_months`` (same index): 1.0, 0.0, or NaN when
        the next month has no statement in the input (not published yet, or account gone) or
        its outcome is unknown (no utilization and not delinquent).
    """
    rows = customer_months.assign(month_index=_month_index(customer_months["month"]))
    outcome = _outcome(rows, high_risk_pct(high_risk), dpd_threshold)
    lookup = pd.Series(
        outcome.to_numpy(),
        index=pd.MultiIndex.from_arrays([rows["customer_id"], rows["month_index"]]),
    )
    lookup = lookup[~lookup.index.duplicated()]
    following = pd.MultiIndex.from_arrays([rows["customer_id"], rows["month_index"] + 1])
    return pd.Series(
        lookup.reindex(following).to_numpy(dtype=float), index=customer_months.index, name=LABEL
    )


def _outcome(rows: pd.DataFrame, high_risk: float, dpd_threshold: int) -> pd.Series:
    """The event at each row itself: 1.0 High Risk or delinquent, 0.0 neither, NaN unknown."""
    utilization = pd.to_numeric(rows["utilization_pct"], errors="coerce").astype(float)
    dpd = pd.to_numeric(rows["days_past_due"], errors="coerce").astype(float)
    has_statement = rows["has_statement"].fillna(False).astype(bool)
    event = (utilization >= high_risk) | (dpd >= dpd_threshold)
    known = event | (utilization.notna() & dpd.notna())
    return event.astype(float).where(known & has_statement)


def _month_index(months: pd.Series) -> pd.Series:
    """'YYYY-MM' as a month count, so that m + 1 is the next calendar month."""
    parts = months.astype(str).map(parse_month)
    return parts.map(lambda part: part[0] * 12 + part[1] - 1).astype("int64")


def _month_name(index: np.ndarray) -> np.ndarray:
    """Inverse of :func:`_month_index`."""
    return np.array([f"{value // 12:04d}-{value % 12 + 1:02d}" for value in index], dtype=object)


def _month_grid(customer_months: pd.DataFrame) -> pd.DataFrame:
    """Every calendar month between a customer's first and last row, in customer-month order.

    Missing months become rows without a statement, so a shift by k within a customer is a lag
    of exactly k calendar months.
    """
    rows = customer_months[CUSTOMER_MONTH_COLUMNS].copy()
    rows["month_index"] = _month_index(rows["month"])
    rows = rows.drop(columns="month").drop_duplicates(["customer_id", "month_index"])
    span = rows.groupby("customer_id", sort=True)["month_index"].agg(["min", "max"])
    lengths = (span["max"] - span["min"] + 1).to_numpy()
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    offsets = np.arange(lengths.sum()) - starts
    grid = pd.DataFrame(
        {
            "customer_id": np.repeat(span.index.to_numpy(), lengths),
            "month_index": np.repeat(span["min"].to_numpy(), lengths) + offsets,
        }
    )
    grid = grid.merge(rows, on=["customer_id", "month_index"], how="left")
    grid.insert(1, "month", _month_name(grid["month_index"].to_numpy()))
    numeric = [c for c in CUSTOMER_MONTH_COLUMNS if c not in (*KEY, "has_statement")]
    grid[numeric] = grid[numeric].apply(pd.to_numeric, errors="coerce").astype(float)
    grid["has_statement"] = grid["has_statement"].fillna(False).astype(bool)
    return grid


def _with_transaction_totals(grid: pd.DataFrame, totals: pd.DataFrame) -> pd.DataFrame:
    """The month's transaction totals on each grid row."""
    grid = grid.merge(totals[[*KEY, *TOTAL_COLUMNS]], on=KEY, how="left")
    # A statement month without a published transaction had none; without a statement: unknown.
    grid[TOTAL_COLUMNS] = grid[TOTAL_COLUMNS].fillna(0.0).where(grid["has_statement"], np.nan)
    return grid


def _lag(grid: pd.DataFrame, values: pd.Series, months: int) -> pd.Series:
    """``values`` of ``months`` calendar months earlier, same customer (NaN before the first)."""
    return values.groupby(grid["customer_id"], sort=False).shift(months)


def _window(grid: pd.DataFrame, values: pd.Series, months: int) -> pd.DataFrame:
    """The last ``months`` calendar months of ``values``, this month first, one column each.

    Built from backward lags only, so a window can never reach past the current month.
    """
    return pd.concat([_lag(grid, values, lag) for lag in range(months)], axis=1)


def _count(grid: pd.DataFrame, flags: pd.Series, months: int) -> pd.Series:
    """Months among the last ``months`` where ``flags`` held (unknown months count as no)."""
    return _window(grid, flags.astype(float), months).sum(axis=1, min_count=1).fillna(0.0)


def _ratio(
    numerator: pd.Series, denominator: pd.Series, *, floor: float = 0.0, cap: float | None = None
) -> pd.Series:
    """numerator / denominator, NaN where the denominator is not above ``floor``.

    ``cap`` bounds the ratio on both sides: a ratio over a tiny denominator (a 3-month average
    of 2.00 after refunds) says nothing more than "much larger", and unbounded values would
    dominate the logistic baseline's scaled inputs.
    """
    ratio = numerator / denominator.where(denominator > floor)
    return ratio if cap is None else ratio.clip(-cap, cap)


def _utilization_features(grid: pd.DataFrame, high_risk: float) -> pd.DataFrame:
    """Level, 1- and 3-month trend, recent mean and persistence of utilization (as a ratio)."""
    utilization = grid["utilization_pct"] / 100.0
    high = grid["utilization_pct"] >= high_risk
    return pd.DataFrame(
        {
            "utilization": utilization,
            "utilization_change_1m": utilization - _lag(grid, utilization, 1),
            "utilization_change_3m": utilization - _lag(grid, utilization, 3),
            "utilization_mean_3m": _window(grid, utilization, 3).mean(axis=1),
            "months_high_utilization_6m": _count(grid, high, 6),
        }
    )


def _spend_features(grid: pd.DataFrame) -> pd.DataFrame:
    """Spend against the limit and against the customer's own rolling averages."""
    spend = grid["monthly_spend"]
    return pd.DataFrame(
        {
            "spend_to_limit": _ratio(spend, grid["credit_limit"]),
            "spend_vs_3m_avg": _ratio(spend, grid["rolling_3_month_avg"], floor=1.0, cap=10.0),
            "spend_vs_6m_avg": _ratio(spend, grid["rolling_6_month_avg"], floor=1.0, cap=10.0),
            "transaction_count": grid["txn_count"],
        }
    )


def _payment_behaviour(grid: pd.DataFrame) -> pd.Series:
    """FULL, PARTIAL, MINIMUM or MISSED: this month's payment against last month's statement.

    The payment on a statement settles the previous statement, so the benchmark is the previous
    balance and minimum due. NaN when nothing was owed (no behaviour to read).
    """
    paid = grid["payment_amount"]
    balance = _lag(grid, grid["outstanding_balance"], 1)
    minimum = _lag(grid, grid["minimum_due"], 1)
    owed = (balance > 0) & paid.notna()
    cent = 0.005
    behaviour = np.select(
        [paid >= balance - cent, paid < minimum - cent, paid <= minimum + cent],
        [FULL, MISSED, MINIMUM],
        PARTIAL,
    ).astype(float)
    return pd.Series(behaviour, index=grid.index).where(owed)


def _payment_features(grid: pd.DataFrame) -> pd.DataFrame:
    """Payment ratios and the behaviour they reveal, this month and recently."""
    paid = grid["payment_amount"]
    behaviour = _payment_behaviour(grid)
    return pd.DataFrame(
        {
            "payment_to_minimum": _ratio(paid, _lag(grid, grid["minimum_due"], 1), cap=100.0),
            "payment_to_balance": _ratio(
                paid, _lag(grid, grid["outstanding_balance"], 1), floor=1.0, cap=2.0
            ),
            "payment_behaviour": behaviour,
            "payment_behaviour_mean_3m": _window(grid, behaviour, 3).mean(axis=1),
            "missed_payments_6m": _count(grid, behaviour == MISSED, 6),
        }
    )


def _delinquency_features(grid: pd.DataFrame) -> pd.DataFrame:
    """Days past due now, the worst of the last 6 months, and how often the customer was late."""
    dpd = grid["days_past_due"]
    late = dpd > 0
    return pd.DataFrame(
        {
            "days_past_due": dpd,
            "max_days_past_due_6m": _window(grid, dpd, 6).max(axis=1),
            "months_delinquent_3m": _count(grid, late, 3),
            "months_delinquent_6m": _count(grid, late, 6),
        }
    )


def _cash_advance_features(grid: pd.DataFrame) -> pd.DataFrame:
    """Cash advances this month (count, size against the limit, share of charges) and lately."""
    cash = grid["cash_amount"]
    return pd.DataFrame(
        {
            "cash_advance_count": grid["cash_count"],
            "cash_advance_to_limit": _ratio(cash, grid["credit_limit"]),
            "cash_advance_share": _ratio(cash, grid["charge_amount"]).fillna(0.0),
            "cash_advance_months_3m": _count(grid, grid["cash_count"] > 0, 3),
        }
    )


def _context_features(grid: pd.DataFrame, prior: pd.Series | None) -> pd.DataFrame:
    """Limit size and how many statement months the customer has so far (history depth)."""
    statements = grid["has_statement"].astype(float)
    history = statements.groupby(grid["customer_id"], sort=False).cumsum()
    if prior is not None and len(prior):
        history = history + grid["customer_id"].map(prior).fillna(0.0).to_numpy()
    return pd.DataFrame(
        {
            "log_credit_limit": np.log1p(grid["credit_limit"].clip(lower=0)),
            "history_months": history,
        }
    )
