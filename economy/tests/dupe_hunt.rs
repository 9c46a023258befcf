//! The dupe hunt: the `meridian-economy` binary runs 32 concurrent clients over 64 characters on
//! two real Postgres shards — conflicting same-shard and cross-shard trades, mails, loots, destroys
//! and bag moves, each repeated at random with its key — while the test `kill -9`s one shard's
//! Postgres (and restarts it on the same data) and then the workload process itself. After
//! `recover`, the workload is re-run with the same seed (every key retried), and `reconcile`
//! checks the ledger exactly: no item with two owners, no item lost from a committed operation or
//! appearing from none, currency conserved, every key on exactly its participants, no in-doubt
//! transaction left.

mod support;

use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use meridian_testkit::ChildGuard;
use support::*;

const OPS: u64 = 6_000;
const SEED: u64 = 4242;

fn economy_command(urls: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_meridian-economy"));
    command.env("MERIDIAN_ECONOMY_SHARDS", urls).env("RUST_LOG", "warn");
    command
}

fn run_ok(urls: &str, args: &[&str]) -> String {
    let output = economy_command(urls).args(args).output().expect("run meridian-economy");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "meridian-economy {args:?} failed: {}\nstdout: {stdout}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Ledger rows on every shard (cross-shard keys count twice; only a progress measure).
fn ledger_rows(shards: &[meridian_testkit::Postgres]) -> i64 {
    let runtime = runtime();
    runtime.block_on(async {
        let mut total = 0;
        for shard in shards {
            let Ok((client, connection)) =
                tokio_postgres::connect(&shard.connection_string(), tokio_postgres::NoTls).await
            else {
                continue;
            };
            tokio::spawn(connection);
            if let Ok(row) = client.query_one("select count(*) from operations", &[]).await {
                total += row.get::<_, i64>(0);
            }
        }
        total
    })
}

fn wait_for_rows(shards: &[meridian_testkit::Postgres], rows: i64, timeout: Duration) -> i64 {
    let deadline = Instant::now() + timeout;
    loop {
        let now = ledger_rows(shards);
        if now >= rows || Instant::now() > deadline {
            return now;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn dupe_hunt_survives_kill_9_of_a_shard_and_of_the_workload() {
    let mut shards = start_shards(2);
    let urls = shards
        .iter()
        .map(|s| s.connection_string())
        .collect::<Vec<_>>()
        .join(",");
    run_ok(&urls, &["migrate"]);
    run_ok(&urls, &["seed", "--characters", "64", "--items", "6", "--gold", "1000"]);
    let seeded = ledger_rows(&shards);
    assert_eq!(seeded, 64);

    let ops = OPS.to_string();
    let seed = SEED.to_string();
    let workload_args = [
        "workload",
        "--seed",
        &seed,
        "--ops",
        &ops,
        "--clients",
        "32",
        "--characters",
        "64",
    ];
    let mut workload = ChildGuard(
        economy_command(&urls)
            .args(workload_args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn workload"),
    );
    let rows = wait_for_rows(&shards, seeded + 800, Duration::from_secs(60));
    assert!(rows >= seeded + 800, "the workload makes progress ({rows} rows)");
    // A shard dies mid-run (kill -9 of its postmaster) and comes back on the same data.
    shards[1].kill().expect("kill -9 shard 1");
    std::thread::sleep(Duration::from_millis(1500));
    shards[1].restart().expect("restart shard 1");
    let before_kill = wait_for_rows(&shards, rows + 1500, Duration::from_secs(90));
    assert!(
        before_kill >= rows + 1500,
        "progress after the shard came back ({before_kill} rows)"
    );
    assert!(
        workload.0.try_wait().expect("wait").is_none(),
        "killed mid-run, not after it ended"
    );
    // kill -9 of the workload: coordinators die wherever they were, some between PREPARE and COMMIT.
    workload.0.kill().expect("kill -9 workload");
    workload.0.wait().expect("reap");

    let recovered = run_ok(&urls, &["recover"]);
    assert!(recovered.contains("unresolved=0"), "{recovered}");
    // The same seed again: every key retried; the committed ones replay.
    let rerun = run_ok(&urls, &workload_args);
    eprintln!("{rerun}");
    assert!(rerun.contains("repeat_mismatches=0"), "{rerun}");
    assert!(rerun.contains("gave_up=0"), "{rerun}");
    let field = |name: &str| -> u64 {
        let start = rerun.find(&format!("{name}=")).expect(name) + name.len() + 1;
        rerun[start..]
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!(
        field("replayed") > 500,
        "the re-run found the first run's keys applied: {rerun}"
    );
    let settled = field("applied") + field("replayed");
    assert!(settled + 1 > 0 && settled <= OPS);

    let reconcile = economy_command(&urls).arg("reconcile").output().expect("reconcile");
    let stdout = String::from_utf8_lossy(&reconcile.stdout);
    eprintln!("{stdout}");
    assert!(reconcile.status.success(), "invariants broken:\n{stdout}");
    assert!(
        stdout.contains("violations=0") && stdout.contains("prepared=0"),
        "{stdout}"
    );
}
