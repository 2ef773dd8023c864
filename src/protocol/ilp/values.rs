//! The ILP encoder's view of one batch's columns, and the value writers
//! that are not plain text.

use std::ops::Range;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Decimal128Array, Decimal256Array, FixedSizeBinaryArray,
    Float64Array, Int64Array, LargeStringArray, ListArray, StringArray, StringViewArray,
};
use arrow::buffer::NullBuffer;
use arrow::datatypes::DataType;
use arrow::error::ArrowError;

use super::escape::{Padded, escaped_name_max, write_escaped_name_in};
use super::write_escaped_name;

use super::{
    ARRAY_ELEM_DOUBLE, BINARY_ARRAY, BINARY_DOUBLE, BINARY_MARKER, IlpVersion, MAX_ARRAY_DIM_LEN,
    MAX_ARRAY_DIMS,
};

/// Writes an f64: shortest round-trip text in v1 (`NaN`, `Infinity`,
/// `-Infinity` for the non-finite), binary from v2.
pub(super) fn write_f64(version: IlpVersion, v: f64, out: &mut Vec<u8>) {
    if version >= IlpVersion::V2 {
        out.push(BINARY_MARKER);
        out.push(BINARY_DOUBLE);
        out.extend_from_slice(&v.to_le_bytes());
    } else if v.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if v.is_infinite() {
        out.extend_from_slice(if v > 0.0 { b"Infinity" } else { b"-Infinity" });
    } else {
        let mut buf = ryu::Buffer::new();
        out.extend_from_slice(buf.format_finite(v).as_bytes());
    }
}

/// Writes a LONG256 (32 bytes, least significant first) as `0x<hex>i`.
pub(super) fn write_long256(le: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.extend_from_slice(b"0x");
    let mut started = false;
    for &b in le.iter().rev() {
        for nibble in [b >> 4, b & 0xF] {
            if nibble != 0 || started {
                started = true;
                out.push(HEX[nibble as usize]);
            }
        }
    }
    if !started {
        out.push(b'0');
    }
    out.push(b'i');
}

/// The shortest big-endian two's complement form of `be` (at least one
/// byte).
pub(super) fn minimal_twos_complement(be: &[u8]) -> &[u8] {
    let mut s = be;
    while s.len() > 1 && ((s[0] == 0x00 && s[1] & 0x80 == 0) || (s[0] == 0xFF && s[1] & 0x80 != 0))
    {
        s = &s[1..];
    }
    s
}

/// One batch's columns in the layouts the writer reads.
pub(super) struct Prepared {
    pub(super) symbols: Vec<Syms>,
    pub(super) fields: Vec<Vals>,
    pub(super) ts: Option<Int64Array>,
}

pub(super) enum Vals {
    Bool(BooleanArray),
    Int(Int64Array),
    Double(Float64Array),
    Str(Strs),
    I64(Int64Array),
    Long256(FixedSizeBinaryArray),
    Array(Levels),
    Decimal(Dec),
}

impl Vals {
    #[inline]
    pub(super) fn is_null(&self, row: usize) -> bool {
        match self {
            Vals::Bool(a) => a.is_null(row),
            Vals::Int(a) | Vals::I64(a) => a.is_null(row),
            Vals::Double(a) => a.is_null(row),
            Vals::Str(s) => s.get(row).is_none(),
            Vals::Long256(a) => a.is_null(row),
            Vals::Array(a) => a.levels.first().is_none_or(|l| l.is_null(row)),
            Vals::Decimal(Dec::D128(a)) => a.is_null(row),
            Vals::Decimal(Dec::D256(a)) => a.is_null(row),
        }
    }
}

pub(super) enum Dec {
    D128(Decimal128Array),
    D256(Decimal256Array),
}

/// A SYMBOL column's values as the writer takes them.
pub(super) enum Syms {
    /// A dictionary: each value written once per batch after the column's
    /// key (`,name=value`, escaped), picked per row by its key.
    Dict {
        keys: Vec<usize>,
        nulls: Option<NullBuffer>,
        texts: Vec<Padded>,
    },
    /// Strings, escaped per row.
    Plain(Strs),
}

impl Syms {
    /// The values of `a` (a dictionary or strings), `key` the column's
    /// `,name=`. A dictionary with more values than the batch has rows (one
    /// shared by many small batches) is written per row instead: escaping
    /// every value once per batch would cost more than the rows do.
    pub(super) fn new(a: &ArrayRef, key: &Padded) -> std::result::Result<Syms, ArrowError> {
        if let Some(d) = a.as_any_dictionary_opt()
            && !d.values().is_empty()
            && d.values().len() <= a.len()
        {
            let values = Strs::new(d.values())?;
            let texts = (0..d.values().len())
                .map(|i| {
                    let mut t = key.bytes().to_vec();
                    write_escaped_name(&mut t, values.get(i).unwrap_or_default());
                    Padded::new(t)
                })
                .collect();
            return Ok(Syms::Dict {
                keys: d.normalized_keys(),
                nulls: a.logical_nulls(),
                texts,
            });
        }
        Strs::new(a).map(Syms::Plain)
    }

