//! Snapshot codec benchmark (protocol issue 3).
//!
//! Records 1,000 snapshots of 64 visible moving entities at 20 Hz (seeded), then:
//! 1. prints the size of the same snapshots encoded by Meridian's delta codec (acks arriving two ticks
//!    late, as with ~100 ms RTT), by protobuf (prost, full state per tick) and by flatbuffers (the
//!    official crate, full state per tick), as bytes per entity per tick, bytes per second per client, and ratios;
//! 2. times encode + AEAD seal per snapshot, and AEAD open per packet (opens/s per core).
//!
//! Run: `cargo bench -p meridian-perf --bench snapshot_codec`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use meridian_proto::DATAGRAM_BYTES_MAX;
use meridian_proto::control::fbs::bench_snapshot::{EntityFb, SnapshotFb, SnapshotFbArgs};
use meridian_proto::control::fbs::flatbuffers::FlatBufferBuilder;
use meridian_proto::messages::SNAPSHOT_MESSAGE_BYTES_MAX;
use meridian_proto::packet::{PacketType, open_packet, seal_packet};
use meridian_proto::snapshot::{EntityKind, EntityState, SnapshotReceiver, SnapshotSender, quantise};
use prost::Message;

const SNAPSHOTS: usize = 1_000;
const ENTITIES: usize = 64;
const TICK_RATE_HZ: usize = 20;
const ACK_DELAY_TICKS: u32 = 2;
const SEED: u64 = 0x6d65_7269_6469_616e;
const EDGE_KEY: [u8; 16] = [3; 16];
const AEAD_KEY: [u8; 32] = [7; 32];

#[derive(Clone, PartialEq, prost::Message)]
struct EntityProto {
    #[prost(uint32, tag = "1")]
    id: u32,
    #[prost(uint32, tag = "2")]
    kind: u32,
    #[prost(float, repeated, tag = "3")]
    position: Vec<f32>,
    #[prost(float, tag = "4")]
    yaw: f32,
    #[prost(float, repeated, tag = "5")]
    velocity: Vec<f32>,
    #[prost(uint32, tag = "6")]
    health: u32,
    #[prost(uint32, tag = "7")]
    flags: u32,
}

#[derive(Clone, PartialEq, prost::Message)]
struct SnapshotProto {
    #[prost(uint32, tag = "1")]
    tick: u32,
    #[prost(message, repeated, tag = "2")]
    entities: Vec<EntityProto>,
}

