-- Each customer's latest published statement month (what customer_risk_current shows).
-- A publication updates the customers of the months it replaces, in its transaction, so the
-- months before never need rewriting when a new month arrives.
create table if not exists published_customer_latest (
    customer_id varchar(32) not null,
    month char(7) not null,
    primary key (customer_id),
    key ix_published_customer_latest_month (month)
) engine = innodb default charset = utf8mb4
