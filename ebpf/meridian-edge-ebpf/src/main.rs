//! `meridian-edge-ebpf` is Meridian's kernel-side edge. It is compiled only for `bpfel-unknown-none`
//! (nightly, `-Z build-std=core`, linked by `bpf-linker`) by `meridian-node`'s build script (a nested
//! cargo whose output shows only when it fails), and the resulting object is embedded in
//! `meridian-node` and loaded with `aya`. For now it holds one program, `count_udp`, which counts
//! IPv4 UDP datagrams sent to a configured port into a per-CPU array and passes every frame on; it
//! proves the build and load pipeline end to end and is the skeleton the validating, rate-limiting,
//! steering `edge` program grows from. Built for the host (as `cargo build --workspace` does), the
//! crate is an empty binary.
#![cfg_attr(target_arch = "bpf", no_std)]
#![cfg_attr(target_arch = "bpf", no_main)]

#[cfg(target_arch = "bpf")]
mod counter;

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
