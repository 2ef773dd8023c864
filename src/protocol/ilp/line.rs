//! The parsed form of an ILP line: [`Line`] and its values, borrowing the
//! input, and QuestDB's type inference for first-seen fields.

use std::borrow::Cow;

use arrow::datatypes::i256;

use super::numbers::parse_decimal;
use super::{MAX_DECIMAL_BYTES, TimestampUnit};
use crate::protocol::ColumnType;

/// A timestamp value and its unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LineTimestamp {
    /// Units since the Unix epoch.
    pub value: i64,
    /// The unit of `value`.
    pub unit: TimestampUnit,
}

/// A binary n-dimensional DOUBLE array (v2+), borrowing its shape and
/// values from the input (so a [`FieldValue`] stays small to move).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DoubleArray<'a> {
    /// The shape (`dims` × u32 little-endian, outermost first), then the
    /// values (f64 little-endian, row-major, `8 × product(shape)` bytes).
    pub(super) raw: &'a [u8],
    /// Number of dimensions (1..=[`MAX_ARRAY_DIMS`]).
    pub(super) dims: u8,
}

impl<'a> DoubleArray<'a> {
    /// Number of dimensions.
    pub fn dims(&self) -> usize {
        usize::from(self.dims)
    }

    /// Length of each dimension, outermost first.
    pub fn shape(&self) -> impl Iterator<Item = u32> + 'a {
        self.raw[..4 * self.dims()]
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
    }

    fn data(&self) -> &'a [u8] {
        &self.raw[4 * self.dims()..]
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.data().len() / 8
    }

    /// Whether the array holds no values.
    pub fn is_empty(&self) -> bool {
        self.data().is_empty()
    }

    /// The values in row-major order.
    pub fn values(&self) -> impl Iterator<Item = f64> + 'a {
        self.data().chunks_exact(8).map(|c| {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            f64::from_le_bytes(b)
        })
    }
}

/// A decimal: `unscaled × 10^-scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decimal {
    /// The unscaled value.
    pub unscaled: i256,
    /// Digits after the decimal point (0..=76).
    pub scale: u8,
}

/// A decimal as the line wrote it (checked when parsed), borrowing the
/// input; [`LineDecimal::value`] reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineDecimal<'a> {
    /// Binary: the unscaled value, big-endian two's complement (1..=32
    /// bytes). Text: the digits before the `d`.
    pub(super) raw: &'a [u8],
    /// Binary: the scale.
    pub(super) scale: u8,
    /// Whether `raw` is the text form.
    pub(super) text: bool,
}

impl LineDecimal<'_> {
    /// The value (`None` only for input the parser would have refused).
    pub fn value(&self) -> Option<Decimal> {
        if self.text {
            return parse_decimal(self.raw);
        }
        let len = self.raw.len();
        if len == 0 || len > MAX_DECIMAL_BYTES {
            return None;
        }
        let negative = self.raw[0] & 0x80 != 0;
        let mut be = [if negative { 0xFF } else { 0 }; 32];
        be[32 - len..].copy_from_slice(self.raw);
        Some(Decimal {
            unscaled: i256::from_be_bytes(be),
            scale: self.scale,
        })
    }
}

/// A column (field) value.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue<'a> {
    /// `42i`.
    Integer(i64),
    /// `0x1fi`: the hex digits (without `0x` and `i`), 1..=64 of them.
    Long256(&'a str),
    /// `1.5`, `NaN`, `Infinity`, or a v2 binary double.
    Float(f64),
    /// `t`, `true`, `f`, `false` (any of QuestDB's spellings).
    Boolean(bool),
    /// `"..."`, unescaped.
    String(Cow<'a, str>),
    /// `123t` (µs) or `123n` (ns).
    Timestamp(LineTimestamp),
    /// A v2 binary DOUBLE array.
    DoubleArray(DoubleArray<'a>),
    /// A v3 decimal (`1.25d` or binary).
    Decimal(LineDecimal<'a>),
}

/// One parsed line. Names and strings borrow the input unless they held
/// escapes.
#[derive(Debug, Clone, PartialEq)]
pub struct Line<'a> {
    /// The table name.
    pub table: Cow<'a, str>,
    /// Symbol (tag) names and values, in line order.
    pub symbols: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    /// Column (field) names and values, in line order.
    pub fields: Vec<(Cow<'a, str>, FieldValue<'a>)>,
    /// The designated timestamp, if the line has one (`None`: server time).
    /// Without a suffix its unit is nanoseconds.
    pub timestamp: Option<LineTimestamp>,
}

impl Line<'_> {
    /// A line with no table, symbols or fields, to be filled by
    /// [`ParseLines::next_into`](super::ParseLines::next_into).
    pub fn empty() -> Self {
        Line {
            table: Cow::Borrowed(""),
            symbols: Vec::new(),
            fields: Vec::new(),
            timestamp: None,
        }
    }
}

/// Scale of a decimal column QuestDB creates from a first-seen decimal
/// value (precision 18, so a [`ColumnType::Decimal64`]).
pub const INFERRED_DECIMAL_SCALE: u8 = 3;

/// The column type QuestDB creates for a first-seen field with this value:
/// integer → LONG, `0x..i` → LONG256, float → DOUBLE, boolean → BOOLEAN,
/// string → VARCHAR, `t` → TIMESTAMP, `n` → TIMESTAMP_NANOS, array →
/// DOUBLE_ARRAY, decimal → DECIMAL(18, [`INFERRED_DECIMAL_SCALE`]), i.e.
/// [`ColumnType::Decimal64`]. (Symbols always make a
/// [`ColumnType::Symbol`] column.)
pub fn infer_type(value: &FieldValue<'_>) -> ColumnType {
    match value {
        FieldValue::Integer(_) => ColumnType::Long,
        FieldValue::Long256(_) => ColumnType::Long256,
        FieldValue::Float(_) => ColumnType::Double,
        FieldValue::Boolean(_) => ColumnType::Boolean,
        FieldValue::String(_) => ColumnType::Varchar,
        FieldValue::Timestamp(t) => match t.unit {
            TimestampUnit::Micros => ColumnType::Timestamp,
            TimestampUnit::Nanos => ColumnType::TimestampNanos,
        },
        FieldValue::DoubleArray(_) => ColumnType::DoubleArray,
        FieldValue::Decimal(_) => ColumnType::Decimal64,
    }
}
