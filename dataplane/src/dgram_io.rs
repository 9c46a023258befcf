//! Batched datagram I/O for zone workers, with two interchangeable backends:
//!
//! - [`UringDatagramIo`]: one io_uring per worker, a single **multishot `recvmsg`** fed from a
//!   **provided-buffer ring** (the kernel picks a buffer per datagram, so one submission keeps
//!   receiving until it runs out of buffers), and sends queued as `SendMsg` operations from a bounded
//!   pool and submitted together in [`DatagramIo::flush`].
//! - [`MmsgDatagramIo`]: the portable path, `poll` + `recvmmsg` and `sendmmsg` in batches.
//!
//! Both follow "batch, don't react": a worker drains what arrived, runs its tick, queues replies and
//! flushes once. Both are bounded: a full send pool drops the datagram and counts it
//! (`sends_dropped_queue_full`), a full receive buffer ring makes the kernel drop and the worker
//! counts the `ENOBUFS` and re-arms.

use std::{
    io,
    mem::{size_of, zeroed},
    net::{SocketAddr, UdpSocket},
    os::fd::AsRawFd,
    sync::atomic::{AtomicU16, Ordering},
    time::Duration,
};

use io_uring::{IoUring, cqueue, opcode, types};
use socket2::SockAddr;

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
}

/// What a zone worker needs from its socket.
pub trait DatagramIo {
    /// Waits at most `timeout` for datagrams, then hands every datagram that has arrived to
    /// `on_datagram(payload, peer)`. Returns how many were delivered.
    fn recv_batch(
        &mut self,
        timeout: Duration,
        on_datagram: &mut dyn FnMut(&[u8], SocketAddr),
    ) -> io::Result<usize>;

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
    pub recv_buffers: usize,
    /// Datagrams that may be queued for sending between flushes.
    pub send_queue: usize,
}

