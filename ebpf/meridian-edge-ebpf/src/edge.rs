//! `edge`: the XDP program. For a UDP datagram to a game port it makes the checks of
//! PROTOCOL.md §1 in the order given there (length bounds, magic, version, type), then either the
//! ConnectionRequest path (exact size, per-source request bucket, node-wide budget) or the sealed
//! path (minimum size, session lookup, SipHash-2-4 edge tag, sequence window, per-source bucket).
//! Everything else passes untouched. Every decision is counted in exactly one slot. A sealed packet
//! of a session another node owns is, after the same checks, encapsulated to that node and sent
//! back out (`forward.rs`); requests are never forwarded (a request carries no session yet).
//!
//! The per-source bucket of sealed packets is charged last, after the tag verified: spoofed junk
//! carrying a player's source address cannot drain that player's tokens, and the bucket map only
//! holds sources that proved they hold a session key. Junk that fails an earlier check costs no
//! map update at all.

use aya_ebpf::{bindings::xdp_action, macros::xdp, programs::XdpContext};
use meridian_edge_common::{
    CONNECTION_REQUEST_BYTES, DATAGRAM_BYTES_MAX, EDGE_TAG_COVERED_BYTES, EdgeConfig, EdgeCounter, PACKET_MAGIC,
    PACKET_TYPE_CONNECTION_REQUEST, PACKET_TYPE_MAX, PROBE_BYTES, PROBE_MAGIC, PROTOCOL_VERSION, PacketPrefix,
    SEALED_BYTES_MIN, SealedHeaderView, SequenceWindow, SessionKey, advance_sequence, check_sequence, edge_tag,
};
use zerocopy::IntoBytes;

use crate::{
    counters::count,
    forward::{Decapsulated, decapsulate, encapsulate},
    maps::{EDGE_CONFIG, EDGE_REQUEST_BUCKETS, EDGE_SESSIONS, EDGE_SOURCE_BUCKETS},
    parse::{GameDatagram, game_datagram, read},
    rate::{now_ns, take_request_budget, take_source},
};

#[xdp]
pub fn edge(ctx: XdpContext) -> u32 {
    let decision = decide(&ctx);
    count(decision);
    if decision.is_drop() {
        xdp_action::XDP_DROP
    } else if decision == EdgeCounter::TxForwarded {
        xdp_action::XDP_TX
    } else {
        xdp_action::XDP_PASS
    }
}

#[inline(always)]
fn decide(ctx: &XdpContext) -> EdgeCounter {
    let Some(config) = EDGE_CONFIG.get(0) else {
        return EdgeCounter::PassOtherPort;
    };
    // Read once, as a value: with the map pointer kept instead, LLVM reloads and reuses it across
    // branches in ways the verifier rejects (pointer arithmetic on a map value).
    // SAFETY: a plain read of a field of the map value, valid for this run.
    let underlay = unsafe { core::ptr::read_volatile(&config.underlay_ipv4) };
    let tunnelled = match decapsulate(ctx, underlay) {
        Decapsulated::No => false,
        Decapsulated::Yes => {
            count(EdgeCounter::TunnelDecapsulated);
            true
        }
        Decapsulated::Failed => return EdgeCounter::DropTruncated,
    };
    let decision = match game_datagram(ctx, config) {
        Ok(datagram) => check_game(ctx, config, &datagram, underlay, tunnelled),
        Err(slot) => slot,
    };
    // Inside the tunnel only what an edge forwards is accepted: sealed packets of a session.
    if tunnelled
        && !decision.is_drop()
        && decision != EdgeCounter::PassSealed
        && decision != EdgeCounter::PassForwardFailed
    {
        return EdgeCounter::DropTunnelNotSealed;
    }
    decision
}

