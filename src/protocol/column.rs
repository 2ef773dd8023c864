//! Column bodies: the null section, per-type values, exact sizing and
//! borrowed decoding.
//!
//! Two representations:
//!
//! - [`ColumnData`]: owned values (non-null values densely, plus an optional
//!   per-row null mask). [`ColumnData::encoded_len`] gives the exact size, then
//!   [`ColumnData::encode`] writes exactly that many bytes. Used by the
//!   embedded server, by binds and by tests; the Arrow bridge writes the same
//!   layouts straight from Arrow buffers with the `put_*` helpers here.
//! - [`ColumnView`]: what [`decode_column`] returns — slices borrowed from
//!   the frame wherever the wire layout is already the value layout, owned
//!   vectors only where the wire is transformed (Gorilla, varint ids, arrays).

use super::gorilla;
use super::wire::{Out, Reader, varint_len};
use super::{
    ColumnType, Direction, MAX_ARRAY_DIMS, MAX_ARRAY_ELEMENTS, MAX_GEOHASH_BITS,
    MAX_SYMBOL_DICT_ENTRIES, MAX_VARLEN_VALUE_BYTES,
};
use crate::error::{Error, Result};

/// How a column with nulls marks them on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NullMode {
    /// `null_flag = 1`, a bitmap (1 = NULL), then only the non-null values.
    #[default]
    Bitmap,
    /// `null_flag = 0` and every row written, NULL rows as the type's
    /// sentinel. Types without a sentinel (strings, symbols, arrays) fall
    /// back to [`NullMode::Bitmap`].
    Sentinel,
}

/// Whether TIMESTAMP-like columns are Gorilla-encoded (only when the message
/// carries `FLAG_GORILLA`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TsEncoding {
    /// Always raw i64 (encoding flag 0).
    Raw,
    /// Gorilla whenever it can encode the values (every DoD fits an i32).
    Gorilla,
    /// Gorilla when there are at least 3 values and it is smaller than raw.
    #[default]
    Auto,
    /// Gorilla only for a constant cadence (every delta-of-delta 0): then
    /// it costs less than copying the raw values and is 64× smaller; any
    /// other series goes raw. For links faster than the encoder (loopback),
    /// where the bytes Gorilla saves on jittered timestamps cost more CPU
    /// than sending them.
    Cadence,
}

/// The message-level facts a column body's layout depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// The message has `FLAG_GORILLA`: TIMESTAMP-like columns carry an
    /// encoding flag byte.
    pub gorilla: bool,
    /// The message has `FLAG_DELTA_SYMBOL_DICT`: SYMBOL columns hold global
    /// ids (otherwise each carries its own dictionary).
    pub delta_dict: bool,
    /// Ingress or egress (DATE has an encoding flag only on egress).
    pub direction: Direction,
    /// Timestamp encoding policy used when writing.
    pub ts_encoding: TsEncoding,
}

impl Layout {
    /// WebSocket ingress: delta dictionary and Gorilla flags set.
    pub const INGRESS: Layout = Layout {
        gorilla: true,
        delta_dict: true,
        direction: Direction::Ingress,
        ts_encoding: TsEncoding::Auto,
    };
    /// Egress result batches as the server sends them (`0x0C`).
    pub const EGRESS: Layout = Layout {
        gorilla: true,
        delta_dict: true,
        direction: Direction::Egress,
        ts_encoding: TsEncoding::Auto,
    };
    /// Bind parameters: ingress encodings, no encoding flags.
    pub const BIND: Layout = Layout {
        gorilla: false,
        delta_dict: true,
        direction: Direction::Ingress,
        ts_encoding: TsEncoding::Raw,
    };

    /// Layout implied by a message's flag byte.
    pub fn from_flags(flags: u8, direction: Direction) -> Layout {
        Layout {
            gorilla: flags & super::FLAG_GORILLA != 0,
            delta_dict: flags & super::FLAG_DELTA_SYMBOL_DICT != 0,
            direction,
            ts_encoding: TsEncoding::Auto,
        }
    }

