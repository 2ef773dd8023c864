//! Per-column QuestDB type choices that the Arrow type alone cannot express
//! (a string column that should be a SYMBOL, a UInt32 that is an IPv4, ...).
//!
//! An override is applied by annotating the field with the same `questdb.*`
//! metadata the type table reads ([`super::qwp_type_of`]), converting the
//! array only where the encoder needs another layout (variable-length
//! binary → fixed 16/32 bytes, dictionary → plain strings, narrow integers
//! → Int64 geohashes). So an override and an annotated field mean the same.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, FixedSizeBinaryArray, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema};

use super::meta;
use crate::error::{Error, ErrorKind, Result};

/// A QuestDB type choice for one column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnOverride {
    /// A Utf8 / LargeUtf8 / Utf8View (or string dictionary) column as SYMBOL.
    Symbol,
    /// A string dictionary column as VARCHAR (plain strings stay VARCHAR).
    NotSymbol,
    /// A UInt16 column as CHAR (UTF-16 code units).
    Char,
    /// A UInt32 column as IPv4.
    Ipv4,
    /// A FixedSizeBinary(16) or Binary/LargeBinary/BinaryView column (every
    /// value exactly 16 bytes, RFC 4122 big-endian) as UUID.
    Uuid,
    /// A FixedSizeBinary(32) or Binary/LargeBinary/BinaryView column (every
    /// value exactly 32 bytes, little-endian limbs) as LONG256.
    Long256,
    /// An Int8/16/32/64 column as GEOHASH with this many bits (1..=60).
    Geohash(u8),
}

fn bad(table: &str, field: &Field, o: ColumnOverride, fix: &str) -> Error {
    Error::new(
        ErrorKind::InvalidData,
        format!(
            "table {table}, column {:?}: override {o:?} does not apply to Arrow type {}; {fix}",
            field.name(),
            field.data_type()
        ),
    )
}

fn fixed_binary(
    table: &str,
    field: &Field,
    array: &ArrayRef,
    width: i32,
) -> Result<FixedSizeBinaryArray> {
    let values: Vec<Option<&[u8]>> = match array.data_type() {
        DataType::Binary => array.as_binary::<i32>().iter().collect(),
        DataType::LargeBinary => array.as_binary::<i64>().iter().collect(),
        DataType::BinaryView => array.as_binary_view().iter().collect(),
        _ => unreachable!("checked by the caller"),
    };
    if let Some(row) = values
        .iter()
        .position(|v| v.is_some_and(|v| v.len() != width as usize))
    {
        let got = values[row].map_or(0, |v| v.len());
        return Err(Error::new(
            ErrorKind::InvalidData,
            format!(
                "table {table}, column {:?}, row {row}: value has {got} bytes, the override needs exactly {width}",
                field.name()
            ),
        ));
    }
    FixedSizeBinaryArray::try_from_sparse_iter_with_size(values.into_iter(), width)
        .map_err(Error::from)
}

fn annotate(field: &Field, key: &str, value: &str, drop: &[&str]) -> Field {
    let mut md = field.metadata().clone();
    for k in drop {
        md.remove(*k);
    }
    md.insert(key.to_string(), value.to_string());
    field.clone().with_metadata(md)
}

