-- Customer dimension: one row per card customer, upserted by every load.
create table if not exists customers (
    customer_id varchar(32) not null,
    opened_date date null,
    credit_tier varchar(20) null,
    region varchar(40) null,
    loaded_at timestamp not null default current_timestamp,
    primary key (customer_id)
) engine = innodb default charset = utf8mb4
