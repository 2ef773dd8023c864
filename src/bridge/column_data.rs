//! Arrow arrays → QWP columns ([`ColumnData`]), following the mapping of
//! [`qwp_type_of`](super::types::qwp_type_of).
//!
//! This is the general path (one copy into owned values); the embedded
//! server uses it for result batches.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, FixedSizeBinaryArray, GenericByteArray, PrimitiveArray,
};
use arrow::compute::cast;
use arrow::datatypes::{
    ArrowPrimitiveType, ByteArrayType, DataType, Decimal64Type, Decimal128Type, Decimal256Type,
    Field, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt16Type,
    UInt32Type,
};

use super::sym_dict::SymDict;
use super::types::QwpType;
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::column::ArrayValue;
use crate::protocol::{ColumnData, ColumnType, Values};

/// Assigns connection-global ids to symbol strings (the sender owns ids).
pub trait SymbolIds {
    /// The id of `s`, registering it if new. Fails only when the
    /// dictionary is full (2^31 entries or 2 GiB of bytes).
    fn id_of(&mut self, s: &str) -> Result<u32>;

    /// The id of every value of a string dictionary's `values` (NULL
    /// values get 0). The default maps each value; [`SymbolDict`]
    /// remembers recent mappings, so the frames cut from one batch (which
    /// share their dictionary) map it once.
    fn dict_ids(&mut self, values: &ArrayRef) -> Result<Arc<[u32]>> {
        map_values(self, values)
    }
}

/// Maps the values of a Utf8 / LargeUtf8 / Utf8View dictionary (the only
/// value types [`crate::bridge::types`] sends as SYMBOL; anything else maps
/// every value to 0).
fn map_values<S: SymbolIds + ?Sized>(ids: &mut S, values: &ArrayRef) -> Result<Arc<[u32]>> {
    fn map<'v, S: SymbolIds + ?Sized>(
        ids: &mut S,
        it: impl Iterator<Item = Option<&'v str>>,
    ) -> Result<Arc<[u32]>> {
        it.map(|v| v.map_or(Ok(0), |s| ids.id_of(s))).collect()
    }
    match values.data_type() {
        DataType::Utf8 => map(ids, values.as_string::<i32>().iter()),
        DataType::LargeUtf8 => map(ids, values.as_string::<i64>().iter()),
        DataType::Utf8View => map(ids, values.as_string_view().iter()),
        _ => Ok(vec![0; values.len()].into()),
    }
}

/// Dictionaries whose id mapping [`SymbolDict`] keeps.
const DICT_CACHE_ENTRIES: usize = 16;

/// A connection's symbol dictionary as the side that owns the ids keeps it:
/// ids in order of first use, and a watermark of what was already sent.
///
/// Strings are found again through a `SymDict` (a `hashbrown` table of
/// ids over one buffer of the entries' bytes, foldhash, compared inline),
/// the same lookup the row buffer's and the embedded server's ILP symbol
/// columns use; the entries are kept as `String`s too, for the delta
/// sections and the store-and-forward queue that take them as such.
#[derive(Default, Clone)]
pub struct SymbolDict {
    lookup: SymDict,
    strings: Vec<String>,
    sent: usize,
    /// Recently mapped dictionaries (the values array is held, so its
    /// identity cannot be reused while cached).
    mapped: std::collections::VecDeque<(ArrayRef, Arc<[u32]>)>,
}

impl std::fmt::Debug for SymbolDict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SymbolDict")
            .field("entries", &self.strings.len())
            .field("bytes", &self.bytes())
            .field("sent", &self.sent)
            .finish_non_exhaustive()
    }
}

impl SymbolIds for SymbolDict {
    fn dict_ids(&mut self, values: &ArrayRef) -> Result<Arc<[u32]>> {
        if let Some((_, ids)) = self.mapped.iter().find(|(v, _)| Arc::ptr_eq(v, values)) {
            return Ok(ids.clone());
        }
        let ids = map_values(self, values)?;
        if self.mapped.len() == DICT_CACHE_ENTRIES {
            self.mapped.pop_front();
        }
        self.mapped.push_back((values.clone(), ids.clone()));
        Ok(ids)
    }

    #[inline]
    fn id_of(&mut self, s: &str) -> Result<u32> {
        let (k, new) = self.lookup.key(s)?;
        if new {
            self.strings.push(s.to_string());
        }
        // `SymDict` keys are 0.. in order of first use, below 2^31.
        Ok(k as u32)
    }
}

