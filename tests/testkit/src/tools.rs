//! Small helpers the process-level tests share: a child process killed and reaped when its handle
//! drops (a failing test leaves nothing running), and free loopback ports.

use std::net::{TcpListener, UdpSocket};
use std::process::Child;

/// A child process that is killed (SIGKILL) and reaped when this handle drops. Tests reach the
/// process through `.0` (e.g. to `kill -9` it on purpose).
pub struct ChildGuard(pub Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago (the caller binds it next; a race with another
/// process is possible and shows as a bind error, not a wrong result).
pub fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free loopback TCP port")
}

/// A UDP port on 127.0.0.1 that was free a moment ago.
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|socket| socket.local_addr())
        .map(|address| address.port())
        .expect("a free loopback UDP port")
}
