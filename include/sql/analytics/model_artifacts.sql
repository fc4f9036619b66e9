-- The champion each training run of the high-risk model scored with, pickled, so that runs
-- between retrainings (CREDIT_RISK_MODEL_RETRAIN_EVERY_MONTHS > 1) score with it instead of
-- training again. One row per model_version (deterministic: the same data and settings give
-- the same version, and rewriting it stores the same model). Only this pipeline writes it:
-- a pickle is code, so nobody else may.
create table if not exists model_artifacts (
    model_version varchar(64) not null,
    trained_for_month char(7) not null,
    champion varchar(32) not null,
    decision_threshold double not null,
    train_first_month char(7) not null,
    train_last_month char(7) not null,
    sklearn_version varchar(32) not null,
    pickled_model longblob not null,
    created_at timestamp(6) not null default current_timestamp(6),
    primary key (model_version),
    key ix_model_artifacts_month (trained_for_month)
) engine = innodb default charset = utf8mb4
