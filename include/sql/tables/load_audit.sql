-- Accounting of every load: rows read = rows loaded + rows quarantined, per dataset and month.
create table if not exists load_audit (
    dataset varchar(32) not null,
    partition_month char(7) not null,
    source_file varchar(512) not null,
    source_sha256 char(64) not null,
    rows_read int not null,
    rows_loaded int not null,
    rows_quarantined int not null,
    loaded_at timestamp not null default current_timestamp,
    primary key (dataset, partition_month)
) engine = innodb default charset = utf8mb4
