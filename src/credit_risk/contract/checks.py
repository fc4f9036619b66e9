"""The field rules, vectorized over whole columns: keys, money, counts, dates and months, the
month window, partitions, known customers, dates after the account opened, uniqueness; each
marks the rows it quarantines with their reason."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from credit_risk.contract.core import Detail, Reason
from credit_risk.contract.reading import CsvFile, _quoted
from credit_risk.layout import (
    COUNT_PATTERN,
    LINE,
    MONEY_PATTERN,
    MONTH_PATTERN,
)
from credit_risk.months import MonthWindow


class Verdicts:
    """The first contract failure of each row (later checks never overwrite an earlier one)."""

    def __init__(self, rows: pd.DataFrame) -> None:
        size = len(rows)
        self.index = rows.index
        self.reason = np.full(size, None, dtype=object)
        self.field_name = np.full(size, None, dtype=object)
        self.detail = np.full(size, None, dtype=object)
        self._ok = np.ones(size, dtype=bool)

    @property
    def ok(self) -> np.ndarray:
        """Rows with no failure so far (a copy: callers may keep it across later checks)."""
        return self._ok.copy()

    def flag(
        self,
        failed: pd.Series | np.ndarray,
        reason: Reason,
        field_name: str | None,
        detail: str | Detail,
    ) -> None:
        """Record ``reason`` for rows where ``failed`` holds and nothing failed before.

        ``detail`` is a fixed text or a function of the failing rows' mask: messages are built
        for the few rows that fail, never for the million that pass.
        """
        mask = np.asarray(failed, dtype=bool) & self._ok
        if not mask.any():
            return
        self._ok[mask] = False
        self.reason[mask] = reason.value
        self.field_name[mask] = field_name
        self.detail[mask] = detail if isinstance(detail, str) else np.asarray(detail(mask), object)


_CONTROL_CHARACTER = r"[\x00-\x1f\x7f]"


def check_key(verdicts: Verdicts, rows: pd.DataFrame, column: str) -> None:
    """Key columns must be present, and free of control characters.

    A NUL, a tab or an ANSI escape in an id is an export defect; stored, it would make a
    customer that matches nothing and print as garbage (or recolour a terminal) in every
    report.
    """
    values = rows[column]
    verdicts.flag(values == "", Reason.MISSING_KEY, column, f"{column} is empty")
    strings = _arrow_strings(values)
    # printable ASCII is the common case and 7x cheaper to tell; only the rest get the regex
    unusual = np.flatnonzero(
        ~pc.ascii_is_printable(strings).to_numpy(zero_copy_only=False) & (values != "").to_numpy()
    )
    control = np.zeros(len(values), dtype=bool)
    if len(unusual):
        found = pc.match_substring_regex(strings.take(pa.array(unusual)), _CONTROL_CHARACTER)
        control[unusual] = found.to_numpy(zero_copy_only=False)
    verdicts.flag(
        control,
        Reason.INVALID_VALUE,
        column,
        lambda failing: [
            f"{column} {value!r} holds a control character" for value in values[failing]
        ],
    )


def check_money(verdicts: Verdicts, rows: pd.DataFrame, column: str, *, required: bool) -> None:
    """Amounts: optional sign, up to 12 integer digits and 2 decimals (fits decimal(14,2))."""
    values = rows[column]
    empty = values == ""
    if required:
        verdicts.flag(empty, Reason.MISSING_VALUE, column, f"{column} is empty")
    bad = ~empty & ~values.str.fullmatch(MONEY_PATTERN)
    verdicts.flag(
        bad,
        Reason.UNPARSEABLE_NUMBER,
        column,
        _quoted(values, column, "is not an amount like 1234.56"),
    )


def _arrow_strings(values: pd.Series) -> pa.Array | pa.ChunkedArray:
    """The column as arrow strings: no copy when pandas already holds it in arrow."""
    return pa.array(values, type=pa.string()) if values.dtype == object else pa.array(values)


def money_values(values: pd.Series, usable: np.ndarray) -> np.ndarray:
    """The amounts of the ``usable`` rows as floats, NaN elsewhere.

    Only for values that passed ``check_money`` (so every usable value parses); pyarrow's cast
    is about 15x faster than ``pd.to_numeric`` on a million strings.
    """
    strings = _arrow_strings(values)
    kept = pc.if_else(pa.array(usable, type=pa.bool_()), strings, pa.scalar(None, strings.type))
    return pc.cast(kept, pa.float64()).to_numpy(zero_copy_only=False)


def check_count(verdicts: Verdicts, rows: pd.DataFrame, column: str) -> None:
    """Optional non-negative whole numbers (days past due)."""
    values = rows[column]
    bad = (values != "") & ~values.str.fullmatch(COUNT_PATTERN)
    verdicts.flag(
        bad,
        Reason.UNPARSEABLE_NUMBER,
        column,
        _quoted(values, column, "is not a whole number >= 0"),
    )


def parse_dates(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Parse strict ``YYYY-MM-DD`` dates; returns the dates and a validity mask.

    A date is valid only if it survives a round trip, so 2024-02-30 and 2024-1-5 are refused
    (plain strptime would roll the first over to March and accept the second).
    """
    # a month of transactions has ~30 distinct dates: parse those, then map back
    codes, uniques = pd.factorize(values)
    array = pa.array(np.asarray(uniques, dtype=object), type=pa.string())
    parsed = pc.strptime(array, format="%Y-%m-%d", unit="s", error_is_null=True)
    round_trip = pc.strftime(parsed, format="%Y-%m-%d")
    unique_valid = pc.fill_null(pc.equal(round_trip, array), False).to_numpy(zero_copy_only=False)
    unique_dates = pd.DatetimeIndex(parsed.to_pandas()).where(unique_valid)
    valid = np.where(codes >= 0, unique_valid[np.maximum(codes, 0)], False)
    dates = pd.Series(unique_dates[np.maximum(codes, 0)], index=values.index).where(valid)
    return dates, valid


