//! Routes written at login, before the session exists on any node.
//!
//! `POST /characters/{id}/play` writes the new session's route (fenced by its zone's token) so the
//! edge and the node know where the session belongs before its first packet. Such a route must not
//! outlive a token that is never used, so it is written under a short *pending lease* that expires
//! soon after the token does; the node re-writes the route under its own lease when the session
//! connects (`NodeRoutes`), so a connected session's route lives as long as its node.
//!
//! Granting a lease per login would double the writes etcd must commit; one pending lease serves
//! every login of a [`PENDING_LEASE_ROTATE_S`] window, so a route lives between
//! `PENDING_LEASE_TTL_S - PENDING_LEASE_ROTATE_S` and `PENDING_LEASE_TTL_S` seconds unless its node
//! takes it over.

use std::time::{Duration, Instant};

use etcd_client::{Client, PutOptions, Txn, TxnOp};
use meridian_proto::token::TOKEN_LIFETIME_S;
use tokio::sync::Mutex;

use super::{Route, RouteError, zone_token_compare};
use crate::registry::{RegistryError, SessionId, encode, header_revision, route_key};

/// A pending lease is used for the logins of this many seconds, then a new one is granted.
pub const PENDING_LEASE_ROTATE_S: u64 = 10;
/// The pending lease outlives the last token issued under it by at least the token lifetime plus
/// the server's clock-skew allowance (5 s) plus slack for the handshake.
pub const PENDING_LEASE_TTL_S: i64 = (TOKEN_LIFETIME_S + PENDING_LEASE_ROTATE_S + 10) as i64;

/// Writes login-time routes under a shared, rotating pending lease.
pub struct PendingRoutes {
    client: Client,
    lease: Mutex<Option<(i64, Instant)>>,
}

impl PendingRoutes {
    pub fn new(client: Client) -> Self {
        PendingRoutes {
            client,
            lease: Mutex::new(None),
        }
    }

    /// Writes `session`'s route if `route.token` is its zone's current token (else
    /// [`RouteError::StaleToken`]: the zone just moved). Returns the route's revision.
    pub async fn put(&self, session: SessionId, route: &Route) -> Result<i64, RouteError> {
        let lease_id = self.current_lease().await?;
        let txn = Txn::new()
            .when([zone_token_compare(route.zone, route.token)])
            .and_then([TxnOp::put(
                route_key(session),
                encode(route),
                Some(PutOptions::new().with_lease(lease_id)),
            )]);
        let response = self.client.clone().txn(txn).await?;
        if !response.succeeded() {
            return Err(RouteError::StaleToken {
                zone: route.zone,
                token: route.token,
            });
        }
        Ok(header_revision(response.header())?)
    }

    async fn current_lease(&self) -> Result<i64, RouteError> {
        let mut lease = self.lease.lock().await;
        if let Some((id, granted)) = *lease
            && granted.elapsed() < Duration::from_secs(PENDING_LEASE_ROTATE_S)
        {
            return Ok(id);
        }
        let granted = self.client.clone().lease_grant(PENDING_LEASE_TTL_S, None).await?;
        if granted.id() == 0 {
            return Err(RegistryError::Unexpected { what: "lease id 0" }.into());
        }
        *lease = Some((granted.id(), Instant::now()));
        Ok(granted.id())
    }
}
