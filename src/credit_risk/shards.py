"""Customer shards: how a month's per-customer work splits over parallel tasks.

Why by customer: every per-customer figure of the analytics (a customer's features, their
score under a trained model) reads that customer's rows only, so a month splits into shards
whose results are those of the whole month, row for row; what needs the whole portfolio (the
model's training, the month's run record) stays one task before or after them.

Why ``CRC32`` of the id: the warehouse and Python compute the same value (``crc32()`` on MySQL
and MariaDB, :func:`zlib.crc32` here), so a shard is a ``WHERE`` clause the server filters with,
not a read of the whole month followed by a filter, and the same customer is in the same shard
in every month and every run. The count is ``CREDIT_RISK_SHARDS`` (1: no split).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count``: the customers whose CRC32 of the id is ``index`` mod
    ``count``."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(f"shard {self.index} of {self.count} does not exist")

    @property
    def whole(self) -> bool:
        """The only shard of 1: every customer."""
        return self.count == 1

    def sql(self, column: str = "customer_id") -> str:
        """The condition on ``column`` that keeps this shard's rows (``1 = 1`` when whole).
        Integers only, so it is safe to put into a statement."""
        if self.whole:
            return "1 = 1"
        return f"mod(crc32({column}), {int(self.count)}) = {int(self.index)}"

    def contains(self, customer_ids: pd.Series) -> np.ndarray:
        """Which of ``customer_ids`` belong to this shard (what :meth:`sql` keeps)."""
        if self.whole:
            return np.ones(len(customer_ids), dtype=bool)
        codes = customer_ids.astype(str).map(lambda value: zlib.crc32(value.encode("utf-8")))
        return (codes.to_numpy(np.int64) % self.count) == self.index

    def label(self) -> str:
        """``shard 2/4`` (1-based, as people count)."""
        return f"shard {self.index + 1}/{self.count}"


def all_shards(count: int) -> list[Shard]:
    """The ``count`` shards of a month, in order."""
    return [Shard(index, count) for index in range(count)]


__all__ = ["Shard", "all_shards"]
