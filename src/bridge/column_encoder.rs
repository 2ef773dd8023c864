//! Exact-size, one-pass Arrow → QWP column encoding.
//!
//! [`ColumnEncoder::new`] looks at an Arrow array once and works out the
//! exact body size; [`ColumnEncoder::write`] then writes the body through a
//! (masking) [`Out`]. Where the layouts agree the Arrow buffers are copied
//! straight into the output — a null-free fixed-width column, Utf8/Binary
//! offsets starting at 0 — and everything else is converted in one fused
//! pass (nulls → inverted bitmap plus dense values, sliced arrays, i64
//! offsets, dictionaries mapped to connection ids once per dictionary
//! value). Types without a fast path go through [`encode_array`].
//!
//! `write` only reads `&self`, so the columns of a frame can be written in
//! parallel into disjoint parts of one buffer.

use std::borrow::Cow;

use arrow::array::{
    Array, ArrayRef, AsArray, BinaryViewArray, GenericByteViewArray, StringViewArray,
};
use arrow::buffer::{BooleanBuffer, NullBuffer};
use arrow::datatypes::{
    ArrowNativeType, ArrowPrimitiveType, DataType, Date64Type, Decimal64Type, Decimal128Type,
    Field, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type,
    UInt16Type, UInt32Type, UInt64Type,
};
use arrow::datatypes::{ByteViewType, ToByteSlice};

use super::column_data::{SymbolIds, encode_array};
use super::types::QwpType;
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::column::{Layout, ts_plan};
use crate::protocol::{ColumnData, ColumnType, Out};

