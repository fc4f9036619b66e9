-- One statement per customer per month: the month's closing position. One partition per
-- statement month (added by the load that brings the month), so a load replaces whole months
-- and a build reads only the months it needs.
create table if not exists statements (
    customer_id varchar(32) not null,
    statement_month char(7) not null,
    credit_limit decimal(14, 2) null,
    outstanding_balance decimal(14, 2) not null,
    payment_amount decimal(14, 2) null,
    minimum_due decimal(14, 2) null,
    days_past_due int null,
    primary key (customer_id, statement_month)
) engine = innodb default charset = utf8mb4
partition by list columns(statement_month) (
    partition p000000 values in ('0000-00')
)
