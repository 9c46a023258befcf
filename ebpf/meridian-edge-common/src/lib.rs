//! `meridian-edge-common` holds the `#[repr(C)]` types that cross the boundary between Meridian's
//! kernel-side edge (the XDP program `edge` and the `sk_reuseport` program `steer` in
//! `meridian-edge-ebpf`) and user space (the loader in `meridian-node`): map names, map key and
//! value layouts, the game header view and the counter slots. It is `no_std` so the eBPF crate can
//! use it. Every type derives zerocopy's `FromBytes`, `IntoBytes`, `KnownLayout` and `Immutable`
//! (the derive builds for bpfel), so neither side needs a hand-written cast to read a header or a
//! map value; the `user` feature adds the `aya::Pod` impls aya's map API asks for. Sizes and field
//! offsets are asserted at compile time below, and so on both sides, because both compile this file.
#![no_std]

mod rate;
mod siphash;

pub use rate::{SequenceWindow, advance_sequence, check_sequence};
pub use siphash::edge_tag;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, byteorder::little_endian::U64};

// ---------------------------------------------------------------------------------------------
// The counting program (the pipeline's first program, kept for its end-to-end test).

/// Name of the XDP program that counts UDP datagrams addressed to one port.
pub const PACKET_COUNTER_PROGRAM: &str = "count_udp";
/// Name of the one-entry `Array<PacketCounterConfig>` map the counting program reads.
pub const PACKET_COUNTER_CONFIG_MAP: &str = "COUNTER_CONFIG";
/// Name of the `PerCpuArray<u64>` map the counting program increments.
pub const PACKET_COUNTERS_MAP: &str = "PACKET_COUNTERS";

/// Slots of [`PACKET_COUNTERS_MAP`]. Per-CPU, so the program never contends on a cache line.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PacketCounterSlot {
    /// IPv4 UDP datagrams whose destination port equals the configured one.
    MatchedUdp = 0,
    /// Every other frame seen (ARP, IPv6, other ports, truncated frames).
    Other = 1,
}

/// Number of slots in [`PACKET_COUNTERS_MAP`].
pub const PACKET_COUNTER_SLOTS: u32 = 2;

/// Configuration of the counting program, written by user space before traffic flows.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct PacketCounterConfig {
    /// UDP destination port to count, in host byte order. Zero matches nothing.
    pub udp_dst_port: u16,
    /// Explicit padding so the layout has no implicit holes; must be zero.
    pub reserved: u16,
}

// ---------------------------------------------------------------------------------------------
// The edge: program and map names.

/// The XDP program that validates, rate-limits and counts game packets.
pub const EDGE_PROGRAM: &str = "edge";
/// The `sk_reuseport` program that steers a session's datagrams to its worker's socket.
pub const STEER_PROGRAM: &str = "steer";
/// `Array<EdgeConfig>`, one entry, written by user space before the programs run.
pub const EDGE_CONFIG_MAP: &str = "EDGE_CONFIG";
/// `LruHashMap<SessionKey, SessionValue>`: the sessions the node hosts or forwards (fed by user
/// space; the XDP program updates only `sequence_seen` and `seen_mask`).
pub const EDGE_SESSIONS_MAP: &str = "EDGE_SESSIONS";
/// `LruHashMap<SourceKey, RateBucket>`: per-source bucket for sealed packets.
pub const EDGE_SOURCE_BUCKETS_MAP: &str = "EDGE_SOURCE_BUCKETS";
/// `LruHashMap<SourceKey, RateBucket>`: per-source bucket for ConnectionRequests (stricter).
pub const EDGE_REQUEST_BUCKETS_MAP: &str = "EDGE_REQUEST_BUCKETS";
/// `Array<RateBucket>`, one entry: the node-wide ConnectionRequest budget.
pub const EDGE_REQUEST_BUDGET_MAP: &str = "EDGE_REQUEST_BUDGET";
/// `PerCpuArray<u64>` indexed by [`EdgeCounter`].
pub const EDGE_COUNTERS_MAP: &str = "EDGE_COUNTERS";
/// `ReusePortSockArray`: worker index → that worker's socket in the `SO_REUSEPORT` group.
pub const STEER_SOCKETS_MAP: &str = "STEER_SOCKETS";

