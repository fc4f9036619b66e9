-- What each month's stored transactions are: the load that wrote them, how many, and the
-- smallest and largest transaction id. Written by the load's transactions branch (the ledger
-- row by the other branch), so a reader that finds the two load ids different knows a load is
-- between its two commits. The id range lets a load check its ids only against the months
-- whose ranges overlap its own: none when ids are issued in time order, as card systems do.
create table if not exists transaction_months (
    month char(7) not null,
    load_id varchar(64) not null,
    transactions int not null,
    first_transaction_id varchar(64) null,
    last_transaction_id varchar(64) null,
    primary key (month)
) engine = innodb default charset = utf8mb4
