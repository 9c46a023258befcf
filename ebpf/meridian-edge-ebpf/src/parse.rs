//! Frame parsing for the XDP program: Ethernet, at most one 802.1Q/802.1ad tag, IPv4 (options
//! skipped by IHL) or IPv6 (UDP directly or after a Fragment header), UDP. Every read is bounds-checked against `data_end` (what the verifier
//! demands); a frame that is not a complete UDP datagram to a game port comes back as the
//! `EdgeCounter` slot that says why it passes (or, for a first fragment or a lying UDP length to a
//! game port, why it is dropped).

use aya_ebpf::programs::XdpContext;
use meridian_edge_common::{EdgeConfig, EdgeCounter, SourceKey};

const ETH_HEADER_BYTES: usize = 14;
const VLAN_TAG_BYTES: usize = 4;
const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88a8;
const IPV4_HEADER_BYTES_MIN: usize = 20;
const IPPROTO_UDP: u8 = 17;
const UDP_HEADER_BYTES: usize = 8;
const IPV4_MORE_FRAGMENTS: u16 = 0x2000;
const IPV4_FRAGMENT_OFFSET_MASK: u16 = 0x1fff;
const IPV6_HEADER_BYTES: usize = 40;
const IPV6_FRAGMENT_HEADER: u8 = 44;
const IPV6_FRAGMENT_HEADER_BYTES: usize = 8;
/// In the Fragment header's offset field: offset in the top 13 bits, the M flag in the lowest.
const IPV6_FRAGMENT_OFFSET_MASK: u16 = 0xfff8;
const IPV6_MORE_FRAGMENTS: u16 = 0x0001;

/// A UDP datagram to a game port, as far as the lower layers are concerned.
pub struct GameDatagram {
    /// The rate-limit key of the source (IPv4-mapped, or the IPv6 /64).
    pub source: SourceKey,
    /// Offset of the UDP payload from the start of the frame.
    pub payload_offset: usize,
    /// UDP payload length from the UDP header (checked to fit in the frame).
    pub payload_bytes: usize,
    /// One 802.1Q/802.1ad tag sits between the MACs and the ethertype (the IP header is at 18,
    /// not 14): the forwarding path rebuilds the Ethernet header with it.
    pub vlan: bool,
    /// IPv4 (the only family the forwarding path encapsulates).
    pub ipv4: bool,
}

/// Where the UDP header is, and whether the IP layer says more fragments follow.
struct Transport {
    source: SourceKey,
    l4: usize,
    first_fragment: bool,
}

/// Bounds-checked read of a `T` at `offset` bytes into the frame.
#[inline(always)]
pub fn read<T: Copy>(ctx: &XdpContext, offset: usize) -> Option<T> {
    let start = ctx.data();
    let end = ctx.data_end();
    if start + offset + core::mem::size_of::<T>() > end {
        return None;
    }
    // SAFETY: [start + offset, start + offset + size_of::<T>()) lies inside the packet (checked
    // above); `read_unaligned` because packet data has no alignment guarantee.
    Some(unsafe { core::ptr::read_unaligned((start + offset) as *const T) })
}

/// Bounds-checked write of a `T` at `offset` bytes into the frame; false (nothing written) if it
/// would not fit.
#[inline(always)]
pub fn write<T: Copy>(ctx: &XdpContext, offset: usize, value: T) -> bool {
    let start = ctx.data();
    let end = ctx.data_end();
    if start + offset + core::mem::size_of::<T>() > end {
        return false;
    }
    // SAFETY: as `read`: the range lies inside the packet, which XDP may modify in place.
    unsafe { core::ptr::write_unaligned((start + offset) as *mut T, value) };
    true
}

#[inline(always)]
fn be16(bytes: [u8; 2]) -> u16 {
    u16::from_be_bytes(bytes)
}

