//! Bit packing for the hot-path codecs (snapshots, inputs).
//!
//! Bit order: bits are written least-significant first. The first bit written lands in bit 0 of byte
//! 0, the ninth in bit 0 of byte 1, and a value of `width` bits is written with its bit 0 first. The
//! last byte is padded with zero bits. The reader is total: reading past the end gives
//! [`BitsError::Truncated`], never a panic, and nothing it does allocates.

use thiserror::Error;

/// Widest value one `write_bits` / `read_bits` call moves. The accumulator is a `u64` and holds at most
/// seven pending bits between calls, so 56 + 7 < 64.
pub const BITS_PER_CALL_MAX: u32 = 56;

/// Longest run of leading zeros an Exp-Golomb code may have. With order `k` the decoded value is below
/// `2^(EXP_GOLOMB_ZEROS_MAX + 1 + k)`, which bounds both the work and the value range.
pub const EXP_GOLOMB_ZEROS_MAX: u32 = 40;

/// Largest Exp-Golomb order the codecs use (keeps `zeros + k` within one `read_bits` call).
pub const EXP_GOLOMB_ORDER_MAX: u32 = 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum BitsError {
    #[error("bit string truncated: needed {bits_needed} more bits at bit {bit_position}")]
    Truncated { bit_position: usize, bits_needed: u32 },
    #[error("exp-golomb code has more than {EXP_GOLOMB_ZEROS_MAX} leading zeros at bit {bit_position}")]
    ExpGolombTooLong { bit_position: usize },
    #[error("{trailing_bytes} bytes after the end of the bit string")]
    TrailingBytes { trailing_bytes: usize },
    #[error("padding bits of the last byte are not zero")]
    PaddingNotZero,
}

/// Appends bits to a byte vector. The vector's length is always `ceil(bits_written / 8)` after
/// [`BitWriter::finish`].
pub struct BitWriter<'a> {
    out: &'a mut Vec<u8>,
    accumulator: u64,
    accumulator_bits: u32,
    bits_written: usize,
}

impl<'a> BitWriter<'a> {
    /// Starts writing at the end of `out` (which callers usually clear first).
    pub fn new(out: &'a mut Vec<u8>) -> Self {
        BitWriter {
            out,
            accumulator: 0,
            accumulator_bits: 0,
            bits_written: 0,
        }
    }

    pub fn bits_written(&self) -> usize {
        self.bits_written
    }

    pub fn write_bits(&mut self, value: u64, width: u32) {
        assert!(width <= BITS_PER_CALL_MAX);
        debug_assert!(
            width == 64 || value >> width == 0,
            "value {value} wider than {width} bits"
        );
        debug_assert!(self.accumulator_bits < 8);
        self.accumulator |= value << self.accumulator_bits;
        self.accumulator_bits += width;
        self.bits_written += width as usize;
        if self.accumulator_bits >= 8 {
            // Whole bytes out in one fixed-size copy (the spare tail is cut off again), not a push
            // per byte; at most 7 + 56 = 63 bits are pending, so the shift below is below 64.
            let whole_bytes = self.accumulator_bits / 8;
            let length = self.out.len();
            self.out.extend_from_slice(&self.accumulator.to_le_bytes());
            self.out.truncate(length + whole_bytes as usize);
            self.accumulator >>= whole_bytes * 8;
            self.accumulator_bits -= whole_bytes * 8;
        }
    }

    /// Writes the bits gathered in `run`, in the order they were pushed.
    pub fn write_run(&mut self, run: &BitRun) {
        let mut remaining = run.bits;
        let mut half = 0;
        while remaining > 0 {
            let width = remaining.min(32);
            let value = (run.words[half / 2] >> (32 * (half % 2))) & low_mask(width);
            self.write_bits(value, width);
            remaining -= width;
            half += 1;
        }
    }

    pub fn write_bool(&mut self, value: bool) {
        self.write_bits(u64::from(value), 1);
    }

    /// Exp-Golomb code of order `k`: `z` zero bits, a one bit, then the low `z + k` bits of `v + 2^k`,
    /// where `z + k + 1` is the bit length of `v + 2^k`.
    pub fn write_exp_golomb(&mut self, value: u64, order: u32) {
        put_exp_golomb(value, order, |bits, width| self.write_bits(bits, width));
    }