    /// Whether columns of `ty` carry the one-byte encoding flag in this layout.
    pub fn has_encoding_flag(&self, ty: ColumnType) -> bool {
        self.gorilla && ty.has_encoding_flag(self.direction)
    }
}

/// One N-dimensional array value, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct ArrayValue<T> {
    /// Dimension lengths (at least one; a 0 length makes an empty array).
    pub dims: Vec<u32>,
    /// `product(dims)` elements, row-major.
    pub data: Vec<T>,
}

/// Owned non-null values of a column, in row order.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub enum Values {
    Boolean(Vec<bool>),
    Byte(Vec<i8>),
    Short(Vec<i16>),
    Int(Vec<i32>),
    Long(Vec<i64>),
    Float(Vec<f32>),
    Double(Vec<f64>),
    /// Connection-global symbol ids (`FLAG_DELTA_SYMBOL_DICT` set).
    Symbol(Vec<u32>),
    /// A per-column dictionary and indexes into it (flag clear).
    SymbolDict {
        dict: Vec<String>,
        ids: Vec<u32>,
    },
    Timestamp(Vec<i64>),
    TimestampNanos(Vec<i64>),
    Date(Vec<i64>),
    /// `(high << 64) | low`.
    Uuid(Vec<u128>),
    /// 32 bytes, little-endian.
    Long256(Vec<[u8; 32]>),
    Geohash {
        precision_bits: u8,
        values: Vec<u64>,
    },
    Varchar(Vec<String>),
    Binary(Vec<Vec<u8>>),
    DoubleArray(Vec<ArrayValue<f64>>),
    LongArray(Vec<ArrayValue<i64>>),
    Decimal64 {
        scale: u8,
        values: Vec<i64>,
    },
    Decimal128 {
        scale: u8,
        values: Vec<i128>,
    },
    /// 32 bytes, two's complement little-endian.
    Decimal256 {
        scale: u8,
        values: Vec<[u8; 32]>,
    },
    Char(Vec<u16>),
    Ipv4(Vec<u32>),
}

/// Largest decimal scale per type (DECIMAL64, 128, 256).
pub fn max_decimal_scale(ty: ColumnType) -> u8 {
    match ty {
        ColumnType::Decimal64 => 18,
        ColumnType::Decimal128 => 38,
        _ => 76,
    }
}

macro_rules! each_fixed {
    ($self:expr, $v:ident => $body:expr, $other:ident => $else:expr) => {
        match $self {
            Values::Byte($v) => $body,
            Values::Short($v) => $body,
            Values::Int($v) => $body,
            Values::Long($v) => $body,
            Values::Float($v) => $body,
            Values::Double($v) => $body,
            Values::Timestamp($v) => $body,
            Values::TimestampNanos($v) => $body,
            Values::Date($v) => $body,
            Values::Uuid($v) => $body,
            Values::Long256($v) => $body,
            Values::Decimal64 { values: $v, .. } => $body,
            Values::Decimal128 { values: $v, .. } => $body,
            Values::Decimal256 { values: $v, .. } => $body,
            Values::Char($v) => $body,
            Values::Ipv4($v) => $body,
            $other => $else,
        }
    };
}

