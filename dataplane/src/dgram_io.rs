//! Batched datagram I/O for zone workers, with two interchangeable backends:
//!
//! - [`UringDatagramIo`]: one io_uring per worker, a single **multishot `recvmsg`** fed from a
//!   **provided-buffer ring** (the kernel picks a buffer per datagram, so one submission keeps
//!   receiving until it runs out of buffers), and sends queued in a bounded queue and submitted
//!   together in [`DatagramIo::flush`] as `SendMsg` operations that post a completion only on
//!   failure (so sending does not wake the receive wait), on a registered socket descriptor.
//! - [`MmsgDatagramIo`]: the portable path, `poll` + `recvmmsg` and `sendmmsg` in batches.
//!
//! Both coalesce a run of equal-size datagrams to one peer (reliable fragments, bursts) into one
//! UDP GSO send (`UDP_SEGMENT`) when the kernel has it, and fall back to single sends if a path
//! refuses it.
//!
//! Both follow "batch, don't react": a worker drains what arrived, runs its tick, queues replies and
//! flushes once. Both are bounded: a full send pool drops the datagram and counts it
//! (`sends_dropped_queue_full`), a full receive buffer ring makes the kernel drop and the worker
//! counts the `ENOBUFS` and re-arms.
//!
//! Files: this one holds what both backends share (the trait, configuration, counters, socket
//! address decoding); `send_queue` the bounded send queue and GSO runs; `uring` and `mmsg` the
//! backends.

use std::{
    io,
    mem::{size_of, zeroed},
    net::{SocketAddr, UdpSocket},
    time::Duration,
};

use socket2::SockAddr;

mod mmsg;
mod send_queue;
mod uring;

pub use mmsg::MmsgDatagramIo;
pub use uring::UringDatagramIo;

/// Largest datagram the I/O layer receives whole. Game datagrams are at most 1200 bytes; anything
/// longer is counted as truncated and dropped.
pub const DATAGRAM_BYTES_MAX: usize = 2048;

/// Counters of one I/O backend (plain integers: the worker thread owns them and publishes them).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DatagramIoStats {
    pub datagrams_received: u64,
    pub bytes_received: u64,
    pub datagrams_sent: u64,
    pub bytes_sent: u64,
    pub recv_truncated: u64,
    pub recv_errors: u64,
    /// io_uring only: the provided-buffer ring ran dry and the kernel dropped datagrams.
    pub recv_no_buffers: u64,
    /// io_uring only: the multishot receive ended and was re-armed.
    pub recv_rearmed: u64,
    pub send_errors: u64,
    pub sends_dropped_queue_full: u64,
    /// Datagrams that left as segments of a UDP GSO send (included in `datagrams_sent`).
    pub datagrams_sent_gso: u64,
    /// GSO sends the kernel refused (`EIO`/`EINVAL`); GSO is off for the socket afterwards and
    /// the refused datagrams were resent one by one.
    pub gso_fallbacks: u64,
}

/// What a zone worker needs from its socket.
pub trait DatagramIo {
    /// Waits at most `timeout` for datagrams, then hands every datagram that has arrived to
    /// `on_datagram(payload, peer)`. Returns how many were delivered.
    fn recv_batch(&mut self, timeout: Duration, on_datagram: &mut dyn FnMut(&[u8], SocketAddr)) -> io::Result<usize>;

    /// Queues one datagram; nothing is sent before [`flush`](Self::flush). Returns `false` (and
    /// counts it) when the bounded send queue is full.
    fn queue_send(&mut self, payload: &[u8], to: SocketAddr) -> bool;

    /// Sends everything queued.
    fn flush(&mut self) -> io::Result<()>;

    fn stats(&self) -> &DatagramIoStats;
}

/// Which backend a worker uses (selectable by flag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoBackend {
    IoUring,
    Mmsg,
}

