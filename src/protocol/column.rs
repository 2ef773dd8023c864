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

/// Size of a null-free fixed-width column body of `n` values of `width`
/// bytes.
#[inline]
pub fn fixed_column_len(n: usize, width: usize) -> usize {
    1 + n * width
}

/// Writes a null-free fixed-width column body from typed values.
pub fn put_fixed_column<T: WireFixed>(values: &[T], out: &mut Out<'_>) {
    out.u8(0);
    put_all(values, out);
}

/// Writes a null-free fixed-width column body whose values are already
/// little-endian bytes (for example an Arrow buffer): one masked copy.
pub fn put_fixed_column_bytes(le_bytes: &[u8], out: &mut Out<'_>) {
    out.u8(0);
    out.put(le_bytes);
}

/// Sizes a null-free TIMESTAMP-like column body of type `ty`: returns the
/// body length and, when Gorilla was chosen, the Gorilla stream length to
/// pass to [`put_timestamp_column`].
pub fn timestamp_column_len(ts: &[i64], ty: ColumnType, layout: &Layout) -> (usize, Option<usize>) {
    if layout.has_encoding_flag(ty) {
        let plan = ts_plan(ts, layout);
        (2 + plan.unwrap_or(ts.len() * 8), plan)
    } else {
        (1 + ts.len() * 8, None)
    }
}

/// Writes a null-free TIMESTAMP-like column body sized by
/// [`timestamp_column_len`].
pub fn put_timestamp_column(
    ts: &[i64],
    ty: ColumnType,
    layout: &Layout,
    gorilla_len: Option<usize>,
    out: &mut Out<'_>,
) {
    out.u8(0);
    if layout.has_encoding_flag(ty) {
        match gorilla_len {
            Some(len) => {
                out.u8(1);
                gorilla::encode(ts, len, out);
            }
            None => {
                out.u8(0);
                put_all(ts, out);
            }
        }
    } else {
        put_all(ts, out);
    }
}

/// Size of a bit-packed boolean/bitmap section for `n` bits.
#[inline]
pub fn bitmap_len(n: usize) -> usize {
    n.div_ceil(8)
}

/// Writes `bits` (LSB-first, 1 = true) as packed bytes.
pub fn put_bitmap_bools(bits: &[bool], out: &mut Out<'_>) {
    out.with_raw(bits.len().div_ceil(8), |buf| {
        buf.fill(0);
        for (i, &b) in bits.iter().enumerate() {
            if b {
                buf[i / 8] |= 1 << (i % 8);
            }
        }
    });
}

/// Size of a VARCHAR/BINARY value section: `(n + 1)` offsets plus the data.
#[inline]
pub fn varlen_len(n_values: usize, data_bytes: usize) -> usize {
    (n_values + 1) * 4 + data_bytes
}

/// Writes a VARCHAR/BINARY value section from individual values.
pub fn put_varlen<'v>(values: impl Iterator<Item = &'v [u8]> + Clone, out: &mut Out<'_>) {
    let mut off: u32 = 0;
    out.u32(0);
    for v in values.clone() {
        off = off.wrapping_add(v.len() as u32);
        out.u32(off);
    }
    for v in values {
        out.put(v);
    }
}

/// Size of the varint ids of a SYMBOL column.
pub fn symbol_ids_len(ids: &[u32]) -> usize {
    ids.iter().map(|&i| varint_len(u64::from(i))).sum()
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

// ---------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------

/// Timestamps of a TIMESTAMP-like column as found on the wire.
#[derive(Debug, Clone, PartialEq)]
pub enum TimestampsView<'a> {
    /// Raw i64 LE values, borrowed from the frame.
    Raw(&'a [u8]),
    /// Gorilla-decoded values.
    Decoded(Vec<i64>),
}

/// One array value borrowed from the frame.
#[derive(Debug, Clone, PartialEq)]
pub struct ArrayView<'a> {
    /// Dimension lengths.
    pub dims: Vec<u32>,
    /// `product(dims)` elements as 8-byte LE values.
    pub data: &'a [u8],
}