/// A value with a fixed little-endian wire form.
pub trait WireFixed: Copy {
    /// Bytes per value.
    const WIDTH: usize;
    /// Writes the value.
    fn put(&self, out: &mut Out<'_>);
    /// Writes the value's little-endian bytes into `dst` (`WIDTH` bytes).
    fn write_le(&self, dst: &mut [u8]);
    /// Reads a value from exactly `WIDTH` bytes.
    fn get(b: &[u8]) -> Self;
}

macro_rules! wire_prim {
    ($($t:ty),*) => {$(
        impl WireFixed for $t {
            const WIDTH: usize = std::mem::size_of::<$t>();
            #[inline]
            fn put(&self, out: &mut Out<'_>) { out.put(&self.to_le_bytes()); }
            #[inline]
            fn write_le(&self, dst: &mut [u8]) { dst.copy_from_slice(&self.to_le_bytes()); }
            #[inline]
            fn get(b: &[u8]) -> Self {
                let mut a = [0u8; std::mem::size_of::<$t>()];
                a.copy_from_slice(b);
                <$t>::from_le_bytes(a)
            }
        }
    )*};
}
wire_prim!(i8, i16, i32, i64, f32, f64, u16, u32, i128);

impl WireFixed for u128 {
    const WIDTH: usize = 16;
    #[inline]
    fn put(&self, out: &mut Out<'_>) {
        // Low 64 bits first, then high: that is the u128 in little-endian.
        out.put(&self.to_le_bytes());
    }
    #[inline]
    fn write_le(&self, dst: &mut [u8]) {
        dst.copy_from_slice(&self.to_le_bytes());
    }
    #[inline]
    fn get(b: &[u8]) -> Self {
        let mut a = [0u8; 16];
        a.copy_from_slice(b);
        u128::from_le_bytes(a)
    }
}

impl WireFixed for [u8; 32] {
    const WIDTH: usize = 32;
    #[inline]
    fn put(&self, out: &mut Out<'_>) {
        out.put(self);
    }
    #[inline]
    fn write_le(&self, dst: &mut [u8]) {
        dst.copy_from_slice(self);
    }
    #[inline]
    fn get(b: &[u8]) -> Self {
        let mut a = [0u8; 32];
        a.copy_from_slice(b);
        a
    }
}

/// Writes fixed-width values: serialised into a small stack buffer (in
/// cache), then copied and masked into `out` in one call per 4 KiB.
pub fn put_all<T: WireFixed>(v: &[T], out: &mut Out<'_>) {
    let mut tmp = [0u8; 4096];
    let per = 4096 / T::WIDTH;
    for chunk in v.chunks(per) {
        let n = chunk.len() * T::WIDTH;
        for (x, d) in chunk.iter().zip(tmp[..n].chunks_exact_mut(T::WIDTH)) {
            x.write_le(d);
        }
        out.put(&tmp[..n]);
    }
}

impl Values {
    /// The QWP type these values encode as.
    pub fn column_type(&self) -> ColumnType {
        match self {
            Values::Boolean(_) => ColumnType::Boolean,
            Values::Byte(_) => ColumnType::Byte,
            Values::Short(_) => ColumnType::Short,
            Values::Int(_) => ColumnType::Int,
            Values::Long(_) => ColumnType::Long,
            Values::Float(_) => ColumnType::Float,
            Values::Double(_) => ColumnType::Double,
            Values::Symbol(_) | Values::SymbolDict { .. } => ColumnType::Symbol,
            Values::Timestamp(_) => ColumnType::Timestamp,
            Values::TimestampNanos(_) => ColumnType::TimestampNanos,
            Values::Date(_) => ColumnType::Date,
            Values::Uuid(_) => ColumnType::Uuid,
            Values::Long256(_) => ColumnType::Long256,
            Values::Geohash { .. } => ColumnType::Geohash,
            Values::Varchar(_) => ColumnType::Varchar,
            Values::Binary(_) => ColumnType::Binary,
            Values::DoubleArray(_) => ColumnType::DoubleArray,
            Values::LongArray(_) => ColumnType::LongArray,
            Values::Decimal64 { .. } => ColumnType::Decimal64,
            Values::Decimal128 { .. } => ColumnType::Decimal128,
            Values::Decimal256 { .. } => ColumnType::Decimal256,
            Values::Char(_) => ColumnType::Char,
            Values::Ipv4(_) => ColumnType::Ipv4,
        }
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        each_fixed!(self, v => v.len(), other => match other {
            Values::Boolean(v) => v.len(),
            Values::Symbol(v) => v.len(),
            Values::SymbolDict { ids, .. } => ids.len(),
            Values::Geohash { values, .. } => values.len(),
            Values::Varchar(v) => v.len(),
            Values::Binary(v) => v.len(),
            Values::DoubleArray(v) => v.len(),
            Values::LongArray(v) => v.len(),
            _ => 0,
        })
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// An empty value list of the same type and column arguments.
    pub fn empty_like(&self) -> Values {
        let mut v = self.clone();
        v.truncate(0);
        v
    }

    fn truncate(&mut self, n: usize) {
        each_fixed!(self, v => v.truncate(n), other => match other {
            Values::Boolean(v) => v.truncate(n),
            Values::Symbol(v) => v.truncate(n),
            Values::SymbolDict { ids, .. } => ids.truncate(n),
            Values::Geohash { values, .. } => values.truncate(n),
            Values::Varchar(v) => v.truncate(n),
            Values::Binary(v) => v.truncate(n),
            Values::DoubleArray(v) => v.truncate(n),
            Values::LongArray(v) => v.truncate(n),
            _ => {}
        })
    }

    /// Whether this type can mark NULL with a sentinel value.
    pub fn has_sentinel(&self) -> bool {
        !matches!(
            self,
            Values::Symbol(_)
                | Values::SymbolDict { .. }
                | Values::Varchar(_)
                | Values::Binary(_)
                | Values::DoubleArray(_)
                | Values::LongArray(_)
        )
    }

    /// The values with each NULL row (per `nulls`) filled by the type's
    /// sentinel, for sentinel mode. Types without a sentinel are returned as
    /// they are.
    pub fn with_sentinels(&self, nulls: &[bool]) -> Values {
        fn fill<T: Copy>(v: &[T], nulls: &[bool], s: T) -> Vec<T> {
            let mut it = v.iter();
            nulls
                .iter()
                .map(|&n| if n { s } else { *it.next().unwrap_or(&s) })
                .collect()
        }
        const MIN: u64 = i64::MIN as u64;
        let l256 = {
            let mut a = [0u8; 32];
            for w in 0..4 {
                a[w * 8..w * 8 + 8].copy_from_slice(&i64::MIN.to_le_bytes());
            }
            a
        };
        let uuid_null = (u128::from(MIN) << 64) | u128::from(MIN);
        match self {
            Values::Boolean(v) => Values::Boolean(fill(v, nulls, false)),
            Values::Byte(v) => Values::Byte(fill(v, nulls, 0)),
            Values::Short(v) => Values::Short(fill(v, nulls, 0)),
            Values::Char(v) => Values::Char(fill(v, nulls, 0)),
            Values::Ipv4(v) => Values::Ipv4(fill(v, nulls, 0)),
            Values::Int(v) => Values::Int(fill(v, nulls, i32::MIN)),
            Values::Long(v) => Values::Long(fill(v, nulls, i64::MIN)),
            Values::Float(v) => Values::Float(fill(v, nulls, f32::NAN)),
            Values::Double(v) => Values::Double(fill(v, nulls, f64::NAN)),
            Values::Timestamp(v) => Values::Timestamp(fill(v, nulls, i64::MIN)),
            Values::TimestampNanos(v) => Values::TimestampNanos(fill(v, nulls, i64::MIN)),
            Values::Date(v) => Values::Date(fill(v, nulls, i64::MIN)),
            Values::Uuid(v) => Values::Uuid(fill(v, nulls, uuid_null)),
            Values::Long256(v) => Values::Long256(fill(v, nulls, l256)),
            Values::Geohash {
                precision_bits,
                values,
            } => {
                let width = geohash_width(*precision_bits);
                let ones = if width >= 8 {
                    u64::MAX
                } else {
                    (1u64 << (width * 8)) - 1
                };
                Values::Geohash {
                    precision_bits: *precision_bits,
                    values: fill(values, nulls, ones),
                }
            }
            Values::Decimal64 { scale, values } => Values::Decimal64 {
                scale: *scale,
                values: fill(values, nulls, i64::MIN),
            },
            Values::Decimal128 { scale, values } => Values::Decimal128 {
                scale: *scale,
                values: fill(values, nulls, uuid_null as i128),
            },
            Values::Decimal256 { scale, values } => Values::Decimal256 {
                scale: *scale,
                values: fill(values, nulls, l256),
            },
            other => other.clone(),
        }
    }
}

/// Bytes per GEOHASH value of the given precision.
#[inline]
pub fn geohash_width(precision_bits: u8) -> usize {
    usize::from(precision_bits).div_ceil(8)
}

/// An owned column body: values plus an optional per-row NULL mask.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnData {
    /// Per row, `true` = NULL. `None` = no nulls. When present, its length is
    /// the row count and the number of `false` entries equals
    /// `values.len()`.
    pub nulls: Option<Vec<bool>>,
    /// The non-null values, densely, in row order.
    pub values: Values,
    /// How NULLs are written.
    pub null_mode: NullMode,
}

impl ColumnData {
    /// A column without nulls.
    pub fn new(values: Values) -> Self {
        ColumnData {
            nulls: None,
            values,
            null_mode: NullMode::Bitmap,
        }
    }

    /// A column with a per-row NULL mask (`true` = NULL) and the dense
    /// non-null values.
    pub fn with_nulls(values: Values, nulls: Vec<bool>) -> Self {
        ColumnData {
            nulls: Some(nulls),
            values,
            null_mode: NullMode::Bitmap,
        }
    }

    /// The QWP type.
    pub fn column_type(&self) -> ColumnType {
        self.values.column_type()
    }

    /// Rows in the column.
    pub fn row_count(&self) -> usize {
        match &self.nulls {
            Some(n) => n.len(),
            None => self.values.len(),
        }
    }

    /// Number of NULL rows.
    pub fn null_count(&self) -> usize {
        self.nulls
            .as_ref()
            .map_or(0, |n| n.iter().filter(|&&b| b).count())
    }

    /// Checks internal consistency and value limits before encoding: mask
    /// length, geohash precision, decimal scale, array shapes, string sizes,
    /// symbol mode.
    pub fn validate(&self, layout: &Layout) -> Result<()> {
        let bad = |m: String| Err(Error::new(crate::ErrorKind::InvalidData, m));
        if let Some(n) = &self.nulls {
            let non_null = n.iter().filter(|&&b| !b).count();
            if non_null != self.values.len() {
                return bad(format!(
                    "null mask has {non_null} non-null rows but {} values",
                    self.values.len()
                ));
            }
        }
        match &self.values {
            Values::Geohash { precision_bits, .. }
                if *precision_bits == 0 || *precision_bits > MAX_GEOHASH_BITS =>
            {
                return bad(format!("geohash precision {precision_bits} outside 1..=60"));
            }
            Values::Decimal64 { scale, .. }
            | Values::Decimal128 { scale, .. }
            | Values::Decimal256 { scale, .. } => {
                let max = max_decimal_scale(self.column_type());
                if *scale > max {
                    return bad(format!("{} scale {scale} above {max}", self.column_type()));
                }
            }
            Values::Symbol(_) if !layout.delta_dict => {
                return bad("global symbol ids need FLAG_DELTA_SYMBOL_DICT".into());
            }
            Values::SymbolDict { dict, ids } => {
                if layout.delta_dict {
                    return bad("a per-column symbol dictionary needs the delta flag clear".into());
                }
                if let Some(id) = ids.iter().find(|&&i| i as usize >= dict.len()) {
                    return bad(format!(
                        "symbol index {id} outside a {}-entry dictionary",
                        dict.len()
                    ));
                }
            }
            Values::Varchar(v) => {
                if let Some(s) = v.iter().find(|s| s.len() > MAX_VARLEN_VALUE_BYTES) {
                    return bad(format!("VARCHAR value of {} bytes", s.len()));
                }
            }
            Values::Binary(v) => {
                if let Some(s) = v.iter().find(|s| s.len() > MAX_VARLEN_VALUE_BYTES) {
                    return bad(format!("BINARY value of {} bytes", s.len()));
                }
            }
            Values::DoubleArray(v) => validate_arrays(v)?,
            Values::LongArray(v) => validate_arrays(v)?,
            _ => {}
        }
        Ok(())
    }

    fn sentinel_mode(&self) -> bool {
        self.null_mode == NullMode::Sentinel
            && self.values.has_sentinel()
            && self.nulls.as_ref().is_some_and(|n| n.iter().any(|&b| b))
    }

    fn bitmap_mode(&self) -> bool {
        !self.sentinel_mode() && self.nulls.as_ref().is_some_and(|n| n.iter().any(|&b| b))
    }

    /// Exact size of the encoded body in bytes.
    pub fn encoded_len(&self, layout: &Layout) -> usize {
        let rows = self.row_count();
        if self.sentinel_mode() {
            let nulls = self.nulls.as_deref().unwrap_or(&[]);
            return 1 + values_len(&self.values.with_sentinels(nulls), layout);
        }
        let null_section = if self.bitmap_mode() {
            1 + rows.div_ceil(8)
        } else {
            1
        };
        null_section + values_len(&self.values, layout)
    }

    /// Writes the body; `out` must have exactly [`Self::encoded_len`] bytes
    /// left (or more, if other data follows).
    pub fn encode(&self, layout: &Layout, out: &mut Out<'_>) {
        if self.sentinel_mode() {
            let nulls = self.nulls.as_deref().unwrap_or(&[]);
            out.u8(0);
            write_values(&self.values.with_sentinels(nulls), layout, out);
            return;
        }
        if self.bitmap_mode() {
            let nulls = self.nulls.as_deref().unwrap_or(&[]);
            out.u8(1);
            put_bitmap_bools(nulls, out);
        } else {
            out.u8(0);
        }
        write_values(&self.values, layout, out);
    }

    /// The body as a new vector.
    pub fn to_bytes(&self, layout: &Layout) -> Vec<u8> {
        let mut b = vec![0; self.encoded_len(layout)];
        self.encode(layout, &mut Out::plain(&mut b));
        b
    }
}

fn validate_arrays<T>(v: &[ArrayValue<T>]) -> Result<()> {
    for a in v {
        let n = array_elements(&a.dims);
        if a.dims.is_empty() || a.dims.len() > MAX_ARRAY_DIMS {
            return Err(Error::new(
                crate::ErrorKind::InvalidData,
                format!("array with {} dimensions (1..=32 allowed)", a.dims.len()),
            ));
        }
        if a.dims.iter().any(|&d| d > i32::MAX as u32) || n != Some(a.data.len()) {
            return Err(Error::new(
                crate::ErrorKind::InvalidData,
                format!(
                    "array shape {:?} does not match {} elements",
                    a.dims,
                    a.data.len()
                ),
            ));
        }
    }
    Ok(())
}

fn array_elements(dims: &[u32]) -> Option<usize> {
    dims.iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d as usize))
}

