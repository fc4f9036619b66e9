-- Published snapshot of int_credit_limit_month.
create table if not exists published_credit_limit_month (
    month char(7) not null,
    credit_limit decimal(14, 2) not null,
    customers int not null,
    transactions int not null,
    total_amount decimal(18, 2) not null,
    primary key (month, credit_limit)
) engine = innodb default charset = utf8mb4
