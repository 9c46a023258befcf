//! The login figure (`perf/RESULTS.md`): argon2id hash cost alone, logins per second on one core
//! with the production cost, and p99 login latency at that rate. Ignored by default; run once with
//! `cargo test --release -p meridian-control --test auth_login_figure -- --ignored --nocapture`.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use meridian_control::auth::{
    Argon2Cost, AuthConfig, AuthLimits, StaticZoneDirectory, bind, hash_password, verify_password,
};
use meridian_testkit::Postgres;
use nix::{
    sched::{CpuSet, sched_setaffinity},
    unistd::Pid,
};
use serde_json::json;

const HASHES: u32 = 30;
const LOGIN_RUN: Duration = Duration::from_secs(6);
/// Clients logging in at once: two keep the one hashing slot always busy (one waits while the
/// other hashes), so the rate is the server's ceiling and the latency includes that queueing.
const CLIENTS: usize = 2;

#[test]
#[ignore = "figure: run once in release with --ignored --nocapture"]
fn login_figure_on_one_core() {
    let pg = Postgres::start().expect("start postgres");
    // Everything from here (server, hashing thread, client) shares core 0; Postgres, started
    // above, is not pinned.
    let mut one_core = CpuSet::new();
    one_core.set(0).unwrap();
    sched_setaffinity(Pid::from_raw(0), &one_core).expect("pin to core 0");

    let cost = Argon2Cost::PRODUCTION;
    let phc = hash_password(cost, "correct horse battery").unwrap();
    let started = Instant::now();
    for _ in 0..HASHES {
        assert!(verify_password("correct horse battery", &phc));
    }
    let hash_ms = started.elapsed().as_secs_f64() * 1000.0 / f64::from(HASHES);
    println!(
        "argon2id m={} KiB t={} p={}: {hash_ms:.1} ms per verify, {:.0} hashes/s on one core",
        cost.memory_kib,
        cost.iterations,
        cost.parallelism,
        1000.0 / hash_ms
    );

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(1)
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut config = AuthConfig::new(
            "127.0.0.1:0".parse().unwrap(),
            pg.connection_string(),
            [7; 32],
            b"figure jwt secret of at least thirty-two bytes".to_vec(),
        );
        config.argon2 = cost;
        config.limits = AuthLimits {
            ip_burst: 1_000_000,
            ip_refill_ms: 1,
            hash_concurrency: 1,
            ..AuthLimits::default()
        };
        let directory = Arc::new(StaticZoneDirectory::new("127.0.0.1:40000".parse().unwrap()));
        let server = bind(config, directory).await.expect("bind");
        let _ = rustls::crypto::ring::default_provider().install_default();
        let certificate = reqwest::Certificate::from_pem(server.certificate_pem().unwrap().as_bytes()).unwrap();
        let client = reqwest::Client::builder().tls_certs_only([certificate]).build().unwrap();
        let base = format!("https://localhost:{}", server.local_addr().port());
        tokio::spawn(server.run(std::future::pending()));

        for i in 0..CLIENTS {
            let response = client
                .post(format!("{base}/auth/register"))
                .json(&json!({"name": format!("bench_{i}"), "password": "correct horse battery"}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 201);
        }
        let deadline = Instant::now() + LOGIN_RUN;
        let mut tasks = Vec::new();
        for i in 0..CLIENTS {
            let client = client.clone();
            let url = format!("{base}/auth/login");
            tasks.push(tokio::spawn(async move {
                let mut latencies_us = Vec::new();
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    let response = client
                        .post(&url)
                        .json(&json!({"name": format!("bench_{i}"), "password": "correct horse battery"}))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(response.status(), 200);
                    response.bytes().await.unwrap();
                    latencies_us.push(sent.elapsed().as_micros() as u64);
                }
                latencies_us
            }));
        }
        let run_started = Instant::now();
        let mut latencies_us = Vec::new();
        for task in tasks {
            latencies_us.extend(task.await.unwrap());
        }
        let elapsed_s = run_started.elapsed().as_secs_f64();
        latencies_us.sort_unstable();
        let percentile = |p: f64| latencies_us[((latencies_us.len() as f64 * p) as usize).min(latencies_us.len() - 1)];
        println!(
            "logins over HTTPS, {CLIENTS} clients, one hashing slot, one core: {} in {elapsed_s:.1} s = {:.1} logins/s; \
             latency p50 {:.1} ms, p99 {:.1} ms",
            latencies_us.len(),
            latencies_us.len() as f64 / elapsed_s,
            percentile(0.50) as f64 / 1000.0,
            percentile(0.99) as f64 / 1000.0,
        );
        assert!(latencies_us.len() > 10, "the run made too few logins to measure");

        // The hash cost again, on the blocking thread the server hashes on, right after the run
        // (the machine is shared: the figure before the run may have met other load).
        let phc_again = phc.clone();
        let (hash_ms, cpus) = tokio::task::spawn_blocking(move || {
            let cpus = nix::sched::sched_getaffinity(Pid::from_raw(0)).map_or(0, |set| {
                (0..CpuSet::count()).filter(|cpu| set.is_set(*cpu).unwrap_or(false)).count()
            });
            let started = Instant::now();
            for _ in 0..HASHES {
                assert!(verify_password("correct horse battery", &phc_again));
            }
            (started.elapsed().as_secs_f64() * 1000.0 / f64::from(HASHES), cpus)
        })
        .await
        .unwrap();
        println!("after the run, on the hashing thread (allowed CPUs: {cpus}): {hash_ms:.1} ms per verify");
    });
}