/// Capacity of [`EDGE_SESSIONS_MAP`]: the user-space session table holds at most 8192 sessions per
/// endpoint; a node runs a few workers. LRU so a missed removal cannot fill it for good.
pub const EDGE_SESSIONS_MAX: u32 = 65_536;
/// Capacity of each per-source bucket map. LRU: a spoofed-source flood evicts the oldest sources
/// (an evicted source starts again with a full bucket, which only matters for the flood itself).
pub const EDGE_SOURCES_MAX: u32 = 65_536;
/// Capacity of [`STEER_SOCKETS_MAP`]: the most workers a node can steer to.
pub const STEER_WORKERS_MAX: u32 = 64;

// ---------------------------------------------------------------------------------------------
// The game protocol as the edge sees it (PROTOCOL.md §1; the constants are asserted equal to
// meridian-proto's in this crate's tests).

pub const PACKET_MAGIC: u8 = 0x4D;
pub const PROTOCOL_VERSION: u8 = 1;
/// Types 0..=4 exist; 0 is the ConnectionRequest, 1..=4 are sealed.
pub const PACKET_TYPE_MAX: u8 = 4;
pub const PACKET_TYPE_CONNECTION_REQUEST: u8 = 0;
pub const DATAGRAM_BYTES_MAX: usize = 1200;
pub const CONNECTION_REQUEST_BYTES: usize = 1024;
/// Clear header of a sealed packet (magic, version/type, session id, sequence, edge tag).
pub const SEALED_HEADER_BYTES: usize = 26;
/// The smallest sealed packet user space accepts: header and Poly1305 tag (an empty ciphertext).
pub const SEALED_BYTES_MIN: usize = SEALED_HEADER_BYTES + 16;
/// The edge tag covers bytes 0..18 (magic through sequence).
pub const EDGE_TAG_COVERED_BYTES: usize = 18;
pub const EDGE_KEY_BYTES: usize = 16;

/// The first two bytes of every packet.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct PacketPrefix {
    pub magic: u8,
    /// Version in the high nibble, type in the low nibble.
    pub version_type: u8,
}

impl PacketPrefix {
    pub fn version(&self) -> u8 {
        self.version_type >> 4
    }

    pub fn packet_type(&self) -> u8 {
        self.version_type & 0x0f
    }
}

/// The clear header of a sealed packet, as laid out on the wire (little-endian, unaligned: the
/// byteorder types have alignment 1, so the view can sit at any offset of a datagram).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct SealedHeaderView {
    pub prefix: PacketPrefix,
    pub session_id: U64,
    pub sequence: U64,
    pub edge_tag: U64,
}

// ---------------------------------------------------------------------------------------------
// Map keys and values.

/// Key of [`EDGE_SESSIONS_MAP`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct SessionKey {
    pub session_id: u64,
}

/// What the edge needs to check and steer a session's packets: the `entry` of [`SessionValue`], the value
/// of [`EDGE_SESSIONS_MAP`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct SessionEntry {
    /// The session's SipHash-2-4 edge key (k0 = bytes 0..8, k1 = bytes 8..16, little-endian).
    pub edge_key: [u8; EDGE_KEY_BYTES],
    /// Index of the worker socket (in [`STEER_SOCKETS_MAP`]) that owns the session's zone.
    pub worker: u32,
    /// The zone the session plays in (informational for the edge; steering uses `worker`).
    pub zone: u32,
    /// Revision of the route this entry was written from (the control plane's route revision), so
    /// user space can tell a stale entry from the current one.
    pub route_revision: u64,
    /// Newest client sequence the edge passed, plus one; 0 = none yet (the same convention as the
    /// user-space replay window). The XDP program raises it; user space writes 0 on insert, or the
    /// value it knows when re-routing a live session (0 is always safe: it accepts any sequence).
    pub sequence_seen: u64,
    /// Which of the [`EDGE_REPLAY_MASK_BITS`] newest sequences passed: bit `i` is sequence
    /// `sequence_seen - 1 - i`. A copy of one of them is dropped as `replayed` at the edge (the
    /// user-space window, 256 wide, stays the authority: a race between CPUs can let a copy by).
    pub seen_mask: u64,
}

