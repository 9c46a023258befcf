//! Which game node serves a zone: the login API asks this when it issues a connect token.

use std::net::SocketAddr;

use crate::routes::Route;

/// Where a zone is served.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZoneServer {
    /// The game address the connect token names.
    pub address: SocketAddr,
    /// The route a session of this zone gets (node, worker, fencing token); `None` in standalone
    /// mode, where there is no registry to write it to.
    pub route: Option<Route>,
    /// The serving node's WebSocket gateway URL (browsers), if it has one.
    pub websocket: Option<String>,
}

/// Answers where a zone is served. The control plane implements it over the etcd registry; a
/// standalone deployment uses [`StaticZoneDirectory`]. `None`: no node serves the zone now.
pub trait ZoneDirectory: Send + Sync {
    fn locate(&self, zone_id: u32) -> Option<ZoneServer>;
}

/// One node serves every zone (standalone mode, tests).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaticZoneDirectory {
    pub address: SocketAddr,
    /// The node's WebSocket gateway URL, if it has one.
    pub websocket: Option<String>,
}

impl StaticZoneDirectory {
    pub fn new(address: SocketAddr) -> Self {
        StaticZoneDirectory {
            address,
            websocket: None,
        }
    }

    /// The same node, with a WebSocket gateway at `url` (`wss://…`).
    pub fn with_websocket(self, url: impl Into<String>) -> Self {
        StaticZoneDirectory {
            websocket: Some(url.into()),
            ..self
        }
    }
}

impl ZoneDirectory for StaticZoneDirectory {
    fn locate(&self, _zone_id: u32) -> Option<ZoneServer> {
        Some(ZoneServer {
            address: self.address,
            route: None,
            websocket: self.websocket.clone(),
        })
    }
}
