-- The published data at transaction grain, one partition per month (see
-- published_customer_month). transaction_id is unique across months: the load refuses an id
-- another month holds.
create table if not exists published_transactions (
    transaction_id varchar(64) not null,
    customer_id varchar(32) not null,
    transaction_date date not null,
    month char(7) not null,
    transaction_amount decimal(14, 2) not null,
    transaction_type varchar(16) not null,
    merchant_category varchar(40) null,
    channel varchar(16) null,
    credit_limit decimal(14, 2) null,
    outstanding_balance decimal(14, 2) null,
    rolling_3m_avg_spend decimal(14, 2) null,
    primary key (transaction_id, month),
    key ix_published_transactions_customer (customer_id, transaction_date),
    key ix_published_transactions_month (month, customer_id)
) engine = innodb default charset = utf8mb4
partition by list columns(month) (
    partition p000000 values in ('0000-00')
)