    pub fn write_signed_exp_golomb(&mut self, value: i64, order: u32) {
        self.write_exp_golomb(zigzag(value), order);
    }

    /// Flushes the partial last byte (zero padded) and returns the number of bits written.
    pub fn finish(mut self) -> usize {
        if self.accumulator_bits > 0 {
            self.out.push(self.accumulator as u8);
            self.accumulator = 0;
            self.accumulator_bits = 0;
        }
        self.bits_written
    }
}

/// `value` of `width` bits as one word when the whole Exp-Golomb code fits one `write_bits` call
/// (`width <= BITS_PER_CALL_MAX`): the `z` zero bits, the one bit, then the low `z + k` bits of
/// `value + 2^k`, first bit lowest. Panics past `EXP_GOLOMB_ZEROS_MAX` zeros or order
/// `EXP_GOLOMB_ORDER_MAX`, like the writer always has.
fn exp_golomb_code(value: u64, order: u32) -> (u64, u32) {
    assert!(order <= EXP_GOLOMB_ORDER_MAX);
    let shifted = value + (1u64 << order);
    let length = 64 - shifted.leading_zeros();
    let zeros = length - 1 - order;
    assert!(zeros <= EXP_GOLOMB_ZEROS_MAX, "exp-golomb value {value} too large");
    let width = 2 * zeros + 1 + order;
    if width > BITS_PER_CALL_MAX {
        return (0, width);
    }
    let rest_width = zeros + order;
    let rest = shifted & low_mask(rest_width);
    ((1u64 << zeros) | (rest << (zeros + 1)), width)
}

/// Emits the Exp-Golomb code of `value` through `put(bits, width)`: in one call when it fits
/// `BITS_PER_CALL_MAX`, else as the zeros, then the one bit and the rest. Shared by the packet writer
/// and pre-built runs, so both lay a code out identically.
fn put_exp_golomb(value: u64, order: u32, mut put: impl FnMut(u64, u32)) {
    let (code, width) = exp_golomb_code(value, order);
    if width <= BITS_PER_CALL_MAX {
        put(code, width);
    } else {
        let zeros = (width - 1 - order) / 2;
        put(0, zeros);
        put(1, 1);
        let rest_width = zeros + order;
        put(value_rest(value, order, rest_width), rest_width);
    }
}

fn value_rest(value: u64, order: u32, rest_width: u32) -> u64 {
    (value + (1u64 << order)) & low_mask(rest_width)
}

fn low_mask(width: u32) -> u64 {
    debug_assert!(width < 64);
    (1u64 << width) - 1
}

/// Bits gathered off to the side, to be written later (or many times) with [`BitWriter::write_run`]:
/// the snapshot encoder builds an entity's update record once and copies it into every client's
/// snapshot that needs the same record. Holds at most [`BitRun::BITS_MAX`] bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BitRun {
    words: [u64; 4],
    bits: u32,
}

impl BitRun {
    pub const BITS_MAX: u32 = 256;

    pub fn new() -> Self {
        Self::default()
    }

    pub fn bits(&self) -> u32 {
        self.bits
    }

    /// Appends `value` of `width` bits, like [`BitWriter::write_bits`]. Panics past `BITS_MAX`.
    pub fn push_bits(&mut self, value: u64, width: u32) {
        assert!(width <= BITS_PER_CALL_MAX);
        assert!(self.bits + width <= Self::BITS_MAX);
        debug_assert!(value >> width == 0, "value {value} wider than {width} bits");
        if width == 0 {
            return;
        }
        let word = (self.bits / 64) as usize;
        let offset = self.bits % 64;
        self.words[word] |= value << offset;
        if offset + width > 64 {
            self.words[word + 1] |= value >> (64 - offset);
        }
        self.bits += width;
    }

    pub fn push_exp_golomb(&mut self, value: u64, order: u32) {
        put_exp_golomb(value, order, |bits, width| self.push_bits(bits, width));
    }

    pub fn push_signed_exp_golomb(&mut self, value: i64, order: u32) {
        self.push_exp_golomb(zigzag(value), order);
    }
}