/// The values part of a decoded column.
#[derive(Debug, Clone, PartialEq)]
pub enum ValuesView<'a> {
    /// Bit-packed booleans, LSB-first.
    Boolean(&'a [u8]),
    /// Fixed-width LE values (BYTE..DOUBLE, CHAR, IPv4, UUID, LONG256, DATE on
    /// ingress).
    Fixed(&'a [u8]),
    /// TIMESTAMP / TIMESTAMP_NANOS (and DATE on egress).
    Timestamps(TimestampsView<'a>),
    /// DECIMAL64/128/256 unscaled values.
    Decimal {
        /// Digits after the point.
        scale: u8,
        /// `width` bytes per value, two's complement LE.
        data: &'a [u8],
    },
    /// GEOHASH values, `ceil(precision_bits / 8)` bytes each.
    Geohash {
        /// Precision in bits (1..=60).
        precision_bits: u8,
        /// The values.
        data: &'a [u8],
    },
    /// SYMBOL ids into the connection dictionary.
    Symbols(Vec<u32>),
    /// SYMBOL indexes into a per-column dictionary.
    SymbolDict {
        /// The column's dictionary.
        dict: Vec<&'a str>,
        /// Indexes into `dict` (checked in range).
        ids: Vec<u32>,
    },
    /// VARCHAR / BINARY: `n + 1` u32 LE offsets (checked: start 0,
    /// non-decreasing, end = data length) and the data.
    Varlen {
        /// Offsets bytes.
        offsets: &'a [u8],
        /// Concatenated values (valid UTF-8 per value for VARCHAR).
        data: &'a [u8],
    },
    /// DOUBLE_ARRAY / LONG_ARRAY values.
    Arrays(Vec<ArrayView<'a>>),
}

/// A decoded column body.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnView<'a> {
    /// The column's type.
    pub ty: ColumnType,
    /// Rows in the block.
    pub row_count: usize,
    /// NULL bitmap (1 = NULL), `ceil(row_count / 8)` bytes, if bitmap mode.
    pub nulls: Option<&'a [u8]>,
    /// NULL rows according to the bitmap (0 in sentinel mode).
    pub null_count: usize,
    /// The values: `row_count - null_count` of them.
    pub values: ValuesView<'a>,
}

/// Whether bit `i` of an LSB-first bitmap is set.
#[inline]
pub fn bit_is_set(bits: &[u8], i: usize) -> bool {
    bits[i / 8] & (1 << (i % 8)) != 0
}

fn count_bits(bits: &[u8], n: usize) -> usize {
    let full = n / 8;
    let mut c: usize = bits[..full].iter().map(|b| b.count_ones() as usize).sum();
    if !n.is_multiple_of(8) {
        c += (bits[full] & ((1u8 << (n % 8)) - 1)).count_ones() as usize;
    }
    c
}

/// Decodes one column body of type `ty` with `row_count` rows.
pub fn decode_column<'a>(
    r: &mut Reader<'a>,
    ty: ColumnType,
    row_count: usize,
    layout: &Layout,
) -> Result<ColumnView<'a>> {
    let null_flag = r.u8("null_flag")?;
    let (nulls, null_count) = if null_flag != 0 {
        let bm = r.bytes(bitmap_len(row_count), "null bitmap")?;
        (Some(bm), count_bits(bm, row_count))
    } else {
        (None, 0)
    };
    let n = row_count - null_count;
    let values = decode_values(r, ty, n, layout)?;
    Ok(ColumnView {
        ty,
        row_count,
        nulls,
        null_count,
        values,
    })
}