def check_date(verdicts: Verdicts, rows: pd.DataFrame, column: str, *, required: bool) -> pd.Series:
    """Dates must be real calendar days written YYYY-MM-DD; returns the parsed dates."""
    values = rows[column]
    empty = (values == "").to_numpy()
    if required:
        verdicts.flag(empty, Reason.MISSING_KEY, column, f"{column} is empty")
    dates, valid = parse_dates(values)
    verdicts.flag(
        ~empty & ~valid,
        Reason.UNPARSEABLE_DATE,
        column,
        _quoted(values, column, "is not a date like 2024-01-31"),
    )
    return dates


def check_month(verdicts: Verdicts, rows: pd.DataFrame, column: str) -> None:
    """Statement months are written YYYY-MM."""
    values = rows[column]
    bad = (values != "") & ~values.str.fullmatch(MONTH_PATTERN)
    verdicts.flag(
        bad, Reason.UNPARSEABLE_DATE, column, _quoted(values, column, "is not a month like 2024-01")
    )


def check_positive_limit(verdicts: Verdicts, rows: pd.DataFrame, column: str) -> None:
    """A limit, when given, must be positive: utilization against zero means nothing."""
    values = rows[column]
    numbers = money_values(values, verdicts.ok & (values != "").to_numpy())
    verdicts.flag(
        numbers <= 0,  # NaN (no limit, or a failed row) compares False
        Reason.NON_POSITIVE_CREDIT_LIMIT,
        column,
        _quoted(values, column, "is not positive"),
    )


def check_month_window(
    verdicts: Verdicts,
    rows: pd.DataFrame,
    months: pd.Series,
    column: str,
    window: MonthWindow | None,
) -> None:
    """A row's month must be inside the load's window (rows without a month failed already)."""
    if window is None:
        return
    known = months.notna().to_numpy()
    values = months.fillna("").astype(str)
    verdicts.flag(
        known & (values < window.earliest).to_numpy(),
        Reason.MONTH_OUT_OF_RANGE,
        column,
        _quoted(
            rows[column],
            column,
            f"is before the earliest month loaded ({window.earliest}, CREDIT_RISK_EARLIEST_MONTH)",
        ),
    )
    verdicts.flag(
        known & (values > window.latest).to_numpy(),
        Reason.MONTH_OUT_OF_RANGE,
        column,
        _quoted(
            rows[column],
            column,
            f"is after the month of the load ({window.latest}): a future date cannot be real",
        ),
    )


def check_partition(
    verdicts: Verdicts, rows: pd.DataFrame, months: pd.Series, column: str, partition: str | None
) -> None:
    """With a partition given, rows of any other month belong to another load."""
    if partition is None:
        return
    outside = (months != partition).fillna(False)
    verdicts.flag(
        outside,
        Reason.MONTH_OUTSIDE_PARTITION,
        column,
        _quoted(rows[column], column, f"is outside the month being loaded ({partition})"),
    )


def check_known_customer(
    verdicts: Verdicts, rows: pd.DataFrame, known_customers: set[str] | pd.Index | pa.Array
) -> None:
    """A row's customer must be in the extract's customers or already in the warehouse.

    ``known_customers`` is best an arrow array: a million Python strings cost half a second
    to convert, for each file checked.
    """
    if isinstance(known_customers, pa.Array):
        known = known_customers
    else:
        known = pa.array(list(known_customers), type=pa.string())
    ids = _arrow_strings(rows["customer_id"])
    unknown = ~pc.is_in(ids, value_set=known).to_numpy(zero_copy_only=False)
    verdicts.flag(
        unknown,
        Reason.UNKNOWN_CUSTOMER,
        "customer_id",
        _quoted(rows["customer_id"], "customer_id", "is not a known customer"),
    )


