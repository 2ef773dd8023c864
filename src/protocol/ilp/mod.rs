//! Sans-IO InfluxDB Line Protocol (ILP) codec, QuestDB's dialect: Arrow
//! batches to ILP lines ([`IlpEncoder`]) and ILP bytes to borrowed lines
//! ([`parse_lines`]), with no sockets; [`http`] holds the sans-IO pieces of
//! ILP over HTTP (response heads and bodies, QuestDB's error JSON,
//! `/settings`). The HTTP and TCP transports and the embedded server build
//! on these.
//!
//! # The format
//!
//! One row per line, `\n`-terminated (a parser also accepts `\r\n` and a
//! last line without a terminator):
//!
//! ```text
//! table[,symbol=value...][ column=value[,column=value...]][ timestamp]\n
//! ```
//!
//! - Table names, symbol names, column names and symbol values are not
//!   quoted: a space, `,`, `=`, `\n`, `\r` or `\` in them is written with a
//!   `\` before it. String column values are quoted (`"..."`) and `"`, `\`,
//!   `\n`, `\r` in them get a `\` before them.
//! - Symbols come before the other columns. A NULL value is written by
//!   leaving the column out of the line. QuestDB needs at least one symbol
//!   or column on every line, so a row whose every non-designated value is
//!   NULL cannot be sent: the encoder refuses it, naming the row.
//! - Names must follow QuestDB's naming rules (checked before anything is
//!   written): a table name has none of `? , ' " \ / : ( ) + * % ~`, no
//!   control character, no UTF-8 BOM and no `.` at either end or twice in a
//!   row; a column name has none of those nor `.` or `-`. At most 127 bytes.
//! - The designated timestamp is the last value of the line, or absent (the
//!   server stamps the row on arrival).
//!
//! # Versions
//!
//! | [`IlpVersion`] | Adds | QuestDB |
//! |---|---|---|
//! | `V1` | text only; designated timestamp in nanoseconds without a suffix | all |
//! | `V2` | DOUBLE as binary (`=` 16 then 8 bytes f64 LE), n-dimensional DOUBLE arrays (`=` 14 10 dims shape... data), designated timestamp with a `t` (µs) or `n` (ns) suffix | 9.0.0+ |
//! | `V3` | DECIMAL (binary: `=` 23 scale length big-endian two's complement unscaled value; text: `123.45d`) | 9.2.0+ |
//!
//! # What each Arrow type becomes
//!
//! The QuestDB type of a column comes from the crate's one mapping table,
//! [`crate::bridge::qwp_type_of`], after [`crate::bridge::ColumnOverride`]s
//! are applied; it is written as:
//!
//! | QuestDB type (Arrow types) | ILP value |
//! |---|---|
//! | BOOLEAN (`Boolean`) | `t` / `f` |
//! | BYTE, SHORT, INT, LONG (`Int8..Int64`, `UInt8..UInt64`, `Duration`) | `42i` (a UInt64 above `i64::MAX` is refused, naming the row) |
//! | FLOAT, DOUBLE (`Float16/32/64`) | v1: shortest round-trip text (`1.5`, `NaN`, `Infinity`, `-Infinity`); v2+: binary f64 |
//! | SYMBOL (string dictionaries, strings marked SYMBOL) | symbol set, escaped |
//! | VARCHAR (`Utf8`, `LargeUtf8`, `Utf8View`, `Null`) | quoted string |
//! | TIMESTAMP (`Timestamp(s/ms/µs)`) | `123t` (microseconds) |
//! | TIMESTAMP_NANOS (`Timestamp(ns)`) | v1: `123t` (truncated to microseconds); v2+: `123456n` |
//! | DATE (`Date32`, `Date64`) | `123t` (microseconds; an auto-created column is a TIMESTAMP) |
//! | LONG256 (`FixedSizeBinary(32)` marked long256) | `0x1fi` (hex, most significant digit first) |
//! | DOUBLE_ARRAY (`List`/`LargeList`/`FixedSizeList` of `Float64`/`Float32`, nested for more dimensions) | v2+ only; must be rectangular; a NULL element is NaN |
//! | DECIMAL (`Decimal32/64/128/256`, scale 0..=76) | v3 only, binary |
//!
//! Refused when the encoder is built, naming the column: UUID, CHAR, IPV4,
//! GEOHASH, BINARY and LONG arrays (ILP has no syntax for them; cast them to
//! a string or DOUBLE array), arrays before v2 and decimals before v3.
//!
//! # Parsing
//!
//! [`parse_lines`] reads lines into [`Line`]s that borrow the input
//! (escaped names and strings are unescaped into owned strings only when
//! they hold escapes). It never panics; the first malformed line gives an
//! [`IlpError`] with its line number and byte offset and ends the
//! iteration. [`infer_type`] is QuestDB's choice of column type for a
//! first-seen field.

