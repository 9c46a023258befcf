//! What the process-level control-plane tests share: the workspace's binaries (refusing a stale
//! node), their log files, a node run under the control plane, and reading a node's metrics.
// Each test file uses a different part of this module.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use meridian_testkit::ChildGuard;

/// The nodes' registry lease in these tests (the node's default).
pub const LEASE_TTL_S: u64 = 3;

/// The most recently modified file under `dir`, recursively.
fn newest_file(dir: &Path) -> Option<(SystemTime, PathBuf)> {
    let mut newest: Option<(SystemTime, PathBuf)> = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let candidate = if path.is_dir() {
            newest_file(&path)
        } else {
            entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .map(|modified| (modified, path))
        };
        if let Some(candidate) = candidate.filter(|c| newest.as_ref().is_none_or(|n| c.0 > n.0)) {
            newest = Some(candidate);
        }
    }
    newest
}

/// A workspace binary beside this package's (`cargo test --workspace`, as `make test` runs, builds
/// them all). `meridian-node` older than its sources is refused: `cargo test -p meridian-control`
/// alone does not rebuild another package's binary.
pub fn binary(name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_BIN_EXE_meridian-control")).with_file_name(name);
    assert!(
        path.is_file(),
        "{} missing: run `cargo test --workspace`",
        path.display()
    );
    if name == "meridian-node" {
        let built = std::fs::metadata(&path).and_then(|m| m.modified()).unwrap();
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for dir in [
            "dataplane/src",
            "dataplane/host/src",
            "dataplane/zone/src",
            "schemas/src",
            // The library part the node links (not the `meridian-control` binary's main.rs).
            "controlplane/src/registry",
        ] {
            if let Some((_, newer)) = newest_file(&root.join(dir)).filter(|(modified, _)| *modified > built) {
                panic!("{} is older than {}: rebuild it", path.display(), newer.display());
            }
        }
    }
    path
}

/// `<temp>/meridian-<test>-<name>.log`, where a test's processes write their logs.
pub fn log_file(test: &str, name: &str) -> std::fs::File {
    std::fs::File::create(std::env::temp_dir().join(format!("meridian-{test}-{name}.log"))).unwrap()
}

/// `meridian-node serve --control <etcd>` on `listen` with `workers` mmsg workers, registered as
/// `node_id` with a [`LEASE_TTL_S`] lease, metrics on `metrics_port`, stderr to `log`.
pub fn start_node(
    etcd: &str,
    node_id: &str,
    listen: SocketAddr,
    metrics_port: u16,
    cluster_key_hex: &str,
    workers: usize,
    log: std::fs::File,
) -> ChildGuard {
    ChildGuard(
        Command::new(binary("meridian-node"))
            .args(["serve", "--listen", &listen.to_string(), "--io", "mmsg"])
            .args(["--workers", &workers.to_string()])
            .args(["--metrics-listen", &format!("127.0.0.1:{metrics_port}")])
            .args([
                "--cluster-key-hex",
                cluster_key_hex,
                "--control",
                etcd,
                "--node-id",
                node_id,
            ])
            .args(["--lease-ttl-s", &LEASE_TTL_S.to_string(), "--duration-s", "120"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start meridian-node"),
    )
}

/// The node's metrics text (empty if it does not answer).
pub fn metrics_text(metrics_port: u16) -> String {
    let mut body = String::new();
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", metrics_port)) else {
        return body;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .is_ok()
    {
        let _ = stream.read_to_string(&mut body);
    }
    body
}

/// Tick counts per zone from a node's metrics endpoint (empty if it does not answer).
pub fn ticks_per_zone(metrics_port: u16) -> BTreeMap<u32, f64> {
    let mut ticks = BTreeMap::new();
    for line in metrics_text(metrics_port)
        .lines()
        .filter(|l| l.starts_with("meridian_tick_duration_seconds_count{"))
    {
        let zone = line
            .split("zone=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next()?.parse::<u32>().ok());
        let count = line.rsplit(' ').next().and_then(|n| n.parse::<f64>().ok());
        if let (Some(zone), Some(count)) = (zone, count) {
            *ticks.entry(zone).or_insert(0.0) += count;
        }
    }
    ticks
}

/// Sessions the node holds (0 if it does not answer).
pub fn sessions(metrics_port: u16) -> f64 {
    metrics_text(metrics_port)
        .lines()
        .filter(|line| line.starts_with("meridian_sessions{"))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// `meridian-control assigner` for `zones` (comma-separated) on `etcd`, stderr to the test's log.
pub fn start_assigner(etcd: &str, zones: &str, test: &str) -> ChildGuard {
    ChildGuard(
        Command::new(binary("meridian-control"))
            .args(["assigner", "--etcd", etcd, "--zones", zones, "--duration-s", "300"])
            .stdout(Stdio::null())
            .stderr(log_file(test, "assigner"))
            .spawn()
            .expect("start the assigner"),
    )
}

/// The login API: `meridian-control auth` on a free port with a development certificate, the
/// per-IP limit opened up for a swarm on one address. Returns it, its port and the certificate
/// path once the certificate exists (the API is up).
pub fn start_auth(etcd: &str, database_url: &str, cluster_key_hex: &str, test: &str) -> (ChildGuard, u16, PathBuf) {
    let port = meridian_testkit::free_tcp_port();
    let cert = std::env::temp_dir().join(format!("meridian-{test}-{port}.pem"));
    let auth = ChildGuard(
        Command::new(binary("meridian-control"))
            .args(["auth", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--database-url", database_url, "--etcd", etcd])
            .args([
                "--cluster-key-hex",
                cluster_key_hex,
                "--jwt-secret-hex",
                &"cd".repeat(32),
            ])
            .args(["--dev-cert-out", cert.to_str().unwrap()])
            .args(["--ip-burst", "100000", "--ip-refill-ms", "1", "--duration-s", "300"])
            .stdout(Stdio::null())
            .stderr(log_file(test, "auth"))
            .spawn()
            .expect("start the login API"),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !cert.is_file() {
        assert!(std::time::Instant::now() < deadline, "the login API did not start");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    (auth, port, cert)
}
