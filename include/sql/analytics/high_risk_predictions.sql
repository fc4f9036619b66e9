-- Next-month high-risk score of every customer with a statement at each scored month end:
-- the probability of being High Risk (utilization >= 80%) or 30+ days past due the month after.
-- Written by credit_risk.analytics.model; rescoring a month replaces that month's rows.
create table if not exists high_risk_predictions (
    customer_id varchar(32) not null,
    month char(7) not null,
    probability double not null,
    is_predicted_high_risk boolean not null,
    model_version varchar(64) not null,
    primary key (customer_id, month),
    key ix_high_risk_predictions_month (month, is_predicted_high_risk),
    key ix_high_risk_predictions_probability (month, probability),
    key ix_high_risk_predictions_customer (
        month, customer_id, probability, is_predicted_high_risk
    )
) engine = innodb default charset = utf8mb4
