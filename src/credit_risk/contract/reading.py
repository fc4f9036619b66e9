"""Reading one file under the contract: bytes (plain or gzip), UTF-8, lines and their numbers,
the header, then pyarrow's CSV reader; a file broken as a whole is refused with its file, line
and field."""

from __future__ import annotations

import csv
import gzip
import hashlib
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from credit_risk.contract.core import Detail, ExtractRefusedError, Reason
from credit_risk.layout import (
    GZIP_MAGIC,
    LINE,
)


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
