-- Spending anomalies per customer-month (credit_risk.analytics.anomalies.detect_anomalies).
-- Baselines come from prior published months only; a month is rewritten as a whole, in one
-- transaction, so a rerun gives the same rows. Ground truth (labels.csv) is never stored here.
create table if not exists spend_anomalies (
    customer_id varchar(32) not null,
    month char(7) not null,
    monthly_spend decimal(14, 2) not null,
    -- mean and sample standard deviation of the prior baseline months (NULL without them)
    baseline_mean decimal(14, 2) null,
    baseline_std decimal(14, 2) null,
    -- (monthly_spend - baseline_mean) / max(baseline_std, floors); NULL without prior months
    z_score decimal(12, 2) null,
    is_anomaly boolean not null,
    -- why: one reason per detector that fired, or "insufficient history ..."; NULL otherwise
    anomaly_reason varchar(1000) null,
    -- prior months in the baseline (capped at the baseline window)
    history_months int not null,
    -- comma-separated names of the detectors that fired
    detectors varchar(200) null,
    -- detector family and a hash of the thresholds that produced the row
    model_version varchar(32) not null,
    detected_at timestamp not null default current_timestamp,
    primary key (customer_id, month),
    key ix_spend_anomalies_month (month, is_anomaly)
) engine = innodb default charset = utf8mb4
