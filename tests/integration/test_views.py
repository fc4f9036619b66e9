"""The published views against an independent pandas computation, and hand-written edge cases."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pandas as pd
import pytest
from pydantic import ValidationError

from credit_risk.generate.realistic import generate_realistic
from credit_risk.months import add_months
from credit_risk.settings import Settings
from credit_risk.steps import publish_extract as run
from credit_risk.warehouse.db import warehouse_from_url
from credit_risk.warehouse.load import load_extract
from tests.conftest import execute, query
from tests.integration.refresh_helpers import build_month, rebuild_everything
from tests.unit.test_extract import write_extract

pytestmark = pytest.mark.integration

CENT = Decimal("0.01")


def money(value) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def frame(db_url: str, sql: str, columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(query(db_url, sql), columns=columns)


# --- realistic data vs an independent computation ----------------------------------------------


@pytest.fixture(scope="module")
def realistic(new_db_url, tmp_path_factory):
    folder = tmp_path_factory.mktemp("realistic")
    generate_realistic(folder, customers=150, months=12, start="2023-07", seed=11)
    db_url = new_db_url()
    run(warehouse_from_url(db_url), folder)
    read = lambda name: pd.read_csv(folder / name, dtype=str, keep_default_na=False)  # noqa: E731
    return db_url, read("statements.csv"), read("transactions.csv")


def expected_monthly_spend(statements: pd.DataFrame, transactions: pd.DataFrame) -> pd.DataFrame:
    spend = (
        transactions.assign(
            month=transactions["transaction_date"].str[:7],
            amount=transactions["amount"].map(Decimal),
        )
        .groupby(["customer_id", "month"])["amount"]
        .sum()
    )
    rows = []
    for customer, months in statements.groupby("customer_id")["statement_month"]:
        month, last = months.min(), months.max()
        while month <= last:
            rows.append((customer, month, money(spend.get((customer, month), Decimal(0)))))
            month = add_months(month, 1)
    return pd.DataFrame(rows, columns=["customer_id", "month", "monthly_spend"])


def rolling(values: list[Decimal], window: int) -> list[Decimal]:
    out = []
    for index in range(len(values)):
        frame_values = values[max(0, index - window + 1) : index + 1]
        out.append(money(sum(frame_values) / len(frame_values)))
    return out


def test_monthly_spend_and_rolling_averages_match_pandas(realistic):
    db_url, statements, transactions = realistic
    expected = expected_monthly_spend(statements, transactions)
    expected["rolling_3_month_avg"] = expected.groupby("customer_id")["monthly_spend"].transform(
        lambda spend: rolling(list(spend), 3)
    )
    expected["rolling_6_month_avg"] = expected.groupby("customer_id")["monthly_spend"].transform(
        lambda spend: rolling(list(spend), 6)
    )
    actual = frame(
        db_url,
        "select customer_id, month, monthly_spend, rolling_3_month_avg, rolling_6_month_avg "
        "from customer_spend_rolling_avg order by customer_id, month",
        list(expected.columns),
    )
    pd.testing.assert_frame_equal(actual, expected.reset_index(drop=True), check_dtype=False)
    # the data does contain months without transactions, so the zero-fill is exercised
    assert (actual["monthly_spend"] == 0).any()


def test_utilization_and_risk_segments_match_pandas(realistic):
    db_url, statements, _ = realistic
    limit = statements["credit_limit"].map(Decimal)
    balance = statements["outstanding_balance"].map(Decimal)
    expected = pd.DataFrame(
        {
            "customer_id": statements["customer_id"],
            "month": statements["statement_month"],
            "utilization_pct": [
                money(b * 100 / lim) for b, lim in zip(balance, limit, strict=True)
            ],
            "risk_category": [
                "High Risk"
                if b >= Decimal("0.8") * lim
                else "Medium Risk"
                if b >= Decimal("0.5") * lim
                else "Low Risk"
                for b, lim in zip(balance, limit, strict=True)
            ],
        }
    ).sort_values(["customer_id", "month"], ignore_index=True)
    actual = frame(
        db_url,
        "select customer_id, month, utilization_pct, risk_category from risk_segmentation "
        "order by customer_id, month",
        list(expected.columns),
    )
    pd.testing.assert_frame_equal(actual, expected, check_dtype=False)
    assert set(actual["risk_category"]) == {"High Risk", "Medium Risk", "Low Risk"}


def test_customer_risk_current_is_each_customers_latest_statement(realistic):
    db_url, statements, _ = realistic
    latest = statements.groupby("customer_id")["statement_month"].max()
    actual = dict(query(db_url, "select customer_id, month from customer_risk_current"))
    assert actual == latest.to_dict()


def test_bank_transactions_view_has_one_row_per_transaction_with_its_statement(realistic):
    db_url, statements, transactions = realistic
    assert query(db_url, "select count(*) from bank_transactions")[0][0] == len(transactions)
    sample = transactions.iloc[len(transactions) // 2]
    statement = statements[
        (statements["customer_id"] == sample["customer_id"])
        & (statements["statement_month"] == sample["transaction_date"][:7])
    ].iloc[0]
    rows = query(
        db_url,
        "select credit_limit, outstanding_balance from bank_transactions "
        "where customer_id = %s and transaction_date = %s and transaction_amount = %s",
        (sample["customer_id"], sample["transaction_date"], sample["amount"]),
    )
    assert (money(statement["credit_limit"]), money(statement["outstanding_balance"])) in rows


# --- hand-written edge cases -------------------------------------------------------------------

EDGE_CUSTOMERS = "customer_id,opened_date,credit_tier,region\n" + "".join(
    f"E{number},,," + "\n" for number in range(1, 10)
)
EDGE_STATEMENTS = (
    # out of order on purpose
    "E3,2024-01,1000.00,795.00,,,\n"  # 79.5%: Medium (the seed said Low)
    "E1,2024-01,1000.00,800.00,,,\n"  # exactly 80%: High
    "E2,2024-01,1000.00,500.00,,,\n"  # exactly 50%: Medium
    "E4,2024-01,1000.00,499.99,,,\n"  # just under 50%: Low
    "E5,2024-01,,300.00,,,\n"  # missing limit: Unknown
    "E6,2024-01,1000.00,-50.00,,,\n"  # credit balance: Low, negative utilization
    "E7,2024-01,1000.00,1200.00,,,\n"  # over limit: High, 120%
    "E8,2024-03,1000.00,100.00,,,\n"  # gap: no February statement
    "E8,2024-01,1000.00,100.00,,,\n"
    "E9,2024-01,3000.00,2399.99,,,\n"  # 79.9997%: Medium, shown as 80.00
)
EDGE_TRANSACTIONS = (
    "X1,E8,2024-03-15,600.00,purchase,,\n"
    "X2,E8,2024-01-10,350.00,purchase,,\n"
    "X3,E8,2024-01-20,-50.00,refund,,\n"
    "X4,E8,2024-02-03,0.01,purchase,,\n"
    "X5,E1,2024-01-31,10.00,purchase,,\n"
)


@pytest.fixture(scope="module")
def edges(new_db_url, tmp_path_factory) -> str:
    folder = write_extract(
        Path(tmp_path_factory.mktemp("edges")),
        customers=EDGE_CUSTOMERS,
        statements=EDGE_STATEMENTS,
        transactions=EDGE_TRANSACTIONS,
    )
    db_url = new_db_url()
    # hand-made edge cases are not a plausible portfolio (a third of it Unknown): no gates here
    report = run(warehouse_from_url(db_url), folder, validate=False)
    assert report.loaded["rows_quarantined"] == 0
    # a zero limit is quarantined at load, so it can only come from elsewhere: write it directly
    execute(
        db_url,
        "insert into statements (customer_id, statement_month, credit_limit, outstanding_balance) "
        "values ('E0', '2024-01', 0, 10)",
    )
    republish(db_url)
    return db_url


def republish(db_url: str) -> None:
    rebuild_everything(warehouse_from_url(db_url))


@pytest.mark.parametrize(
    ("customer", "utilization", "category"),
    [
        ("E1", Decimal("80.00"), "High Risk"),
        ("E2", Decimal("50.00"), "Medium Risk"),
        ("E3", Decimal("79.50"), "Medium Risk"),
        ("E4", Decimal("50.00"), "Low Risk"),  # 49.999% rounds to 50.00 but is Low
        ("E5", None, "Unknown"),
        ("E6", Decimal("-5.00"), "Low Risk"),
        ("E7", Decimal("120.00"), "High Risk"),
        ("E9", Decimal("80.00"), "Medium Risk"),  # 79.9997% rounds to 80.00 but is Medium
        ("E0", None, "Unknown"),
    ],
)
def test_risk_segment_edges(edges, customer, utilization, category):
    rows = query(
        edges,
        "select utilization_pct, risk_category from risk_segmentation "
        "where customer_id = %s and month = '2024-01'",
        (customer,),
    )
    assert rows == [(utilization, category)]


def test_a_gap_between_statements_still_gets_a_spend_row_and_counts_in_the_averages(edges):
    rows = query(
        edges,
        "select month, monthly_spend, rolling_3_month_avg, rolling_6_month_avg "
        "from customer_spend_rolling_avg where customer_id = 'E8' order by month",
    )
    assert rows == [
        ("2024-01", Decimal("300.00"), Decimal("300.00"), Decimal("300.00")),  # refund nets off
        ("2024-02", Decimal("0.01"), Decimal("150.01"), Decimal("150.01")),  # no statement
        ("2024-03", Decimal("600.00"), Decimal("300.00"), Decimal("300.00")),
    ]


def test_a_month_without_transactions_has_zero_spend(edges):
    rows = query(
        edges,
        "select month, monthly_spend from monthly_customer_spend where customer_id = 'E2' "
        "order by month",
    )
    # E2's only statement is January's; the months after it (within five) are rows of zero
    # spend without a statement, so the averages run down instead of stopping
    assert rows == [(month, Decimal("0.00")) for month in ("2024-01", "2024-02", "2024-03")]
    assert query(edges, "select month from risk_segmentation where customer_id = 'E2'") == [
        ("2024-01",)
    ]


def test_one_utilization_row_per_statement_not_per_transaction(edges):
    (statements,) = query(edges, "select count(*) from statements")[0]
    assert query(edges, "select count(*) from credit_utilization")[0][0] == statements
    assert query(
        edges,
        "select count(*) from (select customer_id, month from credit_utilization "
        "group by customer_id, month having count(*) > 1) as repeated",
    ) == [(0,)]


def test_rolling_3_month_avg_view_gives_each_transaction_its_months_average(edges):
    rows = query(
        edges,
        "select transaction_date, transaction_amount, rolling_3m_avg_spend "
        "from rolling_3_month_avg where customer_id = 'E8' order by transaction_date",
    )
    assert rows == [
        (pd.Timestamp("2024-01-10").date(), Decimal("350.00"), Decimal("300.00")),
        (pd.Timestamp("2024-01-20").date(), Decimal("-50.00"), Decimal("300.00")),
        (pd.Timestamp("2024-02-03").date(), Decimal("0.01"), Decimal("150.01")),
        (pd.Timestamp("2024-03-15").date(), Decimal("600.00"), Decimal("300.00")),
    ]


def test_thresholds_are_configurable(edges, settings_env):
    settings_env(high_risk_ratio="0.75", medium_risk_ratio="0.40")
    try:
        republish(edges)
        assert query(
            edges,
            "select risk_category from risk_segmentation where customer_id = 'E3'",
        ) == [("High Risk",)]
        assert query(
            edges, "select risk_category from risk_segmentation where customer_id = 'E4'"
        ) == [("Medium Risk",)]
    finally:
        settings_env(high_risk_ratio="0.80", medium_risk_ratio="0.50")
        republish(edges)


def test_pre_aggregated_portfolio_tables_match_the_statements(realistic):
    db_url, statements, transactions = realistic
    balance = statements.assign(balance=statements["outstanding_balance"].map(Decimal))
    expected_balance = balance.groupby("statement_month")["balance"].sum().map(money).to_dict()
    actual_balance = dict(
        query(
            db_url,
            "select month, sum(total_balance) from published_portfolio_month group by month",
        )
    )
    assert actual_balance == expected_balance
    segments = query(
        db_url,
        "select month, risk_category, count(*) from risk_segmentation group by 1, 2",
    )
    portfolio = query(
        db_url,
        "select month, risk_category, statements from published_portfolio_month "
        "where risk_category <> 'No Statement'",
    )
    assert sorted(segments) == sorted(portfolio)
    spend = expected_monthly_spend(statements, transactions)
    expected_spend = spend.groupby("month")["monthly_spend"].sum().map(money).to_dict()
    actual_spend = dict(
        query(db_url, "select month, sum(total_spend) from published_portfolio_month group by 1")
    )
    assert actual_spend == expected_spend
    buckets = dict(
        query(db_url, "select month, sum(statements) from published_utilization_buckets group by 1")
    )
    assert buckets == statements.groupby("statement_month").size().to_dict()


def test_the_build_gives_the_same_snapshot_whatever_its_temporary_table_memory(
    new_db_url, tmp_path
):
    """``build_temp_table_mb`` only decides where the server keeps its temporary tables."""
    db_url = new_db_url()
    warehouse = warehouse_from_url(db_url)
    load_extract(warehouse, write_extract(tmp_path), "2024-03")
    execute(db_url, "update month_ledger set state = 'validated'")
    built = {}
    for megabytes in (16, 512):
        build = build_month(warehouse, "2024-03", settings=Settings(build_temp_table_mb=megabytes))
        built[megabytes] = query(
            db_url,
            f"select * from {build.table('published_customer_month')} order by customer_id, month",
        )
    assert built[16] == built[512] and len(built[16]) == 2
    with pytest.raises(ValidationError, match="build_temp_table_mb"):
        Settings(build_temp_table_mb=8)
