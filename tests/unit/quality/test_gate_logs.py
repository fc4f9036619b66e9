"""A gate's log is its verdict: no Great Expectations import noise, lines that fit the log view."""

from __future__ import annotations

import subprocess
import sys

from credit_risk.quality.errors import LINE_WIDTH, FailedExpectation, ValidationFailedError


def test_importing_the_suites_logs_nothing_from_great_expectations():
    # a fresh interpreter with INFO logging, as an Airflow task has
    script = (
        "import logging; logging.basicConfig(level=logging.INFO)\n"
        "import credit_risk.quality.input_suite, credit_risk.quality.loaded_suite\n"
        "import credit_risk.quality.published_suite, credit_risk.quality.analytics_suite\n"
        "import great_expectations.expectations\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=300
    )
    noise = [line for line in result.stderr.splitlines() if "great_expectations" in line]
    assert noise == [], noise[:5]


def test_a_failed_gate_reads_verdict_first_in_lines_that_fit():
    observed = "observed 0.4812 of statements High Risk, " + "previous month 0.1975; " * 8
    error = ValidationFailedError(
        suite="published",
        month="2024-10",
        failures=[
            FailedExpectation(
                "expect_column_mean_to_be_between", "is_high_risk", observed, "share shift " * 12
            )
        ],
        evaluated=40,
        data_docs="/data/data_docs/2024-10/published/index.html",
    )
    lines = str(error).splitlines()
    assert (
        lines[0] == "validation suite 'published' failed for 2024-10: 1 of 40 expectations failed"
    )
    assert all(len(line) <= LINE_WIDTH for line in lines), max(lines, key=len)
    assert lines[1].startswith("  - expect_column_mean_to_be_between on is_high_risk: observed")
    text = " ".join(line.strip() for line in lines)
    assert " ".join(observed.split()) in text  # nothing lost in the wrapping


def test_only_the_month_over_month_checks_of_the_published_suite_can_be_approved():
    from credit_risk.quality import published_suite
    from credit_risk.quality.runner import APPROVABLE

    datasets = published_suite.datasets(["2024-02"], "published_customer_month")
    approvable = {
        expectation.column
        for dataset in datasets
        for expectation in dataset.expectations
        if (expectation.meta or {}).get(APPROVABLE)
    }
    assert approvable == {"high_risk_share_shift_beyond_noise", "utilization_psi_beyond_noise"}
    row = FailedExpectation("unexpected_rows_expectation", None, "3 unexpected rows")
    shift = FailedExpectation(
        "expect_column_max_to_be_between", "utilization_psi", "3.1", approvable=True
    )
    assert ValidationFailedError("published", "2024-02", [shift], 9).approvable
    assert not ValidationFailedError("published", "2024-02", [shift, row], 9).approvable
    assert not ValidationFailedError("published", "2024-02", [], 9).approvable
