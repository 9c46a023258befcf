//! The health agent's loop: every interval it probes the local node, reads its metrics, looks for
//! the drain marker, feeds the [`HealthMachine`] and makes BIRD follow its decision. BIRD is told
//! again on every check until it acknowledges (an agent started before BIRD, or a BIRD restarted
//! meanwhile, converges on the next check).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::bird::BirdControl;
use crate::check::{probe_once, scrape, tick_buckets, tick_p99_ms};
use crate::health::{Announcement, HealthMachine, HealthPolicy, Observation};

#[derive(Clone, Debug)]
pub struct AgentConfig {
    /// The node's game address (its liveness probe is answered there).
    pub node: SocketAddr,
    /// The node's metrics address (`host:port`).
    pub metrics: SocketAddr,
    /// BIRD's control socket.
    pub bird_socket: PathBuf,
    /// The BIRD protocol that originates the VIP routes (a `protocol static`).
    pub vip_protocol: String,
    /// Present = draining (the `drain` command creates it).
    pub drain_file: PathBuf,
    pub interval_ms: u64,
    pub policy: HealthPolicy,
}

/// What BIRD was last told and acknowledged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Told {
    Nothing,
    Enabled,
    Disabled,
}

/// Runs until `stop`; on stop the VIPs are left as they are (a restarted agent starts withdrawn and
/// re-announces once the node proves healthy; a stopped agent under systemd is restarted).
pub fn run(config: &AgentConfig, stop: &AtomicBool) {
    let mut machine = HealthMachine::new(config.policy);
    let started = Instant::now();
    let interval = Duration::from_millis(config.interval_ms);
    let probe_timeout = interval.mul_f64(0.75);
    let mut told = Told::Nothing;
    let mut last_buckets = None;
    let mut nonce = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let check_started = Instant::now();
        nonce += 1;
        let probe_answered = probe_once(config.node, nonce, probe_timeout);
        let tick_p99 = match scrape(config.metrics, probe_timeout) {
            Ok(text) => {
                let buckets = tick_buckets(&text);
                let p99 = last_buckets.as_ref().and_then(|before| tick_p99_ms(before, &buckets));
                last_buckets = Some(buckets);
                p99
            }
            Err(_) => None,
        };
        let observation = Observation {
            now_ms: started.elapsed().as_millis() as u64,
            probe_answered,
            tick_p99_ms: tick_p99,
            draining: config.drain_file.exists(),
        };
        if let Some(change) = machine.observe(observation) {
            match change {
                Announcement::Announced => {
                    tracing::info!(vip_protocol = %config.vip_protocol, "node healthy: announcing the VIPs")
                }
                Announcement::Withdrawn(reason) => tracing::warn!(
                    vip_protocol = %config.vip_protocol,
                    reason = reason.label(),
                    probe_answered,
                    ?tick_p99,
                    "withdrawing the VIPs"
                ),
            }
        }
        let want = match machine.state() {
            Announcement::Announced => Told::Enabled,
            Announcement::Withdrawn(_) => Told::Disabled,
        };
        if want != told {
            match tell_bird(config, want) {
                Ok(()) => told = want,
                Err(error) => tracing::error!(%error, "BIRD did not take the change; retrying next check"),
            }
        }
        if let Some(rest) = interval.checked_sub(check_started.elapsed()) {
            std::thread::sleep(rest);
        }
    }
}

fn tell_bird(config: &AgentConfig, want: Told) -> Result<(), crate::bird::BirdError> {
    let mut bird = BirdControl::connect(&config.bird_socket)?;
    let reply = match want {
        Told::Enabled => bird.enable(&config.vip_protocol)?,
        Told::Disabled | Told::Nothing => bird.disable(&config.vip_protocol)?,
    };
    tracing::info!(reply = ?reply.lines, "BIRD");
    Ok(())
}
