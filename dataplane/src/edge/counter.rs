//! `count_udp`: the pipeline's first XDP program, counting UDP datagrams to one port (kept for its
//! end-to-end test on a veth, `tests/tests/xdp_counter.rs`).

use super::{EDGE_OBJECT, EdgeError};
use aya::{
    Ebpf,
    maps::{Array, PerCpuArray},
    programs::{Xdp, XdpMode},
};
use meridian_edge_common::{
    PACKET_COUNTER_CONFIG_MAP, PACKET_COUNTER_PROGRAM, PACKET_COUNTERS_MAP, PacketCounterConfig, PacketCounterSlot,
};

/// Packet counts read from the counting program, summed over CPUs and per CPU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketCounts {
    pub matched_udp: u64,
    pub other: u64,
    pub matched_udp_per_cpu: Vec<u64>,
}

/// The `count_udp` XDP program attached to one interface.
pub struct PacketCounterProgram {
    ebpf: Ebpf,
}

impl PacketCounterProgram {
    /// Loads the edge object, configures the counted port and attaches `count_udp` to `interface`
    /// in the calling thread's network namespace.
    pub fn attach(interface: &str, udp_dst_port: u16, mode: XdpMode) -> Result<Self, EdgeError> {
        let mut ebpf = Ebpf::load(EDGE_OBJECT)?;
        let mut config: Array<_, PacketCounterConfig> =
            Array::try_from(ebpf.map_mut(PACKET_COUNTER_CONFIG_MAP).ok_or(EdgeError::Missing {
                kind: "map",
                name: PACKET_COUNTER_CONFIG_MAP,
            })?)?;
        config.set(
            0,
            PacketCounterConfig {
                udp_dst_port,
                reserved: 0,
            },
            0,
        )?;
        let program: &mut Xdp = ebpf
            .program_mut(PACKET_COUNTER_PROGRAM)
            .ok_or(EdgeError::Missing {
                kind: "program",
                name: PACKET_COUNTER_PROGRAM,
            })?
            .try_into()?;
        program.load()?;
        program.attach(interface, mode)?;
        Ok(Self { ebpf })
    }

    /// Reads the counters.
    pub fn counts(&self) -> Result<PacketCounts, EdgeError> {
        let counters: PerCpuArray<_, u64> =
            PerCpuArray::try_from(self.ebpf.map(PACKET_COUNTERS_MAP).ok_or(EdgeError::Missing {
                kind: "map",
                name: PACKET_COUNTERS_MAP,
            })?)?;
        let matched = counters.get(&(PacketCounterSlot::MatchedUdp as u32), 0)?;
        let other = counters.get(&(PacketCounterSlot::Other as u32), 0)?;
        Ok(PacketCounts {
            matched_udp: matched.iter().sum(),
            other: other.iter().sum(),
            matched_udp_per_cpu: matched.iter().copied().collect(),
        })
    }
}
