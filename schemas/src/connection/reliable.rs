//! The reliable ordered channel of a connection: messages split into fragments, sent within the
//! in-flight window, resent until acknowledged, and reassembled in order at the receiver within a
//! bounded buffer (`PROTOCOL.md`, "Reliable ordered channel"). Its state lives in `Connection`;
//! this file holds its types and the `Connection` methods that serve it.

use super::{
    ACK_BITS, CloseReason, Connection, FRAGMENT_BYTES_MAX, FRAGMENTS_PER_MESSAGE_MAX, RELIABLE_MESSAGE_BYTES_MAX,
    RELIABLE_QUEUE_MAX, RELIABLE_RECEIVE_BUFFER_BYTES_MAX, RELIABLE_WINDOW_MESSAGES, RESEND_DELAY_MIN_US, Received,
    SendError,
};

pub(super) struct OutgoingMessage {
    pub(super) id: u16,
    pub(super) bytes: Vec<u8>,
    pub(super) fragment_count: u8,
    pub(super) acked_mask: u32,
    /// Last send time per fragment (None: never sent).
    pub(super) fragment_sent_us: [Option<u64>; FRAGMENTS_PER_MESSAGE_MAX],
    pub(super) first_sent_us: Option<u64>,
}

impl OutgoingMessage {
    pub(super) fn fragment(&self, index: u8) -> &[u8] {
        let start = usize::from(index) * FRAGMENT_BYTES_MAX;
        let end = (start + FRAGMENT_BYTES_MAX).min(self.bytes.len());
        &self.bytes[start..end]
    }
    pub(super) fn fully_acked(&self) -> bool {
        self.acked_mask.count_ones() == u32::from(self.fragment_count)
    }
}

pub(super) struct IncomingMessage {
    pub(super) id: u16,
    pub(super) count: u8,
    pub(super) fragments: [Option<Vec<u8>>; FRAGMENTS_PER_MESSAGE_MAX],
    pub(super) bytes: usize,
}

impl Connection {
    /// Queues a reliable ordered message (events, actions, chat), fragmented if needed.
    pub fn send_reliable(&mut self, message: &[u8]) -> Result<(), SendError> {
        if message.is_empty() || message.len() > RELIABLE_MESSAGE_BYTES_MAX {
            return Err(SendError::MessageTooLarge { bytes: message.len() });
        }
        if self.reliable_queue.len() >= RELIABLE_QUEUE_MAX {
            return Err(SendError::QueueFull);
        }
        let fragment_count = message.len().div_ceil(FRAGMENT_BYTES_MAX) as u8;
        self.reliable_queue.push_back(OutgoingMessage {
            id: self.next_message_id,
            bytes: message.to_vec(),
            fragment_count,
            acked_mask: 0,
            fragment_sent_us: [None; FRAGMENTS_PER_MESSAGE_MAX],
            first_sent_us: None,
        });
        self.next_message_id = self.next_message_id.wrapping_add(1);
        Ok(())
    }

    pub(super) fn resend_delay_us(&self) -> u64 {
        match self.stats.rtt_smoothed_us {
            Some(rtt) => (rtt + 4 * self.stats.rtt_variance_us).max(RESEND_DELAY_MIN_US),
            None => 4 * RESEND_DELAY_MIN_US,
        }
    }

