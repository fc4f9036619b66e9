"""The month ledger: each month's state, and what a refresh of a month must build.

Why a ledger: a refresh builds only the months whose published rows can change, so something
must say which months are loaded, validated and published, and from which load. It is one
table (``month_ledger``), written in the transaction of the data it describes: the load writes
``loaded`` (with the load's id), the loaded gate ``validated`` or ``failed``, the publication
``published`` (with the id of the load it published).

What a refresh of month M builds (``plan_refresh``), with W = 6 (the 6-month window):

- M itself;
- backwards, months within W - 1 of a month being built that are loaded and validated but not
  published (a parallel backfill, or a reload of an earlier month not yet published): their
  rows must be published together with M's, which read them;
- forwards, months within W - 1 of a month whose data changed that are published (their
  rolling averages read the changed month) or validated but not published yet.

It is blocked, with a message naming the month and what to do, when a month its windows read
failed a gate, and waits (``MonthNotReadyError``) while such a month is still being loaded or
validated, or has not been loaded at all while earlier months have (a gap). So a month that
failed is never published, nor any month after it, until it is fixed and rerun.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from credit_risk.catalog import WINDOW_MONTHS
from credit_risk.months import add_months, month_range, months_between

LOADED, VALIDATED, PUBLISHED, FAILED = "loaded", "validated", "published", "failed"
STAGE_LOADED, STAGE_PUBLISHED = "loaded", "published"


class MonthBlockedError(RuntimeError):
    """A month the refresh needs failed a gate: it must be fixed and rerun first (no retry)."""


class MonthNotReadyError(RuntimeError):
    """A month the refresh needs is still being loaded or validated, or is missing (waitable)."""


@dataclass(frozen=True)
class MonthRecord:
    """One ``month_ledger`` row, with the load id of the month's stored transactions."""

    month: str
    state: str
    load_id: str
    loaded_by: str = ""
    published_load_id: str | None = None
    failed_stage: str | None = None
    failed_by: str | None = None
    failure: str | None = None
    transactions_load_id: str | None = None
    """``transaction_months.load_id``: the load whose transactions are stored. It differs from
    ``load_id`` only while a load is between the commits of its two branches."""

    @property
    def is_published(self) -> bool:
        """Readers see the month exactly as its current load makes it."""
        return self.state == PUBLISHED

    @property
    def is_ready(self) -> bool:
        """The month's current load passed the loaded gate (it may be built)."""
        return self.state in (VALIDATED, PUBLISHED) or (
            self.state == FAILED and self.failed_stage == STAGE_PUBLISHED
        )

    @property
    def is_settled(self) -> bool:
        """Both branches of the month's last load have committed."""
        return self.transactions_load_id == self.load_id

    @property
    def has_published_rows(self) -> bool:
        """Some version of the month is published (maybe an earlier load's)."""
        return self.published_load_id is not None

    def describe(self) -> str:
        """The state in words, for messages."""
        if self.state == FAILED:
            detail = f": {self.failure}" if self.failure else ""
            return f"failed validate_{self.failed_stage} in run {self.failed_by}{detail}"
        return f"{self.state} by run {self.loaded_by}"


@dataclass(frozen=True)
class RefreshPlan:
    """What one refresh builds and what it reads.

    ``months`` are rebuilt (ascending); ``lookback`` are published months before them that the
    windows read; ``inputs`` is the load id of every month in either, as the plan saw them.
    """

    trigger_month: str | None
    months: list[str]
    lookback: list[str]
    inputs: dict[str, str]
    is_full: bool = False
    changed: list[str] = field(default_factory=list)
    """The months whose data changed since they were published (the reason for the build)."""

    @property
    def first_month(self) -> str:
        return self.months[0]

    @property
    def last_month(self) -> str:
        return self.months[-1]


def _blocked(month: str, blocker: MonthRecord, relation: str) -> MonthBlockedError:
    fix = (
        f"fix its extract and rerun {blocker.month} (or, for a real shift, approve it)"
        if blocker.failed_stage == STAGE_PUBLISHED
        else f"load a corrected extract for {blocker.month} and rerun it"
    )
    return MonthBlockedError(
        f"{month} is blocked: {blocker.month}, {relation}, {blocker.describe()}; {fix}, "
        f"then rerun {month}"
    )


def _not_ready(month: str, waiting_for: str, why: str) -> MonthNotReadyError:
    return MonthNotReadyError(f"{month} waits for {waiting_for}: {why}")


