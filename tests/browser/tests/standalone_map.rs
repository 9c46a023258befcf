//! The operators' map of a standalone node's seamless world: one node (no etcd) serves two zones
//! side by side, the login API shows its `/world` (`--ops-node-metrics`), and 40 bots on dev tokens
//! walk across the border. In headless Chromium the operator sees both zones side by side with
//! each bot as a dot in the zone the node says it is in, and a zone's border flashing when
//! players are handed over (checked in the page's state and in the screenshot's pixels).

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{
    FLASH_RGB, PLAYER_RGB, TOLERANCE, artifacts, binary, dot_at, frame_and_screenshot, log, log_operator_in,
    make_operator, runtime, start_auth, wait_for_map, zone_rect,
};
use meridian_browser::{Driver, PixelRect};
use meridian_testkit::{ChildGuard, Postgres, free_tcp_port, free_udp_port};

mod common;

const TEST: &str = "standalone-map";
const CLUSTER_KEY_HEX: &str = "6d6572696469616e2d7374616e64616c6f6e652d6d61702d6b65792d30303030";
const BOTS: u64 = 40;
/// `meridian-node serve --handoff-margin-m`'s default.
const HANDOFF_MARGIN_M: f64 = 4.0;

#[test]
fn the_map_shows_a_standalone_nodes_two_zones_and_flashes_handoffs_between_them() {
    let postgres = Postgres::start().expect("postgres");
    let database_url = postgres.connection_string();
    let game = format!("127.0.0.1:{}", free_udp_port());
    let metrics = format!("127.0.0.1:{}", free_tcp_port());
    let _node = ChildGuard(
        Command::new(binary("meridian-node"))
            .args(["serve", "--listen", &game, "--io", "mmsg", "--workers", "1"])
            .args(["--metrics-listen", &metrics, "--cluster-key-hex", CLUSTER_KEY_HEX])
            // Zones 1 and 2 side by side, 512 m each; players spawn around (512, 512), on the
            // border, and their random walks cross it.
            .args(["--zones", "1,2", "--world-columns", "2", "--spawn-radius-m", "60"])
            .args(["--duration-s", "300"])
            .stdout(Stdio::null())
            .stderr(log(TEST, "node"))
            .spawn()
            .unwrap(),
    );
    let (_auth, origin, _cert) = start_auth(
        TEST,
        &database_url,
        CLUSTER_KEY_HEX,
        &["--game-addr", &game, "--ops-node-metrics", &metrics],
    );
    make_operator(&database_url);
    let _bots = ChildGuard(
        Command::new(binary("bots"))
            .args(["--bots", &BOTS.to_string(), "--threads", "1", "--duration-s", "240"])
            .args([
                "--server",
                &game,
                "--zone-id",
                "1",
                "--cluster-key-hex",
                CLUSTER_KEY_HEX,
            ])
            .stdout(Stdio::null())
            .stderr(log(TEST, "bots"))
            .spawn()
            .unwrap(),
    );
    let driver = Driver::start(&artifacts(TEST).join("chromedriver.log")).expect("chromedriver");
    runtime().block_on(async {
        let session = driver.session().await.expect("a browser session");
        log_operator_in(&session, &origin).await;
        let ready = format!(
            "meridianMap.zones.length === 2 && meridianMap.zones.every(z => z.served_by === 'standalone' && z.players > 0) \
             && meridianMap.zones[0].players + meridianMap.zones[1].players >= {BOTS} && meridianMap.dots.length >= {BOTS}"
        );
        wait_for_map(&session, &ready, Duration::from_secs(90)).await;
        let zones = session.eval("meridianMap.zones.map(z => [z.zone_id, z.rect, z.owner_node])").await.unwrap();
        assert_eq!(
            zones,
            serde_json::json!([
                [1, {"min_m": [0, 0], "max_m": [512, 512]}, null],
                [2, {"min_m": [512, 0], "max_m": [1024, 512]}, null]
            ])
        );
        // A handoff: some zone's counters grew between two polls, and its border flashes.
        wait_for_map(
            &session,
            "[...meridianMap.flashUntil.values()].some(t => t > performance.now() + 700)",
            Duration::from_secs(60),
        )
        .await;
        let (frame, shot) = frame_and_screenshot(&session, &artifacts(TEST).join("handoff.png")).await;
        let rects = [zone_rect(&frame, 0), zone_rect(&frame, 1)];
        assert!(rects[0].x1 <= rects[1].x0, "zone 1 {:?} is not left of zone 2 {:?}", rects[0], rects[1]);
        // The flashing border is 4 px wide around a zone; nothing else is drawn in its colour.
        let flash = shot.count(shot.bounds(), FLASH_RGB, 30);
        assert!(flash > 400, "no flashing border in the screenshot ({flash} pixels)");
        // Every dot is player-coloured where the page drew it, inside the zone it belongs to.
        let zone_ids: Vec<u64> = frame["zones"].as_array().unwrap().iter().map(|z| z.as_u64().unwrap()).collect();
        let mut per_zone = [0usize; 2];
        for dot in frame["dots"].as_array().unwrap() {
            let (x, y, zone_id) = dot_at(&frame, dot);
            let index = zone_ids.iter().position(|z| *z == zone_id).unwrap();
            // A player walks up to the handoff margin (the node's default 4 m) past the border
            // before it is handed over: it is still in its zone there.
            let margin = (HANDOFF_MARGIN_M * frame["scale"].as_f64().unwrap()).ceil() as u32 + 2;
            let grown = PixelRect {
                x0: rects[index].x0 - margin,
                y0: rects[index].y0 - margin,
                x1: rects[index].x1 + margin,
                y1: rects[index].y1 + margin,
            };
            assert!(grown.contains(x, y), "zone {zone_id}'s dot at ({x}, {y}) outside {:?}", rects[index]);
            assert!(
                shot.is(x, y, PLAYER_RGB, TOLERANCE),
                "no player dot at ({x}, {y}): {:?}",
                shot.pixel(x, y)
            );
            per_zone[index] += 1;
        }
        assert!(per_zone.iter().all(|n| *n > 0), "dots per zone {per_zone:?}");
        assert!(per_zone.iter().sum::<usize>() as u64 >= BOTS, "dots per zone {per_zone:?}");
        eprintln!("standalone map: dots per zone {per_zone:?}, {flash} flash pixels");
        session.close().await.unwrap();
    });
}