enum Kind<'a> {
    /// Fixed-width little-endian values, `width` bytes each, one per row;
    /// `scale` is written first for decimals.
    Fixed {
        bytes: &'a [u8],
        width: usize,
        scale: Option<u8>,
    },
    /// Bit-packed booleans.
    Bool(&'a BooleanBuffer),
    /// Dense non-null timestamps (already in the wire unit).
    Ts {
        values: Cow<'a, [i64]>,
        flag: bool,
        gorilla: Option<usize>,
    },
    /// Utf8 / Binary with i32 offsets (one per row plus one).
    Var32 {
        offsets: &'a [i32],
        offset_bytes: &'a [u8],
        data: &'a [u8],
    },
    /// LargeUtf8 / LargeBinary with i64 offsets.
    Var64 { offsets: &'a [i64], data: &'a [u8] },
    /// Utf8View (what polars strings are): values gathered from the views.
    StrView(&'a StringViewArray),
    /// BinaryView.
    BinView(&'a BinaryViewArray),
    /// The valid rows' connection-global symbol ids.
    Symbol(SymbolBody<'a>),
    /// Anything else, converted once.
    Owned(ColumnData),
}

/// How a SYMBOL column's ids are written.
enum SymbolBody<'a> {
    /// Varints built while planning (some id needs more than one byte, or
    /// the column is plain strings): the write is a copy.
    Bytes(Vec<u8>),
    /// Every id of the dictionary fits one byte: `table[key]` per valid
    /// row. The size is the count of valid rows, so the lookups happen
    /// while writing, in parallel with the other columns.
    Small { keys: &'a dyn Array, table: Vec<u8> },
}

/// One column planned for writing: exact size known.
pub struct ColumnEncoder<'a> {
    rows: usize,
    nulls: Option<NullBuffer>,
    kind: Kind<'a>,
    layout: Layout,
    len: usize,
}

/// A piece of a column body for [`ColumnEncoder::parts`].
pub enum Part<'e> {
    /// The whole body.
    Whole(&'e ColumnEncoder<'e>),
    /// One byte (the null flag "no NULLs" of a split body).
    Byte(u8),
    /// Bytes copied as they are.
    Copy(&'e [u8]),
    /// i32 string offsets written as u32 offsets from 0 (those of a sliced
    /// array start above 0).
    Rebased(&'e [i32]),
}

impl Part<'_> {
    /// Bytes this part writes.
    pub fn len(&self) -> usize {
        match self {
            Part::Whole(c) => c.encoded_len(),
            Part::Byte(_) => 1,
            Part::Copy(b) => b.len(),
            Part::Rebased(o) => o.len() * 4,
        }
    }

    /// Whether the part writes nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes the part: exactly [`Self::len`] bytes.
    pub fn write(&self, out: &mut Out<'_>) {
        match self {
            Part::Whole(c) => c.write(out),
            Part::Byte(b) => out.u8(*b),
            Part::Copy(b) => out.put(b),
            Part::Rebased(o) => {
                let first = o.first().copied().unwrap_or(0);
                out.u32s(o.len(), o.iter().map(|&x| x.wrapping_sub(first) as u32));
            }
        }
    }
}

fn le_bytes<T: arrow::datatypes::ArrowPrimitiveType>(a: &dyn Array) -> &[u8] {
    a.as_primitive::<T>().values().inner().as_slice()
}

impl<'a> ColumnEncoder<'a> {
    /// Plans `array` (of `field`) as QWP column `t` under `layout`; symbol
    /// strings get ids from `symbols`.
    pub fn new(
        field: &Field,
        array: &'a ArrayRef,
        t: QwpType,
        layout: &Layout,
        symbols: &mut dyn SymbolIds,
    ) -> Result<ColumnEncoder<'a>> {
        let rows = array.len();
        let nulls = array.logical_nulls().filter(|n| n.null_count() > 0);
        let little = cfg!(target_endian = "little");
        let dt = array.data_type();
        let a: &dyn Array = array.as_ref();
        let fixed = |bytes: &'a [u8], width: usize| Kind::Fixed {
            bytes,
            width,
            scale: None,
        };
        let kind = match (t.ty, dt) {
            _ if !little => Kind::Owned(encode_array(field, array, t, symbols)?),
            (ColumnType::Byte, DataType::Int8) => fixed(le_bytes::<Int8Type>(a), 1),
            (ColumnType::Short, DataType::Int16) => fixed(le_bytes::<Int16Type>(a), 2),
            (ColumnType::Int, DataType::Int32) => fixed(le_bytes::<Int32Type>(a), 4),
            (ColumnType::Long, DataType::Int64) => fixed(le_bytes::<Int64Type>(a), 8),
            (ColumnType::Float, DataType::Float32) => fixed(le_bytes::<Float32Type>(a), 4),
            (ColumnType::Double, DataType::Float64) => fixed(le_bytes::<Float64Type>(a), 8),
            (ColumnType::Char, DataType::UInt16) => fixed(le_bytes::<UInt16Type>(a), 2),
            (ColumnType::Ipv4, DataType::UInt32) => fixed(le_bytes::<UInt32Type>(a), 4),
            (ColumnType::Date, DataType::Date64) if !layout.has_encoding_flag(t.ty) => {
                fixed(le_bytes::<Date64Type>(a), 8)
            }
            (ColumnType::Decimal64, DataType::Decimal64(_, _)) => Kind::Fixed {
                bytes: le_bytes::<Decimal64Type>(a),
                width: 8,
                scale: Some(t.scale),
            },
            (ColumnType::Decimal128, DataType::Decimal128(_, _)) => Kind::Fixed {
                bytes: le_bytes::<Decimal128Type>(a),
                width: 16,
                scale: Some(t.scale),
            },
            (ColumnType::Boolean, DataType::Boolean) => Kind::Bool(a.as_boolean().values()),
            (ColumnType::Timestamp | ColumnType::TimestampNanos, DataType::Timestamp(_, _)) => {
                let raw: &'a [i64] = match dt {
                    DataType::Timestamp(arrow::datatypes::TimeUnit::Second, _) => array
                        .as_primitive::<arrow::datatypes::TimestampSecondType>()
                        .values(),
                    DataType::Timestamp(arrow::datatypes::TimeUnit::Millisecond, _) => array
                        .as_primitive::<arrow::datatypes::TimestampMillisecondType>()
                        .values(),
                    DataType::Timestamp(arrow::datatypes::TimeUnit::Microsecond, _) => array
                        .as_primitive::<arrow::datatypes::TimestampMicrosecondType>()
                        .values(),
                    _ => array
                        .as_primitive::<arrow::datatypes::TimestampNanosecondType>()
                        .values(),
                };
                let values: Cow<'a, [i64]> = match (&nulls, t.ts_multiplier) {
                    (None, 1) => Cow::Borrowed(raw),
                    _ => {
                        let mut v = Vec::with_capacity(rows);
                        for (row, &x) in raw.iter().enumerate() {
                            if nulls.as_ref().is_some_and(|n| n.is_null(row)) {
                                continue;
                            }
                            v.push(x.checked_mul(t.ts_multiplier).ok_or_else(|| {
                                Error::new(
                                    ErrorKind::InvalidData,
                                    format!(
                                        "column {:?}, row {row}: timestamp {x} overflows microseconds",
                                        field.name()
                                    ),
                                )
                            })?);
                        }
                        Cow::Owned(v)
                    }
                };
                let flag = layout.has_encoding_flag(t.ty);
                let gorilla = if flag { ts_plan(&values, layout) } else { None };
                Kind::Ts {
                    values,
                    flag,
                    gorilla,
                }
            }
            (ColumnType::Varchar, DataType::Utf8) => {
                let s = a.as_string::<i32>();
                Kind::Var32 {
                    offsets: s.value_offsets(),
                    offset_bytes: s.offsets().inner().inner().as_slice(),
                    data: s.values().as_slice(),
                }
            }
            (ColumnType::Binary, DataType::Binary) => {
                let s = a.as_binary::<i32>();
                Kind::Var32 {
                    offsets: s.value_offsets(),
                    offset_bytes: s.offsets().inner().inner().as_slice(),
                    data: s.values().as_slice(),
                }
            }
            (ColumnType::Varchar, DataType::LargeUtf8) => {
                let s = a.as_string::<i64>();
                Kind::Var64 {
                    offsets: s.value_offsets(),
                    data: s.values().as_slice(),
                }
            }
            (ColumnType::Binary, DataType::LargeBinary) => {
                let s = a.as_binary::<i64>();
                Kind::Var64 {
                    offsets: s.value_offsets(),
                    data: s.values().as_slice(),
                }
            }
            (ColumnType::Varchar, DataType::Utf8View) => Kind::StrView(a.as_string_view()),
            (ColumnType::Binary, DataType::BinaryView) => Kind::BinView(a.as_binary_view()),
            (ColumnType::Symbol, DataType::Dictionary(_, v))
                if matches!(
                    v.as_ref(),
                    DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
                ) =>
            {
                let d = a.as_any_dictionary();
                let values = d.values();
                // One id per distinct dictionary value, not per row, and
                // once per dictionary (not per frame) where the ids owner
                // remembers it.
                let ids = symbols.dict_ids(values)?;
                Kind::Symbol(symbol_body(d.keys(), &ids, nulls.as_ref()))
            }
            (ColumnType::Symbol, DataType::Utf8) => {
                let s = a.as_string::<i32>();
                let mut bytes = Vec::with_capacity(s.len() - s.null_count());
                for v in s.iter().flatten() {
                    push_varint(&mut bytes, symbols.id_of(v)?);
                }
                Kind::Symbol(SymbolBody::Bytes(bytes))
            }
            _ => Kind::Owned(encode_array(field, array, t, symbols)?),
        };
        let mut enc = ColumnEncoder {
            rows,
            nulls,
            kind,
            layout: *layout,
            len: 0,
        };
        enc.len = enc.compute_len();
        Ok(enc)
    }

    fn valid_rows(&self) -> usize {
        self.rows - self.nulls.as_ref().map_or(0, |n| n.null_count())
    }

    fn var_data_len(&self, off: impl Fn(usize) -> usize) -> usize {
        match &self.nulls {
            None => off(self.rows) - off(0),
            Some(n) => n.valid_slices().map(|(s, e)| off(e) - off(s)).sum(),
        }
    }

    fn compute_len(&self) -> usize {
        if let Kind::Owned(c) = &self.kind {
            return c.encoded_len(&self.layout);
        }
        let null_section = 1 + self.nulls.as_ref().map_or(0, |_| self.rows.div_ceil(8));
        let n = self.valid_rows();
        let values = match &self.kind {
            Kind::Fixed { width, scale, .. } => usize::from(scale.is_some()) + n * width,
            Kind::Bool(_) => n.div_ceil(8),
            Kind::Ts {
                values,
                flag,
                gorilla,
            } => usize::from(*flag) + gorilla.unwrap_or(values.len() * 8),
            Kind::Var32 { offsets, .. } => (n + 1) * 4 + self.var_data_len(|i| offsets[i] as usize),
            Kind::Var64 { offsets, .. } => (n + 1) * 4 + self.var_data_len(|i| offsets[i] as usize),
            Kind::StrView(a) => (n + 1) * 4 + view_data_len(a, self.nulls.as_ref()),
            Kind::BinView(a) => (n + 1) * 4 + view_data_len(a, self.nulls.as_ref()),
            Kind::Symbol(SymbolBody::Bytes(bytes)) => bytes.len(),
            Kind::Symbol(SymbolBody::Small { .. }) => n,
            Kind::Owned(_) => 0,
        };
        null_section + values
    }

    /// Exact size of the column body in bytes.
    pub fn encoded_len(&self) -> usize {
        self.len
    }

    /// The body cut into parts of about `max` bytes or less where a part
    /// is a plain copy (the values of a NULL-free fixed-width column, the
    /// offsets and bytes of a zero-copy string column), so one large column
    /// can be written by several threads; anything else is one part. The
    /// parts' lengths add up to [`Self::encoded_len`], and writing them in
    /// order into consecutive regions gives the bytes of [`Self::write`].
    pub fn parts(&self, max: usize) -> Vec<Part<'_>> {
        let max = max.max(64);
        // Only NULL-free bodies are split: the null flag, then copies.
        let copies = |chunks: &[&'a [u8]]| -> Option<Vec<Part<'_>>> {
            let mut v = vec![Part::Byte(0)];
            for c in chunks {
                v.extend(c.chunks(max).map(Part::Copy));
            }
            Some(v)
        };
        let split = match (&self.kind, &self.nulls) {
            (_, _) if self.len <= max => None,
            (
                Kind::Fixed {
                    bytes, scale: None, ..
                },
                None,
            ) => copies(&[bytes]),
            (
                Kind::Var32 {
                    offsets,
                    offset_bytes,
                    data,
                },
                None,
            ) if offsets.first() == Some(&0) => {
                copies(&[offset_bytes, &data[..offsets[self.rows] as usize]])
            }
            _ => None,
        };
        split.unwrap_or_else(|| vec![Part::Whole(self)])
    }

    /// The body as parts to write in order, the Arrow buffers it holds as
    /// they are being [`Part::Copy`]s (whole, not cut): the values of a
    /// NULL-free fixed-width column or of NULL-free raw timestamps, the
    /// bytes of a NULL-free Utf8/Binary column (its offsets too when they
    /// start at 0). So a writer can hand those buffers to the socket
    /// without copying them first. Anything else is one [`Part::Whole`].
    /// The parts' lengths add up to [`Self::encoded_len`] and their bytes
    /// are those of [`Self::write`].
    pub fn pieces(&self) -> Vec<Part<'_>> {
        match (&self.kind, &self.nulls) {
            (
                Kind::Fixed {
                    bytes, scale: None, ..
                },
                None,
            ) => vec![Part::Byte(0), Part::Copy(bytes)],
            (
                Kind::Ts {
                    values,
                    flag,
                    gorilla: None,
                },
                None,
            ) => {
                let mut v = vec![Part::Byte(0)];
                if *flag {
                    v.push(Part::Byte(0));
                }
                v.push(Part::Copy(values.as_ref().to_byte_slice()));
                v
            }
            (
                Kind::Var32 {
                    offsets,
                    offset_bytes,
                    data,
                },
                None,
            ) => {
                let (first, last) = (offsets[0] as usize, offsets[self.rows] as usize);
                let offsets = if first == 0 {
                    Part::Copy(offset_bytes)
                } else {
                    Part::Rebased(offsets)
                };
                vec![Part::Byte(0), offsets, Part::Copy(&data[first..last])]
            }
            _ => vec![Part::Whole(self)],
        }
    }

    /// Writes the body: exactly [`Self::encoded_len`] bytes.
    pub fn write(&self, out: &mut Out<'_>) {
        if let Kind::Owned(c) = &self.kind {
            c.encode(&self.layout, out);
            return;
        }
        match &self.nulls {
            None => out.u8(0),
            Some(n) => {
                out.u8(1);
                put_null_bitmap(n, out);
            }
        }
        match &self.kind {
            Kind::Fixed {
                bytes,
                width,
                scale,
            } => {
                if let Some(s) = scale {
                    out.u8(*s);
                }
                match &self.nulls {
                    None => out.put(bytes),
                    Some(n) => put_valid(bytes, *width, n, out),
                }
            }
            Kind::Bool(values) => put_bools(values, self.nulls.as_ref(), out),
            Kind::Ts {
                values,
                flag,
                gorilla,
            } => {
                if *flag {
                    match gorilla {
                        Some(len) => {
                            out.u8(1);
                            crate::protocol::gorilla::encode(values, *len, out);
                        }
                        None => {
                            out.u8(0);
                            put_i64s(values, out);
                        }
                    }
                } else {
                    put_i64s(values, out);
                }
            }
            Kind::Var32 {
                offsets,
                offset_bytes,
                data,
            } => {
                let zero_copy = self.nulls.is_none() && offsets.first() == Some(&0);
                if zero_copy {
                    // i32 offsets from 0 are the u32 LE offsets QWP wants:
                    // both buffers go straight into the (masked) output.
                    out.put(offset_bytes);
                    out.put(&data[..offsets[self.rows] as usize]);
                } else {
                    put_var(
                        |i| offsets[i] as usize,
                        data,
                        self.rows,
                        self.nulls.as_ref(),
                        out,
                    );
                }
            }
            Kind::Var64 { offsets, data } => put_var(
                |i| offsets[i] as usize,
                data,
                self.rows,
                self.nulls.as_ref(),
                out,
            ),
            Kind::StrView(a) => put_view(a, self.nulls.as_ref(), out),
            Kind::BinView(a) => put_view(a, self.nulls.as_ref(), out),
            Kind::Symbol(SymbolBody::Bytes(bytes)) => out.put(bytes),
            Kind::Symbol(SymbolBody::Small { keys, table }) => out
                .with_raw(self.valid_rows(), |buf| {
                    small_ids(*keys, table, self.nulls.as_ref(), buf)
                }),
            Kind::Owned(_) => {}
        }
    }
}

