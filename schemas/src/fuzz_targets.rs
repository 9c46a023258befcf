//! Entry points shared by the cargo-fuzz targets (`schemas/fuzz/`) and the corpus replay test
//! (`schemas/tests/fuzz_corpus.rs`). Each takes arbitrary bytes, runs a decoder (and, where the format
//! is canonical, checks that re-encoding gives the same bytes), and panics only on a broken invariant.

use std::net::SocketAddr;

use crate::DATAGRAM_BYTES_MAX;
use crate::connection::{Connection, Side};
use crate::control::{decode_control, encode_control};
use crate::endpoint::{ClientConnection, ServerConfig, ServerEndpoint, read_connection_request};
use crate::messages::{ClientMessage, ServerMessage};
use crate::packet::{
    PacketType, ReplayWindow, SEALED_PLAINTEXT_BYTES_MAX, read_packet_type, read_sealed_header, seal_packet,
    verify_edge_tag,
};
use crate::snapshot::{EntityKind, EntityState, SNAPSHOT_ENTITIES_MAX, SnapshotReceiver, SnapshotSender};
use crate::token::{ClientToken, ConnectToken};

pub const FUZZ_TARGETS: [&str; 7] = [
    "header",
    "token",
    "handshake",
    "payload",
    "messages",
    "snapshot",
    "control",
];

const CLUSTER_KEY: [u8; 32] = [0x42; 32];
const EDGE_KEY: [u8; 16] = [3; 16];
const CLIENT_TO_SERVER_KEY: [u8; 32] = [1; 32];
const SERVER_TO_CLIENT_KEY: [u8; 32] = [2; 32];

/// Runs the named target on `data`. Returns false for an unknown name.
pub fn run(target: &str, data: &[u8]) -> bool {
    match target {
        "header" => header(data),
        "token" => token(data),
        "handshake" => handshake(data),
        "payload" => payload(data),
        "messages" => messages(data),
        "snapshot" => snapshot(data),
        "control" => control(data),
        _ => return false,
    }
    true
}

pub fn header(data: &[u8]) {
    let packet_type = read_packet_type(data);
    if let Ok(header) = read_sealed_header(data) {
        assert_eq!(Ok(header.packet_type), packet_type);
        if let Ok(checked) = verify_edge_tag(&EDGE_KEY, data) {
            assert_eq!(checked, header);
        }
    }
    if read_connection_request(data).is_ok() {
        assert_eq!(packet_type, Ok(PacketType::ConnectionRequest));
    }
}

pub fn token(data: &[u8]) {
    if let Ok(client_token) = ClientToken::from_bytes(data) {
        assert_eq!(client_token.to_bytes(), data, "client tokens are canonical");
    }
    if data.len() >= 8 + 24 {
        let expires_at_s = u64::from_le_bytes(data[..8].try_into().expect("8 bytes"));
        let nonce: [u8; 24] = data[8..32].try_into().expect("24 bytes");
        let _ = ConnectToken::open(&CLUSTER_KEY, expires_at_s, &nonce, &data[32..]);
    }
}

fn server_address() -> SocketAddr {
    SocketAddr::from(([10, 0, 0, 1], 7777))
}

fn client_address() -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 7], 50000))
}

fn fuzz_token() -> ClientToken {
    ConnectToken {
        session_id: 7,
        zone_id: 1,
        character_id: 0,
        // The targets run at 1 s; servers refuse tokens expiring further ahead than their lifetime.
        expires_at_s: 1 + crate::token::TOKEN_LIFETIME_S,
        client_to_server_key: CLIENT_TO_SERVER_KEY,
        server_to_client_key: SERVER_TO_CLIENT_KEY,
        edge_key: EDGE_KEY,
        server_addresses: vec![server_address()],
    }
    .seal(&CLUSTER_KEY, [9; 24])
}

/// The first byte picks who receives the rest: a fresh server, a server mid-handshake, or a client
/// mid-handshake. Every server reply before connection must not exceed the datagram that caused it.
pub fn handshake(data: &[u8]) {
    let Some((&mode, datagram)) = data.split_first() else {
        return;
    };
    let now_us = 1_000_000;
    let mut server = ServerEndpoint::new(ServerConfig {
        cluster_key: CLUSTER_KEY,
        challenge_key: [0x11; 16],
        public_address: server_address(),
        connections_max: 4,
    });
    let mut client = ClientConnection::new(now_us, fuzz_token(), 0);
    if mode % 3 == 1 {
        let request = client.poll_transmit(now_us).expect("request");
        server
            .handle(now_us, client_address(), &request.bytes)
            .expect("valid request");
        let challenge = server.poll_transmit(now_us).expect("challenge");
        client
            .handle(now_us, server_address(), &challenge.bytes)
            .expect("valid challenge");
    }
    if mode % 3 == 2 {
        let _ = client.handle(now_us, server_address(), datagram);
        while client.poll_transmit(now_us).is_some() {}
        return;
    }
    let connected_before = server.connection_count();
    let _ = server.handle(now_us, client_address(), datagram);
    if server.connection_count() == connected_before {
        while let Some(reply) = server.poll_transmit(now_us) {
            assert!(reply.bytes.len() <= datagram.len(), "amplification");
        }
    }
    while server.poll_event().is_some() {}
}

