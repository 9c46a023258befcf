//! The shared definitions checked on the host against the protocol's reference implementation:
//! constants, the header view's layout over a real sealed packet, the kernel's SipHash against
//! `siphasher` (through `meridian_proto::packet::edge_tag`), the token bucket and the sequence
//! window stepped by hand, and the counter labels.

use std::collections::HashSet;

use meridian_edge_common::{
    CONNECTION_REQUEST_BYTES, DATAGRAM_BYTES_MAX, EDGE_COUNTER_SLOTS, EDGE_REPLAY_MASK_BITS, EDGE_TAG_COVERED_BYTES,
    EdgeConfig, EdgeCounter, ForwardTarget, IPIP_TTL, IPPROTO_IPIP, PACKET_MAGIC, PROTOCOL_VERSION, RateBucket,
    RateLimit, SEALED_BYTES_MIN, SEALED_HEADER_BYTES, SealedHeaderView, SequenceWindow, SessionEntry, SessionValue,
    advance_sequence, check_sequence, edge_tag, ipip_header, ipv4_header_checksum,
};
use meridian_proto::packet::{self, PACKET_ERROR_LABELS, PacketType, seal_packet};
use zerocopy::{FromBytes, IntoBytes};

#[test]
fn constants_match_the_protocol() {
    assert_eq!(PACKET_MAGIC, packet::PACKET_MAGIC);
    assert_eq!(PROTOCOL_VERSION, packet::PROTOCOL_VERSION);
    assert_eq!(DATAGRAM_BYTES_MAX, meridian_proto::DATAGRAM_BYTES_MAX);
    assert_eq!(SEALED_HEADER_BYTES, packet::SEALED_HEADER_BYTES);
    assert_eq!(SEALED_BYTES_MIN, packet::SEALED_HEADER_BYTES + packet::AEAD_TAG_BYTES);
    assert_eq!(EDGE_TAG_COVERED_BYTES, packet::EDGE_TAG_COVERED_BYTES);
    assert_eq!(
        CONNECTION_REQUEST_BYTES,
        meridian_proto::endpoint::CONNECTION_REQUEST_BYTES
    );
}

#[test]
fn header_view_reads_a_real_sealed_packet_without_casts() {
    let mut bytes = Vec::new();
    let edge_key = [7u8; 16];
    seal_packet(
        PacketType::Payload,
        0x0123_4567_89ab_cdef,
        42,
        &edge_key,
        &[9u8; 32],
        b"hi",
        &mut bytes,
    );
    let (view, _) = SealedHeaderView::ref_from_prefix(&bytes).expect("26-byte prefix");
    let reference = packet::read_sealed_header(&bytes).unwrap();
    assert_eq!(view.prefix.magic, PACKET_MAGIC);
    assert_eq!(view.prefix.version(), PROTOCOL_VERSION);
    assert_eq!(view.prefix.packet_type(), PacketType::Payload as u8);
    assert_eq!(view.session_id.get(), reference.session_id);
    assert_eq!(view.sequence.get(), reference.sequence);
    assert_eq!(view.edge_tag.get(), reference.edge_tag);
    assert_eq!(view.as_bytes(), &bytes[..SEALED_HEADER_BYTES]);
}

#[test]
fn map_values_round_trip_through_bytes() {
    let entry = SessionEntry {
        edge_key: *b"0123456789abcdef",
        worker: 3,
        zone: 77,
        route_revision: 0x1122_3344_5566_7788,
        sequence_seen: 9,
        seen_mask: 0b101,
    };
    let bytes = entry.as_bytes();
    assert_eq!(bytes.len(), 48);
    assert_eq!(&bytes[16..20], &3u32.to_ne_bytes());
    assert_eq!(&bytes[32..40], &9u64.to_ne_bytes());
    assert_eq!(&bytes[40..48], &5u64.to_ne_bytes());
    assert_eq!(SessionEntry::read_from_bytes(bytes).unwrap(), entry);
    let config = EdgeConfig::for_port(7777);
    assert_eq!(EdgeConfig::read_from_bytes(config.as_bytes()).unwrap(), config);
}

