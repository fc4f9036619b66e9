-- Input rows that broke the data contract, with where they came from and why.
-- A reload of a month replaces that month's quarantine.
create table if not exists quarantined_rows (
    quarantine_id bigint not null auto_increment,
    partition_month char(7) not null,
    dataset varchar(32) not null,
    source_file varchar(512) not null,
    line_number int not null,
    field_name varchar(64) null,
    reason varchar(48) not null,
    detail varchar(512) null,
    raw_line text null,
    quarantined_at timestamp not null default current_timestamp,
    primary key (quarantine_id),
    key ix_quarantined_rows_month (partition_month, dataset)
) engine = innodb default charset = utf8mb4
