-- The published data at customer-month grain, one partition per month. Readers reach it only
-- through the published views; a refresh builds the months it changes in candidate tables of
-- the same shape, validates them and replaces exactly those months in one transaction, so
-- readers see the months as they were or as they are now, never a mix. The month's
-- transaction counts and amounts (all, cash advances, charges: purchases and cash) are kept
-- here so the analytics read a year of customer-months, never a year of transactions.
-- The secondary keys serve the dashboard: a month's segment in spend, utilization or
-- days-past-due order, so its at-risk table reads one page instead of the whole segment; the
-- utilization one also carries every column of the at-risk CSV export, which then reads
-- 10,000 rows from one stretch of the index instead of 10,000 scattered table rows.
create table if not exists published_customer_month (
    customer_id varchar(32) not null,
    month char(7) not null,
    monthly_spend decimal(14, 2) not null,
    rolling_3_month_avg decimal(14, 2) not null,
    rolling_6_month_avg decimal(14, 2) not null,
    credit_limit decimal(14, 2) null,
    outstanding_balance decimal(14, 2) null,
    utilization_pct decimal(10, 2) null,
    risk_category varchar(16) null,
    payment_amount decimal(14, 2) null,
    minimum_due decimal(14, 2) null,
    days_past_due int null,
    has_statement boolean not null,
    transaction_count int not null,
    cash_advance_count int not null,
    cash_advance_amount decimal(14, 2) not null,
    charge_amount decimal(14, 2) not null,
    primary key (customer_id, month),
    key ix_published_customer_month_month (month, risk_category),
    key ix_published_customer_month_spend (month, monthly_spend),
    key ix_published_customer_month_at_risk (
        month, risk_category, utilization_pct, customer_id,
        credit_limit, outstanding_balance, days_past_due, monthly_spend
    ),
    key ix_published_customer_month_arrears (month, risk_category, days_past_due)
) engine = innodb default charset = utf8mb4
partition by list columns(month) (
    partition p000000 values in ('0000-00')
)
