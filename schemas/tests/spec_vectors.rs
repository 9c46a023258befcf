//! The test vectors of `schemas/PROTOCOL.md` that span more than one message codec, as the same hex
//! strings: a delta snapshot against an acked baseline ("Delta snapshot test vector") and the clock
//! sync arithmetic ("Clock sync arithmetic"). The per-message vectors live with their codec
//! (`messages::tests::spec_vectors`). They go through the public API only, as a client author's code
//! would.

use std::f32::consts::PI;

use meridian_proto::clock::{ClockSample, clock_sample};
use meridian_proto::messages::SNAPSHOT_MESSAGE_BYTES_MAX;
use meridian_proto::snapshot::{EntityKind, EntityState, SnapshotReceiver, SnapshotSender, quantise};

/// Tick 1, no baseline: the three entities of `baseline_entities`, whole.
const BASELINE_PAYLOAD_HEX: &str = "01000000 060ea000 02142000 00020084 00088064 0000000f 6000810c \
                                    10000001 04400004 401e0000 80093c80 c0030800 80000020 00026000 000000";
/// Tick 2 against the acked tick 1: entity 3 moved as predicted, entity 7 lost health, entity 9 was
/// removed, entity 12 entered.
const DELTA_PAYLOAD_HEX: &str = "02000000 411fd402 b00002c0 02085480 00000800 00022000 92010000 00";

fn unhex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).expect("ascii"), 16).expect("hex digit"))
        .collect()
}

fn entity(id: u32, kind: EntityKind, position: [f32; 2], yaw: f32, velocity_x: f32, health: u16) -> EntityState {
    EntityState {
        id,
        kind,
        position: [position[0], position[1], 0.0],
        yaw,
        velocity: [velocity_x, 0.0, 0.0],
        health,
        flags: 0,
    }
}

fn baseline_entities() -> Vec<EntityState> {
    vec![
        entity(3, EntityKind::Player, [10.0, 20.0], 0.0, 2.0, 100),
        entity(7, EntityKind::Npc, [12.0, 25.0], PI, 0.0, 60),
        entity(9, EntityKind::Loot, [15.0, 15.0], 0.0, 0.0, 1),
    ]
}

fn next_entities() -> Vec<EntityState> {
    vec![
        entity(3, EntityKind::Player, [10.1, 20.0], 0.0, 2.0, 100),
        entity(7, EntityKind::Npc, [12.0, 25.0], PI, 0.0, 45),
        entity(12, EntityKind::Player, [11.0, 21.0], 0.0, 0.0, 100),
    ]
}

#[test]
fn delta_snapshot_against_an_acked_baseline() {
    let mut sender = SnapshotSender::new();
    let mut payload = Vec::new();
    sender.encode(1, &baseline_entities(), SNAPSHOT_MESSAGE_BYTES_MAX, &mut payload);
    assert_eq!(payload, unhex(BASELINE_PAYLOAD_HEX), "baseline payload");
    let mut receiver = SnapshotReceiver::new();
    assert_eq!(receiver.apply(&payload), Ok(1));

    // The client acks tick 1 (`ClientMessage::SnapshotAck { tick: 1 }`); the next snapshot deltas.
    sender.on_ack(1);
    sender.encode(2, &next_entities(), SNAPSHOT_MESSAGE_BYTES_MAX, &mut payload);
    assert_eq!(payload, unhex(DELTA_PAYLOAD_HEX), "delta payload");
    assert_eq!(receiver.apply(&payload), Ok(2));

    // The decoded world is the quantised next state: x = 10.1 m is 524934.4 units, sent as 524934
    // (10.09375 m), which is exactly the predicted position, so the delta is 0.
    let world: Vec<EntityState> = receiver.world().values().copied().collect();
    let expected: Vec<EntityState> = next_entities().iter().map(quantise).collect();
    assert_eq!(world, expected);
    assert_eq!(world[0].position, [10.093_75, 20.0, 0.0]);
    assert_eq!(world[1].health, 45);
    assert!(!receiver.world().contains_key(&9), "removed");
}

#[test]
fn clock_sync_arithmetic() {
    // Server clock 250 ms ahead of the client's; 30 ms up, 2 ms in the server, 10 ms down.
    let t0: u64 = 1_700_000_000_000_000;
    let (t1, t2, t3) = (t0 + 280_000, t0 + 282_000, t0 + 42_000);
    assert_eq!(
        clock_sample(t0, t1, t2, t3),
        Some(ClockSample {
            rtt_us: 40_000,
            offset_us: 260_000
        })
    );
    // An odd sum halves towards zero.
    assert_eq!(
        clock_sample(1_000, 500, 501, 1_002),
        Some(ClockSample {
            rtt_us: 1,
            offset_us: -500
        })
    );
    // Inconsistent stamps are discarded: the server sent before it received.
    assert_eq!(clock_sample(1_000, 500, 499, 1_002), None);
}
