//! Golden, round-trip and property tests of the ILP codec.
//!
//! Sources of the expected bytes:
//! - Text syntax, escaping, NULLs, booleans, `t` timestamps, `0x..i`
//!   LONG256, `d` decimals: questdb/documentation,
//!   `ingestion/ilp/advanced-settings.md` ("Syntax", "Name restrictions",
//!   "Symbolset values", "Inserting NULL values") and
//!   `connect/compatibility/ilp/columnset-types.md`.
//! - Escaping vectors: questdb/questdb-client-test
//!   `ilp-client-interop-test.json` ("escaped chars in symbol", "escaped
//!   chars in string column", "escaped chars in table name", "no symbols or
//!   columns" → error).
//! - Binary forms (the documentation site does not spell them out; the
//!   official Rust client does, and is a dev-dependency here): v2 double
//!   `=` 16 + 8 bytes LE and array `=` 14 10 dims u32-LE shape f64-LE data
//!   (questdb-rs `ingress::buffer::ilp`, `column_f64` / `column_arr`), v3
//!   decimal `=` 23 scale length big-endian two's complement (questdb-rs
//!   `ingress::DecimalView` docs, worked example `123.45` → `= 23 2 2 0x30
//!   0x39`); designated timestamps: v1 nanoseconds without suffix, v2+ `t`
//!   / `n` suffix (questdb-rs `Buffer::at`).

use std::borrow::Cow;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Decimal128Array, Decimal256Array, DictionaryArray,
    FixedSizeBinaryArray, Float32Array, Float64Array, Float64Builder, Int8Array, Int64Array,
    ListBuilder, RecordBatch, StringArray, TimestampMicrosecondArray, TimestampMillisecondArray,
    TimestampNanosecondArray, UInt64Array,
};
use arrow::datatypes::{DataType, Field, Int32Type, Schema, i256};
use proptest::prelude::*;

use super::*;
use crate::bridge::ColumnOverride;
use crate::error::ErrorKind;
use crate::protocol::ColumnType;

fn batch(cols: Vec<(&str, ArrayRef)>) -> RecordBatch {
    let fields: Vec<Field> = cols
        .iter()
        .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
        .collect();
    RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        cols.into_iter().map(|(_, a)| a).collect(),
    )
    .unwrap()
}

fn encode_all(
    table: &str,
    b: &RecordBatch,
    v: IlpVersion,
    ts: Option<&str>,
    o: &[(String, ColumnOverride)],
) -> crate::Result<Vec<u8>> {
    let enc = IlpEncoder::new(table, &b.schema(), v, ts, o)?;
    let mut out = Vec::new();
    enc.encode(b, 0..b.num_rows(), &mut out)?;
    Ok(out)
}

fn sym(name: &str) -> Vec<(String, ColumnOverride)> {
    vec![(name.to_string(), ColumnOverride::Symbol)]
}

fn c(s: &str) -> Cow<'_, str> {
    Cow::Borrowed(s)
}

fn text(b: &[u8]) -> &str {
    std::str::from_utf8(b).unwrap()
}

