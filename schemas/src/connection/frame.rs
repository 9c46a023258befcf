//! The frame codec of a `Payload` packet's plaintext: the ack header, then unreliable messages,
//! fragments of reliable messages, pings and pongs (`PROTOCOL.md`, "Payload frames"). The decoder is
//! total; the encoder writes exactly what it reads.

use thiserror::Error;

use super::{FRAGMENT_BYTES_MAX, FRAGMENTS_PER_MESSAGE_MAX, FRAMES_PER_PACKET_MAX};

const FRAME_UNRELIABLE: u8 = 0x01;
const FRAME_FRAGMENT: u8 = 0x02;
const FRAME_PING: u8 = 0x03;
const FRAME_PONG: u8 = 0x04;
pub(super) const FRAGMENT_FRAME_HEADER_BYTES: usize = 1 + 2 + 1 + 1 + 2;
pub(super) const UNRELIABLE_FRAME_HEADER_BYTES: usize = 1 + 2;
pub(super) const PING_FRAME_BYTES: usize = 1 + 8;
pub(super) const PONG_FRAME_BYTES: usize = 1 + 3 * 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Error)]
pub enum FrameError {
    #[error("payload truncated at byte {offset}")]
    Truncated { offset: usize },
    #[error("unknown frame type {value:#04x} at byte {offset}")]
    UnknownFrame { value: u8, offset: usize },
    #[error("fragment {index} of {count} is invalid")]
    BadFragment { index: u8, count: u8 },
    #[error("more than {FRAMES_PER_PACKET_MAX} frames in one packet")]
    TooManyFrames,
}

impl FrameError {
    /// Stable metrics label (see `PacketError::label`).
    pub fn label(&self) -> &'static str {
        match self {
            FrameError::Truncated { .. } => "frame_truncated",
            FrameError::UnknownFrame { .. } => "frame_unknown_type",
            FrameError::BadFragment { .. } => "frame_bad_fragment",
            FrameError::TooManyFrames => "frame_too_many",
        }
    }
}

/// One decoded frame, borrowing the packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    Unreliable(&'a [u8]),
    Fragment {
        message_id: u16,
        index: u8,
        count: u8,
        bytes: &'a [u8],
    },
    /// A round-trip probe: the sender's clock when it sent the ping.
    Ping {
        sent_us: u64,
    },
    /// The answer to a ping: the ping's `sent_us` echoed, and the answering side's clock when the
    /// ping arrived and when the pong left (their difference is how long the ping was held).
    Pong {
        ping_sent_us: u64,
        ping_received_us: u64,
        pong_sent_us: u64,
    },
}

/// A decoded payload: the ack header and up to `FRAMES_PER_PACKET_MAX` frames.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payload<'a> {
    pub ack_newest_plus_one: u64,
    pub ack_bits: u32,
    pub frames: Vec<Frame<'a>>,
}

struct Cursor<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, count: usize) -> Result<&'a [u8], FrameError> {
        let end = self.offset.checked_add(count).filter(|end| *end <= self.bytes.len());
        let end = end.ok_or(FrameError::Truncated { offset: self.offset })?;
        let slice = &self.bytes[self.offset..end];
        self.offset = end;
        Ok(slice)
    }
    fn u8(&mut self) -> Result<u8, FrameError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, FrameError> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into().expect("2 bytes")))
    }
    fn u32(&mut self) -> Result<u32, FrameError> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }
    fn u64(&mut self) -> Result<u64, FrameError> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }
}

/// Total decoder of a payload's plaintext.
pub fn decode_payload(bytes: &[u8]) -> Result<Payload<'_>, FrameError> {
    let mut cursor = Cursor { bytes, offset: 0 };
    let ack_newest_plus_one = cursor.u64()?;
    let ack_bits = cursor.u32()?;
    let mut frames = Vec::new();
    while cursor.offset < bytes.len() {
        if frames.len() == FRAMES_PER_PACKET_MAX {
            return Err(FrameError::TooManyFrames);
        }
        let offset = cursor.offset;
        let frame = match cursor.u8()? {
            FRAME_UNRELIABLE => {
                let length = cursor.u16()?;
                Frame::Unreliable(cursor.take(usize::from(length))?)
            }
            FRAME_FRAGMENT => {
                let message_id = cursor.u16()?;
                let index = cursor.u8()?;
                let count = cursor.u8()?;
                let length = usize::from(cursor.u16()?);
                if count == 0
                    || index >= count
                    || usize::from(count) > FRAGMENTS_PER_MESSAGE_MAX
                    || length > FRAGMENT_BYTES_MAX
                {
                    return Err(FrameError::BadFragment { index, count });
                }
                Frame::Fragment {
                    message_id,
                    index,
                    count,
                    bytes: cursor.take(length)?,
                }
            }
            FRAME_PING => Frame::Ping { sent_us: cursor.u64()? },
            FRAME_PONG => Frame::Pong {
                ping_sent_us: cursor.u64()?,
                ping_received_us: cursor.u64()?,
                pong_sent_us: cursor.u64()?,
            },
            value => return Err(FrameError::UnknownFrame { value, offset }),
        };
        frames.push(frame);
    }
    Ok(Payload {
        ack_newest_plus_one,
        ack_bits,
        frames,
    })
}