/// Bytes of the valid values of a view array (the length is the low 32 bits
/// of each view).
fn view_data_len<T: ByteViewType + ?Sized>(
    a: &GenericByteViewArray<T>,
    nulls: Option<&NullBuffer>,
) -> usize {
    let views = a.views();
    match nulls {
        None => views.iter().map(|&v| v as u32 as usize).sum(),
        Some(n) => n
            .valid_slices()
            .flat_map(|(s, e)| &views[s..e])
            .map(|&v| v as u32 as usize)
            .sum(),
    }
}

/// Dense u32 offsets, then the bytes, of the valid values of a view array.
fn put_view<T: ByteViewType + ?Sized>(
    a: &GenericByteViewArray<T>,
    nulls: Option<&NullBuffer>,
    out: &mut Out<'_>,
) {
    let runs: Vec<(usize, usize)> = match nulls {
        None => vec![(0, a.len())],
        Some(n) => n.valid_slices().collect(),
    };
    let views = a.views();
    let valid: usize = runs.iter().map(|(s, e)| e - s).sum();
    let lens = runs
        .iter()
        .flat_map(|&(s, e)| &views[s..e])
        .map(|&v| v as u32);
    out.u32s(
        valid + 1,
        std::iter::once(0).chain(lens.scan(0u32, |acc, l| {
            *acc = acc.wrapping_add(l);
            Some(*acc)
        })),
    );
    for &(s, e) in &runs {
        for i in s..e {
            out.put(a.value(i).as_ref());
        }
    }
}