/// Every v1 text type, NULLs left out, symbols first whatever the schema
/// order, designated timestamp in nanoseconds.
#[test]
fn golden_v1_every_text_type() {
    let dict: DictionaryArray<Int32Type> = vec![Some("eu"), Some("us"), None].into_iter().collect();
    let mut l256 = [0u8; 32];
    l256[0] = 0xa4;
    l256[1] = 0x23;
    l256[2] = 0x01; // 0x123a4, little-endian
    let l256 =
        FixedSizeBinaryArray::try_from_iter([l256, [0u8; 32], [0xFF; 32]].into_iter()).unwrap();
    let b = batch(vec![
        (
            "b",
            Arc::new(BooleanArray::from(vec![Some(true), Some(false), None])),
        ),
        (
            "i8",
            Arc::new(Int8Array::from(vec![Some(-5), None, Some(127)])),
        ),
        (
            "l",
            Arc::new(Int64Array::from(vec![Some(i64::MIN), Some(0), None])),
        ),
        (
            "u",
            Arc::new(UInt64Array::from(vec![Some(u64::MAX >> 1), None, Some(7)])),
        ),
        (
            "f",
            Arc::new(Float32Array::from(vec![Some(1.5), None, Some(-0.25)])),
        ),
        (
            "d",
            Arc::new(Float64Array::from(vec![
                Some(0.1),
                Some(f64::NAN),
                Some(f64::NEG_INFINITY),
            ])),
        ),
        (
            "s",
            Arc::new(StringArray::from(vec![
                Some("a \"q\" \\ b"),
                Some(""),
                None,
            ])),
        ),
        ("region", Arc::new(dict) as ArrayRef),
        (
            "host",
            Arc::new(StringArray::from(vec![Some("h 1,=x"), None, Some("h3")])),
        ),
        (
            "t",
            Arc::new(TimestampMillisecondArray::from(vec![
                Some(5),
                Some(-1),
                None,
            ])),
        ),
        (
            "tn",
            Arc::new(TimestampNanosecondArray::from(vec![
                Some(1_999),
                None,
                None,
            ])),
        ),
        (
            "day",
            Arc::new(Date32Array::from(vec![Some(1), None, None])),
        ),
        ("big", Arc::new(l256) as ArrayRef),
        (
            "ts",
            Arc::new(TimestampMicrosecondArray::from(vec![1_000_000, 2, 3])),
        ),
    ]);
    let mut o = sym("host");
    o.push(("big".into(), ColumnOverride::Long256));
    let out = encode_all("trades", &b, IlpVersion::V1, Some("ts"), &o).unwrap();
    let expected = concat!(
        "trades,region=eu,host=h\\ 1\\,\\=x b=t,i8=-5i,l=-9223372036854775808i,u=9223372036854775807i,",
        "f=1.5,d=0.1,s=\"a \\\"q\\\" \\\\ b\",t=5000t,tn=1t,day=86400000000t,big=0x123a4i 1000000000\n",
        "trades,region=us b=f,l=0i,d=NaN,s=\"\",t=-1000t,big=0x0i 2000\n",
        "trades,host=h3 i8=127i,u=7i,f=-0.25,d=-Infinity,",
        "big=0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffi 3000\n",
    );
    assert_eq!(text(&out), expected);
}

/// The interop suite's escaping vectors, and no timestamp = server time.
#[test]
fn golden_escaping() {
    let b = batch(vec![(
        "name 1=2",
        Arc::new(StringArray::from(vec!["value 1,2=3\n4\r5\"6\\7"])) as ArrayRef,
    )]);
    let out = encode_all("test_table", &b, IlpVersion::V1, None, &sym("name 1=2")).unwrap();
    assert_eq!(
        text(&out),
        "test_table,name\\ 1\\=2=value\\ 1\\,2\\=3\\\n4\\\r5\"6\\\\7\n"
    );
    let out = encode_all("test_table", &b, IlpVersion::V1, None, &[]).unwrap();
    assert_eq!(
        text(&out),
        "test_table name\\ 1\\=2=\"value 1,2=3\\\n4\\\r5\\\"6\\\\7\"\n"
    );
    let b = batch(vec![(
        "a_col",
        Arc::new(Int64Array::from(vec![42])) as ArrayRef,
    )]);
    let out = encode_all("test 1=2", &b, IlpVersion::V1, None, &[]).unwrap();
    assert_eq!(text(&out), "test\\ 1\\=2 a_col=42i\n");
    let out = encode_all("foobar.csv", &b, IlpVersion::V1, None, &[]).unwrap();
    assert_eq!(text(&out), "foobar.csv a_col=42i\n");
}

