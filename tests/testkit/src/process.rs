//! A child service process that is stopped when its handle drops, and free-port discovery.

use std::{
    fs::File,
    io::{Read, Seek, SeekFrom},
    net::{Ipv4Addr, TcpListener},
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use nix::{
    sys::signal::{Signal, kill},
    unistd::Pid,
};

use crate::{Result, io_err};

/// Grace period between SIGTERM and SIGKILL when stopping a service.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// A running child process. Dropping it stops the process (SIGTERM, then SIGKILL after
/// [`STOP_GRACE`]) and reaps it, so a test that panics still leaves nothing running.
pub(crate) struct ServiceProcess {
    child: Option<Child>,
    log_path: PathBuf,
}

impl ServiceProcess {
    /// Spawns `command` with stdout and stderr appended to `log_path`. The child gets
    /// `PR_SET_PDEATHSIG = SIGKILL`, so it dies with the thread that spawned it even if this handle
    /// is never dropped (test process killed).
    pub(crate) fn spawn(mut command: Command, log_path: &Path) -> Result<Self> {
        let log = File::options()
            .create(true)
            .append(true)
            .open(log_path)
            .map_err(io_err(format!("opening {}", log_path.display())))?;
        let log_err = log.try_clone().map_err(io_err("duplicating log handle"))?;
        command.stdin(Stdio::null()).stdout(log).stderr(log_err);
        // SAFETY: the closure runs in the forked child before exec and only calls `prctl`, which is
        // async-signal-safe; it allocates nothing and touches no locks. std applies the uid/gid
        // change before running it, so the death signal is not reset by the credential change.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let program = format!("{:?}", command.get_program());
        let child = command.spawn().map_err(io_err(format!("spawning {program}")))?;
        Ok(Self {
            child: Some(child),
            log_path: log_path.to_owned(),
        })
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// `Some(status)` if the process already exited.
    pub(crate) fn exited(&mut self) -> Option<String> {
        let child = self.child.as_mut()?;
        match child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            Ok(None) => None,
            Err(e) => Some(format!("unknown ({e})")),
        }
    }

    /// The last few KiB of the process's log, for error messages.
    pub(crate) fn log_tail(&self) -> String {
        log_tail(&self.log_path)
    }

    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        if let Ok(None) = child.try_wait() {
            let pid = Pid::from_raw(child.id() as i32);
            let _ = kill(pid, Signal::SIGTERM);
            let deadline = Instant::now() + STOP_GRACE;
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
        }
        let _ = child.wait();
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

pub(crate) fn log_tail(path: &Path) -> String {
    const TAIL_BYTES: u64 = 4096;
    let Ok(mut file) = File::open(path) else {
        return String::from("(no log)");
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = file.seek(SeekFrom::Start(len.saturating_sub(TAIL_BYTES)));
    let mut tail = String::new();
    let _ = file.read_to_string(&mut tail);
    tail
}

/// A loopback TCP port that was free a moment ago. Another process may take it before the service
/// binds; service start-up detects that (the service exits) and retries with a new port.
pub(crate) fn free_loopback_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(io_err("binding port 0"))?;
    let port = listener.local_addr().map_err(io_err("reading local address"))?.port();
    Ok(port)
}

/// Finds an executable: `$env_override` if set, else the first of `candidates` that exists, else
/// `name` on `PATH`.
pub(crate) fn find_binary(name: &'static str, env_override: &str, candidates: &[PathBuf]) -> Result<PathBuf> {
    if let Some(path) = std::env::var_os(env_override) {
        return Ok(PathBuf::from(path));
    }
    if let Some(found) = candidates.iter().find(|p| p.is_file()) {
        return Ok(found.clone());
    }
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path_var) {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    let mut searched: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
    searched.push(format!("${env_override}"));
    searched.push("$PATH".into());
    Err(crate::TestkitError::BinaryNotFound {
        name,
        searched: searched.join(", "),
    })
}
