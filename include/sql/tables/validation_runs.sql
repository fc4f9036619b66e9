-- Every run of a Great Expectations suite: what was checked, whether it passed, where the
-- Data Docs are. The dashboard shows the latest; on-call reads the failures. A failed published
-- suite that on-call approved as a real shift keeps is_success = false and says who approved it
-- and why.
create table if not exists validation_runs (
    validation_run_id bigint not null auto_increment,
    suite varchar(64) not null,
    stage varchar(16) not null,
    partition_month char(7) not null,
    is_success boolean not null,
    evaluated_expectations int not null,
    failed_expectations int not null,
    data_docs_path varchar(1024) null,
    failures text null,
    run_id varchar(250) null,
    validated_at timestamp(6) not null default current_timestamp(6),
    approved_by varchar(250) null,
    approved_at timestamp(6) null,
    approval_reason varchar(1000) null,
    primary key (validation_run_id),
    key ix_validation_runs_month (partition_month, stage, validated_at)
) engine = innodb default charset = utf8mb4