impl Default for DatagramIoConfig {
    fn default() -> Self {
        Self { recv_buffers: 4096, send_queue: 4096 }
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

pub fn open(
    backend: IoBackend,
    socket: UdpSocket,
    config: &DatagramIoConfig,
) -> io::Result<Box<dyn DatagramIo>> {
    Ok(match backend {
        IoBackend::IoUring => Box::new(UringDatagramIo::new(socket, config)?),
        IoBackend::Mmsg => Box::new(MmsgDatagramIo::new(socket, config)?),
    })
}

const SOCKADDR_BYTES: usize = size_of::<libc::sockaddr_storage>();
/// Datagrams per `sendmmsg` call.
const SENDMMSG_BATCH: usize = 1024;

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

/// A datagram waiting to be sent: its own buffer, destination and message header, at a stable heap
/// address while the kernel holds pointers to it.
struct SendSlot {
    payload: [u8; DATAGRAM_BYTES_MAX],
    dest: libc::sockaddr_storage,
    iov: libc::iovec,
    msg: libc::msghdr,
}

impl SendSlot {
    fn new_boxed() -> Box<Self> {
        // SAFETY: all fields are plain old data for which all-zero is valid; pointers are set in
        // `fill` before the slot is used.
        Box::new(unsafe { zeroed() })
    }

    fn fill(&mut self, payload: &[u8], to: SocketAddr) {
        debug_assert!(payload.len() <= DATAGRAM_BYTES_MAX);
        self.payload[..payload.len()].copy_from_slice(payload);
        let to = SockAddr::from(to);
        // SAFETY: `to.len()` ≤ size_of::<sockaddr_storage>() by construction of `SockAddr`.
        unsafe {
            std::ptr::copy_nonoverlapping(
                to.as_ptr().cast::<u8>(),
                (&raw mut self.dest).cast::<u8>(),
                to.len() as usize,
            );
        }
        self.iov = libc::iovec { iov_base: self.payload.as_mut_ptr().cast(), iov_len: payload.len() };
        self.msg.msg_name = (&raw mut self.dest).cast();
        self.msg.msg_namelen = to.len();
        self.msg.msg_iov = &raw mut self.iov;
        self.msg.msg_iovlen = 1;
    }
}

/// Page-aligned memory for a provided-buffer ring plus the buffers it hands out.
struct ProvidedBufferRing {
    entries: *mut types::BufRingEntry,
    entries_layout: std::alloc::Layout,
    buffers: Vec<u8>,
    count: u16,
    tail: u16,
}

impl ProvidedBufferRing {
    fn new(count: usize) -> io::Result<Self> {
        if !count.is_power_of_two() || count > 32768 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "recv_buffers must be a power of two ≤ 32768"));
        }
        let layout = std::alloc::Layout::from_size_align(count * size_of::<types::BufRingEntry>(), 4096)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        // SAFETY: the layout has a non-zero size (count ≥ 1).
        let entries = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<types::BufRingEntry>();
        if entries.is_null() {
            return Err(io::Error::new(io::ErrorKind::OutOfMemory, "buffer ring"));
        }
        let mut ring = Self {
            entries,
            entries_layout: layout,
            buffers: vec![0u8; count * DATAGRAM_BYTES_MAX],
            count: count as u16,
            tail: 0,
        };
        for bid in 0..count as u16 {
            ring.push(bid);
        }
        ring.publish();
        Ok(ring)
    }

    fn buffer(&self, bid: u16) -> &[u8] {
        let start = usize::from(bid) * DATAGRAM_BYTES_MAX;
        &self.buffers[start..start + DATAGRAM_BYTES_MAX]
    }

    /// Writes buffer `bid` into the next ring slot; visible to the kernel after `publish`.
    fn push(&mut self, bid: u16) {
        let index = usize::from(self.tail & (self.count - 1));
        let addr = self.buffers.as_ptr() as u64 + u64::from(bid) * DATAGRAM_BYTES_MAX as u64;
        // SAFETY: `index` < count, the number of entries allocated.
        let entry = unsafe { &mut *self.entries.add(index) };
        entry.set_addr(addr);
        entry.set_len(DATAGRAM_BYTES_MAX as u32);
        entry.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
    }

    /// Publishes the tail, handing every pushed buffer to the kernel.
    fn publish(&self) {
        // SAFETY: `entries` is the page-aligned base of an initialised ring; the tail field lives
        // inside entry 0 and is only written here (by this thread) and read by the kernel.
        let tail = unsafe { &*types::BufRingEntry::tail(self.entries).cast::<AtomicU16>() };
        tail.store(self.tail, Ordering::Release);
    }
}

impl Drop for ProvidedBufferRing {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { std::alloc::dealloc(self.entries.cast(), self.entries_layout) };
    }
}

const BUFFER_GROUP: u16 = 0;
const UD_RECV: u64 = u64::MAX;
const UD_CANCEL: u64 = u64::MAX - 1;

/// io_uring backend: multishot recvmsg over a provided-buffer ring, pooled batched sends.
pub struct UringDatagramIo {
    // Field order matters for drop: the ring (and with it every kernel reference) goes first.
    ring: IoUring,
    socket: UdpSocket,
    buffers: ProvidedBufferRing,
    /// Template header for the multishot receive: only `msg_namelen` is read by the kernel.
    recv_msg: Box<libc::msghdr>,
    recv_armed: bool,
    send_slots: Vec<Box<SendSlot>>,
    free_send_slots: Vec<u32>,
    sends_in_flight: usize,
    stats: DatagramIoStats,
}