def _check_own_state(record: MonthRecord | None, month: str) -> MonthRecord:
    if record is None:
        raise MonthNotReadyError(f"{month} has not been loaded: load it before building it")
    if record.state == LOADED:
        raise MonthNotReadyError(
            f"{month} is loaded (run {record.loaded_by}) but has not passed the loaded suite: "
            f"run credit-risk validate --stage loaded --month {month}"
        )
    if record.state == FAILED and record.failed_stage == STAGE_LOADED:
        raise MonthBlockedError(
            f"{month} cannot be built: its load {record.describe()}; load a corrected extract "
            "and rerun it"
        )
    return record


def _check_gaps(ledger: Mapping[str, MonthRecord], month: str) -> None:
    """Months between the earliest known month and ``month`` must all be there."""
    first = min(ledger)
    if first >= month:
        return
    span = month_range(first, months_between(first, month))
    missing = [each for each in span if each not in ledger]
    if missing:
        shown = ", ".join(missing[:3]) + (
            f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        )
        raise MonthNotReadyError(
            f"{month} waits for {shown}: not loaded, though the warehouse holds months from "
            f"{first}; published months must follow each other without a gap (load and run "
            f"{missing[0]})"
        )


def plan_refresh(ledger: Mapping[str, MonthRecord], month: str) -> RefreshPlan:
    """What a refresh of ``month`` must build, from the ledger as it is (pure: no database).

    Raises:
        MonthBlockedError: a month the windows read failed a gate.
        MonthNotReadyError: a month the windows read is being loaded or validated, or missing.
    """
    record = _check_own_state(ledger.get(month), month)
    _check_gaps(ledger, month)
    months = {month}
    changed = set() if record.is_published else {month}
    reach = WINDOW_MONTHS - 1

    # backwards: what the windows of the months being built read
    lowest, candidate = month, add_months(month, -1)
    earliest = min(ledger)
    while candidate >= add_months(lowest, -reach) and candidate >= earliest:
        before = ledger[candidate]  # no gap: checked above
        if not before.is_settled:
            raise _not_ready(month, candidate, "its load is between its two commits")
        if before.is_published:
            pass
        elif before.state == FAILED:
            raise _blocked(month, before, "which its rolling windows read,")
        elif before.state == LOADED:
            raise _not_ready(
                month, candidate, f"loaded by run {before.loaded_by}, not validated yet"
            )
        else:  # validated, never published at this load: it is published together with month
            months.add(candidate)
            changed.add(candidate)
            lowest = candidate
        candidate = add_months(candidate, -1)

    # forwards: published months whose windows read a changed month, and validated ones
    horizon = add_months(max(changed), reach) if changed else month
    candidate = add_months(month, 1)
    while candidate <= horizon:
        after = ledger.get(candidate)
        if after is None:
            candidate = add_months(candidate, 1)
            continue
        if after.is_published:
            months.add(candidate)
        elif after.is_ready and after.is_settled:
            months.add(candidate)
            changed.add(candidate)
            horizon = max(horizon, add_months(candidate, reach))
        else:
            _stop_forward(ledger, month, after, horizon)
            break
        candidate = add_months(candidate, 1)

    built = sorted(months)
    lookback = [
        each
        for each in month_range(add_months(built[0], -reach), reach)
        if each in ledger and each not in months
    ]
    inputs = {each: ledger[each].load_id for each in (*lookback, *built)}
    return RefreshPlan(month, built, lookback, inputs, changed=sorted(changed))


def _stop_forward(
    ledger: Mapping[str, MonthRecord], month: str, after: MonthRecord, horizon: str
) -> None:
    """A later month cannot be rebuilt (being loaded, or failed its load): fine unless it, or a
    month after it within the windows' reach, has published rows that read the changed months."""
    readers = [
        each
        for each, record in ledger.items()
        if after.month <= each <= horizon and record.has_published_rows
    ]
    if not readers:
        return
    relation = f"whose published rows ({readers[0]}) read {month}"
    if after.state == FAILED:
        raise _blocked(month, after, relation + ",")
    raise _not_ready(month, after.month, f"{relation}, is being reloaded (run {after.loaded_by})")


def plan_full(ledger: Mapping[str, MonthRecord]) -> RefreshPlan:
    """Every month from the first, in order, up to the first that is not validated or
    published (a failed month, and everything after it, stays as it is).

    Raises:
        MonthNotReadyError: no month can be built.
    """
    if not ledger:
        raise MonthNotReadyError("nothing is loaded yet: load an extract first")
    months = []
    for month in month_range(min(ledger), months_between(min(ledger), max(ledger)) + 1):
        record = ledger.get(month)
        if record is None or record.state not in (VALIDATED, PUBLISHED) or not record.is_settled:
            break
        months.append(month)
    if not months:
        first = ledger[min(ledger)]
        raise MonthNotReadyError(
            f"the first month {first.month} cannot be built: {first.describe()}"
        )
    inputs = {month: ledger[month].load_id for month in months}
    changed = [month for month in months if not ledger[month].is_published]
    return RefreshPlan(None, months, [], inputs, is_full=True, changed=changed)


