//! Sans-IO QWP codec: the bytes of every ingress and egress message, with no
//! sockets, threads or Arrow types.
//!
//! - [`wire`]: bounds-checked [`Reader`], exact-size masking writer [`Out`],
//!   varints.
//! - [`column`](mod@column): the 23 column types, both null modes, exact sizing
//!   (`*_len`) before writing, and borrowed decoding into [`ColumnView`]s.
//! - [`gorilla`]: delta-of-delta timestamp compression, bit-exact to the spec.
//! - [`ingress`]: message header, delta symbol dictionary, table blocks, and
//!   the server's OK / error / durable-ack responses.
//! - [`egress`]: `QUERY_REQUEST` with binds, `RESULT_BATCH` (optionally zstd),
//!   `RESULT_END`, `QUERY_ERROR`, `CANCEL`, `CREDIT`, `EXEC_DONE`,
//!   `CACHE_RESET`, `SERVER_INFO`.
//!
//! Decoders never panic on any input: malformed bytes give an
//! [`ErrorKind::Protocol`](crate::ErrorKind::Protocol) error with the offset.

pub mod column;
pub mod egress;
pub mod gorilla;
pub mod ilp;
pub mod ingress;
pub mod wire;

/// Bytes written as spaced hex pairs (`"10 01 ff"`): the spec's test
/// vectors, for the message tests of [`egress`] and [`ingress`].
#[cfg(test)]
pub(crate) fn test_hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|h| u8::from_str_radix(h, 16).expect("a hex pair"))
        .collect()
}

pub use column::{ColumnData, ColumnView, Layout, NullMode, TsEncoding, Values, ValuesView};
pub use wire::{Out, Reader};

use std::fmt;

/// The magic bytes `"QWP1"` that start every message with a header.
pub const MAGIC: [u8; 4] = *b"QWP1";
/// The only protocol version defined so far.
pub const VERSION: u8 = 1;
/// Size of the fixed message header.
pub const HEADER_LEN: usize = 12;

/// Header flag: rows of this ingress frame are appended but not committed
/// until a later frame without the flag.
pub const FLAG_DEFER_COMMIT: u8 = 0x01;
/// Header flag: TIMESTAMP-like columns carry a one-byte encoding flag and may
/// be Gorilla-compressed.
pub const FLAG_GORILLA: u8 = 0x04;
/// Header flag: a delta symbol dictionary starts the payload and SYMBOL
/// columns carry connection-global ids.
pub const FLAG_DELTA_SYMBOL_DICT: u8 = 0x08;
/// Header flag (egress only): the batch body after `batch_seq` is one zstd frame.
pub const FLAG_ZSTD: u8 = 0x10;
/// Flags an ingress message may carry.
pub const INGRESS_FLAGS_MASK: u8 = FLAG_DEFER_COMMIT | FLAG_GORILLA | FLAG_DELTA_SYMBOL_DICT;
/// Flags an egress message may carry.
pub const EGRESS_FLAGS_MASK: u8 = FLAG_GORILLA | FLAG_DELTA_SYMBOL_DICT | FLAG_ZSTD;

/// Protocol ceiling on one message (header + payload), in bytes (16 MiB).
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;
/// Rows per ingress table block.
pub const MAX_ROWS_PER_TABLE_BLOCK: usize = 1_000_000;
/// Rows per egress result batch the decoder accepts.
pub const MAX_ROWS_PER_RESULT_BATCH: usize = 1_048_576;
/// Columns per table.
pub const MAX_COLUMNS: usize = 2_048;
/// Table and column name length, in bytes.
pub const MAX_NAME_BYTES: usize = 127;
/// Symbol dictionary entries per connection (ingress).
pub const MAX_SYMBOL_DICT_ENTRIES: usize = 2_000_000;
/// Dimensions of one array value.
pub const MAX_ARRAY_DIMS: usize = 32;
/// Elements of one array value.
pub const MAX_ARRAY_ELEMENTS: usize = 16 * 1024 * 1024;
/// Largest GEOHASH precision, in bits.
pub const MAX_GEOHASH_BITS: u8 = 60;
/// Largest decompressed zstd body the decoder accepts, in bytes (64 MiB).
pub const MAX_DECOMPRESSED_BYTES: usize = 64 * 1024 * 1024;
/// Largest SQL text, in bytes (1 MiB).
pub const MAX_SQL_BYTES: usize = 1024 * 1024;
/// Bind parameters per query.
pub const MAX_BINDS: usize = 1_024;
/// Largest single VARCHAR/BINARY value, in bytes (2^31 − 1).
pub const MAX_VARLEN_VALUE_BYTES: usize = i32::MAX as usize;

