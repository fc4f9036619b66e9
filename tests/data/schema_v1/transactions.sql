-- Card transactions. statement_month is derived from transaction_date at load so that a month
-- can be replaced by one delete. Only the primary key: a secondary index made every bulk load
-- 45% slower (benchmarks/load_benchmark.py), and every reader of this table scans it whole.
create table if not exists transactions (
    transaction_id varchar(64) not null,
    customer_id varchar(32) not null,
    transaction_date date not null,
    statement_month char(7) not null,
    amount decimal(14, 2) not null,
    transaction_type varchar(16) not null,
    merchant_category varchar(40) null,
    channel varchar(16) null,
    primary key (transaction_id)
) engine = innodb default charset = utf8mb4
