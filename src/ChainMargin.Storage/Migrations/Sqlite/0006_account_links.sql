-- See the PostgreSQL migration 0007: signed account links, and the nonces their messages used.
create table account_links (
    linked text primary key,
    primary_address text not null,
    chain_id integer not null,
    nonce text not null,
    deadline integer not null,
    primary_signature text not null,
    linked_signature text not null,
    created_us integer not null
);

create index account_links_primary on account_links (primary_address);

create table account_link_nonces (
    address text not null,
    nonce text not null,
    purpose text not null,
    used_us integer not null,
    primary key (address, nonce)
);