mod decode;
mod encode;
mod escape;
pub mod http;
mod line;
mod numbers;
mod scan;
mod values;

#[cfg(test)]
mod decode_tests;
#[cfg(test)]
mod reuse_tests;
#[cfg(test)]
mod tests;

#[cfg(feature = "server")]
pub(crate) use decode::same_short;
pub use decode::{IlpError, ParseLines, parse_lines};
pub use encode::IlpEncoder;
pub use escape::{
    validate_column_name, validate_table_name, write_escaped_name, write_quoted_string,
};
pub use line::{
    Decimal, DoubleArray, FieldValue, INFERRED_DECIMAL_SCALE, Line, LineDecimal, LineTimestamp,
    infer_type,
};

use std::fmt;

/// The byte that starts a binary value (after the `=` of `name=`), so a
/// binary field reads `name==<type>...`.
pub const BINARY_MARKER: u8 = b'=';
/// Binary value type: an n-dimensional array (v2+).
pub const BINARY_ARRAY: u8 = 14;
/// Binary value type: an f64, 8 bytes little-endian (v2+).
pub const BINARY_DOUBLE: u8 = 16;
/// Binary value type: a decimal (v3+).
pub const BINARY_DECIMAL: u8 = 23;
/// Array element type: f64 (the only one QuestDB takes over ILP).
pub const ARRAY_ELEM_DOUBLE: u8 = 10;
/// Most dimensions an array may have.
pub const MAX_ARRAY_DIMS: usize = 32;
/// Longest length of one array dimension (2^28 - 1).
pub const MAX_ARRAY_DIM_LEN: usize = 0x0FFF_FFFF;
/// Largest decimal scale.
pub const MAX_DECIMAL_SCALE: u8 = 76;
/// Most bytes of a binary decimal's unscaled value.
pub const MAX_DECIMAL_BYTES: usize = 32;

/// An ILP protocol version as QuestDB numbers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IlpVersion {
    /// Text only (InfluxDB compatible).
    V1 = 1,
    /// Binary doubles and DOUBLE arrays, suffixed designated timestamps.
    V2 = 2,
    /// Decimals.
    V3 = 3,
}

impl IlpVersion {
    /// The version numbered `n` (1, 2 or 3).
    pub fn from_number(n: u8) -> Option<IlpVersion> {
        match n {
            1 => Some(IlpVersion::V1),
            2 => Some(IlpVersion::V2),
            3 => Some(IlpVersion::V3),
            _ => None,
        }
    }

    /// The version's number.
    pub fn number(self) -> u8 {
        self as u8
    }
}

impl fmt::Display for IlpVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.number())
    }
}

/// The unit of a timestamp value on the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimestampUnit {
    /// Microseconds since the epoch (`t` suffix).
    Micros,
    /// Nanoseconds since the epoch (`n` suffix, or no suffix on the
    /// designated timestamp).
    Nanos,
}
