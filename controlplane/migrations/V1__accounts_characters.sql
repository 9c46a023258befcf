-- Accounts and their characters for the login API (controlplane/src/auth).
-- Names are unique as typed and also case-insensitively, so "Bob" cannot register beside "bob".
create table accounts (
    id bigint generated always as identity primary key,
    name text not null unique,
    password_hash text not null,
    created_at timestamptz not null default now()
);
create unique index accounts_name_lower_key on accounts (lower(name));

create table characters (
    id bigint generated always as identity primary key,
    account_id bigint not null references accounts (id) on delete cascade,
    name text not null unique,
    -- A zone id is a u32 on the wire; Postgres has no unsigned type.
    zone_id bigint not null check (zone_id >= 0 and zone_id <= 4294967295),
    created_at timestamptz not null default now()
);
create unique index characters_name_lower_key on characters (lower(name));
create index characters_account_id on characters (account_id);
