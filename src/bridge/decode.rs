//! QWP column bodies → Arrow arrays.
//!
//! NULLs come from the bitmap and from the egress sentinels (INT/LONG/DATE/
//! TIMESTAMP/DECIMAL minimum values, NaN floats, all-ones GEOHASH, IPv4 0,
//! all-minimum UUID/LONG256), as QuestDB itself reads them.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::BooleanBufferBuilder;
use arrow::array::{
    Array, ArrayRef, BinaryArray, BooleanArray, Decimal64Array, Decimal128Array, Decimal256Array,
    FixedSizeBinaryArray, Float32Array, Float64Array, Int8Array, Int16Array, Int32Array,
    Int64Array, ListArray, PrimitiveArray, StringArray, UInt16Array, UInt32Array,
};
use arrow::buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{
    ArrowPrimitiveType, Date64Type, Field, Int32Type, TimestampMicrosecondType,
    TimestampNanosecondType, i256,
};

use super::fixed::{copied, fixed, fixed_buffer, fixed_column, spread, spread_fixed, validity};
use super::types::{QwpType, arrow_type};
use crate::audited::arrow_unchecked::{dictionary_i32, string_array};
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::column::{
    ArrayView, ColumnView, TimestampsView, ValuesView, WireFixed, bit_is_set,
};
use crate::protocol::{ColumnType, column::geohash_width};

/// Resolves connection-global symbol ids to strings.
pub trait SymbolLookup {
    /// The string for `id`, if known.
    fn symbol(&self, id: u32) -> Option<&str>;

    /// A `Utf8` array holding every known symbol, by id. When there is
    /// one, SYMBOL columns use it as their dictionary values (shared, may
    /// hold values no row uses) with the wire ids as keys; otherwise each
    /// column gets a dictionary of the values it uses.
    fn shared_values(&self) -> Option<&ArrayRef> {
        None
    }
}

/// A connection dictionary with its values array (see
/// [`SymbolLookup::shared_values`]).
pub struct SharedSymbols<'a> {
    /// The dictionary.
    pub dict: &'a super::symbol_values::SymbolValues,
    /// `dict`'s values array ([`SymbolValues::values`](super::symbol_values::SymbolValues::values)).
    pub values: ArrayRef,
}

impl SymbolLookup for SharedSymbols<'_> {
    fn symbol(&self, id: u32) -> Option<&str> {
        self.dict.get(id)
    }

    fn shared_values(&self) -> Option<&ArrayRef> {
        Some(&self.values)
    }
}

impl SymbolLookup for [String] {
    fn symbol(&self, id: u32) -> Option<&str> {
        self.get(id as usize).map(|s| s.as_str())
    }
}

impl SymbolLookup for Vec<String> {
    fn symbol(&self, id: u32) -> Option<&str> {
        self.get(id as usize).map(|s| s.as_str())
    }
}

fn bad(msg: String) -> Error {
    Error::new(ErrorKind::Protocol, msg)
}

/// The column-level arguments found in a decoded column.
pub fn view_type(view: &ColumnView<'_>) -> QwpType {
    let mut t = QwpType::plain(view.ty);
    match &view.values {
        ValuesView::Geohash { precision_bits, .. } => t.geohash_bits = *precision_bits,
        ValuesView::Decimal { scale, .. } => t.scale = *scale,
        ValuesView::Arrays(a) => {
            t.array_dims = a.first().map_or(1, |x| x.dims.len() as u8);
        }
        _ => {}
    }
    t
}

/// Row validity from the wire bitmap (1 = NULL) as Arrow's (1 = valid);
/// `None` without NULLs.
fn bitmap_validity(view: &ColumnView<'_>) -> Option<NullBuffer> {
    let bm = view.nulls?;
    if view.null_count == 0 {
        return None;
    }
    Some(NullBuffer::new(BooleanBuffer::from_bitwise_unary_op(
        bm,
        0,
        view.row_count,
        |w| !w,
    )))
}

fn prim<P: ArrowPrimitiveType>(
    values: ScalarBuffer<P::Native>,
    nulls: Option<NullBuffer>,
) -> PrimitiveArray<P> {
    PrimitiveArray::<P>::new(values, nulls)
}

