//! `dev-services`: the local cluster's services for `make run` — throwaway PostgreSQL (the login
//! API's), etcd, two PostgreSQL economy shards (with prepared transactions for cross-shard trades)
//! Redis and a Kafka-protocol broker (tansu) on free loopback ports, started exactly as the tests start them. Prints one line of
//! JSON with their addresses (`{"etcd": "...", "postgres": "...", "economy": ["...", "..."],
//! "redis": "...", "kafka": "..."}`; `kafka` empty when no broker is installed) and keeps them running until it is stopped (SIGTERM, SIGINT, or its standard
//! input closing); they stop and their data is deleted with it.

use std::io::{BufRead, Write};

use meridian_testkit::{Etcd, Kafka, Postgres, Redis};

fn main() {
    let postgres = match Postgres::start() {
        Ok(postgres) => postgres,
        Err(error) => {
            eprintln!("dev-services: PostgreSQL did not start: {error}");
            std::process::exit(1);
        }
    };
    let etcd = match Etcd::start() {
        Ok(etcd) => etcd,
        Err(error) => {
            eprintln!("dev-services: etcd did not start: {error}");
            std::process::exit(1);
        }
    };
    let shards: Vec<Postgres> = (0..2)
        .map(|shard| {
            Postgres::start_with(&[("max_prepared_transactions", "64")]).unwrap_or_else(|error| {
                eprintln!("dev-services: economy shard {shard} did not start: {error}");
                std::process::exit(1);
            })
        })
        .collect();
    let redis = match Redis::start() {
        Ok(redis) => redis,
        Err(error) => {
            eprintln!("dev-services: Redis did not start: {error}");
            std::process::exit(1);
        }
    };
    // The event log's broker is optional locally (it is a long build): without it the node runs
    // without `--kafka`.
    let kafka = match Kafka::start() {
        Ok(kafka) => Some(kafka),
        Err(error) => {
            eprintln!("dev-services: no Kafka broker ({error}); the event log is off");
            None
        }
    };
    let economy: Vec<String> = shards
        .iter()
        .map(|shard| format!("\"{}\"", shard.connection_string()))
        .collect();
    println!(
        "{{\"etcd\":\"{}\",\"postgres\":\"{}\",\"economy\":[{}],\"redis\":\"{}\",\"kafka\":\"{}\"}}",
        etcd.endpoint(),
        postgres.connection_string(),
        economy.join(","),
        redis.url(),
        kafka.as_ref().map(Kafka::bootstrap).unwrap_or_default()
    );
    let _ = std::io::stdout().flush();
    // Runs until stdin closes (the script that started it ends) or a signal ends the process; the
    // services go with it (dropped here, or through PR_SET_PDEATHSIG when killed).
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        if line.is_err() {
            break;
        }
    }
    drop(kafka);
    drop(redis);
    drop(shards);
    drop(etcd);
    drop(postgres);
}