/// A QWP column type code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum ColumnType {
    /// 1 bit, bit-packed LSB-first.
    Boolean = 0x01,
    /// i8.
    Byte = 0x02,
    /// i16.
    Short = 0x03,
    /// i32.
    Int = 0x04,
    /// i64.
    Long = 0x05,
    /// f32.
    Float = 0x06,
    /// f64.
    Double = 0x07,
    /// Dictionary-encoded string (varint ids).
    Symbol = 0x09,
    /// i64 microseconds since the epoch; Gorilla-capable.
    Timestamp = 0x0A,
    /// i64 milliseconds since the epoch (Gorilla-capable on egress only).
    Date = 0x0B,
    /// 128-bit UUID: low i64 then high i64.
    Uuid = 0x0C,
    /// 256-bit integer: four i64 words, least significant first.
    Long256 = 0x0D,
    /// Geohash with a per-column precision in bits.
    Geohash = 0x0E,
    /// UTF-8 string (u32 offsets + data).
    Varchar = 0x0F,
    /// i64 nanoseconds since the epoch; Gorilla-capable.
    TimestampNanos = 0x10,
    /// N-dimensional f64 array.
    DoubleArray = 0x11,
    /// N-dimensional i64 array.
    LongArray = 0x12,
    /// 64-bit decimal with a column scale.
    Decimal64 = 0x13,
    /// 128-bit decimal with a column scale.
    Decimal128 = 0x14,
    /// 256-bit decimal with a column scale.
    Decimal256 = 0x15,
    /// One UTF-16 code unit.
    Char = 0x16,
    /// Opaque bytes (u32 offsets + data).
    Binary = 0x17,
    /// IPv4 address as u32 (`a<<24 | b<<16 | c<<8 | d`).
    Ipv4 = 0x18,
}

impl ColumnType {
    /// All 23 types in code order.
    pub const ALL: [ColumnType; 23] = [
        ColumnType::Boolean,
        ColumnType::Byte,
        ColumnType::Short,
        ColumnType::Int,
        ColumnType::Long,
        ColumnType::Float,
        ColumnType::Double,
        ColumnType::Symbol,
        ColumnType::Timestamp,
        ColumnType::Date,
        ColumnType::Uuid,
        ColumnType::Long256,
        ColumnType::Geohash,
        ColumnType::Varchar,
        ColumnType::TimestampNanos,
        ColumnType::DoubleArray,
        ColumnType::LongArray,
        ColumnType::Decimal64,
        ColumnType::Decimal128,
        ColumnType::Decimal256,
        ColumnType::Char,
        ColumnType::Binary,
        ColumnType::Ipv4,
    ];

    /// The type for a wire code, if assigned.
    pub fn from_code(code: u8) -> Option<ColumnType> {
        Some(match code {
            0x01 => ColumnType::Boolean,
            0x02 => ColumnType::Byte,
            0x03 => ColumnType::Short,
            0x04 => ColumnType::Int,
            0x05 => ColumnType::Long,
            0x06 => ColumnType::Float,
            0x07 => ColumnType::Double,
            0x09 => ColumnType::Symbol,
            0x0A => ColumnType::Timestamp,
            0x0B => ColumnType::Date,
            0x0C => ColumnType::Uuid,
            0x0D => ColumnType::Long256,
            0x0E => ColumnType::Geohash,
            0x0F => ColumnType::Varchar,
            0x10 => ColumnType::TimestampNanos,
            0x11 => ColumnType::DoubleArray,
            0x12 => ColumnType::LongArray,
            0x13 => ColumnType::Decimal64,
            0x14 => ColumnType::Decimal128,
            0x15 => ColumnType::Decimal256,
            0x16 => ColumnType::Char,
            0x17 => ColumnType::Binary,
            0x18 => ColumnType::Ipv4,
            _ => return None,
        })
    }