fn decode_values<'a>(
    r: &mut Reader<'a>,
    ty: ColumnType,
    n: usize,
    layout: &Layout,
) -> Result<ValuesView<'a>> {
    Ok(match ty {
        ColumnType::Boolean => ValuesView::Boolean(r.bytes(bitmap_len(n), "BOOLEAN values")?),
        ColumnType::Timestamp | ColumnType::TimestampNanos | ColumnType::Date
            if layout.has_encoding_flag(ty) =>
        {
            let at = r.offset();
            match r.u8("timestamp encoding flag")? {
                0 => ValuesView::Timestamps(TimestampsView::Raw(r.array(n, 8, ty.name())?)),
                1 => ValuesView::Timestamps(TimestampsView::Decoded(gorilla::decode(r, n)?)),
                f => {
                    return Err(Error::protocol(
                        at,
                        format!("{ty} encoding flag 0x{f:02X} is neither 0 (raw) nor 1 (gorilla)"),
                    ));
                }
            }
        }
        ColumnType::Timestamp | ColumnType::TimestampNanos => {
            ValuesView::Timestamps(TimestampsView::Raw(r.array(n, 8, ty.name())?))
        }
        ColumnType::Decimal64 | ColumnType::Decimal128 | ColumnType::Decimal256 => {
            let at = r.offset();
            let scale = r.u8("decimal scale")?;
            let max = max_decimal_scale(ty);
            if scale > max {
                return Err(Error::protocol(
                    at,
                    format!("{ty} scale {scale} above the maximum {max}"),
                ));
            }
            let w = ty.fixed_width().unwrap_or(8);
            ValuesView::Decimal {
                scale,
                data: r.array(n, w, ty.name())?,
            }
        }
        ColumnType::Geohash => {
            let at = r.offset();
            let p = r.varint("geohash precision")?;
            if p == 0 || p > u64::from(MAX_GEOHASH_BITS) {
                return Err(Error::protocol(
                    at,
                    format!("geohash precision {p} outside 1..=60"),
                ));
            }
            let p = p as u8;
            ValuesView::Geohash {
                precision_bits: p,
                data: r.array(n, geohash_width(p), "GEOHASH values")?,
            }
        }
        ColumnType::Symbol if layout.delta_dict => {
            let mut ids = Vec::with_capacity(n.min(r.remaining()));
            // Fast path: ids of at most 4 bytes (below 2^28), straight from
            // the bytes; anything else (and every error) goes through the
            // checked reader from where the fast path stopped.
            let rest = r.rest();
            let mut p = 0;
            'fast: while ids.len() < n {
                let mut v = 0u32;
                for k in 0..4 {
                    let Some(&b) = rest.get(p + k) else {
                        break 'fast;
                    };
                    v |= u32::from(b & 0x7F) << (7 * k);
                    if b & 0x80 == 0 {
                        ids.push(v);
                        p += k + 1;
                        continue 'fast;
                    }
                }
                break;
            }
            r.bytes(p, "symbol ids")?;
            while ids.len() < n {
                ids.push(r.varint_max(u64::from(u32::MAX), "symbol id")? as u32);
            }
            ValuesView::Symbols(ids)
        }
        ColumnType::Symbol => {
            let at = r.offset();
            let size = r.varint_max(MAX_SYMBOL_DICT_ENTRIES as u64, "symbol dictionary size")?;
            if size > r.remaining() {
                return Err(Error::protocol(
                    at,
                    format!("symbol dictionary of {size} entries exceeds the frame"),
                ));
            }
            let mut dict = Vec::with_capacity(size);
            for _ in 0..size {
                dict.push(r.str_varint(MAX_VARLEN_VALUE_BYTES, "symbol")?);
            }
            let mut ids = Vec::with_capacity(n.min(r.remaining()));
            for _ in 0..n {
                let at = r.offset();
                let id = r.varint("symbol index")?;
                if id >= size as u64 {
                    return Err(Error::protocol(
                        at,
                        format!("symbol index {id} outside a {size}-entry column dictionary"),
                    ));
                }
                ids.push(id as u32);
            }
            ValuesView::SymbolDict { dict, ids }
        }
        ColumnType::Varchar | ColumnType::Binary => decode_varlen(r, ty, n)?,
        ColumnType::DoubleArray | ColumnType::LongArray => {
            let mut v = Vec::with_capacity(n.min(r.remaining()));
            for _ in 0..n {
                let at = r.offset();
                let nd = r.u8("array n_dims")? as usize;
                if nd == 0 || nd > MAX_ARRAY_DIMS {
                    return Err(Error::protocol(
                        at,
                        format!("array with {nd} dimensions (1..=32 allowed)"),
                    ));
                }
                let mut dims = Vec::with_capacity(nd);
                let mut elems: usize = 1;
                for _ in 0..nd {
                    let at = r.offset();
                    let d = r.i32("array dimension")?;
                    if d < 0 {
                        return Err(Error::protocol(at, format!("negative array dimension {d}")));
                    }
                    elems = elems.saturating_mul(d as usize);
                    dims.push(d as u32);
                }
                if elems > MAX_ARRAY_ELEMENTS {
                    return Err(Error::protocol(
                        at,
                        format!("array of {elems} elements exceeds {MAX_ARRAY_ELEMENTS}"),
                    ));
                }
                v.push(ArrayView {
                    dims,
                    data: r.array(elems, 8, "array elements")?,
                });
            }
            ValuesView::Arrays(v)
        }
        _ => {
            let w = ty.fixed_width().unwrap_or(8);
            ValuesView::Fixed(r.array(n, w, ty.name())?)
        }
    })
}

