//! The world registry's session routes and the handoff coordinator's steps.
//!
//! A route (`/meridian/routes/<session_id>`) says which node, worker and zone serve a session and
//! under which fencing token. It is written only while that token is the zone's current one (the
//! write compares `/meridian/assign/<zone_id>`'s `mod_revision`), so a node that lost the zone cannot
//! route anyone to itself. Node agents and the edge follow routes with [`watch_routes`], never by
//! polling.
//!
//! A handoff moves a session between zones in three idempotent steps on a ticket
//! (`/meridian/handoff/<ticket_id>`): [`open_ticket`] records the target and the route revision it
//! starts from; [`commit_owner`] swaps the route to the target only if the route is still at that
//! revision and the target's token is current (compare-and-swap), marking the ticket committed in
//! the same transaction; [`abort_ticket`] closes a ticket whose deadline passed. Repeating a step
//! that already happened answers what happened; tickets that lose the race fail.

mod node_routes;
mod pending;

pub use node_routes::{
    NodeRouteChange, NodeRouteWriter, ROUTE_BATCH_OPS_MAX, ROUTE_CHANGES_MAX, RouteWriteStats, SessionChange,
    follow_node_routes,
};
pub use pending::{PENDING_LEASE_ROTATE_S, PENDING_LEASE_TTL_S, PendingRoutes};

use etcd_client::{Client, Compare, CompareOp, Txn, TxnOp};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::registry::{
    ROUTES_PREFIX, RegistryError, SessionId, WatchItem, ZoneId, assign_key, decode, encode, handoff_key,
    header_revision, route_key, watch_prefix,
};

