//! The values of one ILP column: accumulated line by line, converted to
//! the column's type as QuestDB converts them, then built into one Arrow
//! array (the per-table assembly is in `ilp`).

use std::sync::Arc;

use arrow::array::builder::BooleanBufferBuilder;
use arrow::array::{
    ArrayRef, BooleanArray, Date64Array, Decimal64Array, Decimal128Array, Decimal256Array,
    DictionaryArray, FixedSizeBinaryArray, Float32Array, Float64Array, Int8Array, Int16Array,
    Int32Array, Int64Array, ListArray, StringBuilder, TimestampMicrosecondArray,
    TimestampNanosecondArray,
};
use arrow::buffer::{NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{ArrowNativeType, Field, Int32Type, i256};

use super::ilp::Place;
use crate::bridge::sym_dict::SymDict;
use crate::bridge::types::{QwpType, type_name};
use crate::protocol::ColumnType;
use crate::protocol::ilp::{FieldValue, LineTimestamp, TimestampUnit};

/// One column of a table in a body: its values as they are parsed.
pub(super) struct Col {
    pub(super) name: String,
    /// The stored field, for a column the table has.
    pub(super) field: Option<Arc<Field>>,
    pub(super) ty: QwpType,
    pub(super) data: Data,
    /// Values held. Rows the lines left out are padded with NULLs only
    /// when the column's next value comes, or at the end
    /// ([`catch_up`](Col::catch_up)), not by a pass over every column
    /// after each line (about 50 instructions a line on W1).
    pub(super) len: usize,
    /// Where the name that last named this column is in the body.
    pub(super) place: Option<Place>,
}

impl Col {
    /// Pads the column with NULLs to `rows` values, before the value of
    /// row `rows` (or at the end); a column that already holds row `rows`
    /// was named twice in its line.
    #[inline(never)]
    pub(super) fn catch_up(&mut self, rows: usize) -> Result<(), String> {
        if self.len > rows {
            return Err(format!("column {}: appears twice in the line", self.name));
        }
        while self.len < rows {
            self.data.push_null();
            self.len += 1;
        }
        Ok(())
    }
}

/// Values of one column (NULLs included: a zero value and a NULL bit).
pub(super) enum Data {
    Bool(Vec<bool>),
    Int(Vec<i64>, NullRows),
    Float(Vec<f64>, NullRows),
    /// TIMESTAMP (µs), TIMESTAMP_NANOS (ns) or DATE (ms), in the column's unit.
    Time(Vec<i64>, NullRows),
    Str(StringBuilder),
    /// Keys into the column's dictionary of this body's values.
    Sym(Vec<i32>, NullRows, Box<SymDict>),
    Long256(Vec<Option<[u8; 32]>>),
    Dec(Vec<Option<i256>>),
    Arr(Vec<Option<(Vec<u32>, Vec<f64>)>>),
}

impl Data {
    /// Empty values of a `ty` column with room for `rows`.
    pub(super) fn for_type(ty: ColumnType, rows: usize) -> Option<Data> {
        let nums = || Vec::with_capacity(rows);
        let nulls = NullRows::default;
        Some(match ty {
            ColumnType::Boolean => Data::Bool(Vec::with_capacity(rows)),
            ColumnType::Byte | ColumnType::Short | ColumnType::Int | ColumnType::Long => {
                Data::Int(nums(), nulls())
            }
            ColumnType::Float | ColumnType::Double => {
                Data::Float(Vec::with_capacity(rows), nulls())
            }
            ColumnType::Timestamp | ColumnType::TimestampNanos | ColumnType::Date => {
                Data::Time(nums(), nulls())
            }
            ColumnType::Varchar => Data::Str(StringBuilder::with_capacity(rows, rows * 16)),
            ColumnType::Symbol => Data::Sym(Vec::with_capacity(rows), nulls(), Box::default()),
            ColumnType::Long256 => Data::Long256(Vec::new()),
            ColumnType::Decimal64 | ColumnType::Decimal128 | ColumnType::Decimal256 => {
                Data::Dec(Vec::new())
            }
            ColumnType::DoubleArray => Data::Arr(Vec::new()),
            _ => return None,
        })
    }

    pub(super) fn push_null(&mut self) {
        match self {
            Data::Bool(v) => v.push(false),
            Data::Int(v, n) | Data::Time(v, n) => {
                n.push(v.len());
                v.push(0);
            }
            Data::Sym(v, n, _) => {
                n.push(v.len());
                v.push(0);
            }
            Data::Float(v, n) => {
                n.push(v.len());
                v.push(0.0);
            }
            Data::Str(b) => b.append_null(),
            Data::Long256(v) => v.push(None),
            Data::Dec(v) => v.push(None),
            Data::Arr(v) => v.push(None),
        }
    }
}

fn kind(v: &FieldValue<'_>, tag: bool) -> &'static str {
    match v {
        FieldValue::String(_) if tag => "symbol",
        FieldValue::String(_) => "string",
        FieldValue::Integer(_) => "integer",
        FieldValue::Long256(_) => "long256",
        FieldValue::Float(_) => "float",
        FieldValue::Boolean(_) => "boolean",
        FieldValue::Timestamp(_) => "timestamp",
        FieldValue::DoubleArray(_) => "double array",
        FieldValue::Decimal(_) => "decimal",
    }
}

/// Why `v` cannot go into a `ty` column, made only then (the environment
/// of a closure for it was built for every value).
#[cold]
fn cast_error(v: &FieldValue<'_>, tag: bool, ty: QwpType) -> String {
    format!(
        "cast error: a {} value cannot be written to a {} column",
        kind(v, tag),
        type_name(ty.ty).to_ascii_uppercase()
    )
}

/// Appends `v` to `col`, converting it to the column's type as QuestDB does.
/// Inlined into the caller's loops over a line's values: the call was a
/// tenth of the sink's ILP instructions.
#[inline(always)]
pub(super) fn put(col: &mut Col, v: &FieldValue<'_>, tag: bool) -> Result<(), String> {
    let ty = col.ty;
    match (&mut col.data, v) {
        (Data::Bool(d), FieldValue::Boolean(b)) => d.push(*b),
        (Data::Int(d, _), FieldValue::Integer(i)) => {
            let (lo, hi) = match ty.ty {
                ColumnType::Byte => (i8::MIN as i64, i8::MAX as i64),
                ColumnType::Short => (i16::MIN as i64, i16::MAX as i64),
                ColumnType::Int => (i32::MIN as i64, i32::MAX as i64),
                _ => (i64::MIN, i64::MAX),
            };
            if *i < lo || *i > hi {
                return Err(format!(
                    "value {i} does not fit a {} column",
                    type_name(ty.ty).to_ascii_uppercase()
                ));
            }
            d.push(*i);
        }
        (Data::Float(d, _), FieldValue::Float(f)) => d.push(*f),
        (Data::Float(d, _), FieldValue::Integer(i)) => d.push(*i as f64),
        (Data::Time(d, _), FieldValue::Timestamp(t)) => d.push(time_value(*t, ty.ty)?),
        (Data::Time(d, _), FieldValue::Integer(i)) => d.push(*i),
        (Data::Str(b), FieldValue::String(s)) => b.append_value(s),
        (Data::Sym(d, _, dict), FieldValue::String(s)) => {
            let (key, _) = dict.key(s).map_err(|e| e.to_string())?;
            d.push(key);
        }
        (Data::Long256(d), FieldValue::Long256(hex)) => d.push(Some(long256(hex)?)),
        (Data::Dec(d), FieldValue::Decimal(x)) => {
            let x = x
                .value()
                .ok_or_else(|| "the decimal cannot be read".to_string())?;
            d.push(Some(rescale(x.unscaled, x.scale, ty)?));
        }
        (Data::Dec(d), FieldValue::Integer(i)) => {
            d.push(Some(rescale(i256::from_i128(*i as i128), 0, ty)?));
        }
        (Data::Arr(d), FieldValue::DoubleArray(a)) => {
            if a.dims() != ty.array_dims as usize {
                return Err(format!(
                    "a {}-dimensional array cannot be written to a {}-dimensional column",
                    a.dims(),
                    ty.array_dims
                ));
            }
            d.push(Some((a.shape().collect(), a.values().collect())));
        }
        _ => return Err(cast_error(v, tag, ty)),
    }
    Ok(())
}

/// The NULL rows of a column, by position. A value costs nothing here (a
/// bitmap builder sets a bit per value once the column holds a NULL: a
/// tenth of the instructions of a body with NULLs in every column), and
/// the validity bitmap is built once, in [`finish`](Self::finish).
#[derive(Default)]
pub(super) struct NullRows(Vec<usize>);

impl NullRows {
    /// Row `row` is NULL (rows come in increasing order).
    fn push(&mut self, row: usize) {
        self.0.push(row);
    }

    /// The validity of a column of `len` rows; `None` when none is NULL.
    fn finish(&mut self, len: usize) -> Option<NullBuffer> {
        if self.0.is_empty() {
            return None;
        }
        let mut valid = BooleanBufferBuilder::new(len);
        valid.append_n(len, true);
        for &row in &self.0 {
            valid.set_bit(row, false);
        }
        Some(NullBuffer::new(valid.finish()))
    }
}

/// A timestamp field in a TIMESTAMP (µs), TIMESTAMP_NANOS or DATE (ms) column.
fn time_value(t: LineTimestamp, ty: ColumnType) -> Result<i64, String> {
    let v = t.value;
    let r = match (t.unit, ty) {
        (TimestampUnit::Micros, ColumnType::Timestamp) => Some(v),
        (TimestampUnit::Nanos, ColumnType::Timestamp) => Some(v.div_euclid(1_000)),
        (TimestampUnit::Micros, ColumnType::TimestampNanos) => v.checked_mul(1_000),
        (TimestampUnit::Nanos, ColumnType::TimestampNanos) => Some(v),
        (TimestampUnit::Micros, _) => Some(v.div_euclid(1_000)),
        (TimestampUnit::Nanos, _) => Some(v.div_euclid(1_000_000)),
    };
    r.ok_or_else(|| format!("timestamp {v} is out of range for the column"))
}

/// `0x..i` hex digits (most significant first) as 32 bytes, least
/// significant first (the Arrow layout of LONG256).
pub(super) fn long256(hex: &str) -> Result<[u8; 32], String> {
    let digits = hex.as_bytes();
    if digits.is_empty() || digits.len() > 64 {
        return Err(format!("bad long256 0x{hex}"));
    }
    let mut out = [0u8; 32];
    for (i, d) in digits.iter().rev().enumerate() {
        let n = (*d as char)
            .to_digit(16)
            .ok_or_else(|| format!("bad long256 0x{hex}"))? as u8;
        out[i / 2] |= n << (4 * (i % 2));
    }
    Ok(out)
}

/// A decimal at `scale` as the column's unscaled value (exact, within
/// the column's precision), or why it does not fit.
pub(super) fn rescale(v: i256, scale: u8, ty: QwpType) -> Result<i256, String> {
    let ten = i256::from_i128(10);
    let too_big = || {
        format!(
            "decimal does not fit the column's precision (scale {})",
            ty.scale
        )
    };
    let out = if scale <= ty.scale {
        let f = ten
            .checked_pow((ty.scale - scale) as u32)
            .ok_or_else(too_big)?;
        v.checked_mul(f).ok_or_else(too_big)?
    } else {
        let f = ten
            .checked_pow((scale - ty.scale) as u32)
            .ok_or_else(too_big)?;
        if v.checked_rem(f) != Some(i256::ZERO) {
            return Err(format!(
                "decimal with scale {scale} would lose digits in a column of scale {}",
                ty.scale
            ));
        }
        v.checked_div(f).ok_or_else(too_big)?
    };
    let digits = match ty.ty {
        ColumnType::Decimal64 => 18,
        ColumnType::Decimal128 => 38,
        _ => 76,
    };
    let bound = ten.checked_pow(digits).unwrap_or(i256::MAX);
    if out >= bound || out.checked_neg().is_none_or(|n| n >= bound) {
        return Err(too_big());
    }
    Ok(out)
}

/// The Arrow array of a column's values.
pub(super) fn build(data: Data, ty: QwpType) -> Result<ArrayRef, String> {
    let e = |e: arrow::error::ArrowError| e.to_string();
    Ok(match data {
        Data::Bool(v) => Arc::new(BooleanArray::from(v)),
        // BYTE and SHORT have no NULL: a missing value is 0 (as stored).
        Data::Int(v, _) if ty.ty == ColumnType::Byte => {
            Arc::new(Int8Array::from_iter_values(v.iter().map(|&x| x as i8)))
        }
        Data::Int(v, _) if ty.ty == ColumnType::Short => {
            Arc::new(Int16Array::from_iter_values(v.iter().map(|&x| x as i16)))
        }
        Data::Int(v, mut n) if ty.ty == ColumnType::Int => Arc::new(Int32Array::new(
            v.iter().map(|&x| x as i32).collect(),
            n.finish(v.len()),
        )),
        Data::Int(v, mut n) => {
            let nulls = n.finish(v.len());
            Arc::new(Int64Array::new(tight(v), nulls))
        }
        Data::Float(v, mut n) if ty.ty == ColumnType::Float => Arc::new(Float32Array::new(
            v.iter().map(|&x| x as f32).collect(),
            n.finish(v.len()),
        )),
        Data::Float(v, mut n) => {
            let nulls = n.finish(v.len());
            Arc::new(Float64Array::new(tight(v), nulls))
        }
        Data::Time(v, mut n) => {
            let nulls = n.finish(v.len());
            match ty.ty {
                ColumnType::TimestampNanos => {
                    Arc::new(TimestampNanosecondArray::new(tight(v), nulls).with_timezone("UTC"))
                }
                ColumnType::Date => Arc::new(Date64Array::new(tight(v), nulls)),
                _ => Arc::new(TimestampMicrosecondArray::new(tight(v), nulls).with_timezone("UTC")),
            }
        }
        Data::Str(mut b) => Arc::new(b.finish()),
        Data::Sym(v, mut n, dict) => {
            let nulls = n.finish(v.len());
            Arc::new(
                DictionaryArray::<Int32Type>::try_new(
                    Int32Array::new(tight(v), nulls),
                    Arc::new(dict.into_values().map_err(|e| e.to_string())?),
                )
                .map_err(e)?,
            )
        }
        Data::Long256(v) => Arc::new(
            FixedSizeBinaryArray::try_from_sparse_iter_with_size(v.into_iter(), 32).map_err(e)?,
        ),
        Data::Dec(v) => match ty.ty {
            ColumnType::Decimal64 => Arc::new(
                Decimal64Array::from_iter(v.iter().map(|x| x.map(|x| x.as_i128() as i64)))
                    .with_precision_and_scale(18, ty.scale as i8)
                    .map_err(e)?,
            ),
            ColumnType::Decimal128 => Arc::new(
                Decimal128Array::from_iter(v.iter().map(|x| x.map(|x| x.as_i128())))
                    .with_precision_and_scale(38, ty.scale as i8)
                    .map_err(e)?,
            ),
            _ => Arc::new(
                Decimal256Array::from(v)
                    .with_precision_and_scale(76, ty.scale as i8)
                    .map_err(e)?,
            ),
        },
        Data::Arr(v) => nested_list(&v, ty.array_dims as usize)?,
    })
}

/// `v` as an Arrow buffer without the room it was given and did not use
/// (given back in place: no copy).
pub(super) fn tight<T: ArrowNativeType>(mut v: Vec<T>) -> ScalarBuffer<T> {
    v.shrink_to_fit();
    v.into()
}

/// Rows of n-dimensional arrays as `dims` levels of Arrow lists of Float64
/// (a NULL row is a NULL outermost list).
pub(super) fn nested_list(
    rows: &[Option<(Vec<u32>, Vec<f64>)>],
    dims: usize,
) -> Result<ArrayRef, String> {
    let values: Vec<f64> = rows
        .iter()
        .flatten()
        .flat_map(|(_, v)| v.iter().copied())
        .collect();
    let mut child: ArrayRef = Arc::new(Float64Array::from(values));
    for level in (0..dims.max(1)).rev() {
        let mut offsets: Vec<i32> = vec![0];
        let mut valid: Vec<bool> = Vec::new();
        for row in rows {
            let last = *offsets.last().unwrap_or(&0);
            match row {
                None if level == 0 => {
                    offsets.push(last);
                    valid.push(false);
                }
                None => {}
                Some((shape, _)) => {
                    let lists: usize = shape[..level].iter().map(|&d| d as usize).product();
                    let len = i32::try_from(shape[level])
                        .map_err(|_| "array dimension too long".to_string())?;
                    let mut at = last;
                    for _ in 0..lists {
                        at = at
                            .checked_add(len)
                            .ok_or_else(|| "arrays too large for one batch".to_string())?;
                        offsets.push(at);
                        valid.push(true);
                    }
                }
            }
        }
        let nulls = valid.iter().any(|v| !v).then(|| NullBuffer::from(valid));
        let field = Arc::new(Field::new("item", child.data_type().clone(), true));
        child = Arc::new(
            ListArray::try_new(field, OffsetBuffer::new(offsets.into()), child, nulls)
                .map_err(|e| e.to_string())?,
        );
    }
    Ok(child)
}