def check_after_opening(
    verdicts: Verdicts, rows: pd.DataFrame, when: pd.Series, column: str, opened: pd.Series
) -> None:
    """A row cannot predate its customer's account: a statement month before the month the
    account opened, a transaction before the day it opened.

    Args:
        when: Each row's ``YYYY-MM-DD`` date or ``YYYY-MM`` month (ISO: strings compare as
            dates).
        opened: Opening date (or month, like ``when``) by customer id, for the customers
            whose date is known.

    Only accounts opened after the file's earliest row can fail, usually this month's new
    ones: those few customers' rows are checked, not the whole file against every account.
    """
    ok = verdicts.ok
    if opened.empty or not ok.any():
        return
    # in arrow: the million rows cost a filter and a min, not a pandas copy
    earliest = pc.min(pc.filter(_arrow_strings(when), pa.array(ok))).as_py()
    recent = opened[opened > earliest] if earliest is not None else opened.iloc[:0]
    if recent.empty:
        return
    ids = _arrow_strings(rows["customer_id"])
    candidate = ok & pc.is_in(ids, value_set=pa.array(recent.index, type=pa.string())).to_numpy(
        zero_copy_only=False
    )
    if not candidate.any():
        return
    positions = np.flatnonzero(candidate)
    opened_of_row = rows["customer_id"].iloc[positions].map(recent).to_numpy(dtype=object)
    before = when.iloc[positions].to_numpy(dtype=object) < opened_of_row
    mask = np.zeros(len(rows), dtype=bool)
    mask[positions] = before
    opened_of = dict(zip(positions, opened_of_row, strict=True))
    verdicts.flag(
        mask,
        Reason.BEFORE_ACCOUNT_OPENED,
        column,
        lambda failing: [
            f"{column} {rows[column].iat[position]!r} is before the account opened "
            f"({opened_of[position]})"
            for position in np.flatnonzero(failing)
        ],
    )


def _strictly_increasing(rows: pd.DataFrame, key: list[str]) -> bool:
    """Whether each row's key sorts after the previous row's: then no key repeats.

    Extracts usually come sorted by their key, and this one pass over adjacent pairs costs a
    tenth of hashing a million keys.
    """
    if len(rows) < 2:
        return True
    after = tied = None
    for name in key:
        column = pa.array(rows[name])
        before, current = column[:-1], column[1:]
        less, equal = pc.less(before, current), pc.equal(before, current)
        if after is None:
            after, tied = less, equal
        else:
            after = pc.or_(after, pc.and_(tied, less))
            tied = pc.and_(tied, equal)
    return bool(pc.all(after).as_py())


def check_unique(
    verdicts: Verdicts,
    rows: pd.DataFrame,
    key: list[str],
    reason: Reason,
) -> None:
    """Only the first row of a key is loaded; later copies are quarantined (none is lost)."""
    ok = verdicts.ok
    candidates = rows if ok.all() else rows[ok]
    if _strictly_increasing(candidates, key):
        return
    keys = candidates[key[0]] if len(key) == 1 else candidates[key]
    repeated = keys.duplicated(keep="first").to_numpy()
    if not repeated.any():
        return
    mask = np.zeros(len(rows), dtype=bool)
    mask[np.flatnonzero(ok)[repeated]] = True
    first_line = candidates.groupby(key, sort=False)[LINE].transform("first")
    first_line_of_row = pd.Series(0, index=rows.index, dtype="int64")
    first_line_of_row.loc[candidates.index] = first_line.to_numpy()

    def detail(failing: np.ndarray) -> list[str]:
        return [f"{'/'.join(key)} already on line {line}" for line in first_line_of_row[failing]]

    verdicts.flag(mask, reason, key[-1], detail)


def quarantine_frame(
    csv_file: CsvFile, verdicts: Verdicts, partition_month: pd.Series
) -> pd.DataFrame:
    """The quarantined rows of one file (checks + structural rejects), ready to insert."""
    failed = ~verdicts.ok
    lines = csv_file.rows.loc[failed, LINE]
    frame = pd.DataFrame(
        {
            "partition_month": partition_month[failed].to_numpy(dtype=object),
            "line_number": lines.to_numpy(),
            "field_name": verdicts.field_name[failed],
            "reason": verdicts.reason[failed],
            "detail": verdicts.detail[failed],
            "raw_line": csv_file.raw_lines(lines),
        }
    )
    structural = csv_file.structural_rejects.assign(partition_month=None)
    frame = pd.concat([frame, structural], ignore_index=True) if len(structural) else frame
    frame["dataset"] = csv_file.dataset
    frame["source_file"] = str(csv_file.path)
    return frame
