//! `meridian-client` is the client SDK: it connects with a connect token, keeps the clock in sync with
//! the server, sends inputs each tick with redundancy, predicts the local player and reconciles with
//! the authoritative state, and interpolates remote entities. It builds on `meridian-proto` and, like
//! it, is sans-IO at its core. Nothing is implemented here yet (see the node and client issue).
#![forbid(unsafe_code)]
