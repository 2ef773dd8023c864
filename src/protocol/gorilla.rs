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

// The five buckets, computed without branches (timestamps with jitter
// would make a `match` mispredict on most values). With m = dod ^ (dod >>
// 63) (the magnitude: -1 - dod for negatives), a dod is a k-bit two's
// complement value iff m < 2^(k-1). Four flags that imply each other in
// turn, nz = (dod != 0), a = (m ≥ 64), b = (m ≥ 256), c = (m ≥ 2048), give
// the bucket k = nz + a + b + c and the size 1 + 8nz + 3a + 4b + 20c.

/// `(code, bits)`: the bucket's prefix and value bits of one encodable
/// delta-of-delta, to write LSB first. The bucket index k (0–4) is the
/// count of magnitude flags; bucket k's prefix is k one bits then a zero
/// (`1111` for k = 4), i.e. the low bits of 2^k − 1.
#[inline(always)]
fn code(dod: i64) -> (u64, u32) {
    const PREFIX_BITS: [u32; 8] = [1, 2, 3, 4, 4, 0, 0, 0];
    const TOTAL_BITS: [u32; 8] = [1, 9, 12, 16, 36, 0, 0, 0];
    const VALUE_MASK: [u64; 8] = [0, 0x7F, 0x1FF, 0xFFF, 0xFFFF_FFFF, 0, 0, 0];
    let u = dod as u64;
    let m = u ^ (u >> 63).wrapping_neg();
    let k = usize::from(dod != 0)
        + usize::from(m >= 64)
        + usize::from(m >= 256)
        + usize::from(m >= 2048);
    let k = k & 7;
    let prefix = (1u64 << k) - 1;
    (
        prefix | ((u & VALUE_MASK[k]) << PREFIX_BITS[k]),
        TOTAL_BITS[k],
    )
}

/// Whether `ts` has at least three values, all the same distance apart
/// (no overflow): a regular series, whose stream is all zero bits. A
/// branch-free pass that stops at the first 64-value block that differs.
#[inline]
fn constant_cadence(ts: &[i64]) -> bool {
    if ts.len() < 3 {
        return false;
    }
    let d = ts[1].wrapping_sub(ts[0]);
    // In blocks of 64 deltas, each checked without branches (a wrapped
    // subtraction shows as an order that disagrees with the sign of `d`).
    let mut i = 1;
    while i < ts.len() {
        let end = (i + 64).min(ts.len());
        let mut same = true;
        for w in ts[i - 1..end].windows(2) {
            same &= (w[1].wrapping_sub(w[0]) == d) & ((w[1] < w[0]) == (d < 0));
        }
        if !same {
            return false;
        }
        i = end;
    }
    true
}

