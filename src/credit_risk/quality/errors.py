"""What a failed validation tells the people who must act on it."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field

LINE_WIDTH = 100
"""Log lines are wrapped here, so the Airflow log view shows them whole."""


def _wrapped(text: str, indent: str) -> list[str]:
    """``text`` as lines of at most ``LINE_WIDTH``, continuation lines indented further."""
    return textwrap.wrap(
        text,
        width=LINE_WIDTH,
        initial_indent=indent,
        subsequent_indent=indent + "    ",
        break_long_words=False,
        break_on_hyphens=False,
    ) or [indent]


@dataclass(frozen=True)
class FailedExpectation:
    """One expectation that did not hold, with what was observed."""

    expectation: str
    """The expectation type, e.g. ``expect_column_values_to_not_be_null``."""
    column: str | None
    """The column it checks, if any."""
    observed: str
    """What was observed (unexpected count and sample values, or the observed value)."""
    description: str = ""
    """What the expectation guards against, in plain words."""
    approvable: bool = False
    """A distribution check a real shift of the portfolio can break (its suite says so with
    ``meta={"approvable": True}``): on-call may approve the month. Row invariants never are."""


@dataclass
class ValidationFailedError(Exception):
    """A suite failed because the data is wrong: not retryable, and on-call must be told.

    The string form is the readable summary that ends up in the task log and in alerts.
    """

    suite: str
    month: str
    failures: list[FailedExpectation] = field(default_factory=list)
    evaluated: int = 0
    data_docs: str | None = None

    @property
    def approvable(self) -> bool:
        """Every failure is a distribution check: a person may judge the shift real."""
        return bool(self.failures) and all(failure.approvable for failure in self.failures)

    def __str__(self) -> str:
        lines = [
            f"validation suite {self.suite!r} failed for {self.month}: "
            f"{len(self.failures)} of {self.evaluated} expectations failed"
        ]
        for failure in self.failures:
            where = f" on {failure.column}" if failure.column else ""
            lines += _wrapped(f"- {failure.expectation}{where}: {failure.observed}", "  ")
            if failure.description:
                lines += _wrapped(f"({failure.description})", "      ")
        if self.data_docs:
            lines.append(f"Data Docs: {self.data_docs}")
        return "\n".join(lines)