/// Appends `id` as an unsigned LEB128 varint.
#[inline]
fn push_varint(out: &mut Vec<u8>, mut id: u32) {
    while id > 0x7F {
        out.push((id as u8 & 0x7F) | 0x80);
        id >>= 7;
    }
    out.push(id as u8);
}

/// Calls the generic `f::<K>(args)` with `K` the key type of the
/// dictionary keys array `keys` (one dispatch for every key loop).
macro_rules! by_key_type {
    ($keys:expr, $f:ident($($arg:expr),*)) => {
        match $keys.data_type() {
            DataType::Int8 => $f::<Int8Type>($($arg),*),
            DataType::Int16 => $f::<Int16Type>($($arg),*),
            DataType::Int32 => $f::<Int32Type>($($arg),*),
            DataType::Int64 => $f::<Int64Type>($($arg),*),
            DataType::UInt8 => $f::<UInt8Type>($($arg),*),
            DataType::UInt16 => $f::<UInt16Type>($($arg),*),
            DataType::UInt32 => $f::<UInt32Type>($($arg),*),
            _ => $f::<UInt64Type>($($arg),*),
        }
    };
}

/// Plans the ids of a dictionary column's valid rows: `ids` maps each
/// dictionary value to its connection id; keys are read in their own type
/// (no normalised copy). When every id fits one byte (the usual case) the
/// rows are looked up while writing ([`SymbolBody::Small`]); otherwise
/// their varints are built now.
fn symbol_body<'a>(keys: &'a dyn Array, ids: &[u32], nulls: Option<&NullBuffer>) -> SymbolBody<'a> {
    fn varints<K: ArrowPrimitiveType>(
        keys: &dyn Array,
        ids: &[u32],
        nulls: Option<&NullBuffer>,
    ) -> Vec<u8> {
        let keys = keys.as_primitive::<K>().values();
        let valid = nulls.map_or(keys.len(), |n| n.len() - n.null_count());
        let mut bytes = Vec::with_capacity(valid * 2);
        // Keys at NULL rows may hold anything: they are never looked up.
        let mut each = |i: usize| push_varint(&mut bytes, ids[keys[i].as_usize()]);
        match nulls {
            None => (0..keys.len()).for_each(&mut each),
            Some(n) => for_each_valid(n, each),
        }
        bytes
    }
    if ids.is_empty() {
        // No values: every row is NULL (or there are no rows).
        return SymbolBody::Bytes(Vec::new());
    }
    let small: Option<Vec<u8>> = ids
        .iter()
        .map(|&i| u8::try_from(i).ok().filter(|&b| b < 0x80))
        .collect();
    if let Some(table) = small {
        return SymbolBody::Small { keys, table };
    }
    SymbolBody::Bytes(by_key_type!(keys, varints(keys, ids, nulls)))
}

