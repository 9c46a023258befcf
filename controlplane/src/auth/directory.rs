//! Which game node serves a zone: the login API asks this when it issues a connect token.

use std::net::SocketAddr;

/// Answers where a zone is served. The control plane implements it over the etcd registry; a
/// standalone deployment uses [`StaticZoneDirectory`]. `None`: no node serves the zone now.
pub trait ZoneDirectory: Send + Sync {
    fn game_address(&self, zone_id: u32) -> Option<SocketAddr>;
}

/// One node serves every zone (standalone mode, tests).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StaticZoneDirectory {
    pub address: SocketAddr,
}

impl StaticZoneDirectory {
    pub fn new(address: SocketAddr) -> Self {
        StaticZoneDirectory { address }
    }
}

impl ZoneDirectory for StaticZoneDirectory {
    fn game_address(&self, _zone_id: u32) -> Option<SocketAddr> {
        Some(self.address)
    }
}
