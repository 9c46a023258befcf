//! The io_uring backend: one multishot `recvmsg` fed from a provided-buffer ring, and sends queued
//! then submitted together as `SendMsg` operations that complete only on failure.

use std::{
    io,
    mem::{size_of, zeroed},
    net::{SocketAddr, UdpSocket},
    os::fd::AsRawFd,
    sync::atomic::{AtomicU16, Ordering},
    time::Duration,
};

use io_uring::{IoUring, cqueue, opcode, types};

use super::send_queue::{GSO_SEGMENTS_MAX, SendQueue, is_gso_refusal, udp_gso_supported};
use super::{DATAGRAM_BYTES_MAX, DatagramIo, DatagramIoConfig, DatagramIoStats, SOCKADDR_BYTES, sockaddr_from_bytes};

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
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "recv_buffers must be a power of two ≤ 32768",
            ));
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
                format!(
                    "recv_buffers + send_queue must not exceed {CQ_ENTRIES_MAX} (the kernel's completion queue limit)"
                ),
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
            ring.submitter()
                .register_buf_ring_with_flags(buffers.entries as u64, buffers.count, BUFFER_GROUP, 0)?;
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
        let Self {
            ring,
            queue,
            stashed,
            gso_refused,
            stats,
            ..
        } = self;
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
        let Self {
            ring,
            buffers,
            recv_msg,
            recv_armed,
            stashed,
            stats,
            gso,
            ..
        } = self;
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
    fn recv_batch(&mut self, timeout: Duration, on_datagram: &mut dyn FnMut(&[u8], SocketAddr)) -> io::Result<usize> {
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
                (
                    self.recv_want,
                    types::SubmitArgs::new()
                        .timespec(&timespec)
                        .min_wait_usec(self.recv_min_wait_us),
                )
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
        assert!(
            payload.len() <= DATAGRAM_BYTES_MAX,
            "datagram longer than DATAGRAM_BYTES_MAX"
        );
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::dgram_io::test_support::{pair, receive};
    use crate::dgram_io::{DatagramIoConfig, IoBackend};

    #[test]
    fn uring_multishot_rearms_when_the_buffer_ring_runs_dry() {
        // Four provided buffers for 200 datagrams: the multishot receive ends with ENOBUFS and must
        // be re-armed; the datagrams wait in the socket buffer meanwhile, so none is lost.
        let (mut io, addr, client) = pair(
            IoBackend::IoUring,
            &DatagramIoConfig {
                recv_buffers: 4,
                send_queue: 4,
                ..DatagramIoConfig::default()
            },
        );
        io.recv_batch(Duration::from_millis(1), &mut |_, _| {}).unwrap(); // arm
        for i in 0..200u32 {
            client.send_to(&i.to_le_bytes(), addr).unwrap();
        }
        let got = receive(io.as_mut(), 200);
        let mut seqs: Vec<u32> = got
            .iter()
            .map(|(p, _)| u32::from_le_bytes(p[..4].try_into().unwrap()))
            .collect();
        seqs.sort();
        assert_eq!(seqs, (0..200).collect::<Vec<_>>());
        assert!(io.stats().recv_rearmed > 0, "stats: {:?}", io.stats());
    }

    #[test]
    fn uring_sqpoll_backend_echoes() {
        let config = DatagramIoConfig {
            recv_buffers: 64,
            send_queue: 64,
            sqpoll_idle_ms: 50,
            ..DatagramIoConfig::default()
        };
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
}