fn decode_varlen<'a>(r: &mut Reader<'a>, ty: ColumnType, n: usize) -> Result<ValuesView<'a>> {
    let at = r.offset();
    let offsets = r.array(n + 1, 4, "offsets")?;
    let off = |i: usize| u32::get(&offsets[i * 4..i * 4 + 4]) as usize;
    if off(0) != 0 {
        return Err(Error::protocol(
            at,
            format!("{ty} offsets start at {} instead of 0", off(0)),
        ));
    }
    let mut prev = 0usize;
    for i in 1..=n {
        let o = off(i);
        if o < prev || o - prev > MAX_VARLEN_VALUE_BYTES {
            return Err(Error::protocol(
                at + i * 4,
                format!("{ty} offset {i} is {o}, after {prev}"),
            ));
        }
        prev = o;
    }
    let data_at = r.offset();
    let data = r.bytes(prev, "string data")?;
    if ty == ColumnType::Varchar {
        let s = std::str::from_utf8(data)
            .map_err(|e| Error::protocol(data_at + e.valid_up_to(), "VARCHAR data is not UTF-8"))?;
        for i in 1..n {
            if !s.is_char_boundary(off(i)) {
                return Err(Error::protocol(
                    at + i * 4,
                    format!("VARCHAR value {i} does not start on a UTF-8 character boundary"),
                ));
            }
        }
    }
    Ok(ValuesView::Varlen { offsets, data })
}

impl<'a> ColumnView<'a> {
    /// Whether row `i` is NULL per the bitmap (sentinels are not inspected).
    pub fn is_null(&self, i: usize) -> bool {
        self.nulls.is_some_and(|b| bit_is_set(b, i))
    }

    /// Number of values present (`row_count - null_count`).
    pub fn value_count(&self) -> usize {
        self.row_count - self.null_count
    }

