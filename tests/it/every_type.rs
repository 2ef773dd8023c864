//! One column per row of the Arrow → QuestDB type mapping, and the check
//! that a stored table holds such a batch. Shared by the crate's tests and
//! the ADBC driver's (`adbc/tests`), which include this file by path.

use std::sync::Arc;

use arrow::array::*;
use arrow::datatypes::{
    DataType, Decimal64Type, Decimal128Type, Decimal256Type, Field, Int32Type, Schema, TimeUnit,
    i256,
};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use questdb_arrow::bridge::meta;

/// Cells as text, the input converted the way the mapping table says
/// (timestamp units to the stored unit, Date32 to Date64, dictionaries
/// to their values).
pub(crate) fn cells(a: &ArrayRef, stored: &DataType) -> Vec<Option<String>> {
    let a = match a.data_type() {
        DataType::Timestamp(_, _) | DataType::Date32 | DataType::Float16 => {
            arrow::compute::cast(a, stored).unwrap()
        }
        DataType::Dictionary(_, _) => arrow::compute::cast(a, &DataType::Utf8).unwrap(),
        _ => a.clone(),
    };
    let f = ArrayFormatter::try_new(a.as_ref(), &FormatOptions::default()).unwrap();
    (0..a.len())
        .map(|i| a.is_valid(i).then(|| f.value(i).to_string()))
        .collect()
}

fn md(f: Field, k: &str, v: &str) -> Field {
    let mut m = f.metadata().clone();
    m.insert(k.to_string(), v.to_string());
    f.with_metadata(m)
}

