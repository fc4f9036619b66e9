-- Scores of a month's customer shards before the month's run records them: each shard's
-- scoring step replaces its own rows, and the recording step copies the month into
-- high_risk_predictions in one transaction once every shard is in, so readers never see a
-- month scored in part. Cleared for the month when its scoring is planned again.
create table if not exists high_risk_prediction_shards (
    month char(7) not null,
    shard_index int not null,
    shard_count int not null,
    customer_id varchar(32) not null,
    probability double not null,
    is_predicted_high_risk boolean not null,
    model_version varchar(64) not null,
    primary key (month, customer_id),
    key ix_high_risk_prediction_shards_shard (month, shard_count, shard_index)
) engine = innodb default charset = utf8mb4