# --- the table ---------------------------------------------------------------------------------

_COLUMNS = (
    "month_ledger.month, state, month_ledger.load_id, loaded_by, published_load_id, "
    "failed_stage, failed_by, failure, transaction_months.load_id"
)


def read_ledger(cursor, *, for_update: bool = False) -> dict[str, MonthRecord]:
    """Every month's record (the ledger has one row per month: a few hundred at most)."""
    cursor.execute(
        f"select {_COLUMNS} from month_ledger "
        "left join transaction_months on transaction_months.month = month_ledger.month "
        "order by month_ledger.month" + (" for update" if for_update else "")
    )
    return {row[0]: MonthRecord(*row) for row in cursor.fetchall()}


def record_load(cursor, months: Iterable[str], load_id: str, run_id: str) -> None:
    """The months a load wrote are ``loaded`` by it (inside the load's transaction)."""
    cursor.executemany(
        "insert into month_ledger (month, state, load_id, loaded_by) values (%s, %s, %s, %s) "
        "on duplicate key update state = values(state), load_id = values(load_id), "
        "loaded_by = values(loaded_by), loaded_at = current_timestamp(6), "
        "validated_by = null, validated_at = null, "
        "approved_by = null, approved_at = null, approval_reason = null",
        [(month, LOADED, load_id, run_id) for month in months],
    )


def record_validated(cursor, month: str, load_id: str, run_id: str) -> bool:
    """The loaded suite passed on ``load_id``; False when the month has been reloaded since."""
    cursor.execute(
        "update month_ledger set state = case when state = %s then state else %s end, "
        "validated_by = %s, validated_at = current_timestamp(6), failed_stage = null "
        "where month = %s and load_id = %s",
        (PUBLISHED, VALIDATED, run_id, month, load_id),
    )
    return cursor.rowcount == 1


def record_failed(
    cursor, months: Mapping[str, str], stage: str, run_id: str, failure: str
) -> list[str]:
    """``months`` (month -> the load id the gate saw) failed ``stage``; returns those marked
    (a month reloaded since the gate ran is left to the run that reloaded it)."""
    marked = []
    for month, load_id in months.items():
        cursor.execute(
            "update month_ledger set state = %s, failed_stage = %s, failed_by = %s, "
            "failed_at = current_timestamp(6), failure = %s where month = %s and load_id = %s",
            (FAILED, stage, run_id, failure[:1000], month, load_id),
        )
        if cursor.rowcount:
            marked.append(month)
    return marked


def record_approved(
    cursor, months: Mapping[str, str], approver: str, reason: str, run_id: str
) -> list[str]:
    """On-call approved the distribution shift of ``months`` (month -> the load id the gate
    saw): they are ``validated`` again, with who approved and why; returns those marked (a
    month reloaded since is left to the run that reloaded it)."""
    marked = []
    for month, load_id in months.items():
        cursor.execute(
            "update month_ledger set state = %s, validated_by = %s, "
            "validated_at = current_timestamp(6), failed_stage = null, failure = null, "
            "approved_by = %s, approved_at = current_timestamp(6), approval_reason = %s "
            "where month = %s and load_id = %s and state = %s and failed_stage = %s",
            (
                VALIDATED,
                run_id,
                approver[:250],
                reason[:1000],
                month,
                load_id,
                FAILED,
                STAGE_PUBLISHED,
            ),
        )
        if cursor.rowcount:
            marked.append(month)
    return marked


def record_published(cursor, plan: RefreshPlan, build_id: int, run_id: str) -> None:
    """The plan's months are published at the loads it read (inside the publication)."""
    cursor.executemany(
        "update month_ledger set state = %s, published_load_id = load_id, "
        "published_build_id = %s, published_by = %s, published_at = current_timestamp(6), "
        "failed_stage = null where month = %s and load_id = %s",
        [(PUBLISHED, build_id, run_id, month, plan.inputs[month]) for month in plan.months],
    )


def replace_plan(plan: RefreshPlan, **changes) -> RefreshPlan:
    """A copy of ``plan`` with some fields changed."""
    return dataclasses.replace(plan, **changes)