/// Where the edge sends a session's sealed packets when another node behind the same address
/// (the VIP) owns the session: encapsulated IP-in-IP to `owner_ipv4`, that node's underlay address.
/// All zero = this node owns the session (the packet passes to the local socket).
///
/// No MAC address is kept: the forwarded frame goes back out of the interface it came in on
/// (`XDP_TX`) to the neighbour it came from (source and destination MACs swapped). A PoP node has
/// one uplink, its router, which delivered the client's packet and routes the underlay; so the
/// router is the next hop towards every owner. (`bpf_fib_lookup` would also find other next hops,
/// but then `XDP_TX` is wrong for any other interface and a devmap redirect is needed: not worth it
/// while a node has one uplink.)
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct ForwardTarget {
    /// The owner node's underlay IPv4 address, network byte order as on the wire; 0.0.0.0 = local.
    pub owner_ipv4: [u8; 4],
    /// Explicit padding so the layout has no implicit holes; must be zero.
    pub reserved: [u8; 4],
}

impl ForwardTarget {
    /// The session is this node's: packets pass to the local socket.
    pub const LOCAL: ForwardTarget = ForwardTarget {
        owner_ipv4: [0; 4],
        reserved: [0; 4],
    };

    pub const fn to(owner_ipv4: [u8; 4]) -> ForwardTarget {
        ForwardTarget {
            owner_ipv4,
            reserved: [0; 4],
        }
    }

    pub const fn is_local(&self) -> bool {
        u32::from_ne_bytes(self.owner_ipv4) == 0
    }
}

/// Value of [`EDGE_SESSIONS_MAP`]: the session's checks and steering (`entry`, which user space and
/// the tests build as before) and where its packets go (`forward`). A separate struct rather than a
/// field of [`SessionEntry`] so that every place building a `SessionEntry` for a local session
/// stays as it is.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct SessionValue {
    pub entry: SessionEntry,
    pub forward: ForwardTarget,
}

/// IPv4 header the edge puts in front of a forwarded packet (no options), protocol 4 (IP-in-IP).
pub const IPIP_HEADER_BYTES: usize = 20;
pub const IPPROTO_IPIP: u8 = 4;
/// TTL of the outer header: the underlay path between two PoP nodes is a few hops.
pub const IPIP_TTL: u8 = 64;

/// The outer IPv4 header the edge puts in front of a forwarded IPv4 packet whose own header starts
/// with `inner_start` (its first 8 bytes: version/IHL, TOS, total length, identification):
/// protocol 4, TTL [`IPIP_TTL`], TOS and identification copied from the inner header (its DSCP
/// marking survives the tunnel, and the identification is as unique as the client made it), no
/// DF: a game datagram (≤ 1200 bytes, so ≤ 1248 with UDP, inner and outer IPv4 headers) fits every
/// IPv4 path of 1280 bytes and more, and a narrower underlay fragments rather than drops it.
#[inline(always)]
pub fn ipip_header(inner_start: [u8; 8], source: [u8; 4], destination: [u8; 4]) -> [u8; IPIP_HEADER_BYTES] {
    let inner_total = u16::from_be_bytes([inner_start[2], inner_start[3]]);
    let total = inner_total.wrapping_add(IPIP_HEADER_BYTES as u16).to_be_bytes();
    let mut header = [
        0x45,
        inner_start[1],
        total[0],
        total[1],
        inner_start[4],
        inner_start[5],
        0,
        0,
        IPIP_TTL,
        IPPROTO_IPIP,
        0,
        0,
        source[0],
        source[1],
        source[2],
        source[3],
        destination[0],
        destination[1],
        destination[2],
        destination[3],
    ];
    let checksum = ipv4_header_checksum(&header).to_be_bytes();
    header[10] = checksum[0];
    header[11] = checksum[1];
    header
}

/// The IPv4 header checksum (RFC 791: ones' complement of the ones' complement sum of the 16-bit
/// words) of a 20-byte header whose checksum field is zero.
#[inline(always)]
pub fn ipv4_header_checksum(header: &[u8; IPIP_HEADER_BYTES]) -> u16 {
    let mut sum = 0u32;
    let mut i = 0;
    while i < IPIP_HEADER_BYTES {
        sum += u32::from(u16::from_be_bytes([header[i], header[i + 1]]));
        i += 2;
    }
    // Ten 16-bit words sum to less than 2^20: two folds always suffice.
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    !(sum as u16)
}

