//! Loads the kernel-side edge (`ebpf/meridian-edge-ebpf`, built by this crate's build script and
//! embedded here) and drives it from user space:
//!
//! * [`Edge`]: the validating, rate-limiting XDP program `edge` and the `sk_reuseport` program
//!   `steer`, their configuration, the session map ([`EdgeSessions`]) and the decision counters
//!   ([`EdgeCounts`]); with this node's underlay address configured
//!   ([`EdgeConfig::with_underlay`]) the edge also forwards the packets of sessions another node
//!   behind the same VIP owns ([`EdgeSessions::forward`], IP-in-IP in XDP) and decapsulates what
//!   other nodes forward here (direct server return: see infra/README.md);
//! * [`PacketCounterProgram`]: the pipeline's first program, counting UDP datagrams to one port.
//!
//! Lifetimes, on purpose without pinning (nothing outlives the process that loaded it):
//! * XDP is attached through a BPF link owned by this process (aya's `Xdp::attach` makes a link fd
//!   when the kernel has them, as this one does). Dropping the [`Edge`] (or
//!   [`Edge::detach_xdp`]) detaches it; when the process dies, even by `kill -9`, the kernel closes
//!   the fd and the program detaches with it. A restarted node attaches afresh.
//! * `steer` is attached to the `SO_REUSEPORT` group by a socket option; the group, not a link,
//!   holds it. [`Edge`] keeps a duplicate of the socket it attached through and detaches on drop;
//!   if the process dies, its sockets close, and the group and the program go with them.
//!
//! XDP attaches to an interface of the caller's network namespace: call [`Edge::attach_xdp`] on a
//! thread inside the namespace that holds the interface.
#![forbid(unsafe_code)]

mod counter;

use std::{
    net::Ipv4Addr,
    os::fd::{AsFd, OwnedFd},
    time::Duration,
};

pub use aya::programs::XdpMode;
use aya::{
    Ebpf,
    maps::{Array, HashMap, IterableMap, Map, MapData, MapError, PerCpuArray, ReusePortSockArray},
    programs::{ProgramError, SkReuseport, TestRun, TestRunOptions, Xdp, xdp::XdpLinkId},
};
pub use counter::{PacketCounterProgram, PacketCounts};
use meridian_edge_common::{
    EDGE_CONFIG_MAP, EDGE_COUNTERS_MAP, EDGE_PROGRAM, EDGE_SESSIONS_MAP, STEER_PROGRAM, STEER_SOCKETS_MAP,
    STEER_WORKERS_MAX, SessionKey, SessionValue,
};
pub use meridian_edge_common::{EDGE_COUNTER_SLOTS, EdgeConfig, EdgeCounter, ForwardTarget, RateLimit, SessionEntry};

/// The eBPF object, aligned as aya's ELF parser requires.
static EDGE_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/meridian-edge"));

/// Why loading, attaching or reading the edge failed.
#[derive(Debug, thiserror::Error)]
pub enum EdgeError {
    #[error("loading the eBPF object failed: {0}")]
    Load(#[from] aya::EbpfError),
    #[error("eBPF program operation failed: {0}")]
    Program(#[from] ProgramError),
    #[error("eBPF map operation failed: {0}")]
    Map(#[from] MapError),
    #[error("the eBPF object has no {kind} named {name}")]
    Missing { kind: &'static str, name: &'static str },
    #[error("steering needs 1 to {max} worker sockets, got {got}")]
    WorkerCount { got: usize, max: u32 },
    #[error("duplicating a socket or map descriptor failed: {0}")]
    Socket(#[source] std::io::Error),
    #[error("cannot forward to {0}: the owner must be a unicast IPv4 address (0.0.0.0 means this node)")]
    ForwardOwner(Ipv4Addr),
}

/// What the XDP program returned (`enum xdp_action`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XdpAction {
    Aborted,
    Drop,
    Pass,
    Tx,
    Redirect,
    Other(u32),
}

impl XdpAction {
    fn from_u32(value: u32) -> XdpAction {
        match value {
            0 => XdpAction::Aborted,
            1 => XdpAction::Drop,
            2 => XdpAction::Pass,
            3 => XdpAction::Tx,
            4 => XdpAction::Redirect,
            other => XdpAction::Other(other),
        }
    }
}

/// The result of running `edge` on one frame with `BPF_PROG_TEST_RUN`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TestRunOutcome {
    pub action: XdpAction,
    /// The kernel's measured time per run (it divides the total by the repeat count).
    pub per_run: Duration,
}

/// The edge's decision counters, summed over CPUs, one per [`EdgeCounter`] slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EdgeCounts {
    counts: [u64; EDGE_COUNTER_SLOTS as usize],
}

impl EdgeCounts {
    pub fn get(&self, counter: EdgeCounter) -> u64 {
        self.counts[counter as usize]
    }

