//! Throwaway real services: PostgreSQL, etcd and Redis, started from the installed binaries.

use std::{
    io::{Read, Write},
    net::{Ipv4Addr, SocketAddr, TcpStream},
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use nix::unistd::{Uid, User, chown};
use tempfile::TempDir;

use crate::{
    Netns, Result, SERVICE_START_TIMEOUT, TestkitError, io_err,
    netns::run_in_netns,
    process::{ServiceProcess, find_binary, free_loopback_port},
};

/// Start attempts per service; a retry happens when the picked port was taken in the meantime.
const START_ATTEMPTS: u32 = 3;
const READY_POLL: Duration = Duration::from_millis(50);

/// Polls `probe` until it answers, the process exits, or the start timeout passes.
/// `Ok(true)`: ready. `Ok(false)`: the process exited (the caller retries on another port).
fn wait_ready(process: &mut ServiceProcess, probe: impl Fn() -> bool) -> Result<bool> {
    let deadline = Instant::now() + SERVICE_START_TIMEOUT;
    while Instant::now() < deadline {
        if probe() {
            return Ok(true);
        }
        if process.exited().is_some() {
            return Ok(false);
        }
        std::thread::sleep(READY_POLL);
    }
    Ok(false)
}

/// Runs `start(attempt)` until the service it launches answers, up to [`START_ATTEMPTS`] times.
fn start_with_retries<T>(
    service: &'static str,
    mut start: impl FnMut() -> Result<(ServiceProcess, T, Box<dyn Fn() -> bool>)>,
) -> Result<(ServiceProcess, T)> {
    let mut log_tail = String::new();
    for _ in 0..START_ATTEMPTS {
        let (mut process, value, probe) = start()?;
        if wait_ready(&mut process, probe)? {
            return Ok((process, value));
        }
        log_tail = process.log_tail();
        // `process` drops here: stopped and reaped before the next attempt.
    }
    Err(TestkitError::NotReady {
        service,
        timeout: SERVICE_START_TIMEOUT,
        attempts: START_ATTEMPTS,
        log_tail,
    })
}

/// Service data directories are named `<prefix><pid>-<random>` under the temp dir, so that the
/// first service a process starts can delete the directories of test processes that were killed
/// (their services died with them through `PR_SET_PDEATHSIG`, but the files stay).
fn temp_dir(prefix: &str) -> Result<TempDir> {
    static CLEAN_LEFTOVERS: std::sync::Once = std::sync::Once::new();
    CLEAN_LEFTOVERS.call_once(|| {
        let _ = remove_leftover_dirs(&std::env::temp_dir());
    });
    tempfile::Builder::new()
        .prefix(&format!("{prefix}{}-", std::process::id()))
        .tempdir()
        .map_err(io_err("creating temp dir"))
}

const SERVICE_DIR_PREFIXES: [&str; 3] = ["meridian-pg-", "meridian-etcd-", "meridian-redis-"];

/// Deletes service data directories in `parent` whose creating process no longer exists. Returns
/// the paths removed.
pub fn remove_leftover_dirs(parent: &Path) -> Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    let entries = std::fs::read_dir(parent).map_err(io_err(format!("listing {}", parent.display())))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(rest) = SERVICE_DIR_PREFIXES.iter().find_map(|p| name.strip_prefix(p)) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let path = entry.path();
            if std::fs::remove_dir_all(&path).is_ok() {
                removed.push(path);
            }
        }
    }
    Ok(removed)
}

/// Sends `request` to a loopback port and reports whether the answer contains `needle`.
fn tcp_exchange_contains(port: u16, request: &[u8], needle: &str) -> bool {
    tcp_exchange_contains_at(SocketAddr::from((Ipv4Addr::LOCALHOST, port)), request, needle)
}

/// Sends `request` to `addr` and reports whether the answer contains `needle`.
fn tcp_exchange_contains_at(addr: SocketAddr, request: &[u8], needle: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(1000)));
    if stream.write_all(request).is_err() {
        return false;
    }
    let mut answer = Vec::with_capacity(512);
    let mut buf = [0u8; 512];
    // Read until the needle shows up, the peer closes, or the timeout hits; bounded at 64 KiB.
    while answer.len() < 64 * 1024 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                answer.extend_from_slice(&buf[..n]);
                if String::from_utf8_lossy(&answer).contains(needle) {
                    return true;
                }
            }
        }
    }
    false
}

