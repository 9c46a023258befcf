//! The test harness starts real services and tears them down, also when a test panics.

use std::{
    net::{Ipv4Addr, SocketAddr, TcpStream},
    path::PathBuf,
    sync::Mutex,
    time::Duration,
};

use meridian_testkit::{Etcd, Postgres, Redis};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

#[test]
fn postgres_answers_select_1() {
    let pg = Postgres::start().expect("start postgres");
    runtime().block_on(async {
        let (client, connection) = tokio_postgres::connect(&pg.connection_string(), tokio_postgres::NoTls)
            .await
            .expect("connect to postgres");
        let connection = tokio::spawn(connection);
        let row = client.query_one("select 1::int4", &[]).await.expect("select 1");
        assert_eq!(row.get::<_, i32>(0), 1);
        // A second statement proves it is a real server with state, not a canned answer.
        client
            .batch_execute("create table t (v int4 not null); insert into t values (41), (1)")
            .await
            .unwrap();
        let sum: i64 = client.query_one("select sum(v) from t", &[]).await.unwrap().get(0);
        assert_eq!(sum, 42);
        drop(client);
        connection.await.unwrap().unwrap();
    });
}

#[test]
fn etcd_put_then_get_returns_the_value() {
    let etcd = Etcd::start().expect("start etcd");
    runtime().block_on(async {
        let mut client = etcd_client::Client::connect([etcd.endpoint()], None)
            .await
            .expect("connect etcd");
        client.put("meridian/test/key", "value-1", None).await.expect("put");
        let response = client.get("meridian/test/key", None).await.expect("get");
        let kv = response.kvs().first().expect("key present");
        assert_eq!(kv.value_str().unwrap(), "value-1");
        assert!(
            client
                .get("meridian/test/missing", None)
                .await
                .unwrap()
                .kvs()
                .is_empty()
        );
    });
}

#[test]
fn redis_set_then_get_returns_the_value() {
    let redis_server = Redis::start().expect("start redis");
    runtime().block_on(async {
        let client = redis::Client::open(redis_server.url()).expect("redis url");
        let mut conn = client.get_multiplexed_async_connection().await.expect("connect redis");
        let () = redis::cmd("SET")
            .arg("meridian:test")
            .arg("v1")
            .query_async(&mut conn)
            .await
            .unwrap();
        let value: String = redis::cmd("GET")
            .arg("meridian:test")
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(value, "v1");
        let missing: Option<String> = redis::cmd("GET").arg("nope").query_async(&mut conn).await.unwrap();
        assert_eq!(missing, None);
    });
}

#[test]
fn two_instances_of_each_service_run_side_by_side() {
    let (pg_a, pg_b) = (Postgres::start().unwrap(), Postgres::start().unwrap());
    let (redis_a, redis_b) = (Redis::start().unwrap(), Redis::start().unwrap());
    assert_ne!(pg_a.port(), pg_b.port());
    assert_ne!(redis_a.port(), redis_b.port());
    assert_ne!(pg_a.data_dir(), pg_b.data_dir());
}

/// What a test learned about its services before it panicked.
struct Started {
    pids: Vec<u32>,
    ports: Vec<u16>,
    dirs: Vec<PathBuf>,
}

fn process_exists(pid: u32) -> bool {
    // The handle reaps its child, so an exited service leaves no zombie behind either.
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

fn port_accepts(port: u16) -> bool {
    TcpStream::connect_timeout(
        &SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        Duration::from_millis(300),
    )
    .is_ok()
}

#[test]
fn a_panicking_test_still_tears_its_services_down() {
    let started = Mutex::new(None);
    let outcome = std::panic::catch_unwind(|| {
        let pg = Postgres::start().unwrap();
        let etcd = Etcd::start().unwrap();
        let redis = Redis::start().unwrap();
        *started.lock().unwrap() = Some(Started {
            pids: vec![pg.pid(), etcd.pid(), redis.pid()],
            ports: vec![pg.port(), etcd.client_port(), redis.port()],
            dirs: vec![
                pg.data_dir().to_owned(),
                etcd.data_dir().to_owned(),
                redis.data_dir().to_owned(),
            ],
        });
        for (pid, port) in [
            (pg.pid(), pg.port()),
            (etcd.pid(), etcd.client_port()),
            (redis.pid(), redis.port()),
        ] {
            assert!(process_exists(pid), "service {pid} should be running inside the test");
            assert!(
                port_accepts(port),
                "port {port} should accept connections inside the test"
            );
        }
        panic!("deliberate panic with three services running");
    });
    assert!(outcome.is_err(), "the closure must have panicked");
    let started = started
        .into_inner()
        .unwrap()
        .expect("services were started before the panic");
    for pid in &started.pids {
        assert!(!process_exists(*pid), "service process {pid} survived the panic");
    }
    for port in &started.ports {
        assert!(
            !port_accepts(*port),
            "port {port} still accepts connections after the panic"
        );
    }
    for dir in &started.dirs {
        assert!(!dir.exists(), "temp dir {} survived the panic", dir.display());
    }
}

#[test]
fn data_dirs_of_killed_runs_are_removed_and_live_ones_kept() {
    let parent = tempfile_parent();
    // pid 4194305 is above the kernel's maximum pid, so the "process" that made this is gone.
    let stale = parent.join("meridian-redis-4194305-abcdef");
    std::fs::create_dir_all(stale.join("data")).unwrap();
    let live = parent.join(format!("meridian-redis-{}-live", std::process::id()));
    std::fs::create_dir_all(&live).unwrap();
    let unrelated = parent.join("meridian-other-4194305-x");
    std::fs::create_dir_all(&unrelated).unwrap();
    let removed = meridian_testkit::remove_leftover_dirs(&parent).unwrap();
    assert_eq!(removed, vec![stale.clone()]);
    assert!(!stale.exists());
    assert!(live.exists(), "a directory of a running process was removed");
    assert!(unrelated.exists(), "only service directories are touched");
    std::fs::remove_dir_all(&parent).unwrap();
}

/// A private parent directory, so the test never races real service directories.
fn tempfile_parent() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("meridian-testkit-cleanup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
