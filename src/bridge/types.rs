//! The one type-mapping table between Arrow and QWP.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, TimeUnit};

use super::meta;
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::ColumnType;

/// A QWP column type with its column-level arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QwpType {
    /// The wire type.
    pub ty: ColumnType,
    /// GEOHASH precision in bits (1..=60), else 0.
    pub geohash_bits: u8,
    /// DECIMAL scale, else 0.
    pub scale: u8,
    /// Array dimensionality for DOUBLE_ARRAY / LONG_ARRAY (≥ 1), else 0.
    pub array_dims: u8,
    /// Source timestamps are seconds/milliseconds/µs: multiply by this to
    /// get the wire unit (1 when no scaling is needed).
    pub ts_multiplier: i64,
}

impl QwpType {
    /// A type without column arguments.
    pub fn plain(ty: ColumnType) -> Self {
        QwpType {
            ty,
            geohash_bits: 0,
            scale: 0,
            array_dims: if matches!(ty, ColumnType::DoubleArray | ColumnType::LongArray) {
                1
            } else {
                0
            },
            ts_multiplier: 1,
        }
    }
}

/// QuestDB's lowercase type name as used in `questdb.column_type`.
pub fn type_name(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::Boolean => "boolean",
        ColumnType::Byte => "byte",
        ColumnType::Short => "short",
        ColumnType::Int => "int",
        ColumnType::Long => "long",
        ColumnType::Float => "float",
        ColumnType::Double => "double",
        ColumnType::Symbol => "symbol",
        ColumnType::Timestamp => "timestamp",
        ColumnType::Date => "date",
        ColumnType::Uuid => "uuid",
        ColumnType::Long256 => "long256",
        ColumnType::Geohash => "geohash",
        ColumnType::Varchar => "varchar",
        ColumnType::TimestampNanos => "timestamp_nanos",
        ColumnType::DoubleArray => "double_array",
        ColumnType::LongArray => "long_array",
        ColumnType::Decimal64 => "decimal64",
        ColumnType::Decimal128 => "decimal128",
        ColumnType::Decimal256 => "decimal256",
        ColumnType::Char => "char",
        ColumnType::Binary => "binary",
        ColumnType::Ipv4 => "ipv4",
    }
}

fn type_from_name(name: &str) -> Option<ColumnType> {
    ColumnType::ALL
        .into_iter()
        .find(|t| type_name(*t).eq_ignore_ascii_case(name))
}

fn list_of(inner: DataType, depth: u8) -> DataType {
    let mut t = inner;
    for _ in 0..depth.max(1) {
        t = DataType::List(Arc::new(Field::new("item", t, true)));
    }
    t
}

/// The Arrow data type a QWP column decodes into (query-result direction).
pub fn arrow_type(t: QwpType) -> DataType {
    match t.ty {
        ColumnType::Boolean => DataType::Boolean,
        ColumnType::Byte => DataType::Int8,
        ColumnType::Short => DataType::Int16,
        ColumnType::Int => DataType::Int32,
        ColumnType::Long | ColumnType::Geohash => DataType::Int64,
        ColumnType::Float => DataType::Float32,
        ColumnType::Double => DataType::Float64,
        ColumnType::Symbol => {
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
        }
        ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        ColumnType::TimestampNanos => DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
        ColumnType::Date => DataType::Date64,
        ColumnType::Uuid => DataType::FixedSizeBinary(16),
        ColumnType::Long256 => DataType::FixedSizeBinary(32),
        ColumnType::Varchar => DataType::Utf8,
        ColumnType::Binary => DataType::Binary,
        ColumnType::DoubleArray => list_of(DataType::Float64, t.array_dims),
        ColumnType::LongArray => list_of(DataType::Int64, t.array_dims),
        ColumnType::Decimal64 => DataType::Decimal64(18, t.scale as i8),
        ColumnType::Decimal128 => DataType::Decimal128(38, t.scale as i8),
        ColumnType::Decimal256 => DataType::Decimal256(76, t.scale as i8),
        ColumnType::Char => DataType::UInt16,
        ColumnType::Ipv4 => DataType::UInt32,
    }
}

