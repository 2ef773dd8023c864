//! Tests of the column encoder: its output against the reference
//! encoder's.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::*;
use arrow::datatypes::{Field, TimeUnit};

use super::*;
use crate::bridge::types::qwp_type_of;

use crate::bridge::column_data::SymbolDict as Dict;

fn md(k: &str, v: &str) -> HashMap<String, String> {
    [(k.to_string(), v.to_string())].into()
}

/// Fixed-width values with NULLs are gathered a 64-row word at a time:
/// all-valid words, mixed words and the tail, at a bit offset, match
/// the reference encoder, masked.
#[test]
fn gathered_fixed_values_match_the_reference() {
    let n = 300usize;
    let valid = |i: usize| i < 140 || !i.is_multiple_of(5);
    let cases: Vec<(Field, ArrayRef)> = vec![
        (
            Field::new("l", DataType::Int64, true),
            Arc::new(Int64Array::from_iter(
                (0..n).map(|i| valid(i).then_some(i as i64)),
            )),
        ),
        (
            Field::new("b", DataType::Int8, true),
            Arc::new(Int8Array::from_iter(
                (0..n).map(|i| valid(i).then_some(i as i8)),
            )),
        ),
        (
            Field::new("f", DataType::Float32, true),
            Arc::new(Float32Array::from_iter(
                (0..n).map(|i| valid(i).then_some(i as f32)),
            )),
        ),
    ];
    for (field, full) in &cases {
        let t = qwp_type_of(field).unwrap();
        for arr in [full.clone(), full.slice(3, n - 10), full.slice(64, 100)] {
            let reference = encode_array(field, &arr, t, &mut Dict::default())
                .unwrap()
                .to_bytes(&Layout::INGRESS);
            let enc =
                ColumnEncoder::new(field, &arr, t, &Layout::INGRESS, &mut Dict::default()).unwrap();
            let key = [3, 5, 7, 11];
            let mut m = vec![0; enc.encoded_len()];
            let mut out = Out::masked(&mut m, key, 2);
            enc.write(&mut out);
            assert!(out.is_full());
            for (i, b) in m.iter_mut().enumerate() {
                *b ^= key[(i + 2) % 4];
            }
            assert_eq!(m, reference, "{} at offset {}", field.name(), arr.offset());
        }
    }
}