/// Sizes of a backend's bounded resources.
#[derive(Debug, Clone)]
pub struct DatagramIoConfig {
    /// Provided receive buffers (io_uring; power of two, ≤ 32768) or the recvmmsg batch size.
    /// The provided-buffer ring is recycled in FIFO order, so every buffer in it is touched once per
    /// lap: more buffers absorb longer stalls (past them the kernel holds datagrams in the socket
    /// buffer and the receive is re-armed) but keep the lap colder in cache. 256 (512 KiB) measured
    /// about 5-8% cheaper per datagram than 4096 (8 MiB) in `io_cost`.
    pub recv_buffers: usize,
    /// Datagrams that may be queued for sending between flushes.
    pub send_queue: usize,
    /// io_uring only: when non-zero, a kernel thread polls the submission queue (`SQPOLL`) and
    /// sleeps after this many idle milliseconds. It takes submission work off the worker thread
    /// but burns CPU of its own, so measure the whole process, not the worker, when comparing.
    /// 0 (the default) keeps submission on the worker thread.
    pub sqpoll_idle_ms: u32,
    /// Coalesce consecutive equal-size datagrams to one peer into one UDP GSO send where the
    /// kernel supports it (detected at open; refusals fall back to single sends).
    pub udp_gso: bool,
    /// io_uring only: when non-zero, `recv_batch` lets completions gather for up to this many
    /// microseconds after the first one (kernel min-wait, 6.13+) instead of returning on the first,
    /// so one wake-up handles a whole burst. Adds up to this much latency; 0 (the default) returns
    /// as soon as anything arrived, as the recvmmsg backend does.
    pub recv_min_wait_us: u32,
}

impl Default for DatagramIoConfig {
    fn default() -> Self {
        Self {
            recv_buffers: 256,
            send_queue: 4096,
            sqpoll_idle_ms: 0,
            udp_gso: true,
            recv_min_wait_us: 0,
        }
    }
}

/// Binds a UDP socket with `SO_REUSEPORT`, so several workers can share one address and the kernel
/// spreads flows (4-tuples) across them.
pub fn bind_reuseport(addr: SocketAddr) -> io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_port(true)?;
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

pub fn open(backend: IoBackend, socket: UdpSocket, config: &DatagramIoConfig) -> io::Result<Box<dyn DatagramIo>> {
    Ok(match backend {
        IoBackend::IoUring => Box::new(UringDatagramIo::new(socket, config)?),
        IoBackend::Mmsg => Box::new(MmsgDatagramIo::new(socket, config)?),
    })
}

const SOCKADDR_BYTES: usize = size_of::<libc::sockaddr_storage>();

fn sockaddr_from_bytes(name: &[u8]) -> Option<SocketAddr> {
    // SAFETY: `sockaddr_storage` is plain old data; all-zero is a valid value.
    let mut storage: libc::sockaddr_storage = unsafe { zeroed() };
    let len = name.len().min(SOCKADDR_BYTES);
    // SAFETY: copies at most `size_of::<sockaddr_storage>()` bytes into the storage.
    unsafe {
        std::ptr::copy_nonoverlapping(name.as_ptr(), (&raw mut storage).cast::<u8>(), len);
    }
    // SAFETY: the bytes are a socket address the kernel wrote, `len` bounded by the storage size.
    let addr = unsafe { SockAddr::new(storage, len as libc::socklen_t) };
    addr.as_socket()
}

/// Helpers shared by the tests of the backends' files.
#[cfg(test)]
mod test_support {
    use std::time::Instant;

    use super::*;

    pub(super) fn pair(backend: IoBackend, config: &DatagramIoConfig) -> (Box<dyn DatagramIo>, SocketAddr, UdpSocket) {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = socket.local_addr().unwrap();
        let io = open(backend, socket, config).unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        (io, addr, client)
    }