/// Ticket ids become key segments; longer ids are a caller bug.
pub const TICKET_ID_BYTES_MAX: usize = 128;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    pub node: String,
    pub worker: u32,
    pub zone: ZoneId,
    /// The zone's fencing token (its assignment's `mod_revision`) when the route was written.
    pub token: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TicketState {
    Open,
    Committed,
    Aborted,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    pub session: SessionId,
    pub to: Route,
    /// The route's `mod_revision` when the ticket opened; the commit compares it.
    pub route_revision: i64,
    /// Wall-clock deadline (ms since the Unix epoch) after which the ticket may only be aborted.
    pub deadline_unix_ms: u64,
    pub state: TicketState,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommitOutcome {
    /// This call moved the route; `route_revision` is its new revision.
    Committed { route_revision: i64 },
    /// An earlier call with this ticket moved it (idempotent repeat).
    AlreadyCommitted { route_revision: i64 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AbortOutcome {
    Aborted,
    AlreadyAborted,
    /// The deadline has not passed: the ticket stays open.
    NotExpired,
}

#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The writer's token is not the zone's current one: it lost the zone. Not retryable.
    #[error("token {token} is not zone {zone}'s current fencing token")]
    StaleToken { zone: ZoneId, token: i64 },
    /// The route moved since the ticket opened: another handoff won. Not retryable.
    #[error("route of session {session} changed since the ticket opened")]
    RouteChanged { session: SessionId },
    #[error("ticket {ticket_id} does not exist")]
    NoTicket { ticket_id: String },
    /// The id is taken by a ticket for another session or target.
    #[error("ticket {ticket_id} exists with other contents")]
    TicketConflict { ticket_id: String },
    #[error("ticket {ticket_id} was aborted")]
    TicketAborted { ticket_id: String },
    #[error("ticket {ticket_id} was committed")]
    TicketCommitted { ticket_id: String },
    #[error("ticket {ticket_id} passed its deadline")]
    TicketExpired { ticket_id: String },
    /// The ticket changed between our read and our write (a concurrent step); retrying can help.
    #[error("ticket {ticket_id} changed concurrently")]
    Contended { ticket_id: String },
}

impl From<etcd_client::Error> for RouteError {
    fn from(error: etcd_client::Error) -> Self {
        RouteError::Registry(RegistryError::Etcd(error))
    }
}

/// The compare every write on a zone's behalf carries: "`token` is still the zone's token".
pub fn zone_token_compare(zone: ZoneId, token: i64) -> Compare {
    Compare::mod_revision(assign_key(zone), CompareOp::Equal, token)
}

/// Writes a session's route if `route.token` is its zone's current token. Returns the route's
/// revision.
pub async fn put_route(client: &mut Client, session: SessionId, route: &Route) -> Result<i64, RouteError> {
    let txn = Txn::new()
        .when([zone_token_compare(route.zone, route.token)])
        .and_then([TxnOp::put(route_key(session), encode(route), None)]);
    let response = client.txn(txn).await?;
    if !response.succeeded() {
        return Err(RouteError::StaleToken {
            zone: route.zone,
            token: route.token,
        });
    }
    Ok(header_revision(response.header())?)
}

/// A session's route and its revision.
pub async fn get_route(client: &mut Client, session: SessionId) -> Result<Option<(Route, i64)>, RouteError> {
    let response = client.get(route_key(session), None).await?;
    let Some(kv) = response.kvs().first() else {
        return Ok(None);
    };
    Ok(Some((decode(kv.key(), kv.value())?, kv.mod_revision())))
}

/// Every route change from `from_revision` on (decode values with [`decode_route`]); survives etcd
/// restarts.
pub fn watch_routes(client: Client, from_revision: i64) -> mpsc::Receiver<WatchItem> {
    watch_prefix(client, ROUTES_PREFIX.to_owned(), from_revision)
}

/// The session id of a route key.
pub fn session_of_route_key(key: &[u8]) -> Option<SessionId> {
    std::str::from_utf8(key).ok()?.strip_prefix(ROUTES_PREFIX)?.parse().ok()
}

pub fn decode_route(key: &[u8], value: &[u8]) -> Result<Route, RegistryError> {
    decode(key, value)
}

async fn read_ticket(client: &mut Client, ticket_id: &str) -> Result<Option<(Ticket, i64)>, RouteError> {
    let response = client.get(handoff_key(ticket_id), None).await?;
    let Some(kv) = response.kvs().first() else {
        return Ok(None);
    };
    Ok(Some((decode(kv.key(), kv.value())?, kv.mod_revision())))
}

/// Opens a handoff ticket moving `session` to `to`, from the route's current revision (0 when the
/// session has no route yet). Opening the same ticket again returns the existing one.
pub async fn open_ticket(
    client: &mut Client,
    ticket_id: &str,
    session: SessionId,
    to: Route,
    deadline_unix_ms: u64,
) -> Result<Ticket, RouteError> {
    if ticket_id.is_empty() || ticket_id.len() > TICKET_ID_BYTES_MAX || ticket_id.contains('/') {
        return Err(RegistryError::Config {
            reason: "ticket id must be 1..=128 bytes without '/'",
        }
        .into());
    }
    let route_revision = get_route(client, session).await?.map_or(0, |(_, revision)| revision);
    let ticket = Ticket {
        session,
        to,
        route_revision,
        deadline_unix_ms,
        state: TicketState::Open,
    };
    let key = handoff_key(ticket_id);
    let txn = Txn::new()
        .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
        .and_then([TxnOp::put(key, encode(&ticket), None)]);
    if client.txn(txn).await?.succeeded() {
        return Ok(ticket);
    }
    let (existing, _) = read_ticket(client, ticket_id)
        .await?
        .ok_or_else(|| RouteError::Contended {
            ticket_id: ticket_id.to_owned(),
        })?;
    if existing.session == ticket.session && existing.to == ticket.to {
        Ok(existing)
    } else {
        Err(RouteError::TicketConflict {
            ticket_id: ticket_id.to_owned(),
        })
    }
}

/// Moves the route to the ticket's target: compare-and-swap on the route's revision, the target's
/// token and the ticket's own revision, in one transaction that also marks the ticket committed.
pub async fn commit_owner(client: &mut Client, ticket_id: &str, now_unix_ms: u64) -> Result<CommitOutcome, RouteError> {
    let ticket_error = |make: fn(String) -> RouteError| make(ticket_id.to_owned());
    let Some((ticket, ticket_revision)) = read_ticket(client, ticket_id).await? else {
        return Err(ticket_error(|ticket_id| RouteError::NoTicket { ticket_id }));
    };
    match ticket.state {
        TicketState::Committed => {
            return Ok(CommitOutcome::AlreadyCommitted {
                route_revision: ticket_revision,
            });
        }
        TicketState::Aborted => return Err(ticket_error(|ticket_id| RouteError::TicketAborted { ticket_id })),
        TicketState::Open if now_unix_ms >= ticket.deadline_unix_ms => {
            return Err(ticket_error(|ticket_id| RouteError::TicketExpired { ticket_id }));
        }
        TicketState::Open => {}
    }
    let route_key = route_key(ticket.session);
    let ticket_key = handoff_key(ticket_id);
    let committed = Ticket {
        state: TicketState::Committed,
        ..ticket.clone()
    };
    let txn = Txn::new()
        .when([
            Compare::mod_revision(route_key.clone(), CompareOp::Equal, ticket.route_revision),
            Compare::mod_revision(ticket_key.clone(), CompareOp::Equal, ticket_revision),
            zone_token_compare(ticket.to.zone, ticket.to.token),
        ])
        .and_then([
            TxnOp::put(route_key, encode(&ticket.to), None),
            TxnOp::put(ticket_key, encode(&committed), None),
        ]);
    let response = client.txn(txn).await?;
    if response.succeeded() {
        return Ok(CommitOutcome::Committed {
            route_revision: header_revision(response.header())?,
        });
    }
    // Find out which compare failed, most specific first.
    match read_ticket(client, ticket_id).await? {
        Some((now, revision)) if now.state == TicketState::Committed => {
            return Ok(CommitOutcome::AlreadyCommitted {
                route_revision: revision,
            });
        }
        Some((_, revision)) if revision != ticket_revision => {
            return Err(ticket_error(|ticket_id| RouteError::Contended { ticket_id }));
        }
        _ => {}
    }
    let route_now = get_route(client, ticket.session)
        .await?
        .map_or(0, |(_, revision)| revision);
    if route_now != ticket.route_revision {
        return Err(RouteError::RouteChanged {
            session: ticket.session,
        });
    }
    Err(RouteError::StaleToken {
        zone: ticket.to.zone,
        token: ticket.to.token,
    })
}

/// Aborts an open ticket whose deadline passed; repeating it answers `AlreadyAborted`.
pub async fn abort_ticket(client: &mut Client, ticket_id: &str, now_unix_ms: u64) -> Result<AbortOutcome, RouteError> {
    let Some((ticket, ticket_revision)) = read_ticket(client, ticket_id).await? else {
        return Err(RouteError::NoTicket {
            ticket_id: ticket_id.to_owned(),
        });
    };
    match ticket.state {
        TicketState::Aborted => return Ok(AbortOutcome::AlreadyAborted),
        TicketState::Committed => {
            return Err(RouteError::TicketCommitted {
                ticket_id: ticket_id.to_owned(),
            });
        }
        TicketState::Open if now_unix_ms < ticket.deadline_unix_ms => return Ok(AbortOutcome::NotExpired),
        TicketState::Open => {}
    }
    let key = handoff_key(ticket_id);
    let aborted = Ticket {
        state: TicketState::Aborted,
        ..ticket
    };
    let txn = Txn::new()
        .when([Compare::mod_revision(key.clone(), CompareOp::Equal, ticket_revision)])
        .and_then([TxnOp::put(key, encode(&aborted), None)]);
    if client.txn(txn).await?.succeeded() {
        return Ok(AbortOutcome::Aborted);
    }
    // A concurrent step won: report its result (a repeat abort, or a commit that beat us).
    match read_ticket(client, ticket_id).await? {
        Some((now, _)) if now.state == TicketState::Aborted => Ok(AbortOutcome::AlreadyAborted),
        _ => Err(RouteError::TicketCommitted {
            ticket_id: ticket_id.to_owned(),
        }),
    }
}

/// Decides a ticket for its old owner, whatever the wall clock says: the route is written back to
/// `owner` (bumping its revision) and the ticket marked aborted, in one transaction compared on the
/// route's revision when the ticket opened, the ticket's own revision and `owner`'s zone token.
///
/// With [`commit_owner`] this makes etcd the one judge of a cross-node handoff: both compare the
/// same route revision and each rewrites the route or the ticket, so exactly one of the two
/// transactions succeeds, and after any crash the route says who owns the session. The old node
/// calls it when its ticket's deadline (in cluster ticks) passed; unlike [`abort_ticket`] it does
/// not wait for the ticket's wall-clock deadline, which only bounds a stuck commit.
pub async fn abort_to_owner(client: &mut Client, ticket_id: &str, owner: &Route) -> Result<AbortOutcome, RouteError> {
    let Some((ticket, ticket_revision)) = read_ticket(client, ticket_id).await? else {
        return Err(RouteError::NoTicket {
            ticket_id: ticket_id.to_owned(),
        });
    };
    match ticket.state {
        TicketState::Aborted => return Ok(AbortOutcome::AlreadyAborted),
        TicketState::Committed => {
            return Err(RouteError::TicketCommitted {
                ticket_id: ticket_id.to_owned(),
            });
        }
        TicketState::Open => {}
    }
    let route_key = route_key(ticket.session);
    let ticket_key = handoff_key(ticket_id);
    let aborted = Ticket {
        state: TicketState::Aborted,
        ..ticket.clone()
    };
    let txn = Txn::new()
        .when([
            Compare::mod_revision(route_key.clone(), CompareOp::Equal, ticket.route_revision),
            Compare::mod_revision(ticket_key.clone(), CompareOp::Equal, ticket_revision),
            zone_token_compare(owner.zone, owner.token),
        ])
        .and_then([
            TxnOp::put(route_key, encode(owner), None),
            TxnOp::put(ticket_key.clone(), encode(&aborted), None),
        ]);
    if client.txn(txn).await?.succeeded() {
        return Ok(AbortOutcome::Aborted);
    }
    if let Some(settled) = abort_lost_to(client, ticket_id, ticket_revision).await? {
        return Ok(settled);
    }
    match get_route(client, ticket.session).await? {
        // The route was rewritten after the ticket opened (the owner's own route write landing
        // late, e.g. for a player handed off right after it joined): this ticket can never commit
        // (the commit compares the revision it opened at), so while the route still names the
        // owner the ticket is closed as aborted on its own revision alone and the route is left as
        // it is. A route naming another node is not ours to judge: that stays an error.
        Some((current, revision)) if revision != ticket.route_revision && current.node == owner.node => {
            let txn = Txn::new()
                .when([Compare::mod_revision(
                    ticket_key.clone(),
                    CompareOp::Equal,
                    ticket_revision,
                )])
                .and_then([TxnOp::put(ticket_key, encode(&aborted), None)]);
            if client.txn(txn).await?.succeeded() {
                return Ok(AbortOutcome::Aborted);
            }
            abort_lost_to(client, ticket_id, ticket_revision)
                .await?
                .ok_or_else(|| RouteError::Contended {
                    ticket_id: ticket_id.to_owned(),
                })
        }
        Some((_, revision)) if revision != ticket.route_revision => Err(RouteError::RouteChanged {
            session: ticket.session,
        }),
        None if ticket.route_revision != 0 => Err(RouteError::RouteChanged {
            session: ticket.session,
        }),
        _ => Err(RouteError::StaleToken {
            zone: owner.zone,
            token: owner.token,
        }),
    }
}

/// After an abort transaction on `ticket_id` (compared at `ticket_revision`) failed: what the
/// ticket says now — aborted already, committed or changed (errors), or `None` when it is still
/// open at that revision (another compare failed).
async fn abort_lost_to(
    client: &mut Client,
    ticket_id: &str,
    ticket_revision: i64,
) -> Result<Option<AbortOutcome>, RouteError> {
    match read_ticket(client, ticket_id).await? {
        Some((now, _)) if now.state == TicketState::Aborted => Ok(Some(AbortOutcome::AlreadyAborted)),
        Some((now, _)) if now.state == TicketState::Committed => Err(RouteError::TicketCommitted {
            ticket_id: ticket_id.to_owned(),
        }),
        Some((_, revision)) if revision != ticket_revision => Err(RouteError::Contended {
            ticket_id: ticket_id.to_owned(),
        }),
        _ => Ok(None),
    }
}
