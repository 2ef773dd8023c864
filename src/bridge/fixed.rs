//! Fixed-width wire values into Arrow buffers, and the NULLs their
//! sentinel values (e.g. `i64::MIN` for LONG, NaN for DOUBLE) stand for.

use arrow::buffer::{BooleanBuffer, Buffer, NullBuffer, ScalarBuffer};
use arrow::datatypes::ArrowNativeType;

use crate::audited::avx2::any_sentinel;
use crate::protocol::column::WireFixed;

/// Spreads `dense` (the non-null values, in order) over all rows, `fill`
/// at NULL rows.
pub(super) fn spread<T: Copy>(dense: Vec<T>, valid: Option<&NullBuffer>, fill: T) -> Vec<T> {
    match valid {
        None => dense,
        Some(n) => {
            let mut out = vec![fill; n.len()];
            for (v, i) in dense.into_iter().zip(n.valid_indices()) {
                out[i] = v;
            }
            out
        }
    }
}

/// Fixed-width wire values straight into their rows (one copy), `fill`
/// at NULL rows.
pub(super) fn spread_fixed<T: WireFixed + ArrowNativeType>(
    b: &[u8],
    valid: Option<&NullBuffer>,
    fill: T,
) -> ScalarBuffer<T> {
    match valid {
        None => fixed_buffer(b),
        Some(n) => {
            let mut out = vec![fill; n.len()];
            for (c, i) in b.chunks_exact(T::WIDTH).zip(n.valid_indices()) {
                out[i] = T::get(c);
            }
            out.into()
        }
    }
}

/// `b` copied into a buffer of exactly its length from the allocator's
/// plain path (a `Vec`), not from Arrow's 128-byte-aligned allocation
/// (`Buffer::from(&[u8])`).
///
/// Batch buffers are too small for glibc to map them on their own (80 KiB
/// columns), so they come from its heap, where an aligned allocation takes
/// a larger chunk and frees the misaligned head (and any tail) as small
/// chunks: those are cached per thread and reused by small allocations
/// that outlive the batch, islands that keep the freed buffers of one
/// batch from merging into room for the next. A streamed read's peak then
/// grew by 6.5 batches (measured through the ADBC driver, 0.76 MiB W1
/// batches); with plain allocations of the same sizes, by 3.35-3.55.
pub(super) fn copied(b: &[u8]) -> Buffer {
    Buffer::from_vec(b.to_vec())
}

/// Fixed-width wire values as a typed buffer. On little-endian hosts the
/// wire layout is the value layout: one copy ([`copied`], a `memcpy`)
/// instead of a value-by-value conversion.
pub(super) fn fixed_buffer<T: WireFixed + ArrowNativeType>(b: &[u8]) -> ScalarBuffer<T> {
    let n = b.len() / T::WIDTH;
    if cfg!(target_endian = "little") && T::WIDTH == std::mem::size_of::<T>() {
        let buf = copied(&b[..n * T::WIDTH]);
        // The allocator aligns a block for any value of up to 16 bytes
        // (malloc's guarantee), so the typed view holds; an allocator that
        // did not gets the value-by-value copy.
        if buf.as_ptr().align_offset(std::mem::align_of::<T>()) == 0 {
            return ScalarBuffer::new(buf, 0, n);
        }
    }
    fixed::<T>(b).into()
}

pub(super) fn fixed<T: WireFixed>(b: &[u8]) -> Vec<T> {
    b.chunks_exact(T::WIDTH).map(T::get).collect()
}

/// Combines bitmap validity with a per-value sentinel test.
pub(super) fn validity<T>(
    values: &[T],
    valid: Option<NullBuffer>,
    is_null: impl Fn(&T) -> bool,
) -> Option<NullBuffer> {
    // NULL rows hold the sentinel, so without a bitmap a quick scan tells
    // whether there is anything to mark.
    if valid.is_none() && !any_sentinel(values, &is_null) {
        return None;
    }
    sentinel_nulls(values, valid, is_null)
}

/// `valid` joined by the rows whose value is a sentinel; `None` when no
/// row is NULL.
fn sentinel_nulls<T>(
    values: &[T],
    valid: Option<NullBuffer>,
    is_null: impl Fn(&T) -> bool,
) -> Option<NullBuffer> {
    let sentinel = NullBuffer::new(BooleanBuffer::collect_bool(values.len(), |i| {
        !is_null(&values[i])
    }));
    NullBuffer::union(valid.as_ref(), Some(&sentinel)).filter(|n| n.null_count() > 0)
}

