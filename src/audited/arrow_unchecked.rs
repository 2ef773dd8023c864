//! A `Dictionary(Int32, _)` array whose keys were checked in one
//! branch-free pass instead of arrow's own validation.
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

use arrow::array::{Array, ArrayRef, DictionaryArray, PrimitiveArray};
use arrow::datatypes::Int32Type;

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
    let max = keys.values().iter().fold(0u32, |m, &k| m.max(k as u32));
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

    #[test]
    fn null_slots_over_an_empty_dictionary_are_accepted() {
        let d = dictionary_i32(keys(vec![0, 0], Some(vec![false, false])), values(0)).unwrap();
        assert_eq!(d.null_count(), 2);
        d.to_data().validate_full().unwrap();
        let d = dictionary_i32(keys(vec![5, 1], Some(vec![false, true])), values(2)).unwrap();
        d.to_data().validate_full().unwrap();
    }
}
