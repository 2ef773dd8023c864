//! Arrays whose parts were checked in branch-free passes instead of
//! arrow's own validation: a `Dictionary(Int32, _)` array
//! ([`dictionary_i32`]) and a `Utf8` array ([`string_array`]).
//!
//! `DictionaryArray::try_new` looks for a key outside `0..values.len()` with
//! an early-exit search that also consults the validity of each
//! out-of-range slot; on wide SYMBOL results that search showed as about a
//! tenth of a query's client CPU. [`dictionary_i32`] instead takes the
//! largest key as an unsigned number (a negative key becomes a huge one),
//! a loop the compiler vectorises, and builds the array unchecked when that
//! maximum is in range. Only when it is not (an out-of-range id from the
//! wire, or an all-NULL column over an empty dictionary, whose placeholder
//! keys are 0) does it search for the first offending key.
//!
//! Tests: the ones below; `bridge::batch_decoder`'s
//! `dictionary_errors_are_errors`, `null_and_empty_symbol_columns` and
//! `symbol_ids_from_the_wire_are_checked` (random ids, some out of range,
//! with random NULLs: a typed error or an array that passes
//! `validate_full`).
//!
//! `StringArray::try_new` checks the data is UTF-8 and then every offset
//! with `str::is_char_boundary`, a branchy test per value that measured
//! more than the UTF-8 check itself on VARCHAR results. [`string_array`]
//! checks the data the same way and the offsets in one branch-free pass
//! (each one the data's end or on a byte that does not continue a
//! character), and leaves anything it refuses to `try_new` for arrow's
//! error. Tests: the ones below (arrow's `try_new` as the oracle over
//! random offsets and data); `bridge::decode`'s
//! `egress_varchar_utf8_is_checked_once_by_the_bridge` and
//! `bitmap_nulls_land_on_their_rows`.

use arrow::array::{Array, ArrayRef, DictionaryArray, PrimitiveArray, StringArray};
use arrow::buffer::{Buffer, NullBuffer, OffsetBuffer};
use arrow::datatypes::Int32Type;
use arrow::error::ArrowError;

/// `Utf8` array of `offsets` into `values`: arrow's checks, the offsets'
/// in one branch-free pass (see the module docs); arrow's error when they
/// fail.
pub(crate) fn string_array(
    offsets: OffsetBuffer<i32>,
    values: Buffer,
    nulls: Option<NullBuffer>,
) -> Result<StringArray, ArrowError> {
    let data = values.as_slice();
    let end = data.len();
    // A byte that continues a character is 0b10xx_xxxx: below -0x40 as i8.
    // An offset past the end (or a negative one, huge as u32) reads as
    // such a byte, the end itself as a boundary.
    let boundaries = offsets.iter().fold(true, |ok, &o| {
        let o = o as u32 as usize;
        let b = data
            .get(o)
            .copied()
            .unwrap_or(if o == end { 0 } else { 0x80 });
        ok & (b as i8 >= -0x40)
    });
    let rows = offsets.len() - 1;
    if boundaries
        && nulls.as_ref().is_none_or(|n| n.len() == rows)
        && std::str::from_utf8(data).is_ok()
    {
        // SAFETY: `new_unchecked` is sound when `try_new` would succeed,
        // which needs (its `GenericStringType::validate`) `values` to be
        // UTF-8 and every offset on one of its character boundaries, and
        // `nulls` (if any) to have one slot per row. All three were just
        // checked on these very parts: `from_utf8` of the whole data; each
        // offset, taken as `o as u32` (a negative one is at least 2^31, past
        // any buffer arrow allocates), is the data's length or indexes a
        // byte that does not continue a character (not `0b10xx_xxxx`), which
        // is `str::is_char_boundary` for valid UTF-8; the null count of
        // slots. `offsets` is an `OffsetBuffer`, whose constructor checked
        // it non-decreasing from a non-negative start.
        return Ok(unsafe { StringArray::new_unchecked(offsets, values, nulls) });
    }
    StringArray::try_new(offsets, values, nulls)
}

/// A non-null key outside the dictionary: its position and value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeyOutOfRange {
    /// Row of the key.
    pub(crate) index: usize,
    /// The key.
    pub(crate) key: i32,
}