    /// The most bytes [`write`](Self::write) writes for `row`, `None` when
    /// it is NULL.
    pub(super) fn len_max(&self, row: usize, key: &Padded) -> Option<usize> {
        match self {
            Syms::Dict { keys, nulls, texts } => nulls
                .as_ref()
                .is_none_or(|n| n.is_valid(row))
                .then(|| texts[keys[row]].len()),
            Syms::Plain(s) => s.get(row).map(|v| key.len() + escaped_name_max(v)),
        }
    }

    /// Writes `,name=value` for `row` (`key` the `,name=`); false when
    /// it is NULL (nothing written).
    #[inline]
    pub(super) fn write(&self, row: usize, key: &Padded, out: &mut Vec<u8>) -> bool {
        match self {
            Syms::Dict { keys, nulls, texts } => {
                if nulls.as_ref().is_some_and(|n| n.is_null(row)) {
                    return false;
                }
                texts[keys[row]].put(out);
            }
            Syms::Plain(s) => {
                let Some((v, tail)) = s.get_tail(row) else {
                    return false;
                };
                key.put(out);
                write_escaped_name_in(out, v, tail);
            }
        }
        true
    }
}

/// A string column without copying its values.
pub(super) enum Strs {
    Utf8(StringArray),
    Large(LargeStringArray),
    View(StringViewArray),
}

impl Strs {
    pub(super) fn new(a: &ArrayRef) -> std::result::Result<Strs, ArrowError> {
        Ok(match a.data_type() {
            DataType::Utf8 => Strs::Utf8(a.as_string::<i32>().clone()),
            DataType::LargeUtf8 => Strs::Large(a.as_string::<i64>().clone()),
            DataType::Utf8View => Strs::View(a.as_string_view().clone()),
            _ => Strs::Utf8(
                arrow::compute::cast(a, &DataType::Utf8)?
                    .as_string::<i32>()
                    .clone(),
            ),
        })
    }

    /// The value of `row`, and its bytes followed by the rest of its
    /// buffer (for the fixed-size copies of
    /// [`write_escaped_name_in`](super::escape::write_escaped_name_in)).
    pub(super) fn get_tail(&self, row: usize) -> Option<(&str, &[u8])> {
        match self {
            Strs::Utf8(a) => a.is_valid(row).then(|| {
                let at = a.value_offsets()[row] as usize;
                (a.value(row), &a.value_data()[at..])
            }),
            Strs::Large(a) => a.is_valid(row).then(|| {
                let at = a.value_offsets()[row] as usize;
                (a.value(row), &a.value_data()[at..])
            }),
            Strs::View(a) => a.is_valid(row).then(|| {
                let v = a.value(row);
                (v, v.as_bytes())
            }),
        }
    }

    pub(super) fn get(&self, row: usize) -> Option<&str> {
        match self {
            Strs::Utf8(a) => a.is_valid(row).then(|| a.value(row)),
            Strs::Large(a) => a.is_valid(row).then(|| a.value(row)),
            Strs::View(a) => a.is_valid(row).then(|| a.value(row)),
        }
    }
}

/// An n-dimensional DOUBLE array column: one `List` per dimension, then
/// the f64 leaf values.
pub(super) struct Levels {
    pub(super) levels: Vec<ListArray>,
    pub(super) leaf: Float64Array,
}

impl Levels {
    /// The leaf values of `row` (a contiguous range).
    pub(super) fn leaf_range(&self, row: usize) -> Range<usize> {
        let (mut s, mut e) = (row, row + 1);
        for l in &self.levels {
            let off = l.value_offsets();
            (s, e) = (off[s] as usize, off[e] as usize);
        }
        s..e
    }

