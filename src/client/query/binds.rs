//! [`Query`]'s bind values: `$1`, `$2`, ... in the order they are added,
//! one row each, of every QWP type.

use crate::protocol::ColumnType;
use crate::protocol::column::{ColumnData, Values};

use super::Query;

macro_rules! binds {
    ($($(#[$doc:meta])* $name:ident($t:ty) => |$v:ident| $values:expr;)*) => {$(
        $(#[$doc])*
        pub fn $name(self, $v: $t) -> Self {
            self.bind(ColumnData::new($values))
        }
    )*};
}

impl Query<'_> {
    /// Adds a bind value already in QWP form (one row).
    pub fn bind(mut self, value: ColumnData) -> Self {
        self.req.binds.push(value);
        self
    }

    binds! {
        /// BOOLEAN.
        bind_bool(bool) => |v| Values::Boolean(vec![v]);
        /// BYTE.
        bind_i8(i8) => |v| Values::Byte(vec![v]);
        /// SHORT.
        bind_i16(i16) => |v| Values::Short(vec![v]);
        /// INT.
        bind_i32(i32) => |v| Values::Int(vec![v]);
        /// LONG.
        bind_i64(i64) => |v| Values::Long(vec![v]);
        /// FLOAT.
        bind_f32(f32) => |v| Values::Float(vec![v]);
        /// DOUBLE.
        bind_f64(f64) => |v| Values::Double(vec![v]);
        /// VARCHAR.
        bind_varchar(&str) => |v| Values::Varchar(vec![v.to_string()]);
        /// BINARY.
        bind_binary(&[u8]) => |v| Values::Binary(vec![v.to_vec()]);
        /// TIMESTAMP, µs since the epoch.
        bind_timestamp_micros(i64) => |v| Values::Timestamp(vec![v]);
        /// TIMESTAMP_NANOS, ns since the epoch.
        bind_timestamp_nanos(i64) => |v| Values::TimestampNanos(vec![v]);
        /// DATE, ms since the epoch.
        bind_date(i64) => |v| Values::Date(vec![v]);
        /// UUID as one 128-bit number (`(high << 64) | low`).
        bind_uuid(u128) => |v| Values::Uuid(vec![v]);
        /// LONG256, 32 bytes little-endian.
        bind_long256([u8; 32]) => |v| Values::Long256(vec![v]);
        /// CHAR (a UTF-16 code unit).
        bind_char(u16) => |v| Values::Char(vec![v]);
        /// IPv4.
        bind_ipv4(std::net::Ipv4Addr) => |v| Values::Ipv4(vec![u32::from(v)]);
    }

    /// DECIMAL64: unscaled value and scale (0..=18).
    pub fn bind_decimal64(self, unscaled: i64, scale: u8) -> Self {
        self.bind(ColumnData::new(Values::Decimal64 {
            scale,
            values: vec![unscaled],
        }))
    }

    /// DECIMAL128: unscaled value and scale (0..=38).
    pub fn bind_decimal128(self, unscaled: i128, scale: u8) -> Self {
        self.bind(ColumnData::new(Values::Decimal128 {
            scale,
            values: vec![unscaled],
        }))
    }

    /// DECIMAL256: unscaled value (32 bytes, two's complement little-endian)
    /// and scale (0..=76).
    pub fn bind_decimal256(self, unscaled_le: [u8; 32], scale: u8) -> Self {
        self.bind(ColumnData::new(Values::Decimal256 {
            scale,
            values: vec![unscaled_le],
        }))
    }

    /// GEOHASH with its precision in bits (1..=60).
    pub fn bind_geohash(self, value: u64, bits: u8) -> Self {
        self.bind(ColumnData::new(Values::Geohash {
            precision_bits: bits,
            values: vec![value],
        }))
    }

    /// A typed NULL (for DECIMAL the scale is 0, for GEOHASH 1 bit).
    pub fn bind_null(self, ty: ColumnType) -> Self {
        let values = match ty {
            ColumnType::Boolean => Values::Boolean(vec![]),
            ColumnType::Byte => Values::Byte(vec![]),
            ColumnType::Short => Values::Short(vec![]),
            ColumnType::Int => Values::Int(vec![]),
            ColumnType::Long => Values::Long(vec![]),
            ColumnType::Float => Values::Float(vec![]),
            ColumnType::Double => Values::Double(vec![]),
            ColumnType::Timestamp => Values::Timestamp(vec![]),
            ColumnType::TimestampNanos => Values::TimestampNanos(vec![]),
            ColumnType::Date => Values::Date(vec![]),
            ColumnType::Uuid => Values::Uuid(vec![]),
            ColumnType::Long256 => Values::Long256(vec![]),
            ColumnType::Geohash => Values::Geohash {
                precision_bits: 1,
                values: vec![],
            },
            ColumnType::Binary => Values::Binary(vec![]),
            ColumnType::Decimal64 => Values::Decimal64 {
                scale: 0,
                values: vec![],
            },
            ColumnType::Decimal128 => Values::Decimal128 {
                scale: 0,
                values: vec![],
            },
            ColumnType::Decimal256 => Values::Decimal256 {
                scale: 0,
                values: vec![],
            },
            ColumnType::Char => Values::Char(vec![]),
            ColumnType::Ipv4 => Values::Ipv4(vec![]),
            _ => Values::Varchar(vec![]),
        };
        self.bind(ColumnData::with_nulls(values, vec![true]))
    }
}