impl Frame<'_> {
    /// Appends this frame's bytes (the layout `decode_payload` reads).
    pub fn encode(&self, out: &mut Vec<u8>) {
        match *self {
            Frame::Unreliable(bytes) => {
                out.push(FRAME_UNRELIABLE);
                out.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
                out.extend_from_slice(bytes);
            }
            Frame::Fragment {
                message_id,
                index,
                count,
                bytes,
            } => {
                out.push(FRAME_FRAGMENT);
                out.extend_from_slice(&message_id.to_le_bytes());
                out.push(index);
                out.push(count);
                out.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
                out.extend_from_slice(bytes);
            }
            Frame::Ping { sent_us } => {
                out.push(FRAME_PING);
                out.extend_from_slice(&sent_us.to_le_bytes());
            }
            Frame::Pong {
                ping_sent_us,
                ping_received_us,
                pong_sent_us,
            } => {
                out.push(FRAME_PONG);
                out.extend_from_slice(&ping_sent_us.to_le_bytes());
                out.extend_from_slice(&ping_received_us.to_le_bytes());
                out.extend_from_slice(&pong_sent_us.to_le_bytes());
            }
        }
    }
}

impl Payload<'_> {
    /// Appends the ack header and the frames: the plaintext of a `Payload` packet.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.ack_newest_plus_one.to_le_bytes());
        out.extend_from_slice(&self.ack_bits.to_le_bytes());
        for frame in &self.frames {
            frame.encode(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{PacketType, open_packet, seal_packet};
    use crate::test_vectors::hex_lines;

    /// The payload of the PROTOCOL.md test vector ("Payload packet").
    fn vector_payload() -> Payload<'static> {
        Payload {
            ack_newest_plus_one: 4,
            ack_bits: 0b101,
            frames: vec![
                Frame::Unreliable(b"hi"),
                Frame::Fragment {
                    message_id: 0,
                    index: 0,
                    count: 1,
                    bytes: b"chat",
                },
                Frame::Ping {
                    sent_us: 1_700_000_000_000_000,
                },
                Frame::Pong {
                    ping_sent_us: 1_699_999_999_900_000,
                    ping_received_us: 1_699_999_999_950_000,
                    pong_sent_us: 1_699_999_999_990_000,
                },
            ],
        }
    }

    /// PROTOCOL.md, "Payload packet": plaintext and sealed bytes, and both decode back.
    #[test]
    fn payload_packet_test_vector() {
        let mut plaintext = Vec::new();
        vector_payload().encode(&mut plaintext);
        let mut packet = Vec::new();
        seal_packet(
            PacketType::Payload,
            0x0123_4567_89ab_cdef,
            5,
            &[0x33; 16],
            &[0x11; 32],
            &plaintext,
            &mut packet,
        );
        let compact = |vector: &str| vector.split_whitespace().collect::<String>();
        assert_eq!(
            hex_lines(&plaintext).replace('\n', ""),
            compact(PAYLOAD_PLAINTEXT_VECTOR_HEX)
        );
        assert_eq!(hex_lines(&packet).replace('\n', ""), compact(PAYLOAD_PACKET_VECTOR_HEX));
        let spec: String = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/PROTOCOL.md"))
            .split_whitespace()
            .collect();
        assert!(
            spec.contains(&compact(PAYLOAD_PLAINTEXT_VECTOR_HEX)),
            "PROTOCOL.md quotes the plaintext"
        );
        assert!(
            spec.contains(&compact(PAYLOAD_PACKET_VECTOR_HEX)),
            "PROTOCOL.md quotes the packet"
        );
        assert_eq!(decode_payload(&plaintext), Ok(vector_payload()));
        let mut opened = Vec::new();
        open_packet(&packet, &[0x33; 16], &[0x11; 32], &mut opened).unwrap();
        assert_eq!(opened, plaintext);
    }

    const PAYLOAD_PLAINTEXT_VECTOR_HEX: &str = "\
040000000000000005000000010200686902000000010400636861740300401e
18240a06000460b91c18240a0600b07c1d18240a0600f0181e18240a0600";

    const PAYLOAD_PACKET_VECTOR_HEX: &str = "\
4d13efcdab89674523010500000000000000feb2891b40695d0fd4b5032524c6
95181cbe726c92b5f19787742a7de911dd777acd776be5c9948798875708fd36
36b71c5c4310a60715476d9cee178cb07ccdaac5edf0aed9273d4c0b2760f117
5f29180140c1f07c";

    #[test]
    fn payload_decoder_is_total() {
        assert_eq!(decode_payload(&[]), Err(FrameError::Truncated { offset: 0 }));
        let mut bytes = vec![0u8; 12];
        bytes.extend_from_slice(&[FRAME_FRAGMENT, 0, 0, 3, 2, 0, 0]);
        assert_eq!(
            decode_payload(&bytes),
            Err(FrameError::BadFragment { index: 3, count: 2 })
        );
        let mut bytes = vec![0u8; 12];
        bytes.extend_from_slice(&[FRAME_UNRELIABLE, 5, 0, 1]);
        assert_eq!(decode_payload(&bytes), Err(FrameError::Truncated { offset: 15 }));
        let mut bytes = vec![0u8; 12];
        bytes.push(0x77);
        assert_eq!(
            decode_payload(&bytes),
            Err(FrameError::UnknownFrame {
                value: 0x77,
                offset: 12
            })
        );
        let mut bytes = vec![0u8; 12];
        bytes.extend(std::iter::repeat_n([FRAME_UNRELIABLE, 0, 0], FRAMES_PER_PACKET_MAX + 1).flatten());
        assert_eq!(decode_payload(&bytes), Err(FrameError::TooManyFrames));
    }
}
