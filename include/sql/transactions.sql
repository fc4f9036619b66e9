-- Card transactions. statement_month is derived from transaction_date at load so that a month
-- can be replaced and aggregated through one index.
create table if not exists transactions (
    transaction_id varchar(64) not null,
    customer_id varchar(32) not null,
    transaction_date date not null,
    statement_month char(7) not null,
    amount decimal(14, 2) not null,
    transaction_type varchar(16) not null,
    merchant_category varchar(40) null,
    channel varchar(16) null,
    primary key (transaction_id),
    key ix_transactions_month_customer (statement_month, customer_id)
) engine = innodb default charset = utf8mb4
