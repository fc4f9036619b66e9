-- The risk-segment thresholds (balance / limit), one row, written by the build step from
-- CREDIT_RISK_HIGH_RISK_RATIO and CREDIT_RISK_MEDIUM_RISK_RATIO so that the views and the
-- settings can never disagree.
create table if not exists risk_thresholds (
    threshold_set varchar(16) not null,
    high_risk_ratio decimal(8, 4) not null,
    medium_risk_ratio decimal(8, 4) not null,
    updated_at timestamp not null default current_timestamp,
    primary key (threshold_set)
) engine = innodb default charset = utf8mb4
