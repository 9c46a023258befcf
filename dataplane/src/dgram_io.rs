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
        Self { recv_buffers: 256, send_queue: 4096, sqpoll_idle_ms: 0, udp_gso: true, recv_min_wait_us: 0 }
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

/// Most segments one UDP GSO send may carry (the kernel's `UDP_MAX_SEGMENTS`).
const GSO_SEGMENTS_MAX: usize = 64;
/// Most payload bytes one UDP GSO send may carry (an IPv4 datagram's payload limit).
const GSO_BYTES_MAX: usize = 65_507;
/// Largest segment coalesced: a segment must fit the path MTU with its headers (1500-byte
/// Ethernet, IPv6 + UDP headers), or the kernel refuses the whole send with `EINVAL`.
const GSO_SEGMENT_BYTES_MAX: usize = 1452;
/// `CMSG_SPACE(sizeof(u16))` rounded up: room for one `UDP_SEGMENT` control message.
const GSO_CMSG_BYTES: usize = 32;

/// Whether the kernel knows `UDP_SEGMENT` (Linux 4.18+): reading the option succeeds.
fn udp_gso_supported(socket: &UdpSocket) -> bool {
    let mut value: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: valid out-pointers of the stated length.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_UDP,
            libc::UDP_SEGMENT,
            (&raw mut value).cast(),
            &raw mut len,
        )
    };
    rc == 0
}

/// Whether a failed GSO send means "this path cannot segment" (fall back to one datagram per
/// send) rather than an ordinary send error.
fn is_gso_refusal(errno: i32) -> bool {
    errno == libc::EIO || errno == libc::EINVAL
}

/// Room for one `UDP_SEGMENT` control message, aligned as `cmsghdr` requires.
#[repr(C, align(8))]
#[derive(Clone, Copy)]
struct GsoCmsg([u8; GSO_CMSG_BYTES]);

/// Datagrams queued between flushes: payloads, destinations and one iovec each, in vectors that are
/// allocated once at their full length and never resized, so pointers into them stay valid while the
/// kernel holds them.
struct SendQueue {
    payloads: Vec<[u8; DATAGRAM_BYTES_MAX]>,
    names: Vec<libc::sockaddr_storage>,
    name_lens: Vec<libc::socklen_t>,
    peers: Vec<SocketAddr>,
    /// `iovs[i]` points at `payloads[i]`; a GSO send uses a run of consecutive iovecs.
    iovs: Vec<libc::iovec>,
    /// One control message per message header (a message never holds more than one).
    cmsgs: Vec<GsoCmsg>,
    len: usize,
}

impl SendQueue {
    fn new(capacity: usize) -> Self {
        assert!(capacity > 0);
        let mut payloads = vec![[0u8; DATAGRAM_BYTES_MAX]; capacity];
        let iovs = payloads
            .iter_mut()
            .map(|p| libc::iovec { iov_base: p.as_mut_ptr().cast(), iov_len: 0 })
            .collect();
        Self {
            payloads,
            // SAFETY: plain old data; all-zero is valid.
            names: vec![unsafe { zeroed() }; capacity],
            name_lens: vec![0; capacity],
            peers: vec![SocketAddr::from(([0, 0, 0, 0], 0)); capacity],
            iovs,
            cmsgs: vec![GsoCmsg([0; GSO_CMSG_BYTES]); capacity],
            len: 0,
        }
    }

    /// A queue without storage, left behind when a queue the kernel may still read is leaked.
    fn empty() -> Self {
        Self {
            payloads: Vec::new(),
            names: Vec::new(),
            name_lens: Vec::new(),
            peers: Vec::new(),
            iovs: Vec::new(),
            cmsgs: Vec::new(),
            len: 0,
        }
    }

    fn capacity(&self) -> usize {
        self.payloads.len()
    }

    fn is_full(&self) -> bool {
        self.len == self.capacity()
    }

