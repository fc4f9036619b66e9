-- Each customer-month's purchases in the compact form the anomaly detectors' baseline reads,
-- one partition per month (see published_customer_month). A month's ticket quartiles and the
-- categories a customer used are taken over a year of purchases: read from here, that is a
-- year of customer-months (about 1.3M rows at 100,000 customers), never a year of
-- transactions (about 12M), and the build computes each month once, with the month. Amounts
-- are the positive purchases (comma-separated, in no order), split by channel because small
-- card-not-present charges leave the usual ticket; categories is a JSON array of the distinct
-- merchant categories of those purchases.
create table if not exists published_purchase_profile (
    customer_id varchar(32) not null,
    month char(7) not null,
    purchases int not null,
    online_amounts mediumtext null,
    other_amounts mediumtext null,
    categories mediumtext null,
    primary key (customer_id, month),
    key ix_published_purchase_profile_month (month, customer_id)
) engine = innodb default charset = utf8mb4
partition by list columns(month) (
    partition p000000 values in ('0000-00')
)