fn array_len<T>(v: &[ArrayValue<T>]) -> usize {
    v.iter()
        .map(|a| 1 + 4 * a.dims.len() + 8 * a.data.len())
        .sum()
}

/// The Gorilla stream length to use for `ts` under `layout`'s policy, or
/// `None` to write the values raw.
pub fn ts_plan(ts: &[i64], layout: &Layout) -> Option<usize> {
    match layout.ts_encoding {
        TsEncoding::Raw => None,
        TsEncoding::Auto => gorilla::worthwhile(ts),
        TsEncoding::Cadence => gorilla::regular(ts),
        TsEncoding::Gorilla => {
            if ts.len() >= 2 {
                gorilla::encoded_len(ts)
            } else {
                None
            }
        }
    }
}

/// Size of the values part of a body (everything after the null section).
fn values_len(v: &Values, layout: &Layout) -> usize {
    let ty = v.column_type();
    let flag = usize::from(layout.has_encoding_flag(ty));
    match v {
        Values::Boolean(b) => bitmap_len(b.len()),
        Values::Timestamp(t) | Values::TimestampNanos(t) | Values::Date(t) if flag == 1 => {
            1 + ts_plan(t, layout).unwrap_or(t.len() * 8)
        }
        Values::Symbol(ids) => symbol_ids_len(ids),
        Values::SymbolDict { dict, ids } => {
            varint_len(dict.len() as u64)
                + dict
                    .iter()
                    .map(|s| varint_len(s.len() as u64) + s.len())
                    .sum::<usize>()
                + symbol_ids_len(ids)
        }
        Values::Geohash {
            precision_bits,
            values,
        } => varint_len(u64::from(*precision_bits)) + values.len() * geohash_width(*precision_bits),
        Values::Varchar(s) => varlen_len(s.len(), s.iter().map(|s| s.len()).sum()),
        Values::Binary(s) => varlen_len(s.len(), s.iter().map(|s| s.len()).sum()),
        Values::DoubleArray(a) => array_len(a),
        Values::LongArray(a) => array_len(a),
        Values::Decimal64 { values, .. } => 1 + values.len() * 8,
        Values::Decimal128 { values, .. } => 1 + values.len() * 16,
        Values::Decimal256 { values, .. } => 1 + values.len() * 32,
        other => other.len() * ty.fixed_width().unwrap_or(0),
    }
}