    fn push(&mut self, payload: &[u8], to: SocketAddr) {
        debug_assert!(!self.is_full());
        debug_assert!(payload.len() <= DATAGRAM_BYTES_MAX);
        let i = self.len;
        self.payloads[i][..payload.len()].copy_from_slice(payload);
        self.iovs[i].iov_len = payload.len();
        let name = SockAddr::from(to);
        // SAFETY: `name.len()` ≤ size_of::<sockaddr_storage>() by construction of `SockAddr`.
        unsafe {
            std::ptr::copy_nonoverlapping(
                name.as_ptr().cast::<u8>(),
                (&raw mut self.names[i]).cast::<u8>(),
                name.len() as usize,
            );
        }
        self.name_lens[i] = name.len();
        self.peers[i] = to;
        self.len += 1;
    }

    fn datagram_len(&self, i: usize) -> usize {
        self.iovs[i].iov_len
    }

    fn bytes(&self, from: usize, count: usize) -> u64 {
        self.iovs[from..from + count].iter().map(|iov| iov.iov_len as u64).sum()
    }

    /// How many datagrams from `from` on go in the next message: a run to the same peer whose sizes
    /// all equal the first (the last may be shorter), within the kernel's GSO limits; 1 without GSO.
    fn run_len(&self, from: usize, gso: bool) -> usize {
        debug_assert!(from < self.len);
        let segment = self.datagram_len(from);
        if !gso || segment == 0 || segment > GSO_SEGMENT_BYTES_MAX {
            return 1;
        }
        let mut count = 1;
        let mut bytes = segment;
        while from + count < self.len && count < GSO_SEGMENTS_MAX {
            let next = from + count;
            let len = self.datagram_len(next);
            if self.peers[next] != self.peers[from] || len > segment || len == 0 || bytes + len > GSO_BYTES_MAX {
                break;
            }
            count += 1;
            bytes += len;
            if len < segment {
                break; // a shorter segment can only be the last
            }
        }
        count
    }

    /// A message header sending datagrams `from..from + count` to their (common) peer, with a
    /// `UDP_SEGMENT` control message in `cmsgs[cmsg_slot]` when `count > 1`. The header points into
    /// `self`, which must stay in place until the kernel is done with it.
    fn header(&mut self, from: usize, count: usize, cmsg_slot: usize) -> libc::msghdr {
        debug_assert!(count >= 1 && from + count <= self.len);
        // SAFETY: plain old data; all-zero is valid; pointers set right below.
        let mut msg: libc::msghdr = unsafe { zeroed() };
        msg.msg_name = (&raw mut self.names[from]).cast();
        msg.msg_namelen = self.name_lens[from];
        msg.msg_iov = &raw mut self.iovs[from];
        msg.msg_iovlen = count as _;
        if count > 1 {
            let segment = self.datagram_len(from) as u16;
            let buf = &mut self.cmsgs[cmsg_slot].0;
            msg.msg_control = buf.as_mut_ptr().cast();
            // SAFETY: CMSG_SPACE of a u16 is ≤ GSO_CMSG_BYTES.
            msg.msg_controllen = unsafe { libc::CMSG_SPACE(size_of::<u16>() as u32) } as _;
            // SAFETY: `msg_control` points at `msg_controllen` writable, aligned bytes, so the first
            // header and its data fit; the data is written unaligned.
            unsafe {
                let cmsg = libc::CMSG_FIRSTHDR(&raw const msg);
                (*cmsg).cmsg_level = libc::SOL_UDP;
                (*cmsg).cmsg_type = libc::UDP_SEGMENT;
                (*cmsg).cmsg_len = libc::CMSG_LEN(size_of::<u16>() as u32) as _;
                std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<u16>(), segment);
            }
        }
        msg
    }

    fn clear(&mut self) {
        self.len = 0;
    }
}

/// Page-aligned memory for a provided-buffer ring plus the buffers it hands out.
struct ProvidedBufferRing {
    entries: *mut types::BufRingEntry,
    entries_layout: std::alloc::Layout,
    buffers: Vec<u8>,
    count: u16,
    tail: u16,
    /// The kernel may still use the ring (a receive that did not end): never free it.
    leaked: bool,
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
            leaked: false,
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
        if self.leaked {
            // The kernel may still read entries and write buffers: leak both.
            std::mem::forget(std::mem::take(&mut self.buffers));
            return;
        }
        // SAFETY: allocated in `new` with this layout.
        unsafe { std::alloc::dealloc(self.entries.cast(), self.entries_layout) };
    }
}

