//! The ILP line parser (`protocol::ilp::parse_lines`) on arbitrary bytes,
//! and the encoder's output parsed back.
//!
//! Byte 0 bit 0 clear: the rest is ILP input, parsed in protocol version
//! `1 + (byte0 >> 1) % 3`; it must not panic, every line has a table and at
//! least one symbol or column, an error names a line and an offset inside
//! the input and ends the iteration. Bit 0 set: the rest is split on
//! `\xFF\xFEQW` into rows (symbol and string = the row's bytes as lossy
//! UTF-8, integer and double = its first 16 bytes); the batch is encoded by
//! `IlpEncoder` and parsed back, and the values must be the same.
#![no_main]

#[path = "split.rs"]
mod split;

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use questdb_arrow::bridge::ColumnOverride;
use questdb_arrow::protocol::ilp::{FieldValue, IlpEncoder, IlpVersion, parse_lines};

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};

fn check_parse(input: &[u8], version: IlpVersion) {
    let mut errors = 0;
    for r in parse_lines(input, version) {
        assert_eq!(errors, 0, "no item after an error");
        match r {
            Ok(line) => {
                assert!(!line.table.is_empty());
                assert!(!line.symbols.is_empty() || !line.fields.is_empty());
            }
            Err(e) => {
                assert!(e.line_no >= 1 && e.offset <= input.len(), "{e}");
                errors += 1;
            }
        }
    }
}

fn round_trip(rows: &[&[u8]], version: IlpVersion) {
    let word = |r: &[u8], at: usize| {
        let mut b = [0u8; 8];
        for (i, x) in r.iter().skip(at).take(8).enumerate() {
            b[i] = *x;
        }
        b
    };
    let strs: Vec<String> = rows.iter().map(|r| String::from_utf8_lossy(r).into_owned()).collect();
    let ints: Vec<i64> = rows.iter().map(|r| i64::from_le_bytes(word(r, 0))).collect();
    let floats: Vec<f64> = rows.iter().map(|r| f64::from_le_bytes(word(r, 8))).collect();
    let schema = Schema::new(vec![
        Field::new("s", DataType::Utf8, true),
        Field::new("v", DataType::Utf8, true),
        Field::new("i", DataType::Int64, true),
        Field::new("f", DataType::Float64, true),
    ]);
    let cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(strs.clone())),
        Arc::new(StringArray::from(strs.clone())),
        Arc::new(Int64Array::from(ints.clone())),
        Arc::new(Float64Array::from(floats.clone())),
    ];
    let batch = RecordBatch::try_new(Arc::new(schema), cols).expect("valid batch");
    let enc = IlpEncoder::new(
        "fuzz",
        &batch.schema(),
        version,
        None,
        &[("s".to_string(), ColumnOverride::Symbol)],
    )
    .expect("valid schema");
    let out = enc.encode_parallel(&batch).expect("encodable rows");
    assert!(out.len() <= enc.encoded_len(&batch, 0..rows.len()).expect("length"));
    let lines: Vec<_> = parse_lines(&out, version)
        .collect::<Result<_, _>>()
        .expect("encoder output parses");
    assert_eq!(lines.len(), rows.len());
    for (r, line) in lines.iter().enumerate() {
        assert_eq!(line.table, "fuzz");
        // An empty symbol value is written as `s=` and read back as "".
        assert_eq!(line.symbols.len(), 1);
        assert_eq!(line.symbols[0].1, strs[r].as_str());
        assert_eq!(line.fields.len(), 3);
        assert_eq!(line.fields[0].1, FieldValue::String(strs[r].as_str().into()));
        assert_eq!(line.fields[1].1, FieldValue::Integer(ints[r]));
        match &line.fields[2].1 {
            FieldValue::Float(x) => assert!(
                x.to_bits() == floats[r].to_bits() || (x.is_nan() && floats[r].is_nan()),
                "row {r}: {x} != {}",
                floats[r]
            ),
            other => panic!("row {r}: {other:?}"),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let version = IlpVersion::from_number(1 + (mode >> 1) % 3).expect("1..=3");
    if mode & 1 == 0 {
        check_parse(rest, version);
    } else {
        round_trip(&split::split(rest), version);
    }
});