/// Bits an Exp-Golomb code of order `k` takes for `value`.
pub fn exp_golomb_bits(value: u64, order: u32) -> u32 {
    let shifted = value + (1u64 << order);
    let length = 64 - shifted.leading_zeros();
    2 * length - 1 - order
}

pub fn signed_exp_golomb_bits(value: i64, order: u32) -> u32 {
    exp_golomb_bits(zigzag(value), order)
}

pub fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

pub fn unzigzag(value: u64) -> i64 {
    ((value >> 1) as i64) ^ -((value & 1) as i64)
}

/// Reads bits in the order [`BitWriter`] wrote them.
pub struct BitReader<'a> {
    bytes: &'a [u8],
    bit_position: usize,
}

impl<'a> BitReader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        BitReader { bytes, bit_position: 0 }
    }

    pub fn bit_position(&self) -> usize {
        self.bit_position
    }

    pub fn bits_remaining(&self) -> usize {
        self.bytes.len() * 8 - self.bit_position
    }

    pub fn read_bits(&mut self, width: u32) -> Result<u64, BitsError> {
        assert!(width <= BITS_PER_CALL_MAX);
        if (width as usize) > self.bits_remaining() {
            return Err(BitsError::Truncated {
                bit_position: self.bit_position,
                bits_needed: width,
            });
        }
        let mut value: u64 = 0;
        let mut filled: u32 = 0;
        while filled < width {
            let byte = self.bytes[self.bit_position / 8];
            let offset = (self.bit_position % 8) as u32;
            let take = (8 - offset).min(width - filled);
            let chunk = (u64::from(byte) >> offset) & ((1u64 << take) - 1);
            value |= chunk << filled;
            filled += take;
            self.bit_position += take as usize;
        }
        Ok(value)
    }

    pub fn read_bool(&mut self) -> Result<bool, BitsError> {
        Ok(self.read_bits(1)? == 1)
    }

    pub fn read_exp_golomb(&mut self, order: u32) -> Result<u64, BitsError> {
        assert!(order <= EXP_GOLOMB_ORDER_MAX);
        let mut zeros: u32 = 0;
        while !self.read_bool()? {
            zeros += 1;
            if zeros > EXP_GOLOMB_ZEROS_MAX {
                return Err(BitsError::ExpGolombTooLong {
                    bit_position: self.bit_position,
                });
            }
        }
        let rest_width = zeros + order;
        let rest = self.read_bits(rest_width)?;
        Ok(((1u64 << rest_width) | rest) - (1u64 << order))
    }

    pub fn read_signed_exp_golomb(&mut self, order: u32) -> Result<i64, BitsError> {
        Ok(unzigzag(self.read_exp_golomb(order)?))
    }

    /// Checks that only zero padding (fewer than 8 bits) is left.
    pub fn finish(self) -> Result<(), BitsError> {
        let remaining = self.bits_remaining();
        if remaining >= 8 {
            return Err(BitsError::TrailingBytes {
                trailing_bytes: remaining / 8,
            });
        }
        if remaining > 0 {
            let last = self.bytes[self.bytes.len() - 1];
            if last >> (8 - remaining) != 0 {
                return Err(BitsError::PaddingNotZero);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_order_is_lsb_first() {
        let mut out = Vec::new();
        let mut writer = BitWriter::new(&mut out);
        writer.write_bits(1, 1);
        writer.write_bits(0b10, 2);
        writer.write_bits(0x1ff, 9);
        assert_eq!(writer.finish(), 12);
        // bits: 1, 0,1, 1x9 -> byte0 = 0b1111_1101, byte1 = 0b0000_1111
        assert_eq!(out, vec![0b1111_1101, 0b0000_1111]);
        let mut reader = BitReader::new(&out);
        assert_eq!(reader.read_bits(1), Ok(1));
        assert_eq!(reader.read_bits(2), Ok(0b10));
        assert_eq!(reader.read_bits(9), Ok(0x1ff));
        assert_eq!(reader.finish(), Ok(()));
    }

    #[test]
    fn exp_golomb_round_trips_and_sizes_agree() {
        for order in [0, 1, 2, 4] {
            for value in [0u64, 1, 2, 3, 7, 8, 100, 65_535, 1 << 32, (1 << 40) - 1] {
                let mut out = Vec::new();
                let mut writer = BitWriter::new(&mut out);
                writer.write_exp_golomb(value, order);
                let bits = writer.finish();
                assert_eq!(
                    bits as u32,
                    exp_golomb_bits(value, order),
                    "value {value} order {order}"
                );
                let mut reader = BitReader::new(&out);
                assert_eq!(reader.read_exp_golomb(order), Ok(value));
                assert_eq!(reader.finish(), Ok(()));
            }
        }
        assert_eq!(exp_golomb_bits(0, 0), 1);
        assert_eq!(exp_golomb_bits(1, 0), 3);
        assert_eq!(exp_golomb_bits(0, 2), 3);
    }

    /// The one-word Exp-Golomb path, the long-code path and a `BitRun` copied into a writer all give
    /// the bits the original three-call writer gave.
    #[test]
    fn exp_golomb_codes_and_runs_match_the_reference_writer() {
        fn reference(out: &mut Vec<u8>, values: &[(u64, u32)]) -> usize {
            let mut writer = BitWriter::new(out);
            writer.write_bits(0b101, 3);
            for &(value, order) in values {
                let shifted = value + (1u64 << order);
                let zeros = 64 - shifted.leading_zeros() - 1 - order;
                for _ in 0..zeros {
                    writer.write_bits(0, 1);
                }
                writer.write_bits(1, 1);
                for bit in 0..zeros + order {
                    writer.write_bits((shifted >> bit) & 1, 1);
                }
            }
            writer.finish()
        }
        let mut values = Vec::new();
        for order in [0, 2, 8] {
            for value in [
                0u64,
                1,
                5,
                255,
                1 << 20,
                (1 << 27) - 1,
                1 << 27,
                (1 << 40) - 1,
                (1 << 41) - 2,
            ] {
                values.push((value, order));
            }
        }
        let mut expected = Vec::new();
        let expected_bits = reference(&mut expected, &values);
        let mut direct = Vec::new();
        let mut writer = BitWriter::new(&mut direct);
        writer.write_bits(0b101, 3);
        for &(value, order) in &values {
            writer.write_exp_golomb(value, order);
        }
        assert_eq!(writer.finish(), expected_bits);
        assert_eq!(direct, expected);
        // The same through runs of mixed lengths.
        let mut via_runs = Vec::new();
        let mut writer = BitWriter::new(&mut via_runs);
        writer.write_bits(0b101, 3);
        for chunk in values.chunks(3) {
            let mut run = BitRun::new();
            for &(value, order) in chunk {
                run.push_exp_golomb(value, order);
            }
            writer.write_run(&run);
        }
        assert_eq!(writer.finish(), expected_bits);
        assert_eq!(via_runs, expected);
    }

    #[test]
    fn signed_codes_round_trip() {
        for value in [0i64, -1, 1, -2, 1000, -1000, i32::MIN as i64, i32::MAX as i64] {
            assert_eq!(unzigzag(zigzag(value)), value);
            let mut out = Vec::new();
            let mut writer = BitWriter::new(&mut out);
            writer.write_signed_exp_golomb(value, 1);
            writer.finish();
            assert_eq!(BitReader::new(&out).read_signed_exp_golomb(1), Ok(value));
        }
    }

    #[test]
    fn reader_is_total_on_bad_input() {
        assert_eq!(
            BitReader::new(&[]).read_bits(1),
            Err(BitsError::Truncated {
                bit_position: 0,
                bits_needed: 1
            })
        );
        let zeros = [0u8; 16];
        assert!(matches!(
            BitReader::new(&zeros).read_exp_golomb(0),
            Err(BitsError::ExpGolombTooLong { .. })
        ));
        let mut reader = BitReader::new(&[0xff, 0x00]);
        reader.read_bits(4).unwrap();
        assert_eq!(reader.finish(), Err(BitsError::TrailingBytes { trailing_bytes: 1 }));
        let mut reader = BitReader::new(&[0b1000_0001]);
        reader.read_bits(1).unwrap();
        assert_eq!(reader.finish(), Err(BitsError::PaddingNotZero));
    }
}
