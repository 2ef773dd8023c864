//! The numbers of ILP text: integers read and written (eight digits at
//! a time) and exact decimals.

use arrow::datatypes::i256;

use super::MAX_DECIMAL_SCALE;
use super::line::Decimal;

/// An optionally signed decimal integer (no `+`, no spaces).
pub(super) fn parse_i64(b: &[u8]) -> Option<i64> {
    let (neg, digits) = match b.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, b),
    };
    if digits.is_empty() {
        return None;
    }
    if digits.len() <= 19 {
        // Below 10^19 < 2^64: no overflow before the range check.
        return signed(neg, parse_u64_short(digits)?);
    }
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: i64 = 0;
    for &d in digits {
        let d = i64::from(d - b'0');
        v = v.checked_mul(10).and_then(|v| {
            if neg {
                v.checked_sub(d)
            } else {
                v.checked_add(d)
            }
        })?;
    }
    Some(v)
}

/// The `i64` of magnitude `v`, negated with `neg`, if in range.
#[inline(always)]
pub(super) fn signed(neg: bool, v: u64) -> Option<i64> {
    if neg {
        (v <= 1 << 63).then(|| 0i64.wrapping_sub(v as i64))
    } else {
        i64::try_from(v).ok()
    }
}

/// At most 19 ASCII digits as a number, eight at a time.
fn parse_u64_short(digits: &[u8]) -> Option<u64> {
    let mut v: u64 = 0;
    let mut chunks = digits.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        v = v * 100_000_000 + eight_digits(u64::from_le_bytes(w))?;
    }
    for &c in chunks.remainder() {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + u64::from(d);
    }
    Some(v)
}

/// Eight ASCII digits (first digit in the lowest byte) as a number, or
/// `None` when a byte is not a digit: SWAR, two digits per lane, then
/// four, then eight.
fn eight_digits(w: u64) -> Option<u64> {
    const HIGH: u64 = 0xF0F0_F0F0_F0F0_F0F0;
    // Every byte 0x30..=0x39: high nibble 3, and adding 6 keeps it 3.
    if w & HIGH != ASCII_ZEROS || w.wrapping_add(0x0606_0606_0606_0606) & HIGH != ASCII_ZEROS {
        return None;
    }
    Some(eight_digits_value(w))
}

/// [`eight_digits`] of a word known to hold eight ASCII digits.
#[inline(always)]
pub(super) fn eight_digits_value(w: u64) -> u64 {
    let d = w - ASCII_ZEROS;
    // Pairs: byte 2k holds 10 × digit 2k + digit 2k+1.
    let pairs = (d * 10 + (d >> 8)) & 0x00FF_00FF_00FF_00FF;
    // Quads: 16-bit lane 2k holds 100 × pair 2k + pair 2k+1.
    let quads = (pairs * 100 + (pairs >> 16)) & 0x0000_FFFF_0000_FFFF;
    (quads & 0xFFFF) * 10_000 + (quads >> 32)
}

/// Appends `v` in decimal, as `itoa` writes it: eight digits per step
/// (SWAR, no loop of divisions), each step one fixed-size copy.
pub(super) fn write_i64(out: &mut Vec<u8>, v: i64) {
    const E8: u64 = 100_000_000;
    if v < 0 {
        out.push(b'-');
    }
    let u = v.unsigned_abs();
    if u < E8 {
        put_trimmed(out, u);
    } else if u < E8 * E8 {
        put_trimmed(out, u / E8);
        out.extend_from_slice(&(eight_ascii(u % E8) | ASCII_ZEROS).to_le_bytes());
    } else {
        put_trimmed(out, u / (E8 * E8));
        let rest = u % (E8 * E8);
        out.extend_from_slice(&(eight_ascii(rest / E8) | ASCII_ZEROS).to_le_bytes());
        out.extend_from_slice(&(eight_ascii(rest % E8) | ASCII_ZEROS).to_le_bytes());
    }
}

const ASCII_ZEROS: u64 = 0x3030_3030_3030_3030;

