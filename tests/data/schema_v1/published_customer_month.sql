-- The published snapshot at customer-month grain. Readers reach it only through the published
-- views; a run fills a candidate copy (same shape), validates it and swaps it in with one
-- atomic rename, so readers see the last validated snapshot or the next one, never a mix.
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
    is_latest_statement boolean not null,
    primary key (customer_id, month),
    key ix_published_customer_month_month (month, risk_category),
    key ix_published_customer_month_spend (month, monthly_spend),
    key ix_published_customer_month_at_risk (
        month, risk_category, utilization_pct, customer_id,
        credit_limit, outstanding_balance, days_past_due, monthly_spend
    ),
    key ix_published_customer_month_arrears (month, risk_category, days_past_due)
) engine = innodb default charset = utf8mb4