/// A node liveness probe: exactly this many bytes, starting with [`PROBE_MAGIC`] (the node's
/// `probe` module owns the format; the edge only recognises it).
pub const PROBE_BYTES: usize = 16;
pub const PROBE_MAGIC: [u8; 4] = *b"MRDP";

/// Sequences the edge remembers exactly per session (the bits of [`SessionEntry::seen_mask`]).
pub const EDGE_REPLAY_MASK_BITS: u32 = 64;

/// Key of the per-source bucket maps: 16 address bytes as on the wire. An IPv4 source is stored
/// IPv4-mapped (`::ffff:a.b.c.d`); an IPv6 source by its /64 prefix with the interface half zeroed,
/// because one subscriber holds a whole /64 and could otherwise rotate through 2⁶⁴ buckets.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct SourceKey {
    pub addr: [u8; 16],
}

impl SourceKey {
    #[inline(always)]
    pub fn ipv4(addr: [u8; 4]) -> SourceKey {
        SourceKey {
            addr: [
                0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, addr[0], addr[1], addr[2], addr[3],
            ],
        }
    }

    /// The /64 of an IPv6 source.
    #[inline(always)]
    pub fn ipv6_prefix(prefix: [u8; 8]) -> SourceKey {
        SourceKey {
            addr: [
                prefix[0], prefix[1], prefix[2], prefix[3], prefix[4], prefix[5], prefix[6], prefix[7], 0, 0, 0, 0, 0,
                0, 0, 0,
            ],
        }
    }
}

/// A token bucket kept as time credit: each packet costs `1e9 / rate` ns of credit, credit grows
/// by the time elapsed and is capped at `burst` packets' worth. No division on the packet path
/// except the one cost computation, and no floating point.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct RateBucket {
    /// Credit left, in nanoseconds of refill time.
    pub credit_ns: u64,
    /// `bpf_ktime_get_ns()` when the credit was last brought up to date.
    pub updated_ns: u64,
}

/// One rate: `rate_per_s` packets per second sustained, `burst` at once. `rate_per_s == 0`
/// disables the limit (everything passes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct RateLimit {
    pub rate_per_s: u32,
    pub burst: u32,
}

/// Configuration of the edge, [`EDGE_CONFIG_MAP`]'s only entry.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct EdgeConfig {
    /// Game ports, inclusive range, host byte order. UDP to any other port passes untouched.
    pub port_first: u16,
    pub port_last: u16,
    /// Per-source limit for sealed packets (everything game-bound but ConnectionRequests).
    pub source: RateLimit,
    /// Per-source limit for ConnectionRequests (a client resends one every 100 ms while it waits).
    pub request_source: RateLimit,
    /// Node-wide ConnectionRequest budget: a flood from many spoofed sources is capped here, so
    /// the handshake path (token opening in user space) keeps a bounded cost.
    pub request_budget: RateLimit,
    /// A sealed packet more than this many sequences behind the newest one seen is dropped
    /// (`replayed`); 0 disables the check. Within [`EDGE_REPLAY_MASK_BITS`] − 1 behind, copies are
    /// dropped exactly; between that and this bound packets pass unchecked (user space decides).
    pub sequence_behind_max: u32,
    /// A sealed packet more than this many sequences ahead of the newest one seen is dropped
    /// (`sequence_ahead`); 0 disables the check.
    pub sequence_ahead_max: u32,
    /// This node's underlay IPv4 address (network byte order), the outer source of packets it
    /// forwards to another node behind the same VIP ([`ForwardTarget`]). 0.0.0.0 = not set: a
    /// forwarding session's packets then pass to user space (`pass_forward_failed`).
    pub underlay_ipv4: [u8; 4],
}

impl EdgeConfig {
    /// Defaults for one game port: 1000 sealed packets/s per source (burst 200: a client sends ~60 a
    /// second), 20 requests/s per source (burst 10), 2000 requests/s for the node (burst 500), and a
    /// window of 63 behind, remembered exactly (a copy of any of the 64 newest sequences is a
    /// replay; a packet overtaken by 63 newer ones — a second of reordering at a client's send rate
    /// — is useless to the game, its inputs came again in the newer ones) to 65 536 ahead (minutes
    /// of loss at any real send rate; a session times out after 5 s of silence).
    pub const fn for_port(port: u16) -> EdgeConfig {
        EdgeConfig {
            port_first: port,
            port_last: port,
            source: RateLimit {
                rate_per_s: 1_000,
                burst: 200,
            },
            request_source: RateLimit {
                rate_per_s: 20,
                burst: 10,
            },
            request_budget: RateLimit {
                rate_per_s: 2_000,
                burst: 500,
            },
            sequence_behind_max: EDGE_REPLAY_MASK_BITS - 1,
            sequence_ahead_max: 65_536,
            underlay_ipv4: [0; 4],
        }
    }