/// `Dictionary(Int32, values.data_type())` of `keys` over `values`, or the
/// first non-null key outside `0..values.len()`.
pub(crate) fn dictionary_i32(
    keys: PrimitiveArray<Int32Type>,
    values: ArrayRef,
) -> Result<DictionaryArray<Int32Type>, KeyOutOfRange> {
    let bound = values.len();
    let max = super::avx2::max_unsigned(keys.values());
    if keys.is_empty() || (max <= i32::MAX as u32 && (max as usize) < bound) {
        // SAFETY: `new_unchecked` is sound when `try_new` would succeed,
        // which needs every non-null key in `0..values.len()`. Here every
        // key `k`, null or not, is: `k as u32 <= max <= i32::MAX`, so `k`
        // is not negative (a negative `k` is at least 2^31 as `u32`) and
        // `k <= max < bound`. Nothing but `keys` and `values` is read, and
        // both are owned here.
        return Ok(unsafe { DictionaryArray::new_unchecked(keys, values) });
    }
    let bad = keys.iter().enumerate().find_map(|(index, k)| {
        k.filter(|&k| k < 0 || k as usize >= bound)
            .map(|key| KeyOutOfRange { index, key })
    });
    match bad {
        Some(b) => Err(b),
        // Only NULL slots hold out-of-range keys, which arrow accepts: the
        // same check as the search above, so it does not fail.
        None => {
            DictionaryArray::try_new(keys, values).map_err(|_| KeyOutOfRange { index: 0, key: 0 })
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Array, StringArray};
    use arrow::buffer::NullBuffer;

    use super::*;

    fn values(n: usize) -> ArrayRef {
        Arc::new(StringArray::from_iter_values(
            (0..n).map(|i| format!("v{i}")),
        ))
    }

    fn keys(k: Vec<i32>, valid: Option<Vec<bool>>) -> PrimitiveArray<Int32Type> {
        PrimitiveArray::new(k.into(), valid.map(NullBuffer::from))
    }

    #[test]
    fn keys_in_range_build_a_valid_array() {
        let d = dictionary_i32(keys(vec![0, 2, 1, 2], None), values(3)).unwrap();
        d.to_data().validate_full().unwrap();
        assert_eq!(d.keys().values().to_vec(), vec![0, 2, 1, 2]);
        let d = dictionary_i32(keys(vec![], None), values(0)).unwrap();
        assert_eq!(d.len(), 0);
    }

    #[test]
    fn out_of_range_and_negative_keys_are_refused() {
        for (k, want) in [
            (vec![0, 3, 1], (1, 3)),
            (vec![0, -1, 1], (1, -1)),
            (vec![i32::MIN], (0, i32::MIN)),
            (vec![1, 2, 9, 9], (2, 9)),
        ] {
            let e = dictionary_i32(keys(k.clone(), None), values(3)).unwrap_err();
            assert_eq!((e.index, e.key), want, "{k:?}");
        }
        // Behind a NULL an out-of-range key is not one; in a valid slot it is.
        let e = dictionary_i32(
            keys(vec![7, 0, 7], Some(vec![false, true, true])),
            values(1),
        )
        .unwrap_err();
        assert_eq!((e.index, e.key), (2, 7));
    }

    proptest::proptest! {
        /// Whatever the offsets and the data (UTF-8 or not, offsets inside
        /// characters or past the end), the same verdict as arrow's own
        /// `try_new`, and the same array when both accept.
        #[test]
        fn strings_are_accepted_as_arrow_accepts_them(
            text in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::strategy::Just("a".to_string()),
                    proptest::strategy::Just("é".to_string()),
                    proptest::strategy::Just("€".to_string()),
                    proptest::strategy::Just("😀".to_string()),
                ],
                0..12,
            ),
            bad_byte in proptest::option::of((0usize..40, 0x80u8..=0xFF)),
            steps in proptest::collection::vec(0i32..6, 0..10),
            null_slots in proptest::option::of(0usize..12),
        ) {
            let mut data = text.concat().into_bytes();
            if let Some((at, b)) = bad_byte
                && at < data.len()
            {
                data[at] = b;
            }
            let mut offs = vec![0i32];
            for s in &steps {
                offs.push(offs[offs.len() - 1] + s);
            }
            let make = || {
                let offsets = OffsetBuffer::new(offs.clone().into());
                let nulls = null_slots.map(|n| NullBuffer::from(vec![true; n]));
                (offsets, Buffer::from(data.clone()), nulls)
            };
            let (o, v, n) = make();
            let ours = string_array(o, v, n);
            let (o, v, n) = make();
            let arrow = StringArray::try_new(o, v, n);
            match (ours, arrow) {
                (Ok(a), Ok(b)) => {
                    a.to_data().validate_full().unwrap();
                    proptest::prop_assert_eq!(a, b);
                }
                (Err(a), Err(b)) => proptest::prop_assert_eq!(a.to_string(), b.to_string()),
                (a, b) => proptest::prop_assert!(false, "ours {:?}, arrow {:?}", a, b),
            }
        }
    }

    #[test]
    fn null_slots_over_an_empty_dictionary_are_accepted() {
        let d = dictionary_i32(keys(vec![0, 0], Some(vec![false, false])), values(0)).unwrap();
        assert_eq!(d.null_count(), 2);
        d.to_data().validate_full().unwrap();
        let d = dictionary_i32(keys(vec![5, 1], Some(vec![false, true])), values(2)).unwrap();
        d.to_data().validate_full().unwrap();
    }
}
