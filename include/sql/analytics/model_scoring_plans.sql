-- The plan of a month's scoring run, between its steps: the champion it scores with (trained
-- for the month, or a stored one reused), the run's measurements and how many customers it
-- must score. Written once per month by the training step, read by each shard's scoring step
-- and by the step that records the run (credit_risk.analytics.model). Pickled: only this
-- pipeline writes it.
create table if not exists model_scoring_plans (
    scored_month char(7) not null,
    run_status varchar(16) not null,
    model_version varchar(64) null,
    customers_to_score int not null,
    pickled_plan longblob not null,
    created_at timestamp(6) not null default current_timestamp(6),
    primary key (scored_month)
) engine = innodb default charset = utf8mb4
