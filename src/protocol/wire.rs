//! Byte-level primitives: a bounds-checked [`Reader`], an exact-size masking
//! writer [`Out`], LEB128 varints and ZigZag.
//!
//! Every encoder in [`crate::protocol`] writes through [`Out`], which XORs the
//! bytes with a WebSocket masking key while it copies them. Encoding a client
//! frame straight into the send buffer therefore costs one pass over the data;
//! with the zero key ([`Out::plain`]) it is a plain copy.

use crate::error::{Error, Result};

/// Largest number of bytes a `u64` varint takes.
pub const MAX_VARINT_BYTES: usize = 10;

/// Number of bytes the unsigned LEB128 encoding of `v` takes.
#[inline]
pub fn varint_len(v: u64) -> usize {
    // 1 + floor(bits/7), with 0 taking one byte.
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// ZigZag-encodes a signed value (0→0, −1→1, 1→2, −2→3, ...).
#[inline]
pub fn zigzag_encode(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

/// Inverse of [`zigzag_encode`].
#[inline]
pub fn zigzag_decode(u: u64) -> i64 {
    ((u >> 1) as i64) ^ -((u & 1) as i64)
}

/// Appends the varint of `v` to a vector (unmasked). For control frames and
/// tests; hot paths size first and write through [`Out`].
pub fn put_varint_vec(buf: &mut Vec<u8>, mut v: u64) {
    while v > 0x7F {
        buf.push((v as u8 & 0x7F) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// Writer over a pre-sized byte slice that applies a 4-byte WebSocket mask
/// while copying.
///
/// The slice must be exactly as large as what will be written: encoders size
/// first (`*_len` functions), then write. Writing past the end panics — that
/// is a bug in a size function, never a reaction to input data, since sizes
/// are computed from the same values that are then written.
pub struct Out<'a> {
    buf: &'a mut [u8],
    pos: usize,
    /// The masking key rotated so that `key[0]` applies at `pos == 0`.
    key: [u8; 4],
}

impl<'a> Out<'a> {
    /// An unmasked writer.
    pub fn plain(buf: &'a mut [u8]) -> Self {
        Out {
            buf,
            pos: 0,
            key: [0; 4],
        }
    }

    /// A writer masking with `key`, where `buf[0]` is byte number `phase` of
    /// the WebSocket payload (so the key byte applied to it is
    /// `key[phase % 4]`). Lets independent workers fill disjoint parts of one
    /// masked payload.
    pub fn masked(buf: &'a mut [u8], key: [u8; 4], phase: usize) -> Self {
        let r = phase % 4;
        let key = [key[r], key[(r + 1) % 4], key[(r + 2) % 4], key[(r + 3) % 4]];
        Out { buf, pos: 0, key }
    }

    /// Bytes written so far.
    #[inline]
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Bytes left to write.
    #[inline]
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Splits off the next `n` bytes as their own writer (same mask, correct
    /// phase) and advances past them. Used to hand column regions to
    /// parallel encoders.
    pub fn split(&mut self, n: usize) -> Out<'_> {
        let start = self.pos;
        self.pos += n;
        let r = start % 4;
        let k = self.key;
        Out {
            buf: &mut self.buf[start..start + n],
            pos: 0,
            key: [k[r], k[(r + 1) % 4], k[(r + 2) % 4], k[(r + 3) % 4]],
        }
    }

    /// Splits the next `lens` bytes into consecutive regions, each its own
    /// writer with the right masking phase, and advances past all of them.
    /// The regions are disjoint, so they can be filled in parallel.
    pub fn regions(&mut self, lens: impl IntoIterator<Item = usize>) -> Vec<Out<'_>> {
        let k = self.key;
        let mut pos = self.pos;
        let mut rest: &mut [u8] = &mut self.buf[pos..];
        let mut v = Vec::new();
        for n in lens {
            let (head, tail) = std::mem::take(&mut rest).split_at_mut(n);
            let r = pos % 4;
            v.push(Out {
                buf: head,
                pos: 0,
                key: [k[r], k[(r + 1) % 4], k[(r + 2) % 4], k[(r + 3) % 4]],
            });
            rest = tail;
            pos += n;
        }
        self.pos = pos;
        v
    }

    /// Masking key rotated for the current position.
    #[inline]
    fn key_at(&self, pos: usize) -> [u8; 4] {
        let r = pos % 4;
        let k = self.key;
        [k[r], k[(r + 1) % 4], k[(r + 2) % 4], k[(r + 3) % 4]]
    }

    /// Copies `src`, masking on the way.
    #[inline]
    pub fn put(&mut self, src: &[u8]) {
        let end = self.pos + src.len();
        let key = self.key_at(self.pos);
        mask_copy(&mut self.buf[self.pos..end], src, key);
        self.pos = end;
    }

    /// Writes `n` little-endian u32 values taken from `values` (which must
    /// yield at least `n`), masking fused into the store: every 4-byte word
    /// sees the same rotation of the key, so it is one XOR per value.
    #[inline]
    pub fn u32s(&mut self, n: usize, values: impl IntoIterator<Item = u32>) {
        let key = u32::from_le_bytes(self.key_at(self.pos));
        let region = &mut self.buf[self.pos..self.pos + n * 4];
        for (d, v) in region.chunks_exact_mut(4).zip(values) {
            d.copy_from_slice(&(v ^ key).to_le_bytes());
        }
        self.pos += n * 4;
    }

    /// Writes one byte.
    #[inline]
    pub fn u8(&mut self, b: u8) {
        self.buf[self.pos] = b ^ self.key[self.pos % 4];
        self.pos += 1;
    }

    /// Writes `n` copies of `b`.
    pub fn fill(&mut self, b: u8, n: usize) {
        for _ in 0..n {
            self.u8(b);
        }
    }

    /// Writes a little-endian u16.
    #[inline]
    pub fn u16(&mut self, v: u16) {
        self.put(&v.to_le_bytes());
    }

    /// Writes a little-endian u32.
    #[inline]
    pub fn u32(&mut self, v: u32) {
        self.put(&v.to_le_bytes());
    }

    /// Writes a little-endian i64.
    #[inline]
    pub fn i64(&mut self, v: i64) {
        self.put(&v.to_le_bytes());
    }

    /// Writes an unsigned LEB128 varint.
    #[inline]
    pub fn varint(&mut self, mut v: u64) {
        let mut tmp = [0u8; MAX_VARINT_BYTES];
        let mut n = 0;
        while v > 0x7F {
            tmp[n] = (v as u8 & 0x7F) | 0x80;
            v >>= 7;
            n += 1;
        }
        tmp[n] = v as u8;
        self.put(&tmp[..=n]);
    }

    /// Writes a varint length then the bytes.
    pub fn str_varint(&mut self, s: &[u8]) {
        self.varint(s.len() as u64);
        self.put(s);
    }

    /// Writes a u16 length then the bytes (`s` must be ≤ 65 535 bytes).
    pub fn str_u16(&mut self, s: &[u8]) {
        self.u16(s.len() as u16);
        self.put(s);
    }

    /// Gives `f` the next `n` raw bytes to fill unmasked, then masks them in
    /// place. For encoders that must build values byte by byte (bit packing).
    pub fn with_raw(&mut self, n: usize, f: impl FnOnce(&mut [u8])) {
        let start = self.pos;
        let key = self.key_at(start);
        let region = &mut self.buf[start..start + n];
        f(region);
        if key != [0; 4] {
            mask_in_place(region, key);
        }
        self.pos += n;
    }

    /// Whether every byte was written.
    pub fn is_full(&self) -> bool {
        self.pos == self.buf.len()
    }
}

/// `dst[i] = src[i] ^ key[i % 4]`, 32 bytes at a time (four 64-bit words,
/// which the compiler turns into vector XORs).
#[inline]
pub fn mask_copy(dst: &mut [u8], src: &[u8], key: [u8; 4]) {
    debug_assert_eq!(dst.len(), src.len());
    if key == [0; 4] {
        dst.copy_from_slice(src);
        return;
    }
    let k8 = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let xor8 = |dw: &mut [u8], sw: &[u8]| {
        let mut w = [0u8; 8];
        w.copy_from_slice(sw);
        dw.copy_from_slice(&(u64::from_ne_bytes(w) ^ k8).to_ne_bytes());
    };
    let mut d = dst.chunks_exact_mut(32);
    let mut s = src.chunks_exact(32);
    for (dc, sc) in (&mut d).zip(&mut s) {
        for (dw, sw) in dc.chunks_exact_mut(8).zip(sc.chunks_exact(8)) {
            xor8(dw, sw);
        }
    }
    // Short copies (a run of valid values between NULLs) and tails: eight
    // bytes at a time, then single bytes. Every step is a multiple of 4,
    // so the key's phase holds.
    let mut d = d.into_remainder().chunks_exact_mut(8);
    let mut s = s.remainder().chunks_exact(8);
    for (dw, sw) in (&mut d).zip(&mut s) {
        xor8(dw, sw);
    }
    for (i, (db, sb)) in d.into_remainder().iter_mut().zip(s.remainder()).enumerate() {
        *db = sb ^ key[i % 4];
    }
}

/// XORs `buf` with the repeating `key` in place.
#[inline]
pub fn mask_in_place(buf: &mut [u8], key: [u8; 4]) {
    let k8 = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut c = buf.chunks_exact_mut(8);
    for ch in &mut c {
        let mut w = [0u8; 8];
        w.copy_from_slice(ch);
        ch.copy_from_slice(&(u64::from_ne_bytes(w) ^ k8).to_ne_bytes());
    }
    for (i, b) in c.into_remainder().iter_mut().enumerate() {
        *b ^= key[i % 4];
    }
}

/// Bounds-checked reader over a received frame. Every read either succeeds or
/// returns an [`ErrorKind::Protocol`](crate::ErrorKind::Protocol) error naming
/// what was being read and the absolute offset.
#[derive(Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Added to `pos` in error offsets (for bodies decompressed out of a frame).
    base: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader {
            buf,
            pos: 0,
            base: 0,
        }
    }

    /// A reader whose reported offsets start at `base`.
    pub fn with_base(buf: &'a [u8], base: usize) -> Self {
        Reader { buf, pos: 0, base }
    }

    /// Offset of the next byte (as reported in errors).
    #[inline]
    pub fn offset(&self) -> usize {
        self.base + self.pos
    }

    /// Bytes not yet read.
    #[inline]
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The unread bytes.
    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    /// A protocol error at the current offset.
    pub fn err(&self, what: impl Into<String>) -> Error {
        Error::protocol(self.offset(), what)
    }

    /// Reads `n` bytes.
    #[inline]
    pub fn bytes(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(self.err(format!(
                "truncated {what}: need {n} bytes, {} left",
                self.remaining()
            )));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// Reads `count` items of `width` bytes, guarding the multiplication.
    pub fn array(&mut self, count: usize, width: usize, what: &str) -> Result<&'a [u8]> {
        let n = count
            .checked_mul(width)
            .ok_or_else(|| self.err(format!("{what}: {count} values of {width} bytes overflow")))?;
        self.bytes(n, what)
    }

    /// Reads a fixed-size array.
    #[inline]
    pub fn fixed<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let s = self.bytes(N, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    /// Reads one byte.
    #[inline]
    pub fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.fixed::<1>(what)?[0])
    }

    /// Reads a little-endian u16.
    pub fn u16(&mut self, what: &str) -> Result<u16> {
        Ok(u16::from_le_bytes(self.fixed(what)?))
    }

    /// Reads a little-endian u32.
    pub fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.fixed(what)?))
    }

    /// Reads a little-endian i32.
    pub fn i32(&mut self, what: &str) -> Result<i32> {
        Ok(i32::from_le_bytes(self.fixed(what)?))
    }

    /// Reads a little-endian i64.
    pub fn i64(&mut self, what: &str) -> Result<i64> {
        Ok(i64::from_le_bytes(self.fixed(what)?))
    }

    /// Reads a little-endian u64.
    pub fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.fixed(what)?))
    }

    /// Reads an unsigned LEB128 varint (at most 10 bytes, no overflow).
    #[inline]
    pub fn varint(&mut self, what: &str) -> Result<u64> {
        let start = self.offset();
        let mut v: u64 = 0;
        let mut shift = 0u32;
        loop {
            let Some(&b) = self.buf.get(self.pos) else {
                return Err(Error::protocol(start, format!("truncated varint {what}")));
            };
            self.pos += 1;
            if shift == 63 && b > 1 {
                return Err(Error::protocol(
                    start,
                    format!("varint {what} overflows 64 bits"),
                ));
            }
            v |= u64::from(b & 0x7F) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
            shift += 7;
            if shift > 63 {
                return Err(Error::protocol(
                    start,
                    format!("varint {what} longer than 10 bytes"),
                ));
            }
        }
    }

    /// Reads a varint that must fit `usize` and be at most `max`.
    pub fn varint_max(&mut self, max: u64, what: &str) -> Result<usize> {
        let at = self.offset();
        let v = self.varint(what)?;
        if v > max {
            return Err(Error::protocol(
                at,
                format!("{what} {v} exceeds the limit {max}"),
            ));
        }
        Ok(v as usize)
    }

    /// Reads a varint-length UTF-8 string of at most `max` bytes.
    pub fn str_varint(&mut self, max: usize, what: &str) -> Result<&'a str> {
        let pos = self.pos;
        let n = match self.varint_max(max as u64, what) {
            Ok(n) => n,
            // Read again for the error naming the length: the message is
            // formatted on this path only (strings are read per symbol).
            Err(_) => {
                self.pos = pos;
                self.varint_max(max as u64, &format!("{what} length"))?
            }
        };
        self.utf8(n, what)
    }

    /// Reads a u16-length UTF-8 string.
    pub fn str_u16(&mut self, what: &str) -> Result<&'a str> {
        let pos = self.pos;
        let n = match self.u16(what) {
            Ok(n) => n,
            Err(_) => {
                self.pos = pos;
                self.u16(&format!("{what} length"))?
            }
        } as usize;
        self.utf8(n, what)
    }

    /// Reads `n` bytes that must be UTF-8.
    pub fn utf8(&mut self, n: usize, what: &str) -> Result<&'a str> {
        let at = self.offset();
        let b = self.bytes(n, what)?;
        std::str::from_utf8(b)
            .map_err(|e| Error::protocol(at, format!("{what} is not UTF-8")).with_source(e))
    }

    /// Fails unless every byte was consumed.
    pub fn finish(&self, what: &str) -> Result<()> {
        if self.remaining() != 0 {
            return Err(self.err(format!("{} trailing bytes after {what}", self.remaining())));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(v: u64) -> Vec<u8> {
        let mut b = vec![0; varint_len(v)];
        Out::plain(&mut b).varint(v);
        b
    }

    #[test]
    fn varint_vectors_both_ways() {
        let vectors: &[(u64, &[u8])] = &[
            (0, &[0x00]),
            (1, &[0x01]),
            (127, &[0x7F]),
            (128, &[0x80, 0x01]),
            (255, &[0xFF, 0x01]),
            (300, &[0xAC, 0x02]),
            (16384, &[0x80, 0x80, 0x01]),
            (65536, &[0x80, 0x80, 0x04]),
        ];
        for &(v, bytes) in vectors {
            assert_eq!(enc(v), bytes, "encode {v}");
            assert_eq!(Reader::new(bytes).varint("v").unwrap(), v, "decode {v}");
            let mut vv = Vec::new();
            put_varint_vec(&mut vv, v);
            assert_eq!(vv, bytes);
        }
        assert_eq!(enc(u64::MAX).len(), 10);
        assert_eq!(Reader::new(&enc(u64::MAX)).varint("v").unwrap(), u64::MAX);
    }

    #[test]
    fn varint_rejects_overflow_and_truncation() {
        let e = Reader::new(&[0x80, 0x80]).varint("x").unwrap_err();
        assert!(e.to_string().contains("truncated varint x"), "{e}");
        let too_big = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02];
        assert!(Reader::new(&too_big).varint("x").is_err());
        let too_long = [0x80; 11];
        assert!(Reader::new(&too_long).varint("x").is_err());
    }

    #[test]
    fn zigzag_vectors() {
        for (n, u) in [(0i64, 0u64), (-1, 1), (1, 2), (-2, 3), (2, 4)] {
            assert_eq!(zigzag_encode(n), u);
            assert_eq!(zigzag_decode(u), n);
        }
        for n in [i64::MIN, i64::MAX, -12345, 987654321] {
            assert_eq!(zigzag_decode(zigzag_encode(n)), n);
        }
    }

    #[test]
    fn mask_copy_and_u32s_match_bytewise_masking_at_every_length_and_phase() {
        let key = [0x12, 0x34, 0x56, 0x78];
        let src: Vec<u8> = (0..100u8).map(|i| i.wrapping_mul(37)).collect();
        for len in 0..src.len() {
            for phase in 0..4 {
                let want: Vec<u8> = (0..len).map(|i| src[i] ^ key[(i + phase) % 4]).collect();
                let mut got = vec![0; len];
                let mut out = Out::masked(&mut got, key, phase);
                out.put(&src[..len]);
                assert_eq!(got, want, "put, len {len} phase {phase}");
                // u32s after `phase` bytes: values masked as their bytes.
                let words: Vec<u32> = (0..len as u32).map(|i| i * 0x0101_0101).collect();
                let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
                let mut got = vec![0; phase + bytes.len()];
                let mut out = Out::masked(&mut got, key, 0);
                out.put(&src[..phase]);
                out.u32s(words.len(), words.iter().copied());
                assert!(out.is_full());
                let want: Vec<u8> = src[..phase]
                    .iter()
                    .chain(&bytes)
                    .enumerate()
                    .map(|(i, b)| b ^ key[i % 4])
                    .collect();
                assert_eq!(got, want, "u32s, {len} words after {phase} bytes");
            }
        }
    }

    #[test]
    fn masking_is_phase_correct_across_splits() {
        let key = [0x11, 0x22, 0x33, 0x44];
        let src: Vec<u8> = (0..37u8).collect();
        let mut whole = vec![0; 37];
        Out::masked(&mut whole, key, 0).put(&src);
        // Same bytes written in pieces through split().
        let mut parts = vec![0; 37];
        let mut o = Out::masked(&mut parts, key, 0);
        o.u8(src[0]);
        {
            let mut a = o.split(13);
            a.put(&src[1..14]);
        }
        o.with_raw(5, |b| b.copy_from_slice(&src[14..19]));
        o.put(&src[19..]);
        assert!(o.is_full());
        assert_eq!(whole, parts);
        for (i, (&m, &s)) in whole.iter().zip(&src).enumerate() {
            assert_eq!(m ^ key[i % 4], s);
        }
    }

    #[test]
    fn reader_errors_name_offset() {
        let mut r = Reader::with_base(&[1, 2, 3], 100);
        r.u8("a").unwrap();
        let e = r.u32("b").unwrap_err();
        assert_eq!(e.offset(), Some(101));
        assert!(e.to_string().contains("truncated b"));
    }
}