/// Writes `table[key]` for every valid row into `buf` (one byte each).
fn small_ids(keys: &dyn Array, table: &[u8], nulls: Option<&NullBuffer>, buf: &mut [u8]) {
    fn run<K: ArrowPrimitiveType>(
        keys: &dyn Array,
        table: &[u8],
        nulls: Option<&NullBuffer>,
        buf: &mut [u8],
    ) {
        let keys = keys.as_primitive::<K>().values();
        match nulls {
            None => {
                for (d, k) in buf.iter_mut().zip(keys.iter()) {
                    *d = table[k.as_usize()];
                }
            }
            Some(n) => {
                let mut at = 0;
                for_each_valid(n, |i| {
                    buf[at] = table[keys[i].as_usize()];
                    at += 1;
                });
            }
        }
    }
    by_key_type!(keys, run(keys, table, nulls, buf))
}

/// Calls `f` with the index of every valid row, in order, reading the
/// validity bitmap a 64-row word at a time.
fn for_each_valid(n: &NullBuffer, mut f: impl FnMut(usize)) {
    let chunks = n.inner().bit_chunks();
    let mut each_bit = |base: usize, mut bits: u64| {
        while bits != 0 {
            f(base + bits.trailing_zeros() as usize);
            bits &= bits - 1;
        }
    };
    for (c, bits) in chunks.iter().enumerate() {
        each_bit(c * 64, bits);
    }
    each_bit(chunks.chunk_len() * 64, chunks.remainder_bits());
}

