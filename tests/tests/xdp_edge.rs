//! The XDP edge program in the kernel, without an interface: `BPF_PROG_TEST_RUN` (aya's `TestRun`
//! through `Edge::test_run`) runs the real, verified program with its real maps over frames built
//! here around packets from meridian-proto's own encoders (`seal_packet`, `connection_request`).
//! Every row asserts the verdict and that exactly one counter moved, by one: the row's.
//!
//! Decisions the table pins down (see `meridian-edge-common` for the reasons):
//! * the game checks run in PROTOCOL.md's order: length bounds (≤ 1200; ≥ 2, and ≥ 42 = header +
//!   Poly1305 tag for sealed types, as user space's `read_sealed_header`), magic, version, type;
//!   then a request's exact size, or a sealed packet's session, tag and window;
//! * frames that are not complete UDP datagrams to a game port pass (the stack judges them); IPv6
//!   is checked like IPv4 when UDP follows the fixed header or one Fragment header (any other
//!   extension header passes); a datagram whose UDP length exceeds the frame is dropped;
//! * per-source buckets are keyed by the IPv4 address or the IPv6 /64;
//! * a first fragment to a game port is dropped, a non-first fragment passes (it cannot reassemble
//!   without the first);
//! * the sequence window is 63 behind (each of the 64 newest sequences passes once) to 65 536 ahead
//!   of the newest sequence passed.

use meridian_node::edge::{Edge, EdgeConfig, EdgeCounter, EdgeCounts, RateLimit, SessionEntry, XdpAction};
use meridian_proto::{
    endpoint::connection_request,
    packet::{PacketType, SEALED_PLAINTEXT_BYTES_MAX, seal_packet},
    token::ConnectToken,
};

const PORT: u16 = 7777;
const SESSION: u64 = 0x1111_2222_3333_4444;
const WINDOW_SESSION: u64 = 0x5555;
const EDGE_KEY: [u8; 16] = [7; 16];
const AEAD_KEY: [u8; 32] = [9; 32];

// ---------------------------------------------------------------------------------------------
// Frame building.

/// How to wrap a UDP payload in Ethernet/IPv4/UDP; the defaults make a valid game-bound frame.
#[derive(Clone)]
struct Wrap {
    source: [u8; 4],
    port: u16,
    /// One VLAN tag with this TPID (0x8100 or 0x88a8), or two when `double_tag`.
    vlan: Option<u16>,
    double_tag: bool,
    /// IPv4 header length in 32-bit words (5 = no options).
    ihl_words: u8,
    protocol: u8,
    /// Flags and fragment offset field.
    fragment: u16,
    /// Overrides the UDP length field.
    udp_bytes: Option<u16>,
    /// Cuts the finished frame to this many bytes.
    cut_to: Option<usize>,
    /// Ethernet padding after the datagram.
    padding: usize,
    /// IPv6 instead of IPv4, from this source (`source` and the IPv4 fields are then unused).
    ipv6: Option<[u8; 16]>,
    /// IPv6: a Fragment header with this offset-and-flags field before UDP.
    ipv6_fragment: Option<u16>,
    /// IPv6: an 8-byte extension header of this type (hop-by-hop 0, destination options 60, …).
    ipv6_extension: Option<u8>,
}

impl Wrap {
    fn from(source_host: u8) -> Wrap {
        Wrap {
            source: [10, 9, 0, source_host],
            port: PORT,
            vlan: None,
            double_tag: false,
            ihl_words: 5,
            protocol: 17,
            fragment: 0,
            udp_bytes: None,
            cut_to: None,
            padding: 0,
            ipv6: None,
            ipv6_fragment: None,
            ipv6_extension: None,
        }
    }

    fn from6(source: [u8; 16]) -> Wrap {
        Wrap {
            ipv6: Some(source),
            ..Wrap::from(0)
        }
    }