impl UringDatagramIo {
    pub fn new(socket: UdpSocket, config: &DatagramIoConfig) -> io::Result<Self> {
        assert!(config.send_queue > 0 && config.send_queue < u32::MAX as usize);
        let sq_entries = (config.send_queue + 8).next_power_of_two() as u32;
        // The completion queue must hold a burst of receives plus every send completion, or the
        // multishot receive ends early on overflow.
        let cq_entries = (config.recv_buffers + config.send_queue).next_power_of_two() as u32 * 2;
        // Single issuer + deferred task running: completions are processed only when this thread
        // waits for them, in one batch, instead of interrupting it (kernel 6.1+).
        let ring = IoUring::builder()
            .setup_cqsize(cq_entries)
            .setup_single_issuer()
            .setup_defer_taskrun()
            .build(sq_entries)?;
        let buffers = ProvidedBufferRing::new(config.recv_buffers)?;
        // SAFETY: the ring memory is page aligned, holds `count` initialised entries and lives in
        // `self.buffers`, which is dropped after `self.ring` (field order), i.e. after the
        // registration ends with the ring.
        unsafe {
            ring.submitter().register_buf_ring_with_flags(buffers.entries as u64, buffers.count, BUFFER_GROUP, 0)?;
        }
        // SAFETY: msghdr is plain old data; all-zero is valid.
        let mut recv_msg: Box<libc::msghdr> = Box::new(unsafe { zeroed() });
        recv_msg.msg_namelen = SOCKADDR_BYTES as libc::socklen_t;
        Ok(Self {
            ring,
            socket,
            buffers,
            recv_msg,
            recv_armed: false,
            send_slots: (0..config.send_queue).map(|_| SendSlot::new_boxed()).collect(),
            free_send_slots: (0..config.send_queue as u32).rev().collect(),
            sends_in_flight: 0,
            stats: DatagramIoStats::default(),
        })
    }

    fn arm_recv(&mut self) -> io::Result<()> {
        let entry = opcode::RecvMsgMulti::new(
            types::Fd(self.socket.as_raw_fd()),
            &raw const *self.recv_msg,
            BUFFER_GROUP,
        )
        .build()
        .user_data(UD_RECV);
        self.push_sqe(&entry)?;
        self.recv_armed = true;
        Ok(())
    }

    fn push_sqe(&mut self, entry: &io_uring::squeue::Entry) -> io::Result<()> {
        loop {
            // SAFETY: every entry points at memory owned by `self` (the receive header, the
            // buffer ring, boxed send slots) that outlives the ring (see field order and Drop).
            if unsafe { self.ring.submission().push(entry) }.is_ok() {
                return Ok(());
            }
            self.ring.submit()?;
        }
    }

    fn drain(&mut self, on_datagram: &mut dyn FnMut(&[u8], SocketAddr)) -> usize {
        let mut delivered = 0;
        let mut recycled = false;
        // Collect first: handling a completion must not hold the completion queue borrowed.
        let completions: Vec<(u64, i32, u32)> =
            self.ring.completion().map(|c: cqueue::Entry| (c.user_data(), c.result(), c.flags())).collect();
        for (user_data, result, flags) in completions {
            match user_data {
                UD_CANCEL => {}
                UD_RECV => {
                    if !cqueue::more(flags) {
                        self.recv_armed = false;
                    }
                    if result < 0 {
                        if result == -libc::ENOBUFS {
                            self.stats.recv_no_buffers += 1;
                        } else if result != -libc::ECANCELED {
                            self.stats.recv_errors += 1;
                        }
                        continue;
                    }
                    let Some(bid) = cqueue::buffer_select(flags) else {
                        self.stats.recv_errors += 1;
                        continue;
                    };
                    let buffer = &self.buffers.buffer(bid)[..result as usize];
                    match types::RecvMsgOut::parse(buffer, &self.recv_msg) {
                        Ok(out) if out.is_payload_truncated() => self.stats.recv_truncated += 1,
                        Ok(out) => match sockaddr_from_bytes(out.name_data()) {
                            Some(peer) => {
                                self.stats.datagrams_received += 1;
                                self.stats.bytes_received += out.payload_data().len() as u64;
                                on_datagram(out.payload_data(), peer);
                                delivered += 1;
                            }
                            None => self.stats.recv_errors += 1,
                        },
                        Err(()) => self.stats.recv_errors += 1,
                    }
                    self.buffers.push(bid);
                    recycled = true;
                }
                slot => {
                    self.sends_in_flight -= 1;
                    self.free_send_slots.push(slot as u32);
                    if result < 0 {
                        self.stats.send_errors += 1;
                    } else {
                        self.stats.datagrams_sent += 1;
                        self.stats.bytes_sent += result as u64;
                    }
                }
            }
        }
        if recycled {
            self.buffers.publish();
        }
        delivered
    }
}

