//! Gorilla delta-of-delta timestamp compression, bit-exact to the QWP spec.
//!
//! Layout: the first two values as raw i64 LE, then for each later value the
//! delta-of-delta (DoD) in one of five buckets, bits packed LSB-first, the
//! stream padded with zero bits to a byte boundary:
//!
//! | DoD range | prefix (write order) | value bits | total |
//! |---|---|---|---|
//! | 0 | `0` | 0 | 1 |
//! | −64..=63 | `1 0` | 7 | 9 |
//! | −256..=255 | `1 1 0` | 9 | 12 |
//! | −2048..=2047 | `1 1 1 0` | 12 | 16 |
//! | any other i32 | `1 1 1 1` | 32 | 36 |
//!
//! A DoD outside the i32 range cannot be encoded: [`encoded_len`] then returns
//! `None` and the caller writes the column raw.

use super::wire::{Out, Reader};
use crate::error::{Error, Result};

/// Bits used to encode one delta-of-delta, or `None` outside the i32 range.
#[inline]
fn dod_bits(dod: i64) -> Option<u32> {
    Some(match dod {
        0 => 1,
        -64..=63 => 9,
        -256..=255 => 12,
        -2048..=2047 => 16,
        _ if dod >= i64::from(i32::MIN) && dod <= i64::from(i32::MAX) => 36,
        _ => return None,
    })
}

/// Iterates the DoDs of `ts` (from the third value on), `None` when a delta
/// or DoD overflows i64.
fn dods(ts: &[i64]) -> impl Iterator<Item = Option<i64>> + '_ {
    ts.windows(3).map(|w| {
        let d1 = w[1].checked_sub(w[0])?;
        let d2 = w[2].checked_sub(w[1])?;
        d2.checked_sub(d1)
    })
}

/// Exact encoded size in bytes (seeds plus bitstream) of `ts`, or `None` if
/// some delta-of-delta does not fit an i32 (then the column must go raw).
pub fn encoded_len(ts: &[i64]) -> Option<usize> {
    let seeds = ts.len().min(2) * 8;
    let mut bits: u64 = 0;
    for dod in dods(ts) {
        bits += u64::from(dod_bits(dod?)?);
    }
    Some(seeds + bits.div_ceil(8) as usize)
}

/// Writes `ts` Gorilla-encoded; `len` must be the value [`encoded_len`]
/// returned for the same slice.
pub fn encode(ts: &[i64], len: usize, out: &mut Out<'_>) {
    for &t in &ts[..ts.len().min(2)] {
        out.i64(t);
    }
    let stream_len = len - ts.len().min(2) * 8;
    if stream_len == 0 {
        return;
    }
    out.with_raw(stream_len, |buf| {
        let mut w = BitWriter::new(buf);
        for dod in dods(ts) {
            // Sizing already proved every DoD fits; treat a failure as 0 bits.
            let Some(dod) = dod else { continue };
            match dod {
                0 => w.put(0, 1),
                -64..=63 => w.put(0b01 | ((dod as u64 & 0x7F) << 2), 9),
                -256..=255 => w.put(0b011 | ((dod as u64 & 0x1FF) << 3), 12),
                -2048..=2047 => w.put(0b0111 | ((dod as u64 & 0xFFF) << 4), 16),
                _ => w.put(0b1111 | ((dod as u64 & 0xFFFF_FFFF) << 4), 36),
            }
        }
        w.finish();
    });
}

/// Whether Gorilla is worth it for `ts`: at least three values and a
/// stream smaller than the raw `8 × n` bytes. Returns the encoded length.
pub fn worthwhile(ts: &[i64]) -> Option<usize> {
    if ts.len() < 3 {
        return None;
    }
    let len = encoded_len(ts)?;
    (len < ts.len() * 8).then_some(len)
}

/// Decodes `n` Gorilla-encoded values from `r`, appending them to `dst`, and
/// leaves `r` at the next byte boundary.
pub fn decode_into(r: &mut Reader<'_>, n: usize, dst: &mut Vec<i64>) -> Result<()> {
    let seeds = n.min(2);
    for _ in 0..seeds {
        dst.push(r.i64("gorilla seed")?);
    }
    if n <= 2 {
        return Ok(());
    }
    let start = r.offset();
    let bytes = r.rest();
    let mut br = BitReader {
        buf: bytes,
        bit: 0,
        start,
    };
    let len = dst.len();
    let mut prev = dst[len - 1];
    let mut delta = prev.wrapping_sub(dst[len - 2]);
    for _ in 2..n {
        let dod: i64 = if br.bit()? == 0 {
            0
        } else if br.bit()? == 0 {
            br.signed(7)?
        } else if br.bit()? == 0 {
            br.signed(9)?
        } else if br.bit()? == 0 {
            br.signed(12)?
        } else {
            br.signed(32)?
        };
        delta = delta.wrapping_add(dod);
        prev = prev.wrapping_add(delta);
        dst.push(prev);
    }
    let used = br.bit.div_ceil(8);
    r.bytes(used, "gorilla bitstream")?;
    Ok(())
}

/// Decodes `n` values into a new vector.
pub fn decode(r: &mut Reader<'_>, n: usize) -> Result<Vec<i64>> {
    let mut v = Vec::with_capacity(n.min(r.remaining().saturating_mul(8)));
    decode_into(r, n, &mut v)?;
    Ok(v)
}

struct BitWriter<'a> {
    buf: &'a mut [u8],
    pos: usize,
    acc: u64,
    nbits: u32,
}

