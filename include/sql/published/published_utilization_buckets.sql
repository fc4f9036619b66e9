-- Published snapshot of int_utilization_buckets.
create table if not exists published_utilization_buckets (
    month char(7) not null,
    bucket_floor_pct int not null,
    statements int not null,
    primary key (month, bucket_floor_pct)
) engine = innodb default charset = utf8mb4
