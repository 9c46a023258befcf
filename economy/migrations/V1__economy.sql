-- One shard's economy. Every shard runs the same schema; a character and everything it owns live
-- on the shard its id maps to (see src/shard.rs). The invariants are constraints here as well as
-- checks in Rust: an item has exactly one owner row (primary key), balances are never negative,
-- an idempotency key is applied at most once per shard (unique).

CREATE TABLE characters (
    id BIGINT PRIMARY KEY,
    -- The login database owns accounts (controlplane auth); no foreign key across databases.
    account_id BIGINT NOT NULL,
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    last_zone BIGINT NOT NULL DEFAULT 0 CHECK (last_zone >= 0),
    position_x REAL NOT NULL DEFAULT 0,
    position_y REAL NOT NULL DEFAULT 0,
    position_z REAL NOT NULL DEFAULT 0,
    stats JSONB NOT NULL DEFAULT '{}' CHECK (octet_length(stats::text) <= 8192),
    -- The zone's checkpoint sequence: an older checkpoint never overwrites a newer one.
    version BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX characters_last_zone ON characters (last_zone);

CREATE TABLE items (
    item_id UUID PRIMARY KEY,
    owner_character BIGINT NOT NULL REFERENCES characters (id),
    item_type INTEGER NOT NULL CHECK (item_type >= 0),
    bag SMALLINT NOT NULL CHECK (bag BETWEEN 0 AND 15),
    -- jsonb's text form adds a space after ':' and ',', at most doubling serde's compact form, which
    -- Rust limits to 1 KiB (ITEM_STATS_BYTES_MAX).
    stats JSONB NOT NULL DEFAULT '{}' CHECK (octet_length(stats::text) <= 2048),
    created_by_op TEXT NOT NULL
);
CREATE INDEX items_owner ON items (owner_character);

CREATE TABLE currency (
    character_id BIGINT PRIMARY KEY REFERENCES characters (id),
    balance BIGINT NOT NULL CHECK (balance >= 0)
);

-- The operation ledger. A cross-shard operation writes its row on both participants inside the
-- same two-phase transaction (participants = 2); the initiator's shard is the one looked up on a
-- repeat.
CREATE TABLE operations (
    id BIGSERIAL PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE CHECK (length(idempotency_key) BETWEEN 1 AND 128),
    kind TEXT NOT NULL,
    initiator BIGINT NOT NULL,
    characters BIGINT[] NOT NULL,
    payload JSONB NOT NULL,
    outcome JSONB NOT NULL,
    zone_id BIGINT NOT NULL,
    fencing_token BIGINT NOT NULL,
    participants INTEGER NOT NULL CHECK (participants BETWEEN 1 AND 2),
    -- Currency created by this operation (loot, seeding): the conservation check sums it.
    minted BIGINT NOT NULL DEFAULT 0 CHECK (minted >= 0),
    at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX operations_characters ON operations USING gin (characters);

-- The highest fencing token seen per zone: a write with a lower one is rejected in the same
-- transaction, a higher one raises it.
CREATE TABLE zone_fences (
    zone_id BIGINT PRIMARY KEY,
    token BIGINT NOT NULL CHECK (token >= 0)
);

-- Two-phase commit decisions, written on the coordinator's shard before any COMMIT PREPARED.
-- First writer wins: recovery inserts 'abort' for an undecided gid, and a late coordinator then
-- reads 'abort' instead of committing.
CREATE TABLE twopc_decisions (
    gid TEXT PRIMARY KEY,
    decision TEXT NOT NULL CHECK (decision IN ('commit', 'abort')),
    participants INTEGER[] NOT NULL,
    at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Characters moved to another shard when a shard was added: an operation routed by an old shard
-- map is told where the character went instead of "unknown character".
CREATE TABLE moved_characters (
    character_id BIGINT PRIMARY KEY,
    to_shard INTEGER NOT NULL,
    map_version BIGINT NOT NULL,
    at TIMESTAMPTZ NOT NULL DEFAULT now()
);
