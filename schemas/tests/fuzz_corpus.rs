//! Replays every committed fuzz corpus file (`schemas/fuzz/corpus/<target>/*`) through its target, so
//! inputs that once found bugs, and the seeds, keep running under `cargo test`.

use std::path::Path;

use meridian_proto::fuzz_targets::{FUZZ_TARGETS, run};

#[test]
fn replay_fuzz_corpus() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let mut replayed = 0;
    for target in FUZZ_TARGETS {
        let directory = corpus.join(target);
        let entries = std::fs::read_dir(&directory).unwrap_or_else(|error| panic!("{}: {error}", directory.display()));
        let mut files = 0;
        for entry in entries {
            let path = entry.expect("directory entry").path();
            let data = std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
            assert!(run(target, &data), "unknown target {target}");
            files += 1;
        }
        assert!(files > 0, "no corpus for fuzz target {target}");
        replayed += files;
    }
    assert!(replayed >= FUZZ_TARGETS.len());
}

/// Writes the seed corpus: one valid input per decoder, so the fuzzers start past the first checks.
/// Run once with `cargo test -p meridian-proto --test fuzz_corpus -- --ignored write_seed_corpus`.
#[test]
#[ignore]
fn write_seed_corpus() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    for (target, seeds) in meridian_proto::fuzz_targets::seeds() {
        let directory = corpus.join(target);
        std::fs::create_dir_all(&directory).expect("create corpus directory");
        for (index, seed) in seeds.iter().enumerate() {
            std::fs::write(directory.join(format!("seed-{index}")), seed).expect("write seed");
        }
    }
}