/// v2: doubles binary, arrays binary, designated timestamp suffixed.
#[test]
fn golden_v2_binary_doubles_and_arrays() {
    let mut lb = ListBuilder::new(ListBuilder::new(Float64Builder::new()));
    for row in [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]] {
        for v in row {
            lb.values().values().append_value(v);
        }
        lb.values().append(true);
    }
    lb.append(true);
    lb.append_null();
    let arr = lb.finish();
    let b = batch(vec![
        (
            "x",
            Arc::new(Float64Array::from(vec![Some(42.5), None])) as ArrayRef,
        ),
        ("m", Arc::new(arr) as ArrayRef),
        (
            "s",
            Arc::new(StringArray::from(vec![None, Some("k")])) as ArrayRef,
        ),
        (
            "ts",
            Arc::new(TimestampNanosecondArray::from(vec![7, 8])) as ArrayRef,
        ),
    ]);
    let out = encode_all("t", &b, IlpVersion::V2, Some("ts"), &sym("s")).unwrap();
    let mut want = b"t x==\x10".to_vec();
    want.extend_from_slice(&42.5f64.to_le_bytes());
    want.extend_from_slice(b",m==\x0e\x0a\x02");
    want.extend_from_slice(&2u32.to_le_bytes());
    want.extend_from_slice(&3u32.to_le_bytes());
    for v in [1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0] {
        want.extend_from_slice(&v.to_le_bytes());
    }
    want.extend_from_slice(b" 7n\nt,s=k 8n\n");
    assert_eq!(out, want);
    // The same column in µs gets a `t` suffix.
    let b = batch(vec![
        ("x", Arc::new(Float64Array::from(vec![1.0])) as ArrayRef),
        (
            "ts",
            Arc::new(TimestampMicrosecondArray::from(vec![9])) as ArrayRef,
        ),
    ]);
    let mut want = b"t x==\x10".to_vec();
    want.extend_from_slice(&1.0f64.to_le_bytes());
    want.extend_from_slice(b" 9t\n");
    assert_eq!(
        encode_all("t", &b, IlpVersion::V2, Some("ts"), &[]).unwrap(),
        want
    );
}