    /// The same configuration with this node's underlay address set (the outer source of the
    /// packets it forwards to other nodes behind the VIP).
    pub const fn with_underlay(mut self, underlay: core::net::Ipv4Addr) -> EdgeConfig {
        self.underlay_ipv4 = underlay.octets();
        self
    }
}

// ---------------------------------------------------------------------------------------------
// Counters.

/// One slot per decision of the edge (`edge`) and of the steering program (`steer`). Every frame
/// the XDP program sees lands in exactly one `Pass*`, `Drop*` or `Tx*` slot (a decapsulated one
/// also in `TunnelDecapsulated`); every datagram `steer` sees lands in exactly one `Steer*` slot.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EdgeCounter {
    /// Not IPv4 or IPv6 (ARP, LLDP, a second VLAN tag, …).
    PassNotIp = 0,
    /// Ethernet, VLAN, IP or UDP header cut short or malformed (IHL < 5, wrong IP version), or an
    /// IPv6 extension header other than Fragment before UDP: left to the stack (which drops a
    /// malformed frame itself, and hands anything else to user space's full validation); the edge
    /// cannot tell whether it was game-bound.
    PassUnparsed,
    /// IP but not UDP.
    PassNotUdp,
    /// UDP to a port outside the game range.
    PassOtherPort,
    /// A non-first IPv4 or IPv6 fragment (no UDP header to look at; see `DropFragment`).
    PassFragment,
    /// A well-formed ConnectionRequest within its buckets.
    PassRequest,
    /// A sealed packet of a known session with a valid edge tag, in the window, within its bucket.
    PassSealed,
    /// First fragment of a UDP datagram to a game port: game datagrams (≤ 1200 bytes) are never
    /// fragmented on a 1500-byte path and a fragment cannot be validated; without its first
    /// fragment the rest never reassembles, so they are passed and expire in the reassembly queue.
    DropFragment,
    /// The UDP length field disagrees with the frame (under 8, or more bytes than arrived).
    DropTruncated,
    DropTooLong,
    DropTooShort,
    DropBadMagic,
    DropBadVersion,
    DropBadType,
    DropBadRequestSize,
    DropUnknownSession,
    DropBadEdgeTag,
    /// A copy of one of the newest sequences passed, or more than `sequence_behind_max` behind the
    /// newest.
    DropReplayed,
    /// More than `sequence_ahead_max` ahead of the newest sequence seen.
    DropSequenceAhead,
    DropRateLimitedSource,
    DropRateLimitedRequestSource,
    DropRequestBudget,
    /// `steer`: selected the session's worker socket.
    SteerSession,
    /// `steer`: a ConnectionRequest (its zone is sealed in the token): the kernel's hash decides.
    SteerFallbackRequest,
    /// `steer`: a sealed packet of a session not in the map: hash.
    SteerFallbackUnknownSession,
    /// `steer`: not a game packet or too short to read: hash.
    SteerFallbackOther,
    /// `steer`: the worker index had no socket (or selection failed): hash.
    SteerFallbackNoSocket,
    /// A node liveness probe (16 bytes starting `MRDP`, `meridian-node probe`, the anycast health
    /// check) within its source's bucket: passed to the workers, which answer it.
    PassProbe,
    /// A sealed packet of a session another node owns ([`ForwardTarget`]): checked like
    /// `PassSealed` (tag, window, bucket), then encapsulated IP-in-IP to the owner and sent back out
    /// (`XDP_TX`).
    TxForwarded,
    /// A sealed packet of a forwarding session that passed the checks but could not be
    /// encapsulated (no underlay address configured, an IPv6 client, no head room), or that itself
    /// arrived through the tunnel (a packet is forwarded at most once, so two nodes that each
    /// believe the other owns a session cannot bounce it between them): passed to user space,
    /// which forwards or drops it.
    PassForwardFailed,
    /// Not a decision: an IP-in-IP packet to this node's underlay address whose outer header the
    /// edge stripped. The inner packet is then judged as if it had come straight from the client
    /// and lands in its own slot, so a decapsulated frame counts here and once more.
    TunnelDecapsulated,
    /// A decapsulated packet that is not a sealed game packet (the tunnel between nodes carries
    /// only what an edge forwards: anything else inside is spoofing through the underlay).
    DropTunnelNotSealed,
}

