-- Months the refresh-deadline watchdog paged on-call about, once each: a month not published
-- CREDIT_RISK_REFRESH_DEADLINE_HOURS after it closed (credit_risk.deadline).
-- month_state is the ledger state when paged (null: the month was never loaded); channels the
-- alert channels that accepted the page ('log' when none is configured).
create table if not exists refresh_deadline_pages (
    month char(7) not null,
    month_state varchar(16) null,
    deadline_at datetime not null,
    paged_at timestamp(6) not null default current_timestamp(6),
    channels varchar(255) not null,
    primary key (month)
) engine = innodb default charset = utf8mb4