/// Appends `n` (below 10^8) without leading zeros (`0` as one digit).
fn put_trimmed(out: &mut Vec<u8>, n: u64) {
    let d = eight_ascii(n);
    // Zero digits are zero bytes, the first digit lowest.
    let zeros = ((d.trailing_zeros() / 8) as usize).min(7);
    let at = out.len();
    out.extend_from_slice(&((d | ASCII_ZEROS) >> (8 * zeros)).to_le_bytes());
    out.truncate(at + 8 - zeros);
}

/// The eight decimal digits of `n` (below 10^8, leading zeros kept) as
/// byte values 0..=9, the first digit in the lowest byte: split into
/// halves of four digits in 32-bit lanes, then pairs in 16-bit lanes,
/// then digits in bytes, each split one multiply-shift for all lanes.
fn eight_ascii(n: u64) -> u64 {
    let x = (n / 10_000) | ((n % 10_000) << 32);
    // a / 100 == (a * 10_486) >> 20 for a < 10^4.
    let q = ((x * 10_486) >> 20) & 0x0000_007F_0000_007F;
    let x = q | ((x - q * 100) << 16);
    // b / 10 == (b * 103) >> 10 for b < 100.
    let q = ((x * 103) >> 10) & 0x000F_000F_000F_000F;
    q | ((x - q * 10) << 8)
}

/// `[+-]digits[.digits][(e|E)[+-]digits]` as an exact decimal.
pub(super) fn parse_decimal(b: &[u8]) -> Option<Decimal> {
    let (neg, mut rest) = match b.split_first() {
        Some((b'-', r)) => (true, r),
        Some((b'+', r)) => (false, r),
        _ => (false, b),
    };
    let ten = i256::from_i128(10);
    let mut unscaled = i256::ZERO;
    let mut digits = 0usize;
    let mut frac: i64 = 0;
    let mut seen_point = false;
    while let Some((&c, r)) = rest.split_first() {
        match c {
            b'0'..=b'9' => {
                unscaled = unscaled
                    .checked_mul(ten)?
                    .checked_add(i256::from_i128(i128::from(c - b'0')))?;
                digits += 1;
                if seen_point {
                    frac += 1;
                }
            }
            b'.' if !seen_point => seen_point = true,
            b'e' | b'E' => break,
            _ => return None,
        }
        rest = r;
    }
    if digits == 0 {
        return None;
    }
    let mut exp: i64 = 0;
    if let Some((_, e)) = rest.split_first() {
        let e = match e.split_first() {
            Some((b'+', r)) => r,
            _ => e,
        };
        exp = parse_i64(e)?;
    }
    let mut scale = frac.checked_sub(exp)?;
    if scale < -i64::from(MAX_DECIMAL_SCALE) - 2 {
        // 10^78 overflows i256 anyway.
        return (unscaled == i256::ZERO).then_some(Decimal { unscaled, scale: 0 });
    }
    while scale < 0 {
        unscaled = unscaled.checked_mul(ten)?;
        scale += 1;
    }
    if scale > i64::from(MAX_DECIMAL_SCALE) {
        return None;
    }
    if neg {
        unscaled = unscaled.checked_neg()?;
    }
    Some(Decimal {
        unscaled,
        scale: scale as u8,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(v: i64) -> String {
        let mut out = b"x".to_vec();
        write_i64(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn write_i64_matches_display() {
        let mut vals = vec![0, 1, -1, 9, 10, 99, 100, i64::MAX, i64::MIN, i64::MIN + 1];
        for p in 0..19 {
            let t = 10i64.pow(p);
            vals.extend([t - 1, t, t + 1, -t, -(t - 1), 7 * t, -7 * t]);
        }
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            vals.push(x as i64);
            vals.push((x >> (x % 64)) as i64);
        }
        for v in vals {
            assert_eq!(written(v), format!("x{v}"), "{v}");
        }
    }

    #[test]
    fn eight_ascii_every_quad_and_pair() {
        // Every four-digit half in both lanes, so each lane's split is
        // checked for all its values.
        for a in 0..10_000u64 {
            for n in [a * 10_000 + (9_999 - a), (9_999 - a) * 10_000 + a] {
                let digits: Vec<u8> = format!("{n:08}").bytes().map(|b| b - b'0').collect();
                assert_eq!(eight_ascii(n).to_le_bytes().to_vec(), digits, "{n}");
            }
        }
    }
}
