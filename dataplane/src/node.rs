//! A running node: its zone workers, their sockets and the queues between them.
#![forbid(unsafe_code)]

use std::{
    io::Read,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
};

use anyhow::Context;
use meridian_proto::{
    endpoint::{SERVER_CONNECTIONS_MAX, ServerConfig},
    token::CLUSTER_KEY_BYTES,
};
use meridian_zone::ZoneConfig;

use crate::{
    dgram_io::{DatagramIoConfig, IoBackend, bind_reuseport},
    worker::{FORWARD_QUEUE_DATAGRAMS, Forwarded, WorkerClock, WorkerGauges, WorkerSettings, ZonePlan, ZoneWorker},
};

/// Workers per node at most (worker indices travel as `u16`).
pub const WORKERS_MAX: usize = 256;
/// Receive buffer asked for per worker socket. Clients can tick in phase (a bot swarm, or players
/// whose queued inputs all land after a network hiccup), and then a worker gets a tick's inputs as
/// one burst: at the kernel default (~208 KiB, a few hundred datagrams) a burst from 500 bots
/// overflowed it and the kernel dropped inputs (`RcvbufErrors`) before the worker saw them. Linux
/// caps the request at `net.core.rmem_max` (Debian's default is 208 KiB): a capped buffer is logged
/// as a warning, so an operator sees that `sysctl net.core.rmem_max` must be raised.
pub const SOCKET_RECV_BUFFER_BYTES: usize = 4 * 1024 * 1024;

#[derive(Clone)]
pub struct NodeConfig {
    /// The game address: every worker binds it (`SO_REUSEPORT`); tokens must name it.
    pub listen: SocketAddr,
    pub workers: usize,
    pub backend: IoBackend,
    pub cluster_key: [u8; CLUSTER_KEY_BYTES],
    /// Zones this node hosts; zone z runs on worker z mod workers.
    pub zones: Vec<u32>,
    /// Settings of every zone (its `zone_id` is replaced per zone).
    pub zone_config: ZoneConfig,
}

pub struct Node {
    stop: Arc<AtomicBool>,
    handles: Vec<JoinHandle<anyhow::Result<()>>>,
    gauges: Vec<Arc<WorkerGauges>>,
}

impl Node {
    /// Binds the sockets and starts the workers. Metrics go to whatever recorder is installed.
    pub fn start(config: NodeConfig) -> anyhow::Result<Node> {
        anyhow::ensure!(
            (1..=WORKERS_MAX).contains(&config.workers),
            "workers must be 1..={WORKERS_MAX}"
        );
        let zone_config = config.zone_config.clone();
        zone_config.validate().context("zone configuration")?;
        let mut challenge_key = [0u8; 16];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut challenge_key))
            .context("reading /dev/urandom")?;
        let settings = WorkerSettings {
            backend: config.backend,
            io: DatagramIoConfig::default(),
            server: ServerConfig {
                cluster_key: config.cluster_key,
                challenge_key,
                public_address: config.listen,
                connections_max: SERVER_CONNECTIONS_MAX,
            },
            plan: ZonePlan {
                zone_ids: config.zones.clone(),
                workers: config.workers,
            },
            zone_config,
        };
        // Bind every socket before any worker starts, so a bind failure stops start-up cleanly.
        let sockets = (0..config.workers)
            .map(|_| bind_reuseport(config.listen).with_context(|| format!("binding {}", config.listen)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        for socket in &sockets {
            let socket = socket2::SockRef::from(socket);
            socket
                .set_recv_buffer_size(SOCKET_RECV_BUFFER_BYTES)
                .context("setting SO_RCVBUF")?;
            let obtained = socket.recv_buffer_size().context("reading SO_RCVBUF")?;
            // Linux doubles the size it grants (room for its own bookkeeping) and reports that.
            if obtained < 2 * SOCKET_RECV_BUFFER_BYTES {
                tracing::warn!(
                    asked = SOCKET_RECV_BUFFER_BYTES,
                    obtained,
                    "socket receive buffer capped by net.core.rmem_max; raise it to absorb input bursts"
                );
            } else {
                tracing::debug!(obtained, "socket receive buffer");
            }
        }
        let (senders, receivers): (Vec<_>, Vec<_>) = (0..config.workers)
            .map(|_| std::sync::mpsc::sync_channel::<Forwarded>(FORWARD_QUEUE_DATAGRAMS))
            .unzip();
        let stop = Arc::new(AtomicBool::new(false));
        let clock = WorkerClock::new();
        let mut handles = Vec::new();
        let mut gauges = Vec::new();
        for ((index, socket), inbox) in sockets.into_iter().enumerate().zip(receivers) {
            let (stop, settings, peers) = (Arc::clone(&stop), settings.clone(), senders.clone());
            let worker_gauges = Arc::new(WorkerGauges::default());
            gauges.push(Arc::clone(&worker_gauges));
            handles.push(std::thread::Builder::new().name(format!("zone-worker-{index}")).spawn(
                move || -> anyhow::Result<()> {
                    let mut worker = ZoneWorker::new(index, socket, &settings, clock, inbox, peers, worker_gauges)?;
                    worker.run(&stop)
                },
            )?);
        }
        Ok(Node { stop, handles, gauges })
    }

    /// False once any worker has ended (an error or a panic; `stop` reports which).
    pub fn running(&self) -> bool {
        !self.handles.iter().any(|h| h.is_finished())
    }

    pub fn gauges(&self) -> Vec<Arc<WorkerGauges>> {
        self.gauges.clone()
    }

    /// Stops every worker and returns the first error one of them hit.
    pub fn stop(self) -> anyhow::Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        let mut result = Ok(());
        for handle in self.handles {
            let outcome = handle
                .join()
                .map_err(|_| anyhow::anyhow!("worker panicked"))
                .and_then(|r| r);
            if result.is_ok() {
                result = outcome;
            }
        }
        result
    }
}