    /// Every slot with its stable label (`pass_*`, `drop_*`, `steer_*`), in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (EdgeCounter, u64)> + '_ {
        EdgeCounter::ALL.iter().map(|&counter| (counter, self.get(counter)))
    }

    /// Counts since `earlier` (counters only grow; saturating in case the maps were reloaded).
    pub fn since(&self, earlier: &EdgeCounts) -> EdgeCounts {
        let mut counts = self.counts;
        for (now, before) in counts.iter_mut().zip(earlier.counts) {
            *now = now.saturating_sub(before);
        }
        EdgeCounts { counts }
    }

    /// Sum of the XDP program's decisions (every `pass_*`, `drop_*` and `tx_*` slot): frames seen.
    pub fn frames(&self) -> u64 {
        self.iter()
            .filter(|(counter, _)| {
                counter.label().starts_with("pass_") || counter.label().starts_with("tx_") || counter.is_drop()
            })
            .map(|(_, count)| count)
            .sum()
    }
}

/// The session map: session id → edge key, worker, zone, route revision, newest sequence, and
/// the node that owns the session if it is not this one. The node writes a session when it assigns
/// the id (before the client's Response arrives, or the Response is dropped as `unknown_session`),
/// rewrites it on a re-route, flips it to forwarding when another node behind the same address
/// takes the session over ([`EdgeSessions::forward`]), removes it on close.
pub struct EdgeSessions {
    map: HashMap<MapData, SessionKey, SessionValue>,
}

impl EdgeSessions {
    /// Another handle on the same kernel map (a duplicated fd), so each worker thread can keep
    /// the map in step with its own sessions without a lock; map updates are atomic per entry.
    pub fn try_clone(&self) -> Result<EdgeSessions, EdgeError> {
        let fd = self
            .map
            .map()
            .fd()
            .as_fd()
            .try_clone_to_owned()
            .map_err(EdgeError::Socket)?;
        let map = Map::from_map_data(MapData::from_fd(fd)?)?;
        Ok(EdgeSessions {
            map: HashMap::try_from(map)?,
        })
    }

    /// Inserts or replaces `session_id`'s entry, as a session this node owns (not forwarded).
    pub fn insert(&mut self, session_id: u64, entry: SessionEntry) -> Result<(), EdgeError> {
        self.insert_value(
            session_id,
            SessionValue {
                entry,
                forward: ForwardTarget::LOCAL,
            },
        )
    }

    fn insert_value(&mut self, session_id: u64, value: SessionValue) -> Result<(), EdgeError> {
        self.map.insert(SessionKey { session_id }, value, 0)?;
        Ok(())
    }

