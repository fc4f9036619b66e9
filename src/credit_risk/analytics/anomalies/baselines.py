"""What scoring a month needs from its baseline window (the up to ``baseline_months`` months
before it): per customer the prior purchases' count and ticket quartiles, the merchant
categories used, and per customer-month the small online charges and cash advances.

Two ways to the same figures: :func:`window_aggregates` computes them in memory from
transactions (tests, the in-memory path), :func:`read_month` reads them from the warehouse's
purchase profiles (``published_purchase_profile``, one row per customer-month, built with each
month), so a scoring run never reads a year of transactions.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson

from credit_risk.months import add_months
from credit_risk.settings import get_settings
from credit_risk.settings.anomalies import AnomalySettings
from credit_risk.warehouse.db import Warehouse
from credit_risk.warehouse.frames import read_frame

KEY = ["customer_id", "month"]


# --- window aggregates: what a month's scoring needs from its baseline window -------------------

_COUNT_COLUMNS = ["small_online_count", "cash_count", "cash_amount"]


def window_aggregates(
    transactions: pd.DataFrame, month: str, settings: AnomalySettings
) -> dict[str, pd.DataFrame]:
    """The baseline window's transaction aggregates of ``month``, computed in memory.

    The same figures as :func:`profile_aggregates` reads from the purchase profiles; tests and
    the in-memory path use this one.

    Args:
        transactions: Published transactions of at least the window (``customer_id``,
            ``month``, ``transaction_amount``, ``transaction_type``, ``merchant_category``,
            ``channel``).
        month: The month to score.
        settings: The window length and what counts as small.

    Returns:
        ``counts``: per customer-month of the window and the month, small online charges and
        cash advances (count, amount); ``tickets``: per customer, the prior purchases' count,
        lower quartile, median and upper quartile; ``categories``: the (customer, merchant
        category) pairs of prior purchases.
    """
    first, last = add_months(month, -settings.baseline_months), add_months(month, -1)
    inside = transactions[transactions["month"].between(first, month)]
    amount = inside["transaction_amount"].astype(float)
    purchase = inside["transaction_type"] == "purchase"
    small_online = (
        purchase & (inside["channel"] == "online") & amount.between(0.01, settings.small_amount)
    )
    cash = inside["transaction_type"] == "cash_advance"
    counts = (
        pd.DataFrame(
            {
                "customer_id": inside["customer_id"],
                "month": inside["month"],
                "small_online_count": small_online.astype(np.int64),
                "cash_count": cash.astype(np.int64),
                "cash_amount": amount.where(cash, 0.0),
            }
        )
        .groupby(KEY, sort=False)
        .sum()
        .reset_index()
    )
    prior = purchase & (inside["month"] <= last) & (amount > 0)
    # The usual ticket leaves out small card-not-present charges: one burst of card testing
    # would otherwise make every later purchase look huge.
    ticket = inside[prior & ~small_online]
    used = inside[prior & inside["merchant_category"].notna()]
    return {
        "counts": counts,
        "tickets": ticket_quartiles(ticket["customer_id"], ticket["transaction_amount"]),
        "categories": used[["customer_id", "merchant_category"]].drop_duplicates(ignore_index=True),
    }


def ticket_quartiles(customers: pd.Series, amounts: pd.Series) -> pd.DataFrame:
    """Per customer: purchases, and the lower quartile, median and upper quartile of amounts.

    Quartiles are the nearest-rank ones (the ``ceil(n/4)``-th and ``ceil(3n/4)``-th smallest),
    the median the middle value or the mean of the middle two: definitions the SQL of
    :func:`profile_aggregates` reads with the same definitions.
    """
    codes, names = pd.factorize(customers, sort=True)
    return _quartiles_by_code(codes, amounts.astype(float).to_numpy(), names)


def _quartiles_by_code(codes: np.ndarray, amounts: np.ndarray, names) -> pd.DataFrame:
    """``ticket_quartiles`` of amounts labelled by customer code (an index into ``names``):
    one sort of the codes and amounts, then each statistic is read at its rank."""
    order = np.lexsort((amounts, codes))
    codes, amounts = codes[order], amounts[order]
    del order
    n = np.bincount(codes, minlength=len(names))
    present = np.flatnonzero(n)
    n = n[present]
    start = np.concatenate([[0], np.cumsum(n)[:-1]])
    q1 = amounts[start + np.maximum(1, np.ceil(n / 4).astype(np.int64)) - 1]
    q3 = amounts[start + np.maximum(1, np.ceil(3 * n / 4).astype(np.int64)) - 1]
    median = (amounts[start + (n + 1) // 2 - 1] + amounts[start + n // 2]) / 2
    return pd.DataFrame(
        {
            "customer_id": np.asarray(names)[present],
            "purchases": n.astype(np.int64),
            "ticket_q1": q1,
            "ticket_median": median,
            "ticket_q3": q3,
        }
    )


def first_month(month: str, settings: AnomalySettings) -> str:
    """The first month of ``month``'s baseline window."""
    return add_months(month, -settings.baseline_months)


