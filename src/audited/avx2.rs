//! Hot loops of query decoding compiled twice, for the x86-64 baseline
//! and for AVX2, the AVX2 copy picked at run time on CPUs that have it.
//!
//! The crate is built for the baseline, whose 128-bit vectors compare two
//! 64-bit values at a time and have neither a 64-bit integer equality nor
//! an unsigned 32-bit maximum. So the test of every decoded DOUBLE / LONG /
//! TIMESTAMP column for its NULL sentinel took about as long as copying
//! the column; compiled for AVX2 the same loop measured about half the
//! time per value (80 KB columns: DOUBLE 0.8 → 0.35 ns, LONG 1.0 → 0.45
//! ns per value).
//!
//! - [`any_sentinel`]: whether a fixed-width column holds a NULL sentinel
//!   (NaN, a type's minimum);
//! - [`max_unsigned`]: the largest dictionary key as an unsigned number
//!   (see `arrow_unchecked::dictionary_i32`).
//!
//! Tests: the ones below (a sentinel at every position of blocks around
//! the 64-value boundary, both copies); `bridge::fixed`'s
//! `a_column_gets_its_values_and_its_nulls`; `arrow_unchecked`'s.

/// Runs `$body` (an expression over the arguments) compiled for AVX2 when
/// the CPU has it, else compiled for the baseline.
macro_rules! dispatch {
    ($avx2:ident, $portable:ident, $($arg:expr),*) => {{
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the AVX2 copy is `unsafe` to call only because it is
            // compiled for AVX2 (`#[target_feature]`); the CPU was just
            // found to support AVX2. It runs safe code alone.
            return unsafe { $avx2($($arg),*) };
        }
        $portable($($arg),*)
    }};
}

/// Whether any of `values` is `is_null`: 64 values at a time without an
/// early exit inside a block, so the test vectorises.
pub(crate) fn any_sentinel<T>(values: &[T], is_null: impl Fn(&T) -> bool) -> bool {
    dispatch!(any_sentinel_avx2, any_sentinel_portable, values, is_null)
}

#[inline(always)]
fn any_sentinel_portable<T>(values: &[T], is_null: impl Fn(&T) -> bool) -> bool {
    values
        .chunks(64)
        .any(|c| c.iter().fold(false, |any, v| any | is_null(v)))
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn any_sentinel_avx2<T>(values: &[T], is_null: impl Fn(&T) -> bool) -> bool {
    any_sentinel_portable(values, is_null)
}

/// The largest of `keys` taken as unsigned numbers (a negative key is at
/// least 2^31); 0 for none.
pub(crate) fn max_unsigned(keys: &[i32]) -> u32 {
    dispatch!(max_unsigned_avx2, max_unsigned_portable, keys)
}

#[inline(always)]
fn max_unsigned_portable(keys: &[i32]) -> u32 {
    keys.iter().fold(0u32, |m, &k| m.max(k as u32))
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn max_unsigned_avx2(keys: &[i32]) -> u32 {
    max_unsigned_portable(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both(values: &[i64]) -> [bool; 2] {
        let is_min = |x: &i64| *x == i64::MIN;
        [
            any_sentinel(values, is_min),
            any_sentinel_portable(values, is_min),
        ]
    }

    #[test]
    fn a_sentinel_is_found_wherever_it_is() {
        assert_eq!(both(&[]), [false, false]);
        for len in [1usize, 3, 63, 64, 65, 127, 128, 200] {
            let mut v: Vec<i64> = (0..len as i64).collect();
            assert_eq!(both(&v), [false, false], "{len}");
            for at in 0..len {
                v[at] = i64::MIN;
                assert_eq!(both(&v), [true, true], "{len} at {at}");
                v[at] = at as i64;
            }
        }
        // NaN, whatever its payload and sign; infinities are values.
        let mut d: Vec<f64> = (0..130).map(f64::from).collect();
        d[5] = f64::INFINITY;
        d[6] = f64::NEG_INFINITY;
        assert!(!any_sentinel(&d, |x| x.is_nan()));
        for nan in [f64::NAN, -f64::NAN, f64::from_bits(0x7FF0_0000_0000_0001)] {
            d[129] = nan;
            assert!(any_sentinel(&d, |x| x.is_nan()));
        }
    }

    #[test]
    fn the_largest_key_is_found_unsigned() {
        assert_eq!(max_unsigned(&[]), 0);
        for len in [1usize, 7, 8, 9, 64, 100] {
            let mut k: Vec<i32> = (0..len as i32).collect();
            assert_eq!(max_unsigned(&k), len as u32 - 1);
            for at in 0..len {
                for big in [i32::MAX, -1, i32::MIN] {
                    let was = k[at];
                    k[at] = big;
                    assert_eq!(max_unsigned(&k), big as u32, "{len} at {at}");
                    assert_eq!(max_unsigned_portable(&k), big as u32);
                    k[at] = was;
                }
            }
        }
    }
}