/// Decodes a column into an Arrow array of the type [`arrow_type`] gives
/// for its [`QwpType`] (also returned). SYMBOL columns become
/// `Dictionary(Int32, Utf8)`: over [`SymbolLookup::shared_values`] when
/// `symbols` has them, else holding only the values used.
pub fn decode_array(
    view: &ColumnView<'_>,
    symbols: &dyn SymbolLookup,
) -> Result<(QwpType, ArrayRef)> {
    decode(view, Owned::None, symbols)
}

/// [`decode_array`] of a view it may take apart: Gorilla-decoded
/// timestamps and SYMBOL ids move into the array instead of being copied.
pub fn decode_array_owned(
    mut view: ColumnView<'_>,
    symbols: &dyn SymbolLookup,
) -> Result<(QwpType, ArrayRef)> {
    let owned = match &mut view.values {
        ValuesView::Timestamps(TimestampsView::Decoded(v)) => Owned::Ts(std::mem::take(v)),
        ValuesView::Symbols(ids) => Owned::Ids(std::mem::take(ids)),
        _ => Owned::None,
    };
    decode(&view, owned, symbols)
}

/// Vectors taken out of a view (which then holds empty ones).
enum Owned {
    None,
    Ts(Vec<i64>),
    Ids(Vec<u32>),
}