    fn frame(&self, payload: &[u8]) -> Vec<u8> {
        let mut frame = Vec::new();
        frame.extend_from_slice(&[0x02, 0, 0, 0, 0, 2]); // destination MAC
        frame.extend_from_slice(&[0x02, 0, 0, 0, 0, 1]); // source MAC
        if let Some(tpid) = self.vlan {
            frame.extend_from_slice(&tpid.to_be_bytes());
            frame.extend_from_slice(&100u16.to_be_bytes()); // VLAN id 100
            if self.double_tag {
                frame.extend_from_slice(&0x8100u16.to_be_bytes());
                frame.extend_from_slice(&200u16.to_be_bytes());
            }
        }
        let udp_bytes = self.udp_bytes.unwrap_or((8 + payload.len()) as u16);
        if let Some(source) = self.ipv6 {
            frame.extend_from_slice(&0x86ddu16.to_be_bytes());
            let mut next_header = self.protocol;
            let mut extensions = Vec::new();
            if let Some(offset_and_flags) = self.ipv6_fragment {
                extensions.extend_from_slice(&[next_header, 0]);
                extensions.extend_from_slice(&offset_and_flags.to_be_bytes());
                extensions.extend_from_slice(&[0, 0, 0x12, 0x34]);
                next_header = 44;
            }
            if let Some(extension) = self.ipv6_extension {
                let mut header = vec![next_header, 0, 1, 4, 0, 0, 0, 0]; // PadN option
                header.extend_from_slice(&extensions);
                extensions = header;
                next_header = extension;
            }
            frame.extend_from_slice(&[0x60, 0, 0, 0]);
            frame.extend_from_slice(&((extensions.len() + 8 + payload.len()) as u16).to_be_bytes());
            frame.extend_from_slice(&[next_header, 64]);
            frame.extend_from_slice(&source);
            frame.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
            frame.extend_from_slice(&extensions);
        } else {
            frame.extend_from_slice(&0x0800u16.to_be_bytes());
            let ip_start = frame.len();
            let ihl_bytes = usize::from(self.ihl_words) * 4;
            let total = (ihl_bytes.max(20) + 8 + payload.len()) as u16;
            frame.push(0x40 | self.ihl_words);
            frame.push(0);
            frame.extend_from_slice(&total.to_be_bytes());
            frame.extend_from_slice(&0x1234u16.to_be_bytes()); // identification
            frame.extend_from_slice(&self.fragment.to_be_bytes());
            frame.push(64); // TTL
            frame.push(self.protocol);
            frame.extend_from_slice(&[0, 0]); // checksum, filled below
            frame.extend_from_slice(&self.source);
            frame.extend_from_slice(&[10, 9, 0, 1]);
            // Options: NOPs (type 1) up to the header length.
            while frame.len() - ip_start < ihl_bytes {
                frame.push(1);
            }
            let checksum = ipv4_checksum(&frame[ip_start..]);
            frame[ip_start + 10..ip_start + 12].copy_from_slice(&checksum.to_be_bytes());
        }
        frame.extend_from_slice(&40_000u16.to_be_bytes()); // source port
        frame.extend_from_slice(&self.port.to_be_bytes());
        frame.extend_from_slice(&udp_bytes.to_be_bytes());
        frame.extend_from_slice(&[0, 0]); // no UDP checksum (XDP runs before the stack checks it)
        frame.extend_from_slice(payload);
        frame.resize(frame.len() + self.padding, 0);
        if let Some(cut) = self.cut_to {
            frame.truncate(cut);
        }
        frame
    }
}

