//! Forwarding to the node that owns a session (issue 14, item 5): several nodes answer on one
//! address (the VIP), and a session handed off to another node keeps sending to the VIP, so the
//! network may keep delivering its packets here. After the usual checks (this node still holds
//! the session's edge key and window from when it owned it), the packet is encapsulated IP-in-IP
//! to the owner's underlay address and sent back out of the interface it came in on (`XDP_TX`),
//! with no user-space hop. The owner's edge strips the outer header in its own XDP program
//! (`decapsulate`: no tunnel device, which not every kernel has, and no reverse-path exception,
//! since the stack then sees the client's packet arrive on the uplink its route points to), judges
//! the inner packet as if it came from the client (session, tag, window), and the inner datagram
//! (client → VIP, untouched) reaches the owner's socket; the owner answers the client from the
//! VIP directly (direct server return).
//!
//! MTU: the frame grows by the 20-byte outer header. Game datagrams are at most 1200 bytes, 1248
//! with UDP and both IPv4 headers: within any 1280-byte IPv4 path, so the underlay needs no larger
//! MTU than the Internet side.
//!
//! The Ethernet header keeps its VLAN tag, and its MACs are swapped: the frame goes back to the
//! neighbour it came from, the node's router (see `ForwardTarget` for why no FIB lookup).

use aya_ebpf::{helpers::bpf_xdp_adjust_head, programs::XdpContext};
use meridian_edge_common::{EdgeCounter, IPIP_HEADER_BYTES, IPPROTO_IPIP, ipip_header};

use crate::parse::{GameDatagram, read, write};

const ETH_MACS_BYTES: usize = 12;
const ETH_HEADER_BYTES: usize = 14;
const VLAN_TAG_BYTES: usize = 4;
/// What is rewritten at the new front of an untagged frame: MACs, ethertype, outer IPv4 header.
const FRONT_BYTES: usize = ETH_HEADER_BYTES + IPIP_HEADER_BYTES;
/// The same with one VLAN tag.
const FRONT_TAGGED_BYTES: usize = FRONT_BYTES + VLAN_TAG_BYTES;
const ETHERTYPE_IPV4: [u8; 2] = [0x08, 0x00];
const ETHERTYPE_VLAN: [u8; 2] = [0x81, 0x00];
const ETHERTYPE_QINQ: [u8; 2] = [0x88, 0xa8];
/// The least a tunnelled frame holds after its Ethernet header: both IPv4 headers.
const TUNNELLED_IP_BYTES_MIN: usize = 2 * IPIP_HEADER_BYTES;

/// What [`decapsulate`] did.
pub enum Decapsulated {
    /// Not IP-in-IP to this node's underlay address: the frame is as it was.
    No,
    /// The outer IPv4 header is gone; the frame now holds the inner packet.
    Yes,
    /// The kernel refused to move the frame's start (cannot happen for a frame that long; the
    /// Ethernet header was already moved, so the frame is dropped).
    Failed,
}

/// If the frame is IP-in-IP (protocol 4, no options, not a fragment: exactly what `encapsulate`
/// sends) addressed to this node's underlay address, strips the outer header in place: the
/// Ethernet header (with its VLAN tag) moves up by 20 bytes and the frame's start with it.
#[inline(always)]
pub fn decapsulate(ctx: &XdpContext, underlay: [u8; 4]) -> Decapsulated {
    if u32::from_ne_bytes(underlay) == 0 {
        return Decapsulated::No;
    }
    let Some(ethertype) = read::<[u8; 2]>(ctx, ETH_MACS_BYTES) else {
        return Decapsulated::No;
    };
    if ethertype == ETHERTYPE_VLAN || ethertype == ETHERTYPE_QINQ {
        decapsulate_at::<{ ETH_HEADER_BYTES + VLAN_TAG_BYTES }>(ctx, underlay)
    } else if ethertype == ETHERTYPE_IPV4 {
        decapsulate_at::<ETH_HEADER_BYTES>(ctx, underlay)
    } else {
        Decapsulated::No
    }
}