impl DatagramIo for UringDatagramIo {
    fn recv_batch(
        &mut self,
        timeout: Duration,
        on_datagram: &mut dyn FnMut(&[u8], SocketAddr),
    ) -> io::Result<usize> {
        if !self.recv_armed {
            if self.stats.datagrams_received > 0 || self.stats.recv_no_buffers > 0 {
                self.stats.recv_rearmed += 1;
            }
            self.arm_recv()?;
        }
        let timespec = types::Timespec::from(timeout);
        let args = types::SubmitArgs::new().timespec(&timespec);
        match self.ring.submitter().submit_with_args(1, &args) {
            Ok(_) => {}
            Err(e) if matches!(e.raw_os_error(), Some(libc::ETIME | libc::EINTR | libc::EBUSY)) => {}
            Err(e) => return Err(e),
        }
        Ok(self.drain(on_datagram))
    }

    fn queue_send(&mut self, payload: &[u8], to: SocketAddr) -> bool {
        assert!(payload.len() <= DATAGRAM_BYTES_MAX, "datagram longer than DATAGRAM_BYTES_MAX");
        let Some(slot) = self.free_send_slots.pop() else {
            self.stats.sends_dropped_queue_full += 1;
            return false;
        };
        let send = &mut self.send_slots[slot as usize];
        send.fill(payload, to);
        let entry = opcode::SendMsg::new(types::Fd(self.socket.as_raw_fd()), &raw const send.msg)
            .build()
            .user_data(u64::from(slot));
        if self.push_sqe(&entry).is_err() {
            self.free_send_slots.push(slot);
            self.stats.send_errors += 1;
            return false;
        }
        self.sends_in_flight += 1;
        true
    }

    fn flush(&mut self) -> io::Result<()> {
        // Send completions are reaped (and their slots freed) by the next `recv_batch`, which a
        // worker calls every loop; reaping here would also deliver receives outside the batch.
        self.ring.submit()?;
        Ok(())
    }

    fn stats(&self) -> &DatagramIoStats {
        &self.stats
    }
}

impl Drop for UringDatagramIo {
    fn drop(&mut self) {
        // Cancel the multishot receive and wait for every operation that may still touch our
        // memory; only then may the buffers and send slots be freed.
        let cancel = opcode::AsyncCancel::new(UD_RECV).build().user_data(UD_CANCEL);
        if self.recv_armed && self.push_sqe(&cancel).is_err() {
            std::mem::forget(std::mem::take(&mut self.send_slots));
            return;
        }
        let mut ignore = |_: &[u8], _: SocketAddr| {};
        let mut rounds = 0;
        while (self.recv_armed || self.sends_in_flight > 0) && rounds < 1000 {
            rounds += 1;
            if self.ring.submit_and_wait(1).is_err() {
                break;
            }
            self.drain(&mut ignore);
        }
        if self.recv_armed || self.sends_in_flight > 0 {
            // The kernel may still write: leak rather than free memory in use.
            std::mem::forget(std::mem::take(&mut self.send_slots));
            std::mem::forget(std::mem::replace(&mut self.buffers.buffers, Vec::new()));
        }
    }
}

