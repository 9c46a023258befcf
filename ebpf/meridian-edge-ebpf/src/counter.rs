//! `count_udp`: counts IPv4 UDP datagrams to the configured destination port.

use aya_ebpf::{
    bindings::xdp_action,
    macros::{map, xdp},
    maps::{Array, PerCpuArray},
    programs::XdpContext,
};
use meridian_edge_common::{PACKET_COUNTER_SLOTS, PacketCounterConfig, PacketCounterSlot};

const ETH_HEADER_LEN: usize = 14;
const ETHERTYPE_IPV4: u16 = 0x0800;
const IPPROTO_UDP: u8 = 17;

#[map(name = "COUNTER_CONFIG")]
static COUNTER_CONFIG: Array<PacketCounterConfig> = Array::with_max_entries(1, 0);

#[map(name = "PACKET_COUNTERS")]
static PACKET_COUNTERS: PerCpuArray<u64> = PerCpuArray::with_max_entries(PACKET_COUNTER_SLOTS, 0);

#[xdp]
pub fn count_udp(ctx: XdpContext) -> u32 {
    let slot = classify(&ctx).unwrap_or(PacketCounterSlot::Other);
    if let Some(counter) = PACKET_COUNTERS.get_ptr_mut(slot as u32) {
        // SAFETY: the pointer comes from the map lookup for this CPU's slot and is valid for the
        // duration of the program; per-CPU values are never touched by another CPU concurrently.
        unsafe { *counter += 1 };
    }
    xdp_action::XDP_PASS
}

/// Returns `MatchedUdp` for an IPv4 UDP datagram to the configured port, `Other` for anything else.
/// `Err` means the frame was too short to classify, which the caller counts as `Other`.
#[inline(always)]
fn classify(ctx: &XdpContext) -> Result<PacketCounterSlot, ()> {
    let ethertype = u16::from_be_bytes(read::<[u8; 2]>(ctx, 12)?);
    if ethertype != ETHERTYPE_IPV4 {
        return Ok(PacketCounterSlot::Other);
    }
    let version_ihl = read::<u8>(ctx, ETH_HEADER_LEN)?;
    let ihl_bytes = usize::from(version_ihl & 0x0f) * 4;
    if version_ihl >> 4 != 4 || ihl_bytes < 20 || ihl_bytes > 60 {
        return Ok(PacketCounterSlot::Other);
    }
    if read::<u8>(ctx, ETH_HEADER_LEN + 9)? != IPPROTO_UDP {
        return Ok(PacketCounterSlot::Other);
    }
    let dst_port = u16::from_be_bytes(read::<[u8; 2]>(ctx, ETH_HEADER_LEN + ihl_bytes + 2)?);
    let wanted = match COUNTER_CONFIG.get(0) {
        Some(config) => config.udp_dst_port,
        None => 0,
    };
    if wanted != 0 && dst_port == wanted {
        Ok(PacketCounterSlot::MatchedUdp)
    } else {
        Ok(PacketCounterSlot::Other)
    }
}

/// Bounds-checked read of a `T` at `offset` bytes into the frame (the check the verifier demands).
#[inline(always)]
fn read<T: Copy>(ctx: &XdpContext, offset: usize) -> Result<T, ()> {
    let start = ctx.data();
    let end = ctx.data_end();
    if start + offset + core::mem::size_of::<T>() > end {
        return Err(());
    }
    // SAFETY: the range [start + offset, start + offset + size_of::<T>()) was checked to lie inside
    // the packet; `read_unaligned` because packet data has no alignment guarantee.
    Ok(unsafe { core::ptr::read_unaligned((start + offset) as *const T) })
}