#[test]
fn kernel_siphash_equals_the_reference_edge_tag() {
    // Deterministic pseudo-random keys and headers (xorshift), plus the protocol's test vector.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..10_000 {
        let mut key = [0u8; 16];
        key[..8].copy_from_slice(&next().to_le_bytes());
        key[8..].copy_from_slice(&next().to_le_bytes());
        let mut covered = [0u8; EDGE_TAG_COVERED_BYTES];
        covered[..8].copy_from_slice(&next().to_le_bytes());
        covered[8..16].copy_from_slice(&next().to_le_bytes());
        covered[16..].copy_from_slice(&next().to_le_bytes()[..2]);
        assert_eq!(edge_tag(&key, &covered), packet::edge_tag(&key, &covered));
    }
    // PROTOCOL.md §1.2: Payload, session 1, sequence 2, edge key 16 × 07 → tag f6aedc0c0a4818be.
    let mut covered = [0u8; EDGE_TAG_COVERED_BYTES];
    covered[0] = 0x4d;
    covered[1] = 0x13;
    covered[2] = 1;
    covered[10] = 2;
    assert_eq!(
        edge_tag(&[7u8; 16], &covered).to_le_bytes(),
        [0xf6, 0xae, 0xdc, 0x0c, 0x0a, 0x48, 0x18, 0xbe]
    );
}

#[test]
fn token_bucket_passes_the_burst_then_refills_at_the_rate() {
    let limit = RateLimit {
        rate_per_s: 1_000,
        burst: 5,
    };
    let mut bucket = RateBucket::default();
    let start = 10_000_000_000;
    for i in 0..5 {
        assert!(bucket.take(start, limit), "packet {i} of the burst");
    }
    assert!(!bucket.take(start, limit), "the burst is spent");
    assert!(!bucket.take(start + 999_999, limit), "1 ms refills one packet; not yet");
    assert!(bucket.take(start + 1_000_000, limit), "one packet refilled after 1 ms");
    assert!(!bucket.take(start + 1_000_000, limit));
    // A long pause refills to the burst, no more.
    let later = start + 60_000_000_000;
    for _ in 0..5 {
        assert!(bucket.take(later, limit));
    }
    assert!(!bucket.take(later, limit));
    // A clock reading from the past (another CPU) neither refills nor wraps.
    assert!(!bucket.take(later - 1_000_000_000, limit));
    // Rate 0 disables the limit.
    let mut open = RateBucket::default();
    for _ in 0..1_000 {
        assert!(open.take(start, RateLimit::default()));
    }
}

#[test]
fn sequence_window_drops_far_behind_and_far_ahead() {
    let config = EdgeConfig {
        sequence_behind_max: 4_096,
        sequence_ahead_max: 65_536,
        ..EdgeConfig::for_port(1)
    };
    let empty = SequenceWindow::default();
    assert_eq!(
        check_sequence(empty, u64::MAX, &config),
        None,
        "nothing seen yet: anything goes"
    );
    let seen = advance_sequence(empty, 10_000);
    assert_eq!(seen, SequenceWindow { seen: 10_001, mask: 1 });
    assert_eq!(check_sequence(seen, 10_000 - 4_096, &config), None);
    assert_eq!(
        check_sequence(seen, 10_000 - 4_097, &config),
        Some(EdgeCounter::DropReplayed)
    );
    assert_eq!(check_sequence(seen, 10_000 + 65_536, &config), None);
    assert_eq!(
        check_sequence(seen, 10_000 + 65_537, &config),
        Some(EdgeCounter::DropSequenceAhead)
    );
    assert_eq!(advance_sequence(seen, 5).seen, seen.seen, "never moves back");
    let open = EdgeConfig {
        sequence_behind_max: 0,
        sequence_ahead_max: 0,
        ..config
    };
    assert_eq!(check_sequence(seen, 0, &open), None);
    assert_eq!(check_sequence(seen, u64::MAX, &open), None);
}

#[test]
fn every_copy_of_a_recent_sequence_is_a_replay_and_reordering_within_the_mask_passes() {
    let config = EdgeConfig::for_port(1);
    assert_eq!(config.sequence_behind_max, EDGE_REPLAY_MASK_BITS - 1);
    let mut window = SequenceWindow::default();
    // Sequences 0..100 arrive with every pair swapped (1, 0, 3, 2, ...): all pass once.
    for pair in 0..50u64 {
        for sequence in [2 * pair + 1, 2 * pair] {
            assert_eq!(
                check_sequence(window, sequence, &config),
                None,
                "first copy of {sequence}"
            );
            window = advance_sequence(window, sequence);
        }
    }
    assert_eq!(window.seen, 100);
    // Every copy of the 64 newest (36..=99) is a replay; older ones are beyond the window.
    for sequence in 0..100u64 {
        assert_eq!(
            check_sequence(window, sequence, &config),
            Some(EdgeCounter::DropReplayed),
            "copy of {sequence}"
        );
    }
    // A gap: 150 arrives, then the skipped 120 (30 behind, unmarked) passes once.
    window = advance_sequence(window, 150);
    assert_eq!(check_sequence(window, 120, &config), None);
    window = advance_sequence(window, 120);
    assert_eq!(check_sequence(window, 120, &config), Some(EdgeCounter::DropReplayed));
    assert_eq!(
        check_sequence(window, 99, &config),
        Some(EdgeCounter::DropReplayed),
        "51 behind, marked before the jump"
    );
    // A jump of a whole mask forgets everything before it (they are all too old now anyway).
    window = advance_sequence(window, 1_000);
    assert_eq!(window.mask, 1);
    assert_eq!(check_sequence(window, 999, &config), None);
    assert_eq!(
        check_sequence(window, 936, &config),
        Some(EdgeCounter::DropReplayed),
        "64 behind"
    );
}

