-- Account links both addresses signed (EIP-712 AccountLink). An address is linked into at most one account, so the
-- linked address is the key. Signatures are kept so anyone can verify the link again.
create table account_links (
    linked text primary key,
    primary_address text not null,
    chain_id bigint not null,
    nonce text not null,
    deadline bigint not null,
    primary_signature text not null,
    linked_signature text not null,
    created_us bigint not null
);

create index account_links_primary on account_links (primary_address);

-- Every nonce a signer has used for a link or unlink message, kept after an unlink so no signed message is replayed.
create table account_link_nonces (
    address text not null,
    nonce text not null,
    purpose text not null,
    used_us bigint not null,
    primary key (address, nonce)
);
