//! Every refusal on the session path is counted under its own stable reason, so a third-party client
//! author who gets one byte wrong sees which byte: each bad datagram below is refused and counted
//! exactly once, under exactly its label, and nothing else is counted.

use std::net::SocketAddr;

use meridian_client::dev_token::{self, SplitMix64};
use meridian_client::{ClientDisconnect, DisconnectReason, GameEvent, MoveCommand};
use meridian_proto::endpoint::connection_request;
use meridian_proto::token::TOKEN_LIFETIME_S;
use meridian_sim::{CLUSTER_KEY, Link, Sim, SimConfig};

fn still() -> MoveCommand {
    MoveCommand {
        direction: [0.0, 0.0],
        yaw: 0.0,
    }
}

/// Injects `bytes` from `from` and checks that exactly one drop was counted, under `label`.
fn refused_as(sim: &mut Sim, from: SocketAddr, bytes: &[u8], label: &str) {
    let before = sim.host.drops().clone();
    sim.inject(from, bytes);
    let after = sim.host.drops();
    assert_eq!(
        after.get(label),
        before.get(label) + 1,
        "not counted as {label}: {after:?}"
    );
    assert_eq!(after.total(), before.total() + 1, "counted more than once: {after:?}");
}

#[test]
fn each_bad_datagram_is_counted_under_its_own_reason() {
    let mut sim = Sim::new(5, SimConfig::default());
    let good = sim.add_client(
        1,
        Link {
            one_way_us: 10_000,
            ..Link::default()
        },
        still(),
    );
    sim.uplink_tap = Some(Vec::new());
    assert!(
        sim.run_until(5_000, Sim::all_placed),
        "the well-behaved client never joined"
    );
    sim.run_ms(500);
    let attacker: SocketAddr = "203.0.113.9:5555".parse().unwrap();
    let now_s = sim.now_us / 1_000_000;
    let server = sim.server_address;
    let mut rng = SplitMix64(77);

    // Framing errors, before any cryptography.
    refused_as(&mut sim, attacker, &[0u8; 100], "bad_magic");
    refused_as(&mut sim, attacker, &[0x4d], "too_short");
    refused_as(
        &mut sim,
        attacker,
        &[
            0x4d, 0x7f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ],
        "bad_version",
    );

    // Connect tokens: sealed with another key, expired, valid a day ahead, for another server.
    let foreign = dev_token::issue(&[0x11; 32], 9_001, 1, server, now_s, &mut rng);
    refused_as(&mut sim, attacker, &connection_request(&foreign), "token_bad_seal");
    let expired = dev_token::issue(&CLUSTER_KEY, 9_002, 1, server, now_s - 2 * TOKEN_LIFETIME_S, &mut rng);
    refused_as(&mut sim, attacker, &connection_request(&expired), "token_expired");
    let far = dev_token::issue(&CLUSTER_KEY, 9_003, 1, server, now_s + 86_400, &mut rng);
    refused_as(&mut sim, attacker, &connection_request(&far), "token_expiry_too_far");
    let elsewhere: SocketAddr = "10.9.9.9:7777".parse().unwrap();
    let other_server = dev_token::issue(&CLUSTER_KEY, 9_004, 1, elsewhere, now_s, &mut rng);
    refused_as(&mut sim, attacker, &connection_request(&other_server), "wrong_server");

    // Sealed packets of a live session: replayed, from another address, for no session, tampered.
    let (address, captured) = sim
        .uplink_tap
        .as_ref()
        .unwrap()
        .last()
        .cloned()
        .expect("the client sent something");
    assert_eq!(address, sim.clients[good].address);
    refused_as(&mut sim, address, &captured, "replayed");
    refused_as(&mut sim, attacker, &captured, "address_mismatch");
    let mut unknown = captured.clone();
    unknown[2] ^= 0xff; // the session id starts at byte 2
    refused_as(&mut sim, address, &unknown, "unknown_session");
    // A datagram the host never saw (lost on the way), tampered inside its AEAD tag: the edge tag
    // (over the clear header) still verifies, the seal does not.
    let next_tick = sim.clients[good].client.client_tick() + 1;
    sim.drop_uplink_after_tick.insert((good, next_tick));
    let lost_before = sim.network.datagrams_lost;
    // Stops in the step that lost it: every datagram the client sent in that step is lost.
    assert!(sim.run_until(1_000, |sim| sim.network.datagrams_lost > lost_before));
    let (_, mut tampered) = sim.uplink_tap.as_ref().unwrap().last().cloned().unwrap();
    let last = tampered.len() - 1;
    tampered[last] ^= 0x01;
    refused_as(&mut sim, address, &tampered, "bad_seal");

    // A message that does not decode inside a valid packet.
    sim.clients[good].client.send_raw_unreliable(&[0xee, 1, 2, 3]).unwrap();
    let before = sim.host.drops().get("bad_message");
    sim.run_ms(200);
    assert_eq!(sim.host.drops().get("bad_message"), before + 1);

    // None of it hurt the well-behaved client.
    assert!(sim.clients[good].client.is_connected());
}

#[test]
fn a_token_for_a_zone_the_host_does_not_run_gets_a_disconnect_saying_so() {
    let mut sim = Sim::new(6, SimConfig::default());
    let lost = sim.add_client(
        99,
        Link {
            one_way_us: 10_000,
            ..Link::default()
        },
        still(),
    );
    let fine = sim.add_client(
        1,
        Link {
            one_way_us: 10_000,
            ..Link::default()
        },
        still(),
    );
    let disconnected = |sim: &Sim| !sim.clients[lost].client.is_connected() && sim.clients[fine].client.is_placed();
    sim.run_until(5_000, |sim| sim.clients[fine].client.is_placed());
    sim.run_ms(500);
    assert!(disconnected(&sim), "the zone-99 client is still connected");
    assert_eq!(sim.host.drops().get("unknown_zone"), 1);
    let mut reason = None;
    while let Some(event) = sim.clients[lost].client.poll_event() {
        if let GameEvent::Disconnected(why) = event {
            reason = Some(why);
        }
    }
    assert_eq!(reason, Some(ClientDisconnect::ByServer(DisconnectReason::UnknownZone)));
    assert_eq!(sim.host.session_count(), 1);
}