/// One column per row of the mapping table, every third value NULL,
/// with the QuestDB type each must be stored as.
pub(crate) fn every_type(n: usize, t0: i64) -> (RecordBatch, Vec<(&'static str, &'static str)>) {
    let v = |i: usize| i % 3 != 1;
    let word = |i: usize| format!("w{}{}", i % 5, "x".repeat(i % 20));
    let mut cols: Vec<(Field, ArrayRef, &'static str)> = Vec::new();
    let mut add = |f: Field, a: ArrayRef, ty: &'static str| cols.push((f, a, ty));
    let ts = TimestampMicrosecondArray::from_iter_values((0..n).map(|i| t0 + i as i64));
    add(
        Field::new("ts", ts.data_type().clone(), false),
        Arc::new(ts),
        "timestamp",
    );
    let it = |i: usize| v(i).then_some(i);
    add(
        Field::new("bool", DataType::Boolean, true),
        Arc::new(BooleanArray::from_iter(
            (0..n).map(|i| it(i).map(|i| i % 2 == 0)),
        )),
        "boolean",
    );
    add(
        Field::new("i8", DataType::Int8, true),
        Arc::new(Int8Array::from_iter((0..n).map(|i| it(i).map(|i| i as i8)))),
        "byte",
    );
    add(
        Field::new("i16", DataType::Int16, true),
        Arc::new(Int16Array::from_iter(
            (0..n).map(|i| it(i).map(|i| i as i16 * 3)),
        )),
        "short",
    );
    add(
        Field::new("i32", DataType::Int32, true),
        Arc::new(Int32Array::from_iter(
            (0..n).map(|i| it(i).map(|i| i as i32 * -7)),
        )),
        "int",
    );
    add(
        Field::new("i64", DataType::Int64, true),
        Arc::new(Int64Array::from_iter(
            (0..n).map(|i| it(i).map(|i| i as i64 * 1_000_003)),
        )),
        "long",
    );
    add(
        Field::new("u8", DataType::UInt8, true),
        Arc::new(UInt8Array::from_iter(
            (0..n).map(|i| it(i).map(|i| 200 + (i % 50) as u8)),
        )),
        "short",
    );
    add(
        Field::new("u16", DataType::UInt16, true),
        Arc::new(UInt16Array::from_iter(
            (0..n).map(|i| it(i).map(|i| 60_000 + i as u16)),
        )),
        "int",
    );
    add(
        Field::new("u32", DataType::UInt32, true),
        Arc::new(UInt32Array::from_iter(
            (0..n).map(|i| it(i).map(|i| 4_000_000_000 + i as u32)),
        )),
        "long",
    );
    add(
        Field::new("u64", DataType::UInt64, true),
        Arc::new(UInt64Array::from_iter(
            (0..n).map(|i| it(i).map(|i| i as u64 * 99)),
        )),
        "long",
    );
    add(
        Field::new("f16", DataType::Float16, true),
        arrow::compute::cast(
            &Float32Array::from_iter((0..n).map(|i| it(i).map(|i| i as f32 / 4.0))),
            &DataType::Float16,
        )
        .unwrap(),
        "float",
    );
    add(
        Field::new("f32", DataType::Float32, true),
        Arc::new(Float32Array::from_iter(
            (0..n).map(|i| it(i).map(|i| i as f32 / 8.0)),
        )),
        "float",
    );
    add(
        Field::new("f64", DataType::Float64, true),
        Arc::new(Float64Array::from_iter(
            (0..n).map(|i| it(i).map(|i| i as f64 / 3.0)),
        )),
        "double",
    );
    add(
        Field::new("utf8", DataType::Utf8, true),
        Arc::new(StringArray::from_iter((0..n).map(|i| it(i).map(word)))),
        "varchar",
    );
    add(
        Field::new("large_utf8", DataType::LargeUtf8, true),
        Arc::new(LargeStringArray::from_iter((0..n).map(|i| it(i).map(word)))),
        "varchar",
    );
    add(
        Field::new("utf8_view", DataType::Utf8View, true),
        Arc::new(StringViewArray::from_iter((0..n).map(|i| it(i).map(word)))),
        "varchar",
    );
    add(
        md(
            Field::new("utf8_sym", DataType::Utf8, true),
            meta::SYMBOL,
            "true",
        ),
        Arc::new(StringArray::from_iter(
            (0..n).map(|i| it(i).map(|i| format!("s{}", i % 4))),
        )),
        "symbol",
    );
    let d: DictionaryArray<Int32Type> = (0..n)
        .map(|i| it(i).map(|i| ["a", "b", "c"][i % 3]))
        .collect();
    add(
        Field::new("dict", d.data_type().clone(), true),
        Arc::new(d),
        "symbol",
    );
    let d: DictionaryArray<arrow::datatypes::Int16Type> = {
        let keys = Int16Array::from_iter((0..n).map(|i| it(i).map(|i| (i % 2) as i16)));
        DictionaryArray::try_new(keys, Arc::new(LargeStringArray::from(vec!["lx", "ly"]))).unwrap()
    };
    add(
        Field::new("dict_large", d.data_type().clone(), true),
        Arc::new(d),
        "symbol",
    );
    let bytes = |i: usize| (0..(i % 7)).map(|k| (k * i) as u8).collect::<Vec<u8>>();
    add(
        Field::new("binary", DataType::Binary, true),
        Arc::new(BinaryArray::from_iter((0..n).map(|i| it(i).map(bytes)))),
        "binary",
    );
    add(
        Field::new("large_binary", DataType::LargeBinary, true),
        Arc::new(LargeBinaryArray::from_iter(
            (0..n).map(|i| it(i).map(bytes)),
        )),
        "binary",
    );
    add(
        Field::new("binary_view", DataType::BinaryView, true),
        Arc::new(BinaryViewArray::from_iter((0..n).map(|i| it(i).map(bytes)))),
        "binary",
    );
    let fsb = |w: usize| {
        FixedSizeBinaryArray::try_from_sparse_iter_with_size(
            (0..n).map(|i| it(i).map(|i| (0..w).map(|k| (i + k) as u8).collect::<Vec<u8>>())),
            w as i32,
        )
        .unwrap()
    };
    add(
        Field::new("fsb5", DataType::FixedSizeBinary(5), true),
        Arc::new(fsb(5)),
        "binary",
    );
    add(
        md(
            Field::new("uuid", DataType::FixedSizeBinary(16), true),
            meta::ARROW_EXTENSION_NAME,
            meta::EXT_ARROW_UUID,
        ),
        Arc::new(fsb(16)),
        "uuid",
    );
    add(
        md(
            Field::new("long256", DataType::FixedSizeBinary(32), true),
            meta::COLUMN_TYPE,
            "long256",
        ),
        Arc::new(fsb(32)),
        "long256",
    );
    let tsv = |i: usize| it(i).map(|i| 1_600_000_000 + i as i64);
    add(
        Field::new("ts_s", DataType::Timestamp(TimeUnit::Second, None), true),
        Arc::new(TimestampSecondArray::from_iter((0..n).map(tsv))),
        "timestamp",
    );
    add(
        Field::new(
            "ts_ms",
            DataType::Timestamp(TimeUnit::Millisecond, Some("+02:00".into())),
            true,
        ),
        Arc::new(
            TimestampMillisecondArray::from_iter((0..n).map(|i| tsv(i).map(|v| v * 1000 + 7)))
                .with_timezone("+02:00"),
        ),
        "timestamp",
    );
    add(
        Field::new(
            "ts_ns",
            DataType::Timestamp(TimeUnit::Nanosecond, None),
            true,
        ),
        Arc::new(TimestampNanosecondArray::from_iter(
            (0..n).map(|i| tsv(i).map(|v| v * 1_000_000_000 + 123)),
        )),
        "timestamp_nanos",
    );
    add(
        Field::new("date32", DataType::Date32, true),
        Arc::new(Date32Array::from_iter(
            (0..n).map(|i| it(i).map(|i| 19_000 + i as i32)),
        )),
        "date",
    );
    add(
        Field::new("date64", DataType::Date64, true),
        Arc::new(Date64Array::from_iter(
            (0..n).map(|i| it(i).map(|i| (19_000 + i as i64) * 86_400_000)),
        )),
        "date",
    );
    add(
        Field::new("dec64", DataType::Decimal64(18, 3), true),
        Arc::new(
            PrimitiveArray::<Decimal64Type>::from_iter(
                (0..n).map(|i| it(i).map(|i| i as i64 * 1001 - 500)),
            )
            .with_precision_and_scale(18, 3)
            .unwrap(),
        ),
        "decimal64",
    );
    add(
        Field::new("dec128", DataType::Decimal128(38, 4), true),
        Arc::new(
            PrimitiveArray::<Decimal128Type>::from_iter(
                (0..n).map(|i| it(i).map(|i| i as i128 * 10_000_019)),
            )
            .with_precision_and_scale(38, 4)
            .unwrap(),
        ),
        "decimal128",
    );
    add(
        Field::new("dec256", DataType::Decimal256(76, 2), true),
        Arc::new(
            PrimitiveArray::<Decimal256Type>::from_iter(
                (0..n).map(|i| it(i).map(|i| i256::from_i128(i as i128 * -31))),
            )
            .with_precision_and_scale(76, 2)
            .unwrap(),
        ),
        "decimal256",
    );
    let lf =
        ListArray::from_iter_primitive::<arrow::datatypes::Float64Type, _, _>((0..n).map(|i| {
            it(i).map(|i| {
                (0..(i % 4))
                    .map(|k| Some(k as f64 + 0.5))
                    .collect::<Vec<_>>()
            })
        }));
    add(
        Field::new("list_f64", lf.data_type().clone(), true),
        Arc::new(lf),
        "double_array",
    );
    let ll = LargeListArray::from_iter_primitive::<arrow::datatypes::Int64Type, _, _>(
        (0..n).map(|i| it(i).map(|i| (0..(i % 3)).map(|k| Some(k as i64 * 9)).collect::<Vec<_>>())),
    );
    add(
        Field::new("list_i64", ll.data_type().clone(), true),
        Arc::new(ll),
        "long_array",
    );
    add(
        md(
            Field::new("char", DataType::UInt16, true),
            meta::COLUMN_TYPE,
            "char",
        ),
        Arc::new(UInt16Array::from_iter(
            (0..n).map(|i| it(i).map(|i| 65 + (i % 26) as u16)),
        )),
        "char",
    );
    add(
        md(
            Field::new("ipv4", DataType::UInt32, true),
            meta::COLUMN_TYPE,
            "ipv4",
        ),
        Arc::new(UInt32Array::from_iter(
            (0..n).map(|i| it(i).map(|i| 0x0A00_0001 + i as u32)),
        )),
        "ipv4",
    );
    add(
        md(
            Field::new("geohash", DataType::Int64, true),
            meta::GEOHASH_BITS,
            "25",
        ),
        Arc::new(Int64Array::from_iter(
            (0..n).map(|i| it(i).map(|i| (i as i64 * 37) & 0x1FF_FFFF)),
        )),
        "geohash",
    );
    let types = cols.iter().map(|(f, _, t)| (leak(f.name()), *t)).collect();
    let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) =
        cols.into_iter().map(|(f, a, _)| (f, a)).unzip();
    (
        RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap(),
        types,
    )
}

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