/// Seals chunks of `data` as payload plaintexts and feeds them to a connection: exercises the frame
/// decoder and the reliable channel's reassembly behind the AEAD.
pub fn payload(data: &[u8]) {
    let _ = crate::connection::decode_payload(data);
    let mut connection = Connection::new(
        Side::Server,
        7,
        SERVER_TO_CLIENT_KEY,
        CLIENT_TO_SERVER_KEY,
        EDGE_KEY,
        0,
        ReplayWindow::default(),
        0,
    );
    let mut packet = Vec::with_capacity(DATAGRAM_BYTES_MAX);
    for (sequence, chunk) in data.chunks(SEALED_PLAINTEXT_BYTES_MAX).enumerate() {
        seal_packet(
            PacketType::Payload,
            7,
            sequence as u64,
            &EDGE_KEY,
            &CLIENT_TO_SERVER_KEY,
            chunk,
            &mut packet,
        );
        let _ = connection.receive(sequence as u64 * 1000, &packet);
        while connection.poll_received().is_some() {}
        while connection.poll_packet(sequence as u64 * 1000, &mut packet) {}
    }
}

pub fn messages(data: &[u8]) {
    if let Ok(message) = ClientMessage::decode(data) {
        let mut out = Vec::new();
        message.encode(&mut out);
        assert_eq!(out, data, "client messages are canonical");
    }
    if let Ok(message) = ServerMessage::decode(data) {
        let mut out = Vec::new();
        message.encode(&mut out);
        // u32::MAX on the wire means "none" and re-encodes the same way.
        assert_eq!(out, data, "server messages are canonical");
    }
}

/// Applies `data` to a receiver that already holds a baseline at tick 1 (so deltas decode deeply).
pub fn snapshot(data: &[u8]) {
    let mut sender = SnapshotSender::new();
    let mut receiver = SnapshotReceiver::new();
    let entities = baseline_entities();
    let mut out = Vec::new();
    sender.encode(1, &entities, DATAGRAM_BYTES_MAX, &mut out);
    receiver.apply(&out).expect("valid baseline");
    let world_before = receiver.world().clone();
    match receiver.apply(data) {
        Ok(_) => assert!(receiver.world().len() <= SNAPSHOT_ENTITIES_MAX),
        Err(_) => assert_eq!(receiver.world(), &world_before, "a rejected snapshot changed the world"),
    }
}

/// Decoded messages re-encode, and re-encoding is stable. (Compared as bytes: floats may be NaN,
/// which is not equal to itself, as a fuzzer found.)
pub fn control(data: &[u8]) {
    if let Ok(message) = decode_control(data) {
        let bytes = encode_control(&message).expect("a decoded message is within the limits");
        let again = decode_control(&bytes).expect("an encoded message decodes");
        assert_eq!(encode_control(&again).expect("within the limits"), bytes);
    }
}