# --- warehouse I/O -----------------------------------------------------------------------------

# money as doubles: float64 columns in pandas instead of a Decimal object per value
_CUSTOMER_MONTH_SQL = """
select
    customer_id, month, cast(monthly_spend as double) as monthly_spend,
    cast(rolling_6_month_avg as double) as rolling_6_month_avg,
    cast(credit_limit as double) as credit_limit,
    cast(utilization_pct as double) as utilization_pct, cash_advance_count,
    cast(cash_advance_amount as double) as cash_advance_amount
from published_customer_month
where month between :first and :last
"""
_TRANSACTION_SQL = """
select
    customer_id, month, transaction_date, cast(transaction_amount as double) as transaction_amount,
    transaction_type, merchant_category, channel
from published_transactions
where month = :month
"""
_PROFILE_SQL = """
select customer_id, month, purchases, online_amounts, other_amounts, categories
from published_purchase_profile
where month between :first and :last
"""
"""The window's purchases, one row per customer-month (``published_purchase_profile``, built
with each month): the small online charges, ticket quartiles and categories of
``window_aggregates`` come from these, never from a year of transactions."""


def read_month(
    warehouse: Warehouse, month: str, settings: AnomalySettings
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, pd.DataFrame]]:
    """What scoring ``month`` needs, and no more: the customer-months of the month and its
    baseline window, the month's own transactions, and the window's counts, ticket quartiles
    and categories from the window's purchase profiles (one row per customer-month, built with
    each month: a year of transactions is never read).
    """
    first = first_month(month, settings)
    engine = warehouse.engine(temp_table_mb=get_settings().build_temp_table_mb)
    try:
        with engine.connect() as conn:
            customer_months = read_frame(conn, _CUSTOMER_MONTH_SQL, {"first": first, "last": month})
            transactions = read_frame(conn, _TRANSACTION_SQL, {"month": month})
            profiles = read_frame(conn, _PROFILE_SQL, {"first": first, "last": month})
    finally:
        engine.dispose()
    aggregates = profile_aggregates(profiles, month, settings)
    counts = (
        customer_months[KEY]
        .assign(
            cash_count=customer_months.pop("cash_advance_count").astype(np.int64),
            cash_amount=customer_months.pop("cash_advance_amount").astype(float),
        )
        .merge(aggregates.pop("small_online"), on=KEY, how="left")
        .fillna({"small_online_count": 0})
        .astype({"small_online_count": np.int64})
    )
    return customer_months, transactions, {"counts": counts, **aggregates}


_PARSE_ROWS = 100_000
"""Profiles parsed per Arrow call: Arrow's intermediate strings of a whole year (~9M amounts
at 100,000 customers) would add ~300 MB to the task's peak; a slice's are a few MB."""