impl SymbolDict {
    /// Entries registered so far.
    pub fn len(&self) -> usize {
        self.strings.len()
    }

    /// Whether no entry is registered.
    pub fn is_empty(&self) -> bool {
        self.strings.is_empty()
    }

    /// UTF-8 bytes of all entries.
    pub fn bytes(&self) -> usize {
        self.lookup.bytes()
    }

    /// The entries not yet sent, as a delta section (does not mark them sent).
    pub fn pending_delta(&self) -> crate::protocol::ingress::SymbolDelta {
        crate::protocol::ingress::SymbolDelta {
            start: self.sent as u64,
            entries: self.strings[self.sent..].to_vec(),
        }
    }

    /// Marks every entry as sent.
    pub fn mark_sent(&mut self) {
        self.sent = self.strings.len();
    }

    /// The unsent entries as a delta, marking them sent.
    pub fn take_delta(&mut self) -> crate::protocol::ingress::SymbolDelta {
        let d = self.pending_delta();
        self.mark_sent();
        d
    }

    /// Every registered entry, in id order.
    pub fn entries(&self) -> &[String] {
        &self.strings
    }

    /// Marks every entry as unsent but keeps the ids: after a reconnect the
    /// server's dictionary is empty and the whole dictionary is replayed
    /// (catch-up frames) so frames encoded with these ids stay valid.
    pub fn mark_unsent(&mut self) {
        self.sent = 0;
    }

    /// How many entries are marked sent (the next delta starts there).
    pub fn sent(&self) -> usize {
        self.sent
    }

    /// Moves the sent watermark back to `to` (at most [`Self::sent`]): the
    /// frames that carried the entries above it never went out, so the
    /// next delta carries them again.
    pub fn rewind_sent(&mut self, to: usize) {
        self.sent = self.sent.min(to);
    }

    /// A dictionary holding `entries` (ids in order), all marked sent: the
    /// dictionary a store-and-forward queue persisted, taken up again.
    ///
    /// Fails when the entries overflow the dictionary (2^31 entries or 2
    /// GiB of bytes), which no dictionary built by [`SymbolIds::id_of`]
    /// does.
    pub fn from_entries(entries: Vec<String>) -> Result<SymbolDict> {
        let mut d = SymbolDict::default();
        for s in entries {
            // A duplicate keeps its first id for lookups and its position
            // as an id (a persisted dictionary never holds one, but a
            // hand-made file could).
            d.lookup.push_entry(&s)?;
            d.strings.push(s);
        }
        d.sent = d.strings.len();
        Ok(d)
    }

    /// Forgets everything (a new connection or a dictionary reset),
    /// keeping the lookup's allocations for the entries to come.
    pub fn clear(&mut self) {
        self.lookup.clear();
        self.strings.clear();
        self.sent = 0;
        self.mapped.clear();
    }
}

fn arrow_err(field: &Field, e: arrow::error::ArrowError) -> Error {
    Error::arrow(
        ErrorKind::InvalidData,
        format!("column {:?}", field.name()),
        e,
    )
}

fn nulls_of(a: &dyn Array) -> Option<Vec<bool>> {
    a.logical_nulls()
        .filter(|n| n.null_count() > 0)
        .map(|n| n.iter().map(|v| !v).collect())
}

fn dense<P: ArrowPrimitiveType>(a: &PrimitiveArray<P>) -> Vec<P::Native> {
    match a.nulls() {
        Some(n) if n.null_count() > 0 => a
            .values()
            .iter()
            .zip(n.iter())
            .filter_map(|(v, ok)| ok.then_some(*v))
            .collect(),
        _ => a.values().to_vec(),
    }
}

fn casted(field: &Field, a: &ArrayRef, to: &DataType) -> Result<ArrayRef> {
    if a.data_type() == to {
        return Ok(a.clone());
    }
    cast(a, to).map_err(|e| arrow_err(field, e))
}

fn strings(field: &Field, a: &ArrayRef) -> Result<Vec<Option<String>>> {
    let a = casted(field, a, &DataType::Utf8)?;
    Ok(a.as_string::<i32>()
        .iter()
        .map(|s| s.map(str::to_string))
        .collect())
}