/// Portable backend: `poll` + `recvmmsg`, `sendmmsg`.
pub struct MmsgDatagramIo {
    socket: UdpSocket,
    batch: usize,
    recv_buffers: Vec<[u8; DATAGRAM_BYTES_MAX]>,
    recv_names: Vec<libc::sockaddr_storage>,
    // Point into `recv_buffers` / `recv_names`, whose heap storage never moves (never resized).
    recv_iovs: Vec<libc::iovec>,
    recv_headers: Vec<libc::mmsghdr>,
    send_queue: Vec<(SockAddr, usize)>,
    send_payloads: Vec<[u8; DATAGRAM_BYTES_MAX]>,
    send_queue_max: usize,
    // Rebuilt per `sendmmsg` call; allocated once with room for a whole batch.
    send_iovs: Vec<libc::iovec>,
    send_headers: Vec<libc::mmsghdr>,
    stats: DatagramIoStats,
}

impl MmsgDatagramIo {
    pub fn new(socket: UdpSocket, config: &DatagramIoConfig) -> io::Result<Self> {
        socket.set_nonblocking(true)?;
        let batch = config.recv_buffers.clamp(1, 1024);
        let mut recv_buffers = vec![[0u8; DATAGRAM_BYTES_MAX]; batch];
        // SAFETY: plain old data; all-zero is valid.
        let mut recv_names: Vec<libc::sockaddr_storage> = vec![unsafe { zeroed() }; batch];
        let mut recv_iovs: Vec<libc::iovec> = recv_buffers
            .iter_mut()
            .map(|b| libc::iovec { iov_base: b.as_mut_ptr().cast(), iov_len: DATAGRAM_BYTES_MAX })
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
            send_queue: Vec::with_capacity(config.send_queue),
            send_payloads: vec![[0u8; DATAGRAM_BYTES_MAX]; config.send_queue],
            send_queue_max: config.send_queue,
            send_iovs: Vec::with_capacity(SENDMMSG_BATCH),
            send_headers: Vec::with_capacity(SENDMMSG_BATCH),
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
                std::slice::from_raw_parts((&raw const self.recv_names[i]).cast::<u8>(), name_len.min(SOCKADDR_BYTES))
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
    fn recv_batch(
        &mut self,
        timeout: Duration,
        on_datagram: &mut dyn FnMut(&[u8], SocketAddr),
    ) -> io::Result<usize> {
        let mut pfd = libc::pollfd { fd: self.socket.as_raw_fd(), events: libc::POLLIN, revents: 0 };
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
        assert!(payload.len() <= DATAGRAM_BYTES_MAX, "datagram longer than DATAGRAM_BYTES_MAX");
        if self.send_queue.len() >= self.send_queue_max {
            self.stats.sends_dropped_queue_full += 1;
            return false;
        }
        let index = self.send_queue.len();
        self.send_payloads[index][..payload.len()].copy_from_slice(payload);
        self.send_queue.push((SockAddr::from(to), payload.len()));
        true
    }

    fn flush(&mut self) -> io::Result<()> {
        let mut sent_from = 0;
        while sent_from < self.send_queue.len() {
            let chunk = &self.send_queue[sent_from..];
            let chunk_len = chunk.len().min(SENDMMSG_BATCH);
            // Both vectors have capacity for a whole batch: filling them never reallocates, so the
            // headers' pointers into `send_iovs` stay valid.
            self.send_iovs.clear();
            self.send_iovs.extend((0..chunk_len).map(|i| libc::iovec {
                iov_base: self.send_payloads[sent_from + i].as_mut_ptr().cast(),
                iov_len: chunk[i].1,
            }));
            self.send_headers.clear();
            let iovs = self.send_iovs.as_mut_ptr();
            self.send_headers.extend((0..chunk_len).map(|i| {
                // SAFETY: plain old data; all-zero is valid; pointers set right below.
                let mut h: libc::mmsghdr = unsafe { zeroed() };
                h.msg_hdr.msg_name = chunk[i].0.as_ptr() as *mut libc::c_void;
                h.msg_hdr.msg_namelen = chunk[i].0.len();
                // SAFETY: `i < chunk_len == send_iovs.len()`.
                h.msg_hdr.msg_iov = unsafe { iovs.add(i) };
                h.msg_hdr.msg_iovlen = 1;
                h
            }));
            // SAFETY: `send_headers` points at `chunk_len` valid iovecs, payloads and addresses
            // that outlive the call; the kernel only reads them.
            let n = unsafe {
                libc::sendmmsg(self.socket.as_raw_fd(), self.send_headers.as_mut_ptr(), chunk_len as libc::c_uint, 0)
            };
            if n <= 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::WouldBlock {
                    // Socket buffer full: what is left is dropped and counted, never waited on.
                    self.stats.send_errors += (self.send_queue.len() - sent_from) as u64;
                    break;
                }
                // Skip the datagram the kernel refused (e.g. unreachable destination) and go on.
                self.stats.send_errors += 1;
                sent_from += 1;
                continue;
            }
            for header in &self.send_headers[..n as usize] {
                self.stats.datagrams_sent += 1;
                self.stats.bytes_sent += u64::from(header.msg_len);
            }
            sent_from += n as usize;
        }
        self.send_queue.clear();
        Ok(())
    }