    /// Removes `session_id`; returns whether it was there.
    pub fn remove(&mut self, session_id: u64) -> Result<bool, EdgeError> {
        let key = SessionKey { session_id };
        match self.map.get(&key, 0) {
            Ok(_) => {
                self.map.remove(&key)?;
                Ok(true)
            }
            Err(MapError::KeyNotFound) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    /// The current entry of `session_id` (with the kernel's `sequence_seen`).
    pub fn get(&self, session_id: u64) -> Result<Option<SessionEntry>, EdgeError> {
        Ok(self.get_value(session_id)?.map(|value| value.entry))
    }

    /// Where `session_id`'s packets go: `Some(None)` = this node, `Some(Some(owner))` = forwarded
    /// to `owner`, `None` = not in the map.
    pub fn forward_target(&self, session_id: u64) -> Result<Option<Option<Ipv4Addr>>, EdgeError> {
        Ok(self.get_value(session_id)?.map(|value| {
            if value.forward.is_local() {
                None
            } else {
                Some(Ipv4Addr::from(value.forward.owner_ipv4))
            }
        }))
    }

    fn get_value(&self, session_id: u64) -> Result<Option<SessionValue>, EdgeError> {
        match self.map.get(&SessionKey { session_id }, 0) {
            Ok(value) => Ok(Some(value)),
            Err(MapError::KeyNotFound) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    /// Hands `session_id` to another node behind the same address: from now on the XDP edge checks
    /// its sealed packets as before (this node keeps the edge key and the replay window it had as
    /// the owner) and forwards them IP-in-IP to `owner` (that node's underlay address) instead of
    /// passing them up; the owner answers the client from the VIP itself. Needs the underlay
    /// address in [`EdgeConfig::underlay_ipv4`], or the packets pass up (`pass_forward_failed`).
    /// Returns false if the session is not in the map. [`EdgeSessions::reroute`] (to a worker of
    /// this node) or [`EdgeSessions::insert`] makes it local again.
    pub fn forward(&mut self, session_id: u64, owner: Ipv4Addr) -> Result<bool, EdgeError> {
        if owner.is_unspecified() || owner.is_broadcast() || owner.is_multicast() {
            return Err(EdgeError::ForwardOwner(owner));
        }
        let Some(value) = self.get_value(session_id)? else {
            return Ok(false);
        };
        self.insert_value(
            session_id,
            SessionValue {
                forward: ForwardTarget::to(owner.octets()),
                ..value
            },
        )?;
        Ok(true)
    }

    /// Re-routes a session (handoff) to a worker of this node: new worker, zone and route
    /// revision, keeping its edge key and the kernel's `sequence_seen`; a session that was
    /// forwarded to another node is local again. Returns false if the session is not in the map.
    /// (A packet passing between the read and the write may have its sequence forgotten:
    /// harmless, the window only widens.)
    pub fn reroute(&mut self, session_id: u64, worker: u32, zone: u32, route_revision: u64) -> Result<bool, EdgeError> {
        let Some(value) = self.get_value(session_id)? else {
            return Ok(false);
        };
        self.insert(
            session_id,
            SessionEntry {
                worker,
                zone,
                route_revision,
                ..value.entry
            },
        )?;
        Ok(true)
    }
}

/// The loaded edge: both programs verified and loaded, maps created, nothing attached yet.
pub struct Edge {
    ebpf: Ebpf,
    sessions: EdgeSessions,
    xdp_link: Option<XdpLinkId>,
    /// A duplicate of the socket `steer` was attached through, to detach it on drop.
    steering_socket: Option<OwnedFd>,
}

impl Edge {
    /// Loads the object, writes `config`, and loads (verifies) `edge` and `steer`.
    pub fn load(config: EdgeConfig) -> Result<Edge, EdgeError> {
        let mut ebpf = Ebpf::load(EDGE_OBJECT)?;
        let sessions = HashMap::try_from(ebpf.take_map(EDGE_SESSIONS_MAP).ok_or(EdgeError::Missing {
            kind: "map",
            name: EDGE_SESSIONS_MAP,
        })?)?;
        let xdp: &mut Xdp = program_mut(&mut ebpf, EDGE_PROGRAM)?.try_into()?;
        xdp.load()?;
        let steer: &mut SkReuseport = program_mut(&mut ebpf, STEER_PROGRAM)?.try_into()?;
        steer.load()?;
        let mut edge = Edge {
            ebpf,
            sessions: EdgeSessions { map: sessions },
            xdp_link: None,
            steering_socket: None,
        };
        edge.set_config(config)?;
        Ok(edge)
    }

    /// Replaces the configuration; the programs read it on every packet.
    pub fn set_config(&mut self, config: EdgeConfig) -> Result<(), EdgeError> {
        let mut map: Array<_, EdgeConfig> = Array::try_from(map_mut(&mut self.ebpf, EDGE_CONFIG_MAP)?)?;
        map.set(0, config, 0)?;
        Ok(())
    }

    /// Attaches `edge` to `interface` (in the calling thread's network namespace) through a link
    /// this value owns. `XdpMode::Driver` is native XDP (veth, real NICs), `XdpMode::Skb` generic.
    pub fn attach_xdp(&mut self, interface: &str, mode: XdpMode) -> Result<(), EdgeError> {
        self.detach_xdp()?;
        let xdp: &mut Xdp = program_mut(&mut self.ebpf, EDGE_PROGRAM)?.try_into()?;
        self.xdp_link = Some(xdp.attach(interface, mode)?);
        Ok(())
    }

    /// Detaches `edge` if it is attached.
    pub fn detach_xdp(&mut self) -> Result<(), EdgeError> {
        if let Some(link) = self.xdp_link.take() {
            let xdp: &mut Xdp = program_mut(&mut self.ebpf, EDGE_PROGRAM)?.try_into()?;
            xdp.detach(link)?;
        }
        Ok(())
    }

    /// Steers the `SO_REUSEPORT` group of `sockets` (every worker's socket, bound to the same
    /// address, in worker order: `sockets[i]` is worker `i`, the index `SessionEntry::worker`
    /// names). Fills the socket array, then attaches `steer` to the group through `sockets[0]`.
    pub fn attach_steering<S: AsFd>(&mut self, sockets: &[S]) -> Result<(), EdgeError> {
        if sockets.is_empty() || sockets.len() > STEER_WORKERS_MAX as usize {
            return Err(EdgeError::WorkerCount {
                got: sockets.len(),
                max: STEER_WORKERS_MAX,
            });
        }
        let mut array: ReusePortSockArray<_> =
            ReusePortSockArray::try_from(map_mut(&mut self.ebpf, STEER_SOCKETS_MAP)?)?;
        for (worker, socket) in (0u32..).zip(sockets) {
            array.set(worker, &socket.as_fd(), 0)?;
        }
        let steer: &mut SkReuseport = program_mut(&mut self.ebpf, STEER_PROGRAM)?.try_into()?;
        steer.attach(sockets[0].as_fd())?;
        self.steering_socket = Some(sockets[0].as_fd().try_clone_to_owned().map_err(EdgeError::Socket)?);
        Ok(())
    }

    /// Detaches `steer` from its group if it is attached; the kernel's hash picks sockets again.
    pub fn detach_steering(&mut self) -> Result<(), EdgeError> {
        if let Some(socket) = self.steering_socket.take() {
            SkReuseport::detach(socket.as_fd())?;
        }
        Ok(())
    }

    /// The session map.
    pub fn sessions(&mut self) -> &mut EdgeSessions {
        &mut self.sessions
    }

    /// The decision counters, summed over CPUs.
    pub fn counters(&self) -> Result<EdgeCounts, EdgeError> {
        let map: PerCpuArray<_, u64> =
            PerCpuArray::try_from(self.ebpf.map(EDGE_COUNTERS_MAP).ok_or(EdgeError::Missing {
                kind: "map",
                name: EDGE_COUNTERS_MAP,
            })?)?;
        let mut counts = [0u64; EDGE_COUNTER_SLOTS as usize];
        for (slot, count) in (0u32..).zip(counts.iter_mut()) {
            *count = map.get(&slot, 0)?.iter().sum();
        }
        Ok(EdgeCounts { counts })
    }

    /// Runs `edge` on `frame` (a whole Ethernet frame, at least 14 bytes) `repeat` times with
    /// `BPF_PROG_TEST_RUN`: the real program, maps and counters, no interface needed. Used by the
    /// test table and the cost figure; every run counts, so counters grow by `repeat`.
    pub fn test_run(&self, frame: &[u8], repeat: u32) -> Result<TestRunOutcome, EdgeError> {
        Ok(self.run_test(frame, repeat, None)?.0)
    }

    /// As [`Edge::test_run`] (once), and also returns the frame as the program left it (with the
    /// outer header of a forwarded packet, or unchanged).
    pub fn test_run_output(&self, frame: &[u8]) -> Result<(TestRunOutcome, Vec<u8>), EdgeError> {
        // Room for whatever the program prepends (the kernel gives it 256 bytes of head room).
        let mut out = vec![0u8; frame.len() + 256];
        let (outcome, bytes) = self.run_test(frame, 1, Some(&mut out))?;
        out.truncate(bytes);
        Ok((outcome, out))
    }

    fn run_test(
        &self,
        frame: &[u8],
        repeat: u32,
        data_out: Option<&mut [u8]>,
    ) -> Result<(TestRunOutcome, usize), EdgeError> {
        let xdp: &Xdp = self
            .ebpf
            .program(EDGE_PROGRAM)
            .ok_or(EdgeError::Missing {
                kind: "program",
                name: EDGE_PROGRAM,
            })?
            .try_into()?;
        let result = xdp.test_run(TestRunOptions {
            data_in: Some(frame),
            data_out,
            repeat,
            ..TestRunOptions::default()
        })?;
        Ok((
            TestRunOutcome {
                action: XdpAction::from_u32(result.return_value),
                per_run: result.duration,
            },
            result.data_size_out as usize,
        ))
    }
}

impl Drop for Edge {
    fn drop(&mut self) {
        // The XDP link goes with `ebpf`; steering must be taken off the group explicitly. A failure
        // here (the group already closed) leaves nothing behind to clean.
        let _ = self.detach_steering();
    }
}

fn program_mut<'a>(ebpf: &'a mut Ebpf, name: &'static str) -> Result<&'a mut aya::programs::Program, EdgeError> {
    ebpf.program_mut(name)
        .ok_or(EdgeError::Missing { kind: "program", name })
}

fn map_mut<'a>(ebpf: &'a mut Ebpf, name: &'static str) -> Result<&'a mut aya::maps::Map, EdgeError> {
    ebpf.map_mut(name).ok_or(EdgeError::Missing { kind: "map", name })
}
