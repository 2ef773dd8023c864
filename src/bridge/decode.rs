//! QWP column bodies → Arrow arrays.
//!
//! NULLs come from the bitmap and from the egress sentinels (INT/LONG/DATE/
//! TIMESTAMP/DECIMAL minimum values, NaN floats, all-ones GEOHASH, IPv4 0,
//! all-minimum UUID/LONG256), as QuestDB itself reads them.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BinaryArray, BooleanArray, Decimal64Array, Decimal128Array, Decimal256Array,
    DictionaryArray, FixedSizeBinaryArray, Float32Array, Float64Array, Int8Array, Int16Array,
    Int32Array, Int64Array, ListArray, PrimitiveArray, StringArray, UInt16Array, UInt32Array,
};
use arrow::buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{
    ArrowPrimitiveType, Date64Type, Field, Int32Type, TimestampMicrosecondType,
    TimestampNanosecondType, i256,
};

use super::types::{QwpType, arrow_type};
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::column::{ArrayView, ColumnView, ValuesView, WireFixed, bit_is_set};
use crate::protocol::{ColumnType, column::geohash_width};

/// Resolves connection-global symbol ids to strings.
pub trait SymbolLookup {
    /// The string for `id`, if known.
    fn symbol(&self, id: u32) -> Option<&str>;
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

/// Row validity from the bitmap (true = valid).
fn bitmap_validity(view: &ColumnView<'_>) -> Option<Vec<bool>> {
    view.nulls
        .map(|bm| (0..view.row_count).map(|i| !bit_is_set(bm, i)).collect())
}

/// Spreads `dense` (non-null values) over all rows, `fill` at NULL rows.
fn spread<T: Copy>(dense: Vec<T>, valid: &Option<Vec<bool>>, fill: T) -> Vec<T> {
    match valid {
        None => dense,
        Some(v) => {
            let mut it = dense.into_iter();
            v.iter()
                .map(|&ok| if ok { it.next().unwrap_or(fill) } else { fill })
                .collect()
        }
    }
}

fn fixed<T: WireFixed>(b: &[u8]) -> Vec<T> {
    b.chunks_exact(T::WIDTH).map(T::get).collect()
}

/// Combines bitmap validity with a per-value sentinel test.
fn validity<T>(
    values: &[T],
    valid: Option<Vec<bool>>,
    is_null: impl Fn(&T) -> bool,
) -> Option<NullBuffer> {
    let mut v = valid.unwrap_or_else(|| vec![true; values.len()]);
    let mut any = false;
    for (ok, x) in v.iter_mut().zip(values) {
        if *ok && is_null(x) {
            *ok = false;
        }
        any |= !*ok;
    }
    any.then(|| NullBuffer::from(v))
}

fn prim<P: ArrowPrimitiveType>(
    values: Vec<P::Native>,
    nulls: Option<NullBuffer>,
) -> PrimitiveArray<P> {
    PrimitiveArray::<P>::new(ScalarBuffer::from(values), nulls)
}

/// Decodes a column into an Arrow array of the type [`arrow_type`] gives
/// for its [`QwpType`] (also returned). SYMBOL columns become
/// `Dictionary(Int32, Utf8)` holding only the values used.
pub fn decode_array(
    view: &ColumnView<'_>,
    symbols: &dyn SymbolLookup,
) -> Result<(QwpType, ArrayRef)> {
    let t = view_type(view);
    let valid = bitmap_validity(view);
    let rows = view.row_count;
    let arr: ArrayRef = match (&view.values, view.ty) {
        (ValuesView::Boolean(bits), _) => {
            let dense: Vec<bool> = (0..view.value_count())
                .map(|i| bit_is_set(bits, i))
                .collect();
            let vals = spread(dense, &valid, false);
            Arc::new(BooleanArray::new(
                BooleanBuffer::from(vals),
                valid.map(NullBuffer::from),
            ))
        }
        (ValuesView::Fixed(b), ColumnType::Byte) => {
            let v = spread(fixed::<i8>(b), &valid, 0);
            Arc::new(Int8Array::new(v.into(), valid.map(NullBuffer::from)))
        }
        (ValuesView::Fixed(b), ColumnType::Short) => {
            let v = spread(fixed::<i16>(b), &valid, 0);
            Arc::new(Int16Array::new(v.into(), valid.map(NullBuffer::from)))
        }
        (ValuesView::Fixed(b), ColumnType::Char) => {
            let v = spread(fixed::<u16>(b), &valid, 0);
            Arc::new(UInt16Array::new(v.into(), valid.map(NullBuffer::from)))
        }
        (ValuesView::Fixed(b), ColumnType::Int) => {
            let v = spread(fixed::<i32>(b), &valid, i32::MIN);
            let n = validity(&v, valid, |x| *x == i32::MIN);
            Arc::new(Int32Array::new(v.into(), n))
        }
        (ValuesView::Fixed(b), ColumnType::Ipv4) => {
            let v = spread(fixed::<u32>(b), &valid, 0);
            let n = validity(&v, valid, |x| *x == 0);
            Arc::new(UInt32Array::new(v.into(), n))
        }
        (ValuesView::Fixed(b), ColumnType::Long) => {
            let v = spread(fixed::<i64>(b), &valid, i64::MIN);
            let n = validity(&v, valid, |x| *x == i64::MIN);
            Arc::new(Int64Array::new(v.into(), n))
        }
        (ValuesView::Fixed(b), ColumnType::Float) => {
            let v = spread(fixed::<f32>(b), &valid, f32::NAN);
            let n = validity(&v, valid, |x| x.is_nan());
            Arc::new(Float32Array::new(v.into(), n))
        }
        (ValuesView::Fixed(b), ColumnType::Double) => {
            let v = spread(fixed::<f64>(b), &valid, f64::NAN);
            let n = validity(&v, valid, |x| x.is_nan());
            Arc::new(Float64Array::new(v.into(), n))
        }
        (ValuesView::Fixed(_) | ValuesView::Timestamps(_), ty)
            if matches!(
                ty,
                ColumnType::Date | ColumnType::Timestamp | ColumnType::TimestampNanos
            ) =>
        {
            let dense = view.timestamps().unwrap_or_default();
            let v = spread(dense, &valid, i64::MIN);
            let n = validity(&v, valid, |x| *x == i64::MIN);
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
            let v = spread(dense, &valid, null);
            let n = validity(&v, valid, |x| *x == null);
            // Canonical RFC 4122 bytes are the big-endian u128.
            let bytes: Vec<u8> = v.iter().flat_map(|u| u.to_be_bytes()).collect();
            Arc::new(FixedSizeBinaryArray::try_new(16, Buffer::from(bytes), n).map_err(arrow_err)?)
        }
        (ValuesView::Fixed(b), ColumnType::Long256) => {
            let dense: Vec<[u8; 32]> = fixed(b);
            let null = <[u8; 32]>::get(&[0, 0, 0, 0, 0, 0, 0, 0x80].repeat(4));
            let v = spread(dense, &valid, null);
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
            let v = spread(dense, &valid, ones);
            let n = validity(&v, valid, |x| *x == ones);
            Arc::new(Int64Array::new(v.into(), n))
        }
        (ValuesView::Decimal { scale, data }, ColumnType::Decimal64) => {
            let v = spread(fixed::<i64>(data), &valid, i64::MIN);
            let n = validity(&v, valid, |x| *x == i64::MIN);
            Arc::new(
                Decimal64Array::new(v.into(), n)
                    .with_precision_and_scale(18, *scale as i8)
                    .map_err(arrow_err)?,
            )
        }
        (ValuesView::Decimal { scale, data }, ColumnType::Decimal128) => {
            let null = ((u128::from(i64::MIN as u64) << 64) | u128::from(i64::MIN as u64)) as i128;
            let v = spread(fixed::<i128>(data), &valid, null);
            let n = validity(&v, valid, |x| *x == null);
            Arc::new(
                Decimal128Array::new(v.into(), n)
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
            let v = spread(dense, &valid, null);
            let n = validity(&v, valid, |x| *x == null);
            Arc::new(
                Decimal256Array::new(v.into(), n)
                    .with_precision_and_scale(76, *scale as i8)
                    .map_err(arrow_err)?,
            )
        }
        (ValuesView::Symbols(ids), _) => {
            symbol_array(ids, &valid, |id| symbols.symbol(id).map(str::to_string))?
        }
        (ValuesView::SymbolDict { dict, ids }, _) => symbol_array(ids, &valid, |id| {
            dict.get(id as usize).map(|s| s.to_string())
        })?,
        (ValuesView::Varlen { offsets, data }, ty) => {
            let dense_off: Vec<u32> = fixed(offsets);
            let mut off: Vec<i32> = Vec::with_capacity(rows + 1);
            off.push(0);
            match &valid {
                None => off.extend(dense_off[1..].iter().map(|&o| o as i32)),
                Some(v) => {
                    let mut k = 1;
                    let mut cur = 0i32;
                    for &ok in v {
                        if ok {
                            cur = dense_off[k] as i32;
                            k += 1;
                        }
                        off.push(cur);
                    }
                }
            }
            if data.len() > i32::MAX as usize {
                return Err(bad(format!(
                    "{ty} column holds {} bytes (> 2 GiB)",
                    data.len()
                )));
            }
            let offsets = OffsetBuffer::new(ScalarBuffer::from(off));
            let nulls = valid.map(NullBuffer::from);
            if ty == ColumnType::Varchar {
                Arc::new(
                    StringArray::try_new(offsets, Buffer::from(data.to_vec()), nulls)
                        .map_err(arrow_err)?,
                )
            } else {
                Arc::new(
                    BinaryArray::try_new(offsets, Buffer::from(data.to_vec()), nulls)
                        .map_err(arrow_err)?,
                )
            }
        }
        (ValuesView::Arrays(a), ty) => array_column(a, &valid, rows, ty, t.array_dims)?,
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

fn symbol_array(
    ids: &[u32],
    valid: &Option<Vec<bool>>,
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
    let keys = spread(dense_keys, valid, 0);
    let keys = PrimitiveArray::<Int32Type>::new(keys.into(), valid.clone().map(NullBuffer::from));
    let dict = DictionaryArray::<Int32Type>::try_new(keys, Arc::new(StringArray::from(values)))
        .map_err(arrow_err)?;
    Ok(Arc::new(dict))
}

/// Builds nested lists of depth `dims` from per-row N-dimensional arrays.
fn array_column(
    rows_v: &[ArrayView<'_>],
    valid: &Option<Vec<bool>>,
    rows: usize,
    ty: ColumnType,
    depth: u8,
) -> Result<ArrayRef> {
    let depth = depth.max(1) as usize;
    // offsets[l] for lists at level l (0 = outermost).
    let mut offsets: Vec<Vec<i32>> = vec![vec![0]; depth];
    let mut outer_valid = Vec::with_capacity(rows);
    let mut elems: Vec<u8> = Vec::new();
    let mut it = rows_v.iter();
    for r in 0..rows {
        let present = valid.as_ref().is_none_or(|v| v[r]);
        outer_valid.push(present);
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
        let v: Vec<f64> = fixed(&elems);
        let n = validity(&v, None, |x| x.is_nan());
        Arc::new(Float64Array::new(v.into(), n))
    } else {
        let v: Vec<i64> = fixed(&elems);
        let n = validity(&v, None, |x| *x == i64::MIN);
        Arc::new(Int64Array::new(v.into(), n))
    };
    for l in (0..depth).rev() {
        let field = Arc::new(Field::new("item", child.data_type().clone(), true));
        let offs = OffsetBuffer::new(ScalarBuffer::from(std::mem::take(&mut offsets[l])));
        let nulls = if l == 0 {
            outer_valid
                .iter()
                .any(|v| !v)
                .then(|| NullBuffer::from(outer_valid.clone()))
        } else {
            None
        };
        child = Arc::new(ListArray::try_new(field, offs, child, nulls).map_err(arrow_err)?);
    }
    Ok(child)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::column::{ArrayValue, Layout, decode_column};
    use crate::protocol::{ColumnData, Reader, Values};

    fn roundtrip(col: &ColumnData, syms: &[String]) -> ArrayRef {
        let b = col.to_bytes(&Layout::EGRESS);
        let v = decode_column(
            &mut Reader::new(&b),
            col.column_type(),
            col.row_count(),
            &Layout::EGRESS,
        )
        .unwrap();
        decode_array(&v, &syms.to_vec()).unwrap().1
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
}
