-- One row per publication: which months it replaced, from which build, since when (the
-- dashboard's freshness). The row counts are those of the months it replaced.
create table if not exists publications (
    publication_id bigint not null auto_increment,
    run_month char(7) null,
    latest_month char(7) null,
    months varchar(2000) null,
    build_id bigint null,
    customer_month_rows int not null,
    transaction_rows int not null,
    published_by varchar(250) not null,
    published_at timestamp(6) not null default current_timestamp(6),
    primary key (publication_id)
) engine = innodb default charset = utf8mb4