/// v3 decimals: `=` 23 scale length and the shortest big-endian two's
/// complement unscaled value.
#[test]
fn golden_v3_decimals() {
    let d = Decimal128Array::from(vec![Some(12345), Some(-1), Some(128), None, Some(0)])
        .with_precision_and_scale(38, 2)
        .unwrap();
    let w = Decimal256Array::from(vec![
        Some(i256::MAX),
        Some(i256::from_i128(-129)),
        None,
        None,
        Some(i256::ZERO),
    ])
    .with_precision_and_scale(76, 0)
    .unwrap();
    let b = batch(vec![
        ("p", Arc::new(d) as ArrayRef),
        ("w", Arc::new(w) as ArrayRef),
    ]);
    let mut want = b"fx p==\x17\x02\x02\x30\x39,w==\x17\x00\x20\x7f".to_vec();
    want.extend_from_slice(&[0xFF; 31]);
    want.extend_from_slice(b"\nfx p==\x17\x02\x01\xff,w==\x17\x00\x02\xff\x7f\n");
    want.extend_from_slice(b"fx p==\x17\x02\x02\x00\x80\n");
    want.extend_from_slice(b"fx p==\x17\x02\x01\x00,w==\x17\x00\x01\x00\n");
    // Row 3 is all NULL.
    let err = encode_all("fx", &b, IlpVersion::V3, None, &[]).unwrap_err();
    assert!(err.to_string().contains("row 3"), "{err}");
    let enc = IlpEncoder::new("fx", &b.schema(), IlpVersion::V3, None, &[]).unwrap();
    let mut out = Vec::new();
    enc.encode(&b, 0..3, &mut out).unwrap();
    enc.encode(&b, 4..5, &mut out).unwrap();
    assert_eq!(out, want);
    // Decimal columns need v3.
    let e = IlpEncoder::new("fx", &b.schema(), IlpVersion::V2, None, &[]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert!(
        e.to_string().contains("\"p\"") && e.to_string().contains("version 3"),
        "{e}"
    );
}

/// Byte-for-byte the official Rust client's ILP buffer, in every version.
#[test]
fn same_bytes_as_the_official_client() {
    use questdb::ingress::{Buffer, ProtocolVersion, TimestampMicros, TimestampNanos};
    let b = batch(vec![
        (
            "sym",
            Arc::new(StringArray::from(vec!["a b", "c,d"])) as ArrayRef,
        ),
        (
            "n",
            Arc::new(Int64Array::from(vec![-3, 9_000_000_000])) as ArrayRef,
        ),
        (
            "x",
            Arc::new(Float64Array::from(vec![1e100, -1e-6])) as ArrayRef,
        ),
        (
            "s",
            Arc::new(StringArray::from(vec!["q\"\\\n", "é"])) as ArrayRef,
        ),
        (
            "ok",
            Arc::new(BooleanArray::from(vec![true, false])) as ArrayRef,
        ),
        (
            "at",
            Arc::new(TimestampMicrosecondArray::from(vec![11, 12])) as ArrayRef,
        ),
        (
            "tn",
            Arc::new(TimestampNanosecondArray::from(vec![1_234_567, 5])) as ArrayRef,
        ),
        (
            "ts",
            Arc::new(TimestampNanosecondArray::from(vec![
                1_700_000_000_123_456_789,
                0,
            ])) as ArrayRef,
        ),
    ]);
    for (ours, theirs) in [
        (IlpVersion::V1, ProtocolVersion::V1),
        (IlpVersion::V2, ProtocolVersion::V2),
        (IlpVersion::V3, ProtocolVersion::V3),
    ] {
        let out = encode_all("tab", &b, ours, Some("ts"), &sym("sym")).unwrap();
        let mut buf = Buffer::new(theirs);
        for r in 0..2 {
            let sym = ["a b", "c,d"][r];
            buf.table("tab").unwrap().symbol("sym", sym).unwrap();
            buf.column_i64("n", [-3, 9_000_000_000][r]).unwrap();
            buf.column_f64("x", [1e100, -1e-6][r]).unwrap();
            buf.column_str("s", ["q\"\\\n", "é"][r]).unwrap();
            buf.column_bool("ok", r == 0).unwrap();
            buf.column_ts("at", TimestampMicros::new([11, 12][r]))
                .unwrap();
            buf.column_ts("tn", TimestampNanos::new([1_234_567, 5][r]))
                .unwrap();
            buf.at(TimestampNanos::new([1_700_000_000_123_456_789, 0][r]))
                .unwrap();
        }
        assert_eq!(out, buf.as_bytes(), "version {ours}");
    }
}

#[test]
fn refusals_name_the_column_before_writing() {
    let uuid = Field::new("id", DataType::FixedSizeBinary(16), true)
        .with_metadata([("ARROW:extension:name".to_string(), "arrow.uuid".to_string())].into());
    let list = |inner: DataType| DataType::List(Arc::new(Field::new("item", inner, true)));
    let cases: Vec<(Field, IlpVersion, &str)> = vec![
        (uuid, IlpVersion::V3, "\"id\""),
        (
            Field::new("bin", DataType::Binary, true),
            IlpVersion::V3,
            "\"bin\"",
        ),
        (
            Field::new("arr", list(DataType::Float64), true),
            IlpVersion::V1,
            "version 2",
        ),
        (
            Field::new("la", list(DataType::Int64), true),
            IlpVersion::V3,
            "Float64",
        ),
        (
            Field::new("bad.name", DataType::Int64, true),
            IlpVersion::V1,
            "bad.name",
        ),
        (
            Field::new(
                "st",
                DataType::Struct(vec![Field::new("a", DataType::Int8, true)].into()),
                true,
            ),
            IlpVersion::V3,
            "\"st\"",
        ),
    ];
    for (f, v, needle) in cases {
        let e = IlpEncoder::new("t", &Schema::new(vec![f]), v, None, &[]).unwrap_err();
        assert!(e.to_string().contains(needle), "{e}");
    }
    let s = Schema::new(vec![Field::new("x", DataType::Int64, true)]);
    assert!(IlpEncoder::new("a/b", &s, IlpVersion::V1, None, &[]).is_err());
    assert!(IlpEncoder::new(".t", &s, IlpVersion::V1, None, &[]).is_err());
    assert!(IlpEncoder::new("t", &s, IlpVersion::V1, Some("nope"), &[]).is_err());
    let e = IlpEncoder::new("t", &s, IlpVersion::V1, Some("x"), &[]).unwrap_err();
    assert!(e.to_string().contains("Timestamp"), "{e}");
}

#[test]
fn row_errors_leave_the_buffer_as_it_was() {
    let mut lb = ListBuilder::new(ListBuilder::new(Float64Builder::new()));
    lb.values().values().append_value(1.0);
    lb.values().append(true);
    lb.values().append(true); // a second, empty inner list: ragged
    lb.append(true);
    let cases: Vec<(RecordBatch, Option<&str>, &str)> = vec![
        (
            batch(vec![(
                "u",
                Arc::new(UInt64Array::from(vec![1, u64::MAX])) as ArrayRef,
            )]),
            None,
            "row 1",
        ),
        (
            batch(vec![("m", Arc::new(lb.finish()) as ArrayRef)]),
            None,
            "rectangular",
        ),
        (
            batch(vec![
                ("x", Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef),
                (
                    "ts",
                    Arc::new(TimestampMicrosecondArray::from(vec![Some(1), None])) as ArrayRef,
                ),
            ]),
            Some("ts"),
            "NULL",
        ),
        (
            batch(vec![
                ("x", Arc::new(Int64Array::from(vec![1])) as ArrayRef),
                (
                    "ts",
                    Arc::new(TimestampMicrosecondArray::from(vec![-1])) as ArrayRef,
                ),
            ]),
            Some("ts"),
            "negative",
        ),
        (
            batch(vec![(
                "x",
                Arc::new(Int64Array::from(vec![Some(1), None])) as ArrayRef,
            )]),
            None,
            "every column is NULL",
        ),
    ];
    for (b, ts, needle) in cases {
        let enc = IlpEncoder::new("t", &b.schema(), IlpVersion::V2, ts, &[]).unwrap();
        let mut out = b"keep".to_vec();
        let e = enc.encode(&b, 0..b.num_rows(), &mut out).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidData);
        assert!(e.to_string().contains(needle), "{e}");
        assert_eq!(out, b"keep");
        assert!(enc.encode_parallel(&b).is_err());
    }
}

