-- Webhook subscriptions and their outbox. A state change writes one delivery row per subscription in the same
-- transaction as the state, so a recorded change is delivered even if the process dies before the Hangfire job runs.
-- Times are microseconds since the Unix epoch and health is decimal text, as in SQLite, so both stores share the SQL.
create table webhook_subscriptions (
    id bigserial primary key,
    url text not null,
    secret text not null,
    -- ',warning,liquidatable,' or '' for every state: matched with like on both stores
    states text not null,
    enabled integer not null,
    description text,
    created_us bigint not null
);

create table webhook_deliveries (
    id bigserial primary key,
    subscription_id bigint not null,
    event_id text not null,
    account text not null,
    from_state text,
    to_state text not null,
    health text,
    methods text not null,
    reason text not null,
    block_vector text not null,
    occurred_us bigint not null,
    status text not null,
    attempts integer not null,
    last_status_code integer,
    last_error text,
    last_attempt_us bigint,
    next_attempt_us bigint not null,
    locked_until_us bigint,
    delivered_us bigint,
    created_us bigint not null,
    unique (subscription_id, event_id)
);

create index webhook_deliveries_due on webhook_deliveries (next_attempt_us) where status = 'pending';
create index webhook_deliveries_by_subscription on webhook_deliveries (subscription_id, id);

-- Sampled headline health per account for the health-over-time chart; bounded by the sampler and pruned by age.
create table account_health_samples (
    id bigserial primary key,
    account text collate "C" not null,
    at_us bigint not null,
    health text,
    state text not null
);

create index account_health_samples_by_account on account_health_samples (account, at_us);
create index account_health_samples_by_time on account_health_samples (at_us);
