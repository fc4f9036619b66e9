"""The data contract: read an extract's CSV files and split every row into loaded or quarantined.

Why this module exists: the seed imported CSVs by hand and anything odd either crashed the import
or slipped in silently. Here every row of every file ends up in exactly one of two places, the
rows to load or the quarantine (with file, line, field, reason and the raw line), and a file
that is broken as a whole (not UTF-8, wrong header, wrong column count everywhere) is refused
before anything is written, with a message naming the file, the line and the field.

Parsing is pyarrow's CSV reader; checks are vectorized over whole columns so a million-row
extract is checked in about a second.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from credit_risk.layout import (  # noqa: F401 (re-exported: the contract's names)
    COUNT_PATTERN,
    CUSTOMER_COLUMNS,
    DATE_PATTERN,
    GZIP_MAGIC,
    LINE,
    MONEY_PATTERN,
    MONTH_PATTERN,
    OPTIONAL_COLUMNS,
    QUARANTINE_COLUMNS,
    STATEMENT_COLUMNS,
    TRANSACTION_COLUMNS,
)
from credit_risk.months import MonthWindow

Detail = Callable[[np.ndarray], "pd.Series | np.ndarray | list[str]"]
"""Builds the messages of the rows selected by a boolean mask."""


class Reason(StrEnum):
    """Why a row was quarantined (stored in ``quarantined_rows.reason``)."""

    WRONG_COLUMN_COUNT = "wrong_column_count"
    MISSING_KEY = "missing_key"
    MISSING_VALUE = "missing_value"
    UNPARSEABLE_NUMBER = "unparseable_number"
    UNPARSEABLE_DATE = "unparseable_date"
    INVALID_VALUE = "invalid_value"
    NON_POSITIVE_CREDIT_LIMIT = "non_positive_credit_limit"
    MONTH_OUTSIDE_PARTITION = "month_outside_partition"
    MONTH_OUT_OF_RANGE = "month_out_of_range"
    UNKNOWN_CUSTOMER = "unknown_customer"
    BEFORE_ACCOUNT_OPENED = "before_account_opened"
    DUPLICATE_CUSTOMER = "duplicate_customer"
    DUPLICATE_STATEMENT = "duplicate_statement"
    DUPLICATE_TRANSACTION_ID = "duplicate_transaction_id"
    CONFLICTING_STATEMENT = "conflicting_statement"


class ExtractRefusedError(ValueError):
    """A file is broken as a whole; nothing from the extract is loaded.

    Attributes:
        path: The file.
        line: The 1-based physical line where the problem was found.
        field_name: The column concerned, when one is.
    """

    def __init__(self, path: Path, line: int, field_name: str | None, problem: str) -> None:
        self.path = path
        self.line = line
        self.field_name = field_name
        where = f"{path}: line {line}" + (f", field {field_name!r}" if field_name else "")
        super().__init__(f"{where}: {problem}. Nothing was loaded.")


@dataclass
class CsvFile:
    """One parsed CSV file: its rows as strings plus what is needed to quote raw lines back."""

    path: Path
    dataset: str
    rows: pd.DataFrame
    sha256: str
    structural_rejects: pd.DataFrame
    padded: bool = False
    """Some value had leading or trailing whitespace (the rows hold it stripped)."""
    _data: bytes = field(repr=False, default=b"")
    _line_starts: np.ndarray | None = field(repr=False, default=None)
    """Byte offset of each line; found on first use (most loads never quote a raw line)."""

    def plain_line_end(self) -> str | None:
        """The file's line end when the server may read the file itself and see these rows.

        ``'\\n'`` or ``'\\r\\n'`` when every line ends the same way, no field is quoted and no
        value is padded: then splitting the file at commas and that line end, as ``LOAD DATA``
        does, gives exactly the values of ``rows``. None otherwise (quotes, padding or mixed line
        ends are read differently by the two parsers).
        """
        data = self._data
        if self.padded or b'"' in data:
            return None
        if b"\r" not in data:  # a memchr, where counting would read the whole file
            return "\n"
        newlines, returns = data.count(b"\n"), data.count(b"\r")
        if returns == newlines == data.count(b"\r\n"):
            return "\r\n"
        return None

    def raw_lines(self, line_numbers: pd.Series | np.ndarray) -> list[str]:
        """The text of the given physical lines, without their line ends."""
        if len(line_numbers) == 0:
            return []
        if self._line_starts is None:
            self._line_starts = _line_starts(self._data)
        starts = self._line_starts
        out = []
        for number in np.asarray(line_numbers, dtype=np.int64):
            begin = starts[number - 1]
            end = starts[number] - 1 if number < len(starts) else len(self._data)
            out.append(self._data[begin:end].decode("utf-8").rstrip("\r\n"))
        return out

    @property
    def rows_read(self) -> int:
        """Data rows in the file, whatever their fate."""
        return len(self.rows) + len(self.structural_rejects)


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


MAX_LINE_BYTES = 1 << 24
"""The longest line a file may have (16 MB): the CSV reader's block. A card transaction or a
statement is a few hundred bytes; a longer line is a broken export, not data."""


def read_extract_bytes(path: Path) -> bytes:
    """The file's bytes, decompressed when its content is gzip (``.csv.gz``, or a gzip file
    delivered as ``.csv``).

    Raises:
        ExtractRefusedError: the path is a folder, or the gzip data is damaged or cut short.
    """
    if path.is_dir():
        raise ExtractRefusedError(path, 1, None, "is a folder, not a file")
    data = path.read_bytes()
    if data[:2] != GZIP_MAGIC:
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as error:
        raise ExtractRefusedError(
            path, 1, None, f"is a compressed (gzip) file that cannot be decompressed ({error})"
        ) from error


def _refuse_overlong_line(path: Path, data: bytes) -> None:
    """Name the line a reader failure came from when it is a line longer than a row can be."""
    starts = _line_starts(data)
    lengths = np.diff(np.append(starts, len(data)))
    (too_long,) = np.nonzero(lengths > MAX_LINE_BYTES)
    if len(too_long):
        line = int(too_long[0]) + 1
        raise ExtractRefusedError(
            path,
            line,
            None,
            f"line {line} is {lengths[too_long[0]]:,} bytes long; no row of the contract is "
            f"longer than {MAX_LINE_BYTES // (1 << 20)} MB, so the export is broken (a missing "
            "line end or an unclosed quote)",
        )


def _decode_or_refuse(path: Path, data: bytes) -> None:
    if data.isascii():
        return  # ASCII is UTF-8; this avoids decoding a copy of the whole file
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        line_begin = data.rfind(b"\n", 0, error.start) + 1
        line = data.count(b"\n", 0, error.start) + 1
        column_index = data.count(b",", line_begin, error.start)
        header = data.split(b"\n", 1)[0].decode("utf-8", "replace").strip().split(",")
        field_name = header[column_index] if column_index < len(header) else None
        raise ExtractRefusedError(
            path,
            line,
            field_name,
            f"not valid UTF-8 (byte 0x{data[error.start]:02x} at offset {error.start}); "
            "re-export the file as UTF-8",
        ) from error


def _line_starts(data: bytes) -> np.ndarray:
    """Byte offset where each physical line starts.

    A line ends as the CSV reader ends it: at ``\n``, ``\r\n`` or a ``\r`` alone (old Mac
    exports, or a stray one), so line numbers and rows stay in step.
    """
    buffer = np.frombuffer(data, dtype=np.uint8)
    is_newline = buffer == ord("\n")
    is_return = buffer == ord("\r")
    bare_return = is_return & ~np.append(is_newline[1:], False)
    newlines = np.flatnonzero(is_newline | bare_return)
    starts = np.concatenate(([0], newlines + 1))
    if len(starts) > 1 and starts[-1] == len(data):
        starts = starts[:-1]  # the file ends with a line end: no line after it
    return starts.astype(np.int64)


def _nonblank_lines(data: bytes, starts: np.ndarray) -> np.ndarray:
    """1-based numbers of the physical lines where the rows pyarrow reads begin.

    It skips empty lines, and a quoted value may hold line ends: a line that starts inside
    quotes (an odd number of ``"`` before it; ``""`` escapes keep the count even) continues
    the row above.
    """
    buffer = np.frombuffer(data, dtype=np.uint8)
    numbers = np.arange(1, len(starts) + 1)
    if b'"' in data:
        quotes = np.concatenate(([0], np.cumsum(buffer == ord('"'))))
        begins_row = quotes[starts] % 2 == 0
        starts, numbers = starts[begins_row], numbers[begins_row]
    ends = np.append(starts[1:] - 1, len(data))
    lengths = ends - starts
    only_cr = (lengths == 1) & (buffer[np.minimum(starts, max(len(data) - 1, 0))] == ord("\r"))
    blank = (lengths == 0) | only_cr
    return numbers[~blank]


def read_contract_csv(path: Path, dataset: str, columns: list[str]) -> CsvFile:
    """Parse ``path`` as strings, refusing it when its structure is broken as a whole.

    Rows with a wrong number of fields are kept aside as structural rejects; every other row is
    returned with its physical line number in column ``_line``.

    Raises:
        ExtractRefusedError: a folder, a damaged gzip file, not UTF-8, empty, a line too long
            to be a row, a wrong header, or every row has the wrong width.
    """
    data = read_extract_bytes(path)
    _decode_or_refuse(path, data)
    if data.startswith(b"\xef\xbb\xbf"):
        data = b"   " + data[3:]  # keep offsets; pyarrow strips the padding from the name
    if not data or data.isspace():  # stops at the first other byte, unlike a strip()
        raise ExtractRefusedError(path, 1, None, "the file is empty (expected a header line)")

    invalid: list[tuple[int, str, int]] = []

    def keep_invalid(row: pacsv.InvalidRow) -> str:
        invalid.append((row.number, row.text, row.actual_columns))
        return "skip"

    try:
        table = pacsv.read_csv(
            pa.py_buffer(data),
            read_options=pacsv.ReadOptions(use_threads=False, block_size=MAX_LINE_BYTES),
            parse_options=pacsv.ParseOptions(
                invalid_row_handler=keep_invalid, newlines_in_values=True
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in {*columns, *_raw_header(data)}},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as error:
        _refuse_overlong_line(path, data)
        raise ExtractRefusedError(path, 1, None, f"not a readable CSV file ({error})") from error

    header = [name.strip() for name in table.column_names]
    _check_header(path, header, columns)
    table = table.rename_columns(header).select(columns)
    starts = None
    bare_returns = data.count(b"\r") - data.count(b"\r\n")
    lines = data.count(b"\n") + bare_returns + (not data.endswith((b"\n", b"\r")))
    if table.num_rows + len(invalid) + 1 == lines:
        row_lines = np.arange(1, lines + 1)  # no blank line: row k is on line k
    else:
        starts = _line_starts(data)
        row_lines = _nonblank_lines(data, starts)  # row k (header = 1) is on row_lines[k-1]
    if any(len(text) > MAX_LINE_BYTES for _, text, _ in invalid):
        _refuse_overlong_line(path, data)
    if invalid and table.num_rows == 0:
        number, _, width = invalid[0]
        raise ExtractRefusedError(
            path,
            int(row_lines[number - 1]),
            None,
            f"expected {len(columns)} fields ({', '.join(columns)}) but every row has a different "
            f"count (first: {width})",
        )
    invalid_numbers = np.array([number for number, _, _ in invalid], dtype=np.int64)
    data_rows = np.arange(2, len(row_lines) + 1)
    good_rows = np.setdiff1d(data_rows, invalid_numbers, assume_unique=True)
    rows = table.to_pandas()
    padded = False
    for name in columns:
        stripped = rows[name].str.strip()
        padded = padded or bool((stripped != rows[name]).any())
        rows[name] = stripped
    rows[LINE] = row_lines[good_rows - 1]
    rejects = pd.DataFrame(
        {
            "line_number": row_lines[invalid_numbers - 1] if len(invalid) else [],
            "field_name": None,
            "reason": Reason.WRONG_COLUMN_COUNT.value,
            "detail": [f"expected {len(columns)} fields, found {width}" for _, _, width in invalid],
            "raw_line": [text for _, text, _ in invalid],
        }
    )
    return CsvFile(
        path=path,
        dataset=dataset,
        rows=rows,
        sha256=hashlib.sha256(data).hexdigest(),
        structural_rejects=rejects,
        padded=padded,
        _data=data,
        _line_starts=starts,
    )


class WrongHeaderError(ExtractRefusedError):
    """The header does not name the contract's columns (missing, unexpected or repeated)."""


def _raw_header(data: bytes) -> list[str]:
    """The header's names exactly as written (padding included): every column is read as
    text, so a padded name such as ``"amount "`` is never typed by the reader's inference."""
    first = re.split(rb"\r\n|\r|\n", data[: 1 << 16], maxsplit=1)[0]
    try:
        return next(csv.reader([first.decode("utf-8")]), [])
    except (UnicodeDecodeError, csv.Error):
        return []


def _check_header(path: Path, header: list[str], columns: list[str]) -> None:
    missing = [name for name in columns if name not in header]
    unexpected = [name for name in header if name not in columns]
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if missing:
        raise WrongHeaderError(
            path,
            1,
            missing[0],
            f"wrong header: missing column(s) {', '.join(missing)}; expected {', '.join(columns)}",
        )
    if unexpected or duplicated:
        name = (unexpected or duplicated)[0]
        raise WrongHeaderError(
            path,
            1,
            name,
            f"wrong header: unexpected or repeated column {name!r}; expected {', '.join(columns)}",
        )


# --- column checks -------------------------------------------------------------------------


def _quoted(values: pd.Series, field_name: str, problem: str) -> Detail:
    """``field='value' problem`` for the failing rows."""
    return lambda mask: [f"{field_name}={value!r} {problem}" for value in values[mask]]


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
