//! `dev-services`: the local cluster's services for `make run` — a throwaway PostgreSQL and etcd on
//! free loopback ports, started exactly as the tests start them. Prints one line of JSON with their
//! addresses (`{"etcd": "...", "postgres": "..."}`) and keeps them running until it is stopped
//! (SIGTERM, SIGINT, or its standard input closing); they stop and their data is deleted with it.

use std::io::{BufRead, Write};

use meridian_testkit::{Etcd, Postgres};

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
    println!(
        "{{\"etcd\":\"{}\",\"postgres\":\"{}\"}}",
        etcd.endpoint(),
        postgres.connection_string()
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
    drop(etcd);
    drop(postgres);
}
