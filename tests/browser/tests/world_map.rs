//! The operators' world map in a real browser: etcd, Postgres, the assigner, the login API with the
//! map, a node under the control plane and a swarm of 20 bots logged in over HTTPS are real
//! processes; headless Chromium (Debian's, through chromedriver) logs an operator in through the
//! login page, and the map must show the zone with its owner and every bot as a dot — in the
//! page's own state and in the screenshot's pixels, at the places the page says it drew them. A
//! player account is refused, at the login page and at `/ops/world.json`.

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{
    AOI_RGB, PLAYER_RGB, TOLERANCE, ZONE_RGB, artifacts, binary, dot_at, frame_and_screenshot, log, log_operator_in,
    make_operator, runtime, start_auth, wait_for_map, zone_rect,
};
use meridian_browser::{Driver, PixelRect, Screenshot, Session};
use meridian_testkit::{ChildGuard, Etcd, Postgres, free_tcp_port, free_udp_port};
use serde_json::Value;

mod common;

const TEST: &str = "world-map";
const CLUSTER_KEY_HEX: &str = "6d6572696469616e2d776f726c642d6d61702d746573742d6b65792d30303030";
const BOTS: u64 = 20;
const NODE_ID: &str = "node-map";
/// How far past its centre a dot is drawn (`DOT_RADIUS_PX` in map.js, plus a pixel of rim).
const DOT_REACH_PX: u32 = 4;