fn decode(
    view: &ColumnView<'_>,
    owned: Owned,
    symbols: &dyn SymbolLookup,
) -> Result<(QwpType, ArrayRef)> {
    let t = view_type(view);
    let valid = bitmap_validity(view);
    let rows = view.row_count;
    let arr: ArrayRef = match (&view.values, view.ty) {
        (ValuesView::Boolean(bits), _) => {
            let vals = match &valid {
                None => BooleanBuffer::new(copied(bits), 0, rows),
                Some(n) => {
                    let mut b = BooleanBufferBuilder::new(rows);
                    b.append_n(rows, false);
                    for (k, i) in n.valid_indices().enumerate() {
                        if bit_is_set(bits, k) {
                            b.set_bit(i, true);
                        }
                    }
                    b.finish()
                }
            };
            Arc::new(BooleanArray::new(vals, valid))
        }
        (ValuesView::Fixed(b), ColumnType::Byte) => {
            let v = spread_fixed::<i8>(b, valid.as_ref(), 0);
            Arc::new(Int8Array::new(v, valid))
        }
        (ValuesView::Fixed(b), ColumnType::Short) => {
            let v = spread_fixed::<i16>(b, valid.as_ref(), 0);
            Arc::new(Int16Array::new(v, valid))
        }
        (ValuesView::Fixed(b), ColumnType::Char) => {
            let v = spread_fixed::<u16>(b, valid.as_ref(), 0);
            Arc::new(UInt16Array::new(v, valid))
        }
        (ValuesView::Fixed(b), ColumnType::Int) => {
            let (v, n) = fixed_column::<i32>(b, valid, i32::MIN, |x| *x == i32::MIN);
            Arc::new(Int32Array::new(v, n))
        }
        (ValuesView::Fixed(b), ColumnType::Ipv4) => {
            let (v, n) = fixed_column::<u32>(b, valid, 0, |x| *x == 0);
            Arc::new(UInt32Array::new(v, n))
        }
        (ValuesView::Fixed(b), ColumnType::Long) => {
            let (v, n) = fixed_column::<i64>(b, valid, i64::MIN, |x| *x == i64::MIN);
            Arc::new(Int64Array::new(v, n))
        }
        (ValuesView::Fixed(b), ColumnType::Float) => {
            let (v, n) = fixed_column::<f32>(b, valid, f32::NAN, |x| x.is_nan());
            Arc::new(Float32Array::new(v, n))
        }
        (ValuesView::Fixed(b), ColumnType::Double) => {
            let (v, n) = fixed_column::<f64>(b, valid, f64::NAN, |x| x.is_nan());
            Arc::new(Float64Array::new(v, n))
        }
        (ValuesView::Fixed(_) | ValuesView::Timestamps(_), ty)
            if matches!(
                ty,
                ColumnType::Date | ColumnType::Timestamp | ColumnType::TimestampNanos
            ) =>
        {
            let is_null = |x: &i64| *x == i64::MIN;
            let from_dense = |dense: Vec<i64>, valid: Option<NullBuffer>| {
                let v = spread(dense, valid.as_ref(), i64::MIN);
                let n = validity(&v, valid, is_null);
                (ScalarBuffer::from(v), n)
            };
            let (v, n) = match (owned, &view.values) {
                (Owned::Ts(v), _) => from_dense(v, valid),
                (_, ValuesView::Timestamps(TimestampsView::Raw(b)) | ValuesView::Fixed(b)) => {
                    fixed_column(b, valid, i64::MIN, is_null)
                }
                _ => from_dense(view.timestamps().unwrap_or_default(), valid),
            };
            match ty {
                ColumnType::Date => Arc::new(prim::<Date64Type>(v, n)),
                ColumnType::Timestamp => {
                    Arc::new(prim::<TimestampMicrosecondType>(v, n).with_timezone("UTC"))
                }
                _ => Arc::new(prim::<TimestampNanosecondType>(v, n).with_timezone("UTC")),
            }
        }
        (ValuesView::Fixed(b), ColumnType::Uuid) => {
            let dense: Vec<u128> = fixed(b);
            let null = (u128::from(i64::MIN as u64) << 64) | u128::from(i64::MIN as u64);
            let v = spread(dense, valid.as_ref(), null);
            let n = validity(&v, valid, |x| *x == null);
            // Canonical RFC 4122 bytes are the big-endian u128.
            let bytes: Vec<u8> = v.iter().flat_map(|u| u.to_be_bytes()).collect();
            Arc::new(FixedSizeBinaryArray::try_new(16, Buffer::from(bytes), n).map_err(arrow_err)?)
        }
        (ValuesView::Fixed(b), ColumnType::Long256) => {
            let dense: Vec<[u8; 32]> = fixed(b);
            let null = <[u8; 32]>::get(&[0, 0, 0, 0, 0, 0, 0, 0x80].repeat(4));
            let v = spread(dense, valid.as_ref(), null);
            let n = validity(&v, valid, |x| *x == null);
            let bytes: Vec<u8> = v.concat();
            Arc::new(FixedSizeBinaryArray::try_new(32, Buffer::from(bytes), n).map_err(arrow_err)?)
        }
        (
            ValuesView::Geohash {
                precision_bits,
                data,
            },
            _,
        ) => {
            let w = geohash_width(*precision_bits);
            let ones = if w >= 8 {
                -1i64
            } else {
                ((1u64 << (w * 8)) - 1) as i64
            };
            let dense: Vec<i64> = data
                .chunks_exact(w)
                .map(|c| {
                    let mut a = [0u8; 8];
                    a[..w].copy_from_slice(c);
                    i64::from_le_bytes(a)
                })
                .collect();
            let v = spread(dense, valid.as_ref(), ones);
            let n = validity(&v, valid, |x| *x == ones);
            Arc::new(Int64Array::new(v.into(), n))
        }
        (ValuesView::Decimal { scale, data }, ColumnType::Decimal64) => {
            let (v, n) = fixed_column::<i64>(data, valid, i64::MIN, |x| *x == i64::MIN);
            Arc::new(
                Decimal64Array::new(v, n)
                    .with_precision_and_scale(18, *scale as i8)
                    .map_err(arrow_err)?,
            )
        }
        (ValuesView::Decimal { scale, data }, ColumnType::Decimal128) => {
            let null = ((u128::from(i64::MIN as u64) << 64) | u128::from(i64::MIN as u64)) as i128;
            let (v, n) = fixed_column::<i128>(data, valid, null, |x| *x == null);
            Arc::new(
                Decimal128Array::new(v, n)
                    .with_precision_and_scale(38, *scale as i8)
                    .map_err(arrow_err)?,
            )
        }
        (ValuesView::Decimal { scale, data }, _) => {
            let null_bytes = <[u8; 32]>::get(&[0, 0, 0, 0, 0, 0, 0, 0x80].repeat(4));
            let null = i256::from_le_bytes(null_bytes);
            let dense: Vec<i256> = data
                .chunks_exact(32)
                .map(|c| i256::from_le_bytes(<[u8; 32]>::get(c)))
                .collect();
            let v = spread(dense, valid.as_ref(), null);
            let n = validity(&v, valid, |x| *x == null);
            Arc::new(
                Decimal256Array::new(v.into(), n)
                    .with_precision_and_scale(76, *scale as i8)
                    .map_err(arrow_err)?,
            )
        }
        (ValuesView::Symbols(ids), _) => {
            let ids = match owned {
                Owned::Ids(v) => v,
                _ => ids.clone(),
            };
            match symbols.shared_values() {
                Some(values) => shared_symbol_array(ids, valid, values)?,
                None => symbol_array(&ids, valid, |id| symbols.symbol(id).map(str::to_string))?,
            }
        }
        (ValuesView::SymbolDict { dict, ids }, _) => symbol_array(ids, valid, |id| {
            dict.get(id as usize).map(|s| s.to_string())
        })?,
        (ValuesView::Varlen { offsets, data }, ty) => {
            if data.len() > i32::MAX as usize {
                return Err(bad(format!(
                    "{ty} column holds {} bytes (> 2 GiB)",
                    data.len()
                )));
            }
            // The offsets are at most the data length: as i32 they are the
            // same bytes.
            let mut dense_off = offsets.chunks_exact(4).map(|c| u32::get(c) as i32);
            let off: ScalarBuffer<i32> = match &valid {
                None => fixed_buffer(offsets),
                Some(n) => {
                    let mut off = Vec::with_capacity(rows + 1);
                    let mut cur = dense_off.next().unwrap_or(0);
                    off.push(cur);
                    for ok in n.iter() {
                        if ok {
                            cur = dense_off.next().unwrap_or(cur);
                        }
                        off.push(cur);
                    }
                    off.into()
                }
            };
            let offsets = OffsetBuffer::new(off);
            let nulls = valid;
            // Arrow checks the data is UTF-8 with every value starting on a
            // character boundary (egress views leave that check to it, see
            // `ValuesView::Varlen`).
            if ty == ColumnType::Varchar {
                Arc::new(string_array(offsets, copied(data), nulls).map_err(|e| {
                    Error::new(ErrorKind::Protocol, "VARCHAR data is not UTF-8").with_source(e)
                })?)
            } else {
                Arc::new(BinaryArray::try_new(offsets, copied(data), nulls).map_err(arrow_err)?)
            }
        }
        (ValuesView::Arrays(a), ty) => array_column(a, valid, rows, ty, t.array_dims)?,
        (v, ty) => {
            return Err(bad(format!("{ty} column with an unexpected layout {v:?}")));
        }
    };
    debug_assert_eq!(arr.data_type(), &arrow_type(t));
    Ok((t, arr))
}