fn dense_bytes<T: ByteArrayType>(a: &GenericByteArray<T>) -> Vec<Vec<u8>> {
    a.iter()
        .flatten()
        .map(|b| AsRef::<[u8]>::as_ref(b).to_vec())
        .collect()
}

/// Encodes an Arrow array as the QWP column `t`. SYMBOL strings get ids from
/// `symbols`. Fails naming the column and row for values QWP cannot carry
/// (a UInt64 above `i64::MAX`, a ragged array, ...).
pub fn encode_array(
    field: &Field,
    a: &ArrayRef,
    t: QwpType,
    symbols: &mut dyn SymbolIds,
) -> Result<ColumnData> {
    let nulls = nulls_of(a.as_ref());
    let values = match t.ty {
        ColumnType::Boolean => {
            let b: &BooleanArray = a.as_boolean();
            Values::Boolean(b.iter().flatten().collect())
        }
        ColumnType::Byte => Values::Byte(dense(
            casted(field, a, &DataType::Int8)?.as_primitive::<Int8Type>(),
        )),
        ColumnType::Short => Values::Short(dense(
            casted(field, a, &DataType::Int16)?.as_primitive::<Int16Type>(),
        )),
        ColumnType::Int => Values::Int(dense(
            casted(field, a, &DataType::Int32)?.as_primitive::<Int32Type>(),
        )),
        ColumnType::Long | ColumnType::Geohash => {
            if let DataType::UInt64 = a.data_type() {
                let u = a.as_primitive::<arrow::datatypes::UInt64Type>();
                if let Some(row) = u
                    .iter()
                    .position(|v| v.is_some_and(|v| v > i64::MAX as u64))
                {
                    return Err(Error::new(
                        ErrorKind::InvalidData,
                        format!(
                            "column {:?}, row {row}: UInt64 value {} does not fit QuestDB's LONG",
                            field.name(),
                            u.value(row)
                        ),
                    ));
                }
            }
            let v = dense(casted(field, a, &DataType::Int64)?.as_primitive::<Int64Type>());
            if t.ty == ColumnType::Geohash {
                Values::Geohash {
                    precision_bits: t.geohash_bits,
                    values: v.into_iter().map(|x| x as u64).collect(),
                }
            } else {
                Values::Long(v)
            }
        }
        ColumnType::Float => Values::Float(dense(
            casted(field, a, &DataType::Float32)?.as_primitive::<Float32Type>(),
        )),
        ColumnType::Double => Values::Double(dense(
            casted(field, a, &DataType::Float64)?.as_primitive::<Float64Type>(),
        )),
        ColumnType::Char => Values::Char(dense(a.as_primitive::<UInt16Type>())),
        ColumnType::Ipv4 => Values::Ipv4(dense(a.as_primitive::<UInt32Type>())),
        ColumnType::Timestamp | ColumnType::TimestampNanos | ColumnType::Date => {
            let v: Vec<i64> = match a.data_type() {
                DataType::Timestamp(_, _) => {
                    let x = cast(a, &DataType::Int64).map_err(|e| arrow_err(field, e))?;
                    dense(x.as_primitive::<Int64Type>())
                }
                DataType::Date32 => {
                    let x = casted(field, a, &DataType::Date64)?;
                    let x = cast(&x, &DataType::Int64).map_err(|e| arrow_err(field, e))?;
                    dense(x.as_primitive::<Int64Type>())
                }
                _ => {
                    let x = cast(a, &DataType::Int64).map_err(|e| arrow_err(field, e))?;
                    dense(x.as_primitive::<Int64Type>())
                }
            };
            let mut v = v;
            if t.ts_multiplier != 1 {
                for (row, x) in v.iter_mut().enumerate() {
                    *x = x.checked_mul(t.ts_multiplier).ok_or_else(|| {
                        Error::new(
                            ErrorKind::InvalidData,
                            format!(
                                "column {:?}, value {row}: timestamp overflows microseconds",
                                field.name()
                            ),
                        )
                    })?;
                }
            }
            match t.ty {
                ColumnType::Date => Values::Date(v),
                ColumnType::TimestampNanos => Values::TimestampNanos(v),
                _ => Values::Timestamp(v),
            }
        }
        ColumnType::Symbol => {
            let s = strings(field, a)?;
            Values::Symbol(
                s.iter()
                    .flatten()
                    .map(|x| symbols.id_of(x))
                    .collect::<Result<_>>()?,
            )
        }
        ColumnType::Varchar => {
            let s = strings(field, a)?;
            Values::Varchar(s.into_iter().flatten().collect())
        }
        ColumnType::Binary => match a.data_type() {
            DataType::Binary => Values::Binary(dense_bytes(a.as_binary::<i32>())),
            DataType::LargeBinary => Values::Binary(dense_bytes(a.as_binary::<i64>())),
            DataType::FixedSizeBinary(_) => {
                let f: &FixedSizeBinaryArray = a.as_fixed_size_binary();
                Values::Binary(f.iter().flatten().map(<[u8]>::to_vec).collect())
            }
            DataType::BinaryView => Values::Binary(
                a.as_binary_view()
                    .iter()
                    .flatten()
                    .map(<[u8]>::to_vec)
                    .collect(),
            ),
            _ => {
                let x = casted(field, a, &DataType::Binary)?;
                Values::Binary(dense_bytes(x.as_binary::<i32>()))
            }
        },
        ColumnType::Uuid => {
            let f: &FixedSizeBinaryArray = a.as_fixed_size_binary();
            Values::Uuid(
                f.iter()
                    .flatten()
                    .map(|b| {
                        let mut x = [0u8; 16];
                        x.copy_from_slice(b);
                        u128::from_be_bytes(x)
                    })
                    .collect(),
            )
        }
        ColumnType::Long256 => {
            let f: &FixedSizeBinaryArray = a.as_fixed_size_binary();
            Values::Long256(
                f.iter()
                    .flatten()
                    .map(|b| {
                        let mut x = [0u8; 32];
                        x.copy_from_slice(b);
                        x
                    })
                    .collect(),
            )
        }
        ColumnType::Decimal64 => {
            let x = casted(field, a, &DataType::Decimal64(18, t.scale as i8))?;
            Values::Decimal64 {
                scale: t.scale,
                values: dense(x.as_primitive::<Decimal64Type>()),
            }
        }
        ColumnType::Decimal128 => Values::Decimal128 {
            scale: t.scale,
            values: dense(a.as_primitive::<Decimal128Type>()),
        },
        ColumnType::Decimal256 => Values::Decimal256 {
            scale: t.scale,
            values: dense(a.as_primitive::<Decimal256Type>())
                .into_iter()
                .map(|v| v.to_le_bytes())
                .collect(),
        },
        ColumnType::DoubleArray | ColumnType::LongArray => {
            let mut out_d = Vec::new();
            let mut out_l = Vec::new();
            for row in 0..a.len() {
                if a.is_null(row) {
                    continue;
                }
                let (dims, flat) = flatten_row(field, a, row)?;
                if t.ty == ColumnType::DoubleArray {
                    let f = casted(field, &flat, &DataType::Float64)?;
                    let f = f.as_primitive::<Float64Type>();
                    let data = (0..f.len())
                        .map(|i| if f.is_null(i) { f64::NAN } else { f.value(i) })
                        .collect();
                    out_d.push(ArrayValue { dims, data });
                } else {
                    let f = casted(field, &flat, &DataType::Int64)?;
                    let f = f.as_primitive::<Int64Type>();
                    let data = (0..f.len())
                        .map(|i| if f.is_null(i) { i64::MIN } else { f.value(i) })
                        .collect();
                    out_l.push(ArrayValue { dims, data });
                }
            }
            if t.ty == ColumnType::DoubleArray {
                Values::DoubleArray(out_d)
            } else {
                Values::LongArray(out_l)
            }
        }
    };
    Ok(match nulls {
        Some(n) => ColumnData::with_nulls(values, n),
        None => ColumnData::new(values),
    })
}