    /// The wire code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The QuestDB name (`"TIMESTAMP_NANOS"`, `"IPv4"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            ColumnType::Boolean => "BOOLEAN",
            ColumnType::Byte => "BYTE",
            ColumnType::Short => "SHORT",
            ColumnType::Int => "INT",
            ColumnType::Long => "LONG",
            ColumnType::Float => "FLOAT",
            ColumnType::Double => "DOUBLE",
            ColumnType::Symbol => "SYMBOL",
            ColumnType::Timestamp => "TIMESTAMP",
            ColumnType::Date => "DATE",
            ColumnType::Uuid => "UUID",
            ColumnType::Long256 => "LONG256",
            ColumnType::Geohash => "GEOHASH",
            ColumnType::Varchar => "VARCHAR",
            ColumnType::TimestampNanos => "TIMESTAMP_NANOS",
            ColumnType::DoubleArray => "DOUBLE_ARRAY",
            ColumnType::LongArray => "LONG_ARRAY",
            ColumnType::Decimal64 => "DECIMAL64",
            ColumnType::Decimal128 => "DECIMAL128",
            ColumnType::Decimal256 => "DECIMAL256",
            ColumnType::Char => "CHAR",
            ColumnType::Binary => "BINARY",
            ColumnType::Ipv4 => "IPv4",
        }
    }

    /// Bytes per value for fixed-width types (excluding GEOHASH, whose width
    /// depends on the column's precision), else `None`.
    pub fn fixed_width(self) -> Option<usize> {
        Some(match self {
            ColumnType::Byte => 1,
            ColumnType::Short | ColumnType::Char => 2,
            ColumnType::Int | ColumnType::Float | ColumnType::Ipv4 => 4,
            ColumnType::Long
            | ColumnType::Double
            | ColumnType::Timestamp
            | ColumnType::TimestampNanos
            | ColumnType::Date
            | ColumnType::Decimal64 => 8,
            ColumnType::Uuid | ColumnType::Decimal128 => 16,
            ColumnType::Long256 | ColumnType::Decimal256 => 32,
            _ => return None,
        })
    }

    /// Whether the type is one of the decimals (a scale byte precedes values).
    pub fn is_decimal(self) -> bool {
        matches!(
            self,
            ColumnType::Decimal64 | ColumnType::Decimal128 | ColumnType::Decimal256
        )
    }

    /// Whether the column carries a one-byte encoding flag (and may be
    /// Gorilla-encoded) when `FLAG_GORILLA` is set, in the given direction.
    /// DATE does so only on egress.
    pub fn has_encoding_flag(self, dir: Direction) -> bool {
        match self {
            ColumnType::Timestamp | ColumnType::TimestampNanos => true,
            ColumnType::Date => dir == Direction::Egress,
            _ => false,
        }
    }

    /// The ingress null sentinel for one value, for types that have one.
    /// (BOOLEAN's sentinel is the bit 0 and is not listed here.)
    pub fn sentinel(self) -> Option<&'static [u8]> {
        const MIN64: [u8; 8] = i64::MIN.to_le_bytes();
        const UUID_NULL: [u8; 16] = [0, 0, 0, 0, 0, 0, 0, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x80];
        const L256_NULL: [u8; 32] = [
            0, 0, 0, 0, 0, 0, 0, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x80, 0, 0,
            0, 0, 0, 0, 0, 0x80,
        ];
        Some(match self {
            ColumnType::Byte => &[0],
            ColumnType::Short | ColumnType::Char => &[0, 0],
            ColumnType::Ipv4 => &[0, 0, 0, 0],
            ColumnType::Int => &[0, 0, 0, 0x80],
            ColumnType::Long
            | ColumnType::Date
            | ColumnType::Timestamp
            | ColumnType::TimestampNanos
            | ColumnType::Decimal64 => &MIN64,
            ColumnType::Float => &[0, 0, 0xC0, 0x7F],
            ColumnType::Double => &[0, 0, 0, 0, 0, 0, 0xF8, 0x7F],
            ColumnType::Uuid | ColumnType::Decimal128 => &UUID_NULL,
            ColumnType::Long256 | ColumnType::Decimal256 => &L256_NULL,
            _ => return None,
        })
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which way a message flows; a few encodings differ (DATE's encoding flag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Client to server on `/write/v4`, and query binds.
    Ingress,
    /// Server to client result batches on `/read/v1`.
    Egress,
}

