//! Hand-built frames for the edge's measurements (`edge_cost`, `edge_bench`): IPv4/UDP datagrams
//! with any source (sent from a raw socket, which is how a spoofed flood is made), Ethernet frames
//! around them for `BPF_PROG_TEST_RUN`, and sealed game packets with a given session and key.

use std::net::{Ipv4Addr, SocketAddrV4};

use meridian_proto::packet::{PacketType, seal_packet};

/// The UDP source port every built datagram uses.
pub const SOURCE_PORT: u16 = 40_000;

/// IPv4 (no options) + UDP around `payload`, from `source`, with the IPv4 fragment field as given
/// (0: not a fragment). For a raw socket the kernel fills the IP checksum, total length and id; a
/// UDP checksum of 0 means none, which IPv4 allows and the edge does not look at.
pub fn ipv4_udp(source: Ipv4Addr, destination: SocketAddrV4, fragment: u16, payload: &[u8]) -> Vec<u8> {
    let total = (28 + payload.len()) as u16;
    let mut packet = vec![0x45, 0];
    packet.extend_from_slice(&total.to_be_bytes());
    packet.extend_from_slice(&[0, 1]);
    packet.extend_from_slice(&fragment.to_be_bytes());
    packet.extend_from_slice(&[64, 17, 0, 0]);
    packet.extend_from_slice(&source.octets());
    packet.extend_from_slice(&destination.ip().octets());
    packet.extend_from_slice(&SOURCE_PORT.to_be_bytes());
    packet.extend_from_slice(&destination.port().to_be_bytes());
    packet.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    packet.extend_from_slice(&[0, 0]);
    packet.extend_from_slice(payload);
    packet
}

/// Ethernet + [`ipv4_udp`] from 10.9.0.2 to 10.9.0.1:`port`, for `BPF_PROG_TEST_RUN`.
pub fn ethernet_udp(port: u16, fragment: u16, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00];
    frame.extend(ipv4_udp(
        Ipv4Addr::new(10, 9, 0, 2),
        SocketAddrV4::new(Ipv4Addr::new(10, 9, 0, 1), port),
        fragment,
        payload,
    ));
    frame
}

/// A sealed Payload packet of `session` at `sequence`, tagged with `edge_key` (the AEAD key is a
/// constant: the edge never opens it).
pub fn sealed(session: u64, sequence: u64, edge_key: &[u8; 16], plaintext_bytes: usize) -> Vec<u8> {
    let mut out = Vec::new();
    seal_packet(
        PacketType::Payload,
        session,
        sequence,
        edge_key,
        &[9; 32],
        &vec![0xAA; plaintext_bytes],
        &mut out,
    );
    out
}