    fn stats(&self) -> &DatagramIoStats {
        &self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn pair(backend: IoBackend, config: &DatagramIoConfig) -> (Box<dyn DatagramIo>, SocketAddr, UdpSocket) {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = socket.local_addr().unwrap();
        let io = open(backend, socket, config).unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        (io, addr, client)
    }

    /// Receives until `want` datagrams arrived or 5 s passed; returns (payload, peer) pairs.
    fn receive(io: &mut dyn DatagramIo, want: usize) -> Vec<(Vec<u8>, SocketAddr)> {
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(5);
        while got.len() < want && Instant::now() < deadline {
            io.recv_batch(Duration::from_millis(20), &mut |payload, peer| got.push((payload.to_vec(), peer)))
                .unwrap();
        }
        got
    }

    fn echo_round_trip(backend: IoBackend) {
        let (mut io, addr, client) = pair(backend, &DatagramIoConfig { recv_buffers: 64, send_queue: 64 });
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
            io.recv_batch(Duration::from_millis(1), &mut |_, _| panic!("nothing else was sent")).unwrap();
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

    #[test]
    fn uring_multishot_rearms_when_the_buffer_ring_runs_dry() {
        // Four provided buffers for 200 datagrams: the multishot receive ends with ENOBUFS and must
        // be re-armed; the datagrams wait in the socket buffer meanwhile, so none is lost.
        let (mut io, addr, client) = pair(IoBackend::IoUring, &DatagramIoConfig { recv_buffers: 4, send_queue: 4 });
        io.recv_batch(Duration::from_millis(1), &mut |_, _| {}).unwrap(); // arm
        for i in 0..200u32 {
            client.send_to(&i.to_le_bytes(), addr).unwrap();
        }
        let got = receive(io.as_mut(), 200);
        let mut seqs: Vec<u32> = got.iter().map(|(p, _)| u32::from_le_bytes(p[..4].try_into().unwrap())).collect();
        seqs.sort();
        assert_eq!(seqs, (0..200).collect::<Vec<_>>());
        assert!(io.stats().recv_rearmed > 0, "stats: {:?}", io.stats());
    }

    #[test]
    fn full_send_queue_drops_and_counts() {
        for backend in [IoBackend::IoUring, IoBackend::Mmsg] {
            let (mut io, _addr, client) = pair(backend, &DatagramIoConfig { recv_buffers: 4, send_queue: 2 });
            let to = client.local_addr().unwrap();
            assert!(io.queue_send(b"a", to));
            assert!(io.queue_send(b"b", to));
            assert!(!io.queue_send(b"c", to), "{backend:?}: third send must not fit");
            assert_eq!(io.stats().sends_dropped_queue_full, 1);
            io.flush().unwrap();
        }
    }
}
