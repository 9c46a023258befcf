//! The portable backend: `poll` + `recvmmsg` to receive, `sendmmsg` to flush.

use std::{
    io,
    mem::zeroed,
    net::{SocketAddr, UdpSocket},
    os::fd::AsRawFd,
    time::Duration,
};

use super::send_queue::{SendQueue, is_gso_refusal, udp_gso_supported};
use super::{DATAGRAM_BYTES_MAX, DatagramIo, DatagramIoConfig, DatagramIoStats, SOCKADDR_BYTES, sockaddr_from_bytes};

/// Datagrams per `sendmmsg` call.
const SENDMMSG_BATCH: usize = 1024;

/// Portable backend: `poll` + `recvmmsg`, `sendmmsg`.
pub struct MmsgDatagramIo {
    socket: UdpSocket,
    batch: usize,
    recv_buffers: Vec<[u8; DATAGRAM_BYTES_MAX]>,
    recv_names: Vec<libc::sockaddr_storage>,
    // Point into `recv_buffers` / `recv_names`, whose heap storage never moves (never resized).
    recv_iovs: Vec<libc::iovec>,
    recv_headers: Vec<libc::mmsghdr>,
    queue: SendQueue,
    // Rebuilt per `sendmmsg` call; allocated once with room for a whole batch.
    send_headers: Vec<libc::mmsghdr>,
    /// Datagrams carried by each header of the batch (more than one for a GSO run).
    send_counts: Vec<usize>,
    gso: bool,
    stats: DatagramIoStats,
}

impl MmsgDatagramIo {
    pub fn new(socket: UdpSocket, config: &DatagramIoConfig) -> io::Result<Self> {
        socket.set_nonblocking(true)?;
        let gso = config.udp_gso && udp_gso_supported(&socket);
        let batch = config.recv_buffers.clamp(1, 1024);
        let mut recv_buffers = vec![[0u8; DATAGRAM_BYTES_MAX]; batch];
        // SAFETY: plain old data; all-zero is valid.
        let mut recv_names: Vec<libc::sockaddr_storage> = vec![unsafe { zeroed() }; batch];
        let mut recv_iovs: Vec<libc::iovec> = recv_buffers
            .iter_mut()
            .map(|b| libc::iovec {
                iov_base: b.as_mut_ptr().cast(),
                iov_len: DATAGRAM_BYTES_MAX,
            })
            .collect();
        let recv_headers = (0..batch)
            .map(|i| {
                // SAFETY: plain old data; all-zero is valid; pointers set right below.
                let mut h: libc::mmsghdr = unsafe { zeroed() };
                h.msg_hdr.msg_name = (&raw mut recv_names[i]).cast();
                h.msg_hdr.msg_iov = &raw mut recv_iovs[i];
                h.msg_hdr.msg_iovlen = 1;
                h
            })
            .collect();
        Ok(Self {
            socket,
            batch,
            recv_buffers,
            recv_names,
            recv_iovs,
            recv_headers,
            queue: SendQueue::new(config.send_queue),
            send_headers: Vec::with_capacity(SENDMMSG_BATCH),
            send_counts: Vec::with_capacity(SENDMMSG_BATCH),
            gso,
            stats: DatagramIoStats::default(),
        })
    }