/// Every fast path and fallback gives the same bytes as the reference
/// encoder, with and without nulls, sliced and not, in both layouts.
#[test]
fn fast_equals_reference() {
    let n = 150usize;
    let valid = |i: usize| i % 5 != 2;
    // One value longer than 12 bytes: view arrays keep it out of line.
    let words = ["alpha", "b", "", "delta-delta", "a longer value ü€"];
    let mut cases: Vec<(Field, ArrayRef)> = vec![
        (
            Field::new("i8", DataType::Int8, true),
            Arc::new(Int8Array::from_iter(
                (0..n).map(|i| valid(i).then_some(i as u8 as i8)),
            )),
        ),
        (
            Field::new("i16", DataType::Int16, true),
            Arc::new(Int16Array::from_iter(
                (0..n).map(|i| valid(i).then_some((i as i16).wrapping_mul(300))),
            )),
        ),
        (
            Field::new("i32", DataType::Int32, true),
            Arc::new(Int32Array::from_iter(
                (0..n).map(|i| valid(i).then_some(i as i32 * -7)),
            )),
        ),
        (
            Field::new("i64", DataType::Int64, true),
            Arc::new(Int64Array::from_iter(
                (0..n).map(|i| valid(i).then_some((i as i64) << 40)),
            )),
        ),
        (
            Field::new("f32", DataType::Float32, true),
            Arc::new(Float32Array::from_iter(
                (0..n).map(|i| valid(i).then_some(i as f32 / 3.0)),
            )),
        ),
        (
            Field::new("f64", DataType::Float64, true),
            Arc::new(Float64Array::from_iter(
                (0..n).map(|i| valid(i).then_some(i as f64 / 7.0)),
            )),
        ),
        (
            Field::new("c", DataType::UInt16, true)
                .with_metadata(md("questdb.column_type", "char")),
            Arc::new(UInt16Array::from_iter(
                (0..n).map(|i| valid(i).then_some(65 + i as u16)),
            )),
        ),
        (
            Field::new("ip", DataType::UInt32, true)
                .with_metadata(md("questdb.column_type", "ipv4")),
            Arc::new(UInt32Array::from_iter(
                (0..n).map(|i| valid(i).then_some(0xC0A8_0000 + i as u32)),
            )),
        ),
        (
            Field::new("d64", DataType::Date64, true),
            Arc::new(Date64Array::from_iter(
                (0..n).map(|i| valid(i).then_some(i as i64 * 86_400_000)),
            )),
        ),
        (
            Field::new("d32", DataType::Date32, true),
            Arc::new(Date32Array::from_iter(
                (0..n).map(|i| valid(i).then_some(i as i32)),
            )),
        ),
        (
            Field::new("dec64", DataType::Decimal64(18, 3), true),
            Arc::new(
                Decimal64Array::from_iter((0..n).map(|i| valid(i).then_some(i as i64 * 1001)))
                    .with_precision_and_scale(18, 3)
                    .unwrap(),
            ),
        ),
        (
            Field::new("dec128", DataType::Decimal128(38, 9), true),
            Arc::new(
                Decimal128Array::from_iter(
                    (0..n).map(|i| valid(i).then_some(i as i128 * -10_000_000_001)),
                )
                .with_precision_and_scale(38, 9)
                .unwrap(),
            ),
        ),
        (
            Field::new("b", DataType::Boolean, true),
            Arc::new(BooleanArray::from_iter(
                (0..n).map(|i| valid(i).then_some(i % 3 == 0)),
            )),
        ),
        (
            Field::new("ts_s", DataType::Timestamp(TimeUnit::Second, None), true),
            Arc::new(TimestampSecondArray::from_iter(
                (0..n).map(|i| valid(i).then_some(1_700_000_000 + i as i64)),
            )),
        ),
        (
            Field::new(
                "ts_ms",
                DataType::Timestamp(TimeUnit::Millisecond, None),
                true,
            ),
            Arc::new(TimestampMillisecondArray::from_iter(
                (0..n).map(|i| valid(i).then_some(1_700_000_000_000 + i as i64 * 10)),
            )),
        ),
        (
            Field::new(
                "ts_us",
                DataType::Timestamp(TimeUnit::Microsecond, None),
                true,
            ),
            Arc::new(TimestampMicrosecondArray::from_iter((0..n).map(|i| {
                valid(i).then_some((1_700_000_000_000_000 + i as i64 * 1000) ^ 7)
            }))),
        ),
        (
            Field::new(
                "ts_ns",
                DataType::Timestamp(TimeUnit::Nanosecond, None),
                true,
            ),
            Arc::new(TimestampNanosecondArray::from_iter(
                (0..n).map(|i| valid(i).then_some(i as i64 * 1_000_000_007)),
            )),
        ),
        (
            Field::new("s", DataType::Utf8, true),
            Arc::new(StringArray::from_iter(
                (0..n).map(|i| valid(i).then_some(words[i % 5])),
            )),
        ),
        (
            Field::new("ls", DataType::LargeUtf8, true),
            Arc::new(LargeStringArray::from_iter(
                (0..n).map(|i| valid(i).then_some(words[i % 5])),
            )),
        ),
        (
            Field::new("vs", DataType::Utf8View, true),
            Arc::new(StringViewArray::from_iter(
                (0..n).map(|i| valid(i).then_some(words[i % 5])),
            )),
        ),
        (
            Field::new("bin", DataType::Binary, true),
            Arc::new(BinaryArray::from_iter(
                (0..n).map(|i| valid(i).then_some(words[i % 5].as_bytes())),
            )),
        ),
        (
            Field::new("lbin", DataType::LargeBinary, true),
            Arc::new(LargeBinaryArray::from_iter(
                (0..n).map(|i| valid(i).then_some(words[i % 5].as_bytes())),
            )),
        ),
        (
            Field::new("sym_s", DataType::Utf8, true).with_metadata(md("questdb.symbol", "true")),
            Arc::new(StringArray::from_iter(
                (0..n).map(|i| valid(i).then_some(words[i % 5])),
            )),
        ),
    ];
    let dict: DictionaryArray<Int8Type> =
        (0..n).map(|i| valid(i).then_some(words[i % 5])).collect();
    cases.push((
        Field::new("sym_d", dict.data_type().clone(), true),
        Arc::new(dict),
    ));
    // polars' Categorical: UInt32 keys over Utf8View values.
    let keys = UInt32Array::from_iter((0..n).map(|i| valid(i).then_some((i % 5) as u32)));
    let view_dict = DictionaryArray::<UInt32Type>::try_new(
        keys,
        Arc::new(StringViewArray::from(words.to_vec())),
    )
    .unwrap();
    cases.push((
        Field::new("sym_view", view_dict.data_type().clone(), true),
        Arc::new(view_dict),
    ));
    cases.push((
        Field::new("bv", DataType::BinaryView, true),
        Arc::new(BinaryViewArray::from_iter(
            (0..n).map(|i| valid(i).then_some(words[i % 5].as_bytes())),
        )),
    ));
    let mut split = 0;
    for (field, full) in &cases {
        let t = qwp_type_of(field).unwrap();
        let keep = BooleanArray::from_iter((0..n).map(|i| Some(valid(i))));
        let no_nulls: ArrayRef = arrow::compute::filter(full, &keep).unwrap();
        for arr in [
            full.clone(),
            full.slice(3, n - 7),
            no_nulls.clone(),
            no_nulls.slice(1, 10),
        ] {
            // Symbol ids of one byte, and of two (200 ids taken first).
            for (layout, pad) in [
                (Layout::INGRESS, 0),
                (Layout::EGRESS, 0),
                (Layout::INGRESS, 200),
            ] {
                let mut d1 = Dict::default();
                let mut d2 = Dict::default();
                for i in 0..pad {
                    d1.id_of(&format!("pad{i}")).unwrap();
                    d2.id_of(&format!("pad{i}")).unwrap();
                }
                for w in words {
                    d1.id_of(w).unwrap();
                    d2.id_of(w).unwrap();
                }
                let reference = encode_array(field, &arr, t, &mut d1)
                    .unwrap()
                    .to_bytes(&layout);
                let enc = ColumnEncoder::new(field, &arr, t, &layout, &mut d2).unwrap();
                assert_eq!(enc.encoded_len(), reference.len(), "{} len", field.name());
                let mut b = vec![0xEE; enc.encoded_len()];
                let mut out = Out::plain(&mut b);
                enc.write(&mut out);
                assert!(out.is_full(), "{}", field.name());
                assert_eq!(
                    b,
                    reference,
                    "{} ({} rows, {:?})",
                    field.name(),
                    arr.len(),
                    layout.direction
                );
                // Masked at every phase: unmasking gives the same bytes.
                for phase in 0..4 {
                    let key = [0x11, 0x22, 0x44, 0x88];
                    let mut m = vec![0xEE; enc.encoded_len()];
                    let mut out = Out::masked(&mut m, key, phase);
                    enc.write(&mut out);
                    assert!(out.is_full());
                    for (i, b) in m.iter_mut().enumerate() {
                        *b ^= key[(i + phase) % 4];
                    }
                    assert_eq!(m, reference, "{} masked, phase {phase}", field.name());
                }
                // Cut into parts of at most 64 bytes, each written into
                // its own region of a masked output.
                let parts = enc.parts(64);
                split += usize::from(parts.len() > 1);
                let key = [9, 8, 7, 6];
                let mut m = vec![0xEE; enc.encoded_len()];
                let mut out = Out::masked(&mut m, key, 1);
                let mut regions = out.regions(parts.iter().map(Part::len));
                for (r, p) in regions.iter_mut().zip(&parts) {
                    p.write(r);
                    assert!(r.is_full(), "{}", field.name());
                }
                drop(regions);
                assert!(out.is_full(), "{} parts", field.name());
                for (i, b) in m.iter_mut().enumerate() {
                    *b ^= key[(i + 1) % 4];
                }
                assert_eq!(m, reference, "{} in {} parts", field.name(), parts.len());
            }
        }
    }
    // NULL-free fixed-width and zero-copy string columns were cut.
    assert!(split > 0);
}