    /// VARCHAR/BINARY value `i` (of the dense values).
    pub fn varlen_value(&self, i: usize) -> Option<&'a [u8]> {
        match &self.values {
            ValuesView::Varlen { offsets, data } => {
                let o = |k: usize| u32::get(&offsets[k * 4..k * 4 + 4]) as usize;
                (i < offsets.len() / 4 - 1).then(|| &data[o(i)..o(i + 1)])
            }
            _ => None,
        }
    }

    /// Timestamps (raw or Gorilla-decoded) as i64 values.
    pub fn timestamps(&self) -> Option<Vec<i64>> {
        match &self.values {
            ValuesView::Timestamps(TimestampsView::Raw(b)) => {
                Some(b.chunks_exact(8).map(i64::get).collect())
            }
            ValuesView::Timestamps(TimestampsView::Decoded(v)) => Some(v.clone()),
            ValuesView::Fixed(b) if self.ty == ColumnType::Date => {
                Some(b.chunks_exact(8).map(i64::get).collect())
            }
            _ => None,
        }
    }

    /// Converts to an owned [`ColumnData`]. SYMBOL ids stay ids; sentinel
    /// values stay values (only the bitmap marks NULLs here).
    pub fn to_owned_data(&self) -> ColumnData {
        fn fixed<T: WireFixed>(b: &[u8]) -> Vec<T> {
            b.chunks_exact(T::WIDTH).map(T::get).collect()
        }
        let values = match &self.values {
            ValuesView::Boolean(b) => {
                Values::Boolean((0..self.value_count()).map(|i| bit_is_set(b, i)).collect())
            }
            ValuesView::Timestamps(_) => {
                let t = self.timestamps().unwrap_or_default();
                match self.ty {
                    ColumnType::TimestampNanos => Values::TimestampNanos(t),
                    ColumnType::Date => Values::Date(t),
                    _ => Values::Timestamp(t),
                }
            }
            ValuesView::Decimal { scale, data } => match self.ty {
                ColumnType::Decimal64 => Values::Decimal64 {
                    scale: *scale,
                    values: fixed(data),
                },
                ColumnType::Decimal128 => Values::Decimal128 {
                    scale: *scale,
                    values: fixed(data),
                },
                _ => Values::Decimal256 {
                    scale: *scale,
                    values: fixed(data),
                },
            },
            ValuesView::Geohash {
                precision_bits,
                data,
            } => {
                let w = geohash_width(*precision_bits);
                Values::Geohash {
                    precision_bits: *precision_bits,
                    values: data
                        .chunks_exact(w)
                        .map(|c| {
                            let mut a = [0u8; 8];
                            a[..w].copy_from_slice(c);
                            u64::from_le_bytes(a)
                        })
                        .collect(),
                }
            }
            ValuesView::Symbols(ids) => Values::Symbol(ids.clone()),
            ValuesView::SymbolDict { dict, ids } => Values::SymbolDict {
                dict: dict.iter().map(|s| s.to_string()).collect(),
                ids: ids.clone(),
            },
            ValuesView::Varlen { .. } => {
                let vals = (0..self.value_count()).filter_map(|i| self.varlen_value(i));
                if self.ty == ColumnType::Varchar {
                    Values::Varchar(
                        vals.map(|b| String::from_utf8_lossy(b).into_owned())
                            .collect(),
                    )
                } else {
                    Values::Binary(vals.map(|b| b.to_vec()).collect())
                }
            }
            ValuesView::Arrays(a) => {
                if self.ty == ColumnType::DoubleArray {
                    Values::DoubleArray(
                        a.iter()
                            .map(|x| ArrayValue {
                                dims: x.dims.clone(),
                                data: fixed(x.data),
                            })
                            .collect(),
                    )
                } else {
                    Values::LongArray(
                        a.iter()
                            .map(|x| ArrayValue {
                                dims: x.dims.clone(),
                                data: fixed(x.data),
                            })
                            .collect(),
                    )
                }
            }
            ValuesView::Fixed(b) => match self.ty {
                ColumnType::Byte => Values::Byte(fixed(b)),
                ColumnType::Short => Values::Short(fixed(b)),
                ColumnType::Int => Values::Int(fixed(b)),
                ColumnType::Long => Values::Long(fixed(b)),
                ColumnType::Float => Values::Float(fixed(b)),
                ColumnType::Double => Values::Double(fixed(b)),
                ColumnType::Date => Values::Date(fixed(b)),
                ColumnType::Timestamp => Values::Timestamp(fixed(b)),
                ColumnType::TimestampNanos => Values::TimestampNanos(fixed(b)),
                ColumnType::Uuid => Values::Uuid(fixed(b)),
                ColumnType::Long256 => Values::Long256(fixed(b)),
                ColumnType::Char => Values::Char(fixed(b)),
                _ => Values::Ipv4(fixed(b)),
            },
        };
        // A bitmap with no bit set means the same as no bitmap: normalise.
        let nulls = self
            .nulls
            .filter(|_| self.null_count > 0)
            .map(|bm| (0..self.row_count).map(|i| bit_is_set(bm, i)).collect());
        ColumnData {
            nulls,
            values,
            null_mode: NullMode::Bitmap,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_t2_nullable_varchar() {
        let col = ColumnData::with_nulls(
            Values::Varchar(vec!["foo".into(), "bar".into(), "baz".into()]),
            vec![false, true, false, false],
        );
        let bytes: &[u8] = &[
            0x01, 0x02, 0, 0, 0, 0, 3, 0, 0, 0, 6, 0, 0, 0, 9, 0, 0, 0, b'f', b'o', b'o', b'b',
            b'a', b'r', b'b', b'a', b'z',
        ];
        assert_eq!(col.to_bytes(&Layout::INGRESS), bytes);
        assert_eq!(col.encoded_len(&Layout::INGRESS), bytes.len());
        let mut r = Reader::new(bytes);
        let v = decode_column(&mut r, ColumnType::Varchar, 4, &Layout::INGRESS).unwrap();
        assert_eq!(r.remaining(), 0);
        assert_eq!(v.null_count, 1);
        assert!(v.is_null(1));
        assert_eq!(v.varlen_value(2), Some(&b"baz"[..]));
        assert_eq!(v.to_owned_data(), col);
    }

    #[test]
    fn spec_t4_boolean_and_t5_bitmap() {
        let col = ColumnData::new(Values::Boolean(vec![
            true, false, true, true, false, false, false, true,
        ]));
        assert_eq!(col.to_bytes(&Layout::INGRESS), [0x00, 0x8D]);
        let mut nulls = vec![false; 10];
        nulls[0] = true;
        nulls[2] = true;
        nulls[9] = true;
        let col = ColumnData::with_nulls(Values::Long(vec![1; 7]), nulls);
        assert_eq!(&col.to_bytes(&Layout::INGRESS)[..3], [0x01, 0x05, 0x02]);
    }

    #[test]
    fn spec_t14_uuid() {
        let uuid: u128 = 0x550e8400_e29b_41d4_a716_446655440000;
        let col = ColumnData::new(Values::Uuid(vec![uuid]));
        let wire = [
            0x00, 0x00, 0x00, 0x44, 0x55, 0x66, 0x44, 0x16, 0xA7, 0xD4, 0x41, 0x9B, 0xE2, 0x00,
            0x84, 0x0E, 0x55,
        ];
        assert_eq!(col.to_bytes(&Layout::INGRESS), wire);
        let v = decode_column(
            &mut Reader::new(&wire),
            ColumnType::Uuid,
            1,
            &Layout::INGRESS,
        )
        .unwrap();
        assert_eq!(v.to_owned_data(), col);
    }

    #[test]
    fn date_asymmetry() {
        let col = ColumnData::new(Values::Date(vec![1, 2, 3, 4]));
        // Ingress: plain 8-byte values, no encoding flag even with FLAG_GORILLA.
        assert_eq!(col.encoded_len(&Layout::INGRESS), 1 + 32);
        // Egress: an encoding flag, and Gorilla when it pays.
        let b = col.to_bytes(&Layout::EGRESS);
        assert_eq!(b[1], 1, "gorilla flag");
        assert!(b.len() < 1 + 1 + 32);
        let v = decode_column(&mut Reader::new(&b), ColumnType::Date, 4, &Layout::EGRESS).unwrap();
        assert_eq!(v.to_owned_data(), col);
        // Decoding egress bytes with the ingress rule shifts everything: caught.
        assert!(
            decode_column(&mut Reader::new(&b), ColumnType::Date, 4, &Layout::INGRESS).is_err()
        );
    }

    #[test]
    fn sentinel_mode_writes_every_row() {
        let mut col = ColumnData::with_nulls(Values::Int(vec![7, 9]), vec![false, true, false]);
        col.null_mode = NullMode::Sentinel;
        let b = col.to_bytes(&Layout::INGRESS);
        assert_eq!(b, [0, 7, 0, 0, 0, 0, 0, 0, 0x80, 9, 0, 0, 0]);
        // Types without a sentinel fall back to the bitmap.
        let mut col = ColumnData::with_nulls(Values::Varchar(vec!["a".into()]), vec![true, false]);
        col.null_mode = NullMode::Sentinel;
        assert_eq!(col.to_bytes(&Layout::INGRESS)[..2], [1, 1]);
    }

    #[test]
    fn geohash_and_decimal_args() {
        let col = ColumnData::new(Values::Geohash {
            precision_bits: 12,
            values: vec![0xABC],
        });
        assert_eq!(col.to_bytes(&Layout::INGRESS), [0, 12, 0xBC, 0x0A]);
        let col = ColumnData::new(Values::Decimal64 {
            scale: 3,
            values: vec![12345],
        });
        assert_eq!(
            col.to_bytes(&Layout::INGRESS),
            [0, 3, 0x39, 0x30, 0, 0, 0, 0, 0, 0]
        );
    }

    #[test]
    fn symbol_ids_of_every_varint_length() {
        let ids = vec![
            0,
            127,
            128,
            (1 << 14) - 1,
            1 << 14,
            (1 << 21) - 1,
            1 << 21,
            (1 << 28) - 1,
            1 << 28,
            u32::MAX,
            5,
        ];
        let col = ColumnData::with_nulls(
            Values::Symbol(ids.clone()),
            (0..12).map(|i| i == 3).collect(),
        );
        let b = col.to_bytes(&Layout::EGRESS);
        let v = decode_column(
            &mut Reader::new(&b),
            ColumnType::Symbol,
            12,
            &Layout::EGRESS,
        )
        .unwrap();
        assert_eq!(v.values, ValuesView::Symbols(ids));
        // Every truncation is an error, wherever the fast path stops.
        for cut in 0..b.len() {
            let r = decode_column(
                &mut Reader::new(&b[..cut]),
                ColumnType::Symbol,
                12,
                &Layout::EGRESS,
            );
            assert!(r.is_err(), "cut at {cut}");
        }
        // An id above u32::MAX.
        let mut b = vec![0u8];
        b.extend([0xFF, 0xFF, 0xFF, 0xFF, 0x1F]);
        let e = decode_column(&mut Reader::new(&b), ColumnType::Symbol, 1, &Layout::EGRESS)
            .unwrap_err();
        assert!(e.to_string().contains("symbol id"), "{e}");
    }

    #[test]
    fn malformed_bodies_are_errors() {
        let l = Layout::INGRESS;
        let dec = |b: &[u8], ty, n| -> Result<()> {
            decode_column(&mut Reader::new(b), ty, n, &l).map(|_| ())
        };
        // offsets not starting at 0
        assert!(dec(&[0, 1, 0, 0, 0, 1, 0, 0, 0, b'a'], ColumnType::Varchar, 1).is_err());
        // decreasing offsets
        assert!(
            dec(
                &[0, 0, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, b'a', b'b'],
                ColumnType::Binary,
                2
            )
            .is_err()
        );
        // invalid UTF-8
        assert!(dec(&[0, 0, 0, 0, 0, 1, 0, 0, 0, 0xFF], ColumnType::Varchar, 1).is_err());
        // split multi-byte char across values
        let e = "é".as_bytes();
        assert!(
            dec(
                &[0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, e[0], e[1]],
                ColumnType::Varchar,
                2
            )
            .is_err()
        );
        // array with zero dims / negative dim
        assert!(dec(&[0, 0], ColumnType::DoubleArray, 1).is_err());
        assert!(dec(&[0, 1, 0xFF, 0xFF, 0xFF, 0xFF], ColumnType::LongArray, 1).is_err());
        // geohash precision 0 and 61
        assert!(dec(&[0, 0], ColumnType::Geohash, 0).is_err());
        assert!(dec(&[0, 61], ColumnType::Geohash, 0).is_err());
        // decimal scale too large
        assert!(dec(&[0, 19], ColumnType::Decimal64, 0).is_err());
        // bad timestamp encoding flag
        assert!(dec(&[0, 2], ColumnType::Timestamp, 0).is_err());
        // truncated fixed values
        assert!(dec(&[0, 1, 2, 3], ColumnType::Int, 1).is_err());
        // per-column symbol index out of range
        let l2 = Layout {
            delta_dict: false,
            ..l
        };
        assert!(
            decode_column(
                &mut Reader::new(&[0, 1, 1, b'a', 1]),
                ColumnType::Symbol,
                1,
                &l2
            )
            .is_err()
        );
    }

    #[test]
    fn empty_arrays_differ_from_null() {
        let col = ColumnData::with_nulls(
            Values::DoubleArray(vec![
                ArrayValue {
                    dims: vec![0],
                    data: vec![],
                },
                ArrayValue {
                    dims: vec![2, 0],
                    data: vec![],
                },
                ArrayValue {
                    dims: vec![1, 2],
                    data: vec![1.5, -2.0],
                },
            ]),
            vec![false, true, false, false],
        );
        let b = col.to_bytes(&Layout::INGRESS);
        let v = decode_column(
            &mut Reader::new(&b),
            ColumnType::DoubleArray,
            4,
            &Layout::INGRESS,
        )
        .unwrap();
        assert_eq!(v.to_owned_data(), col);
    }
}