    /// Writes `row` as a binary array: `=` 14 10 dims, u32 LE shape, f64 LE
    /// values in row-major order (a NULL element is NaN).
    pub(super) fn write(&self, row: usize, out: &mut Vec<u8>) -> std::result::Result<(), String> {
        let mut shape = [0u32; MAX_ARRAY_DIMS];
        let (mut s, mut e) = (row, row + 1);
        for (d, l) in self.levels.iter().enumerate() {
            let off = l.value_offsets();
            let mut len = None;
            for i in s..e {
                let n = (off[i + 1] - off[i]) as usize;
                if l.is_null(i) || len.is_some_and(|m| m != n) {
                    return Err(format!(
                        "ragged or NULL nested list at dimension {}; QuestDB arrays must be rectangular",
                        d + 1
                    ));
                }
                len = Some(n);
            }
            let n = len.unwrap_or(0);
            if n > MAX_ARRAY_DIM_LEN {
                return Err(format!(
                    "dimension {} has {n} elements, at most {MAX_ARRAY_DIM_LEN}",
                    d + 1
                ));
            }
            shape[d] = n as u32;
            (s, e) = (off[s] as usize, off[e] as usize);
        }
        let dims = self.levels.len();
        out.extend_from_slice(&[BINARY_MARKER, BINARY_ARRAY, ARRAY_ELEM_DOUBLE, dims as u8]);
        for n in &shape[..dims] {
            out.extend_from_slice(&n.to_le_bytes());
        }
        out.reserve(8 * (e - s));
        let values = self.leaf.values();
        for i in s..e {
            let v = if self.leaf.is_null(i) {
                f64::NAN
            } else {
                values[i]
            };
            out.extend_from_slice(&v.to_le_bytes());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{
        ArrayRef, DictionaryArray, Int8Array, Int64Array, RecordBatch, StringArray,
    };
    use arrow::datatypes::{DataType, Int8Type};

    use super::super::{IlpEncoder, IlpVersion};
    use crate::bridge::ColumnOverride;

    /// `sym` and a LONG column `n` as lines of table `t` (rows 1.. of the
    /// batch, so the columns are slices), checked against the length bound.
    fn lines(sym: ArrayRef, overrides: &[(String, ColumnOverride)]) -> String {
        let n = Arc::new(Int64Array::from_iter_values(1..=sym.len() as i64)) as ArrayRef;
        let b = RecordBatch::try_from_iter([("s", sym), ("n", n)]).unwrap();
        let b = b.slice(1, b.num_rows() - 1);
        let enc = IlpEncoder::new("t", &b.schema(), IlpVersion::V2, None, overrides).unwrap();
        let mut out = Vec::new();
        enc.encode(&b, 0..b.num_rows(), &mut out).unwrap();
        assert!(enc.encoded_len(&b, 0..b.num_rows()).unwrap() >= out.len());
        String::from_utf8(out).unwrap()
    }

    /// A dictionary SYMBOL column (its values written once per batch)
    /// writes the lines its values do as strings: escapes, NULL keys, NULL
    /// values, unused and repeated entries, an empty value.
    #[test]
    fn dictionary_symbols_write_the_lines_of_their_strings() {
        let values = StringArray::from(vec![
            Some("a b,c=d\\e"),
            None,
            Some("x"),
            Some("unused"),
            Some(""),
        ]);
        let keys = Int8Array::from(vec![
            Some(0),
            Some(2),
            None,
            Some(1),
            Some(2),
            Some(4),
            Some(0),
        ]);
        let dict: ArrayRef =
            Arc::new(DictionaryArray::<Int8Type>::try_new(keys, Arc::new(values.clone())).unwrap());
        let plain = arrow::compute::cast(&dict, &DataType::Utf8).unwrap();
        let from_dict = lines(dict.clone(), &[]);
        assert_eq!(
            from_dict,
            "t,s=x n=2i\nt n=3i\nt n=4i\nt,s=x n=5i\nt,s= n=6i\nt,s=a\\ b\\,c\\=d\\\\e n=7i\n"
        );
        assert_eq!(
            from_dict,
            lines(plain, &[("s".into(), ColumnOverride::Symbol)])
        );
        // More values than rows (a dictionary shared by small batches):
        // written per row, the same lines.
        let few: ArrayRef = Arc::new(
            DictionaryArray::<Int8Type>::try_new(
                Int8Array::from(vec![Some(2), Some(0), None]),
                Arc::new(values.clone()),
            )
            .unwrap(),
        );
        let key = super::Padded::new(b",s=".to_vec());
        assert!(matches!(
            super::Syms::new(&few, &key),
            Ok(super::Syms::Plain(_))
        ));
        assert!(matches!(
            super::Syms::new(&dict, &key),
            Ok(super::Syms::Dict { .. })
        ));
        let few_plain = arrow::compute::cast(&few, &DataType::Utf8).unwrap();
        assert_eq!(lines(few, &[]), "t,s=a\\ b\\,c\\=d\\\\e n=2i\nt n=3i\n");
        assert_eq!(
            lines(few_plain, &[("s".into(), ColumnOverride::Symbol)]),
            "t,s=a\\ b\\,c\\=d\\\\e n=2i\nt n=3i\n"
        );
        // No values at all (every key NULL).
        let empty: ArrayRef = Arc::new(
            DictionaryArray::<Int8Type>::try_new(
                Int8Array::from(vec![None, None]),
                Arc::new(StringArray::from(Vec::<&str>::new())),
            )
            .unwrap(),
        );
        assert_eq!(lines(empty, &[]), "t n=2i\n");
    }
}