/// A batch over several chunks: parallel equals sequential, the length
/// bound holds, and every line decodes back to the batch's values.
#[test]
fn parallel_matches_sequential_and_round_trips() {
    let n = 5000;
    let ints: Vec<Option<i64>> = (0..n)
        .map(|i| (i % 7 != 0).then_some(i as i64 * 31 - 900))
        .collect();
    let floats: Vec<f64> = (0..n).map(|i| i as f64 / 3.0).collect();
    let strs: Vec<Option<String>> = (0..n)
        .map(|i| (i % 5 != 0).then(|| format!("v{i} \"x\",={}", i % 3)))
        .collect();
    let syms: Vec<&str> = (0..n).map(|i| ["a b", "c", "d=e"][i % 3]).collect();
    let ts: Vec<i64> = (0..n).map(|i| 1_000 + i as i64).collect();
    let b = batch(vec![
        ("k", Arc::new(StringArray::from(syms.clone())) as ArrayRef),
        ("i", Arc::new(Int64Array::from(ints.clone())) as ArrayRef),
        (
            "f",
            Arc::new(Float64Array::from(floats.clone())) as ArrayRef,
        ),
        ("s", Arc::new(StringArray::from(strs.clone())) as ArrayRef),
        (
            "ts",
            Arc::new(TimestampMicrosecondArray::from(ts.clone())) as ArrayRef,
        ),
    ]);
    for v in [IlpVersion::V1, IlpVersion::V2] {
        let enc = IlpEncoder::new("rt", &b.schema(), v, Some("ts"), &sym("k")).unwrap();
        let mut seq = Vec::new();
        enc.encode(&b, 0..n, &mut seq).unwrap();
        assert_eq!(enc.encode_parallel(&b).unwrap(), seq);
        assert!(enc.encoded_len(&b, 0..n).unwrap() >= seq.len());
        let lines: Vec<Line<'_>> = parse_lines(&seq, v).collect::<Result<_, _>>().unwrap();
        assert_eq!(lines.len(), n);
        for (r, l) in lines.iter().enumerate() {
            assert_eq!(l.table, "rt");
            assert_eq!(l.symbols, vec![(c("k"), c(syms[r]))]);
            let mut want = Vec::new();
            if let Some(i) = ints[r] {
                want.push((c("i"), FieldValue::Integer(i)));
            }
            want.push((c("f"), FieldValue::Float(floats[r])));
            if let Some(s) = &strs[r] {
                want.push((c("s"), FieldValue::String(c(s))));
            }
            assert_eq!(l.fields, want, "row {r}");
            let unit = if v == IlpVersion::V1 {
                TimestampUnit::Nanos
            } else {
                TimestampUnit::Micros
            };
            let value = if v == IlpVersion::V1 {
                ts[r] * 1000
            } else {
                ts[r]
            };
            assert_eq!(l.timestamp, Some(LineTimestamp { value, unit }));
        }
    }
}

