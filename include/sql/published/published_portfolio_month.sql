-- Published snapshot of int_portfolio_month (a refresh replaces the months it rebuilds).
create table if not exists published_portfolio_month (
    month char(7) not null,
    risk_category varchar(16) not null,
    customers int not null,
    statements int not null,
    total_spend decimal(18, 2) not null,
    total_rolling_3_month_avg decimal(18, 2) not null,
    total_rolling_6_month_avg decimal(18, 2) not null,
    total_credit_limit decimal(18, 2) not null,
    total_balance decimal(18, 2) not null,
    delinquent_30_plus int not null,
    primary key (month, risk_category)
) engine = innodb default charset = utf8mb4
