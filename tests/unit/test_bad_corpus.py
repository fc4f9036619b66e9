"""The bad-input corpus (``tests/data/bad/``): every case ends as ``expected.json`` says.

Each case is a monthly drop for 2024-03 with one defect, or a harmless variant that must load
(CRLF, a BOM, blank lines, padding, gzip, SQL metacharacters). A refused case names its file,
line and field; a loaded one accounts for every row (loaded or quarantined, with the reason and
the physical line).
"""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest

from credit_risk.contract import ExtractRefusedError
from credit_risk.extract import prepare_extract
from credit_risk.months import MonthWindow

CORPUS = Path(__file__).resolve().parents[1] / "data" / "bad"
EXPECTED = json.loads((CORPUS / "expected.json").read_text())
WINDOW = MonthWindow("2000-01", "2024-12")


def test_the_corpus_has_forty_cases_or_more_and_each_its_expected_outcome():
    folders = {path.name for path in CORPUS.iterdir() if path.is_dir()}
    assert len(folders) >= 40
    assert folders == set(EXPECTED)


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_each_case_ends_as_expected(case):
    expected = EXPECTED[case]
    folder = CORPUS / case
    if expected["outcome"] == "missing_file":
        with pytest.raises(FileNotFoundError, match=expected["message"]):
            prepare_extract(folder, "2024-03", set(), WINDOW)
        return
    if expected["outcome"] == "refused":
        with pytest.raises(ExtractRefusedError) as refused:
            prepare_extract(folder, "2024-03", set(), WINDOW)
        assert refused.value.path.name == expected["file"]
        assert (refused.value.line, refused.value.field_name) == (
            expected["line"],
            expected["field"],
        )
        assert expected["message"] in str(refused.value)
        assert "Nothing was loaded" in str(refused.value)
        return
    prepared = prepare_extract(folder, "2024-03", set(), WINDOW)
    loaded = {
        "customers": len(prepared.customers),
        "statements": len(prepared.statements),
        "transactions": len(prepared.transactions),
    }
    assert loaded == expected["loaded"]
    quarantined = prepared.quarantine.groupby(["dataset", "reason"]).size()
    assert [
        {"dataset": dataset, "reason": reason, "rows": int(rows)}
        for (dataset, reason), rows in quarantined.items()
    ] == expected["quarantined"]
    assert sorted(prepared.quarantine["line_number"].astype(int)) == expected["quarantined_lines"]
    per_dataset = prepared.quarantine.groupby("dataset").size()
    read = prepared.rows_read.groupby("dataset")["rows_read"].sum()
    for dataset, rows in read.items():
        assert rows == loaded[dataset] + int(per_dataset.get(dataset, 0)), dataset


@pytest.mark.parametrize("case", ["future_date", "before_earliest_month"])
def test_without_a_month_rows_outside_the_window_are_out_of_range(case):
    prepared = prepare_extract(CORPUS / case, None, set(), WINDOW)
    assert set(prepared.quarantine["reason"]) == {"month_out_of_range"}
    assert prepared.partition_months == ["2024-03"]


def test_the_corpus_is_what_its_generator_writes(tmp_path):
    """``make_corpus.py`` is the corpus's source: the committed folders match it byte for
    byte (regenerate them after changing a case)."""
    runpy.run_path(str(CORPUS / "make_corpus.py"))["main"](tmp_path)
    for case in EXPECTED:
        for path in sorted((tmp_path / case).rglob("*")):
            committed = CORPUS / case / path.relative_to(tmp_path / case)
            assert committed.exists(), committed
            if path.is_file():
                assert committed.read_bytes() == path.read_bytes(), committed