fn arrow_err(e: arrow::error::ArrowError) -> Error {
    Error::arrow(ErrorKind::InvalidData, "", e)
}

/// Symbol ids below this (or below 4 × the rows) are remapped through a
/// flat table rather than a hash map.
const DENSE_SYMBOL_TABLE: usize = 1 << 16;

/// SYMBOL keys are the wire ids, the values the connection's shared array.
fn shared_symbol_array(
    ids: Vec<u32>,
    valid: Option<NullBuffer>,
    values: &ArrayRef,
) -> Result<ArrayRef> {
    let n = values.len();
    if n > i32::MAX as usize {
        return Err(bad(format!(
            "the symbol dictionary holds {n} entries, more than Int32 keys reach"
        )));
    }
    // In place: same size and alignment. An id of 2^31 or more becomes a
    // negative key, refused with the ones past the dictionary.
    let keys: Vec<i32> = ids.into_iter().map(|id| id as i32).collect();
    let keys = spread(keys, valid.as_ref(), 0);
    let keys = PrimitiveArray::<Int32Type>::new(keys.into(), valid);
    let dict = dictionary_i32(keys, values.clone()).map_err(|e| {
        bad(format!(
            "symbol id {} is not in the connection dictionary ({n} entries)",
            e.key as u32
        ))
    })?;
    Ok(Arc::new(dict))
}

