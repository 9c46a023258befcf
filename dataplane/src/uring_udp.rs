//! An io_uring-driven UDP responder: one socket and one ring per worker thread.
//!
//! The worker keeps `recv_slots` `RecvMsg` operations in flight, each owning a receive buffer, a
//! reply buffer and the peer address. When a datagram arrives the handler may write a reply into the
//! slot's reply buffer; the slot then sends it with `SendMsg` and is re-armed for receiving once the
//! send completes, so a slot's buffers are never shared between two in-flight operations. The loop
//! wakes at least every `poll_interval` to look at the stop flag, and on stop cancels everything in
//! flight and waits for the kernel to hand every buffer back before the memory is freed.
//!
//! This is the issue-2 shape of the worker (fixed recv slots); multishot recvmsg with a provided
//! buffer ring and batched/GSO sends replace it when the zone workers land.

use std::{
    io,
    mem::{size_of, zeroed},
    net::{SocketAddr, UdpSocket},
    os::fd::AsRawFd,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use io_uring::{IoUring, cqueue, opcode, squeue, types};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

/// Largest datagram a worker accepts or sends. Game datagrams are at most 1200 bytes (DESIGN.md);
/// the slack lets oversized input be received whole and counted as such instead of truncated.
pub const DATAGRAM_BYTES_MAX: usize = 2048;
/// Upper bound on receive slots per worker (each slot holds two datagram buffers).
pub const RECV_SLOTS_MAX: usize = 4096;

/// Counters a worker updates and anyone may read while it runs.
#[derive(Debug, Default)]
pub struct UdpWorkerStats {
    pub datagrams_received: AtomicU64,
    pub datagrams_sent: AtomicU64,
    /// Datagrams the handler declined to answer (malformed or not for us).
    pub datagrams_unanswered: AtomicU64,
    /// Datagrams longer than [`DATAGRAM_BYTES_MAX`] (the kernel truncated them); dropped.
    pub datagrams_truncated: AtomicU64,
    pub recv_errors: AtomicU64,
    pub send_errors: AtomicU64,
}

/// Settings of one responder.
#[derive(Debug, Clone)]
pub struct UringUdpConfig {
    pub recv_slots: usize,
    pub poll_interval: Duration,
}

impl Default for UringUdpConfig {
    fn default() -> Self {
        Self { recv_slots: 64, poll_interval: Duration::from_millis(50) }
    }
}

/// Binds a UDP socket with `SO_REUSEPORT`, so several workers can share one address and the kernel
/// spreads flows across them.
pub fn bind_reuseport(addr: SocketAddr) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_port(true)?;
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

/// One receive slot. Boxed and never moved while operations are in flight: the kernel holds raw
/// pointers to its buffers, address and message headers.
struct Slot {
    recv_buf: [u8; DATAGRAM_BYTES_MAX],
    send_buf: [u8; DATAGRAM_BYTES_MAX],
    peer: libc::sockaddr_storage,
    recv_iov: libc::iovec,
    send_iov: libc::iovec,
    recv_msg: libc::msghdr,
    send_msg: libc::msghdr,
}

impl Slot {
    fn new_boxed() -> Box<Slot> {
        // SAFETY: every field is plain old data (byte arrays, C structs of integers and pointers)
        // for which all-zero is a valid value; the pointers are filled in by `wire` before use.
        let mut slot: Box<Slot> = Box::new(unsafe { zeroed() });
        slot.wire();
        slot
    }

    /// Points the message headers at this slot's own buffers. Called once the slot sits at its final
    /// heap address.
    fn wire(&mut self) {
        self.recv_iov = libc::iovec {
            iov_base: self.recv_buf.as_mut_ptr().cast(),
            iov_len: DATAGRAM_BYTES_MAX,
        };
        self.recv_msg.msg_name = (&raw mut self.peer).cast();
        self.recv_msg.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        self.recv_msg.msg_iov = &raw mut self.recv_iov;
        self.recv_msg.msg_iovlen = 1;
        self.send_iov = libc::iovec { iov_base: self.send_buf.as_mut_ptr().cast(), iov_len: 0 };
        self.send_msg.msg_name = (&raw mut self.peer).cast();
        self.send_msg.msg_iov = &raw mut self.send_iov;
        self.send_msg.msg_iovlen = 1;
    }

    fn peer_addr(&self) -> Option<SocketAddr> {
        // SAFETY: `peer` is a `sockaddr_storage` the kernel filled for the completed receive and
        // `msg_namelen` is the length it reported, bounded by the storage size.
        let addr = unsafe { SockAddr::new(self.peer, self.recv_msg.msg_namelen) };
        addr.as_socket()
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Op {
    Recv = 0,
    Send = 1,
    Cancel = 2,
}

fn user_data(slot: usize, op: Op) -> u64 {
    ((slot as u64) << 2) | op as u64
}

fn decode_user_data(data: u64) -> (usize, Op) {
    let op = match data & 0b11 {
        0 => Op::Recv,
        1 => Op::Send,
        _ => Op::Cancel,
    };
    ((data >> 2) as usize, op)
}

/// A UDP socket served by its own io_uring instance. Not `Send`: it lives on the worker thread that
/// creates it (the kernel holds pointers into its slots).
pub struct UringUdpResponder {
    socket: UdpSocket,
    ring: IoUring,
    slots: Vec<Box<Slot>>,
    in_flight: usize,
    stats: Arc<UdpWorkerStats>,
    poll_interval: Duration,
    completions: Vec<(u64, i32)>,
}

impl UringUdpResponder {
    pub fn new(
        socket: UdpSocket,
        config: &UringUdpConfig,
        stats: Arc<UdpWorkerStats>,
    ) -> io::Result<Self> {
        assert!(config.recv_slots > 0, "a responder needs at least one receive slot");
        assert!(config.recv_slots <= RECV_SLOTS_MAX, "too many receive slots");
        // Each slot has at most one operation in flight, plus one cancel each at shutdown.
        let entries = (2 * config.recv_slots).next_power_of_two() as u32;
        let ring = IoUring::builder().setup_cqsize(2 * entries).build(entries)?;
        let slots = (0..config.recv_slots).map(|_| Slot::new_boxed()).collect();
        Ok(Self {
            socket,
            ring,
            slots,
            in_flight: 0,
            stats,
            poll_interval: config.poll_interval,
            completions: Vec::with_capacity(2 * entries as usize),
        })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Serves datagrams until `stop` is set. For each datagram, `handler(payload, peer, reply)`
    /// returns the length of the reply it wrote into `reply`, or `None` to send nothing.
    pub fn run<H>(&mut self, stop: &AtomicBool, mut handler: H) -> io::Result<()>
    where
        H: FnMut(&[u8], SocketAddr, &mut [u8]) -> Option<usize>,
    {
        for slot in 0..self.slots.len() {
            self.push_recv(slot)?;
        }
        let timeout = types::Timespec::from(self.poll_interval);
        let args = types::SubmitArgs::new().timespec(&timeout);
        let result = loop {
            if stop.load(Ordering::Relaxed) {
                break Ok(());
            }
            match self.ring.submitter().submit_with_args(1, &args) {
                Ok(_) => {}
                Err(e) if matches!(e.raw_os_error(), Some(libc::ETIME | libc::EINTR)) => {}
                Err(e) => break Err(e),
            }
            if let Err(e) = self.drain_completions(&mut handler) {
                break Err(e);
            }
        };
        self.cancel_all_and_wait();
        result
    }

    fn drain_completions<H>(&mut self, handler: &mut H) -> io::Result<()>
    where
        H: FnMut(&[u8], SocketAddr, &mut [u8]) -> Option<usize>,
    {
        // Batch: take every ready completion first, then act on each (re-arming pushes new SQEs).
        self.completions.clear();
        self.completions
            .extend(self.ring.completion().map(|c: cqueue::Entry| (c.user_data(), c.result())));
        for i in 0..self.completions.len() {
            let (data, result) = self.completions[i];
            let (slot, op) = decode_user_data(data);
            match op {
                Op::Cancel => {}
                Op::Recv => {
                    self.in_flight -= 1;
                    self.on_recv(slot, result, handler)?;
                }
                Op::Send => {
                    self.in_flight -= 1;
                    if result < 0 {
                        self.stats.send_errors.fetch_add(1, Ordering::Relaxed);
                    } else {
                        self.stats.datagrams_sent.fetch_add(1, Ordering::Relaxed);
                    }
                    self.push_recv(slot)?;
                }
            }
        }
        Ok(())
    }

    fn on_recv<H>(&mut self, slot_index: usize, result: i32, handler: &mut H) -> io::Result<()>
    where
        H: FnMut(&[u8], SocketAddr, &mut [u8]) -> Option<usize>,
    {
        if result < 0 {
            self.stats.recv_errors.fetch_add(1, Ordering::Relaxed);
            return self.push_recv(slot_index);
        }
        self.stats.datagrams_received.fetch_add(1, Ordering::Relaxed);
        let slot = &mut self.slots[slot_index];
        if slot.recv_msg.msg_flags & libc::MSG_TRUNC != 0 {
            self.stats.datagrams_truncated.fetch_add(1, Ordering::Relaxed);
            return self.push_recv(slot_index);
        }
        let len = result as usize;
        debug_assert!(len <= DATAGRAM_BYTES_MAX);
        let reply_len = match slot.peer_addr() {
            Some(peer) => handler(&slot.recv_buf[..len], peer, &mut slot.send_buf),
            None => None,
        };
        match reply_len {
            Some(reply_len) => {
                assert!(reply_len <= DATAGRAM_BYTES_MAX, "handler reply longer than a datagram");
                slot.send_iov.iov_len = reply_len;
                slot.send_msg.msg_namelen = slot.recv_msg.msg_namelen;
                let entry = opcode::SendMsg::new(
                    types::Fd(self.socket.as_raw_fd()),
                    &raw const slot.send_msg,
                )
                .build()
                .user_data(user_data(slot_index, Op::Send));
                self.push(entry)
            }
            None => {
                self.stats.datagrams_unanswered.fetch_add(1, Ordering::Relaxed);
                self.push_recv(slot_index)
            }
        }
    }

    fn push_recv(&mut self, slot_index: usize) -> io::Result<()> {
        let slot = &mut self.slots[slot_index];
        // The kernel overwrites these on each receive; reset them to the full capacity.
        slot.recv_msg.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        slot.recv_msg.msg_flags = 0;
        let entry = opcode::RecvMsg::new(types::Fd(self.socket.as_raw_fd()), &raw mut slot.recv_msg)
            .build()
            .user_data(user_data(slot_index, Op::Recv));
        self.push(entry)
    }

    fn push(&mut self, entry: squeue::Entry) -> io::Result<()> {
        let is_cancel = decode_user_data(entry.get_user_data()).1 == Op::Cancel;
        loop {
            // SAFETY: every entry pushed here points into a boxed `Slot` owned by `self.slots`,
            // which is neither moved nor freed until `cancel_all_and_wait` has seen the completion
            // of every operation in flight.
            let pushed = unsafe { self.ring.submission().push(&entry) };
            if pushed.is_ok() {
                break;
            }
            // Queue full: hand what is queued to the kernel and retry. The ring is sized for every
            // slot to have an operation and a cancel queued at once, so this is rare.
            self.ring.submit()?;
        }
        if !is_cancel {
            self.in_flight += 1;
        }
        Ok(())
    }

    /// Cancels every operation still in flight and waits for the kernel to complete all of them, so
    /// no buffer is freed while the kernel may still write into it.
    fn cancel_all_and_wait(&mut self) {
        if self.in_flight == 0 {
            return;
        }
        for slot in 0..self.slots.len() {
            for op in [Op::Recv, Op::Send] {
                let entry = opcode::AsyncCancel::new(user_data(slot, op))
                    .build()
                    .user_data(user_data(slot, Op::Cancel));
                if self.push(entry).is_err() {
                    break;
                }
            }
        }
        while self.in_flight > 0 {
            if self.ring.submit_and_wait(1).is_err() {
                // The ring is unusable; leak the slots rather than free memory the kernel may use.
                std::mem::forget(std::mem::take(&mut self.slots));
                return;
            }
            self.completions.clear();
            self.completions.extend(self.ring.completion().map(|c| (c.user_data(), c.result())));
            for &(data, _) in &self.completions {
                if decode_user_data(data).1 != Op::Cancel {
                    self.in_flight -= 1;
                }
            }
        }
    }
}