/// `stored` holds `sent` (in order), column by column and with the
/// QuestDB types of the mapping table (NULL BOOLEAN/BYTE/SHORT/CHAR
/// stored as false / 0, as QuestDB does).
pub(crate) fn assert_stored(stored: &RecordBatch, sent: &RecordBatch, types: &[(&str, &str)]) {
    assert_eq!(stored.num_rows(), sent.num_rows());
    for (name, ty) in types {
        let stored_name = if *name == "ts" { "timestamp" } else { name };
        let (_, f) = stored
            .schema()
            .column_with_name(stored_name)
            .map(|(i, f)| (i, f.clone()))
            .unwrap_or_else(|| panic!("column {name} missing"));
        if *name != "ts" {
            assert_eq!(
                f.metadata().get(meta::COLUMN_TYPE).map(String::as_str),
                Some(*ty),
                "type of {name}"
            );
        }
        let got = cells(stored.column_by_name(stored_name).unwrap(), f.data_type());
        let mut want = cells(sent.column_by_name(name).unwrap(), f.data_type());
        // QuestDB stores no NULL for these: a NULL arrives as false / 0.
        let zero = match *ty {
            "boolean" => Some("false"),
            "byte" | "short" | "char" => Some("0"),
            _ => None,
        };
        if let Some(z) = zero {
            want.iter_mut()
                .filter(|c| c.is_none())
                .for_each(|c| *c = Some(z.to_string()));
        }
        assert_eq!(got, want, "column {name}");
    }
}