fn symbol_array(
    ids: &[u32],
    valid: Option<NullBuffer>,
    lookup: impl Fn(u32) -> Option<String>,
) -> Result<ArrayRef> {
    let mut values: Vec<String> = Vec::new();
    let mut dense_keys = Vec::with_capacity(ids.len());
    let add = |id: u32, values: &mut Vec<String>| -> Result<i32> {
        let s = lookup(id).ok_or_else(|| {
            bad(format!(
                "symbol id {id} is not in the connection dictionary"
            ))
        })?;
        values.push(s);
        Ok(values.len() as i32 - 1)
    };
    let max_id = ids.iter().copied().max().unwrap_or(0) as usize;
    if max_id < DENSE_SYMBOL_TABLE.max(ids.len() * 4) {
        // Global id → local key through a flat table: no hashing per row.
        let mut local = vec![-1i32; max_id + 1];
        for &id in ids {
            let slot = &mut local[id as usize];
            if *slot < 0 {
                *slot = add(id, &mut values)?;
            }
            dense_keys.push(*slot);
        }
    } else {
        let mut local: HashMap<u32, i32> = HashMap::new();
        for &id in ids {
            let k = match local.get(&id) {
                Some(&k) => k,
                None => {
                    let k = add(id, &mut values)?;
                    local.insert(id, k);
                    k
                }
            };
            dense_keys.push(k);
        }
    }
    let keys = spread(dense_keys, valid.as_ref(), 0);
    let keys = PrimitiveArray::<Int32Type>::new(keys.into(), valid);
    // The keys index `values`, by construction.
    let dict = dictionary_i32(keys, Arc::new(StringArray::from(values))).map_err(|e| {
        bad(format!(
            "symbol key {} of row {} is outside the column's values",
            e.key, e.index
        ))
    })?;
    Ok(Arc::new(dict))
}