/// Applies `overrides` (column name → choice) to `batch`: fields gain the
/// matching `questdb.*` metadata and arrays are converted where the layout
/// must change. Errors name the table, the column and why; an override for a
/// column the batch does not have is an error too. Without overrides the
/// batch is returned as is (no copy).
pub fn apply_overrides(
    table: &str,
    batch: &RecordBatch,
    overrides: &[(String, ColumnOverride)],
) -> Result<RecordBatch> {
    if overrides.is_empty() {
        return Ok(batch.clone());
    }
    let schema = batch.schema();
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    let mut cols: Vec<ArrayRef> = batch.columns().to_vec();
    for (name, o) in overrides {
        let i = schema.index_of(name).map_err(|_| {
            Error::new(
                ErrorKind::InvalidData,
                format!("table {table}: override {o:?} names column {name:?}, which the batch does not have"),
            )
        })?;
        let f = &fields[i];
        let dt = f.data_type().clone();
        let is_str = matches!(
            dt,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
        );
        let is_dict_str = matches!(&dt, DataType::Dictionary(_, v)
            if matches!(v.as_ref(), DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View));
        let is_bin = matches!(
            dt,
            DataType::Binary | DataType::LargeBinary | DataType::BinaryView
        );
        let (nf, na) = match *o {
            ColumnOverride::Symbol if is_str || is_dict_str => (
                annotate(f, meta::SYMBOL, "true", &[meta::COLUMN_TYPE]),
                cols[i].clone(),
            ),
            ColumnOverride::Symbol => {
                return Err(bad(table, f, *o, "SYMBOL needs a string column"));
            }
            ColumnOverride::NotSymbol if is_dict_str => {
                let a = arrow::compute::cast(&cols[i], &DataType::Utf8).map_err(Error::from)?;
                let mut md = f.metadata().clone();
                md.remove(meta::SYMBOL);
                md.remove(meta::COLUMN_TYPE);
                (
                    Field::new(f.name(), DataType::Utf8, f.is_nullable()).with_metadata(md),
                    a,
                )
            }
            ColumnOverride::NotSymbol if is_str => {
                let mut md = f.metadata().clone();
                md.remove(meta::SYMBOL);
                if md.get(meta::COLUMN_TYPE).is_some_and(|v| v == "symbol") {
                    md.remove(meta::COLUMN_TYPE);
                }
                (f.clone().with_metadata(md), cols[i].clone())
            }
            ColumnOverride::NotSymbol => {
                return Err(bad(table, f, *o, "only string columns can be SYMBOLs"));
            }
            ColumnOverride::Char if dt == DataType::UInt16 => {
                (annotate(f, meta::COLUMN_TYPE, "char", &[]), cols[i].clone())
            }
            ColumnOverride::Char => {
                return Err(bad(table, f, *o, "CHAR needs UInt16 (UTF-16 code units)"));
            }
            ColumnOverride::Ipv4 if dt == DataType::UInt32 => {
                (annotate(f, meta::COLUMN_TYPE, "ipv4", &[]), cols[i].clone())
            }
            ColumnOverride::Ipv4 => return Err(bad(table, f, *o, "IPv4 needs UInt32")),
            ColumnOverride::Uuid | ColumnOverride::Long256 => {
                let (width, tname) = if *o == ColumnOverride::Uuid {
                    (16, "uuid")
                } else {
                    (32, "long256")
                };
                let a: ArrayRef = if dt == DataType::FixedSizeBinary(width) {
                    cols[i].clone()
                } else if is_bin {
                    Arc::new(fixed_binary(table, f, &cols[i], width)?)
                } else {
                    return Err(bad(
                        table,
                        f,
                        *o,
                        &format!("it needs FixedSizeBinary({width}) or a binary column"),
                    ));
                };
                let mut md = f.metadata().clone();
                md.insert(meta::COLUMN_TYPE.to_string(), tname.to_string());
                if *o == ColumnOverride::Uuid {
                    md.insert(
                        meta::ARROW_EXTENSION_NAME.to_string(),
                        meta::EXT_ARROW_UUID.to_string(),
                    );
                }
                (
                    Field::new(f.name(), DataType::FixedSizeBinary(width), f.is_nullable())
                        .with_metadata(md),
                    a,
                )
            }
            ColumnOverride::Geohash(bits) => {
                if !(1..=60).contains(&bits) {
                    return Err(bad(table, f, *o, "geohash bits must be in 1..=60"));
                }
                if !matches!(
                    dt,
                    DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64
                ) {
                    return Err(bad(table, f, *o, "GEOHASH needs a signed integer column"));
                }
                let a = arrow::compute::cast(&cols[i], &DataType::Int64).map_err(Error::from)?;
                let mut md = f.metadata().clone();
                md.insert(meta::COLUMN_TYPE.to_string(), "geohash".to_string());
                md.insert(meta::GEOHASH_BITS.to_string(), bits.to_string());
                (
                    Field::new(f.name(), DataType::Int64, f.is_nullable()).with_metadata(md),
                    a,
                )
            }
        };
        fields[i] = nf;
        cols[i] = na;
    }
    let schema = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
    RecordBatch::try_new(schema, cols)
        .map_err(|e| Error::arrow(ErrorKind::InvalidData, format!("table {table}"), e))
}