const BUFFER_GROUP: u16 = 0;
const UD_RECV: u64 = u64::MAX;
const UD_CANCEL: u64 = u64::MAX - 1;
/// The socket's index in the ring's registered file table.
const SOCKET_FIXED: types::Fixed = types::Fixed(0);
/// The kernel's largest completion queue (`IORING_MAX_CQ_ENTRIES`).
const CQ_ENTRIES_MAX: usize = 65_536;
/// Submission queue entries at most (see `UringDatagramIo::new`).
const SQ_ENTRIES_MAX: usize = 256;
/// Times `flush` re-submits while an SQPOLL thread has not yet taken every send before giving up.
const SQPOLL_SUBMIT_ROUNDS_MAX: u32 = 100_000;

/// A send's user data: the queue index of its first datagram and how many datagrams it carries.
fn send_user_data(from: usize, count: usize) -> u64 {
    debug_assert!(count <= GSO_SEGMENTS_MAX);
    ((from as u64) << 16) | count as u64
}

fn send_range(user_data: u64) -> (usize, usize) {
    ((user_data >> 16) as usize, (user_data & 0xffff) as usize)
}

/// io_uring backend: multishot recvmsg over a provided-buffer ring, batched sends.
///
/// Sends carry `MSG_DONTWAIT` and `IOSQE_CQE_SKIP_SUCCESS`: the kernel issues each one while
/// `flush` submits (inline; with SQPOLL, before the submission queue head passes it) and either
/// sends or fails it at once, never parking it to retry, and posts a completion only on failure.
/// So when `flush` returns no send is in flight, the queue's memory is free for the next batch, and
/// the receive wait is not woken by one completion per datagram sent.
pub struct UringDatagramIo {
    // Field order matters for drop: the ring (and with it every kernel reference) goes first.
    ring: IoUring,
    /// Kept open for as long as the ring uses it (as registered file 0).
    _socket: UdpSocket,
    buffers: ProvidedBufferRing,
    /// Template header for the multishot receive: only `msg_namelen` is read by the kernel.
    recv_msg: Box<libc::msghdr>,
    recv_armed: bool,
    queue: SendQueue,
    /// Message headers of the flush in progress, indexed by each message's first datagram.
    send_msgs: Vec<libc::msghdr>,
    /// Completions `flush` had to reap that were not its sends; the next `recv_batch` handles
    /// them first. Capacity: the completion queue's size (never grown).
    stashed: Vec<(u64, i32, u32)>,
    /// GSO sends the kernel refused in this flush, resent one datagram per message.
    gso_refused: Vec<(usize, usize)>,
    gso: bool,
    recv_min_wait_us: u32,
    /// Completions a min-wait receive asks for before its min-wait ends.
    recv_want: usize,
    /// A flush failed before the kernel had taken every send: the queue may still be read.
    sends_unconfirmed: bool,
    stats: DatagramIoStats,
}