/// The values of the valid rows of a fixed-width column, gathered 64 rows
/// at a time from the validity bitmap (a full word is one copy, otherwise
/// one fixed-size move per set bit), then masked in place.
fn put_valid(bytes: &[u8], width: usize, n: &NullBuffer, out: &mut Out<'_>) {
    let valid = n.len() - n.null_count();
    match width {
        1 => gather::<1>(bytes, n, valid, out),
        2 => gather::<2>(bytes, n, valid, out),
        4 => gather::<4>(bytes, n, valid, out),
        8 => gather::<8>(bytes, n, valid, out),
        16 => gather::<16>(bytes, n, valid, out),
        _ => {
            for (s, e) in n.valid_slices() {
                out.put(&bytes[s * width..e * width]);
            }
        }
    }
}

fn gather<const W: usize>(bytes: &[u8], n: &NullBuffer, valid: usize, out: &mut Out<'_>) {
    out.with_raw(valid * W, |buf| {
        let mut at = 0;
        let mut take = |base: usize, mut bits: u64, len: usize| {
            if len == 64 && bits == u64::MAX {
                buf[at..at + 64 * W].copy_from_slice(&bytes[base * W..(base + 64) * W]);
                at += 64 * W;
                return;
            }
            while bits != 0 {
                let i = base + bits.trailing_zeros() as usize;
                let v: [u8; W] = bytes[i * W..(i + 1) * W].try_into().unwrap_or([0; W]);
                buf[at..at + W].copy_from_slice(&v);
                at += W;
                bits &= bits - 1;
            }
        };
        let chunks = n.inner().bit_chunks();
        for (c, bits) in chunks.iter().enumerate() {
            take(c * 64, bits, 64);
        }
        let rem = chunks.remainder_len();
        if rem > 0 {
            take(chunks.chunk_len() * 64, chunks.remainder_bits(), rem);
        }
    });
}