impl<'a> BitWriter<'a> {
    fn new(buf: &'a mut [u8]) -> Self {
        BitWriter {
            buf,
            pos: 0,
            acc: 0,
            nbits: 0,
        }
    }

    /// Appends the low `bits` (≤ 36) of `value`. At most 7 bits stay in
    /// the accumulator between calls, so it never holds more than 43.
    #[inline]
    fn put(&mut self, value: u64, bits: u32) {
        self.acc |= value << self.nbits;
        self.nbits += bits;
        let whole = (self.nbits / 8) as usize;
        if let Some(dst) = self.buf.get_mut(self.pos..self.pos + 8) {
            // Fast path: store all 8 accumulator bytes at once; only the
            // `whole` complete ones count, the rest is overwritten by the
            // next store (or by `finish`).
            dst.copy_from_slice(&self.acc.to_le_bytes());
        } else {
            for (k, b) in self.acc.to_le_bytes()[..whole].iter().enumerate() {
                self.buf[self.pos + k] = *b;
            }
        }
        self.pos += whole;
        self.acc = if whole == 8 {
            0
        } else {
            self.acc >> (whole * 8)
        };
        self.nbits -= whole as u32 * 8;
    }

    fn finish(mut self) {
        if self.nbits > 0 {
            self.buf[self.pos] = self.acc as u8;
            self.pos += 1;
        }
        // Any bytes left (cannot happen when sized right) are zero padding.
        for b in &mut self.buf[self.pos..] {
            *b = 0;
        }
    }
}

struct BitReader<'a> {
    buf: &'a [u8],
    bit: usize,
    start: usize,
}

impl BitReader<'_> {
    #[inline]
    fn bit(&mut self) -> Result<u64> {
        let Some(&byte) = self.buf.get(self.bit / 8) else {
            return Err(Error::protocol(
                self.start + self.bit / 8,
                "truncated gorilla bitstream",
            ));
        };
        let b = (byte >> (self.bit % 8)) & 1;
        self.bit += 1;
        Ok(u64::from(b))
    }

    #[inline]
    fn signed(&mut self, bits: u32) -> Result<i64> {
        let mut v: u64 = 0;
        for i in 0..bits {
            v |= self.bit()? << i;
        }
        // Sign-extend from `bits`.
        let shift = 64 - bits;
        Ok(((v << shift) as i64) >> shift)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(ts: &[i64]) -> Vec<u8> {
        let len = encoded_len(ts).unwrap();
        let mut b = vec![0xAA; len];
        encode(ts, len, &mut Out::plain(&mut b));
        b
    }

    fn dec(bytes: &[u8], n: usize) -> Vec<i64> {
        let mut r = Reader::new(bytes);
        let v = decode(&mut r, n).unwrap();
        assert_eq!(r.remaining(), 0);
        v
    }

    #[test]
    fn spec_t15_both_ways() {
        let ts = [1000, 1100, 1200, 1305, 1400];
        let bytes = [
            0xE8, 0x03, 0, 0, 0, 0, 0, 0, 0x4C, 0x04, 0, 0, 0, 0, 0, 0, 0x2A, 0x64, 0x07,
        ];
        assert_eq!(enc(&ts), bytes);
        assert_eq!(dec(&bytes, 5), ts);
    }

    #[test]
    fn spec_t16_single_dod_streams() {
        let cases: &[(i64, &[u8])] = &[
            (0, &[0x00]),
            (1, &[0x05, 0x00]),
            (-64, &[0x01, 0x01]),
            (64, &[0x03, 0x02]),
            (300, &[0xC7, 0x12]),
            (-2048, &[0x07, 0x80]),
            (2048, &[0x0F, 0x80, 0x00, 0x00, 0x00]),
        ];
        for &(dod, stream) in cases {
            let ts = [0i64, 10, 20 + dod];
            let b = enc(&ts);
            assert_eq!(&b[16..], stream, "dod {dod}");
            assert_eq!(dec(&b, 3), ts, "dod {dod}");
        }
        // Constant cadence: three zero bits, one padded byte.
        let ts = [1000, 1100, 1200, 1300, 1400];
        assert_eq!(&enc(&ts)[16..], &[0x00]);
    }

    #[test]
    fn bucket_edges_and_fallback() {
        for dod in [
            63i64,
            -65,
            255,
            -256,
            256,
            2047,
            -2049,
            i32::MAX as i64,
            i32::MIN as i64,
        ] {
            let ts = [5i64, 5, 5 + dod, 5 + 2 * dod];
            assert_eq!(dec(&enc(&ts), 4), ts, "dod {dod}");
        }
        assert_eq!(encoded_len(&[0, 0, i32::MAX as i64 + 1]), None);
        assert_eq!(encoded_len(&[i64::MIN, i64::MAX, 0]), None);
        assert_eq!(worthwhile(&[1, 2]), None);
        assert_eq!(worthwhile(&[1, 2, 3]), Some(17));
    }

    #[test]
    fn short_columns() {
        assert_eq!(dec(&enc(&[]), 0), Vec::<i64>::new());
        assert_eq!(dec(&enc(&[7]), 1), vec![7]);
        assert_eq!(dec(&enc(&[7, -9]), 2), vec![7, -9]);
    }

    #[test]
    fn truncated_stream_is_an_error() {
        let b = enc(&[0, 1000, 5000, 1, 99999999]);
        for cut in 0..b.len() {
            assert!(decode(&mut Reader::new(&b[..cut]), 5).is_err(), "cut {cut}");
        }
    }
}