pub use crate::error::Status;

/// The 12-byte message header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Negotiated protocol version.
    pub version: u8,
    /// Flag bits (`FLAG_*`).
    pub flags: u8,
    /// Number of table blocks in the payload.
    pub table_count: u16,
    /// Payload bytes after the header.
    pub payload_len: u32,
}

impl Header {
    /// Writes the header.
    pub fn write(&self, out: &mut Out<'_>) {
        out.put(&MAGIC);
        out.u8(self.version);
        out.u8(self.flags);
        out.u16(self.table_count);
        out.u32(self.payload_len);
    }

    /// The header as bytes (unmasked).
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        self.write(&mut Out::plain(&mut b));
        b
    }

    /// Parses and checks a header: magic, `version` (the negotiated one),
    /// flags within `allowed_flags`, and that `payload_len` matches the bytes
    /// that follow in `frame`.
    pub fn parse(frame: &[u8], version: u8, allowed_flags: u8) -> crate::Result<Header> {
        Header::parse_head(frame, frame.len(), version, allowed_flags)
    }

    /// [`Header::parse`] of a message `message_len` bytes long of which
    /// `head` holds the start (at least the header): the payload length is
    /// checked against `message_len`.
    pub fn parse_head(
        head: &[u8],
        message_len: usize,
        version: u8,
        allowed_flags: u8,
    ) -> crate::Result<Header> {
        let mut r = Reader::new(head);
        let magic: [u8; 4] = r.fixed("magic")?;
        if magic != MAGIC {
            return Err(crate::Error::protocol(
                0,
                format!("bad magic {magic:02X?}, expected \"QWP1\""),
            ));
        }
        let v = r.u8("version")?;
        if v != version {
            return Err(crate::Error::protocol(
                4,
                format!("version {v} does not match the negotiated version {version}"),
            ));
        }
        let flags = r.u8("flags")?;
        if flags & !allowed_flags != 0 {
            return Err(crate::Error::protocol(
                5,
                format!("reserved flag bits set: 0x{:02X}", flags & !allowed_flags),
            ));
        }
        let table_count = r.u16("table_count")?;
        let payload_len = r.u32("payload_length")?;
        let follow = message_len.saturating_sub(HEADER_LEN);
        if payload_len as usize != follow {
            return Err(crate::Error::protocol(
                8,
                format!("payload_length {payload_len} but {follow} payload bytes follow"),
            ));
        }
        Ok(Header {
            version: v,
            flags,
            table_count,
            payload_len,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_codes_round_trip() {
        for t in ColumnType::ALL {
            assert_eq!(ColumnType::from_code(t.code()), Some(t));
        }
        assert_eq!(ColumnType::from_code(0x08), None);
        assert_eq!(ColumnType::from_code(0x00), None);
        assert_eq!(ColumnType::from_code(0x19), None);
    }

    #[test]
    fn status_codes_round_trip() {
        for c in 0..=255u8 {
            assert_eq!(Status::from_code(c).code(), c);
        }
        assert!(Status::DictionaryGap.is_retriable());
        assert!(!Status::ParseError.is_retriable());
    }

    #[test]
    fn magic_is_the_le_int() {
        assert_eq!(u32::from_le_bytes(MAGIC), 0x3150_5751);
    }
}
