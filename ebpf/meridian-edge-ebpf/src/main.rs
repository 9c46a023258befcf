//! `meridian-edge-ebpf` is Meridian's kernel-side edge. It is compiled only for `bpfel-unknown-none`
//! (nightly, `-Z build-std=core`, linked by `bpf-linker`) by `meridian-node`'s build script (a nested
//! cargo whose output shows only when it fails), and the resulting object is embedded in
//! `meridian-node` and loaded with `aya`. It holds three programs:
//!
//! * `edge` (XDP, `edge.rs`): validates, rate-limits and counts game packets (parsing in
//!   `parse.rs`, buckets in `rate.rs`, counters in `counters.rs`, maps in `maps.rs`; the SipHash
//!   and bucket arithmetic live in `meridian-edge-common` so the host tests them), and forwards
//!   the packets of sessions another node owns IP-in-IP to that node (`forward.rs`);
//! * `steer` (`sk_reuseport`, `steer.rs`): picks a session's worker socket in the node's
//!   `SO_REUSEPORT` group;
//! * `count_udp` (XDP, `counter.rs`): the pipeline's first program, counting UDP datagrams to one
//!   port; kept for its end-to-end veth test.
//!
//! Built for the host (as `cargo build --workspace` does), the crate is an empty binary.
#![cfg_attr(target_arch = "bpf", no_std)]
#![cfg_attr(target_arch = "bpf", no_main)]

#[cfg(target_arch = "bpf")]
mod counter;
#[cfg(target_arch = "bpf")]
mod counters;
#[cfg(target_arch = "bpf")]
mod edge;
#[cfg(target_arch = "bpf")]
mod forward;
#[cfg(target_arch = "bpf")]
mod maps;
#[cfg(target_arch = "bpf")]
mod parse;
#[cfg(target_arch = "bpf")]
mod rate;
#[cfg(target_arch = "bpf")]
mod steer;

#[cfg(target_arch = "bpf")]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    // The verifier rejects programs that can really reach a panic; this is never executed.
    loop {}
}

#[cfg(not(target_arch = "bpf"))]
fn main() {
    // Host build: the programs exist only for the BPF target (see the crate doc).
}
