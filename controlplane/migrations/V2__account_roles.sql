-- Operators (controlplane/src/ops): an account's role. Every account registered through the public
-- API is a player; only `meridian-control operator` makes one an operator.
alter table accounts
    add column role text not null default 'player' check (role in ('player', 'operator'));