/// Raw i64 values: their little-endian bytes go straight into the output.
fn put_i64s(v: &[i64], out: &mut Out<'_>) {
    use arrow::datatypes::ToByteSlice;
    out.put(v.to_byte_slice());
}

/// Writes the QWP null bitmap (1 = NULL) from Arrow validity (1 = valid):
/// 64 rows at a time.
fn put_null_bitmap(n: &NullBuffer, out: &mut Out<'_>) {
    let rows = n.len();
    out.with_raw(rows.div_ceil(8), |buf| {
        let chunks = n.inner().bit_chunks();
        let mut pos = 0;
        for c in chunks.iter() {
            buf[pos..pos + 8].copy_from_slice(&(!c).to_le_bytes());
            pos += 8;
        }
        let rem_bits = chunks.remainder_len();
        if rem_bits > 0 {
            let r = !chunks.remainder_bits() & ((1u64 << rem_bits) - 1);
            let nbytes = rem_bits.div_ceil(8);
            buf[pos..pos + nbytes].copy_from_slice(&r.to_le_bytes()[..nbytes]);
        }
    });
}

/// Writes the values of the valid rows of a boolean column, bit-packed.
fn put_bools(values: &BooleanBuffer, nulls: Option<&NullBuffer>, out: &mut Out<'_>) {
    let n = nulls.map_or(values.len(), |x| x.len() - x.null_count());
    out.with_raw(n.div_ceil(8), |buf| {
        buf.fill(0);
        let mut k = 0;
        for (row, v) in values.iter().enumerate() {
            if nulls.is_some_and(|x| x.is_null(row)) {
                continue;
            }
            if v {
                buf[k / 8] |= 1 << (k % 8);
            }
            k += 1;
        }
    });
}

/// Dense offsets and data of the valid rows.
fn put_var(
    off: impl Fn(usize) -> usize,
    data: &[u8],
    rows: usize,
    nulls: Option<&NullBuffer>,
    out: &mut Out<'_>,
) {
    let runs: Vec<(usize, usize)> = match nulls {
        None => vec![(0, rows)],
        Some(n) => n.valid_slices().collect(),
    };
    let valid: usize = runs.iter().map(|(s, e)| e - s).sum();
    let off = &off;
    // Each run's offsets rebased onto the data written before it.
    let mut before = 0usize;
    let rebased = runs.iter().flat_map(|&(s, e)| {
        let shift = before.wrapping_sub(off(s));
        before += off(e) - off(s);
        (s + 1..=e).map(move |i| off(i).wrapping_add(shift) as u32)
    });
    out.u32s(valid + 1, std::iter::once(0).chain(rebased));
    for &(s, e) in &runs {
        out.put(&data[off(s)..off(e)]);
    }
}

#[cfg(test)]
#[path = "column_encoder_tests.rs"]
mod tests;