/// A throwaway PostgreSQL server (`initdb` + `postgres`) on a free loopback port, trust auth, user
/// `postgres`, database `postgres`. When the tests run as root, the server runs as the `postgres`
/// system user (PostgreSQL refuses to run as root). `fsync` is off: the data is thrown away anyway.
pub struct Postgres {
    process: ServiceProcess,
    port: u16,
    dir: TempDir,
}

impl Postgres {
    pub fn start() -> Result<Self> {
        let bin_dir = postgres_bin_dir()?;
        let dir = temp_dir("meridian-pg-")?;
        let run_as = if Uid::effective().is_root() {
            let user = User::from_name("postgres")?.ok_or_else(|| TestkitError::BinaryNotFound {
                name: "postgres (system user)",
                searched: "/etc/passwd; install the postgresql package".into(),
            })?;
            chown(dir.path(), Some(user.uid), Some(user.gid))?;
            Some((user.uid, user.gid))
        } else {
            None
        };
        let as_user = |command: &mut Command| {
            if let Some((uid, gid)) = run_as {
                command.uid(uid.as_raw()).gid(gid.as_raw());
            }
        };
        let data_dir = dir.path().join("data");
        let mut initdb = Command::new(bin_dir.join("initdb"));
        initdb.args([
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
            "-D",
        ]);
        initdb.arg(&data_dir);
        as_user(&mut initdb);
        run_checked(initdb)?;

        let pg_isready = bin_dir.join("pg_isready");
        let socket_dir = dir.path().to_owned();
        let log_path = dir.path().join("postgres.log");
        let (process, port) = start_with_retries("postgres", || {
            let port = free_loopback_port()?;
            let mut postgres = Command::new(bin_dir.join("postgres"));
            postgres.arg("-D").arg(&data_dir).arg("-k").arg(&socket_dir);
            postgres.args(["-p", &port.to_string()]);
            postgres.args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"]);
            postgres.args(["-c", "max_connections=200"]);
            as_user(&mut postgres);
            let process = ServiceProcess::spawn(postgres, &log_path)?;
            let pg_isready = pg_isready.clone();
            let probe = move || {
                Command::new(&pg_isready)
                    .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string(), "-t", "1"])
                    .status()
                    .is_ok_and(|s| s.success())
            };
            Ok((process, port, Box::new(probe) as Box<dyn Fn() -> bool>))
        })?;
        Ok(Self { process, port, dir })
    }

    pub fn host(&self) -> &'static str {
        "127.0.0.1"
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn user(&self) -> &'static str {
        "postgres"
    }

    /// A libpq-style connection string (`tokio-postgres` accepts it).
    pub fn connection_string(&self) -> String {
        format!("host=127.0.0.1 port={} user=postgres dbname=postgres", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }
}

fn postgres_bin_dir() -> Result<PathBuf> {
    // Debian installs the server binaries under /usr/lib/postgresql/<major>/bin, off PATH.
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.path().join("bin/initdb"))
                .collect()
        })
        .unwrap_or_default();
    candidates.sort_by_key(|p| {
        let major = p
            .iter()
            .rev()
            .nth(2)
            .and_then(|s| s.to_str())
            .and_then(|s| s.parse().ok());
        std::cmp::Reverse(major.unwrap_or(0u32))
    });
    let initdb = find_binary("initdb", "MERIDIAN_PG_INITDB", &candidates)?;
    // Resolve symlinks (e.g. /usr/local/bin/initdb) so the sibling binaries are found.
    let initdb = std::fs::canonicalize(&initdb).unwrap_or(initdb);
    Ok(initdb.parent().map(Path::to_owned).unwrap_or_default())
}

fn run_checked(mut command: Command) -> Result<()> {
    let shown = format!("{command:?}");
    let output = command.output().map_err(io_err(format!("running {shown}")))?;
    if !output.status.success() {
        return Err(TestkitError::CommandFailed {
            command: shown,
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        });
    }
    Ok(())
}

/// A throwaway single-member etcd cluster on free loopback client and peer ports.
pub struct Etcd {
    process: ServiceProcess,
    client_port: u16,
    dir: TempDir,
}

