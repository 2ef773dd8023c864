//! Symbol ids of query results (varints of at most 4 bytes) decoded two
//! per 8-byte word, compiled twice: for the x86-64 baseline, and with
//! BMI2's `pext` (one instruction gathers a varint's 7-bit groups; the
//! baseline needs a chain of shifts and masks), that copy picked at run
//! time on CPUs that have it.
//!
//! A SYMBOL column of a large dictionary is a run of 1–3 byte ids, one per
//! row; on Q4 (four columns of 100 000 symbols) decoding them was most of
//! the client's time per batch.
//!
//! Tests: the ones below (every id length at every position, both
//! copies, against a byte-at-a-time reading); `protocol::column`'s
//! round trips.

/// Gathers the 7-bit groups of a varint of at most 4 bytes (LE in `x`,
/// nothing above) into its value.
trait Join7 {
    fn join(x: u64) -> u32;
}

/// Shifts and masks (any CPU).
struct Shifts;

impl Join7 for Shifts {
    #[inline(always)]
    fn join(x: u64) -> u32 {
        ((x & 0x7F) | ((x >> 1) & 0x3F80) | ((x >> 2) & 0x1F_C000) | ((x >> 3) & 0xFE0_0000)) as u32
    }
}

/// BMI2's parallel bit extract.
#[cfg(target_arch = "x86_64")]
struct Pext;

#[cfg(target_arch = "x86_64")]
impl Join7 for Pext {
    #[inline(always)]
    fn join(x: u64) -> u32 {
        // SAFETY: `_pext_u64` is `unsafe` only because it needs BMI2.
        // `Pext` is private to this module and used only by
        // `short_ids_bmi2`, which `short_ids` calls only after
        // `is_x86_feature_detected!("bmi2")`; the result fits 28 bits.
        unsafe { std::arch::x86_64::_pext_u64(x, 0x7F7F_7F7F) as u32 }
    }
}

/// Appends the ids at the start of `bytes` while they take at most 4
/// bytes each, up to `n` in `ids`; returns the bytes they took. The
/// caller reads anything else (a longer id, a truncated one) with its
/// checked reader from there.
pub(crate) fn short_ids(bytes: &[u8], n: usize, ids: &mut Vec<u32>) -> usize {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("bmi2") {
        // SAFETY: `short_ids_bmi2` is `unsafe` to call only because it is
        // compiled for BMI2 (`#[target_feature]`); the CPU was just found
        // to support it.
        return unsafe { short_ids_bmi2(bytes, n, ids) };
    }
    short_ids_with::<Shifts>(bytes, n, ids)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "bmi2")]
fn short_ids_bmi2(bytes: &[u8], n: usize, ids: &mut Vec<u32>) -> usize {
    short_ids_with::<Pext>(bytes, n, ids)
}

#[inline(always)]
fn short_ids_with<J: Join7>(bytes: &[u8], n: usize, ids: &mut Vec<u32>) -> usize {
    let mut p = 0;
    // Eight bytes at a time while two more ids are wanted: two ids of at
    // most 4 bytes always end within them, so both are taken without a
    // branch on their lengths (the lengths of a large dictionary's ids
    // vary from id to id, and a branch on them would mispredict).
    while n - ids.len() >= 2 {
        let Some(word) = bytes.get(p..p + 8) else {
            break;
        };
        let mut a = [0u8; 8];
        a.copy_from_slice(word);
        let w = u64::from_le_bytes(a);
        // The high bit of each byte that ends an id.
        let ends = !w & 0x8080_8080_8080_8080;
        if ends == 0x8080_8080_8080_8080 && n - ids.len() >= 8 {
            // Eight one-byte ids (a dictionary of under 128 symbols).
            ids.extend_from_slice(&a.map(u32::from));
            p += 8;
            continue;
        }
        // Bits taken by the first id, and by the first two (65 when an
        // id does not end in the word).
        let first = ends.trailing_zeros() + 1;
        let both = (ends & ends.wrapping_sub(1)).trailing_zeros() + 1;
        if first > 32 || both - first > 32 {
            // An id of more than 4 bytes (or one past the word): one at a
            // time below, then the checked reader.
            break;
        }
        let low = |v: u64, bits: u32| v & (u64::MAX >> (64 - bits));
        ids.extend_from_slice(&[
            J::join(low(w, first)),
            J::join(low(w >> first, both - first)),
        ]);
        p += (both / 8) as usize;
    }
    'ids: while ids.len() < n {
        let mut v = 0u32;
        for k in 0..4 {
            let Some(&b) = bytes.get(p + k) else {
                break 'ids;
            };
            v |= u32::from(b & 0x7F) << (7 * k);
            if b & 0x80 == 0 {
                ids.push(v);
                p += k + 1;
                continue 'ids;
            }
        }
        break;
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(buf: &mut Vec<u8>, mut v: u64) {
        while v > 0x7F {
            buf.push((v as u8 & 0x7F) | 0x80);
            v >>= 7;
        }
        buf.push(v as u8);
    }

    /// The reference: each varint read whole (any length) by position of
    /// its last byte; the ids before the first one longer than 4 bytes,
    /// or cut off, and the bytes they took.
    fn slow(bytes: &[u8], n: usize) -> (Vec<u32>, usize) {
        let (mut ids, mut at) = (Vec::new(), 0);
        while ids.len() < n {
            let Some(len) = bytes[at..].iter().position(|b| b & 0x80 == 0) else {
                break;
            };
            if len >= 4 {
                break;
            }
            let v = bytes[at..=at + len]
                .iter()
                .rev()
                .fold(0u32, |v, b| (v << 7) | u32::from(b & 0x7F));
            ids.push(v);
            at += len + 1;
        }
        (ids, at)
    }

    fn all_copies(bytes: &[u8], n: usize) -> Vec<(Vec<u32>, usize)> {
        type Decoder<'a> = &'a dyn Fn(&[u8], usize, &mut Vec<u32>) -> usize;
        let mut out = Vec::new();
        let mut run = |f: Decoder<'_>| {
            let mut ids = Vec::new();
            let p = f(bytes, n, &mut ids);
            out.push((ids, p));
        };
        run(&short_ids);
        run(&short_ids_with::<Shifts>);
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("bmi2") {
            run(&|b, n, ids| short_ids_with::<Pext>(b, n, ids));
        }
        out
    }

    /// Ids of every length 1–5 bytes (5: past the fast path) at every
    /// position, truncated inputs and fewer ids wanted than present.
    #[test]
    fn every_id_length_at_every_position() {
        let values: [u64; 10] = [
            0,
            1,
            127,
            128,
            16_383,
            16_384,
            2_097_151,
            2_097_152,
            (1 << 28) - 1,
            1 << 28,
        ];
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for len in 0..40usize {
            for _ in 0..50 {
                let mut bytes = Vec::new();
                let mut want = Vec::new();
                for _ in 0..len {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let v = values[(x % 10) as usize] + (x >> 60) % 3;
                    varint(&mut bytes, v);
                    want.push(v);
                }
                for n in [len, len.saturating_sub(1), len / 2] {
                    for cut in [bytes.len(), bytes.len().saturating_sub(1)] {
                        let expect = slow(&bytes[..cut], n);
                        for got in all_copies(&bytes[..cut], n) {
                            assert_eq!(got, expect, "{want:?} n {n} cut {cut}");
                        }
                    }
                }
            }
        }
    }
}