#[test]
fn counter_labels_are_unique_and_reuse_the_user_space_drop_reasons() {
    assert_eq!(EdgeCounter::ALL.len(), EDGE_COUNTER_SLOTS as usize);
    let mut labels = HashSet::new();
    for (index, counter) in EdgeCounter::ALL.iter().enumerate() {
        assert_eq!(*counter as usize, index, "ALL is in slot order");
        assert!(labels.insert(counter.label()), "duplicate label {}", counter.label());
        let prefix_ok = ["pass_", "drop_", "steer_", "tx_", "tunnel_"]
            .iter()
            .any(|p| counter.label().starts_with(p));
        assert!(prefix_ok, "{}", counter.label());
        assert_eq!(counter.is_drop(), counter.label().starts_with("drop_"));
    }
    for same_meaning in [
        EdgeCounter::DropTooLong,
        EdgeCounter::DropTooShort,
        EdgeCounter::DropBadMagic,
        EdgeCounter::DropBadVersion,
        EdgeCounter::DropBadType,
        EdgeCounter::DropBadRequestSize,
        EdgeCounter::DropUnknownSession,
        EdgeCounter::DropBadEdgeTag,
        EdgeCounter::DropReplayed,
    ] {
        let reason = same_meaning.drop_reason().unwrap();
        assert!(
            PACKET_ERROR_LABELS.contains(&reason),
            "{reason} is a user-space drop reason"
        );
    }
}

#[test]
fn ipv4_checksum_matches_a_known_header_and_the_ipip_header_verifies() {
    // RFC 1071's worked header (as captured on a wire): checksum 0xb861.
    let mut known = [
        0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8,
        0x00, 0xc7,
    ];
    assert_eq!(ipv4_header_checksum(&known), 0xb861);
    known[10..12].copy_from_slice(&0xb861u16.to_be_bytes());
    assert_eq!(ipv4_header_checksum(&known), 0, "a valid header sums to 0xffff");

    // The inner header's first 8 bytes: TOS 0xb8 (EF), total 1228, identification 0x1234.
    let inner = [0x45, 0xb8, 0x04, 0xcc, 0x12, 0x34, 0x40, 0x00];
    let outer = ipip_header(inner, [10, 0, 0, 1], [10, 0, 0, 2]);
    assert_eq!(outer[0], 0x45, "version 4, no options");
    assert_eq!(outer[1], 0xb8, "TOS copied");
    assert_eq!(u16::from_be_bytes([outer[2], outer[3]]), 1228 + 20);
    assert_eq!(&outer[4..6], &[0x12, 0x34], "identification copied");
    assert_eq!(&outer[6..8], &[0, 0], "no DF, no fragment offset");
    assert_eq!(outer[8], IPIP_TTL);
    assert_eq!(outer[9], IPPROTO_IPIP);
    assert_eq!(&outer[12..16], &[10, 0, 0, 1]);
    assert_eq!(&outer[16..20], &[10, 0, 0, 2]);
    assert_eq!(ipv4_header_checksum(&outer), 0, "outer checksum verifies");
    // Worst-case carries: all-ones addresses and the largest total.
    let outer = ipip_header([0x45, 0xff, 0xff, 0xeb, 0xff, 0xff, 0, 0], [255; 4], [255; 4]);
    assert_eq!(ipv4_header_checksum(&outer), 0);
}

#[test]
fn session_value_layout_and_forward_target() {
    let value = SessionValue {
        entry: SessionEntry {
            worker: 2,
            ..SessionEntry::default()
        },
        forward: ForwardTarget::to([10, 0, 0, 9]),
    };
    let bytes = value.as_bytes();
    assert_eq!(bytes.len(), 56);
    assert_eq!(&bytes[16..20], &2u32.to_ne_bytes());
    assert_eq!(&bytes[48..52], &[10, 0, 0, 9], "owner in wire order");
    assert!(!value.forward.is_local());
    assert!(ForwardTarget::LOCAL.is_local());
    assert_eq!(SessionValue::default().forward, ForwardTarget::LOCAL);
}