impl UringDatagramIo {
    pub fn new(socket: UdpSocket, config: &DatagramIoConfig) -> io::Result<Self> {
        assert!(config.send_queue > 0 && config.send_queue < u32::MAX as usize);
        // The submission queue only needs a batch of sends (a fuller flush submits as it goes;
        // sends complete inline). The completion queue holds everything that can be pending at
        // once — one receive per provided buffer and one failure per queued send — so it can never
        // overflow: an overflowed completion would come back later and be credited to the wrong
        // flush (user data carries queue indices, which the next flush reuses).
        let sq_entries = (config.send_queue + 8).min(SQ_ENTRIES_MAX).next_power_of_two() as u32;
        let cq_needed = (config.recv_buffers + config.send_queue).next_power_of_two();
        if cq_needed > CQ_ENTRIES_MAX {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("recv_buffers + send_queue must not exceed {CQ_ENTRIES_MAX} (the kernel's completion queue limit)"),
            ));
        }
        // The kernel also wants the completion queue at least as large as the submission queue.
        let cq_entries = (cq_needed as u32).max(sq_entries);
        let mut builder = IoUring::builder();
        builder.setup_cqsize(cq_entries);
        if config.sqpoll_idle_ms > 0 {
            // A kernel thread submits (and, without DEFER_TASKRUN, runs the receive task work):
            // its CPU is the process's, not this thread's.
            builder.setup_sqpoll(config.sqpoll_idle_ms);
        } else {
            // Single issuer + deferred task running: completions are processed only when this
            // thread waits for them, in one batch, instead of interrupting it (kernel 6.1+).
            builder.setup_single_issuer().setup_defer_taskrun();
        }
        let ring = builder.build(sq_entries)?;
        // A registered descriptor spares the kernel a file lookup and reference per operation.
        ring.submitter().register_files(&[socket.as_raw_fd()])?;
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
        let gso = config.udp_gso && udp_gso_supported(&socket);
        Ok(Self {
            ring,
            _socket: socket,
            buffers,
            recv_msg,
            recv_armed: false,
            queue: SendQueue::new(config.send_queue),
            // SAFETY: plain old data; all-zero is valid.
            send_msgs: vec![unsafe { zeroed() }; config.send_queue],
            stashed: Vec::with_capacity(cq_entries as usize),
            gso_refused: Vec::with_capacity(config.send_queue),
            gso,
            recv_min_wait_us: config.recv_min_wait_us,
            recv_want: config.recv_buffers.clamp(1, 256),
            sends_unconfirmed: false,
            stats: DatagramIoStats::default(),
        })
    }

    fn arm_recv(&mut self) -> io::Result<()> {
        let entry = opcode::RecvMsgMulti::new(SOCKET_FIXED, &raw const *self.recv_msg, BUFFER_GROUP)
            .build()
            .user_data(UD_RECV);
        self.push_sqe(&entry)?;
        self.recv_armed = true;
        Ok(())
    }

    fn push_sqe(&mut self, entry: &io_uring::squeue::Entry) -> io::Result<()> {
        let mut rounds = 0;
        loop {
            // SAFETY: every entry points at memory owned by `self` (the receive header, the
            // buffer ring, the send queue and headers) that outlives the ring (see field order
            // and Drop).
            if unsafe { self.ring.submission().push(entry) }.is_ok() {
                return Ok(());
            }
            match self.ring.submit() {
                Ok(_) => {}
                Err(e) if matches!(e.raw_os_error(), Some(libc::EINTR | libc::EBUSY | libc::EAGAIN)) => {
                    rounds += 1;
                    if rounds >= SQPOLL_SUBMIT_ROUNDS_MAX {
                        return Err(e);
                    }
                    std::thread::yield_now();
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Queues one send per message for the queued datagrams `from..to`, coalescing runs with GSO
    /// when `gso`; counts them as sent (a failure completion takes them back).
    fn push_sends(&mut self, from: usize, to: usize, gso: bool) -> io::Result<()> {
        // Until `submit_sends` has seen the kernel take them all, entries may point into the queue.
        self.sends_unconfirmed = true;
        let mut i = from;
        while i < to {
            let count = self.queue.run_len(i, gso).min(to - i);
            self.send_msgs[i] = self.queue.header(i, count, i);
            let entry = opcode::SendMsg::new(SOCKET_FIXED, &raw const self.send_msgs[i])
                .flags(libc::MSG_DONTWAIT as u32)
                .build()
                .flags(io_uring::squeue::Flags::SKIP_SUCCESS)
                .user_data(send_user_data(i, count));
            if let Err(e) = self.push_sqe(&entry) {
                // The rest of this flush is dropped with the queue: count it, never lose it silently.
                self.stats.send_errors += (to - i) as u64;
                return Err(e);
            }
            self.stats.datagrams_sent += count as u64;
            self.stats.bytes_sent += self.queue.bytes(i, count);
            if count > 1 {
                self.stats.datagrams_sent_gso += count as u64;
            }
            i += count;
        }
        Ok(())
    }

    /// Submits until the kernel has taken every queued entry (at once without SQPOLL; with it,
    /// once the polling thread got to them), then reaps the failed sends they produced.
    fn submit_sends(&mut self) -> io::Result<()> {
        self.sends_unconfirmed = true;
        let mut rounds = 0;
        loop {
            match self.ring.submit() {
                Ok(_) => {}
                Err(e) if matches!(e.raw_os_error(), Some(libc::EINTR | libc::EBUSY | libc::EAGAIN)) => {}
                Err(e) => return Err(e),
            }
            if self.ring.submission().is_empty() {
                break;
            }
            rounds += 1;
            if rounds >= SQPOLL_SUBMIT_ROUNDS_MAX {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "sends not taken by the kernel"));
            }
            std::thread::yield_now();
        }
        self.sends_unconfirmed = false;
        self.reap_send_failures();
        Ok(())
    }

    /// Handles the completions present now: failed sends of this flush are taken back out of the
    /// sent counters (GSO refusals are kept for a resend); anything else is stashed for
    /// `recv_batch`.
    fn reap_send_failures(&mut self) {
        let Self { ring, queue, stashed, gso_refused, stats, .. } = self;
        let mut completions = ring.completion();
        while stashed.len() < stashed.capacity() {
            let Some(cqe) = completions.next() else { break };
            let (user_data, result) = (cqe.user_data(), cqe.result());
            if user_data == UD_RECV || user_data == UD_CANCEL {
                stashed.push((user_data, result, cqe.flags()));
                continue;
            }
            debug_assert!(result < 0, "successful sends post no completion");
            let (from, count) = send_range(user_data);
            stats.datagrams_sent -= count as u64;
            stats.bytes_sent -= queue.bytes(from, count);
            if count > 1 {
                stats.datagrams_sent_gso -= count as u64;
                if is_gso_refusal(-result) {
                    gso_refused.push((from, count));
                    continue;
                }
            }
            stats.send_errors += count as u64;
        }
    }

    fn drain(&mut self, on_datagram: &mut dyn FnMut(&[u8], SocketAddr)) -> usize {
        let Self { ring, buffers, recv_msg, recv_armed, stashed, stats, gso, .. } = self;
        let mut delivered = 0;
        let mut recycled = false;
        let mut handle = |user_data: u64, result: i32, flags: u32| match user_data {
            UD_CANCEL => {}
            UD_RECV => {
                if !cqueue::more(flags) {
                    *recv_armed = false;
                }
                if result < 0 {
                    if result == -libc::ENOBUFS {
                        stats.recv_no_buffers += 1;
                    } else if result != -libc::ECANCELED {
                        stats.recv_errors += 1;
                    }
                    return;
                }
                let Some(bid) = cqueue::buffer_select(flags) else {
                    stats.recv_errors += 1;
                    return;
                };
                let buffer = &buffers.buffer(bid)[..result as usize];
                match types::RecvMsgOut::parse(buffer, recv_msg) {
                    Ok(out) if out.is_payload_truncated() => stats.recv_truncated += 1,
                    Ok(out) => match sockaddr_from_bytes(out.name_data()) {
                        Some(peer) => {
                            stats.datagrams_received += 1;
                            stats.bytes_received += out.payload_data().len() as u64;
                            on_datagram(out.payload_data(), peer);
                            delivered += 1;
                        }
                        None => stats.recv_errors += 1,
                    },
                    Err(()) => stats.recv_errors += 1,
                }
                buffers.push(bid);
                recycled = true;
            }
            user_data => {
                // A send failure `flush` did not get to see (only after a failed flush: the
                // completion queue cannot overflow). It was counted as sent; its queue is reused,
                // so it is counted lost (bytes stay counted) and a GSO refusal is not resent, but
                // switches GSO off like one seen in time.
                debug_assert!(result < 0);
                let count = send_range(user_data).1 as u64;
                stats.datagrams_sent = stats.datagrams_sent.saturating_sub(count);
                stats.send_errors += count;
                if count > 1 {
                    stats.datagrams_sent_gso = stats.datagrams_sent_gso.saturating_sub(count);
                    if is_gso_refusal(-result) && *gso {
                        *gso = false;
                        stats.gso_fallbacks += 1;
                    }
                }
            }
        };
        for (user_data, result, flags) in stashed.drain(..) {
            handle(user_data, result, flags);
        }
        for cqe in ring.completion() {
            handle(cqe.user_data(), cqe.result(), cqe.flags());
        }
        if recycled {
            buffers.publish();
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
        if !self.stashed.is_empty() {
            // `flush` already reaped completions: hand them over without waiting.
            self.ring.submit()?;
        } else {
            let timespec = types::Timespec::from(timeout);
            let (want, args) = if self.recv_min_wait_us > 0 {
                // Up to `recv_want` completions, but return once the min-wait has passed and at
                // least one is there (or at the timeout).
                (self.recv_want, types::SubmitArgs::new().timespec(&timespec).min_wait_usec(self.recv_min_wait_us))
            } else {
                (1, types::SubmitArgs::new().timespec(&timespec))
            };
            match self.ring.submitter().submit_with_args(want, &args) {
                Ok(_) => {}
                Err(e) if matches!(e.raw_os_error(), Some(libc::ETIME | libc::EINTR | libc::EBUSY)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(self.drain(on_datagram))
    }

    fn queue_send(&mut self, payload: &[u8], to: SocketAddr) -> bool {
        assert!(payload.len() <= DATAGRAM_BYTES_MAX, "datagram longer than DATAGRAM_BYTES_MAX");
        if self.queue.is_full() || self.sends_unconfirmed {
            self.stats.sends_dropped_queue_full += 1;
            return false;
        }
        self.queue.push(payload, to);
        true
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.sends_unconfirmed {
            // An earlier flush failed while the kernel still held sends: finish that first.
            self.submit_sends()?;
        }
        // GSO refusals left by a failed flush belong to a queue that is gone: those datagrams were
        // taken out of the sent counters and are lost; count them, never resend from indices that
        // now hold other datagrams.
        for (_, count) in self.gso_refused.drain(..) {
            self.stats.send_errors += count as u64;
        }
        if self.queue.len == 0 {
            return Ok(());
        }
        let result = self.send_queued();
        // On failure the queue's memory stays put and `queue_send` refuses new datagrams until a
        // later flush has seen the kernel take every entry that may point into it.
        self.queue.clear();
        result
    }

    fn stats(&self) -> &DatagramIoStats {
        &self.stats
    }
}

impl UringDatagramIo {
    fn send_queued(&mut self) -> io::Result<()> {
        let queued = self.queue.len;
        self.push_sends(0, queued, self.gso)?;
        self.submit_sends()?;
        if !self.gso_refused.is_empty() {
            // This path cannot segment (e.g. no checksum offload, IPsec): stop trying and resend
            // the refused runs one datagram per message. The queue is still intact.
            self.gso = false;
            self.stats.gso_fallbacks += 1;
            let refused = std::mem::take(&mut self.gso_refused);
            for &(from, count) in &refused {
                self.push_sends(from, from + count, false)?;
            }
            self.gso_refused = refused;
            self.gso_refused.clear();
            self.submit_sends()?;
        }
        Ok(())
    }
}

impl Drop for UringDatagramIo {
    fn drop(&mut self) {
        // Cancel the multishot receive and wait until it has ended; only then may the receive
        // buffers be freed. Sends are never in flight once `flush` has returned successfully.
        let cancel = opcode::AsyncCancel::new(UD_RECV).build().user_data(UD_CANCEL);
        let mut ended = !self.recv_armed || self.push_sqe(&cancel).is_ok();
        if ended {
            let mut ignore = |_: &[u8], _: SocketAddr| {};
            let mut rounds = 0;
            while self.recv_armed && rounds < 1000 {
                rounds += 1;
                if self.ring.submit_and_wait(1).is_err() {
                    break;
                }
                self.drain(&mut ignore);
            }
            ended = !self.recv_armed;
        }
        if !ended {
            // The receive may still run: the kernel can read the ring's entries and header and
            // write the buffers. Leak them rather than free memory in use.
            self.buffers.leaked = true;
            // SAFETY: plain old data; all-zero is valid.
            std::mem::forget(std::mem::replace(&mut self.recv_msg, Box::new(unsafe { zeroed() })));
        }
        if !ended || self.sends_unconfirmed {
            std::mem::forget(std::mem::replace(&mut self.queue, SendQueue::empty()));
            std::mem::forget(std::mem::take(&mut self.send_msgs));
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
        let (mut io, addr, client) = pair(backend, &DatagramIoConfig { recv_buffers: 64, send_queue: 64, ..DatagramIoConfig::default() });
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
        let (mut io, addr, client) = pair(IoBackend::IoUring, &DatagramIoConfig { recv_buffers: 4, send_queue: 4, ..DatagramIoConfig::default() });
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
        assert_eq!(read(&first, 11), expected_first, "{backend:?}: the run, in order, unmerged");
        assert_eq!(read(&second, 3), others, "{backend:?}");
        io.recv_batch(Duration::from_millis(1), &mut |_, _| panic!("nothing was sent to the backend")).unwrap();
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
            let config = DatagramIoConfig { recv_buffers: 16, send_queue: 32, ..DatagramIoConfig::default() };
            gso_run_arrives_as_separate_datagrams(backend, &config);
            let config = DatagramIoConfig { udp_gso: false, ..config };
            gso_run_arrives_as_separate_datagrams(backend, &config);
        }
    }

    #[test]
    fn gso_run_respects_the_segment_limit() {
        let mut queue = SendQueue::new(200);
        let to: SocketAddr = "127.0.0.1:9".parse().unwrap();
        for _ in 0..150 {
            queue.push(&[7; 100], to);
        }
        assert_eq!(queue.run_len(0, true), GSO_SEGMENTS_MAX);
        assert_eq!(queue.run_len(0, false), 1);
        let mut big = SendQueue::new(100);
        for _ in 0..100 {
            big.push(&[7; 1200], to);
        }
        assert_eq!(big.run_len(0, true), GSO_BYTES_MAX / 1200);
        let mut jumbo = SendQueue::new(4);
        jumbo.push(&[7; 1500], to);
        jumbo.push(&[7; 1500], to);
        assert_eq!(jumbo.run_len(0, true), 1, "segments above the MTU are not coalesced");
        // A longer datagram ends a run; so does another peer.
        let mut mixed = SendQueue::new(8);
        mixed.push(&[1; 100], to);
        mixed.push(&[1; 100], to);
        mixed.push(&[1; 101], to);
        mixed.push(&[1; 100], "127.0.0.1:10".parse().unwrap());
        assert_eq!(mixed.run_len(0, true), 2);
        assert_eq!(mixed.run_len(2, true), 1);
    }

    #[test]
    fn uring_sqpoll_backend_echoes() {
        let config = DatagramIoConfig { recv_buffers: 64, send_queue: 64, sqpoll_idle_ms: 50, ..DatagramIoConfig::default() };
        let (mut io, addr, client) = pair(IoBackend::IoUring, &config);
        for i in 0..40u8 {
            client.send_to(&[i; 32], addr).unwrap();
        }
        let got = receive(io.as_mut(), 40);
        assert_eq!(got.len(), 40);
        for (payload, peer) in &got {
            assert!(io.queue_send(payload, *peer));
        }
        io.flush().unwrap();
        let mut echoed: Vec<u8> = (0..40)
            .map(|_| {
                let mut buf = [0u8; 64];
                let (n, _) = client.recv_from(&mut buf).expect("echo");
                assert_eq!(n, 32);
                buf[0]
            })
            .collect();
        echoed.sort();
        assert_eq!(echoed, (0..40).collect::<Vec<u8>>());
        assert_eq!(io.stats().datagrams_sent, 40);
    }

    #[test]
    fn full_send_queue_drops_and_counts() {
        for backend in [IoBackend::IoUring, IoBackend::Mmsg] {
            let (mut io, _addr, client) = pair(backend, &DatagramIoConfig { recv_buffers: 4, send_queue: 2, ..DatagramIoConfig::default() });
            let to = client.local_addr().unwrap();
            assert!(io.queue_send(b"a", to));
            assert!(io.queue_send(b"b", to));
            assert!(!io.queue_send(b"c", to), "{backend:?}: third send must not fit");
            assert_eq!(io.stats().sends_dropped_queue_full, 1);
            io.flush().unwrap();
        }
    }
}