/// Finds the game datagram in the frame, or the slot that says why there is none.
#[inline(always)]
pub fn game_datagram(ctx: &XdpContext, config: &EdgeConfig) -> Result<GameDatagram, EdgeCounter> {
    let mut ethertype = be16(read(ctx, 12).ok_or(EdgeCounter::PassUnparsed)?);
    let mut l3 = ETH_HEADER_BYTES;
    let vlan = ethertype == ETHERTYPE_VLAN || ethertype == ETHERTYPE_QINQ;
    if ethertype == ETHERTYPE_VLAN || ethertype == ETHERTYPE_QINQ {
        // One tag: its TCI, then the encapsulated ethertype. A second tag reads as "not IP".
        ethertype = be16(read(ctx, ETH_HEADER_BYTES + 2).ok_or(EdgeCounter::PassUnparsed)?);
        l3 = ETH_HEADER_BYTES + VLAN_TAG_BYTES;
    }
    let is_ipv4 = ethertype == ETHERTYPE_IPV4;
    let transport = if is_ipv4 {
        ipv4(ctx, l3)?
    } else if ethertype == ETHERTYPE_IPV6 {
        ipv6(ctx, l3)?
    } else {
        return Err(EdgeCounter::PassNotIp);
    };
    let l4 = transport.l4;
    let udp: [u8; UDP_HEADER_BYTES] = read(ctx, l4).ok_or(EdgeCounter::PassUnparsed)?;
    let port = be16([udp[2], udp[3]]);
    if port < config.port_first || port > config.port_last {
        return Err(EdgeCounter::PassOtherPort);
    }
    if transport.first_fragment {
        // A first fragment to a game port: a game datagram (≤ 1200 bytes) does not fragment on a
        // 1500-byte path (nor on IPv6's 1280-byte minimum), and a fragment cannot be validated.
        return Err(EdgeCounter::DropFragment);
    }
    let udp_bytes = usize::from(be16([udp[4], udp[5]]));
    let frame_bytes = ctx.data_end() - ctx.data();
    // The frame may be longer than the datagram (Ethernet padding), never shorter.
    if udp_bytes < UDP_HEADER_BYTES || l4 + udp_bytes > frame_bytes {
        return Err(EdgeCounter::DropTruncated);
    }
    Ok(GameDatagram {
        source: transport.source,
        payload_offset: l4 + UDP_HEADER_BYTES,
        payload_bytes: udp_bytes - UDP_HEADER_BYTES,
        vlan,
        ipv4: is_ipv4,
    })
}

#[inline(always)]
fn ipv4(ctx: &XdpContext, l3: usize) -> Result<Transport, EdgeCounter> {
    let ip: [u8; IPV4_HEADER_BYTES_MIN] = read(ctx, l3).ok_or(EdgeCounter::PassUnparsed)?;
    let ihl_bytes = usize::from(ip[0] & 0x0f) * 4;
    if ip[0] >> 4 != 4 || ihl_bytes < IPV4_HEADER_BYTES_MIN {
        return Err(EdgeCounter::PassUnparsed);
    }
    if ip[9] != IPPROTO_UDP {
        return Err(EdgeCounter::PassNotUdp);
    }
    let fragment = be16([ip[6], ip[7]]);
    if fragment & IPV4_FRAGMENT_OFFSET_MASK != 0 {
        // No UDP header in a non-first fragment, so no port to judge by. Passing is safe: the
        // first fragment of a game-bound datagram is dropped, so these never reassemble.
        return Err(EdgeCounter::PassFragment);
    }
    // IPv4 options (IHL > 5) are skipped, not rejected: they are legal and the stack handles them.
    Ok(Transport {
        source: SourceKey::ipv4([ip[12], ip[13], ip[14], ip[15]]),
        l4: l3 + ihl_bytes,
        first_fragment: fragment & IPV4_MORE_FRAGMENTS != 0,
    })
}

/// IPv6: UDP directly after the fixed header, or after one Fragment header. Other extension
/// headers (hop-by-hop, routing, destination options) pass to the stack as `PassUnparsed`: a game
/// client sends none, and user space still validates whatever reaches it.
#[inline(always)]
fn ipv6(ctx: &XdpContext, l3: usize) -> Result<Transport, EdgeCounter> {
    let ip: [u8; IPV6_HEADER_BYTES] = read(ctx, l3).ok_or(EdgeCounter::PassUnparsed)?;
    if ip[0] >> 4 != 6 {
        return Err(EdgeCounter::PassUnparsed);
    }
    let source = SourceKey::ipv6_prefix([ip[8], ip[9], ip[10], ip[11], ip[12], ip[13], ip[14], ip[15]]);
    let next_header = ip[6];
    if next_header == IPPROTO_UDP {
        return Ok(Transport {
            source,
            l4: l3 + IPV6_HEADER_BYTES,
            first_fragment: false,
        });
    }
    if next_header != IPV6_FRAGMENT_HEADER {
        return Err(if is_ipv6_extension(next_header) {
            EdgeCounter::PassUnparsed
        } else {
            EdgeCounter::PassNotUdp
        });
    }
    let fragment: [u8; IPV6_FRAGMENT_HEADER_BYTES] =
        read(ctx, l3 + IPV6_HEADER_BYTES).ok_or(EdgeCounter::PassUnparsed)?;
    let offset_and_flags = be16([fragment[2], fragment[3]]);
    if offset_and_flags & IPV6_FRAGMENT_OFFSET_MASK != 0 {
        return Err(EdgeCounter::PassFragment);
    }
    if fragment[0] != IPPROTO_UDP {
        return Err(EdgeCounter::PassNotUdp);
    }
    Ok(Transport {
        source,
        l4: l3 + IPV6_HEADER_BYTES + IPV6_FRAGMENT_HEADER_BYTES,
        // Offset 0 without the M flag is an "atomic fragment": a whole datagram.
        first_fragment: offset_and_flags & IPV6_MORE_FRAGMENTS != 0,
    })
}

#[inline(always)]
fn is_ipv6_extension(next_header: u8) -> bool {
    // Hop-by-hop, routing, destination options, AH, mobility, HIP, shim6.
    matches!(next_header, 0 | 43 | 60 | 51 | 135 | 139 | 140)
}