/// Number of slots in [`EDGE_COUNTERS_MAP`].
pub const EDGE_COUNTER_SLOTS: u32 = EdgeCounter::DropTunnelNotSealed as u32 + 1;

impl EdgeCounter {
    /// Every slot, in index order.
    pub const ALL: [EdgeCounter; EDGE_COUNTER_SLOTS as usize] = [
        EdgeCounter::PassNotIp,
        EdgeCounter::PassUnparsed,
        EdgeCounter::PassNotUdp,
        EdgeCounter::PassOtherPort,
        EdgeCounter::PassFragment,
        EdgeCounter::PassRequest,
        EdgeCounter::PassSealed,
        EdgeCounter::DropFragment,
        EdgeCounter::DropTruncated,
        EdgeCounter::DropTooLong,
        EdgeCounter::DropTooShort,
        EdgeCounter::DropBadMagic,
        EdgeCounter::DropBadVersion,
        EdgeCounter::DropBadType,
        EdgeCounter::DropBadRequestSize,
        EdgeCounter::DropUnknownSession,
        EdgeCounter::DropBadEdgeTag,
        EdgeCounter::DropReplayed,
        EdgeCounter::DropSequenceAhead,
        EdgeCounter::DropRateLimitedSource,
        EdgeCounter::DropRateLimitedRequestSource,
        EdgeCounter::DropRequestBudget,
        EdgeCounter::SteerSession,
        EdgeCounter::SteerFallbackRequest,
        EdgeCounter::SteerFallbackUnknownSession,
        EdgeCounter::SteerFallbackOther,
        EdgeCounter::SteerFallbackNoSocket,
        EdgeCounter::PassProbe,
        EdgeCounter::TxForwarded,
        EdgeCounter::PassForwardFailed,
        EdgeCounter::TunnelDecapsulated,
        EdgeCounter::DropTunnelNotSealed,
    ];

    /// The stable metrics label: `pass_*`, `drop_*`, `tx_*` (sent back out by the XDP program),
    /// `tunnel_*` (a step, not a decision) or `steer_*`, snake_case, never reused.
    pub const fn label(self) -> &'static str {
        match self {
            EdgeCounter::PassNotIp => "pass_not_ip",
            EdgeCounter::PassUnparsed => "pass_unparsed",
            EdgeCounter::PassNotUdp => "pass_not_udp",
            EdgeCounter::PassOtherPort => "pass_other_port",
            EdgeCounter::PassFragment => "pass_fragment",
            EdgeCounter::PassRequest => "pass_request",
            EdgeCounter::PassSealed => "pass_sealed",
            EdgeCounter::PassProbe => "pass_probe",
            EdgeCounter::DropFragment => "drop_fragment",
            EdgeCounter::DropTruncated => "drop_truncated",
            EdgeCounter::DropTooLong => "drop_too_long",
            EdgeCounter::DropTooShort => "drop_too_short",
            EdgeCounter::DropBadMagic => "drop_bad_magic",
            EdgeCounter::DropBadVersion => "drop_bad_version",
            EdgeCounter::DropBadType => "drop_bad_type",
            EdgeCounter::DropBadRequestSize => "drop_bad_request_size",
            EdgeCounter::DropUnknownSession => "drop_unknown_session",
            EdgeCounter::DropBadEdgeTag => "drop_bad_edge_tag",
            EdgeCounter::DropReplayed => "drop_replayed",
            EdgeCounter::DropSequenceAhead => "drop_sequence_ahead",
            EdgeCounter::DropRateLimitedSource => "drop_rate_limited_source",
            EdgeCounter::DropRateLimitedRequestSource => "drop_rate_limited_request_source",
            EdgeCounter::DropRequestBudget => "drop_request_budget",
            EdgeCounter::SteerSession => "steer_session",
            EdgeCounter::SteerFallbackRequest => "steer_fallback_request",
            EdgeCounter::SteerFallbackUnknownSession => "steer_fallback_unknown_session",
            EdgeCounter::SteerFallbackOther => "steer_fallback_other",
            EdgeCounter::SteerFallbackNoSocket => "steer_fallback_no_socket",
            EdgeCounter::TxForwarded => "tx_forwarded",
            EdgeCounter::PassForwardFailed => "pass_forward_failed",
            EdgeCounter::TunnelDecapsulated => "tunnel_decapsulated",
            EdgeCounter::DropTunnelNotSealed => "drop_tunnel_not_sealed",
        }
    }

    /// For a drop, the reason without the `drop_` prefix: where the meaning is the same it is
    /// `meridian_proto::packet::PacketError::label()` (`bad_magic`, `too_short`, `replayed`, …), so
    /// a dashboard can put the edge's drops beside user space's. `None` for pass and steer slots.
    pub fn drop_reason(self) -> Option<&'static str> {
        self.label().strip_prefix("drop_")
    }

    /// Whether the XDP program drops the frames counted here (the first drop slots are
    /// contiguous, later ones appended one by one: a few comparisons, no string work).
    pub const fn is_drop(self) -> bool {
        (self as u32 >= EdgeCounter::DropFragment as u32 && self as u32 <= EdgeCounter::DropRequestBudget as u32)
            || self as u32 == EdgeCounter::DropTunnelNotSealed as u32
    }
}