    /// Stores one fragment. Returns false only when there was no room (the packet must not be acked);
    /// duplicates, already-delivered and inconsistent fragments return true and are dropped.
    pub(super) fn receive_fragment(&mut self, message_id: u16, index: u8, count: u8, bytes: &[u8]) -> bool {
        if self.reliable_resync {
            self.reliable_resync = false;
            self.next_expected_id = message_id;
        }
        let ahead = message_id.wrapping_sub(self.next_expected_id);
        if ahead >= RELIABLE_WINDOW_MESSAGES {
            return true; // already delivered (a resend) or beyond the window
        }
        let position = self.reassembly.iter().position(|message| message.id == message_id);
        let is_head = ahead == 0;
        // Later messages may not take the room the head message needs.
        let limit = if is_head {
            RELIABLE_RECEIVE_BUFFER_BYTES_MAX
        } else {
            RELIABLE_RECEIVE_BUFFER_BYTES_MAX - RELIABLE_MESSAGE_BYTES_MAX
        };
        let duplicate = position.is_some_and(|position| {
            self.reassembly[position]
                .fragments
                .get(usize::from(index))
                .is_some_and(Option::is_some)
        });
        if duplicate {
            return true;
        }
        if self.reassembly_bytes + bytes.len() > limit {
            self.stats.fragments_dropped += 1;
            return false;
        }
        let message = match position {
            Some(position) => &mut self.reassembly[position],
            None => {
                self.reassembly.push(IncomingMessage {
                    id: message_id,
                    count,
                    fragments: Default::default(),
                    bytes: 0,
                });
                self.reassembly.last_mut().expect("just pushed")
            }
        };
        let index_usize = usize::from(index);
        let consistent = message.count == count
            && (index + 1 == count || bytes.len() == FRAGMENT_BYTES_MAX)
            && message.bytes + bytes.len() <= RELIABLE_MESSAGE_BYTES_MAX;
        if !consistent {
            self.stats.fragments_dropped += 1;
            return true;
        }
        if message.fragments[index_usize].is_none() {
            message.fragments[index_usize] = Some(bytes.to_vec());
            message.bytes += bytes.len();
            self.reassembly_bytes += bytes.len();
        }
        debug_assert!(self.reassembly_bytes <= RELIABLE_RECEIVE_BUFFER_BYTES_MAX);
        // Deliver every complete message at the head, in order.
        loop {
            let head = self.next_expected_id;
            let Some(position) = self.reassembly.iter().position(|message| message.id == head) else {
                break;
            };
            let message = &self.reassembly[position];
            if message.fragments[..usize::from(message.count)]
                .iter()
                .any(Option::is_none)
            {
                break;
            }
            let message = self.reassembly.swap_remove(position);
            self.reassembly_bytes -= message.bytes;
            let mut whole = Vec::with_capacity(message.bytes);
            for fragment in message.fragments.into_iter().flatten() {
                whole.extend_from_slice(&fragment);
            }
            self.deliver(Received::Reliable(whole));
            self.next_expected_id = self.next_expected_id.wrapping_add(1);
        }
        true
    }

