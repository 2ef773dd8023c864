//! The byte scans of the ILP parser, eight bytes at a time (SWAR): the
//! first byte of a small stop set, the end (and value) of a run of ASCII
//! digits. A scan reads whole words while eight bytes remain and finishes
//! byte by byte.

use super::numbers::eight_digits_value;

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Where a table name or symbol value ends (or an escape starts).
pub(super) const TABLE_STOPS: [u8; 5] = *b", \n\r\\";
/// Where a symbol or column name ends (or an escape starts).
pub(super) const NAME_STOPS: [u8; 6] = *b"=, \n\r\\";
/// Where an unquoted value ends.
pub(super) const VALUE_END: [u8; 4] = *b", \n\r";
/// Where a run of plain bytes in a quoted string ends.
pub(super) const QUOTED_STOPS: [u8; 4] = *b"\"\\\n\r";
/// Where the designated timestamp ends.
pub(super) const TIMESTAMP_END: [u8; 3] = *b" \n\r";

/// The eight bytes at `at`, the first in the lowest byte.
#[inline(always)]
fn word(buf: &[u8], at: usize) -> Option<u64> {
    buf.get(at..)?
        .first_chunk::<8>()
        .map(|w| u64::from_le_bytes(*w))
}

/// The high bit of each zero byte of `x`; bytes above the first zero byte
/// may be marked too, so only the lowest mark is exact.
#[inline(always)]
fn zero_bytes(x: u64) -> u64 {
    x.wrapping_sub(ONES) & !x & HIGHS
}

/// The byte index of the lowest marked byte of a non-zero mask.
#[inline(always)]
fn first_marked(mask: u64) -> usize {
    (mask.trailing_zeros() / 8) as usize
}

/// The position of the first byte of `stops` at or after `at` (at most
/// `buf.len()`), or `buf.len()` when there is none.
#[inline(always)]
pub(super) fn find_any<const N: usize>(buf: &[u8], mut at: usize, stops: [u8; N]) -> usize {
    while let Some(w) = word(buf, at) {
        let mut hits = 0;
        for s in stops {
            hits |= zero_bytes(w ^ (ONES * u64::from(s)));
        }
        if hits != 0 {
            return at + first_marked(hits);
        }
        at += 8;
    }
    while let Some(b) = buf.get(at) {
        if stops.contains(b) {
            return at;
        }
        at += 1;
    }
    at
}

/// Whether `b` (`None`: the end of the input) ends a token that stops at
/// `stops`.
#[inline(always)]
pub(super) fn ends<const N: usize>(b: Option<&u8>, stops: [u8; N]) -> bool {
    b.is_none_or(|b| stops.contains(b))
}

/// The run of ASCII digits at `at`, read in one pass: where it ends (the
/// first non-digit, or `buf.len()`) and its value, `None` past 19 digits
/// (where a `u64` could overflow; the caller's general path reads those).
#[inline(always)]
pub(super) fn digits(buf: &[u8], mut at: usize) -> (usize, Option<u64>) {
    const HIGH_NIBBLES: u64 = 0xF0F0_F0F0_F0F0_F0F0;
    const THREES: u64 = 0x3030_3030_3030_3030;
    let start = at;
    let mut v: u64 = 0;
    while let Some(w) = word(buf, at) {
        // A digit has the high nibble 3 and keeps it when 6 is added; a
        // carry out of a byte comes from a non-digit, so it moves only
        // marks above the first non-digit.
        let off = ((w & HIGH_NIBBLES) ^ THREES)
            | ((w.wrapping_add(0x0606_0606_0606_0606) & HIGH_NIBBLES) ^ THREES);
        let k = if off == 0 { 8 } else { first_marked(off) };
        if k > 0 {
            // The k digits moved to the high bytes, leading '0's below:
            // eight digits of the same value.
            let w = if k == 8 {
                w
            } else {
                (w << (8 * (8 - k))) | (THREES >> (8 * k))
            };
            v = v.wrapping_mul(POW10[k]).wrapping_add(eight_digits_value(w));
        }
        at += k;
        if k < 8 {
            return (at, (at - start <= 19).then_some(v));
        }
    }
    while let Some(d) = buf
        .get(at)
        .map(|b| b.wrapping_sub(b'0'))
        .filter(|d| *d <= 9)
    {
        v = v.wrapping_mul(10).wrapping_add(u64::from(d));
        at += 1;
    }
    (at, (at - start <= 19).then_some(v))
}

/// 10^k for k in 0..=8.
const POW10: [u64; 9] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Every position and byte: the word scans agree with a byte loop.
    #[test]
    fn scans_match_a_byte_loop() {
        let mut buf: Vec<u8> = b"ab1,2 3=4\\5\"6\n7\r89012345678901234567x".to_vec();
        buf.extend((0u8..=255).chain(0u8..=255).rev());
        for at in 0..=buf.len() {
            let slow = |set: &[u8]| {
                buf[at..]
                    .iter()
                    .position(|b| set.contains(b))
                    .map_or(buf.len(), |i| at + i)
            };
            assert_eq!(find_any(&buf, at, TABLE_STOPS), slow(&TABLE_STOPS));
            assert_eq!(find_any(&buf, at, NAME_STOPS), slow(&NAME_STOPS));
            assert_eq!(find_any(&buf, at, VALUE_END), slow(&VALUE_END));
            assert_eq!(find_any(&buf, at, QUOTED_STOPS), slow(&QUOTED_STOPS));
            assert_eq!(find_any(&buf, at, TIMESTAMP_END), slow(&TIMESTAMP_END));
            let digits = buf[at..]
                .iter()
                .position(|b| !b.is_ascii_digit())
                .map_or(buf.len(), |i| at + i);
            let value = (digits - at <= 19).then(|| {
                buf[at..digits]
                    .iter()
                    .fold(0u64, |v, d| v * 10 + u64::from(d - b'0'))
            });
            assert_eq!(super::digits(&buf, at), (digits, value), "at {at}");
        }
    }

    /// A byte of 0xFA..=0xFF (whose + 6 carries) after digits.
    #[test]
    fn digits_end_at_a_carrying_byte() {
        for b in 0xF0..=0xFF {
            let buf = [b'1', b'2', b, b'3', b'4', b'5', b'6', b'7', b'8'];
            assert_eq!(digits(&buf, 0), (2, Some(12)), "byte {b:#x}");
        }
    }
}
