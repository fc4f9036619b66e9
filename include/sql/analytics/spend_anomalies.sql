-- Spending anomalies per customer-month (credit_risk.analytics.anomalies.detect_anomalies).
-- Baselines come from prior published months only; a month is rewritten as a whole, in one
-- transaction, so a rerun gives the same rows. Ground truth (labels.csv) is never stored here.
create table if not exists spend_anomalies (
    customer_id varchar(32) not null,
    month char(7) not null,
    monthly_spend decimal(14, 2) not null,
    -- the usual month: median spend of the prior baseline months, and their robust spread
    -- (1.4826 x the median absolute deviation); NULL without prior months
    baseline_mean decimal(14, 2) null,
    baseline_std decimal(14, 2) null,
    -- robust z-score of log spend against the prior months, after the month's portfolio-wide
    -- (seasonal) uplift; NULL without prior months
    z_score decimal(12, 2) null,
    -- the month's strongest evidence over all detectors, in standard-normal units (0..12);
    -- the dashboard sorts by it; NULL for customers too new to score
    anomaly_score decimal(6, 2) null,
    is_anomaly boolean not null,
    -- why: one reason per detector that fired (strongest first), or "insufficient
    -- history ..."; NULL otherwise
    anomaly_reason varchar(1000) null,
    -- prior months in the baseline (capped at the baseline window)
    history_months int not null,
    -- comma-separated names of the detectors that fired, strongest first
    detectors varchar(200) null,
    -- detector family and a hash of the thresholds that produced the row
    model_version varchar(32) not null,
    detected_at timestamp not null default current_timestamp,
    primary key (customer_id, month),
    key ix_spend_anomalies_month (month, is_anomaly)
) engine = innodb default charset = utf8mb4