/// The Arrow field for a QWP column, with `questdb.*` metadata.
pub fn arrow_field(name: &str, t: QwpType, designated: bool) -> Field {
    let mut md = HashMap::new();
    md.insert(meta::COLUMN_TYPE.to_string(), type_name(t.ty).to_string());
    match t.ty {
        ColumnType::Symbol => {
            md.insert(meta::SYMBOL.to_string(), "true".to_string());
        }
        ColumnType::Geohash => {
            md.insert(meta::GEOHASH_BITS.to_string(), t.geohash_bits.to_string());
        }
        ColumnType::Uuid => {
            md.insert(
                meta::ARROW_EXTENSION_NAME.to_string(),
                meta::EXT_ARROW_UUID.to_string(),
            );
        }
        _ => {}
    }
    if designated {
        md.insert(meta::DESIGNATED_TIMESTAMP.to_string(), "true".to_string());
    }
    Field::new(name, arrow_type(t), true).with_metadata(md)
}

fn unsupported(field: &Field, why: &str) -> Error {
    Error::new(
        ErrorKind::Unsupported,
        format!(
            "column {:?} of Arrow type {}: {why}",
            field.name(),
            field.data_type()
        ),
    )
}

fn array_elem(field: &Field, dt: &DataType, depth: u8) -> Result<QwpType> {
    match dt {
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            if depth >= 32 {
                return Err(unsupported(field, "arrays have at most 32 dimensions"));
            }
            array_elem(field, f.data_type(), depth + 1)
        }
        DataType::Float64 | DataType::Float32 => Ok(QwpType {
            array_dims: depth,
            ..QwpType::plain(ColumnType::DoubleArray)
        }),
        DataType::Int64 | DataType::Int32 | DataType::Int16 | DataType::Int8 => Ok(QwpType {
            array_dims: depth,
            ..QwpType::plain(ColumnType::LongArray)
        }),
        other => Err(unsupported(
            field,
            &format!(
                "lists of {other} cannot be sent; QuestDB arrays hold DOUBLE or LONG elements (cast to Float64 or Int64)"
            ),
        )),
    }
}

/// The QWP type an Arrow field is sent as: by data type, refined by
/// `questdb.*` metadata (`questdb.column_type`, `questdb.symbol`,
/// `questdb.geohash_bits`, `arrow.uuid`). Unsupported types are an
/// [`ErrorKind::Unsupported`] error naming the column, its type and the fix.
pub fn qwp_type_of(field: &Field) -> Result<QwpType> {
    let md = field.metadata();
    let claimed = md.get(meta::COLUMN_TYPE).and_then(|n| type_from_name(n));
    let symbol =
        md.get(meta::SYMBOL).is_some_and(|v| v == "true") || claimed == Some(ColumnType::Symbol);
    let dt = field.data_type();
    let plain = |t| Ok(QwpType::plain(t));
    let ts = |unit: &TimeUnit| {
        let (ty, mul) = match unit {
            TimeUnit::Second => (ColumnType::Timestamp, 1_000_000),
            TimeUnit::Millisecond => (ColumnType::Timestamp, 1_000),
            TimeUnit::Microsecond => (ColumnType::Timestamp, 1),
            TimeUnit::Nanosecond => (ColumnType::TimestampNanos, 1),
        };
        Ok(QwpType {
            ts_multiplier: mul,
            ..QwpType::plain(ty)
        })
    };
    match dt {
        DataType::Null => plain(ColumnType::Varchar),
        DataType::Boolean => plain(ColumnType::Boolean),
        DataType::Int8 => plain(ColumnType::Byte),
        DataType::Int16 => plain(ColumnType::Short),
        DataType::Int32 => plain(ColumnType::Int),
        DataType::Int64 => match claimed {
            Some(ColumnType::Geohash) | None if md.contains_key(meta::GEOHASH_BITS) => {
                let bits: u8 = md
                    .get(meta::GEOHASH_BITS)
                    .and_then(|b| b.parse().ok())
                    .filter(|b| (1..=60).contains(b))
                    .ok_or_else(|| {
                        unsupported(field, "questdb.geohash_bits must be a number in 1..=60")
                    })?;
                Ok(QwpType {
                    geohash_bits: bits,
                    ..QwpType::plain(ColumnType::Geohash)
                })
            }
            Some(ColumnType::Date) => plain(ColumnType::Date),
            Some(ColumnType::Timestamp) => plain(ColumnType::Timestamp),
            Some(ColumnType::TimestampNanos) => plain(ColumnType::TimestampNanos),
            _ => plain(ColumnType::Long),
        },
        DataType::UInt8 => plain(ColumnType::Short),
        DataType::UInt16 if claimed == Some(ColumnType::Char) => plain(ColumnType::Char),
        DataType::UInt16 => plain(ColumnType::Int),
        DataType::UInt32 if claimed == Some(ColumnType::Ipv4) => plain(ColumnType::Ipv4),
        DataType::UInt32 | DataType::UInt64 | DataType::Duration(_) => plain(ColumnType::Long),
        DataType::Float16 | DataType::Float32 => plain(ColumnType::Float),
        DataType::Float64 => plain(ColumnType::Double),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => plain(if symbol {
            ColumnType::Symbol
        } else {
            ColumnType::Varchar
        }),
        DataType::Dictionary(_, v)
            if matches!(
                v.as_ref(),
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            ) =>
        {
            plain(if claimed == Some(ColumnType::Varchar) {
                ColumnType::Varchar
            } else {
                ColumnType::Symbol
            })
        }
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => {
            plain(ColumnType::Binary)
        }
        DataType::FixedSizeBinary(16)
            if claimed == Some(ColumnType::Uuid)
                || md
                    .get(meta::ARROW_EXTENSION_NAME)
                    .is_some_and(|v| v == meta::EXT_ARROW_UUID) =>
        {
            plain(ColumnType::Uuid)
        }
        DataType::FixedSizeBinary(32) if claimed == Some(ColumnType::Long256) => {
            plain(ColumnType::Long256)
        }
        DataType::FixedSizeBinary(_) => plain(ColumnType::Binary),
        DataType::Timestamp(unit, _) => ts(unit),
        DataType::Date32 | DataType::Date64 => plain(ColumnType::Date),
        DataType::Decimal32(_, s) | DataType::Decimal64(_, s) => {
            decimal(field, ColumnType::Decimal64, *s)
        }
        DataType::Decimal128(_, s) => decimal(field, ColumnType::Decimal128, *s),
        DataType::Decimal256(_, s) => decimal(field, ColumnType::Decimal256, *s),
        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(_, _) => {
            array_elem(field, dt, 0)
        }
        DataType::Dictionary(_, _) => Err(unsupported(
            field,
            "only dictionaries of strings map to SYMBOL; cast the values to Utf8",
        )),
        _ => Err(unsupported(
            field,
            "QuestDB has no matching column type; cast it to a supported type \
             (numbers, strings, binary, timestamps, dates, decimals, lists of Float64/Int64) \
             or drop the column",
        )),
    }
}

