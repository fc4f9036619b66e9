-- One row per committed load: its XA transaction id. A load writes through two connections,
-- each a branch of one XA transaction; the main branch records its id here and commits first,
-- so a load interrupted between the two commits is finished by the next load (this row says
-- the load was decided) and one interrupted earlier is rolled back (no row).
create table if not exists load_commits (
    xa_transaction_id varchar(64) not null,
    committed_at timestamp not null default current_timestamp,
    primary key (xa_transaction_id)
) engine = innodb default charset = utf8mb4