#[test]
fn decoder_reads_every_value_form() {
    let mut input = b"# comment\r\n\nm,a=x\\ y,b= f1=1i,f2=-2.5e3,f3=T,f4=FALSE,f5=\"s\\\"\\\\\",f6=0x1Fi,f7=5t,f8=6n,f9=NaN 123\r\n".to_vec();
    input.extend_from_slice(b"m f==\x10");
    input.extend_from_slice(&0.5f64.to_le_bytes());
    input.extend_from_slice(b",g==\x0e\x0a\x01\x02\x00\x00\x00");
    input.extend_from_slice(&1.0f64.to_le_bytes());
    input.extend_from_slice(&2.0f64.to_le_bytes());
    input.extend_from_slice(b",d=-1.50d,e==\x17\x01\x01\xf1 9t\nm,s=v 77");
    let lines: Vec<Line<'_>> = parse_lines(&input, IlpVersion::V3)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(lines.len(), 3);
    let l = &lines[0];
    assert_eq!(l.symbols, vec![(c("a"), c("x y")), (c("b"), c(""))]);
    let f: Vec<&FieldValue<'_>> = l.fields.iter().map(|(_, v)| v).collect();
    assert_eq!(f[0], &FieldValue::Integer(1));
    assert_eq!(f[1], &FieldValue::Float(-2500.0));
    assert_eq!(f[2], &FieldValue::Boolean(true));
    assert_eq!(f[3], &FieldValue::Boolean(false));
    assert_eq!(f[4], &FieldValue::String(c("s\"\\")));
    assert_eq!(f[5], &FieldValue::Long256("1F"));
    assert_eq!(
        f[6],
        &FieldValue::Timestamp(LineTimestamp {
            value: 5,
            unit: TimestampUnit::Micros
        })
    );
    assert_eq!(
        f[7],
        &FieldValue::Timestamp(LineTimestamp {
            value: 6,
            unit: TimestampUnit::Nanos
        })
    );
    assert!(matches!(f[8], FieldValue::Float(x) if x.is_nan()));
    assert_eq!(
        l.timestamp,
        Some(LineTimestamp {
            value: 123,
            unit: TimestampUnit::Nanos
        })
    );
    let types: Vec<ColumnType> = f.iter().map(|v| infer_type(v)).collect();
    use ColumnType as T;
    assert_eq!(
        types,
        [
            T::Long,
            T::Double,
            T::Boolean,
            T::Boolean,
            T::Varchar,
            T::Long256,
            T::Timestamp,
            T::TimestampNanos,
            T::Double
        ]
    );
    let l = &lines[1];
    assert_eq!(l.fields[0].1, FieldValue::Float(0.5));
    let FieldValue::DoubleArray(a) = &l.fields[1].1 else {
        panic!("{:?}", l.fields[1])
    };
    assert_eq!(
        (
            a.shape().collect::<Vec<_>>(),
            a.values().collect::<Vec<_>>()
        ),
        (vec![2], vec![1.0, 2.0])
    );
    assert_eq!(infer_type(&l.fields[1].1), T::DoubleArray);
    let dec = |v: &FieldValue<'_>| match v {
        FieldValue::Decimal(d) => d.value().map(|d| (d.unscaled, d.scale)),
        other => panic!("{other:?}"),
    };
    assert_eq!(dec(&l.fields[2].1), Some((i256::from_i128(-150), 2)));
    assert_eq!(dec(&l.fields[3].1), Some((i256::from_i128(-15), 1)));
    assert_eq!(infer_type(&l.fields[3].1), T::Decimal64);
    assert_eq!(
        l.timestamp,
        Some(LineTimestamp {
            value: 9,
            unit: TimestampUnit::Micros
        })
    );
    assert_eq!(lines[2].fields, vec![]);
    assert_eq!(lines[2].timestamp.map(|t| t.value), Some(77));
}

