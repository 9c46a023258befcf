//! The browser game client end to end, every piece real: etcd, Postgres, the assigner, the login
//! API serving the page at `/play/` (`--web-root client/web`), a node under the control plane with
//! its WebSocket gateway over TLS (a development certificate: the test's Chromium profile accepts
//! it, as WebDriver's `acceptInsecureCerts` does for every connection, WSS included), and a UDP SDK
//! bot in the same zone that logged in through the same API. In headless Chromium the player
//! registers and logs in through the form, creates a character, plays — over WSS to the node's
//! gateway, the URL the play ticket names — walks east with the D key, sees the bot walk north,
//! trades zone chat with it both ways (typed into the chat box), and disconnects; the node frees
//! the browser's session and keeps the bot's. The screenshot is checked: our dot and the bot's are
//! drawn where the page says, and the chat box shows both lines.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{artifacts, binary, log, runtime, start_auth};
use meridian_browser::{Driver, PixelRect, Session};
use meridian_client::{ClientConfig, ClientToken, GameClient, GameEvent, MoveCommand, ServerEvent};
use meridian_testkit::{ChildGuard, Etcd, Postgres, free_tcp_port, free_udp_port};
use serde_json::Value;

mod common;

const TEST: &str = "browser-client";
const CLUSTER_KEY_HEX: &str = "6d6572696469616e2d62726f777365722d636c69656e742d6b65792d30303030";
/// One input per zone tick (20 Hz): faster overflows the zone's input buffer.
const BOT_STEP: Duration = Duration::from_millis(50);
/// The page's colours (`COLOURS` in client/web/src/web/view.js).
const SELF_RGB: [u8; 3] = [0x2e, 0xcc, 0x40];
const PLAYER_RGB: [u8; 3] = [0x00, 0x74, 0xd9];

/// What the bot's thread shares with the test.
#[derive(Default)]
struct Bot {
    direction: [f32; 2],
    say: Vec<String>,
    entity: Option<u32>,
    /// Zone chat heard: (sender entity, text).
    heard: Vec<(u32, String)>,
    /// Where the server says each other entity is.
    world: Vec<(u32, [f32; 3])>,
    stop: bool,
}

fn now_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros() as u64
}

/// The SDK client over real UDP, stepped every tick on a thread of its own until told to stop.
fn run_bot(token: ClientToken, shared: Arc<Mutex<Bot>>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut client = GameClient::new(now_us(), token, ClientConfig::default()).unwrap();
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 2048];
        loop {
            while let Ok((n, from)) = socket.recv_from(&mut buf) {
                let _ = client.handle(now_us(), from, &buf[..n]);
            }
            let (direction, say, stop) = {
                let mut bot = shared.lock().unwrap();
                (bot.direction, std::mem::take(&mut bot.say), bot.stop)
            };
            if stop {
                if let Some(transmit) = client.disconnect() {
                    let _ = socket.send_to(&transmit.bytes, transmit.destination);
                }
                return;
            }
            if client.is_connected() {
                let _ = client.tick(MoveCommand { direction, yaw: 0.0 });
                for text in say {
                    client.send_chat(&text).unwrap();
                }
            }
            while let Some(transmit) = client.poll_transmit(now_us()) {
                let _ = socket.send_to(&transmit.bytes, transmit.destination);
            }
            let mut bot = shared.lock().unwrap();
            while let Some(event) = client.poll_event() {
                match event {
                    GameEvent::Placed { entity } => bot.entity = Some(entity),
                    GameEvent::Server(ServerEvent::Chat { from_entity, text, .. }) => {
                        bot.heard.push((from_entity, text.to_string()))
                    }
                    _ => {}
                }
            }
            bot.world = client
                .server_world()
                .values()
                .map(|entity| (entity.id, entity.position))
                .collect();
            drop(bot);
            std::thread::sleep(BOT_STEP);
        }
    })
}

