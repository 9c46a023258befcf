//! Builds the kernel-side edge (`ebpf/meridian-edge-ebpf`) for `bpfel-unknown-none` (`bpfeb` on a
//! big-endian host) with the nightly toolchain and `bpf-linker`, and leaves the object in
//! `OUT_DIR/meridian-edge` for `src/edge.rs` to embed.
//!
//! The nested `cargo +nightly build -Z build-std=core` runs with its output captured: a good build
//! prints nothing, a failed one prints the nested cargo's whole output and fails this build.
//! (aya-build, which did this before, relays every line of the nested build as a `cargo:warning`,
//! hundreds of "Compiling …" lines per build, and has no quiet mode.)

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

/// The eBPF crate and the binary target it builds (the object `src/edge.rs` embeds).
const EBPF_PACKAGE: &str = "meridian-edge-ebpf";
const EBPF_BINARY: &str = "meridian-edge";
/// The eBPF target needs `-Z build-std`, so a nightly toolchain, run through rustup.
const EBPF_TOOLCHAIN: &str = "nightly";

fn main() -> anyhow::Result<()> {
    let manifest_dir = PathBuf::from(env("CARGO_MANIFEST_DIR")?);
    let out_dir = PathBuf::from(env("OUT_DIR")?);
    let ebpf_dir = manifest_dir.join("../ebpf/meridian-edge-ebpf");
    // A directory as rerun-if-changed means any file under it: the eBPF crate and the map types it
    // shares with user space. Cargo does not see these as dependencies of this crate's build (the
    // object is a binary of another target), so without these lines an eBPF edit would not rebuild.
    for dir in [ebpf_dir.clone(), manifest_dir.join("../ebpf/meridian-edge-common")] {
        println!("cargo:rerun-if-changed={}", dir.display());
    }
    // The workspace manifest holds the eBPF crate's release profile (debug info for BTF).
    println!(
        "cargo:rerun-if-changed={}",
        manifest_dir.join("../Cargo.toml").display()
    );

    let target = match env("CARGO_CFG_TARGET_ENDIAN")?.as_str() {
        "little" => "bpfel-unknown-none",
        "big" => "bpfeb-unknown-none",
        other => bail!("unsupported target endianness {other}"),
    };
    // aya-ebpf picks its kernel bindings by `bpf_target_arch`: the architecture this node runs on.
    let arch = env("CARGO_CFG_TARGET_ARCH")?;
    let arch = if arch.starts_with("riscv64") {
        "riscv64".to_owned()
    } else {
        arch
    };
    // Separate from OUT_DIR's own files, and from the outer build's target dir, which cargo locks.
    let target_dir = out_dir.join("ebpf-target");

    let mut cargo = Command::new("rustup");
    cargo
        .args([
            "run",
            EBPF_TOOLCHAIN,
            "cargo",
            "build",
            "--release",
            "--package",
            EBPF_PACKAGE,
        ])
        .args(["--bin", EBPF_BINARY, "--target", target, "-Z", "build-std=core"])
        .arg("--target-dir")
        .arg(&target_dir)
        .current_dir(&ebpf_dir)
        // CARGO_ENCODED_RUSTFLAGS separates flags with 0x1f.
        .env(
            "CARGO_ENCODED_RUSTFLAGS",
            format!("--cfg=bpf_target_arch=\"{arch}\"\x1f-Cdebuginfo=2\x1f-Clink-arg=--btf"),
        )
        // The outer build's compiler (stable, maybe wrapped) must not leak into the nightly build.
        .env_remove("RUSTC")
        .env_remove("RUSTC_WORKSPACE_WRAPPER");
    let output = cargo
        .output()
        .with_context(|| format!("running {cargo:?} (is rustup installed? see infra/setup.sh)"))?;
    if !output.status.success() {
        // A build script's stderr is shown when the build fails: the nested build's whole story.
        eprintln!("{}", String::from_utf8_lossy(&output.stdout));
        eprintln!("{}", String::from_utf8_lossy(&output.stderr));
        bail!("the eBPF build failed ({}): {cargo:?}", output.status);
    }

    let built = target_dir.join(target).join("release").join(EBPF_BINARY);
    copy(&built, &out_dir.join(EBPF_BINARY))
}

fn env(name: &str) -> anyhow::Result<String> {
    std::env::var(name).with_context(|| format!("{name} is not set (build scripts run under cargo)"))
}

fn copy(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::copy(from, to).with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    Ok(())
}