impl Etcd {
    pub fn start() -> Result<Self> {
        let etcd = find_binary("etcd", "MERIDIAN_ETCD", &[PathBuf::from("/usr/bin/etcd")])?;
        let dir = temp_dir("meridian-etcd-")?;
        let log_path = dir.path().join("etcd.log");
        let data_dir = dir.path().join("data");
        let (process, client_port) = start_with_retries("etcd", || {
            let client_port = free_loopback_port()?;
            let peer_port = free_loopback_port()?;
            let client_url = format!("http://127.0.0.1:{client_port}");
            let peer_url = format!("http://127.0.0.1:{peer_port}");
            let mut command = Command::new(&etcd);
            command
                .args(["--name", "testkit", "--data-dir"])
                .arg(&data_dir)
                .args([
                    "--listen-client-urls",
                    &client_url,
                    "--advertise-client-urls",
                    &client_url,
                ])
                .args([
                    "--listen-peer-urls",
                    &peer_url,
                    "--initial-advertise-peer-urls",
                    &peer_url,
                ])
                .args(["--initial-cluster", &format!("testkit={peer_url}")])
                .args([
                    "--initial-cluster-state",
                    "new",
                    "--logger",
                    "zap",
                    "--log-level",
                    "warn",
                ]);
            let process = ServiceProcess::spawn(command, &log_path)?;
            let probe = move || {
                let request =
                    format!("GET /health HTTP/1.1\r\nHost: 127.0.0.1:{client_port}\r\nConnection: close\r\n\r\n");
                tcp_exchange_contains(client_port, request.as_bytes(), "\"health\":\"true\"")
            };
            Ok((process, client_port, Box::new(probe) as Box<dyn Fn() -> bool>))
        })?;
        Ok(Self {
            process,
            client_port,
            dir,
        })
    }

    pub fn client_port(&self) -> u16 {
        self.client_port
    }

    /// The client endpoint, `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }
}

/// A throwaway single-member etcd inside a network namespace, serving clients on one of that
/// namespace's addresses ([`Etcd::start_in`]), so processes in other namespaces routed to it reach
/// it too; stopped and its data deleted on drop.
pub struct NetnsEtcd {
    process: ServiceProcess,
    endpoint: String,
    dir: TempDir,
}

/// The port a [`NetnsEtcd`] serves clients on (the namespace is the test's own: nothing else
/// listens there); peers use the next one, on the namespace's loopback.
pub const NETNS_ETCD_CLIENT_PORT: u16 = 2379;

impl Etcd {
    /// Starts etcd inside `netns` (through `ip netns exec`), serving clients on `addr` (an address
    /// of that namespace) at [`NETNS_ETCD_CLIENT_PORT`]. Readiness is probed from a thread inside
    /// the namespace. Reach it from the test process with a runtime whose threads entered the
    /// namespace ([`crate::enter_netns`]) or from any namespace routed to `addr`.
    pub fn start_in(netns: &Netns, addr: Ipv4Addr) -> Result<NetnsEtcd> {
        let etcd = find_binary("etcd", "MERIDIAN_ETCD", &[PathBuf::from("/usr/bin/etcd")])?;
        let dir = temp_dir("meridian-etcd-")?;
        let log_path = dir.path().join("etcd.log");
        let data_dir = dir.path().join("data");
        let client = SocketAddr::from((addr, NETNS_ETCD_CLIENT_PORT));
        let endpoint = format!("http://{client}");
        let peer_url = format!("http://127.0.0.1:{}", NETNS_ETCD_CLIENT_PORT + 1);
        let ns_name = netns.name().to_owned();
        let (process, ()) = start_with_retries("etcd", || {
            let mut command = Command::new("ip");
            command
                .args(["netns", "exec", &ns_name])
                .arg(&etcd)
                .args(["--name", "testkit", "--data-dir"])
                .arg(&data_dir)
                .args(["--listen-client-urls", &endpoint, "--advertise-client-urls", &endpoint])
                .args([
                    "--listen-peer-urls",
                    &peer_url,
                    "--initial-advertise-peer-urls",
                    &peer_url,
                ])
                .args(["--initial-cluster", &format!("testkit={peer_url}")])
                .args([
                    "--initial-cluster-state",
                    "new",
                    "--logger",
                    "zap",
                    "--log-level",
                    "warn",
                ]);
            let process = ServiceProcess::spawn(command, &log_path)?;
            let ns_name = ns_name.clone();
            let probe = move || {
                let request = format!("GET /health HTTP/1.1\r\nHost: {client}\r\nConnection: close\r\n\r\n");
                run_in_netns(&ns_name, || {
                    tcp_exchange_contains_at(client, request.as_bytes(), "\"health\":\"true\"")
                })
                .unwrap_or(false)
            };
            Ok((process, (), Box::new(probe) as Box<dyn Fn() -> bool>))
        })?;
        Ok(NetnsEtcd { process, endpoint, dir })
    }
}