fn write_values(v: &Values, layout: &Layout, out: &mut Out<'_>) {
    let ty = v.column_type();
    match v {
        Values::Boolean(b) => put_bitmap_bools(b, out),
        Values::Timestamp(t) | Values::TimestampNanos(t) | Values::Date(t)
            if layout.has_encoding_flag(ty) =>
        {
            match ts_plan(t, layout) {
                Some(len) => {
                    out.u8(1);
                    gorilla::encode(t, len, out);
                }
                None => {
                    out.u8(0);
                    put_all(t, out);
                }
            }
        }
        Values::Symbol(ids) => ids.iter().for_each(|&i| out.varint(u64::from(i))),
        Values::SymbolDict { dict, ids } => {
            out.varint(dict.len() as u64);
            dict.iter().for_each(|s| out.str_varint(s.as_bytes()));
            ids.iter().for_each(|&i| out.varint(u64::from(i)));
        }
        Values::Geohash {
            precision_bits,
            values,
        } => {
            out.varint(u64::from(*precision_bits));
            let w = geohash_width(*precision_bits);
            for g in values {
                out.put(&g.to_le_bytes()[..w]);
            }
        }
        Values::Varchar(s) => put_varlen(s.iter().map(|s| s.as_bytes()), out),
        Values::Binary(s) => put_varlen(s.iter().map(|s| s.as_slice()), out),
        Values::DoubleArray(a) => put_arrays(a, out),
        Values::LongArray(a) => put_arrays(a, out),
        Values::Decimal64 { scale, values } => {
            out.u8(*scale);
            put_all(values, out);
        }
        Values::Decimal128 { scale, values } => {
            out.u8(*scale);
            put_all(values, out);
        }
        Values::Decimal256 { scale, values } => {
            out.u8(*scale);
            put_all(values, out);
        }
        other => each_fixed!(other, x => put_all(x, out), _o => {}),
    }
}

fn put_arrays<T: WireFixed>(v: &[ArrayValue<T>], out: &mut Out<'_>) {
    for a in v {
        out.u8(a.dims.len() as u8);
        for &d in &a.dims {
            out.u32(d);
        }
        put_all(&a.data, out);
    }
}

mod decode;
mod put;
#[cfg(test)]
mod tests;

/// Tests: `col` written in the egress layout, decoded again and handed
/// to `f`.
#[cfg(test)]
pub(crate) fn egress_roundtrip<R>(col: &ColumnData, f: impl FnOnce(ColumnView<'_>) -> R) -> R {
    let b = col.to_bytes(&Layout::EGRESS);
    let v = decode_column(
        &mut Reader::new(&b),
        col.column_type(),
        col.row_count(),
        &Layout::EGRESS,
    )
    .unwrap();
    f(v)
}

pub use decode::*;
pub use put::*;