fn ipv4_checksum(header: &[u8]) -> u16 {
    let mut sum = 0u32;
    for pair in header.chunks(2) {
        sum += u32::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn sealed(session: u64, sequence: u64, edge_key: &[u8; 16], plaintext_bytes: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let plaintext = vec![0xAA; plaintext_bytes];
    seal_packet(
        PacketType::Payload,
        session,
        sequence,
        edge_key,
        &AEAD_KEY,
        &plaintext,
        &mut out,
    );
    out
}

/// A real ConnectionRequest: a connect token sealed with a cluster key, padded to 1024 bytes.
fn request() -> Vec<u8> {
    let token = ConnectToken {
        session_id: 99,
        zone_id: 1,
        character_id: 0,
        expires_at_s: 1_700_000_030,
        client_to_server_key: [1; 32],
        server_to_client_key: [2; 32],
        edge_key: [3; 16],
        server_addresses: vec!["10.9.0.1:7777".parse().unwrap()],
    };
    connection_request(&token.seal(&[4; 32], [5; 24]))
}

fn arp_frame() -> Vec<u8> {
    let mut frame = vec![0xff; 6];
    frame.extend_from_slice(&[0x02, 0, 0, 0, 0, 1, 0x08, 0x06]);
    frame.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
    frame.extend_from_slice(&[0x02, 0, 0, 0, 0, 1, 10, 9, 0, 2]);
    frame.extend_from_slice(&[0, 0, 0, 0, 0, 0, 10, 9, 0, 1]);
    frame
}

// ---------------------------------------------------------------------------------------------
// Running rows.

fn config() -> EdgeConfig {
    EdgeConfig::for_port(PORT)
}

fn load(config: EdgeConfig) -> Edge {
    let mut edge = Edge::load(config).expect("load and verify the edge programs (root needed)");
    for (session, worker) in [(SESSION, 0), (WINDOW_SESSION, 1)] {
        edge.sessions()
            .insert(
                session,
                SessionEntry {
                    edge_key: EDGE_KEY,
                    worker,
                    zone: 1,
                    route_revision: 1,
                    sequence_seen: 0,
                    seen_mask: 0,
                },
            )
            .unwrap();
    }
    edge
}

/// Runs one frame once; asserts the verdict and that `expected` (and only it) grew by one.
#[track_caller]
fn run(edge: &Edge, name: &str, frame: &[u8], expected: EdgeCounter) {
    let before = edge.counters().unwrap();
    let outcome = edge
        .test_run(frame, 1)
        .unwrap_or_else(|error| panic!("{name}: test run failed: {error}"));
    let delta = edge.counters().unwrap().since(&before);
    let verdict = if expected.is_drop() {
        XdpAction::Drop
    } else {
        XdpAction::Pass
    };
    assert_eq!(outcome.action, verdict, "{name}: verdict");
    let moved: Vec<(&str, u64)> = delta
        .iter()
        .filter(|(_, count)| *count != 0)
        .map(|(counter, count)| (counter.label(), count))
        .collect();
    assert_eq!(moved, vec![(expected.label(), 1)], "{name}: counters that moved");
}

fn counts(edge: &Edge) -> EdgeCounts {
    edge.counters().unwrap()
}

#[test]
fn every_pass_and_drop_decision_with_its_counter() {
    let mut edge = load(config());
    let mut host = 10u8;
    // A fresh source per row, so no per-source bucket empties across rows.
    let mut wrap = || {
        host += 1;
        Wrap::from(host)
    };
    let mut sequence = 0u64;
    let mut next_valid = |plaintext_bytes: usize| {
        sequence += 1;
        sealed(SESSION, sequence, &EDGE_KEY, plaintext_bytes)
    };

    // Passes: valid sealed packets, plain and in every supported encapsulation.
    run(
        &edge,
        "sealed payload",
        &wrap().frame(&next_valid(20)),
        EdgeCounter::PassSealed,
    );
    assert_eq!(
        edge.sessions().get(SESSION).unwrap().unwrap().sequence_seen,
        2,
        "kernel raised sequence_seen"
    );
    // A node liveness probe passes (within its source's bucket); 16 bytes that are not one do not.
    let mut probe = b"MRDP".to_vec();
    probe.extend_from_slice(&[0; 12]);
    run(&edge, "liveness probe", &wrap().frame(&probe), EdgeCounter::PassProbe);
    let mut not_probe = probe.clone();
    not_probe[3] = b'X';
    run(
        &edge,
        "16 bytes, not a probe",
        &wrap().frame(&not_probe),
        EdgeCounter::DropBadVersion,
    );
    let vlan = Wrap {
        vlan: Some(0x8100),
        ..wrap()
    };
    run(
        &edge,
        "802.1Q tagged",
        &vlan.frame(&next_valid(20)),
        EdgeCounter::PassSealed,
    );
    let qinq_outer = Wrap {
        vlan: Some(0x88a8),
        ..wrap()
    };
    run(
        &edge,
        "802.1ad tagged",
        &qinq_outer.frame(&next_valid(20)),
        EdgeCounter::PassSealed,
    );
    let options = Wrap { ihl_words: 8, ..wrap() };
    run(
        &edge,
        "IPv4 with 12 bytes of options",
        &options.frame(&next_valid(20)),
        EdgeCounter::PassSealed,
    );
    let max_options = Wrap {
        ihl_words: 15,
        vlan: Some(0x8100),
        ..wrap()
    };
    run(
        &edge,
        "IPv4 with 40 bytes of options, tagged",
        &max_options.frame(&next_valid(20)),
        EdgeCounter::PassSealed,
    );
    let padded = Wrap { padding: 30, ..wrap() };
    run(
        &edge,
        "Ethernet padding after the datagram",
        &padded.frame(&next_valid(0)),
        EdgeCounter::PassSealed,
    );

    // Length bounds (sealed: 42 = header + Poly1305 tag is the least user space accepts).
    let smallest = next_valid(0);
    assert_eq!(smallest.len(), 42);
    run(
        &edge,
        "42-byte sealed (smallest)",
        &wrap().frame(&smallest),
        EdgeCounter::PassSealed,
    );
    let smallest = next_valid(0);
    run(
        &edge,
        "41-byte sealed",
        &wrap().frame(&smallest[..41]),
        EdgeCounter::DropTooShort,
    );
    run(
        &edge,
        "26-byte sealed (header only)",
        &wrap().frame(&smallest[..26]),
        EdgeCounter::DropTooShort,
    );
    run(
        &edge,
        "25-byte sealed",
        &wrap().frame(&smallest[..25]),
        EdgeCounter::DropTooShort,
    );
    run(
        &edge,
        "1-byte datagram",
        &wrap().frame(&[0x4d]),
        EdgeCounter::DropTooShort,
    );
    run(&edge, "empty datagram", &wrap().frame(&[]), EdgeCounter::DropTooShort);
    let largest = next_valid(SEALED_PLAINTEXT_BYTES_MAX);
    assert_eq!(largest.len(), 1200);
    run(
        &edge,
        "1200-byte sealed (largest)",
        &wrap().frame(&largest),
        EdgeCounter::PassSealed,
    );
    let mut too_long = next_valid(SEALED_PLAINTEXT_BYTES_MAX);
    too_long.push(0);
    run(
        &edge,
        "1201-byte datagram",
        &wrap().frame(&too_long),
        EdgeCounter::DropTooLong,
    );

    // Magic, version, type.
    let mut bad = next_valid(8);
    bad[0] = 0x4e;
    run(&edge, "bad magic", &wrap().frame(&bad), EdgeCounter::DropBadMagic);
    let mut bad = next_valid(8);
    bad[1] = 0x23;
    run(&edge, "version 2", &wrap().frame(&bad), EdgeCounter::DropBadVersion);
    let mut bad = next_valid(8);
    bad[1] = 0x15;
    run(&edge, "type 5", &wrap().frame(&bad), EdgeCounter::DropBadType);
    let mut bad = next_valid(8);
    bad[1] = 0x1f;
    run(&edge, "type 15", &wrap().frame(&bad), EdgeCounter::DropBadType);

    // ConnectionRequests: exactly 1024 bytes.
    let request = request();
    assert_eq!(request.len(), 1024);
    run(
        &edge,
        "1024-byte request",
        &wrap().frame(&request),
        EdgeCounter::PassRequest,
    );
    run(
        &edge,
        "1023-byte request",
        &wrap().frame(&request[..1023]),
        EdgeCounter::DropBadRequestSize,
    );
    let mut long_request = request.clone();
    long_request.push(0);
    run(
        &edge,
        "1025-byte request",
        &wrap().frame(&long_request),
        EdgeCounter::DropBadRequestSize,
    );

    // Sessions and tags.
    run(
        &edge,
        "unknown session",
        &wrap().frame(&sealed(0xdead, 1, &EDGE_KEY, 8)),
        EdgeCounter::DropUnknownSession,
    );
    let mut flipped = next_valid(8);
    flipped[20] ^= 1;
    run(
        &edge,
        "edge tag with a flipped bit",
        &wrap().frame(&flipped),
        EdgeCounter::DropBadEdgeTag,
    );
    run(
        &edge,
        "edge tag under another key",
        &wrap().frame(&sealed(SESSION, 500, &[8; 16], 8)),
        EdgeCounter::DropBadEdgeTag,
    );
    let mut changed_sequence = next_valid(8);
    changed_sequence[10] ^= 0x40;
    run(
        &edge,
        "sequence changed after tagging",
        &wrap().frame(&changed_sequence),
        EdgeCounter::DropBadEdgeTag,
    );

    // The sequence window (its own session: newest passed = 10 000).
    let window = |sequence: u64| sealed(WINDOW_SESSION, sequence, &EDGE_KEY, 8);
    run(
        &edge,
        "window: newest",
        &wrap().frame(&window(10_000)),
        EdgeCounter::PassSealed,
    );
    run(
        &edge,
        "window: a copy of the newest (replayed live packet)",
        &wrap().frame(&window(10_000)),
        EdgeCounter::DropReplayed,
    );
    run(
        &edge,
        "window: 64 behind",
        &wrap().frame(&window(10_000 - 64)),
        EdgeCounter::DropReplayed,
    );
    run(
        &edge,
        "window: 63 behind, first copy (reordered)",
        &wrap().frame(&window(10_000 - 63)),
        EdgeCounter::PassSealed,
    );
    run(
        &edge,
        "window: 63 behind, second copy",
        &wrap().frame(&window(10_000 - 63)),
        EdgeCounter::DropReplayed,
    );
    run(
        &edge,
        "window: 65 537 ahead",
        &wrap().frame(&window(10_000 + 65_537)),
        EdgeCounter::DropSequenceAhead,
    );
    run(
        &edge,
        "window: 65 536 ahead",
        &wrap().frame(&window(10_000 + 65_536)),
        EdgeCounter::PassSealed,
    );
    run(
        &edge,
        "window: the old newest is now far behind",
        &wrap().frame(&window(10_000)),
        EdgeCounter::DropReplayed,
    );

    // Not game traffic: passes untouched.
    run(&edge, "ARP", &arp_frame(), EdgeCounter::PassNotIp);
    let v6 = |host: u8| {
        let mut source = [0xfd, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
        source[15] = host;
        source[6] = host; // a distinct /64 per row
        Wrap::from6(source)
    };

    // IPv6: the same checks after the fixed header (or one Fragment header).
    run(
        &edge,
        "IPv6 sealed",
        &v6(1).frame(&next_valid(20)),
        EdgeCounter::PassSealed,
    );
    let v6_tagged = Wrap {
        vlan: Some(0x8100),
        ..v6(2)
    };
    run(
        &edge,
        "IPv6 sealed, 802.1Q tagged",
        &v6_tagged.frame(&next_valid(20)),
        EdgeCounter::PassSealed,
    );
    run(&edge, "IPv6 request", &v6(3).frame(&request), EdgeCounter::PassRequest);
    let mut v6_bad = next_valid(8);
    v6_bad[20] ^= 1;
    run(
        &edge,
        "IPv6 bad edge tag",
        &v6(4).frame(&v6_bad),
        EdgeCounter::DropBadEdgeTag,
    );
    run(
        &edge,
        "IPv6 bad magic",
        &v6(5).frame(&[0x4e; 50]),
        EdgeCounter::DropBadMagic,
    );
    let v6_atomic = Wrap {
        ipv6_fragment: Some(0),
        ..v6(6)
    };
    run(
        &edge,
        "IPv6 atomic fragment (whole datagram)",
        &v6_atomic.frame(&next_valid(8)),
        EdgeCounter::PassSealed,
    );
    let v6_first = Wrap {
        ipv6_fragment: Some(1),
        ..v6(7)
    };
    run(
        &edge,
        "IPv6 first fragment to the game port",
        &v6_first.frame(&next_valid(8)),
        EdgeCounter::DropFragment,
    );
    let v6_later = Wrap {
        ipv6_fragment: Some(100 << 3),
        ..v6(8)
    };
    run(
        &edge,
        "IPv6 non-first fragment",
        &v6_later.frame(&[0; 40]),
        EdgeCounter::PassFragment,
    );
    let v6_hop_by_hop = Wrap {
        ipv6_extension: Some(0),
        ..v6(9)
    };
    run(
        &edge,
        "IPv6 hop-by-hop header before UDP",
        &v6_hop_by_hop.frame(&next_valid(8)),
        EdgeCounter::PassUnparsed,
    );
    let v6_tcp = Wrap { protocol: 6, ..v6(10) };
    run(&edge, "IPv6 TCP", &v6_tcp.frame(&[0; 40]), EdgeCounter::PassNotUdp);
    let v6_other_port = Wrap {
        port: PORT + 1,
        ..v6(11)
    };
    run(
        &edge,
        "IPv6 UDP to another port",
        &v6_other_port.frame(&[0; 40]),
        EdgeCounter::PassOtherPort,
    );
    run(
        &edge,
        "IPv6 header cut short",
        &v6(12).frame(&next_valid(8))[..14 + 39],
        EdgeCounter::PassUnparsed,
    );
    let v6_cut = Wrap {
        cut_to: Some(14 + 40 + 8 + 10),
        ..v6(13)
    };
    run(
        &edge,
        "IPv6 datagram cut short",
        &v6_cut.frame(&next_valid(8)),
        EdgeCounter::DropTruncated,
    );
    let tcp = Wrap { protocol: 6, ..wrap() };
    run(&edge, "TCP", &tcp.frame(&next_valid(8)), EdgeCounter::PassNotUdp);
    let other_port = Wrap {
        port: PORT + 1,
        ..wrap()
    };
    run(
        &edge,
        "UDP to another port",
        &other_port.frame(&[0; 30]),
        EdgeCounter::PassOtherPort,
    );
    let double_tag = Wrap {
        vlan: Some(0x88a8),
        double_tag: true,
        ..wrap()
    };
    run(
        &edge,
        "two VLAN tags (not parsed)",
        &double_tag.frame(&next_valid(8)),
        EdgeCounter::PassNotIp,
    );

    // Truncated and malformed lower layers: passed to the stack, which drops them itself.
    let frame = wrap().frame(&next_valid(8));
    run(&edge, "Ethernet header only", &frame[..14], EdgeCounter::PassUnparsed);
    let tagged = Wrap {
        vlan: Some(0x8100),
        ..wrap()
    };
    run(
        &edge,
        "VLAN tag cut short",
        &tagged.frame(&next_valid(8))[..16],
        EdgeCounter::PassUnparsed,
    );
    run(
        &edge,
        "IPv4 header cut short",
        &frame[..14 + 19],
        EdgeCounter::PassUnparsed,
    );
    run(
        &edge,
        "UDP header cut short",
        &frame[..14 + 20 + 7],
        EdgeCounter::PassUnparsed,
    );
    let long_options = Wrap {
        ihl_words: 15,
        cut_to: Some(14 + 60 + 4),
        ..wrap()
    };
    run(
        &edge,
        "UDP header cut short after options",
        &long_options.frame(&next_valid(8)),
        EdgeCounter::PassUnparsed,
    );
    let ihl4 = Wrap { ihl_words: 4, ..wrap() };
    run(&edge, "IHL 4", &ihl4.frame(&next_valid(8)), EdgeCounter::PassUnparsed);
    assert!(
        edge.test_run(&frame[..13], 1).is_err(),
        "the kernel refuses to test a frame under 14 bytes"
    );
    // A UDP length that lies about a game-bound datagram is dropped.
    let cut = Wrap {
        cut_to: Some(14 + 20 + 8 + 30),
        ..wrap()
    };
    run(
        &edge,
        "datagram cut short (UDP length > frame)",
        &cut.frame(&next_valid(8)),
        EdgeCounter::DropTruncated,
    );
    let short_udp_length = Wrap {
        udp_bytes: Some(7),
        ..wrap()
    };
    run(
        &edge,
        "UDP length under 8",
        &short_udp_length.frame(&next_valid(8)),
        EdgeCounter::DropTruncated,
    );

    // Fragments.
    let first_fragment = Wrap {
        fragment: 0x2000,
        ..wrap()
    };
    run(
        &edge,
        "first fragment to the game port",
        &first_fragment.frame(&next_valid(8)),
        EdgeCounter::DropFragment,
    );
    let first_fragment_other_port = Wrap {
        fragment: 0x2000,
        port: PORT + 1,
        ..wrap()
    };
    run(
        &edge,
        "first fragment to another port",
        &first_fragment_other_port.frame(&[0; 40]),
        EdgeCounter::PassOtherPort,
    );
    let later_fragment = Wrap {
        fragment: 100,
        ..wrap()
    };
    run(
        &edge,
        "non-first fragment",
        &later_fragment.frame(&[0; 40]),
        EdgeCounter::PassFragment,
    );
    let dont_fragment = Wrap {
        fragment: 0x4000,
        ..wrap()
    };
    run(
        &edge,
        "don't-fragment flag set",
        &dont_fragment.frame(&next_valid(8)),
        EdgeCounter::PassSealed,
    );
}

#[test]
fn per_source_bucket_drops_the_packet_after_the_burst_and_ignores_junk() {
    let burst = 4;
    let edge = load(EdgeConfig {
        // 1 packet/s refill: the test sends its packets well within a second.
        source: RateLimit { rate_per_s: 1, burst },
        ..config()
    });
    let source = Wrap::from(50);
    // Junk with the source's address first: it fails the tag, so it must not spend tokens.
    for i in 0..10 {
        run(
            &edge,
            "junk from the source",
            &source.frame(&sealed(SESSION, i, &[1; 16], 8)),
            EdgeCounter::DropBadEdgeTag,
        );
    }
    for i in 0..u64::from(burst) {
        run(
            &edge,
            "within the burst",
            &source.frame(&sealed(SESSION, i, &EDGE_KEY, 8)),
            EdgeCounter::PassSealed,
        );
    }
    run(
        &edge,
        "burst + 1",
        &source.frame(&sealed(SESSION, 4, &EDGE_KEY, 8)),
        EdgeCounter::DropRateLimitedSource,
    );
    // IPv6 sources share a bucket per /64: rotating the interface half does not help.
    for i in 0..u64::from(burst) {
        let mut source = [0xfd, 0, 0, 0, 0, 0, 0, 0x42, 0, 0, 0, 0, 0, 0, 0, 0];
        source[8..].copy_from_slice(&i.to_be_bytes());
        run(
            &edge,
            "IPv6 /64 within the burst",
            &Wrap::from6(source).frame(&sealed(SESSION, 10 + i, &EDGE_KEY, 8)),
            EdgeCounter::PassSealed,
        );
    }
    let mut rotated = [0xfd, 0, 0, 0, 0, 0, 0, 0x42, 0, 0, 0, 0, 0, 0, 0, 0];
    rotated[8..].copy_from_slice(&[0xff; 8]);
    run(
        &edge,
        "IPv6 /64 burst + 1 from a new address",
        &Wrap::from6(rotated).frame(&sealed(SESSION, 20, &EDGE_KEY, 8)),
        EdgeCounter::DropRateLimitedSource,
    );
    rotated[7] = 0x43;
    run(
        &edge,
        "another IPv6 /64 is unaffected",
        &Wrap::from6(rotated).frame(&sealed(SESSION, 21, &EDGE_KEY, 8)),
        EdgeCounter::PassSealed,
    );
    run(
        &edge,
        "another source is unaffected",
        &Wrap::from(51).frame(&sealed(SESSION, 5, &EDGE_KEY, 8)),
        EdgeCounter::PassSealed,
    );
}

#[test]
fn request_buckets_limit_each_source_and_the_node() {
    let edge = load(EdgeConfig {
        request_source: RateLimit {
            rate_per_s: 1,
            burst: 3,
        },
        request_budget: RateLimit {
            rate_per_s: 1,
            burst: 5,
        },
        ..config()
    });
    let request = request();
    let flooder = Wrap::from(60);
    for _ in 0..3 {
        run(
            &edge,
            "request within the source's burst",
            &flooder.frame(&request),
            EdgeCounter::PassRequest,
        );
    }
    run(
        &edge,
        "request burst + 1 from one source",
        &flooder.frame(&request),
        EdgeCounter::DropRateLimitedRequestSource,
    );
    // The budget had 5; the flooder spent 3 (its dropped fourth spent nothing of the budget).
    run(
        &edge,
        "request from a second source",
        &Wrap::from(61).frame(&request),
        EdgeCounter::PassRequest,
    );
    run(
        &edge,
        "request from a third source",
        &Wrap::from(62).frame(&request),
        EdgeCounter::PassRequest,
    );
    run(
        &edge,
        "request over the node's budget",
        &Wrap::from(63).frame(&request),
        EdgeCounter::DropRequestBudget,
    );
    // Sealed packets are not charged to the request budget.
    run(
        &edge,
        "sealed packet during the request flood",
        &Wrap::from(64).frame(&sealed(SESSION, 0, &EDGE_KEY, 8)),
        EdgeCounter::PassSealed,
    );
}

#[test]
fn repeat_counts_every_run_and_sessions_can_be_removed_and_rerouted() {
    let mut edge = load(config());
    let frame = Wrap::from(70).frame(&[0x4e; 50]);
    let before = counts(&edge);
    let outcome = edge.test_run(&frame, 1000).unwrap();
    assert_eq!(outcome.action, XdpAction::Drop);
    assert_eq!(counts(&edge).since(&before).get(EdgeCounter::DropBadMagic), 1000);
    assert_eq!(counts(&edge).since(&before).frames(), 1000);

    // A second handle (as a worker thread would hold) sees and changes the same map.
    let mut handle = edge.sessions().try_clone().unwrap();
    handle.insert(0x77, SessionEntry::default()).unwrap();
    assert_eq!(edge.sessions().get(0x77).unwrap(), Some(SessionEntry::default()));
    assert!(handle.reroute(SESSION, 1, 2, 7).unwrap());
    let entry = edge.sessions().get(SESSION).unwrap().unwrap();
    assert_eq!(
        (entry.worker, entry.zone, entry.route_revision, entry.edge_key),
        (1, 2, 7, EDGE_KEY)
    );
    assert!(edge.sessions().remove(SESSION).unwrap());
    assert!(!edge.sessions().remove(SESSION).unwrap());
    assert!(!edge.sessions().reroute(SESSION, 0, 0, 0).unwrap());
    run(
        &edge,
        "removed session",
        &Wrap::from(71).frame(&sealed(SESSION, 0, &EDGE_KEY, 8)),
        EdgeCounter::DropUnknownSession,
    );
}

/// The same program attached natively to a veth in a namespace: valid sealed packets reach the
/// socket, junk does not (and is counted), and dropping the `Edge` detaches it (its link goes).
#[test]
fn attached_natively_to_a_veth_it_filters_real_traffic_and_detaches_on_drop() {
    use std::{net::UdpSocket, time::Duration};

    use meridian_node::edge::XdpMode;
    use meridian_testkit::TwoHosts;

    let hosts = TwoHosts::new().expect("create topology");
    let mut edge = load(config());
    let interface = hosts.b.interface.clone();
    hosts
        .ns_b()
        .run(|| edge.attach_xdp(&interface, XdpMode::Driver))
        .unwrap()
        .expect("attach XDP natively to the veth");
    let receiver = hosts
        .ns_b()
        .run(|| UdpSocket::bind((hosts.b.addr, PORT)))
        .unwrap()
        .unwrap();
    receiver.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    let sender = hosts
        .ns_a()
        .run(|| UdpSocket::bind((hosts.a.addr, 0)))
        .unwrap()
        .unwrap();
    let to = (hosts.b.addr, PORT);
    let mut buf = [0u8; 1500];

    // A valid packet first (also resolves ARP, which the edge passes).
    sender.send_to(&sealed(SESSION, 0, &EDGE_KEY, 8), to).unwrap();
    assert_eq!(receiver.recv(&mut buf).expect("valid packet passes").min(2), 2);
    let before = counts(&edge);
    let junk: [(Vec<u8>, EdgeCounter); 4] = [
        (vec![0x4e; 60], EdgeCounter::DropBadMagic),
        (sealed(0xdead, 1, &EDGE_KEY, 8), EdgeCounter::DropUnknownSession),
        (sealed(SESSION, 1, &[1; 16], 8), EdgeCounter::DropBadEdgeTag),
        (request()[..1000].to_vec(), EdgeCounter::DropBadRequestSize),
    ];
    for (datagram, _) in &junk {
        for _ in 0..10 {
            sender.send_to(datagram, to).unwrap();
        }
    }
    let valid = sealed(SESSION, 2, &EDGE_KEY, 8);
    sender.send_to(&valid, to).unwrap();
    let bytes = receiver.recv(&mut buf).expect("the valid packet after the junk");
    assert_eq!(&buf[..bytes], &valid[..], "no junk reached the socket before it");
    assert!(receiver.recv(&mut buf).is_err(), "nothing else arrives");
    let delta = counts(&edge).since(&before);
    for (_, counter) in &junk {
        assert_eq!(delta.get(*counter), 10, "{}", counter.label());
    }
    assert_eq!(delta.get(EdgeCounter::PassSealed), 1);

    // Dropped, the edge is gone from the interface: junk reaches the socket again.
    drop(edge);
    sender.send_to(&junk[0].0, to).unwrap();
    let bytes = receiver.recv(&mut buf).expect("junk arrives once the edge is detached");
    assert_eq!(&buf[..bytes], &junk[0].0[..]);
}

/// Environment variable naming the interface the child process attaches to (see below).
const CHILD_INTERFACE_ENV: &str = "MERIDIAN_EDGE_TEST_CHILD_INTERFACE";
const CHILD_ATTACHED_LINE: &str = "edge-child: attached";

/// Not a test on its own: the process `killed_holder_detaches_the_edge` starts (this test binary,
/// run inside the namespace by `ip netns exec`) and kills. It attaches the edge and waits.
#[test]
#[ignore = "run as a child process by killed_holder_detaches_the_edge"]
fn edge_child_process_attaches_and_waits() {
    let Ok(interface) = std::env::var(CHILD_INTERFACE_ENV) else {
        return;
    };
    let mut edge = load(config());
    edge.attach_xdp(&interface, meridian_node::edge::XdpMode::Driver)
        .expect("child attaches");
    println!("{CHILD_ATTACHED_LINE}");
    std::thread::sleep(std::time::Duration::from_secs(60));
    drop(edge);
}

/// The link is owned by the process: `kill -9` of the process that attached the edge detaches it
/// (the kernel closes the link fd), so a crashed node leaves no program filtering its interface.
#[test]
fn killed_holder_detaches_the_edge() {
    use std::{
        io::{BufRead, BufReader},
        net::UdpSocket,
        process::{Command, Stdio},
        time::Duration,
    };

    use meridian_testkit::TwoHosts;

    let hosts = TwoHosts::new().expect("create topology");
    let mut child = Command::new("ip")
        .args(["netns", "exec", &hosts.b.netns])
        .arg(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "edge_child_process_attaches_and_waits",
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD_INTERFACE_ENV, &hosts.b.interface)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the child");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let attached = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|line| line.contains(CHILD_ATTACHED_LINE));
    assert!(attached, "the child attached the edge");

    let receiver = hosts
        .ns_b()
        .run(|| UdpSocket::bind((hosts.b.addr, PORT)))
        .unwrap()
        .unwrap();
    receiver.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let sender = hosts
        .ns_a()
        .run(|| UdpSocket::bind((hosts.a.addr, 0)))
        .unwrap()
        .unwrap();
    let junk = [0x4e; 60];
    let mut buf = [0u8; 1500];
    // The first send may wait for ARP; a few tries make sure the junk really met the program.
    for _ in 0..3 {
        sender.send_to(&junk, (hosts.b.addr, PORT)).unwrap();
        assert!(
            receiver.recv(&mut buf).is_err(),
            "junk is dropped while the child holds the edge"
        );
    }

    child.kill().expect("SIGKILL the child");
    child.wait().unwrap();
    // The kernel releases the link as the dead process's files close; allow it a moment.
    let arrived = (0..10).any(|_| {
        sender.send_to(&junk, (hosts.b.addr, PORT)).unwrap();
        receiver.recv(&mut buf).is_ok_and(|bytes| buf[..bytes] == junk)
    });
    assert!(arrived, "junk arrives once the holder is dead");
}