#[test]
fn decoder_errors_name_the_line() {
    let cases: [(&[u8], IlpVersion, usize, &str); 9] = [
        (
            b"t x=1i\n\nt\n",
            IlpVersion::V1,
            3,
            "no symbols and no columns",
        ),
        (b"t x=1i\nt x=\"open\n", IlpVersion::V1, 2, "escaped"),
        (b"t x=abc\n", IlpVersion::V1, 1, "not a valid value"),
        (
            b"t x==\x10\x00\x00\x00\x00\x00\x00\xf0\x3f\n",
            IlpVersion::V1,
            1,
            "version 2",
        ),
        (b"t x==\x10\x00\x00", IlpVersion::V2, 1, "ends inside"),
        (b"t x==\x17\x00\x01\x01\n", IlpVersion::V2, 1, "version 3"),
        (b"t x=1.5d\n", IlpVersion::V2, 1, "not a valid value"),
        (b"t x=1i 12x\n", IlpVersion::V1, 1, "not an integer"),
        (b"t x=1i,\n", IlpVersion::V1, 1, "empty"),
    ];
    for (input, v, line_no, needle) in cases {
        let mut it = parse_lines(input, v);
        let e = it.by_ref().find_map(Result::err).unwrap();
        assert_eq!(e.line_no, line_no, "{e}");
        assert!(e.message.contains(needle), "{e}");
        assert!(e.offset <= input.len());
        assert!(it.next().is_none(), "iteration stops after an error");
        let ours: crate::Error = e.into();
        assert_eq!(ours.kind(), ErrorKind::Protocol);
    }
}

#[test]
fn decoder_integers_of_every_digit_count_and_a_bad_byte_anywhere() {
    let mut digits = String::new();
    for n in 1..=19usize {
        digits.push(char::from(b'0' + (n % 10) as u8));
        let want: i64 = digits.parse().unwrap();
        for (text, want) in [(digits.clone(), want), (format!("-{digits}"), -want)] {
            let input = format!("t x={text}i {text}\n");
            let line = parse_lines(input.as_bytes(), IlpVersion::V1)
                .next()
                .unwrap()
                .unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(line.fields[0].1, FieldValue::Integer(want), "{text}");
            assert_eq!(line.timestamp.map(|t| t.value), Some(want), "{text}");
        }
        for at in 0..n {
            for bad in [b'/', b':', b'a', b' '] {
                let mut text = digits.clone().into_bytes();
                text[at] = bad;
                let text = String::from_utf8(text).unwrap();
                let input = format!("t x=1i {text}\n");
                let r = parse_lines(input.as_bytes(), IlpVersion::V1)
                    .next()
                    .unwrap();
                assert!(r.is_err(), "timestamp {text:?} parsed as {r:?}");
            }
        }
    }
}

#[test]
fn decoder_integers_at_every_length_and_bound() {
    let ok: [(&str, i64); 9] = [
        ("0", 0),
        ("-0", 0),
        ("7", 7),
        ("999999999999999999", 999_999_999_999_999_999),
        ("-999999999999999999", -999_999_999_999_999_999),
        ("1000000000000000000", 1_000_000_000_000_000_000),
        ("9223372036854775807", i64::MAX),
        ("-9223372036854775808", i64::MIN),
        ("0000000000000000000000042", 42),
    ];
    for (digits, want) in ok {
        let input = format!("t x={digits}i {digits}\n");
        let line = parse_lines(input.as_bytes(), IlpVersion::V1)
            .next()
            .unwrap()
            .unwrap_or_else(|e| panic!("{digits}: {e}"));
        assert_eq!(line.fields[0].1, FieldValue::Integer(want), "{digits}");
        assert_eq!(line.timestamp.map(|t| t.value), Some(want), "{digits}");
    }
    for bad in [
        "9223372036854775808",
        "-9223372036854775809",
        "12a4",
        "1:",
        "-",
        "--1",
        "1-",
        "99999999999999999999",
    ] {
        let input = format!("t x={bad}i\n");
        let r = parse_lines(input.as_bytes(), IlpVersion::V1)
            .next()
            .unwrap();
        assert!(r.is_err(), "{bad} parsed as {r:?}");
        let input = format!("t x=1i {bad}\n");
        let r = parse_lines(input.as_bytes(), IlpVersion::V1)
            .next()
            .unwrap();
        assert!(r.is_err(), "timestamp {bad} parsed as {r:?}");
    }
}