    /// Receives until `want` datagrams arrived or 5 s passed; returns (payload, peer) pairs.
    pub(super) fn receive(io: &mut dyn DatagramIo, want: usize) -> Vec<(Vec<u8>, SocketAddr)> {
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(5);
        while got.len() < want && Instant::now() < deadline {
            io.recv_batch(Duration::from_millis(20), &mut |payload, peer| {
                got.push((payload.to_vec(), peer))
            })
            .unwrap();
        }
        got
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{pair, receive};
    use super::*;

    fn echo_round_trip(backend: IoBackend) {
        let (mut io, addr, client) = pair(
            backend,
            &DatagramIoConfig {
                recv_buffers: 64,
                send_queue: 64,
                ..DatagramIoConfig::default()
            },
        );
        let client_addr = client.local_addr().unwrap();
        for round in 0..8u8 {
            let sent: Vec<Vec<u8>> = (0..40u8).map(|i| vec![round, i, 0xab, 0xcd]).collect();
            for payload in &sent {
                client.send_to(payload, addr).unwrap();
            }
            let got = receive(io.as_mut(), sent.len());
            assert_eq!(got.len(), sent.len(), "{backend:?} round {round}");
            for (payload, peer) in &got {
                assert_eq!(*peer, client_addr);
                assert!(io.queue_send(payload, *peer));
            }
            io.flush().unwrap();
            let mut echoed: Vec<Vec<u8>> = (0..sent.len())
                .map(|_| {
                    let mut buf = [0u8; 64];
                    let (n, from) = client.recv_from(&mut buf).expect("echo");
                    assert_eq!(from, addr);
                    buf[..n].to_vec()
                })
                .collect();
            echoed.sort();
            let mut expected = sent.clone();
            expected.sort();
            assert_eq!(echoed, expected);
            // Reap the send completions (io_uring frees send slots while receiving).
            io.recv_batch(Duration::from_millis(1), &mut |_, _| panic!("nothing else was sent"))
                .unwrap();
        }
        let stats = io.stats();
        assert_eq!(stats.datagrams_received, 320);
        assert_eq!(stats.datagrams_sent, 320);
        assert_eq!(stats.bytes_sent, 320 * 4);
        assert_eq!(stats.send_errors, 0);
    }

    #[test]
    fn uring_backend_echoes_in_batches() {
        echo_round_trip(IoBackend::IoUring);
    }

    #[test]
    fn mmsg_backend_echoes_in_batches() {
        echo_round_trip(IoBackend::Mmsg);
    }

    /// Ten equal datagrams to one peer (one GSO send where the kernel has it), then a few of
    /// other sizes to another peer: every datagram arrives separately with its own bytes.
    fn gso_run_arrives_as_separate_datagrams(backend: IoBackend, config: &DatagramIoConfig) {
        let (mut io, _addr, first) = pair(backend, config);
        let second = UdpSocket::bind("127.0.0.1:0").unwrap();
        second.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let run: Vec<Vec<u8>> = (0..10u8).map(|i| vec![i; 300]).collect();
        let tail = vec![0xee; 120]; // shorter last segment: still part of the run
        let others: Vec<Vec<u8>> = vec![vec![1; 50], vec![2; 50], vec![3; 70]];
        for payload in &run {
            assert!(io.queue_send(payload, first.local_addr().unwrap()));
        }
        assert!(io.queue_send(&tail, first.local_addr().unwrap()));
        for payload in &others {
            assert!(io.queue_send(payload, second.local_addr().unwrap()));
        }
        io.flush().unwrap();
        let read = |socket: &UdpSocket, count: usize| -> Vec<Vec<u8>> {
            (0..count)
                .map(|_| {
                    let mut buf = [0u8; 2048];
                    let (n, _) = socket.recv_from(&mut buf).expect("datagram within 5 s");
                    buf[..n].to_vec()
                })
                .collect()
        };
        let mut expected_first = run.clone();
        expected_first.push(tail.clone());
        assert_eq!(
            read(&first, 11),
            expected_first,
            "{backend:?}: the run, in order, unmerged"
        );
        assert_eq!(read(&second, 3), others, "{backend:?}");
        io.recv_batch(Duration::from_millis(1), &mut |_, _| {
            panic!("nothing was sent to the backend")
        })
        .unwrap();
        let stats = io.stats();
        assert_eq!(stats.datagrams_sent, 14, "{backend:?}: {stats:?}");
        assert_eq!(stats.bytes_sent, 10 * 300 + 120 + 50 + 50 + 70, "{backend:?}");
        assert_eq!(stats.send_errors, 0, "{backend:?}");
        if config.udp_gso {
            // The run of 11 and the two equal 50-byte datagrams went as GSO sends.
            assert_eq!(stats.datagrams_sent_gso, 13, "{backend:?}: {stats:?}");
        } else {
            assert_eq!(stats.datagrams_sent_gso, 0, "{backend:?}: {stats:?}");
        }
    }

    #[test]
    fn gso_sends_arrive_whole_on_both_backends() {
        for backend in [IoBackend::IoUring, IoBackend::Mmsg] {
            let config = DatagramIoConfig {
                recv_buffers: 16,
                send_queue: 32,
                ..DatagramIoConfig::default()
            };
            gso_run_arrives_as_separate_datagrams(backend, &config);
            let config = DatagramIoConfig {
                udp_gso: false,
                ..config
            };
            gso_run_arrives_as_separate_datagrams(backend, &config);
        }
    }

    #[test]
    fn full_send_queue_drops_and_counts() {
        for backend in [IoBackend::IoUring, IoBackend::Mmsg] {
            let (mut io, _addr, client) = pair(
                backend,
                &DatagramIoConfig {
                    recv_buffers: 4,
                    send_queue: 2,
                    ..DatagramIoConfig::default()
                },
            );
            let to = client.local_addr().unwrap();
            assert!(io.queue_send(b"a", to));
            assert!(io.queue_send(b"b", to));
            assert!(!io.queue_send(b"c", to), "{backend:?}: third send must not fit");
            assert_eq!(io.stats().sends_dropped_queue_full, 1);
            io.flush().unwrap();
        }
    }
}