#[inline(always)]
fn check_game(
    ctx: &XdpContext,
    config: &EdgeConfig,
    datagram: &GameDatagram,
    underlay: [u8; 4],
    tunnelled: bool,
) -> EdgeCounter {
    let bytes = datagram.payload_bytes;
    if bytes > DATAGRAM_BYTES_MAX {
        return EdgeCounter::DropTooLong;
    }
    if bytes < core::mem::size_of::<PacketPrefix>() {
        return EdgeCounter::DropTooShort;
    }
    let Some(prefix) = read::<PacketPrefix>(ctx, datagram.payload_offset) else {
        return EdgeCounter::DropTooShort;
    };
    // `black_box`: knowing the length is 16, the compiler would drop the bounds check of the read
    // below as redundant with the UDP length checked in `parse`, a relation the verifier does not
    // track (it then refuses the program).
    if core::hint::black_box(bytes) == PROBE_BYTES
        && [prefix.magic, prefix.version_type] == [PROBE_MAGIC[0], PROBE_MAGIC[1]]
    {
        // The probe's other two magic bytes, with their own bounds check against data_end.
        if let Some(rest) = read::<PacketPrefix>(ctx, datagram.payload_offset + 2)
            && [rest.magic, rest.version_type] == [PROBE_MAGIC[2], PROBE_MAGIC[3]]
        {
            // Liveness probes are answered by the workers; a flood of them is held by the
            // source's bucket like sealed packets.
            if !take_source(&EDGE_SOURCE_BUCKETS, &datagram.source, config.source, now_ns()) {
                return EdgeCounter::DropRateLimitedSource;
            }
            return EdgeCounter::PassProbe;
        }
    }
    if prefix.magic != PACKET_MAGIC {
        return EdgeCounter::DropBadMagic;
    }
    if prefix.version() != PROTOCOL_VERSION {
        return EdgeCounter::DropBadVersion;
    }
    let packet_type = prefix.packet_type();
    if packet_type > PACKET_TYPE_MAX {
        return EdgeCounter::DropBadType;
    }
    // The clock is read only on the paths that reach a bucket (it costs about as much as all the
    // header checks together).
    if packet_type == PACKET_TYPE_CONNECTION_REQUEST {
        if bytes != CONNECTION_REQUEST_BYTES {
            return EdgeCounter::DropBadRequestSize;
        }
        let now = now_ns();
        // The strict per-source bucket first: one source cannot spend the node-wide budget.
        if !take_source(&EDGE_REQUEST_BUCKETS, &datagram.source, config.request_source, now) {
            return EdgeCounter::DropRateLimitedRequestSource;
        }
        if !take_request_budget(config.request_budget, now) {
            return EdgeCounter::DropRequestBudget;
        }
        return EdgeCounter::PassRequest;
    }
    if bytes < SEALED_BYTES_MIN {
        return EdgeCounter::DropTooShort;
    }
    let Some(header) = read::<SealedHeaderView>(ctx, datagram.payload_offset) else {
        return EdgeCounter::DropTooShort;
    };
    let key = SessionKey {
        session_id: header.session_id.get(),
    };
    let Some(entry) = EDGE_SESSIONS.get_ptr_mut(&key) else {
        return EdgeCounter::DropUnknownSession;
    };
    // SAFETY: the map's value for `key`, valid for this run. User space may rewrite it meanwhile
    // (a re-route changes worker, zone and revision, a hand-off to another node the forward
    // target, never the edge key), so a torn copy can at worst hold an older window, which only
    // widens it for this packet, or the previous owner, which user space forwards from there.
    let value = unsafe { *entry };
    let entry_copy = value.entry;
    let covered = covered_bytes(&header);
    if edge_tag(&entry_copy.edge_key, &covered) != header.edge_tag.get() {
        return EdgeCounter::DropBadEdgeTag;
    }
    let sequence = header.sequence.get();
    let window = SequenceWindow {
        seen: entry_copy.sequence_seen,
        mask: entry_copy.seen_mask,
    };
    if let Some(slot) = check_sequence(window, sequence, config) {
        return slot;
    }
    if !take_source(&EDGE_SOURCE_BUCKETS, &datagram.source, config.source, now_ns()) {
        return EdgeCounter::DropRateLimitedSource;
    }
    let next = advance_sequence(window, sequence);
    // SAFETY: as above. Two CPUs racing here (one session's packets normally stay on one receive
    // queue) may store out of order or lose a mark: the window then only widens — a copy may reach
    // user space, whose own replay window drops it — and never drops a good packet.
    unsafe {
        (*entry).entry.sequence_seen = next.seen;
        (*entry).entry.seen_mask = next.mask;
    }
    if !value.forward.is_local() {
        if tunnelled {
            return EdgeCounter::PassForwardFailed;
        }
        return encapsulate(ctx, underlay, datagram, value.forward.owner_ipv4);
    }
    EdgeCounter::PassSealed
}

/// The 18 bytes the edge tag covers: the header already read, viewed as bytes (zerocopy's
/// `IntoBytes`, no cast and no second packet read).
#[inline(always)]
fn covered_bytes(header: &SealedHeaderView) -> [u8; EDGE_TAG_COVERED_BYTES] {
    let (covered, _) = header
        .as_bytes()
        .split_first_chunk::<EDGE_TAG_COVERED_BYTES>()
        .unwrap_or((&[0; EDGE_TAG_COVERED_BYTES], &[]));
    *covered
}