    /// Every fragment not yet acknowledged in the send window (oldest message first): its message's
    /// position in the queue, its index, and when it was last sent (`None`: never). The one walk
    /// that both the packet builder and the timer index read, so they cannot disagree.
    fn unacked_fragments(&self) -> impl Iterator<Item = (usize, u8, Option<u64>)> + '_ {
        let oldest = self.reliable_queue.front().map_or(0, |message| message.id);
        self.reliable_queue
            .iter()
            .enumerate()
            .take_while(move |(_, message)| message.id.wrapping_sub(oldest) < RELIABLE_WINDOW_MESSAGES)
            .flat_map(|(position, message)| {
                (0..message.fragment_count)
                    .filter(move |index| message.acked_mask >> index & 1 == 0)
                    .map(move |index| (position, index, message.fragment_sent_us[usize::from(index)]))
            })
    }

    /// When the first unacknowledged fragment in the window is (re)sendable: `0` if one was never
    /// sent. Mirrors `next_due_fragment`.
    pub(super) fn next_fragment_due_us(&self) -> Option<u64> {
        let resend_delay_us = self.resend_delay_us();
        let mut due: Option<u64> = None;
        for (_, _, sent_us) in self.unacked_fragments() {
            let Some(sent_us) = sent_us else { return Some(0) };
            let resend_us = sent_us.saturating_add(resend_delay_us);
            due = Some(due.map_or(resend_us, |due| due.min(resend_us)));
        }
        due
    }

    pub(super) fn check_reliable_timeout(&mut self, now_us: u64) {
        if let Some(first_sent_us) = self.reliable_queue.front().and_then(|message| message.first_sent_us)
            && now_us.saturating_sub(first_sent_us) > self.reliable_timeout_us()
        {
            self.close(CloseReason::ReliableTimeout);
        }
    }

    /// Whether the next packet may carry reliable fragments (in-flight limit, see `acked_floor`).
    pub(super) fn reliable_allowed(&self) -> bool {
        self.next_sequence < self.acked_floor + ACK_BITS
    }

    pub(super) fn next_due_fragment(&self, now_us: u64) -> Option<(usize, u8)> {
        let resend_delay_us = self.resend_delay_us();
        self.unacked_fragments()
            .find(|(_, _, sent_us)| sent_us.is_none_or(|sent_us| now_us.saturating_sub(sent_us) >= resend_delay_us))
            .map(|(position, index, _)| (position, index))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::UNRELIABLE_MESSAGE_BYTES_MAX;
    use crate::connection::tests::{InFlight, deliver_due, drive, pair};

    #[test]
    fn reliable_events_keep_flowing_beside_tick_traffic_with_delayed_acks_and_loss() {
        // Inputs up and snapshots down every 50 ms tick (their acks delayed), plus one reliable
        // event per server tick for 200 ticks, 10 % loss each way, 5 ms links: every event arrives,
        // in order, the sender's queue drains and neither end gives up.
        let (mut client, mut server) = pair(0);
        let mut random = 0x9e37_79b9_7f4a_7c15_u64;
        let mut lose = move || {
            random ^= random << 13;
            random ^= random >> 7;
            random ^= random << 17;
            random.is_multiple_of(10)
        };
        let mut packet = Vec::new();
        let mut in_flight = InFlight::new();
        let (mut sent, mut received) = (0u32, Vec::new());
        for step in 0..400 * 50 {
            let now = step * 1_000;
            deliver_due(&mut in_flight, now, &mut client, &mut server);
            if step % 50 == 0 {
                client.send_unreliable(b"input").unwrap();
            }
            if step % 50 == 20 {
                server.send_unreliable(b"snapshot").unwrap();
                if sent < 200 {
                    server.send_reliable(&sent.to_le_bytes()).unwrap();
                    sent += 1;
                }
            }
            while client.poll_packet(now, &mut packet) {
                if !lose() {
                    in_flight.push_back((now + 5_000, true, packet.clone()));
                }
            }
            while server.poll_packet(now, &mut packet) {
                if !lose() {
                    in_flight.push_back((now + 5_000, false, packet.clone()));
                }
            }
            while let Some(message) = client.poll_received() {
                if let Received::Reliable(bytes) = message {
                    received.push(u32::from_le_bytes(bytes.try_into().unwrap()));
                }
            }
        }
        assert_eq!(received, (0..200).collect::<Vec<u32>>(), "every event once, in order");
        assert!(server.reliable_queue.is_empty(), "all acknowledged");
        assert!(server.closed().is_none() && client.closed().is_none());
    }

    #[test]
    fn reliable_messages_arrive_in_order_despite_loss() {
        let (mut client, mut server) = pair(0);
        let messages: Vec<Vec<u8>> = (0..40u32)
            .map(|i| vec![i as u8; 1 + (i as usize * 997) % 5000])
            .collect();
        for message in &messages {
            client.send_reliable(message).unwrap();
        }
        client.send_unreliable(b"input").unwrap();
        // A third of all packets, pseudo-randomly (periodic loss can resonate with the send pattern).
        let mut random = 0x2545_f491_4f6c_dd1d_u64;
        let mut lose = |_: u64| {
            random ^= random << 13;
            random ^= random >> 7;
            random ^= random << 17;
            random.is_multiple_of(3)
        };
        drive(&mut client, &mut server, 0, 600, &mut lose);
        let mut reliable = Vec::new();
        let mut unreliable = 0;
        while let Some(received) = server.poll_received() {
            match received {
                Received::Reliable(bytes) => reliable.push(bytes),
                Received::Unreliable(_) => unreliable += 1,
            }
        }
        assert_eq!(reliable.len(), messages.len());
        assert!(reliable == messages, "reliable messages differ or are out of order");
        assert!(unreliable <= 1);
        assert!(client.reliable_queue.is_empty(), "all acked");
        assert_eq!(server.reassembly_bytes, 0);
        let stats = client.stats();
        assert!(stats.packet_loss > 0.1, "loss estimate {}", stats.packet_loss);
        let rtt = stats.rtt_smoothed_us.unwrap();
        // 40 ms of path delay; lost ack packets delay some acks (no ack-delay field, see PROTOCOL.md).
        assert!((40_000..=100_000).contains(&rtt), "rtt {rtt}");
    }

    #[test]
    fn limits_are_enforced() {
        let (mut client, _) = pair(0);
        assert_eq!(
            client.send_reliable(&vec![0; RELIABLE_MESSAGE_BYTES_MAX + 1]),
            Err(SendError::MessageTooLarge {
                bytes: RELIABLE_MESSAGE_BYTES_MAX + 1
            })
        );
        assert_eq!(
            client.send_unreliable(&vec![0; UNRELIABLE_MESSAGE_BYTES_MAX + 1]),
            Err(SendError::MessageTooLarge {
                bytes: UNRELIABLE_MESSAGE_BYTES_MAX + 1
            })
        );
        for _ in 0..RELIABLE_QUEUE_MAX {
            client.send_reliable(b"x").unwrap();
        }
        assert_eq!(client.send_reliable(b"x"), Err(SendError::QueueFull));
    }

    #[test]
    fn undeliverable_reliable_message_closes_instead_of_blocking() {
        let (mut client, mut server) = pair(0);
        client.send_reliable(b"never arrives").unwrap();
        let mut lose_all = |_: u64| true;
        drive(&mut client, &mut server, 0, 1_200, &mut lose_all);
        assert_eq!(client.closed(), Some(CloseReason::ReliableTimeout));
    }
}