fn list_value(a: &ArrayRef, row: usize) -> Option<ArrayRef> {
    match a.data_type() {
        DataType::List(_) => Some(a.as_list::<i32>().value(row)),
        DataType::LargeList(_) => Some(a.as_list::<i64>().value(row)),
        DataType::FixedSizeList(_, _) => Some(a.as_fixed_size_list().value(row)),
        _ => None,
    }
}

fn is_list(a: &ArrayRef) -> bool {
    matches!(
        a.data_type(),
        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(_, _)
    )
}

/// Shape and row-major elements of row `row` of a (nested) list column;
/// ragged rows are an error naming the row.
fn flatten_row(field: &Field, a: &ArrayRef, row: usize) -> Result<(Vec<u32>, ArrayRef)> {
    let ragged = || {
        Error::new(
            ErrorKind::InvalidData,
            format!(
                "column {:?}, row {row}: ragged or null nested list; QuestDB arrays must be rectangular",
                field.name()
            ),
        )
    };
    let top = list_value(a, row).ok_or_else(ragged)?;
    let mut dims = vec![top.len() as u32];
    let mut level: Vec<ArrayRef> = vec![top];
    while level.first().is_some_and(is_list) {
        let mut next = Vec::new();
        let mut width: Option<usize> = None;
        for l in &level {
            for i in 0..l.len() {
                if l.is_null(i) {
                    return Err(ragged());
                }
                let v = list_value(l, i).ok_or_else(ragged)?;
                if *width.get_or_insert(v.len()) != v.len() {
                    return Err(ragged());
                }
                next.push(v);
            }
        }
        dims.push(width.unwrap_or(0) as u32);
        if next.is_empty() {
            // An empty level: take the element type from the field.
            let mut dt = level[0].data_type().clone();
            while let DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) =
                dt
            {
                dt = f.data_type().clone();
            }
            return Ok((dims, arrow::array::new_empty_array(&dt)));
        }
        level = next;
    }
    let refs: Vec<&dyn Array> = level.iter().map(|x| x.as_ref()).collect();
    let flat = if refs.is_empty() {
        arrow::array::new_empty_array(&DataType::Float64)
    } else {
        arrow::compute::concat(&refs).map_err(|e| arrow_err(field, e))?
    };
    Ok((dims, flat))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bridge::decode::decode_array;
    use crate::bridge::types::{arrow_field, qwp_type_of};
    use crate::protocol::Reader;
    use crate::protocol::column::{Layout, decode_column};

    type Dict = SymbolDict;

    /// Ids in order of first use, the sent watermark, a persisted list
    /// with a duplicate taken up again, and a reset that forgets all.
    #[test]
    fn the_connection_dictionary_keeps_ids_in_order() {
        let mut d = SymbolDict::default();
        let names: Vec<String> = (0..5000).map(|i| format!("sym-{i}")).collect();
        for (i, n) in names.iter().enumerate() {
            assert_eq!(d.id_of(n).unwrap(), i as u32);
        }
        for (i, n) in names.iter().enumerate().rev() {
            assert_eq!(d.id_of(n).unwrap(), i as u32);
        }
        assert_eq!(d.len(), 5000);
        assert_eq!(d.bytes(), names.iter().map(String::len).sum::<usize>());
        assert_eq!(d.entries(), &names[..]);
        assert_eq!(d.take_delta().entries.len(), 5000);
        assert_eq!(d.id_of("new").unwrap(), 5000);
        let delta = d.take_delta();
        assert_eq!(
            (delta.start, delta.entries),
            (5000, vec!["new".to_string()])
        );

        let values: ArrayRef = Arc::new(arrow::array::StringArray::from(vec![
            Some("new"),
            None,
            Some("sym-7"),
            Some("other"),
        ]));
        assert_eq!(&*d.dict_ids(&values).unwrap(), &[5000, 0, 7, 5001]);
        assert_eq!(d.len(), 5002);

        let mut p = SymbolDict::from_entries(vec!["a".into(), "b".into(), "a".into()]).unwrap();
        assert_eq!((p.len(), p.sent()), (3, 3));
        assert_eq!(p.id_of("a").unwrap(), 0);
        assert_eq!(p.id_of("c").unwrap(), 3);
        assert_eq!(p.entries(), ["a", "b", "a", "c"]);

        d.clear();
        assert!(d.is_empty());
        assert_eq!((d.bytes(), d.sent()), (0, 0));
        assert_eq!(d.id_of("sym-9").unwrap(), 0);
        assert_eq!(&*d.dict_ids(&values).unwrap(), &[1, 0, 2, 3]);
    }

    /// QWP → Arrow → QWP → Arrow gives the same Arrow array for every type.
    #[test]
    fn arrow_round_trip_every_type() {
        use crate::protocol::column::ArrayValue;
        let cols: Vec<ColumnData> = vec![
            ColumnData::with_nulls(Values::Boolean(vec![true, false]), vec![false, true, false]),
            ColumnData::new(Values::Byte(vec![1, -2, 3])),
            ColumnData::new(Values::Short(vec![1, -2, 3])),
            ColumnData::with_nulls(Values::Int(vec![1, 3]), vec![false, true, false]),
            ColumnData::with_nulls(Values::Long(vec![1, 3]), vec![false, true, false]),
            ColumnData::with_nulls(Values::Float(vec![1.5, 3.0]), vec![false, true, false]),
            ColumnData::with_nulls(Values::Double(vec![1.5, 3.0]), vec![false, true, false]),
            ColumnData::with_nulls(Values::Symbol(vec![0, 1]), vec![false, true, false]),
            ColumnData::with_nulls(Values::Timestamp(vec![1, 3]), vec![false, true, false]),
            ColumnData::with_nulls(Values::TimestampNanos(vec![1, 3]), vec![false, true, false]),
            ColumnData::with_nulls(Values::Date(vec![1, 3]), vec![false, true, false]),
            ColumnData::with_nulls(Values::Uuid(vec![1, 3 << 70]), vec![false, true, false]),
            ColumnData::with_nulls(
                Values::Long256(vec![[1; 32], [2; 32]]),
                vec![false, true, false],
            ),
            ColumnData::with_nulls(
                Values::Geohash {
                    precision_bits: 25,
                    values: vec![1, 3],
                },
                vec![false, true, false],
            ),
            ColumnData::with_nulls(
                Values::Varchar(vec!["a".into(), "ü".into()]),
                vec![false, true, false],
            ),
            ColumnData::with_nulls(
                Values::Binary(vec![vec![0, 1], vec![]]),
                vec![false, true, false],
            ),
            ColumnData::with_nulls(
                Values::DoubleArray(vec![
                    ArrayValue {
                        dims: vec![2],
                        data: vec![1.0, 2.0],
                    },
                    ArrayValue {
                        dims: vec![0],
                        data: vec![],
                    },
                ]),
                vec![false, true, false],
            ),
            ColumnData::with_nulls(
                Values::LongArray(vec![
                    ArrayValue {
                        dims: vec![1, 2],
                        data: vec![1, 2],
                    },
                    ArrayValue {
                        dims: vec![2, 1],
                        data: vec![3, 4],
                    },
                ]),
                vec![false, true, false],
            ),
            ColumnData::with_nulls(
                Values::Decimal64 {
                    scale: 2,
                    values: vec![123, -5],
                },
                vec![false, true, false],
            ),
            ColumnData::with_nulls(
                Values::Decimal128 {
                    scale: 10,
                    values: vec![123, -5],
                },
                vec![false, true, false],
            ),
            ColumnData::with_nulls(
                Values::Decimal256 {
                    scale: 40,
                    values: vec![[1; 32], [0; 32]],
                },
                vec![false, true, false],
            ),
            ColumnData::new(Values::Char(vec![65, 0x263A, 0])),
            ColumnData::with_nulls(Values::Ipv4(vec![0xC0A80001, 1]), vec![false, true, false]),
        ];
        let syms = vec!["x".to_string(), "y".to_string()];
        for col in cols {
            let ty = col.column_type();
            let b = col.to_bytes(&Layout::EGRESS);
            let v =
                decode_column(&mut Reader::new(&b), ty, col.row_count(), &Layout::EGRESS).unwrap();
            let (t, arr) = decode_array(&v, &syms).unwrap();
            let field = arrow_field("c", t, false);
            assert_eq!(qwp_type_of(&field).unwrap(), t, "{ty}");
            let mut dict = Dict::default();
            let enc = encode_array(&field, &arr, t, &mut dict).unwrap();
            let b2 = enc.to_bytes(&Layout::EGRESS);
            let v2 =
                decode_column(&mut Reader::new(&b2), ty, enc.row_count(), &Layout::EGRESS).unwrap();
            let (_, arr2) = decode_array(&v2, &dict.strings).unwrap();
            assert_eq!(arr.to_data(), arr2.to_data(), "{ty}");
        }
    }

    #[test]
    fn uint64_overflow_names_the_row() {
        let a: ArrayRef = std::sync::Arc::new(arrow::array::UInt64Array::from(vec![1, u64::MAX]));
        let f = Field::new("big", DataType::UInt64, true);
        let t = qwp_type_of(&f).unwrap();
        let e = encode_array(&f, &a, t, &mut Dict::default()).unwrap_err();
        assert!(e.to_string().contains("row 1"), "{e}");
        assert!(e.to_string().contains("\"big\""), "{e}");
    }
}
