//! The bounded send queue both backends fill between flushes, and UDP GSO: which queued datagrams
//! can leave as one segmented send, and the message headers that say so.

use std::{
    mem::{size_of, zeroed},
    net::{SocketAddr, UdpSocket},
    os::fd::AsRawFd,
};

use socket2::SockAddr;

use super::DATAGRAM_BYTES_MAX;

/// Most segments one UDP GSO send may carry (the kernel's `UDP_MAX_SEGMENTS`).
pub(super) const GSO_SEGMENTS_MAX: usize = 64;
/// Most payload bytes one UDP GSO send may carry (an IPv4 datagram's payload limit).
pub(super) const GSO_BYTES_MAX: usize = 65_507;
/// Largest segment coalesced: a segment must fit the path MTU with its headers (1500-byte
/// Ethernet, IPv6 + UDP headers), or the kernel refuses the whole send with `EINVAL`.
const GSO_SEGMENT_BYTES_MAX: usize = 1452;
/// `CMSG_SPACE(sizeof(u16))` rounded up: room for one `UDP_SEGMENT` control message.
const GSO_CMSG_BYTES: usize = 32;

/// Whether the kernel knows `UDP_SEGMENT` (Linux 4.18+): reading the option succeeds.
pub(super) fn udp_gso_supported(socket: &UdpSocket) -> bool {
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
pub(super) fn is_gso_refusal(errno: i32) -> bool {
    errno == libc::EIO || errno == libc::EINVAL
}

/// Room for one `UDP_SEGMENT` control message, aligned as `cmsghdr` requires.
#[repr(C, align(8))]
#[derive(Clone, Copy)]
struct GsoCmsg([u8; GSO_CMSG_BYTES]);

/// Datagrams queued between flushes: payloads, destinations and one iovec each, in vectors that are
/// allocated once at their full length and never resized, so pointers into them stay valid while the
/// kernel holds them.
pub(super) struct SendQueue {
    payloads: Vec<[u8; DATAGRAM_BYTES_MAX]>,
    names: Vec<libc::sockaddr_storage>,
    name_lens: Vec<libc::socklen_t>,
    peers: Vec<SocketAddr>,
    /// `iovs[i]` points at `payloads[i]`; a GSO send uses a run of consecutive iovecs.
    iovs: Vec<libc::iovec>,
    /// One control message per message header (a message never holds more than one).
    cmsgs: Vec<GsoCmsg>,
    pub(super) len: usize,
}

impl SendQueue {
    pub(super) fn new(capacity: usize) -> Self {
        assert!(capacity > 0);
        let mut payloads = vec![[0u8; DATAGRAM_BYTES_MAX]; capacity];
        let iovs = payloads
            .iter_mut()
            .map(|p| libc::iovec {
                iov_base: p.as_mut_ptr().cast(),
                iov_len: 0,
            })
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
    pub(super) fn empty() -> Self {
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

    pub(super) fn capacity(&self) -> usize {
        self.payloads.len()
    }

    pub(super) fn is_full(&self) -> bool {
        self.len == self.capacity()
    }

    pub(super) fn push(&mut self, payload: &[u8], to: SocketAddr) {
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

    pub(super) fn datagram_len(&self, i: usize) -> usize {
        self.iovs[i].iov_len
    }

    pub(super) fn bytes(&self, from: usize, count: usize) -> u64 {
        self.iovs[from..from + count].iter().map(|iov| iov.iov_len as u64).sum()
    }

    /// How many datagrams from `from` on go in the next message: a run to the same peer whose sizes
    /// all equal the first (the last may be shorter), within the kernel's GSO limits; 1 without GSO.
    pub(super) fn run_len(&self, from: usize, gso: bool) -> usize {
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
    pub(super) fn header(&mut self, from: usize, count: usize, cmsg_slot: usize) -> libc::msghdr {
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

    pub(super) fn clear(&mut self) {
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