#[test]
fn next_into_reuses_the_line_and_matches_the_iterator() {
    let input = b"a,s=1,t=2 x=1i,y=\"q\" 5\nb z=2.5\n# c\na,s=x\\ y w=t 6\nc,k=v\n";
    let expected: Vec<Line<'_>> = parse_lines(input, IlpVersion::V1)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(expected.len(), 4);
    let mut lines = parse_lines(input, IlpVersion::V1);
    let mut line = Line::empty();
    let mut seen = Vec::new();
    while let Some(r) = lines.next_into(&mut line) {
        r.unwrap();
        seen.push((line.clone(), lines.line_no()));
    }
    let got: Vec<Line<'_>> = seen.iter().map(|(l, _)| l.clone()).collect();
    assert_eq!(got, expected, "a reused line holds only its own values");
    let numbers: Vec<usize> = seen.iter().map(|(_, n)| *n).collect();
    assert_eq!(numbers, [1, 2, 4, 5]);
}

fn valid_name() -> impl Strategy<Value = String> {
    "[a-zA-Z_ =é\u{4e2d}0-9]{1,20}"
        .prop_filter("valid column name", |s| validate_column_name(s).is_ok())
}

proptest! {
    /// Arbitrary symbol values, strings and (valid) names survive
    /// encode → decode.
    #[test]
    fn escaping_round_trips(
        table in valid_name(),
        sym_name in valid_name(),
        col_name in valid_name(),
        sym_value in "\\PC{1,30}|[ ,=\\\\\n\r\"]{1,10}",
        string in "\\PC{0,30}|[ ,=\\\\\n\r\"]{0,10}",
    ) {
        prop_assume!(sym_name != col_name);
        let b = batch(vec![
            (sym_name.as_str(), Arc::new(StringArray::from(vec![sym_value.clone()])) as ArrayRef),
            (col_name.as_str(), Arc::new(StringArray::from(vec![string.clone()])) as ArrayRef),
        ]);
        let out = encode_all(&table, &b, IlpVersion::V1, None, &sym(&sym_name)).unwrap();
        let lines: Vec<Line<'_>> = parse_lines(&out, IlpVersion::V1).collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(lines.len(), 1);
        prop_assert_eq!(&lines[0].table, &table);
        prop_assert_eq!(&lines[0].symbols, &vec![(c(&sym_name), c(&sym_value))]);
        prop_assert_eq!(&lines[0].fields, &vec![(c(&col_name), FieldValue::String(c(&string)))]);
    }

    /// Every prefix of valid input, and any bytes, parse without panicking.
    #[test]
    fn decoder_never_panics(noise in proptest::collection::vec(any::<u8>(), 0..64), v in 1u8..=3) {
        let version = IlpVersion::from_number(v).unwrap();
        let mut input = b"m,a=x\\ y x=1i,s=\"q\\\"\",f==\x10".to_vec();
        input.extend_from_slice(&1.5f64.to_le_bytes());
        input.extend_from_slice(b",g==\x0e\x0a\x01\x01\x00\x00\x00");
        input.extend_from_slice(&2.0f64.to_le_bytes());
        input.extend_from_slice(b",d==\x17\x01\x02\x01\x00,e=2.5d 9n\r\n");
        for cut in 0..=input.len() {
            let _ = parse_lines(&input[..cut], version).count();
        }
        let _ = parse_lines(&noise, version).count();
        let mut spliced = input.clone();
        spliced.extend_from_slice(&noise);
        let _ = parse_lines(&spliced, version).count();
    }
}
