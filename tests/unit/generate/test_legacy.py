"""The legacy profile reproduces the seed's dataset byte for byte."""

from __future__ import annotations

import hashlib

import pytest

from credit_risk.generate.legacy import generate_legacy, legacy_frame
from tests.conftest import FIXTURE_SHA256


def test_default_legacy_output_is_byte_identical_to_the_seed_fixture(tmp_path, seed_fixture):
    generate_legacy(tmp_path)
    produced = (tmp_path / "bank_transactions.csv").read_bytes()
    assert hashlib.sha256(produced).hexdigest() == FIXTURE_SHA256
    assert produced == seed_fixture.read_bytes()


def test_legacy_frame_keeps_balance_constant_per_customer():
    frame = legacy_frame()
    assert len(frame) == 1200
    assert frame.groupby("customer_id")["outstanding_balance"].nunique().eq(1).all()
    assert frame.groupby("customer_id")["credit_limit"].nunique().eq(1).all()


@pytest.mark.parametrize(("customers", "months"), [(3, 2), (1000, 1)])
def test_legacy_ids_and_dates_follow_the_seed_conventions(customers, months):
    frame = legacy_frame(customers=customers, months=months, start="2024-11")
    assert len(frame) == customers * months
    width = max(3, len(str(customers)))
    assert frame["customer_id"].iloc[0] == "CUST_" + "1".zfill(width)
    assert frame["transaction_date"].iloc[0] == "2024-11-30"
    if months > 1:
        assert frame["transaction_date"].iloc[1] == "2024-12-31"


def test_another_seed_gives_other_data():
    assert not legacy_frame(seed=7).equals(legacy_frame(seed=42))