fn next_random(state: &mut u64) -> u64 {
    // splitmix64
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// 64 entities in a 100 m square: each picks a new heading and speed (idle, walk, run) about every
/// 1.5 s, turns to face it, and moves with it; health and flags change now and then.
fn record_snapshots() -> Vec<Vec<EntityState>> {
    let mut random = SEED;
    let mut world: Vec<EntityState> = (0..ENTITIES as u32)
        .map(|i| EntityState {
            id: 1000 + i * 7,
            kind: if i % 4 == 0 {
                EntityKind::Npc
            } else {
                EntityKind::Player
            },
            position: [
                (next_random(&mut random) % 100) as f32,
                (next_random(&mut random) % 100) as f32,
                0.0,
            ],
            yaw: 0.0,
            velocity: [0.0; 3],
            health: 1000,
            flags: 0,
        })
        .collect();
    let mut snapshots = Vec::with_capacity(SNAPSHOTS);
    for _ in 0..SNAPSHOTS {
        for state in &mut world {
            if next_random(&mut random).is_multiple_of(30) {
                let heading = (next_random(&mut random) % 6283) as f32 / 1000.0;
                let speed = [0.0, 1.4, 5.0, 5.0][(next_random(&mut random) % 4) as usize];
                state.velocity = [speed * heading.cos(), speed * heading.sin(), 0.0];
                state.yaw = heading;
            }
            if next_random(&mut random).is_multiple_of(100) {
                state.health = state.health.saturating_sub((next_random(&mut random) % 50) as u16);
            }
            if next_random(&mut random).is_multiple_of(200) {
                state.flags ^= 1 << (next_random(&mut random) % 4);
            }
            for axis in 0..3 {
                state.position[axis] += state.velocity[axis] / TICK_RATE_HZ as f32;
            }
        }
        snapshots.push(world.clone());
    }
    snapshots
}

fn to_proto(tick: u32, entities: &[EntityState]) -> SnapshotProto {
    SnapshotProto {
        tick,
        entities: entities
            .iter()
            .map(|state| EntityProto {
                id: state.id,
                kind: state.kind as u32,
                position: state.position.to_vec(),
                yaw: state.yaw,
                velocity: state.velocity.to_vec(),
                health: u32::from(state.health),
                flags: u32::from(state.flags),
            })
            .collect(),
    }
}

fn to_flatbuffer(builder: &mut FlatBufferBuilder, tick: u32, entities: &[EntityState]) -> Vec<u8> {
    builder.reset();
    let entities: Vec<EntityFb> = entities
        .iter()
        .map(|state| {
            EntityFb::new(
                state.id,
                state.kind as u8,
                state.health,
                state.flags,
                state.position[0],
                state.position[1],
                state.position[2],
                state.yaw,
                state.velocity[0],
                state.velocity[1],
                state.velocity[2],
            )
        })
        .collect();
    let entities = builder.create_vector(&entities);
    let root = SnapshotFb::create(
        builder,
        &SnapshotFbArgs {
            tick,
            entities: Some(entities),
        },
    );
    builder.finish(root, None);
    builder.finished_data().to_vec()
}

/// Encodes every snapshot with the Meridian codec (budget: what one server message can carry),
/// checking the client's view each tick. Returns the sizes and the number of entities left out.
fn meridian_sizes(snapshots: &[Vec<EntityState>]) -> (Vec<usize>, usize) {
    let mut sender = SnapshotSender::new();
    let mut receiver = SnapshotReceiver::new();
    let mut out = Vec::new();
    let mut sizes = Vec::with_capacity(snapshots.len());
    let mut left_out_total = 0;
    for (index, entities) in snapshots.iter().enumerate() {
        let tick = index as u32 + 1;
        let report = sender.encode(tick, entities, SNAPSHOT_MESSAGE_BYTES_MAX, &mut out);
        left_out_total += report.entities_left_out;
        receiver.apply(&out).expect("own snapshot decodes");
        for state in entities {
            if !sender.left_out_ids().contains(&state.id) {
                assert_eq!(receiver.world()[&state.id], quantise(state));
            }
        }
        if tick > ACK_DELAY_TICKS {
            sender.on_ack(tick - ACK_DELAY_TICKS);
        }
        sizes.push(out.len());
    }
    (sizes, left_out_total)
}

fn print_size_comparison(snapshots: &[Vec<EntityState>]) {
    let (meridian, left_out_total) = meridian_sizes(snapshots);
    let protobuf: Vec<usize> = snapshots
        .iter()
        .enumerate()
        .map(|(tick, entities)| to_proto(tick as u32, entities).encoded_len())
        .collect();
    let mut builder = FlatBufferBuilder::new();
    let flatbuffers: Vec<usize> = snapshots
        .iter()
        .enumerate()
        .map(|(tick, entities)| to_flatbuffer(&mut builder, tick as u32, entities).len())
        .collect();
    // Until the first ack arrives snapshots have no baseline; the steady state after that is what a
    // client sees for its session. (Protobuf and flatbuffers are full state every tick.)
    let warm_up = ACK_DELAY_TICKS as usize + 1;
    let steady = |sizes: &[usize]| sizes[warm_up..].iter().sum::<usize>() as f64 / (sizes.len() - warm_up) as f64;
    let meridian_mean = steady(&meridian);
    println!(
        "snapshot sizes: {SNAPSHOTS} snapshots, {ENTITIES} moving entities, {TICK_RATE_HZ} Hz, acks {ACK_DELAY_TICKS} ticks late, seed {SEED:#x}"
    );
    println!(
        "{:<22} {:>12} {:>16} {:>16} {:>14}",
        "codec", "bytes/snap", "bytes/entity/tick", "bytes/s/client", "x meridian"
    );
    for (name, sizes) in [
        ("meridian delta", &meridian),
        ("protobuf (prost)", &protobuf),
        ("flatbuffers", &flatbuffers),
    ] {
        let mean = steady(sizes);
        println!(
            "{:<22} {:>12.1} {:>16.2} {:>16.0} {:>14.2}",
            name,
            mean,
            mean / ENTITIES as f64,
            mean * TICK_RATE_HZ as f64,
            mean / meridian_mean
        );
    }
    let mut deltas = meridian[warm_up..].to_vec();
    deltas.sort_unstable();
    println!(
        "meridian: first {warm_up} snapshots (no baseline yet) {:?} bytes; deltas p50 {} p99 {} max {} bytes; entities left out by the budget over the run: {left_out_total}",
        &meridian[..warm_up],
        deltas[deltas.len() / 2],
        deltas[deltas.len() * 99 / 100],
        deltas[deltas.len() - 1]
    );
}

/// Encodes the recorded run's next snapshot and acks the one `ACK_DELAY_TICKS` older, as a client
/// with that delay would.
fn encode_next(sender: &mut SnapshotSender, snapshots: &[Vec<EntityState>], tick: &mut u32, payload: &mut Vec<u8>) {
    *tick += 1;
    let entities = &snapshots[*tick as usize % SNAPSHOTS];
    sender.encode(*tick, black_box(entities), SNAPSHOT_MESSAGE_BYTES_MAX, payload);
    if *tick > ACK_DELAY_TICKS {
        sender.on_ack(*tick - ACK_DELAY_TICKS);
    }
}

fn benchmarks(criterion: &mut Criterion) {
    let snapshots = record_snapshots();
    print_size_comparison(&snapshots);

    criterion.bench_function("snapshot encode+seal (64 entities, delta)", |bencher| {
        let mut sender = SnapshotSender::new();
        let mut payload = Vec::with_capacity(DATAGRAM_BYTES_MAX);
        let mut packet = Vec::with_capacity(DATAGRAM_BYTES_MAX);
        let mut tick: u32 = 0;
        let mut sequence: u64 = 0;
        bencher.iter(|| {
            encode_next(&mut sender, &snapshots, &mut tick, &mut payload);
            sequence += 1;
            seal_packet(
                PacketType::Payload,
                1,
                sequence,
                &EDGE_KEY,
                &AEAD_KEY,
                &payload,
                &mut packet,
            );
            black_box(packet.len())
        });
    });

    criterion.bench_function("snapshot encode only (64 entities, delta)", |bencher| {
        let mut sender = SnapshotSender::new();
        let mut payload = Vec::with_capacity(DATAGRAM_BYTES_MAX);
        let mut tick: u32 = 0;
        bencher.iter(|| {
            encode_next(&mut sender, &snapshots, &mut tick, &mut payload);
            black_box(payload.len())
        });
    });

    criterion.bench_function("aead seal (200-byte payload)", |bencher| {
        let mut packet = Vec::with_capacity(DATAGRAM_BYTES_MAX);
        let mut sequence = 0u64;
        bencher.iter(|| {
            sequence += 1;
            seal_packet(
                PacketType::Payload,
                1,
                sequence,
                &EDGE_KEY,
                &AEAD_KEY,
                black_box(&[0x5a; 200]),
                &mut packet,
            );
            black_box(packet.len())
        });
    });

    criterion.bench_function("aead open (200-byte payload)", |bencher| {
        let mut packet = Vec::new();
        seal_packet(
            PacketType::Payload,
            1,
            1,
            &EDGE_KEY,
            &AEAD_KEY,
            &[0x5a; 200],
            &mut packet,
        );
        let mut plaintext = Vec::with_capacity(DATAGRAM_BYTES_MAX);
        bencher.iter(|| open_packet(black_box(&packet), &EDGE_KEY, &AEAD_KEY, &mut plaintext).expect("opens"));
    });

    criterion.bench_function("protobuf encode (64 entities, full)", |bencher| {
        let message = to_proto(1, &snapshots[0]);
        let mut out = Vec::with_capacity(4096);
        bencher.iter(|| {
            out.clear();
            black_box(&message).encode(&mut out).expect("fits");
            black_box(out.len())
        });
    });
}

criterion_group!(benches, benchmarks);
criterion_main!(benches);
