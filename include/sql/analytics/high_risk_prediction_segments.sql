-- Scored customers and those predicted High Risk next month, per scored month and current risk
-- segment ('No Statement' for scores without a published statement). Refreshed by the scoring
-- job in the transaction that writes the month's scores, so the dashboard's "predicted to turn
-- High Risk" card reads a few rows instead of joining every score to its customer-month.
create table if not exists high_risk_prediction_segments (
    month char(7) not null,
    risk_category varchar(16) not null,
    scored int not null,
    predicted_high_risk int not null,
    primary key (month, risk_category)
) engine = innodb default charset = utf8mb4