#[cfg(test)]
mod tests {
    use arrow::array::{BinaryArray, DictionaryArray, Int32Array, StringArray, UInt32Array};
    use arrow::datatypes::Int32Type;

    use super::*;
    use crate::bridge::qwp_type_of;
    use crate::protocol::ColumnType;

    fn one(name: &str, a: ArrayRef) -> RecordBatch {
        RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new(
                name,
                a.data_type().clone(),
                true,
            )])),
            vec![a],
        )
        .unwrap()
    }

    fn ty(b: &RecordBatch) -> ColumnType {
        qwp_type_of(b.schema().field(0)).unwrap().ty
    }

    #[test]
    fn overrides_change_the_wire_type() {
        let s = one("s", Arc::new(StringArray::from(vec!["a", "b"])));
        let o = |c: ColumnOverride| vec![("s".to_string(), c)];
        assert_eq!(ty(&s), ColumnType::Varchar);
        let sym = apply_overrides("t", &s, &o(ColumnOverride::Symbol)).unwrap();
        assert_eq!(ty(&sym), ColumnType::Symbol);
        let back = apply_overrides("t", &sym, &o(ColumnOverride::NotSymbol)).unwrap();
        assert_eq!(ty(&back), ColumnType::Varchar);

        let d: DictionaryArray<Int32Type> = vec!["x", "y", "x"].into_iter().collect();
        let d = one("s", Arc::new(d));
        assert_eq!(ty(&d), ColumnType::Symbol);
        let v = apply_overrides("t", &d, &o(ColumnOverride::NotSymbol)).unwrap();
        assert_eq!(ty(&v), ColumnType::Varchar);
        assert_eq!(v.column(0).data_type(), &DataType::Utf8);

        let ip = one("s", Arc::new(UInt32Array::from(vec![1, 2])));
        assert_eq!(ty(&ip), ColumnType::Long);
        let ip = apply_overrides("t", &ip, &o(ColumnOverride::Ipv4)).unwrap();
        assert_eq!(ty(&ip), ColumnType::Ipv4);

        let g = one("s", Arc::new(Int32Array::from(vec![5, 6])));
        let g = apply_overrides("t", &g, &o(ColumnOverride::Geohash(20))).unwrap();
        let t = qwp_type_of(g.schema().field(0)).unwrap();
        assert_eq!((t.ty, t.geohash_bits), (ColumnType::Geohash, 20));

        let u = one(
            "s",
            Arc::new(BinaryArray::from(vec![Some(&[7u8; 16][..]), None])),
        );
        let u2 = apply_overrides("t", &u, &o(ColumnOverride::Uuid)).unwrap();
        assert_eq!(ty(&u2), ColumnType::Uuid);
        assert!(u2.column(0).is_null(1));
    }

    #[test]
    fn misapplied_overrides_name_table_column_and_row() {
        let s = one("s", Arc::new(StringArray::from(vec!["a"])));
        let e = apply_overrides("t", &s, &[("s".into(), ColumnOverride::Ipv4)]).unwrap_err();
        assert!(e.to_string().contains("table t, column \"s\""), "{e}");
        assert!(e.to_string().contains("UInt32"), "{e}");
        let e = apply_overrides("t", &s, &[("nope".into(), ColumnOverride::Symbol)]).unwrap_err();
        assert!(e.to_string().contains("\"nope\""), "{e}");
        let b = one(
            "b",
            Arc::new(BinaryArray::from(vec![&[1u8; 16][..], &[1u8; 15][..]])),
        );
        let e = apply_overrides("t", &b, &[("b".into(), ColumnOverride::Uuid)]).unwrap_err();
        assert!(e.to_string().contains("row 1"), "{e}");
        let e = apply_overrides(
            "t",
            &one("g", Arc::new(Int32Array::from(vec![1]))),
            &[("g".into(), ColumnOverride::Geohash(61))],
        )
        .unwrap_err();
        assert!(e.to_string().contains("1..=60"), "{e}");
    }
}
