//! Text from bytes with a fast path for ASCII: [`utf8`].
//!
//! `str::from_utf8` has an ASCII fast path of its own, but for the short
//! tokens of ILP (names, symbol values, short strings: mostly under 32
//! bytes) its setup (alignment, then the general loop) costs more than
//! the check: it showed as 5–8 % of the embedded server's ILP parse. The
//! check here ORs the bytes eight at a time and tests the high bits once;
//! text with any byte of 0x80 or more goes to `str::from_utf8` unchanged
//! (the same result and error as before).
//!
//! Tests: the ones below (every length to 40 with a non-ASCII byte at
//! every position, checked against `str::from_utf8`);
//! `protocol::ilp`'s `text_fast_path_*` tests (ASCII, multi-byte and
//! invalid names, symbol values and strings through the parser).

use std::str::Utf8Error;

const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Whether every byte of `b` is below 0x80.
#[inline(always)]
fn is_ascii(b: &[u8]) -> bool {
    let mut words = b.chunks_exact(8);
    let mut acc = 0u64;
    for w in &mut words {
        let mut a = [0u8; 8];
        a.copy_from_slice(w);
        acc |= u64::from_le_bytes(a);
    }
    let tail = words.remainder().iter().fold(0u8, |t, &x| t | x);
    acc & HIGHS == 0 && tail < 0x80
}

/// `b` as text: what `std::str::from_utf8` returns, found faster when
/// `b` is ASCII.
#[inline]
pub(crate) fn utf8(b: &[u8]) -> Result<&str, Utf8Error> {
    if is_ascii(b) {
        // SAFETY: every byte of `b` is below 0x80 (checked just above),
        // and a sequence of ASCII bytes is valid UTF-8.
        Ok(unsafe { std::str::from_utf8_unchecked(b) })
    } else {
        std::str::from_utf8(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every length to 40, ASCII and with one byte of each kind that is
    /// not (a lone continuation byte, a lead byte, a whole two-byte
    /// character) at every position: the same answer as `from_utf8`.
    #[test]
    fn agrees_with_from_utf8() {
        for len in 0..=40usize {
            let ascii: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            assert_eq!(utf8(&ascii), std::str::from_utf8(&ascii));
            assert!(utf8(&ascii).is_ok());
            for at in 0..len {
                for bad in [0x80u8, 0xC3, 0xFF] {
                    let mut b = ascii.clone();
                    b[at] = bad;
                    assert_eq!(utf8(&b), std::str::from_utf8(&b), "len {len} at {at}");
                    assert!(utf8(&b).is_err());
                }
                if at + 1 < len {
                    let mut b = ascii.clone();
                    b[at..at + 2].copy_from_slice("é".as_bytes());
                    assert_eq!(utf8(&b), Ok(std::str::from_utf8(&b).unwrap()));
                }
            }
        }
    }
}