/// One sample of the node's Prometheus text (`name{labels} value`), summed over label sets.
fn metric(metrics: &str, name: &str, labels: &str) -> f64 {
    let mut stream = TcpStream::connect(metrics).unwrap();
    write!(stream, "GET /metrics HTTP/1.0\r\nHost: {metrics}\r\n\r\n").unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    text.lines()
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(' ') || (rest.starts_with('{') && rest.contains(labels)))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn wait(session: &Session, what: &str, expression: &str, timeout: Duration) -> Value {
    match session.wait_for(expression, timeout).await {
        Ok(value) => value,
        Err(error) => {
            let status = session.eval("JSON.stringify(window.meridian?.status())").await;
            let error_text = session.eval("document.getElementById('error').textContent").await;
            panic!("{what}: {error}; page status {status:?}, error line {error_text:?}");
        }
    }
}

async fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn a_browser_logs_in_plays_over_wss_beside_a_udp_bot_chats_and_leaves() {
    let web_root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../client/web");
    assert!(
        web_root.join("dist/meridian.js").is_file(),
        "client/web/dist/meridian.js missing: run `npm ci && npm run build` in client/web (infra/setup.sh does)"
    );
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
    let metrics = format!("127.0.0.1:{}", free_tcp_port());
    let ws_port = free_tcp_port();
    let _node = ChildGuard(
        Command::new(binary("meridian-node"))
            .args(["serve", "--listen", &game, "--io", "mmsg", "--workers", "1"])
            .args(["--metrics-listen", &metrics])
            .args(["--cluster-key-hex", CLUSTER_KEY_HEX, "--control", &endpoint])
            .args(["--node-id", "node-browser", "--duration-s", "300"])
            // The WSS gateway with a development certificate (no --ws-plain: TLS as in production).
            .args(["--ws-listen", &format!("127.0.0.1:{ws_port}")])
            // Everyone spawns within 5 m of the zone's spawn point: the bot and the browser are in
            // each other's area of interest and on each other's canvas.
            .args(["--spawn-radius-m", "5"])
            .stdout(Stdio::null())
            .stderr(log(TEST, "node"))
            .spawn()
            .unwrap(),
    );
    let (_auth, origin, _cert) = start_auth(
        TEST,
        &database_url,
        CLUSTER_KEY_HEX,
        &["--etcd", &endpoint, "--web-root", web_root.to_str().unwrap()],
    );
    let driver = Driver::start(&artifacts(TEST).join("chromedriver.log")).expect("chromedriver");
    runtime().block_on(async {
        let page = driver.session().await.expect("a browser session");
        page.goto(&format!("{origin}/play/")).await.unwrap();
        wait(&page, "the page loads", "window.meridian && meridian.state() === 'logged_out'", Duration::from_secs(20)).await;

        // The bot logs in through the same API (from the page's origin: the API needs no CORS).
        let ticket = page
            .eval_async(
                "const call = async (path, body, jwt) => { \
                   const r = await fetch(path, {method: 'POST', headers: {'Content-Type': 'application/json', \
                     ...(jwt ? {Authorization: 'Bearer ' + jwt} : {})}, body: JSON.stringify(body)}); \
                   return {status: r.status, json: await r.json()}; }; \
                 await call('/auth/register', {name: 'udpbot', password: 'bot password 1'}); \
                 const jwt = (await call('/auth/login', {name: 'udpbot', password: 'bot password 1'})).json.token; \
                 const id = (await call('/characters', {name: 'Botty'}, jwt)).json.id; \
                 for (let i = 0; i < 300; i++) { \
                   const play = await call(`/characters/${id}/play`, {}, jwt); \
                   if (play.status === 200) return {...play.json, token: Array.from(atob(play.json.connect_token), (c) => c.charCodeAt(0))}; \
                   if (play.status !== 503) return {error: play}; \
                   await new Promise((r) => setTimeout(r, 200)); } \
                 return {error: 'the zone was never served'};",
            )
            .await
            .unwrap();
        assert!(ticket.get("error").is_none(), "the bot's login: {ticket}");
        let websocket = ticket["websocket"].as_str().expect("the ticket names the gateway");
        assert_eq!(websocket, format!("wss://127.0.0.1:{ws_port}/"), "the node's record carries its WSS URL");
        assert_eq!(ticket["server"].as_str().unwrap().parse::<SocketAddr>().unwrap().to_string(), game);
        let token_bytes: Vec<u8> = ticket["token"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b.as_u64().unwrap() as u8)
            .collect();
        let bot = Arc::new(Mutex::new(Bot::default()));
        let bot_thread = run_bot(ClientToken::from_bytes(&token_bytes).unwrap(), Arc::clone(&bot));
        wait_until("the bot to join", Duration::from_secs(20), || bot.lock().unwrap().entity.is_some()).await;
        let bot_entity = bot.lock().unwrap().entity.unwrap();

        // The player: register, log in, create a character and play, all through the form.
        page.fill("#name", "ayla").await.unwrap();
        page.fill("#password", "correct horse battery").await.unwrap();
        page.click("#register").await.unwrap();
        wait(&page, "registered", "document.getElementById('error').textContent.startsWith('registered')", Duration::from_secs(20)).await;
        page.click("#login-form button[type=submit]").await.unwrap();
        wait(&page, "logged in", "!document.getElementById('characters-box').hidden", Duration::from_secs(20)).await;
        page.fill("#character-name", "Ayla").await.unwrap();
        page.click("#new-character button").await.unwrap();
        wait(&page, "the character is listed", "document.querySelector('#characters button')?.textContent.includes('Ayla')", Duration::from_secs(10)).await;
        page.click("#characters button").await.unwrap();
        wait(
            &page,
            "the page connects over WSS and joins",
            "meridian.state() === 'connected' && meridian.entity() !== null && meridian.position() !== null",
            Duration::from_secs(20),
        )
        .await;
        let entity = page.eval("meridian.entity()").await.unwrap().as_u64().unwrap() as u32;
        assert_ne!(entity, bot_entity);
        // The browser is on the gateway (one WebSocket connection), beside the bot's UDP session
        // (the node publishes its gauges every few hundred milliseconds).
        wait_until("the node to count the WebSocket and both sessions", Duration::from_secs(5), || {
            metric(&metrics, "meridian_ws_connections", "") == 1.0 && metric(&metrics, "meridian_sessions", "") == 2.0
        })
        .await;
        let status = page.eval("meridian.status()").await.unwrap();
        assert!(status["rttMs"].as_f64().is_some_and(|rtt| rtt < 100.0), "{status}");
        wait(
            &page,
            "the page sees the bot",
            &format!("meridian.others().some((o) => o.id === {bot_entity} && o.kind === 'player')"),
            Duration::from_secs(10),
        )
        .await;
        wait_until("the bot to see the browser player", Duration::from_secs(10), || {
            bot.lock().unwrap().world.iter().any(|(id, _)| *id == entity)
        })
        .await;

        // WASD: D held for a second (key events from the keyboard, focus on the page, not an input).
        page.click("#view").await.unwrap();
        let start = page.eval("meridian.serverPosition()").await.unwrap();
        page.hold_key('d', Duration::from_millis(1000)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(400)).await;
        let end = page.eval("meridian.serverPosition()").await.unwrap();
        let moved_m = end[0].as_f64().unwrap() - start[0].as_f64().unwrap();
        assert!((4.0..10.0).contains(&moved_m), "the browser moved {moved_m} m east ({start} → {end})");
        assert!((end[1].as_f64().unwrap() - start[1].as_f64().unwrap()).abs() < 0.5, "{start} → {end}");
        let seen_x = bot.lock().unwrap().world.iter().find(|(id, _)| *id == entity).unwrap().1[0];
        assert!(
            (f64::from(seen_x) - end[0].as_f64().unwrap()).abs() < 0.5,
            "the bot sees the browser at x {seen_x}, the page says {end}"
        );

        // The bot walks north; the browser sees it move (interpolated).
        let bot_y = |v: Value| v.as_f64().unwrap();
        let before = bot_y(page.eval(&format!("meridian.others().find((o) => o.id === {bot_entity}).position[1]")).await.unwrap());
        bot.lock().unwrap().direction = [0.0, 1.0];
        tokio::time::sleep(Duration::from_millis(800)).await;
        bot.lock().unwrap().direction = [0.0, 0.0];
        wait(
            &page,
            "the page sees the bot walk north",
            &format!("meridian.others().find((o) => o.id === {bot_entity}).position[1] - {before} > 3"),
            Duration::from_secs(5),
        )
        .await;

        // Zone chat, both ways: typed into the chat box, and said by the bot.
        page.fill("#chat-text", "hello from the browser").await.unwrap();
        page.click("#chat-form button").await.unwrap();
        wait_until("the bot to hear the browser", Duration::from_secs(10), || {
            bot.lock().unwrap().heard.iter().any(|(from, text)| *from == entity && text == "hello from the browser")
        })
        .await;
        bot.lock().unwrap().say.push("hello from udp".into());
        wait(
            &page,
            "the browser hears the bot",
            &format!("meridian.chatLog().some((c) => c.text === 'hello from udp' && c.from === {bot_entity})"),
            Duration::from_secs(10),
        )
        .await;
        let chat = page.eval("document.getElementById('chat-log').innerText").await.unwrap();
        let chat = chat.as_str().unwrap();
        assert!(chat.contains("[zone] you: hello from the browser"), "{chat}");
        assert!(chat.contains(&format!("[zone] #{bot_entity}: hello from udp")), "{chat}");

        // The screenshot: our dot at the canvas' centre, the bot's where the page puts it.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let layout = page
            .eval(&format!(
                "(() => {{ const r = document.getElementById('view').getBoundingClientRect(); \
                 const self = meridian.position(); const bot = meridian.others().find((o) => o.id === {bot_entity}).position; \
                 const scale = 640 / 104; \
                 return {{left: r.left, top: r.top, width: r.width, bot: [r.left + 321 + (bot[0] - self[0]) * scale, r.top + 321 - (bot[1] - self[1]) * scale]}}; }})()"
            ))
            .await
            .unwrap();
        let shot = page.screenshot(&artifacts(TEST).join("browser-client.png")).await.unwrap();
        let (left, top) = (layout["left"].as_f64().unwrap(), layout["top"].as_f64().unwrap());
        assert_eq!(layout["width"], 642, "the canvas is 640 px plus its 1 px border");
        let centre = ((left + 321.0) as u32, (top + 321.0) as u32);
        assert!(
            shot.is(centre.0, centre.1, SELF_RGB, 8),
            "our dot at the canvas' centre {centre:?}: {:?}",
            shot.pixel(centre.0, centre.1)
        );
        let canvas = PixelRect {
            x0: left as u32,
            y0: top as u32,
            x1: (left + 642.0) as u32,
            y1: (top + 642.0) as u32,
        };
        assert_eq!(shot.blobs(canvas, SELF_RGB, 8), 1, "one green dot: us");
        assert!(shot.count(canvas, SELF_RGB, 8) > 100, "our dot is 8 px in radius");
        let players = shot.blobs(canvas, PLAYER_RGB, 8);
        assert_eq!(players, 1, "one blue dot: the bot");
        let (bx, by) = (layout["bot"][0].as_f64().unwrap(), layout["bot"][1].as_f64().unwrap());
        let near_bot = PixelRect {
            x0: (bx - 8.0) as u32,
            y0: (by - 8.0) as u32,
            x1: (bx + 9.0) as u32,
            y1: (by + 9.0) as u32,
        };
        assert!(
            shot.count(near_bot, PLAYER_RGB, 8) > 40,
            "the bot's dot near ({bx:.0}, {by:.0}) in the screenshot"
        );

        // Disconnect from the page: the node frees the browser's session and closes its socket;
        // the bot plays on.
        page.click("#leave").await.unwrap();
        wait(&page, "the page disconnects", "meridian.state() === 'disconnected'", Duration::from_secs(5)).await;
        wait_until("the node to free the browser's session", Duration::from_secs(10), || {
            metric(&metrics, "meridian_sessions", "") == 1.0 && metric(&metrics, "meridian_ws_connections", "") == 0.0
        })
        .await;
        assert!(
            metric(&metrics, "meridian_ws_messages_total", "direction=\"in\"") > 20.0,
            "the browser's packets came in over the gateway"
        );
        assert_eq!(page.eval("document.getElementById('error').textContent").await.unwrap(), "");
        bot.lock().unwrap().stop = true;
        bot_thread.join().unwrap();
        page.close().await.unwrap();
    });
}