/// `L3` = the Ethernet header's length (14 or 18), a constant per call.
#[inline(always)]
fn decapsulate_at<const L3: usize>(ctx: &XdpContext, underlay: [u8; 4]) -> Decapsulated {
    // One read at a time, each with its own early return: LLVM turns a tuple of `Option`s into
    // masks over the packet pointers, which the verifier refuses.
    let Some(outer) = read::<[u8; IPIP_HEADER_BYTES]>(ctx, L3) else {
        return Decapsulated::No;
    };
    let fragment = u16::from_be_bytes([outer[6], outer[7]]) & 0x3fff;
    if outer[0] != 0x45 || outer[9] != IPPROTO_IPIP || fragment != 0 || outer[16..20] != underlay {
        return Decapsulated::No;
    }
    if read::<[u8; TUNNELLED_IP_BYTES_MIN]>(ctx, L3).is_none() {
        return Decapsulated::No;
    }
    let Some(ethernet) = read::<[u8; L3]>(ctx, 0) else {
        return Decapsulated::No;
    };
    if ethernet[L3 - 2..L3] != ETHERTYPE_IPV4 {
        return Decapsulated::No;
    }
    if !write(ctx, IPIP_HEADER_BYTES, ethernet) {
        return Decapsulated::No;
    }
    // SAFETY: as in `encapsulate_at`; packet pointers are re-read from the context afterwards.
    if unsafe { bpf_xdp_adjust_head(ctx.ctx, IPIP_HEADER_BYTES as i32) } != 0 {
        return Decapsulated::Failed;
    }
    Decapsulated::Yes
}

/// Encapsulates the frame for `owner` from `underlay` (this node; both network byte order) in
/// place; returns `TxForwarded` (the caller returns `XDP_TX`) or `PassForwardFailed` with the
/// frame as it was.
#[inline(always)]
pub fn encapsulate(ctx: &XdpContext, underlay: [u8; 4], datagram: &GameDatagram, owner: [u8; 4]) -> EdgeCounter {
    if !datagram.ipv4 || u32::from_ne_bytes(underlay) == 0 {
        return EdgeCounter::PassForwardFailed;
    }
    if datagram.vlan {
        encapsulate_at::<FRONT_TAGGED_BYTES>(ctx, underlay, owner, ETH_HEADER_BYTES + VLAN_TAG_BYTES)
    } else {
        encapsulate_at::<FRONT_BYTES>(ctx, underlay, owner, ETH_HEADER_BYTES)
    }
}

/// `FRONT` = `l3` + 20: the new Ethernet header (its length is `l3`, a constant per call, so every
/// offset below is a constant the verifier checks at once) and the outer IPv4 header.
#[inline(always)]
fn encapsulate_at<const FRONT: usize>(ctx: &XdpContext, source: [u8; 4], owner: [u8; 4], l3: usize) -> EdgeCounter {
    // Everything kept from the old front is read before the head moves.
    let Some(macs) = read::<[u8; ETH_MACS_BYTES]>(ctx, 0) else {
        return EdgeCounter::PassForwardFailed;
    };
    let Some(inner) = read::<[u8; 8]>(ctx, l3) else {
        return EdgeCounter::PassForwardFailed;
    };
    let Some(tag) = read::<[u8; VLAN_TAG_BYTES]>(ctx, ETH_MACS_BYTES) else {
        return EdgeCounter::PassForwardFailed;
    };
    let mut front = [0u8; FRONT];
    // Back to the neighbour it came from: destination = the old source, source = us.
    front[..6].copy_from_slice(&macs[6..12]);
    front[6..12].copy_from_slice(&macs[..6]);
    if l3 > ETH_HEADER_BYTES {
        front[12..16].copy_from_slice(&tag);
    }
    front[l3 - 2..l3].copy_from_slice(&ETHERTYPE_IPV4);
    front[l3..l3 + IPIP_HEADER_BYTES].copy_from_slice(&ipip_header(inner, source, owner));
    // SAFETY: the helper moves the frame's start; the context pointer is the program's own, and
    // every packet pointer is re-read from the context afterwards (`write` does).
    if unsafe { bpf_xdp_adjust_head(ctx.ctx, -(IPIP_HEADER_BYTES as i32)) } != 0 {
        return EdgeCounter::PassForwardFailed;
    }
    if write(ctx, 0, front) {
        return EdgeCounter::TxForwarded;
    }
    // Unreachable in practice (the frame just grew by the header), but the verifier needs the
    // check: put the start back so the stack sees the frame it was given.
    // SAFETY: as above.
    unsafe { bpf_xdp_adjust_head(ctx.ctx, IPIP_HEADER_BYTES as i32) };
    EdgeCounter::PassForwardFailed
}
