//! Synthetic peer addresses for WebSocket sessions.
//!
//! The session host keys every session by its peer address, and the worker's transmit path sends
//! each packet to the address the host names. A WebSocket connection gets its own synthetic
//! address so it goes through the host exactly like a UDP peer, and the worker can tell from the
//! address alone that the packet belongs on a WebSocket, not on the UDP socket.
//!
//! The range is IPv4 `0.0.0.0/8` ("this network", RFC 1122 §3.2.1.3; RFC 6890 marks it as never a
//! valid source for forwarded traffic): Linux drops a received packet whose source is in it as a
//! martian before any socket sees it, and an IPv6 worker socket reports IPv4 peers as
//! `::ffff:a.b.c.d` (a V6 address), never as a bare V4 one. So no UDP datagram a worker receives
//! can carry such a source, and no UDP session can collide with a WebSocket one. The 24 host bits
//! and the 16 port bits number 2^40 connections before the counter would wrap: never in practice,
//! so an address is never reused while a stale session of an earlier connection still times out.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicU64, Ordering};

/// True for the addresses [`SyntheticAddrs`] hands out (the only ones a WebSocket session has).
pub fn is_synthetic(addr: SocketAddr) -> bool {
    matches!(addr, SocketAddr::V4(v4) if v4.ip().octets()[0] == 0)
}

/// Hands out a fresh synthetic address per connection.
#[derive(Debug)]
pub struct SyntheticAddrs {
    next: AtomicU64,
}

impl Default for SyntheticAddrs {
    fn default() -> Self {
        // 0.0.0.0:0 (number 0) is the unspecified address: never handed out.
        Self {
            next: AtomicU64::new(1),
        }
    }
}

impl SyntheticAddrs {
    pub fn allocate(&self) -> SocketAddr {
        let number = self.next.fetch_add(1, Ordering::Relaxed) & ((1 << 40) - 1);
        let host = (number >> 16) as u32;
        let ip = Ipv4Addr::from(host & 0x00ff_ffff);
        SocketAddr::V4(SocketAddrV4::new(ip, (number & 0xffff) as u16))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_addresses_are_distinct_and_recognised() {
        let addrs = SyntheticAddrs::default();
        let first = addrs.allocate();
        let second = addrs.allocate();
        assert_ne!(first, second);
        assert!(is_synthetic(first) && is_synthetic(second));
        assert_ne!(first, "0.0.0.0:0".parse().unwrap());
        // Past the port bits the host bits count on.
        let addrs = SyntheticAddrs {
            next: AtomicU64::new(0x1_0000),
        };
        assert_eq!(addrs.allocate(), "0.0.0.1:0".parse().unwrap());
    }

    #[test]
    fn udp_peers_are_never_synthetic() {
        for peer in ["127.0.0.1:9000", "10.0.0.1:1", "[::1]:9000", "[::ffff:0.0.0.1]:5"] {
            assert!(!is_synthetic(peer.parse().unwrap()), "{peer}");
        }
    }
}
