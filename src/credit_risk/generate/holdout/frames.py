"""The simulated portfolio as the extract's files, in the data contract's columns and formats."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from credit_risk.generate.holdout.parameters import ANOMALY_KINDS
from credit_risk.generate.holdout.state import _Accounts, _Calendar, _Customers, _Posted
from credit_risk.generate.realistic import (
    CATEGORIES,
    CHANNELS,
    REGIONS,
    TIERS,
    TRANSACTION_TYPES,
)

# --- output ------------------------------------------------------------------------------------
# Values are formatted by arrow from integers (exact, and fast on millions of rows) and written
# without quoting: no value of the contract ever needs it.


def _text(numbers: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(np.asarray(numbers, dtype=np.int64)), pa.string())


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """Zero-padded ids such as C0000001."""
    return pc.binary_join_element_wise(prefix, pc.utf8_lpad(_text(numbers), width, "0"), "")


def _money(cents: np.ndarray) -> pa.Array:
    """Whole cents as text with two decimals, e.g. -1234.50."""
    cents = np.asarray(cents, dtype=np.int64)
    magnitude = np.abs(cents)
    sign = pc.if_else(pa.array(cents < 0), "-", "")
    fraction = pc.utf8_lpad(_text(magnitude % 100), 2, "0")
    return pc.binary_join_element_wise(sign, _text(magnitude // 100), ".", fraction, "")


def _names(values: tuple[str, ...], index: np.ndarray) -> pa.Array:
    return pc.take(pa.array(values, pa.string()), pa.array(np.asarray(index, dtype=np.int64)))


def _dates(days: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(days.astype("datetime64[D]")), pa.string())


def _customers_frame(numbers: np.ndarray, people: _Customers) -> pa.Table:
    return pa.table(
        {
            "customer_id": _ids("C", numbers, 7),
            "opened_date": _dates(people.opened),
            "credit_tier": _names(TIERS, people.tier),
            "region": _names(REGIONS, people.region),
        }
    )


def _statements_frame(numbers: np.ndarray, accounts: _Accounts, cal: _Calendar) -> pa.Table:
    months = len(cal.months)
    return pa.table(
        {
            "customer_id": _ids("C", np.repeat(numbers, months), 7),
            "statement_month": _names(tuple(cal.months), np.tile(np.arange(months), numbers.size)),
            "credit_limit": _money(accounts.limit.ravel()),
            "outstanding_balance": _money(accounts.closing.ravel()),
            "payment_amount": _money(accounts.payment.ravel()),
            "minimum_due": _money(accounts.minimum_due.ravel()),
            "days_past_due": _text(accounts.days_past_due.ravel()),
        }
    )


def _transactions_frame(numbers: np.ndarray, posted: _Posted, cal: _Calendar) -> pa.Table:
    """Sorted by customer, date and id; ids number each customer-month 1.. in date order:
    T + YYYYMM + customer number (7 digits) + sequence (4 digits)."""
    order = np.lexsort((posted.key, posted.day, posted.month, posted.customer))
    customer, month = posted.customer[order], posted.month[order]
    group = customer * len(cal.months) + month
    starts = np.flatnonzero(np.r_[True, np.diff(group) != 0]) if group.size else group
    sizes = np.diff(np.r_[starts, group.size])
    sequence = np.arange(group.size) - np.repeat(starts, sizes) + 1
    number = numbers[customer]
    id_number = (cal.yyyymm[month] * 10_000_000 + number) * 10_000 + sequence
    dates = cal.first_day[month] + (posted.day[order] - 1).astype("timedelta64[D]")
    return pa.table(
        {
            "transaction_id": _ids("T", id_number, 17),
            "customer_id": _ids("C", number, 7),
            "transaction_date": _dates(dates),
            "amount": _money(posted.amount[order]),
            "transaction_type": _names(TRANSACTION_TYPES, posted.kind[order]),
            "merchant_category": _names(CATEGORIES, posted.category[order]),
            "channel": _names(CHANNELS, posted.channel[order]),
        }
    )


def _labels_frame(numbers: np.ndarray, labels: pd.DataFrame, cal: _Calendar) -> pa.Table:
    labels = labels.sort_values(["customer", "month"])
    return pa.table(
        {
            "customer_id": _ids("C", numbers[labels["customer"].to_numpy(np.int64)], 7),
            "month": _names(tuple(cal.months), labels["month"].to_numpy(np.int64)),
            "anomaly_type": _names(ANOMALY_KINDS, labels["kind"].to_numpy(np.int64)),
        }
    )


def _write_csv(table: pa.Table, header: list[str], path: Path) -> None:
    """The header, then the rows: comma-separated, ``\\n`` line ends, nothing quoted."""
    options = pacsv.WriteOptions(quoting_style="none", quoting_header="none", eol="\n")
    pacsv.write_csv(table.select(header), path, options)
