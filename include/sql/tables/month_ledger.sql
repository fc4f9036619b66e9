-- One row per month: its state and the runs that moved it there. This is what decides what a
-- refresh builds and what may be published.
--   loaded     a load committed the month's current rows (load_id), not validated yet
--   validated  the loaded suite passed on exactly that load
--   published  readers see the month, built from exactly that load (published_load_id)
--   failed     a gate failed on the current load (failed_stage: loaded or published); a
--              month whose published gate failed on distribution checks only waits here for
--              on-call's decision, and becomes validated when approved (approved_by, reason)
-- A month that is not published blocks every later month whose 3- and 6-month windows read it.
-- Written in the same transaction as the data it describes (the load, the publication).
create table if not exists month_ledger (
    month char(7) not null,
    state varchar(16) not null,
    load_id varchar(64) not null,
    loaded_by varchar(250) not null,
    loaded_at timestamp(6) not null default current_timestamp(6),
    validated_by varchar(250) null,
    validated_at timestamp(6) null,
    published_load_id varchar(64) null,
    published_build_id bigint null,
    published_by varchar(250) null,
    published_at timestamp(6) null,
    failed_stage varchar(16) null,
    failed_by varchar(250) null,
    failed_at timestamp(6) null,
    failure varchar(1000) null,
    approved_by varchar(250) null,
    approved_at timestamp(6) null,
    approval_reason varchar(1000) null,
    primary key (month)
) engine = innodb default charset = utf8mb4
