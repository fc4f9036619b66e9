-- Model: the published_purchase_profile rows of one month (%(month)s), from the build's
-- {transactions} rows of the month: per customer, the positive purchases' amounts by channel
-- and their distinct merchant categories (a JSON array), each list in ascending order so that
-- every build of a month writes the same text. The session's group_concat_max_len (the build sets
-- it, see warehouse.db.session_memory_sql) bounds each list; the reader checks every list
-- against purchases, so a cut list fails loudly instead of shrinking a baseline.
with

purchases_in as (
    select
        customer_id,
        transaction_amount,
        channel,
        merchant_category
    from {transactions}
    where month = %(month)s and transaction_type = 'purchase' and transaction_amount > 0
),

amounts as (
    select
        customer_id,
        count(*) as purchases,
        group_concat(
            case when channel = 'online' then transaction_amount end
            order by transaction_amount separator ','
        ) as online_amounts,
        group_concat(
            case when channel is null or channel <> 'online' then transaction_amount end
            order by transaction_amount separator ','
        ) as other_amounts
    from purchases_in
    group by customer_id
),

categories_used as (
    select distinct
        customer_id,
        merchant_category
    from purchases_in
    where merchant_category is not null
),

categories as (
    select
        customer_id,
        concat(
            '[',
            group_concat(json_quote(merchant_category) order by merchant_category separator ','),
            ']'
        ) as categories
    from categories_used
    group by customer_id
)

select
    amounts.customer_id,
    %(month)s as month,
    amounts.purchases,
    amounts.online_amounts,
    amounts.other_amounts,
    categories.categories
from amounts
left join categories on amounts.customer_id = categories.customer_id