    /// One `recvmmsg` call; returns how many datagrams were delivered (0 when nothing was ready).
    fn recv_once(&mut self, on_datagram: &mut dyn FnMut(&[u8], SocketAddr)) -> io::Result<usize> {
        debug_assert_eq!(self.recv_iovs.len(), self.batch);
        for header in &mut self.recv_headers {
            // The kernel overwrites these per call; reset them to the full capacity.
            header.msg_hdr.msg_namelen = SOCKADDR_BYTES as libc::socklen_t;
            header.msg_hdr.msg_flags = 0;
        }
        // SAFETY: `recv_headers` points at `batch` iovecs, buffers and name storages owned by
        // `self` that outlive the call; the kernel writes at most the lengths given.
        let n = unsafe {
            libc::recvmmsg(
                self.socket.as_raw_fd(),
                self.recv_headers.as_mut_ptr(),
                self.batch as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::WouldBlock {
                return Ok(0);
            }
            self.stats.recv_errors += 1;
            return Err(e);
        }
        let mut delivered = 0;
        for i in 0..n as usize {
            let header = &self.recv_headers[i];
            if header.msg_hdr.msg_flags & libc::MSG_TRUNC != 0 {
                self.stats.recv_truncated += 1;
                continue;
            }
            let name_len = header.msg_hdr.msg_namelen as usize;
            // SAFETY: the kernel wrote `name_len` (≤ storage size) bytes of address.
            let name = unsafe {
                std::slice::from_raw_parts(
                    (&raw const self.recv_names[i]).cast::<u8>(),
                    name_len.min(SOCKADDR_BYTES),
                )
            };
            let Some(peer) = sockaddr_from_bytes(name) else {
                self.stats.recv_errors += 1;
                continue;
            };
            let len = header.msg_len as usize;
            self.stats.datagrams_received += 1;
            self.stats.bytes_received += len as u64;
            on_datagram(&self.recv_buffers[i][..len], peer);
            delivered += 1;
        }
        Ok(delivered)
    }
}

impl DatagramIo for MmsgDatagramIo {
    fn recv_batch(&mut self, timeout: Duration, on_datagram: &mut dyn FnMut(&[u8], SocketAddr)) -> io::Result<usize> {
        let mut pfd = libc::pollfd {
            fd: self.socket.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let timeout_ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd.
        let ready = unsafe { libc::poll(&raw mut pfd, 1, timeout_ms) };
        if ready <= 0 {
            return Ok(0);
        }
        let mut total = 0;
        // Drain what is there, bounded so a flood cannot starve the tick.
        for _ in 0..16 {
            let n = self.recv_once(on_datagram)?;
            total += n;
            if n < self.batch {
                break;
            }
        }
        Ok(total)
    }

    fn queue_send(&mut self, payload: &[u8], to: SocketAddr) -> bool {
        assert!(
            payload.len() <= DATAGRAM_BYTES_MAX,
            "datagram longer than DATAGRAM_BYTES_MAX"
        );
        if self.queue.is_full() {
            self.stats.sends_dropped_queue_full += 1;
            return false;
        }
        self.queue.push(payload, to);
        true
    }

    fn flush(&mut self) -> io::Result<()> {
        let queued = self.queue.len;
        let mut sent_from = 0;
        while sent_from < queued {
            // Up to a batch of messages, each one datagram or a GSO run. Both vectors have
            // capacity for a whole batch, so filling them never reallocates.
            self.send_headers.clear();
            self.send_counts.clear();
            let mut next = sent_from;
            while next < queued && self.send_headers.len() < SENDMMSG_BATCH {
                let count = self.queue.run_len(next, self.gso);
                let msg_hdr = self.queue.header(next, count, next);
                self.send_headers.push(libc::mmsghdr { msg_hdr, msg_len: 0 });
                self.send_counts.push(count);
                next += count;
            }
            // SAFETY: `send_headers` point at iovecs, payloads, addresses and control messages in
            // `self.queue` that outlive the call; the kernel only reads them.
            let n = unsafe {
                libc::sendmmsg(
                    self.socket.as_raw_fd(),
                    self.send_headers.as_mut_ptr(),
                    self.send_headers.len() as libc::c_uint,
                    0,
                )
            };
            if n <= 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::WouldBlock {
                    // Socket buffer full: what is left is dropped and counted, never waited on.
                    self.stats.send_errors += (queued - sent_from) as u64;
                    break;
                }
                let count = self.send_counts[0];
                if count > 1 && e.raw_os_error().is_some_and(is_gso_refusal) {
                    // This path cannot segment: stop trying and resend the run one by one.
                    self.gso = false;
                    self.stats.gso_fallbacks += 1;
                    continue;
                }
                // Skip the message the kernel refused (e.g. unreachable destination) and go on.
                self.stats.send_errors += count as u64;
                sent_from += count;
                continue;
            }
            for (header, &count) in self.send_headers[..n as usize].iter().zip(&self.send_counts) {
                self.stats.datagrams_sent += count as u64;
                self.stats.bytes_sent += u64::from(header.msg_len);
                if count > 1 {
                    self.stats.datagrams_sent_gso += count as u64;
                }
                sent_from += count;
            }
        }
        self.queue.clear();
        Ok(())
    }

    fn stats(&self) -> &DatagramIoStats {
        &self.stats
    }
}