#[test]
fn an_operator_sees_the_zone_its_owner_and_every_bot_on_the_map_and_a_player_is_refused() {
    let etcd = Etcd::start().expect("etcd");
    let postgres = Postgres::start().expect("postgres");
    let endpoint = etcd.endpoint();
    let database_url = postgres.connection_string();
    let _assigner = ChildGuard(
        Command::new(binary("meridian-control"))
            .args(["assigner", "--etcd", &endpoint, "--zones", "1", "--duration-s", "300"])
            .stdout(Stdio::null())
            .stderr(log(TEST, "assigner"))
            .spawn()
            .unwrap(),
    );
    let game = format!("127.0.0.1:{}", free_udp_port());
    let _node = ChildGuard(
        Command::new(binary("meridian-node"))
            .args(["serve", "--listen", &game, "--io", "mmsg", "--workers", "1"])
            .args(["--metrics-listen", &format!("127.0.0.1:{}", free_tcp_port())])
            .args(["--cluster-key-hex", CLUSTER_KEY_HEX, "--control", &endpoint])
            .args(["--node-id", NODE_ID, "--duration-s", "300"])
            // Spread the bots over the zone so that their dots are apart on the map.
            .args(["--spawn-radius-m", "300"])
            .stdout(Stdio::null())
            .stderr(log(TEST, "node"))
            .spawn()
            .unwrap(),
    );
    let (_auth, origin, cert) = start_auth(TEST, &database_url, CLUSTER_KEY_HEX, &["--etcd", &endpoint]);
    make_operator(&database_url);
    let _bots = ChildGuard(
        Command::new(binary("bots"))
            .args(["--bots", &BOTS.to_string(), "--threads", "1", "--duration-s", "240"])
            .args(["--cluster-key-hex", CLUSTER_KEY_HEX])
            .args(["--login", &origin])
            .args(["--login-ca", cert.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(log(TEST, "bots"))
            .spawn()
            .unwrap(),
    );
    let driver = Driver::start(&artifacts(TEST).join("chromedriver.log")).expect("chromedriver");
    runtime().block_on(async {
        let operator = driver.session().await.expect("a browser session");
        operator_sees_the_map(&operator, &origin).await;
        operator.close().await.unwrap();
        let player = driver.session().await.expect("a second browser session");
        player_is_refused(&player, &origin).await;
        player.close().await.unwrap();
    });
}

async fn operator_sees_the_map(session: &Session, origin: &str) {
    // Without logging in, /ops/ is refused.
    session.goto(&format!("{origin}/ops/")).await.unwrap();
    let body = session.eval("document.body.innerText").await.unwrap();
    assert!(body.as_str().unwrap().contains("\"unauthorized\""), "{body}");

    log_operator_in(session, origin).await;
    // The map has the zone, owned by the node, with every bot in it and on the canvas.
    let ready = format!(
        "window.meridianMap && meridianMap.zones.length === 1 && meridianMap.zones[0].owner_node === '{NODE_ID}' \
         && meridianMap.zones[0].players >= {BOTS} && meridianMap.dots.length >= {BOTS}"
    );
    wait_for_map(session, &ready, Duration::from_secs(120)).await;
    let zone = session.eval("meridianMap.zones[0]").await.unwrap();
    assert_eq!(zone["zone_id"], 1);
    assert_eq!(zone["served_by"], NODE_ID);
    assert_eq!(zone["owner_worker"], 0);
    assert!(zone["aoi_radius_m"].as_f64().unwrap() > 0.0, "{zone}");
    assert!(zone["tick_p99_us"].as_u64().unwrap() > 0, "{zone}");
    // Let one more poll land so that what is drawn is what the state says.
    let updates = session.eval("meridianMap.updates").await.unwrap().as_u64().unwrap();
    session
        .wait_for(&format!("meridianMap.updates > {updates}"), Duration::from_secs(10))
        .await
        .unwrap();
    let (frame, shot) = frame_and_screenshot(session, &artifacts(TEST).join("operator-map.png")).await;
    check_screenshot(&shot, &frame);

    // Clicking a player draws its AOI circle.
    let dot = &frame["dots"][0];
    let (left, top) = (frame["left"].as_f64().unwrap(), frame["top"].as_f64().unwrap());
    let (x, y) = (dot[0].as_f64().unwrap(), dot[1].as_f64().unwrap());
    session
        .eval(&format!(
            "document.getElementById('map').dispatchEvent(new MouseEvent('click', {{clientX: {}, clientY: {}, bubbles: true}})) && meridianMap.selected",
            left + x,
            top + y
        ))
        .await
        .unwrap();
    session
        .wait_for("meridianMap.selected !== null", Duration::from_secs(5))
        .await
        .unwrap();
    let shot = session
        .screenshot(&artifacts(TEST).join("operator-aoi.png"))
        .await
        .unwrap();
    let aoi = shot.count(shot.bounds(), AOI_RGB, 40);
    assert!(
        aoi > 50,
        "no AOI circle drawn around the selected player ({aoi} pixels)"
    );
}

/// The zone rectangle is filled, every dot the page says it drew is player-coloured in the
/// screenshot at that place, at least [`BOTS`] separate blobs of that colour lie in the zone, and
/// none outside it.
fn check_screenshot(shot: &Screenshot, frame: &Value) {
    let zone = zone_rect(frame, 0);
    let area = (zone.x1 - zone.x0) as usize * (zone.y1 - zone.y0) as usize;
    let filled = shot.count(zone, ZONE_RGB, 2);
    assert!(
        filled > area / 2,
        "the zone {zone:?} is not drawn: {filled} of {area} pixels have its colour"
    );
    // A player on the world's edge has its dot's centre on the zone's border.
    let grown = PixelRect {
        x0: zone.x0.saturating_sub(DOT_REACH_PX),
        y0: zone.y0.saturating_sub(DOT_REACH_PX),
        x1: zone.x1 + DOT_REACH_PX,
        y1: zone.y1 + DOT_REACH_PX,
    };
    let dots = frame["dots"].as_array().unwrap();
    let mut coloured = std::collections::BTreeSet::new();
    for dot in dots {
        let (x, y, _) = dot_at(frame, dot);
        assert!(grown.contains(x, y), "dot at ({x}, {y}) outside its zone {zone:?}");
        assert!(
            shot.is(x, y, PLAYER_RGB, TOLERANCE),
            "no player dot at ({x}, {y}) where the page drew one: {:?}",
            shot.pixel(x, y)
        );
        coloured.insert((x, y));
    }
    assert!(coloured.len() as u64 >= BOTS, "{} distinct dots", coloured.len());
    let blobs = shot.blobs(zone, PLAYER_RGB, TOLERANCE);
    // Dots that overlap merge into one blob; with the bots spread over 300 m that is rare.
    assert!(
        blobs as u64 >= BOTS - 3,
        "{blobs} player-coloured blobs in the zone for {} dots",
        dots.len()
    );
    // Nothing else is drawn in the players' colour: outside the zone (grown by a dot's radius, for
    // a player standing on the world's edge) there is none.
    let everywhere = shot.count(shot.bounds(), PLAYER_RGB, TOLERANCE);
    let inside = shot.count(zone, PLAYER_RGB, TOLERANCE);
    assert_eq!(
        everywhere,
        shot.count(grown, PLAYER_RGB, TOLERANCE),
        "player-coloured pixels outside the zone"
    );
    eprintln!(
        "map: zone {zone:?}, {} dots, {blobs} blobs, {inside} player pixels",
        dots.len()
    );
}

async fn player_is_refused(session: &Session, origin: &str) {
    session.goto(&format!("{origin}/operator/login")).await.unwrap();
    // A player registers through the public API (from the page's origin) and logs in there.
    let token = session
        .eval_async(
            "const body = JSON.stringify({name: 'justaplayer', password: 'a fine password'}); \
             const headers = {'Content-Type': 'application/json'}; \
             await fetch('/auth/register', {method: 'POST', headers, body}); \
             const login = await fetch('/auth/login', {method: 'POST', headers, body}); \
             return (await login.json()).token;",
        )
        .await
        .unwrap();
    let token = token.as_str().expect("a player token").to_owned();
    // The operator login page refuses the player, and says why.
    session.fill("#name", "justaplayer").await.unwrap();
    session.fill("#password", "a fine password").await.unwrap();
    session.click("#submit").await.unwrap();
    let code = session
        .wait_for("document.getElementById('error').dataset.code", Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(code, "not_operator");
    let message = session
        .eval("document.getElementById('error').textContent")
        .await
        .unwrap();
    assert_eq!(message, "this account is not an operator");
    assert_eq!(session.eval("location.pathname").await.unwrap(), "/operator/login");
    // The player's own token gets 403 at the data; no token gets 401.
    let statuses = session
        .eval_async(&format!(
            "const bearer = await fetch('/ops/world.json', {{headers: {{Authorization: 'Bearer {token}'}}}}); \
             const none = await fetch('/ops/world.json'); \
             return [bearer.status, (await bearer.json()).error, none.status, (await none.json()).error];"
        ))
        .await
        .unwrap();
    assert_eq!(statuses, serde_json::json!([403, "not_operator", 401, "unauthorized"]));
}
