//! The ILP encoder's view of one batch's columns, and the value writers
//! that are not plain text.

use std::ops::Range;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Decimal128Array, Decimal256Array, FixedSizeBinaryArray,
    Float64Array, Int64Array, LargeStringArray, ListArray, StringArray, StringViewArray,
};
use arrow::datatypes::DataType;

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
    pub(super) symbols: Vec<Strs>,
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

/// A string column without copying its values.
pub(super) enum Strs {
    Utf8(StringArray),
    Large(LargeStringArray),
    View(StringViewArray),
}

impl Strs {
    pub(super) fn new(a: &ArrayRef) -> std::result::Result<Strs, arrow::error::ArrowError> {
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