/// Valid inputs for each target (the seed corpus), built with the real encoders.
pub fn seeds() -> Vec<(&'static str, Vec<Vec<u8>>)> {
    use crate::control::fbs::{ControlBody, ControlMessage, NodeHeartbeat, ZoneCheckpoint};
    use crate::messages::{Action, ChatChannel, InputMessage, MoveInput, ServerEvent};

    let now_us = 1_000_000;
    let token = fuzz_token();
    let request = crate::endpoint::connection_request(&token);
    let mut sealed = Vec::new();
    seal_packet(
        PacketType::Payload,
        7,
        5,
        &EDGE_KEY,
        &CLIENT_TO_SERVER_KEY,
        &[0; 12],
        &mut sealed,
    );

    // A handshake as far as each mode needs it.
    let mut server = ServerEndpoint::new(ServerConfig {
        cluster_key: CLUSTER_KEY,
        challenge_key: [0x11; 16],
        public_address: server_address(),
        connections_max: 4,
    });
    let mut client = ClientConnection::new(now_us, token.clone(), 0);
    let request_transmit = client.poll_transmit(now_us).expect("request");
    server
        .handle(now_us, client_address(), &request_transmit.bytes)
        .expect("request accepted");
    let challenge = server.poll_transmit(now_us).expect("challenge").bytes;
    client
        .handle(now_us, server_address(), &challenge)
        .expect("challenge accepted");
    let response = client.poll_transmit(now_us).expect("response").bytes;
    let with_mode = |mode: u8, bytes: &[u8]| [&[mode][..], bytes].concat();

    let mut payload = vec![0u8; 12];
    payload.extend_from_slice(&[0x02, 0, 0, 0, 1, 3, 0, b'a', b'b', b'c']); // fragment 0/1 of message 0
    payload.extend_from_slice(&[0x01, 2, 0, b'h', b'i']); // unreliable
    payload.push(0x03);
    payload.extend_from_slice(&42u64.to_le_bytes()); // ping

    let mut message_seeds = Vec::new();
    for message in [
        ClientMessage::Input(InputMessage {
            sequence: 1,
            newest_tick: 9,
            inputs: vec![MoveInput::default(); 3],
        }),
        ClientMessage::Action {
            client_tick: 9,
            action: Action::Attack {
                target_id: 4,
                skill_id: 2,
                aim: [0, 0, 0],
            },
        },
        ClientMessage::Action {
            client_tick: 9,
            action: Action::PickUp { loot_id: 5 },
        },
        ClientMessage::Chat {
            channel: ChatChannel::Zone,
            text: "hi".into(),
        },
        ClientMessage::SnapshotAck { tick: 41 },
    ] {
        let mut out = Vec::new();
        message.encode(&mut out);
        message_seeds.push(out);
    }
    for message in [
        ServerMessage::Snapshot {
            last_input_tick: Some(8),
            payload: &[0x07, 0, 0, 0, 0],
        },
        ServerMessage::Event(ServerEvent::Joined { entity: 3 }),
        ServerMessage::Event(ServerEvent::Chat {
            channel: ChatChannel::Zone,
            from_entity: 3,
            text: "gg".into(),
        }),
        ServerMessage::Event(ServerEvent::Died { killer_entity: None }),
        ServerMessage::Event(ServerEvent::PickUpRefused {
            loot: 5,
            reason: crate::messages::PickUpRefusal::PersistenceUnavailable,
        }),
        ServerMessage::Event(ServerEvent::TradeRefused {
            with_entity: 3,
            reason: crate::messages::TradeRefusal::Busy,
        }),
    ] {
        let mut out = Vec::new();
        message.encode(&mut out);
        message_seeds.push(out);
    }

    // The same sender as `snapshot` uses, then a delta with movement, an entry and a removal.
    let mut sender = SnapshotSender::new();
    let mut entities = baseline_entities();
    let mut full = Vec::new();
    sender.encode(1, &entities, DATAGRAM_BYTES_MAX, &mut full);
    sender.on_ack(1);
    entities.pop();
    entities[0].position[0] += 0.05;
    entities[1].health = 3;
    entities.push(EntityState {
        id: 100,
        kind: EntityKind::Loot,
        ..entities[2]
    });
    let mut delta = Vec::new();
    sender.encode(2, &entities, DATAGRAM_BYTES_MAX, &mut delta);

    let heartbeat = ControlMessage {
        body: Some(ControlBody::NodeHeartbeat(Box::new(NodeHeartbeat {
            node_id: Some("node-a".into()),
            sent_at_unix_ms: 1,
            workers: 2,
            zones_owned: Some(vec![1, 2]),
            sessions: 3,
            tick_p99_us: 4,
            datagrams_dropped: 5,
        }))),
    };
    let checkpoint = ControlMessage {
        body: Some(ControlBody::ZoneCheckpoint(Box::new(ZoneCheckpoint {
            zone_id: 1,
            layer: 0,
            tick: 2,
            assignment_revision: 3,
            entities: Some(Vec::new()),
        }))),
    };

    vec![
        ("header", vec![sealed.clone(), request.clone()]),
        ("token", vec![token.to_bytes()]),
        (
            "handshake",
            vec![
                with_mode(0, &request),
                with_mode(1, &response),
                with_mode(2, &challenge),
            ],
        ),
        ("payload", vec![payload]),
        ("messages", message_seeds),
        ("snapshot", vec![full, delta]),
        (
            "control",
            vec![
                encode_control(&heartbeat).expect("within limits"),
                encode_control(&checkpoint).expect("within limits"),
            ],
        ),
    ]
}

/// The eight moving players both snapshot targets start from (the baseline the fuzzed bytes
/// are decoded against).
fn baseline_entities() -> Vec<EntityState> {
    (0..8)
        .map(|id| EntityState {
            id: id * 3,
            kind: EntityKind::Player,
            position: [id as f32, 2.0, 0.0],
            yaw: 0.0,
            velocity: [1.0, 0.0, 0.0],
            health: 100,
            flags: 0,
        })
        .collect()
}