/// A fixed-width column: its values in their rows (`fill` at the NULL
/// rows of `valid`) and its validity, the bitmap's NULLs joined by the
/// values that are `is_null` (the sentinel).
///
/// (Copying and testing in one pass, block by block, was tried: a batch's
/// column is small enough to be tested from cache after the copy, and the
/// blocked copy measured slower on numeric results.)
pub(super) fn fixed_column<T: WireFixed + ArrowNativeType>(
    b: &[u8],
    valid: Option<NullBuffer>,
    fill: T,
    is_null: impl Fn(&T) -> bool,
) -> (ScalarBuffer<T>, Option<NullBuffer>) {
    let v = spread_fixed(b, valid.as_ref(), fill);
    let n = validity(&v, valid, is_null);
    (v, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sentinel_is_found_wherever_it_is() {
        let is_min = |x: &i64| *x == i64::MIN;
        assert!(!any_sentinel(&[] as &[i64], is_min));
        for len in [1usize, 63, 64, 65, 200] {
            let mut v: Vec<i64> = (0..len as i64).collect();
            assert!(!any_sentinel(&v, is_min), "{len}");
            for at in [
                0,
                len / 2,
                len.saturating_sub(1),
                63.min(len - 1),
                64.min(len - 1),
            ] {
                v[at] = i64::MIN;
                assert!(any_sentinel(&v, is_min), "{len} at {at}");
                v[at] = at as i64;
            }
        }
    }

    /// A sentinel anywhere, with and without a bitmap.
    #[test]
    fn a_column_gets_its_values_and_its_nulls() {
        let rows = 200;
        for at in [None, Some(0), Some(63), Some(64), Some(rows - 1)] {
            let mut vals: Vec<i64> = (0..rows as i64).collect();
            if let Some(i) = at {
                vals[i] = i64::MIN;
            }
            let wire: Vec<u8> = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
            let (v, n) = fixed_column::<i64>(&wire, None, i64::MIN, |x| *x == i64::MIN);
            assert_eq!(&v[..], &vals[..], "sentinel at {at:?}");
            let nulls: Vec<usize> = n
                .iter()
                .flat_map(|n| n.iter().enumerate())
                .filter(|(_, ok)| !ok)
                .map(|(i, _)| i)
                .collect();
            assert_eq!(
                nulls,
                at.into_iter().collect::<Vec<_>>(),
                "sentinel at {at:?}"
            );
        }
        // With a bitmap: the NULL rows get `fill`, both kinds of NULL count.
        let valid = NullBuffer::from(vec![true, false, true, true]);
        let wire: Vec<u8> = [1.5f64, f64::NAN, 2.5]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let (v, n) = fixed_column::<f64>(&wire, Some(valid), f64::NAN, |x| x.is_nan());
        assert_eq!(v[0], 1.5);
        assert!(v[1].is_nan() && v[2].is_nan());
        assert_eq!(v[3], 2.5);
        let n = n.unwrap();
        assert_eq!(n.iter().collect::<Vec<_>>(), vec![true, false, false, true]);
        // An empty column.
        let (v, n) = fixed_column::<i32>(&[], None, i32::MIN, |x| *x == i32::MIN);
        assert!(v.is_empty() && n.is_none());
    }

    /// Exactly the bytes' length is allocated (a batch's buffers have the
    /// sizes of the next batch's, so freed ones fit again), and the typed
    /// view reads the values, also from an unaligned slice of the frame.
    #[test]
    fn a_buffer_is_an_exact_copy() {
        let vals: Vec<i64> = (0..1001).map(|i| i * 7 - 3).collect();
        let mut wire = vec![0u8];
        wire.extend(vals.iter().flat_map(|v| v.to_le_bytes()));
        let b = copied(&wire[1..]);
        assert_eq!(b.capacity(), vals.len() * 8);
        let v = fixed_buffer::<i64>(&wire[1..]);
        assert_eq!(&v[..], &vals[..]);
        assert_eq!(v.inner().capacity(), vals.len() * 8);
        assert!(fixed_buffer::<f64>(&[]).is_empty());
    }
}
