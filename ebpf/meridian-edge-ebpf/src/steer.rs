//! `steer`: the `sk_reuseport` program. For a sealed packet of a session in the map it selects the
//! socket of the session's worker (`SessionEntry::worker`, an index into `STEER_SOCKETS`), so the
//! datagram lands on the worker that owns the player's zone and no user-space forwarding happens.
//! A ConnectionRequest cannot be steered at the edge (its zone is sealed inside the token), nor can
//! a session not (yet) in the map, a non-game datagram or an empty socket slot: the program then
//! returns `SK_PASS` without selecting, and the kernel picks by its 4-tuple hash as it would
//! without the program (the worker's user-space forwarding handles the rest). It never drops.
//! It does not validate the edge tag: on the node's interface the XDP program already did.

use aya_ebpf::{
    bindings::sk_action, cty::c_void, helpers::bpf_skb_load_bytes, macros::sk_reuseport, programs::SkReuseportContext,
};
use meridian_edge_common::{
    EdgeCounter, PACKET_MAGIC, PACKET_TYPE_CONNECTION_REQUEST, PACKET_TYPE_MAX, PROTOCOL_VERSION, SessionKey,
};

use crate::{
    counters::count,
    maps::{EDGE_SESSIONS, STEER_SOCKETS},
};

/// The program's data starts at the UDP header (the IP header is already pulled for a socket
/// lookup); the game packet follows it.
const UDP_HEADER_BYTES: u32 = 8;
/// Magic, version/type and the session id.
const STEER_READ_BYTES: usize = 10;

#[sk_reuseport]
pub fn steer(ctx: SkReuseportContext) -> u32 {
    count(decide(&ctx));
    sk_action::SK_PASS
}

#[inline(always)]
fn decide(ctx: &SkReuseportContext) -> EdgeCounter {
    let mut bytes = [0u8; STEER_READ_BYTES];
    // `bpf_skb_load_bytes` rather than direct access: it also reads a datagram whose payload is
    // not in the skb's linear part.
    // SAFETY: the helper writes at most `STEER_READ_BYTES` into `bytes`, a stack buffer of that size.
    let loaded = unsafe {
        bpf_skb_load_bytes(
            ctx.md as *const c_void,
            UDP_HEADER_BYTES,
            bytes.as_mut_ptr() as *mut c_void,
            STEER_READ_BYTES as u32,
        )
    };
    if loaded != 0 || bytes[0] != PACKET_MAGIC || bytes[1] >> 4 != PROTOCOL_VERSION {
        return EdgeCounter::SteerFallbackOther;
    }
    let packet_type = bytes[1] & 0x0f;
    if packet_type == PACKET_TYPE_CONNECTION_REQUEST {
        return EdgeCounter::SteerFallbackRequest;
    }
    if packet_type > PACKET_TYPE_MAX {
        return EdgeCounter::SteerFallbackOther;
    }
    let key = SessionKey {
        session_id: u64::from_le_bytes([
            bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7], bytes[8], bytes[9],
        ]),
    };
    let Some(entry) = EDGE_SESSIONS.get_ptr(&key) else {
        return EdgeCounter::SteerFallbackUnknownSession;
    };
    // SAFETY: the map's value for `key`, valid for this run.
    let worker = unsafe { (*entry).entry.worker };
    match STEER_SOCKETS.select_reuseport(ctx, worker) {
        Ok(()) => EdgeCounter::SteerSession,
        Err(_) => EdgeCounter::SteerFallbackNoSocket,
    }
}
