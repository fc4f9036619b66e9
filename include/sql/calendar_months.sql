-- Every calendar month the views may need, so that months without transactions still get a row.
-- Filled by the build step.
create table if not exists calendar_months (
    month char(7) not null,
    month_start_date date not null,
    month_end_date date not null,
    primary key (month)
) engine = innodb default charset = utf8mb4
