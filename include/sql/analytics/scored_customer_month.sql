-- Every scored customer-month with its published figures, stored in probability order within
-- each month and risk segment. Written by the scoring job in the transaction that writes the
-- month's scores, so the dashboard's "at-risk customers by probability" export reads one
-- stretch of this table instead of joining scattered scores and customer-months.
create table if not exists scored_customer_month (
    month char(7) not null,
    risk_category varchar(16) not null,
    probability double not null,
    customer_id varchar(32) not null,
    is_predicted_high_risk boolean not null,
    utilization_pct decimal(10, 2) null,
    credit_limit decimal(14, 2) null,
    outstanding_balance decimal(14, 2) null,
    days_past_due int null,
    monthly_spend decimal(14, 2) null,
    primary key (month, risk_category, probability, customer_id)
) engine = innodb default charset = utf8mb4
