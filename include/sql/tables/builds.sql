-- One row per refresh build: the months it rebuilt into its own candidate tables
-- (candidate_b<build_id>_*), those among them whose data changed, the loads it read (so
-- publishing can tell a stale build), and what became of it: built, validated, published,
-- failed or superseded.
create table if not exists builds (
    build_id bigint not null auto_increment,
    trigger_month char(7) null,
    first_month char(7) not null,
    last_month char(7) not null,
    months varchar(2000) not null,
    changed_months varchar(2000) not null,
    is_full boolean not null,
    inputs json not null,
    state varchar(16) not null,
    run_id varchar(250) not null,
    detail varchar(1000) null,
    built_at timestamp(6) not null default current_timestamp(6),
    finished_at timestamp(6) null,
    primary key (build_id),
    key ix_builds_state (state, build_id)
) engine = innodb default charset = utf8mb4
