"""The simulated chunk as the extract's files: customers, statements, transactions and labels,
in the data contract's columns and formats."""

from __future__ import annotations

import numpy as np
import pandas as pd

from credit_risk.generate.realistic.accounts import _grouped_cumsum
from credit_risk.generate.realistic.anomalies import _LABEL_MIN_POSTED, _NOT_INJECTED, ANOMALY_TYPES
from credit_risk.generate.realistic.parameters import (
    CATEGORIES,
    CHANNELS,
    LABEL_COLUMNS,
    REGIONS,
    TIERS,
    TRANSACTION_TYPES,
)
from credit_risk.generate.realistic.state import _Accounts, _Calendar, _Profile, _Transactions


def _ids(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded ids such as C0000001, vectorized."""
    return np.strings.add(prefix, np.strings.zfill(numbers.astype(str), width))


def _money(cents: np.ndarray) -> np.ndarray:
    """Cents as text with exactly two decimals, e.g. -1234.50.

    Formatted from integers rather than floats: exact by construction, and far faster than
    pandas' per-value float formatting on a million rows.
    """
    magnitude = np.abs(cents)
    whole = (magnitude // 100).astype(str)
    fraction = np.strings.zfill((magnitude % 100).astype(str), 2)
    text = np.strings.add(np.strings.add(whole, "."), fraction)
    return np.where(cents < 0, np.strings.add("-", text), text)


def _customers_frame(numbers: np.ndarray, profile: _Profile) -> pd.DataFrame:
    """Rows of customers.csv."""
    return pd.DataFrame(
        {
            "customer_id": _ids("C", numbers, 7),
            "opened_date": np.datetime_as_string(profile.opened, unit="D"),
            "credit_tier": np.array(TIERS)[profile.tier],
            "region": np.array(REGIONS)[profile.region],
        }
    )


def _statements_frame(
    numbers: np.ndarray, profile: _Profile, accounts: _Accounts, cal: _Calendar
) -> pd.DataFrame:
    """Rows of statements.csv, customer-major then month."""
    months = len(cal.months)
    return pd.DataFrame(
        {
            "customer_id": np.repeat(_ids("C", numbers, 7), months),
            "statement_month": np.tile(np.array(cal.months), numbers.size),
            "credit_limit": _money(np.repeat(profile.limit, months)),
            "outstanding_balance": _money(accounts.closing.ravel()),
            "payment_amount": _money(accounts.payment.ravel()),
            "minimum_due": _money(accounts.minimum_due.ravel()),
            "days_past_due": accounts.days_past_due.ravel(),
        }
    )


def _transactions_frame(
    numbers: np.ndarray, txns: _Transactions, accepted: np.ndarray, cal: _Calendar
) -> pd.DataFrame:
    """Rows of transactions.csv: authorised transactions, numbered within customer-month."""
    customer, month = txns.customer[accepted], txns.month[accepted]
    number = numbers[customer]
    # Already sorted by customer, month, day; number them 1.. in that order after declines.
    sequence = _grouped_cumsum(np.ones(customer.size, dtype=np.int64), number * 10_000 + month)
    # T + statement YYYYMM (6) + customer (7 digits) + sequence (4): unique, chunk-free, and
    # issued in time order like a card system's: each month's ids follow the month before's.
    id_number = (cal.yyyymm[month] * 10_000_000 + number) * 10_000 + sequence
    dates = cal.first_day[month] + (txns.day[accepted] - 1).astype("timedelta64[D]")
    return pd.DataFrame(
        {
            "transaction_id": _ids("T", id_number, 17),
            "customer_id": _ids("C", number, 7),
            "transaction_date": np.datetime_as_string(dates, unit="D"),
            "amount": _money(txns.amount[accepted]),
            "transaction_type": np.array(TRANSACTION_TYPES)[txns.kind[accepted]],
            "merchant_category": np.array(CATEGORIES)[txns.category[accepted]],
            "channel": np.array(CHANNELS)[txns.channel[accepted]],
        }
    )


def _labels_frame(
    numbers: np.ndarray, txns: _Transactions, accepted: np.ndarray, cal: _Calendar
) -> pd.DataFrame:
    """Rows of labels.csv: injected anomalies of which enough posted to be one.

    A declined anomaly never reached the files, so it is not an anomaly of the data. When the
    limit cut one short (approval is a prefix in date order), it counts only if what posted is
    still an anomaly of its type: at least the fewest transactions that type ever injects.
    """
    injected = txns.anomaly != _NOT_INJECTED
    parts = pd.DataFrame(
        {
            "customer": txns.customer[injected],
            "month": txns.month[injected],
            "anomaly": txns.anomaly[injected],
            "posted": accepted[injected].astype(np.int64),
        }
    )
    posted = parts.groupby(["customer", "month", "anomaly"], sort=True)["posted"].sum()
    kept = posted.reset_index()
    kept = kept[kept["posted"].to_numpy() >= _LABEL_MIN_POSTED[kept["anomaly"].to_numpy()]]
    if kept.empty:  # the id formatting cannot take an empty array
        return pd.DataFrame(columns=list(LABEL_COLUMNS))
    return pd.DataFrame(
        {
            "customer_id": _ids("C", numbers[kept["customer"].to_numpy(np.int64)], 7),
            "month": np.array(cal.months)[kept["month"].to_numpy(np.int64)],
            "anomaly_type": np.array(ANOMALY_TYPES)[kept["anomaly"].to_numpy(np.int64)],
        }
    )