/// Exact encoded size in bytes (seeds plus bitstream) of `ts`, or `None` if
/// some delta-of-delta does not fit an i32 (then the column must go raw).
///
/// One pass without branches or carried state: each value's delta-of-delta
/// is recomputed from its three timestamps and every test is a shift, an
/// add or a mask, so the loop vectorises even on baseline x86-64 (which
/// has no 64-bit vector compare).
pub fn encoded_len(ts: &[i64]) -> Option<usize> {
    let seeds = ts.len().min(2) * 8;
    if ts.len() < 3 {
        return Some(seeds);
    }
    if constant_cadence(ts) {
        // Every delta-of-delta is 0: one bit each.
        return Some(seeds + (ts.len() - 2).div_ceil(8));
    }
    let n = ts.len();
    let (mut bits, mut overflow, mut wide) = (0u64, 0u64, 0u64);
    // Blocks keep the per-lane sums small and give the vectoriser a
    // fixed trip count.
    const BLOCK: usize = 256;
    let mut i = 2;
    while i < n {
        let end = (i + BLOCK).min(n);
        let (a, b, c) = (&ts[i - 2..end - 2], &ts[i - 1..end - 1], &ts[i..end]);
        for ((&x, &y), &z) in a.iter().zip(b).zip(c) {
            let (d0, d1) = (y.wrapping_sub(x), z.wrapping_sub(y));
            let dod = d1.wrapping_sub(d0);
            // A subtraction p - q = r overflowed iff p and q differ in sign
            // and r differs from p: the sign bit of (p ^ q) & (p ^ r).
            overflow |=
                (((y ^ x) & (y ^ d0)) | ((z ^ y) & (z ^ d1)) | ((d1 ^ d0) & (d1 ^ dod))) as u64;
            let u = dod as u64;
            // m = magnitude (−1 − dod for negatives); the sign mask without
            // an arithmetic 64-bit shift.
            let m = u ^ (u >> 63).wrapping_neg();
            wide |= m >> 31;
            // (v + 2^63 − 1) >> 63 is 1 iff v ≠ 0, for v < 2^63.
            let ge = |k: u32| ((m >> k).wrapping_add(i64::MAX as u64)) >> 63;
            let nz = (u | u.wrapping_neg()) >> 63;
            bits += 1 + 8 * nz + 3 * ge(6) + 4 * ge(8) + 20 * ge(11);
        }
        i = end;
    }
    (overflow >> 63 == 0 && wide == 0).then(|| seeds + bits.div_ceil(8) as usize)
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
    if stream_len == (ts.len() - 2).div_ceil(8) {
        // One bit per value: every delta-of-delta is 0 (any other takes at
        // least 9 bits, one byte more), so the stream is all zero bits.
        out.with_raw(stream_len, |buf| buf.fill(0));
        return;
    }
    out.with_raw(stream_len, |buf| {
        let mut w = BitWriter::new(buf);
        // Sizing proved every value encodable: plain wrapping arithmetic,
        // the previous delta carried along.
        let (mut prev, mut delta) = (ts[1], ts[1].wrapping_sub(ts[0]));
        for &t in &ts[2..] {
            let d = t.wrapping_sub(prev);
            let (code, bits) = code(d.wrapping_sub(delta));
            (prev, delta) = (t, d);
            w.put(code, bits);
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

/// The encoded length of `ts` if it is a constant cadence of at least
/// three values (an all-zero stream, cheaper to write than the raw values),
/// else `None`. On a jittered series it stops within the first 64 values.
pub fn regular(ts: &[i64]) -> Option<usize> {
    constant_cadence(ts).then(|| 16 + (ts.len() - 2).div_ceil(8))
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
    let total_bits = bytes.len() * 8;
    // Every value takes at least one bit: refuse a count the stream cannot
    // hold before reserving room for it.
    if n - 2 > total_bits {
        return Err(Error::protocol(start, "truncated gorilla bitstream"));
    }
    dst.reserve(n - 2);
    let len = dst.len();
    let mut prev = dst[len - 1];
    let mut delta = prev.wrapping_sub(dst[len - 2]);
    let mut left = n - 2;
    // `w` holds the stream's next `avail` bits (LSB first, zeros past the
    // end); `bit` is where `w` starts in the stream.
    let mut bit = 0usize;
    let (mut w, mut avail) = (peek(bytes, 0), 57u32);
    while left > 0 {
        if avail < 36 {
            w = peek(bytes, bit);
            avail = 57;
        }
        // A run of zero bits is a run of unchanged deltas.
        let zeros = w.trailing_zeros().min(avail);
        if zeros > 0 {
            let run = (zeros as usize).min(left);
            for _ in 0..run {
                prev = prev.wrapping_add(delta);
                dst.push(prev);
            }
            left -= run;
            bit += run;
            // run ≤ avail ≤ 57: the shift is in range.
            w >>= run;
            avail -= run as u32;
            continue;
        }
        // The prefixes are 0, 10, 110, 1110 and 1111 in write order, so the
        // count of leading one bits (at most 4) picks the bucket.
        let k = (!w).trailing_zeros().min(4) as usize;
        const PREFIX_BITS: [u32; 5] = [1, 2, 3, 4, 4];
        const VALUE_BITS: [u32; 5] = [0, 7, 9, 12, 32];
        let (pb, vb) = (PREFIX_BITS[k], VALUE_BITS[k]);
        let v = (w >> pb) & ((1u64 << vb) - 1);
        // Sign-extend from `vb` bits (k ≥ 1 here, so vb ≥ 7).
        let shift = 64 - vb;
        let dod = ((v << shift) as i64) >> shift;
        delta = delta.wrapping_add(dod);
        prev = prev.wrapping_add(delta);
        dst.push(prev);
        left -= 1;
        bit += (pb + vb) as usize;
        w >>= pb + vb;
        avail -= pb + vb;
    }
    if bit > total_bits {
        return Err(Error::protocol(
            start + total_bits / 8,
            "truncated gorilla bitstream",
        ));
    }
    r.bytes(bit.div_ceil(8), "gorilla bitstream")?;
    Ok(())
}

/// The 64 bits of `buf` starting at bit `bit` (LSB first), zeros past the
/// end; the low 57 are always meaningful (a value needs at most 36).
#[inline(always)]
fn peek(buf: &[u8], bit: usize) -> u64 {
    let at = bit / 8;
    let mut a = [0u8; 8];
    match buf.get(at..at + 8) {
        Some(b) => a.copy_from_slice(b),
        None => {
            let tail = buf.get(at..).unwrap_or(&[]);
            a[..tail.len()].copy_from_slice(tail);
        }
    }
    u64::from_le_bytes(a) >> (bit % 8)
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
    #[inline(always)]
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
        // `whole` ≤ 5 (43 bits at most), so the shift is below 64.
        self.acc >>= whole * 8;
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
        // A delta-of-delta that wraps around i64 into a small value (−2
        // here) is still an overflow: not encodable.
        assert_eq!(encoded_len(&[i64::MAX, 0, i64::MAX]), None);
        assert_eq!(encoded_len(&[0, i64::MAX, 0]), None);
        assert_eq!(worthwhile(&[1, 2]), None);
        assert_eq!(regular(&[1, 2]), None);
        assert_eq!(regular(&[1, 2, 3]), Some(17));
        assert_eq!(regular(&[1, 2, 4]), None);
        assert_eq!(worthwhile(&[1, 2, 3]), Some(17));
    }

    #[test]
    fn constant_cadence_fast_path() {
        let ts: Vec<i64> = (0..1000).map(|i| 5 + i * 7).collect();
        assert!(constant_cadence(&ts));
        assert_eq!(enc(&ts), reference(&ts).unwrap());
        let mut bent = ts.clone();
        bent[700] += 1;
        assert!(!constant_cadence(&bent));
        assert_eq!(enc(&bent), reference(&bent).unwrap());
        // A constant step that wraps around i64 is not encodable.
        let wraps = [i64::MAX - 10, i64::MAX - 3, (i64::MAX - 3).wrapping_add(7)];
        assert!(!constant_cadence(&wraps));
        assert_eq!(encoded_len(&wraps), None);
        let down = [i64::MIN + 10, i64::MIN + 3, (i64::MIN + 3).wrapping_sub(7)];
        assert_eq!(encoded_len(&down), None);
    }

    #[test]
    fn short_columns() {
        assert_eq!(dec(&enc(&[]), 0), Vec::<i64>::new());
        assert_eq!(dec(&enc(&[7]), 1), vec![7]);
        assert_eq!(dec(&enc(&[7, -9]), 2), vec![7, -9]);
    }

    /// The spec's table written out bit by bit: the reference the fast
    /// encoder and decoder are held to.
    fn reference(ts: &[i64]) -> Option<Vec<u8>> {
        let mut out: Vec<u8> = ts.iter().take(2).flat_map(|t| t.to_le_bytes()).collect();
        let mut bits: Vec<bool> = Vec::new();
        let mut put = |v: u64, n: u32| (0..n).for_each(|i| bits.push(v >> i & 1 == 1));
        for w in ts.windows(3) {
            let dod = (w[2].checked_sub(w[1])?).checked_sub(w[1].checked_sub(w[0])?)?;
            match dod {
                0 => put(0, 1),
                -64..=63 => {
                    put(0b01, 2);
                    put(dod as u64, 7)
                }
                -256..=255 => {
                    put(0b011, 3);
                    put(dod as u64, 9)
                }
                -2048..=2047 => {
                    put(0b0111, 4);
                    put(dod as u64, 12)
                }
                _ if i32::try_from(dod).is_ok() => {
                    put(0b1111, 4);
                    put(dod as u64, 32)
                }
                _ => return None,
            }
        }
        for chunk in bits.chunks(8) {
            out.push(chunk.iter().rev().fold(0u8, |b, &x| b << 1 | u8::from(x)));
        }
        Some(out)
    }

    proptest::proptest! {
        #[test]
        fn matches_the_bit_by_bit_reference(
            start in proptest::prelude::any::<i64>(),
            steps in proptest::collection::vec(
                proptest::prop_oneof![
                    4 => proptest::prelude::Just(1_000i64),
                    4 => -70i64..70,
                    2 => -300i64..300,
                    2 => -3000i64..3000,
                    1 => -(1i64 << 33)..(1i64 << 33),
                ],
                0..200,
            ),
            // Sometimes one step anywhere in i64 (mostly not encodable).
            wild in proptest::option::of((0usize..200, proptest::prelude::any::<i64>())),
        ) {
            let mut steps = steps;
            if let Some((at, step)) = wild {
                steps.insert(at.min(steps.len()), step);
            }
            let mut ts = vec![start];
            for s in steps {
                let last = *ts.last().unwrap();
                ts.push(last.wrapping_add(s));
            }
            let want = reference(&ts);
            proptest::prop_assert_eq!(encoded_len(&ts), want.as_ref().map(|w| w.len()));
            if let Some(want) = want {
                proptest::prop_assert_eq!(&enc(&ts), &want);
                proptest::prop_assert_eq!(dec(&want, ts.len()), ts);
            }
        }
    }

    #[test]
    fn truncated_stream_is_an_error() {
        let b = enc(&[0, 1000, 5000, 1, 99999999]);
        for cut in 0..b.len() {
            assert!(decode(&mut Reader::new(&b[..cut]), 5).is_err(), "cut {cut}");
        }
    }
}
