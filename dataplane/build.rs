//! Builds the kernel-side edge (`ebpf/meridian-edge-ebpf`) for `bpfel-unknown-none` with the nightly
//! toolchain and `bpf-linker`, and leaves the object in `OUT_DIR/meridian-edge` for `src/edge.rs` to
//! embed. `aya-build` runs a nested `cargo +nightly build -Z build-std=core` in its own target dir.

fn main() -> anyhow::Result<()> {
    let manifest_dir = std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let ebpf_dir = manifest_dir.join("../ebpf/meridian-edge-ebpf");
    let common_dir = manifest_dir.join("../ebpf/meridian-edge-common");
    // aya-build watches the eBPF crate itself; the shared map types live in a second crate.
    println!("cargo:rerun-if-changed={}", common_dir.display());
    let ebpf_dir = ebpf_dir.to_str().ok_or_else(|| anyhow::anyhow!("non-UTF-8 path"))?;
    aya_build::build_ebpf(
        [aya_build::Package {
            name: "meridian-edge-ebpf",
            root_dir: ebpf_dir,
            ..Default::default()
        }],
        aya_build::Toolchain::default(),
    )
}
