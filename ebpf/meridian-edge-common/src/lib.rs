//! `meridian-edge-common` holds the `#[repr(C)]` types that cross the boundary between Meridian's
//! kernel-side edge (the XDP program in `meridian-edge-ebpf`) and user space (the loader in
//! `meridian-node`): map names, map value layouts and counter slots. It is `no_std` so the eBPF
//! crate can use it; the `user` feature adds the `aya::Pod` impls user space needs to read and
//! write the maps. Both sides compile against the same definitions, so a layout change cannot
//! reach only one of them.
#![no_std]

/// Name of the XDP program that counts UDP datagrams addressed to one port.
pub const PACKET_COUNTER_PROGRAM: &str = "count_udp";
/// Name of the one-entry `Array<PacketCounterConfig>` map the counting program reads.
pub const PACKET_COUNTER_CONFIG_MAP: &str = "COUNTER_CONFIG";
/// Name of the `PerCpuArray<u64>` map the counting program increments.
pub const PACKET_COUNTERS_MAP: &str = "PACKET_COUNTERS";

/// Slots of [`PACKET_COUNTERS_MAP`]. Per-CPU, so the program never contends on a cache line.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PacketCounterSlot {
    /// IPv4 UDP datagrams whose destination port equals the configured one.
    MatchedUdp = 0,
    /// Every other frame seen (ARP, IPv6, other ports, truncated frames).
    Other = 1,
}

/// Number of slots in [`PACKET_COUNTERS_MAP`].
pub const PACKET_COUNTER_SLOTS: u32 = 2;

/// Configuration of the counting program, written by user space before traffic flows.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PacketCounterConfig {
    /// UDP destination port to count, in host byte order. Zero matches nothing.
    pub udp_dst_port: u16,
    /// Explicit padding so the layout has no implicit holes; must be zero.
    pub reserved: u16,
}

#[cfg(feature = "user")]
// SAFETY: `PacketCounterConfig` is `#[repr(C)]`, `Copy`, made only of integers, and has no padding
// (two `u16` fields), so every bit pattern is a valid value and it can be copied to and from maps.
unsafe impl aya::Pod for PacketCounterConfig {}
