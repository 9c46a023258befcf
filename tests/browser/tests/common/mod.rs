//! What the browser tests share: the workspace's binaries, logs and artifacts, the login API with
//! the operators' map, an operator made on the command line, and reading the map page's frame.
// Each test file uses a different part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use meridian_browser::{PixelRect, Session};
use meridian_testkit::{ChildGuard, free_tcp_port};
use serde_json::Value;

pub const OPERATOR: &str = "mapkeeper";
pub const OPERATOR_PASSWORD: &str = "correct horse battery";
/// The colour the page draws players in (`PLAYER_RGB` in controlplane/ops-web/map.js).
pub const PLAYER_RGB: [u8; 3] = [0, 255, 102];
/// The zones' fill (`ZONE_FILL`).
pub const ZONE_RGB: [u8; 3] = [0x1b, 0x22, 0x30];
/// The selected player's AOI circle (`AOI`).
pub const AOI_RGB: [u8; 3] = [0xff, 0xcc, 0x00];
/// A zone's border while it flashes for a handoff (`FLASH`).
pub const FLASH_RGB: [u8; 3] = [0xff, 0x40, 0x40];
/// Antialiasing blends a dot's rim; its centre is exact, give or take rounding.
pub const TOLERANCE: u8 = 8;

/// A workspace binary beside this test's (`cargo test --workspace` builds them all).
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().unwrap().parent().unwrap().join(name);
    assert!(
        path.is_file(),
        "{} missing: build the workspace's binaries (`cargo build --workspace`)",
        path.display()
    );
    path
}

/// `<temp>/meridian-<test>-<name>.log`, where a test's processes write their logs.
pub fn log(test: &str, name: &str) -> std::fs::File {
    std::fs::File::create(std::env::temp_dir().join(format!("meridian-{test}-{name}.log"))).unwrap()
}

/// `<target>/tmp/<test>/`: screenshots and the chromedriver log.
pub fn artifacts(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(test);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// `meridian-control auth` on a free port with a development certificate and the per-IP limit
/// opened up for a swarm on one address; `placement` is `--etcd <endpoint>` or the standalone
/// flags. Returns it and its HTTPS origin once the certificate exists (the API is up).
pub fn start_auth(
    test: &str,
    database_url: &str,
    cluster_key_hex: &str,
    placement: &[&str],
) -> (ChildGuard, String, PathBuf) {
    let port = free_tcp_port();
    let cert = std::env::temp_dir().join(format!("meridian-{test}-{port}.pem"));
    let auth = ChildGuard(
        Command::new(binary("meridian-control"))
            .args(["auth", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--database-url", database_url])
            .args(placement)
            .args([
                "--cluster-key-hex",
                cluster_key_hex,
                "--jwt-secret-hex",
                &"ab".repeat(32),
            ])
            .args(["--dev-cert-out", cert.to_str().unwrap()])
            .args(["--ip-burst", "100000", "--ip-refill-ms", "1", "--duration-s", "300"])
            .stdout(Stdio::null())
            .stderr(log(test, "auth"))
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cert.is_file() {
        assert!(Instant::now() < deadline, "the login API did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    (auth, format!("https://127.0.0.1:{port}"), cert)
}

/// The operator is made on the command line, never through the API.
pub fn make_operator(database_url: &str) {
    let made = Command::new(binary("meridian-control"))
        .args(["operator", "--database-url", database_url, "--name", OPERATOR])
        .env("MERIDIAN_OPERATOR_PASSWORD", OPERATOR_PASSWORD)
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    assert_eq!(
        String::from_utf8_lossy(&made.stdout).trim(),
        format!("{OPERATOR}: Created")
    );
}

/// Logs the operator in through the login page and waits for the map page.
pub async fn log_operator_in(session: &Session, origin: &str) {
    session.goto(&format!("{origin}/operator/login")).await.unwrap();
    session.fill("#name", OPERATOR).await.unwrap();
    session.fill("#password", OPERATOR_PASSWORD).await.unwrap();
    session.click("#submit").await.unwrap();
    session
        .wait_for("location.pathname === '/ops/'", Duration::from_secs(30))
        .await
        .unwrap();
}

/// Waits for `condition` on the map's state; on a timeout the panic shows the state.
pub async fn wait_for_map(session: &Session, condition: &str, timeout: Duration) {
    if let Err(error) = session.wait_for(condition, timeout).await {
        let state = session
            .eval("JSON.stringify({zones: meridianMap.zones.map(z => ({...z, dots: z.dots.length})), nodes: meridianMap.nodes, error: meridianMap.error})")
            .await;
        panic!("the map never showed `{condition}`: {error}; state {state:?}");
    }
}

/// What the page drew in its last frame: the canvas' place on the page, each zone's canvas
/// rectangle and the dots (canvas pixels), and the poll count.
pub async fn frame(session: &Session) -> Value {
    session
        .eval(
            "(() => { const c = document.getElementById('map').getBoundingClientRect(); \
             return {left: c.left, top: c.top, rects: meridianMap.zones.map(z => z.canvasRect), \
             dots: meridianMap.dots.map(d => [d.x, d.y, d.zone_id]), zones: meridianMap.zones.map(z => z.zone_id), \
             updates: meridianMap.updates, scale: meridianMap.scale}; })()",
        )
        .await
        .unwrap()
}

/// Zone `index`'s rectangle in screenshot pixels (its inside, borders excluded).
pub fn zone_rect(frame: &Value, index: usize) -> PixelRect {
    let (left, top) = (frame["left"].as_f64().unwrap(), frame["top"].as_f64().unwrap());
    let rect: Vec<f64> = frame["rects"][index]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    PixelRect {
        x0: (left + rect[0]).ceil() as u32 + 1,
        y0: (top + rect[1]).ceil() as u32 + 1,
        x1: (left + rect[2]).floor() as u32 - 1,
        y1: (top + rect[3]).floor() as u32 - 1,
    }
}

/// A dot of the frame in screenshot pixels, and its zone.
pub fn dot_at(frame: &Value, dot: &Value) -> (u32, u32, u64) {
    let (left, top) = (frame["left"].as_f64().unwrap(), frame["top"].as_f64().unwrap());
    (
        (left + dot[0].as_f64().unwrap()).round() as u32,
        (top + dot[1].as_f64().unwrap()).round() as u32,
        dot[2].as_u64().unwrap(),
    )
}

/// The page's last frame and a screenshot of that same frame, saved as `path`: the page redraws
/// when a poll lands (every 500 ms), so a pair with a redraw in between is taken again.
pub async fn frame_and_screenshot(session: &Session, path: &Path) -> (Value, meridian_browser::Screenshot) {
    for _ in 0..10 {
        let frame = frame(session).await;
        let shot = session.screenshot(path).await.unwrap();
        let after = session.eval("meridianMap.updates").await.unwrap();
        if after == frame["updates"] {
            return (frame, shot);
        }
    }
    panic!("the page redrew between every state read and screenshot");
}