def _split_amounts(lists: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(row position, amount) of every amount in comma-separated lists (NULL holds none)."""
    values = pa.array(lists, type=pa.large_string(), from_pandas=True)
    rows, amounts = [np.zeros(0, np.int32)], [np.zeros(0, np.float64)]
    for start in range(0, len(values), _PARSE_ROWS):
        parts = pc.split_pattern(values.slice(start, _PARSE_ROWS), ",")
        parents = pc.list_parent_indices(parts).to_numpy(zero_copy_only=False)
        rows.append((parents + start).astype(np.int32))
        amounts.append(pc.cast(pc.list_flatten(parts), pa.float64()).to_numpy(zero_copy_only=False))
    del values
    pa.default_memory_pool().release_unused()
    return np.concatenate(rows), np.concatenate(amounts)


def profile_aggregates(
    profiles: pd.DataFrame, month: str, settings: AnomalySettings
) -> dict[str, pd.DataFrame]:
    """``window_aggregates``' small online counts, ticket quartiles and categories, from the
    purchase profiles of the window and ``month`` (``published_purchase_profile`` rows).

    Raises:
        ValueError: A profile's lists hold fewer amounts than its purchases (a list cut by
            the server's ``group_concat_max_len``): rebuild that month.
    """
    last = add_months(month, -1)
    online_rows, online = _split_amounts(profiles["online_amounts"])
    other_rows, other = _split_amounts(profiles["other_amounts"])
    listed = np.bincount(online_rows, minlength=len(profiles)) + np.bincount(
        other_rows, minlength=len(profiles)
    )
    cut = listed != profiles["purchases"].to_numpy(np.int64)
    if cut.any():
        first_cut = profiles.loc[cut, KEY].iloc[0]
        raise ValueError(
            f"published_purchase_profile of {first_cut['month']} lists fewer amounts than "
            f"purchases (customer {first_cut['customer_id']}): rebuild that month with "
            "`credit-risk build --full` on a server that allows longer group_concat results"
        )
    del listed, cut
    small = (online >= 0.01) & (online <= settings.small_amount)
    small_online = profiles[KEY].assign(
        small_online_count=np.bincount(online_rows[small], minlength=len(profiles))
    )
    small_online = small_online[small_online["small_online_count"] > 0]
    prior = (profiles["month"] <= last).to_numpy()
    codes, customers = pd.factorize(profiles["customer_id"], sort=True)
    codes = codes.astype(np.int32)
    # Filter each list before joining them: at 100,000 customers a year holds ~9M amounts,
    # and every extra copy of them is ~100 MB of the task's peak.
    keep_online = ~small & prior[online_rows]
    keep_other = prior[other_rows]
    ticket_codes = np.concatenate([codes[online_rows[keep_online]], codes[other_rows[keep_other]]])
    ticket_amounts = np.concatenate([online[keep_online], other[keep_other]])
    del online_rows, online, other_rows, other, small, keep_online, keep_other
    tickets = _quartiles_by_code(ticket_codes, ticket_amounts, customers)
    del ticket_codes, ticket_amounts
    category_rows, category_codes, category_names = _split_categories(profiles["categories"])
    keep = prior[category_rows]
    pairs = np.unique(
        codes[category_rows[keep]].astype(np.int64) * len(category_names) + category_codes[keep]
    )
    categories = pd.DataFrame(
        {
            "customer_id": np.asarray(customers)[pairs // max(len(category_names), 1)],
            "merchant_category": np.asarray(category_names, dtype=object)[
                pairs % max(len(category_names), 1)
            ],
        }
    ).astype({"customer_id": "str", "merchant_category": "str"})
    return {"small_online": small_online, "tickets": tickets, "categories": categories}


def _split_categories(arrays: pd.Series) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(row position, category code) of every category in JSON arrays (NULL holds none), and
    the categories the codes stand for. Parsed by Arrow's JSON reader, a slice of rows at a
    time: a Python list per customer-month would weigh more than the profiles themselves."""
    present = np.flatnonzero(arrays.notna().to_numpy())
    options = pajson.ParseOptions(explicit_schema=pa.schema([("c", pa.list_(pa.string()))]))
    rows, names, codes = [np.zeros(0, np.int32)], {}, [np.zeros(0, np.int32)]
    for start in range(0, len(present), _PARSE_ROWS):
        chosen = present[start : start + _PARSE_ROWS]
        lines = "\n".join(f'{{"c":{value}}}' for value in arrays.iloc[chosen])
        parsed = pajson.read_json(io.BytesIO(lines.encode("utf-8")), parse_options=options)
        parsed = parsed.column("c").combine_chunks()
        rows.append(chosen[pc.list_parent_indices(parsed).to_numpy(zero_copy_only=False)])
        encoded = pc.dictionary_encode(pc.list_flatten(parsed))
        # one code per category across slices: each slice's dictionary mapped to the whole's
        local = [names.setdefault(name, len(names)) for name in encoded.dictionary.to_pylist()]
        indices = encoded.indices.to_numpy(zero_copy_only=False)
        codes.append(np.asarray(local, dtype=np.int32)[indices] if len(local) else indices)
    pa.default_memory_pool().release_unused()
    return (
        np.concatenate(rows).astype(np.int32),
        np.concatenate(codes).astype(np.int64),
        list(names),
    )
