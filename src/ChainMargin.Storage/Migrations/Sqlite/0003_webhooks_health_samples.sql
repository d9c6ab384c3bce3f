-- See the PostgreSQL migration 0004: webhook subscriptions, the outbox written with each state change, health samples.
create table webhook_subscriptions (
    id integer primary key autoincrement,
    url text not null,
    secret text not null,
    states text not null,
    enabled integer not null,
    description text,
    created_us integer not null
);

create table webhook_deliveries (
    id integer primary key autoincrement,
    subscription_id integer not null,
    event_id text not null,
    account text not null,
    from_state text,
    to_state text not null,
    health text,
    methods text not null,
    reason text not null,
    block_vector text not null,
    occurred_us integer not null,
    status text not null,
    attempts integer not null,
    last_status_code integer,
    last_error text,
    last_attempt_us integer,
    next_attempt_us integer not null,
    locked_until_us integer,
    delivered_us integer,
    created_us integer not null,
    unique (subscription_id, event_id)
);

create index webhook_deliveries_due on webhook_deliveries (next_attempt_us) where status = 'pending';
create index webhook_deliveries_by_subscription on webhook_deliveries (subscription_id, id);

create table account_health_samples (
    id integer primary key,
    account text not null,
    at_us integer not null,
    health text,
    state text not null
);

create index account_health_samples_by_account on account_health_samples (account, at_us);
create index account_health_samples_by_time on account_health_samples (at_us);