fn decimal(field: &Field, ty: ColumnType, scale: i8) -> Result<QwpType> {
    let max = crate::protocol::column::max_decimal_scale(ty);
    if scale < 0 || scale as u8 > max {
        return Err(unsupported(
            field,
            &format!("decimal scale {scale} is outside 0..={max} that {ty} allows"),
        ));
    }
    Ok(QwpType {
        scale: scale as u8,
        ..QwpType::plain(ty)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_qwp_type_maps_back_to_itself() {
        for ty in ColumnType::ALL {
            let t = QwpType {
                geohash_bits: if ty == ColumnType::Geohash { 20 } else { 0 },
                scale: if ty.is_decimal() { 3 } else { 0 },
                ..QwpType::plain(ty)
            };
            let f = arrow_field("c", t, false);
            assert_eq!(qwp_type_of(&f).unwrap(), t, "{ty}");
        }
    }

    #[test]
    fn unsupported_types_name_the_column() {
        let f = Field::new(
            "s",
            DataType::Struct(vec![Field::new("a", DataType::Int8, true)].into()),
            true,
        );
        let e = qwp_type_of(&f).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        assert!(e.to_string().contains("\"s\""), "{e}");
        assert!(e.to_string().contains("Struct"), "{e}");
        let f = Field::new("l", list_of(DataType::Utf8, 1), true);
        assert!(qwp_type_of(&f).unwrap_err().to_string().contains("Float64"));
    }

    #[test]
    fn widths_and_units() {
        let t = |dt: DataType| qwp_type_of(&Field::new("x", dt, true)).unwrap();
        assert_eq!(t(DataType::Int32).ty, ColumnType::Int);
        assert_eq!(t(DataType::UInt64).ty, ColumnType::Long);
        assert_eq!(
            t(DataType::Duration(TimeUnit::Millisecond)).ty,
            ColumnType::Long
        );
        let ms = t(DataType::Timestamp(TimeUnit::Millisecond, None));
        assert_eq!((ms.ty, ms.ts_multiplier), (ColumnType::Timestamp, 1000));
        assert_eq!(
            t(DataType::Timestamp(TimeUnit::Nanosecond, None)).ty,
            ColumnType::TimestampNanos
        );
        assert_eq!(t(list_of(DataType::Float64, 2)).array_dims, 2);
    }
}