// ---------------------------------------------------------------------------------------------
// Layout asserts: both the eBPF crate and user space compile these, so a layout that differs
// between the two builds cannot compile on one of them.

const _: () = {
    use core::mem::{offset_of, size_of};
    assert!(size_of::<PacketCounterConfig>() == 4);
    assert!(size_of::<PacketPrefix>() == 2);
    assert!(size_of::<SealedHeaderView>() == SEALED_HEADER_BYTES);
    assert!(offset_of!(SealedHeaderView, session_id) == 2);
    assert!(offset_of!(SealedHeaderView, sequence) == 10);
    assert!(offset_of!(SealedHeaderView, edge_tag) == EDGE_TAG_COVERED_BYTES);
    assert!(size_of::<SessionKey>() == 8);
    assert!(size_of::<SessionEntry>() == 48);
    assert!(offset_of!(SessionEntry, worker) == 16);
    assert!(offset_of!(SessionEntry, zone) == 20);
    assert!(offset_of!(SessionEntry, route_revision) == 24);
    assert!(offset_of!(SessionEntry, sequence_seen) == 32);
    assert!(offset_of!(SessionEntry, seen_mask) == 40);
    assert!(size_of::<ForwardTarget>() == 8);
    assert!(size_of::<SessionValue>() == 56);
    assert!(offset_of!(SessionValue, forward) == 48);
    assert!(size_of::<SourceKey>() == 16);
    assert!(size_of::<RateBucket>() == 16);
    assert!(size_of::<RateLimit>() == 8);
    assert!(size_of::<EdgeConfig>() == 40);
    assert!(offset_of!(EdgeConfig, source) == 4);
    assert!(offset_of!(EdgeConfig, request_source) == 12);
    assert!(offset_of!(EdgeConfig, request_budget) == 20);
    assert!(offset_of!(EdgeConfig, sequence_behind_max) == 28);
    assert!(offset_of!(EdgeConfig, sequence_ahead_max) == 32);
    assert!(offset_of!(EdgeConfig, underlay_ipv4) == 36);
};

#[cfg(feature = "user")]
mod pod {
    // SAFETY (all impls): each type is `#[repr(C)]`, `Copy`, and derives zerocopy's `FromBytes` and
    // `IntoBytes`, whose derives refuse to compile if the type has padding or a field that is not
    // valid for every bit pattern: exactly what `aya::Pod` requires to copy it to and from a map.
    unsafe impl aya::Pod for super::PacketCounterConfig {}
    unsafe impl aya::Pod for super::SessionKey {}
    unsafe impl aya::Pod for super::SessionEntry {}
    unsafe impl aya::Pod for super::SessionValue {}
    unsafe impl aya::Pod for super::SourceKey {}
    unsafe impl aya::Pod for super::RateBucket {}
    unsafe impl aya::Pod for super::EdgeConfig {}
}
