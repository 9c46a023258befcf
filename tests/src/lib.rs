//! `meridian-tests` holds the workspace's cross-process integration tests (`tests/tests/*.rs`): they
//! start real services through `meridian-testkit`, real Meridian processes, and real kernel objects
//! (XDP programs on veth pairs inside network namespaces, io_uring rings). The library itself is
//! empty; the tests are the crate.
#![forbid(unsafe_code)]
