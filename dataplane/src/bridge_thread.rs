//! The thread a bridge (persistence, hot state) runs on: a single-worker tokio runtime blocked on
//! the bridge's main future, told to stop through a oneshot and joined on stop or drop. The workers
//! never wait on it; the node only starts and stops it.
#![forbid(unsafe_code)]

use std::future::Future;
use std::thread::JoinHandle;

use anyhow::Context;
use tokio::runtime::Runtime;
use tokio::sync::oneshot;

/// A single-worker multi-thread runtime named `name` (its timers and I/O enabled).
pub fn bridge_runtime(name: &str) -> anyhow::Result<Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name(name)
        .enable_all()
        .build()
        .with_context(|| format!("{name} runtime"))
}

/// The running thread; stopping (or dropping) it sends the stop signal and waits for the future to
/// finish what it does on stop.
pub struct BridgeThread {
    thread: Option<JoinHandle<()>>,
    stop: Option<oneshot::Sender<()>>,
}

impl BridgeThread {
    /// Runs `main(stop)` on `runtime` in a thread named `name`.
    pub fn spawn<F, Fut>(name: &str, runtime: Runtime, main: F) -> anyhow::Result<Self>
    where
        F: FnOnce(oneshot::Receiver<()>) -> Fut + Send + 'static,
        Fut: Future<Output = ()>,
    {
        let (stop_sender, stop_receiver) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || runtime.block_on(main(stop_receiver)))
            .with_context(|| format!("spawning the {name} thread"))?;
        Ok(BridgeThread {
            thread: Some(thread),
            stop: Some(stop_sender),
        })
    }

    /// Signals the stop and waits for the thread.
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for BridgeThread {
    fn drop(&mut self) {
        self.stop();
    }
}