impl NetnsEtcd {
    /// The client endpoint, `http://<addr>:2379`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }
}

/// A throwaway Redis server on a free loopback port with persistence off (`--save ''`).
pub struct Redis {
    process: ServiceProcess,
    port: u16,
    dir: TempDir,
}

impl Redis {
    pub fn start() -> Result<Self> {
        let redis = find_binary(
            "redis-server",
            "MERIDIAN_REDIS",
            &[PathBuf::from("/usr/bin/redis-server")],
        )?;
        let dir = temp_dir("meridian-redis-")?;
        let log_path = dir.path().join("redis.log");
        let (process, port) = start_with_retries("redis", || {
            let port = free_loopback_port()?;
            let mut command = Command::new(&redis);
            command
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", ""])
                .args(["--appendonly", "no", "--daemonize", "no", "--dir"])
                .arg(dir.path());
            let process = ServiceProcess::spawn(command, &log_path)?;
            let probe = move || tcp_exchange_contains(port, b"PING\r\n", "+PONG");
            Ok((process, port, Box::new(probe) as Box<dyn Fn() -> bool>))
        })?;
        Ok(Self { process, port, dir })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<port>/`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }
}

/// Additions for crash tests: server settings, and a kill -9 / restart on the same data directory
/// and port (what a crashed database host coming back looks like to its clients).
impl Postgres {
    /// Like [`Postgres::start`], with `settings` (`name`, `value`) appended to `postgresql.conf`,
    /// e.g. `("max_prepared_transactions", "64")` for two-phase commit, which is 0 by default.
    /// Starts the server once with the default settings, stops it, writes the settings and starts
    /// it again on the same port.
    pub fn start_with(settings: &[(&str, &str)]) -> Result<Self> {
        let mut postgres = Self::start()?;
        postgres.signal_and_reap(nix::sys::signal::Signal::SIGTERM)?;
        let conf = postgres.dir.path().join("data/postgresql.conf");
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&conf)
            .map_err(io_err(format!("opening {}", conf.display())))?;
        for (name, value) in settings {
            writeln!(file, "{name} = '{value}'").map_err(io_err("writing postgresql.conf"))?;
        }
        drop(file);
        postgres.restart()?;
        Ok(postgres)
    }

    /// SIGKILL to the postmaster (its backends notice and exit on their own), then reaped.
    pub fn kill(&mut self) -> Result<()> {
        self.signal_and_reap(nix::sys::signal::Signal::SIGKILL)
    }

    fn signal_and_reap(&mut self, signal: nix::sys::signal::Signal) -> Result<()> {
        let pid = nix::unistd::Pid::from_raw(self.process.pid() as i32);
        let _ = nix::sys::signal::kill(pid, signal);
        let deadline = Instant::now() + SERVICE_START_TIMEOUT;
        while self.process.exited().is_none() {
            if Instant::now() > deadline {
                return Err(TestkitError::NotReady {
                    service: "postgres (stopping)",
                    timeout: SERVICE_START_TIMEOUT,
                    attempts: 1,
                    log_tail: self.process.log_tail(),
                });
            }
            std::thread::sleep(READY_POLL);
        }
        Ok(())
    }

    /// Starts the server again on the same data directory and port after [`Postgres::kill`] (crash
    /// recovery replays the WAL; prepared transactions survive). Retries while the old backends are
    /// still exiting (the server refuses to start while they hold the old shared memory).
    pub fn restart(&mut self) -> Result<()> {
        let bin_dir = postgres_bin_dir()?;
        let data_dir = self.dir.path().join("data");
        let socket_dir = self.dir.path().to_owned();
        let log_path = self.dir.path().join("postgres.log");
        let run_as = if Uid::effective().is_root() {
            User::from_name("postgres")?.map(|user| (user.uid, user.gid))
        } else {
            None
        };
        let port = self.port;
        let deadline = Instant::now() + SERVICE_START_TIMEOUT;
        loop {
            let mut postgres = Command::new(bin_dir.join("postgres"));
            postgres.arg("-D").arg(&data_dir).arg("-k").arg(&socket_dir);
            postgres.args(["-p", &port.to_string()]);
            postgres.args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"]);
            postgres.args(["-c", "max_connections=200"]);
            if let Some((uid, gid)) = run_as {
                postgres.uid(uid.as_raw()).gid(gid.as_raw());
            }
            let mut process = ServiceProcess::spawn(postgres, &log_path)?;
            let pg_isready = bin_dir.join("pg_isready");
            let probe = move || {
                Command::new(&pg_isready)
                    .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string(), "-t", "1"])
                    .status()
                    .is_ok_and(|s| s.success())
            };
            if wait_ready(&mut process, probe)? {
                self.process = process;
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(TestkitError::NotReady {
                    service: "postgres (restart)",
                    timeout: SERVICE_START_TIMEOUT,
                    attempts: 1,
                    log_tail: process.log_tail(),
                });
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Redis {
    /// Starts a Redis on a given `port`: a test that stopped one (dropped its handle) brings a new
    /// one up where its clients reconnect. One attempt: if the port is taken, this fails.
    pub fn start_on_port(port: u16) -> Result<Self> {
        let redis = find_binary(
            "redis-server",
            "MERIDIAN_REDIS",
            &[PathBuf::from("/usr/bin/redis-server")],
        )?;
        let dir = temp_dir("meridian-redis-")?;
        let log_path = dir.path().join("redis.log");
        let mut command = Command::new(&redis);
        command
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", ""])
            .args(["--appendonly", "no", "--daemonize", "no", "--dir"])
            .arg(dir.path());
        let mut process = ServiceProcess::spawn(command, &log_path)?;
        if !wait_ready(&mut process, move || tcp_exchange_contains(port, b"PING\r\n", "+PONG"))? {
            return Err(TestkitError::NotReady {
                service: "redis",
                timeout: SERVICE_START_TIMEOUT,
                attempts: 1,
                log_tail: process.log_tail(),
            });
        }
        Ok(Self { process, port, dir })
    }
}
/// Names of the Kafka-protocol broker binaries the testkit runs, in order of preference: `tansu`
/// 0.6 (what `infra/setup.sh` builds, and what the tests ran against), then its renamed successor
/// `nisshi`, assumed to take the same `broker` and `topic create` arguments (it needs rustc 1.96 to
/// build, so it has not been run here).
const KAFKA_BROKER_BINARIES: [&str; 2] = ["tansu", "nisshi"];
/// Prefix of the broker's temporary directory (its log only: the storage is in memory).
const KAFKA_DIR_PREFIX: &str = "meridian-kafka-";

/// A throwaway Kafka-protocol broker: `tansu` (or `nisshi`) with in-memory storage on a free
/// loopback port, a single node that is its own controller and group coordinator. Topics are not
/// created on first use: create them with [`Kafka::create_topic`] (or the Kafka admin API). The
/// storage is in memory, so a [`Kafka::kill`] + [`Kafka::restart`] loses every topic and record,
/// like a broker that lost its disk; tests re-create the topic after a restart.
pub struct Kafka {
    process: ServiceProcess,
    binary: PathBuf,
    port: u16,
    dir: TempDir,
}

impl Kafka {
    pub fn start() -> Result<Self> {
        let binary = kafka_broker_binary()?;
        let dir = kafka_temp_dir()?;
        let log_path = dir.path().join("broker.log");
        let (process, port) = start_with_retries("kafka broker", || {
            let port = free_loopback_port()?;
            let process = ServiceProcess::spawn(kafka_broker_command(&binary, port), &log_path)?;
            let probe = move || kafka_api_versions_answers(port);
            Ok((process, port, Box::new(probe) as Box<dyn Fn() -> bool>))
        })?;
        Ok(Self {
            process,
            binary,
            port,
            dir,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The `bootstrap.servers` value: `127.0.0.1:<port>`.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The broker binary in use (`…/tansu` or `…/nisshi`).
    pub fn binary(&self) -> &Path {
        &self.binary
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Creates `topic` with `partitions` partitions through the broker's own command line
    /// (`<broker> topic create`).
    pub fn create_topic(&self, topic: &str, partitions: u32) -> Result<()> {
        let mut command = Command::new(&self.binary);
        command
            .args(["topic", "create", topic, "--partitions", &partitions.to_string()])
            .args(["--broker", &format!("tcp://127.0.0.1:{}", self.port)]);
        run_checked(command)
    }

    /// SIGKILL to the broker, then reaped: clients see connections reset and refused.
    pub fn kill(&mut self) -> Result<()> {
        let pid = nix::unistd::Pid::from_raw(self.process.pid() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        let deadline = Instant::now() + SERVICE_START_TIMEOUT;
        while self.process.exited().is_none() {
            if Instant::now() > deadline {
                return Err(TestkitError::NotReady {
                    service: "kafka broker (stopping)",
                    timeout: SERVICE_START_TIMEOUT,
                    attempts: 1,
                    log_tail: self.process.log_tail(),
                });
            }
            std::thread::sleep(READY_POLL);
        }
        Ok(())
    }

    /// Starts the broker again on the same port after [`Kafka::kill`] (empty: the storage was in
    /// memory). Retries while the port is still held by the old process's sockets.
    pub fn restart(&mut self) -> Result<()> {
        let log_path = self.dir.path().join("broker.log");
        let port = self.port;
        let deadline = Instant::now() + SERVICE_START_TIMEOUT;
        loop {
            let mut process = ServiceProcess::spawn(kafka_broker_command(&self.binary, port), &log_path)?;
            if wait_ready(&mut process, move || kafka_api_versions_answers(port))? {
                self.process = process;
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(TestkitError::NotReady {
                    service: "kafka broker (restart)",
                    timeout: SERVICE_START_TIMEOUT,
                    attempts: 1,
                    log_tail: process.log_tail(),
                });
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

fn kafka_broker_command(binary: &Path, port: u16) -> Command {
    let url = format!("tcp://127.0.0.1:{port}");
    let mut command = Command::new(binary);
    command
        .arg("broker")
        .args(["--listener-url", &url, "--advertised-listener-url", &url])
        .args(["--storage-engine", "memory://tansu/"])
        // Unique per broker so that clients never mistake a restarted (empty) broker for the old one.
        .args(["--cluster-id", &format!("meridian-{port}-{}", std::process::id())]);
    command
}

/// Finds the broker: `$MERIDIAN_KAFKA_BROKER`, else `tansu` or `nisshi` in `$CARGO_HOME/bin` (where
/// `cargo install` puts them) or on `PATH`.
fn kafka_broker_binary() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("MERIDIAN_KAFKA_BROKER") {
        return Ok(PathBuf::from(path));
    }
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")))
        .map(|home| home.join("bin"));
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = cargo_bin.into_iter().chain(std::env::split_paths(&path_var)).collect();
    for name in KAFKA_BROKER_BINARIES {
        if let Some(found) = dirs.iter().map(|dir| dir.join(name)).find(|p| p.is_file()) {
            return Ok(found);
        }
    }
    Err(TestkitError::BinaryNotFound {
        name: "tansu or nisshi (the Kafka broker; infra/setup.sh builds it with cargo install)",
        searched: format!("$MERIDIAN_KAFKA_BROKER, $CARGO_HOME/bin, $PATH ({} dirs)", dirs.len()),
    })
}

/// Like [`temp_dir`], with leftovers of killed test processes under this prefix removed too (the
/// shared list of prefixes predates the broker).
fn kafka_temp_dir() -> Result<TempDir> {
    static CLEAN_LEFTOVERS: std::sync::Once = std::sync::Once::new();
    CLEAN_LEFTOVERS.call_once(|| {
        let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(KAFKA_DIR_PREFIX)) else {
                continue;
            };
            let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
                continue;
            };
            if !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    });
    temp_dir(KAFKA_DIR_PREFIX)
}

/// Sends a Kafka `ApiVersions` v0 request and reports whether an answer with the same correlation
/// id and no error came back: the broker is accepting Kafka requests, not just connections.
fn kafka_api_versions_answers(port: u16) -> bool {
    const API_VERSIONS: i16 = 18;
    const CORRELATION_ID: i32 = 0x4d52_4431;
    const CLIENT_ID: &[u8] = b"meridian-testkit";
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(1000)));
    // Request header v1: api_key, api_version, correlation_id, client_id (int16 length + bytes);
    // ApiVersions v0 has an empty body. The frame starts with its length.
    let mut body = Vec::with_capacity(32);
    body.extend_from_slice(&API_VERSIONS.to_be_bytes());
    body.extend_from_slice(&0i16.to_be_bytes());
    body.extend_from_slice(&CORRELATION_ID.to_be_bytes());
    body.extend_from_slice(&(CLIENT_ID.len() as i16).to_be_bytes());
    body.extend_from_slice(CLIENT_ID);
    let mut frame = (body.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    if stream.write_all(&frame).is_err() {
        return false;
    }
    // Response: length, correlation_id, error_code, …
    let mut head = [0u8; 10];
    if stream.read_exact(&mut head).is_err() {
        return false;
    }
    let correlation_id = i32::from_be_bytes([head[4], head[5], head[6], head[7]]);
    let error_code = i16::from_be_bytes([head[8], head[9]]);
    correlation_id == CORRELATION_ID && error_code == 0
}