/// Builds nested lists of depth `dims` from per-row N-dimensional arrays.
fn array_column(
    rows_v: &[ArrayView<'_>],
    valid: Option<NullBuffer>,
    rows: usize,
    ty: ColumnType,
    depth: u8,
) -> Result<ArrayRef> {
    let depth = depth.max(1) as usize;
    // offsets[l] for lists at level l (0 = outermost).
    let mut offsets: Vec<Vec<i32>> = vec![vec![0]; depth];
    let mut elems: Vec<u8> = Vec::new();
    let mut it = rows_v.iter();
    for r in 0..rows {
        let present = valid.as_ref().is_none_or(|v| v.is_valid(r));
        if !present {
            let last = *offsets[0].last().unwrap_or(&0);
            offsets[0].push(last);
            continue;
        }
        let Some(a) = it.next() else {
            return Err(bad("array column has fewer values than rows".into()));
        };
        if a.dims.len() != depth {
            return Err(bad(format!(
                "array column mixes {}-dimensional and {depth}-dimensional values",
                a.dims.len()
            )));
        }
        // Level l has prod(dims[..l]) lists, each with dims[l] children.
        let mut lists = 1usize;
        for (level, &dim) in offsets.iter_mut().zip(&a.dims) {
            for _ in 0..lists {
                let last = *level.last().unwrap_or(&0);
                level.push(last + dim as i32);
            }
            lists *= dim as usize;
        }
        elems.extend_from_slice(a.data);
    }
    let mut child: ArrayRef = if ty == ColumnType::DoubleArray {
        let v: ScalarBuffer<f64> = fixed_buffer(&elems);
        let n = validity(&v, None, |x| x.is_nan());
        Arc::new(Float64Array::new(v, n))
    } else {
        let v: ScalarBuffer<i64> = fixed_buffer(&elems);
        let n = validity(&v, None, |x| *x == i64::MIN);
        Arc::new(Int64Array::new(v, n))
    };
    for l in (0..depth).rev() {
        let field = Arc::new(Field::new("item", child.data_type().clone(), true));
        let offs = OffsetBuffer::new(ScalarBuffer::from(std::mem::take(&mut offsets[l])));
        let nulls = if l == 0 { valid.clone() } else { None };
        child = Arc::new(ListArray::try_new(field, offs, child, nulls).map_err(arrow_err)?);
    }
    Ok(child)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::column::{ArrayValue, Layout, decode_column, egress_roundtrip};
    use crate::protocol::{ColumnData, Reader, Values};
    use arrow::array::DictionaryArray;

    fn roundtrip(col: &ColumnData, syms: &[String]) -> ArrayRef {
        egress_roundtrip(col, |v| decode_array(&v, &syms.to_vec()).unwrap().1)
    }

    #[test]
    fn a_sentinel_is_found_wherever_it_is() {
        // Through the decoder: a NaN at row 64 of 130 is the only NULL.
        let mut d: Vec<f64> = (0..130).map(f64::from).collect();
        d[64] = f64::NAN;
        let a = roundtrip(&ColumnData::new(Values::Double(d)), &[]);
        assert_eq!(a.null_count(), 1);
        assert!(a.is_null(64));
    }

    #[test]
    fn sentinels_and_bitmap_become_nulls() {
        let a = roundtrip(
            &ColumnData::with_nulls(Values::Long(vec![1, i64::MIN]), vec![false, true, false]),
            &[],
        );
        assert_eq!(a.null_count(), 2);
        assert!(a.is_valid(0) && a.is_null(1) && a.is_null(2));
        let a = roundtrip(&ColumnData::new(Values::Double(vec![f64::NAN, 1.0])), &[]);
        assert_eq!(a.null_count(), 1);
    }

    #[test]
    fn symbols_hold_only_used_values() {
        let syms: Vec<String> = (0..100).map(|i| format!("s{i}")).collect();
        let a = roundtrip(
            &ColumnData::with_nulls(
                Values::Symbol(vec![42, 7, 42]),
                vec![false, false, true, false],
            ),
            &syms,
        );
        let d = a
            .as_any()
            .downcast_ref::<DictionaryArray<Int32Type>>()
            .unwrap();
        assert_eq!(d.values().len(), 2);
        assert!(d.is_null(2));
        let s = d.downcast_dict::<StringArray>().unwrap();
        let v: Vec<Option<&str>> = s.into_iter().collect();
        assert_eq!(v, [Some("s42"), Some("s7"), None, Some("s42")]);
        // Unknown id: error, not panic.
        let b = ColumnData::new(Values::Symbol(vec![5])).to_bytes(&Layout::EGRESS);
        let v =
            decode_column(&mut Reader::new(&b), ColumnType::Symbol, 1, &Layout::EGRESS).unwrap();
        assert!(decode_array(&v, &Vec::<String>::new()).is_err());
    }

    /// Egress views leave VARCHAR's UTF-8 check to the bridge: invalid
    /// data or a value starting inside a character is a protocol error.
    #[test]
    fn egress_varchar_utf8_is_checked_once_by_the_bridge() {
        let e = "é".as_bytes();
        let bodies: [&[u8]; 2] = [
            &[0, 0, 0, 0, 0, 1, 0, 0, 0, 0xFF],
            &[0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, e[0], e[1]],
        ];
        for (rows, b) in [1, 2].into_iter().zip(bodies) {
            let v = decode_column(
                &mut Reader::new(b),
                ColumnType::Varchar,
                rows,
                &Layout::EGRESS,
            )
            .unwrap();
            let err = decode_array(&v, &Vec::<String>::new()).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");
            assert!(err.to_string().contains("not UTF-8"), "{err}");
        }
    }

    #[test]
    fn uuid_is_canonical_and_arrays_nest() {
        let u: u128 = 0x550e8400_e29b_41d4_a716_446655440000;
        let a = roundtrip(&ColumnData::new(Values::Uuid(vec![u])), &[]);
        let f = a.as_any().downcast_ref::<FixedSizeBinaryArray>().unwrap();
        assert_eq!(f.value(0), u.to_be_bytes());
        let a = roundtrip(
            &ColumnData::with_nulls(
                Values::DoubleArray(vec![ArrayValue {
                    dims: vec![2, 3],
                    data: (0..6).map(f64::from).collect(),
                }]),
                vec![true, false],
            ),
            &[],
        );
        let l = a.as_any().downcast_ref::<ListArray>().unwrap();
        assert!(l.is_null(0));
        let inner = l.value(1);
        let inner = inner.as_any().downcast_ref::<ListArray>().unwrap();
        assert_eq!(inner.len(), 2);
        assert_eq!(inner.value(1).len(), 3);
    }

    /// NULL bitmaps of every length land on their rows, with the values
    /// between them in order (oracle: Arrow's own builders from options).
    #[test]
    fn bitmap_nulls_land_on_their_rows() {
        use crate::protocol::column::TsEncoding;
        use arrow::array::TimestampMicrosecondArray;
        let gorilla = Layout {
            ts_encoding: TsEncoding::Gorilla,
            ..Layout::EGRESS
        };
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        for rows in [0usize, 1, 7, 8, 9, 64, 65, 130] {
            let patterns: Vec<Vec<bool>> = vec![
                vec![false; rows],
                vec![true; rows],
                (0..rows).map(|i| i % 2 == 1).collect(),
                (0..rows).map(|i| i + 1 != rows).collect(),
                (0..rows)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        seed.is_multiple_of(3)
                    })
                    .collect(),
            ];
            for mask in patterns {
                let opt = |f: &dyn Fn(usize) -> bool| -> Vec<Option<usize>> {
                    let mut k = 0;
                    mask.iter()
                        .map(|&null| {
                            (!null)
                                .then(|| {
                                    k += 1;
                                    k - 1
                                })
                                .filter(|&k| f(k))
                        })
                        .collect()
                };
                let all = opt(&|_| true);
                let n = all.iter().flatten().count();
                let check = |values: Values, layout: &Layout, want: ArrayRef| {
                    let col = ColumnData::with_nulls(values, mask.clone());
                    let b = col.to_bytes(layout);
                    let v = decode_column(&mut Reader::new(&b), col.column_type(), rows, layout)
                        .unwrap();
                    let syms: Vec<String> = (0..n).map(|i| format!("s{i}")).collect();
                    let got = decode_array(&v, &syms).unwrap().1;
                    assert_eq!(
                        got.as_ref(),
                        want.as_ref(),
                        "{:?} rows {rows}",
                        col.column_type()
                    );
                    // Slices of the decoded arrays (buffers shared, offset).
                    if rows > 2 {
                        let (a, b) = (got.slice(1, rows - 2), want.slice(1, rows - 2));
                        assert_eq!(a.as_ref(), b.as_ref(), "{:?} sliced", col.column_type());
                    }
                    let owned = decode_array_owned(v, &syms).unwrap().1;
                    assert_eq!(owned.as_ref(), want.as_ref());
                };
                let ts = |k: usize| 1_700_000_000_000_000 + 1000 * k as i64 + (k % 3) as i64;
                check(
                    Values::Boolean((0..n).map(|k| k % 3 == 1).collect()),
                    &Layout::EGRESS,
                    Arc::new(BooleanArray::from(
                        all.iter()
                            .map(|k| k.map(|k| k % 3 == 1))
                            .collect::<Vec<_>>(),
                    )),
                );
                check(
                    Values::Byte((0..n).map(|k| k as i8).collect()),
                    &Layout::EGRESS,
                    Arc::new(Int8Array::from(
                        all.iter().map(|k| k.map(|k| k as i8)).collect::<Vec<_>>(),
                    )),
                );
                check(
                    Values::Long((0..n).map(|k| k as i64 * 7).collect()),
                    &Layout::EGRESS,
                    Arc::new(Int64Array::from(
                        all.iter()
                            .map(|k| k.map(|k| k as i64 * 7))
                            .collect::<Vec<_>>(),
                    )),
                );
                // Every third value is the NaN sentinel: NULL too.
                check(
                    Values::Double(
                        (0..n)
                            .map(|k| if k % 3 == 2 { f64::NAN } else { k as f64 })
                            .collect(),
                    ),
                    &Layout::EGRESS,
                    Arc::new(Float64Array::from(
                        opt(&|k| k % 3 != 2)
                            .iter()
                            .map(|k| k.map(|k| k as f64))
                            .collect::<Vec<_>>(),
                    )),
                );
                check(
                    Values::Varchar((0..n).map(|k| "ü".repeat(k % 4)).collect()),
                    &Layout::EGRESS,
                    Arc::new(StringArray::from(
                        all.iter()
                            .map(|k| k.map(|k| "ü".repeat(k % 4)))
                            .collect::<Vec<_>>(),
                    )),
                );
                for layout in [&Layout::EGRESS, &gorilla] {
                    check(
                        Values::Timestamp((0..n).map(ts).collect()),
                        layout,
                        Arc::new(
                            TimestampMicrosecondArray::from(
                                all.iter().map(|k| k.map(ts)).collect::<Vec<_>>(),
                            )
                            .with_timezone("UTC"),
                        ),
                    );
                }
                let sym = StringArray::from(
                    all.iter()
                        .map(|k| k.map(|k| format!("s{}", (k * 5) % n.max(1))))
                        .collect::<Vec<_>>(),
                );
                let got = {
                    let col = ColumnData::with_nulls(
                        Values::Symbol((0..n).map(|k| ((k * 5) % n.max(1)) as u32).collect()),
                        mask.clone(),
                    );
                    let syms: Vec<String> = (0..n).map(|i| format!("s{i}")).collect();
                    egress_roundtrip(&col, |v| decode_array(&v, &syms).unwrap().1)
                };
                let cast = |a: &dyn Array| {
                    arrow::compute::cast(a, &arrow::datatypes::DataType::Utf8).unwrap()
                };
                assert_eq!(cast(got.as_ref()).as_ref(), cast(&sym).as_ref());
            }
        }
    }
}
