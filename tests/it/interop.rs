//! Interop with the official client crate `questdb-rs` 7.2.1 (lib `questdb`):
//! its QWP/WebSocket sender writes into the embedded server, its reader
//! (row cursor and Arrow adapter) queries it.
//!
//! Every test starts its own server on `127.0.0.1:0` and uses its own
//! table names.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{
    Array, ArrayRef, BinaryArray, BooleanArray, Date64Array, Decimal64Array, Decimal128Array,
    Decimal256Array, DictionaryArray, FixedSizeBinaryArray, Float32Array, Float64Array,
    Float64Builder, Int8Array, Int16Array, Int32Array, Int64Array, Int64Builder, ListArray,
    ListBuilder, RecordBatch, StringArray, TimestampMicrosecondArray, TimestampNanosecondArray,
    UInt16Array, UInt32Array,
};
use arrow::datatypes::{DataType, Field, Float64Type, Int32Type, Schema, TimeUnit, i256};
use questdb::QuestDb;
use questdb::egress::{ColumnKind, ColumnView, Cursor, Reader, SimpleNullKind, Terminal};
use questdb::ingress::{AckLevel, ColumnName, TimestampMicros, TimestampNanos};
use questdb::{ErrorCode, Result as QResult};
use questdb_arrow::server::{Server, ServerBuilder, ServerHandle};

/// No-progress bound for acknowledgements; generous for a loaded machine.
const ACK_TIMEOUT: Duration = Duration::from_secs(60);

/// 2023-11-14T22:13:20Z in µs.
const T0_US: i64 = 1_700_000_000_000_000;

fn start(b: ServerBuilder) -> ServerHandle {
    b.bind("127.0.0.1:0")
        .start()
        .expect("start embedded server")
}

fn connect(srv: &ServerHandle, extra: &str) -> QuestDb {
    let conf = format!("{}{extra}", srv.conf_string());
    QuestDb::connect(&conf).unwrap_or_else(|e| panic!("QuestDb::connect({conf}): {e}"))
}

// ---------------------------------------------------------------------------
// Stored-table helpers
// ---------------------------------------------------------------------------

fn stored(srv: &ServerHandle, table: &str) -> RecordBatch {
    srv.table_batch(table)
        .unwrap_or_else(|| panic!("table {table} not stored; tables: {:?}", srv.table_names()))
}

/// Column `name` of `b`, checking its Arrow type and `questdb.column_type`.
fn column(b: &RecordBatch, name: &str, dt: &DataType, qtype: &str) -> ArrayRef {
    let schema = b.schema();
    let (i, f) = schema
        .column_with_name(name)
        .unwrap_or_else(|| panic!("column {name} missing; schema: {:?}", schema.fields()));
    assert_eq!(f.data_type(), dt, "column {name}: Arrow type");
    assert_eq!(
        f.metadata().get("questdb.column_type").map(String::as_str),
        Some(qtype),
        "column {name}: questdb.column_type metadata ({:?})",
        f.metadata()
    );
    b.column(i).clone()
}

/// Dictionary-encoded strings as plain Utf8 (dictionary keys are
/// server-chosen and not comparable).
fn as_utf8(a: &ArrayRef) -> ArrayRef {
    match a.data_type() {
        DataType::Dictionary(_, _) => arrow::compute::cast(a, &DataType::Utf8).expect("cast dict"),
        _ => a.clone(),
    }
}

#[track_caller]
fn same(name: &str, got: &ArrayRef, want: &dyn Array) {
    if got.as_ref() != want {
        panic!("column {name}: stored values differ\n got: {got:?}\nwant: {want:?}");
    }
}

fn list_f64(rows: &[Option<Vec<f64>>]) -> ListArray {
    ListArray::from_iter_primitive::<Float64Type, _, _>(rows.iter().map(|r| {
        r.as_ref()
            .map(|v| v.iter().map(|x| Some(*x)).collect::<Vec<_>>())
    }))
}

fn list_i64(rows: &[Option<Vec<i64>>]) -> ListArray {
    let mut b = ListBuilder::new(Int64Builder::new());
    for r in rows {
        match r {
            Some(v) => {
                for x in v {
                    b.values().append_value(*x);
                }
                b.append(true);
            }
            None => b.append(false),
        }
    }
    b.finish()
}

fn list2_f64(rows: &[Option<Vec<Vec<f64>>>]) -> ListArray {
    let mut b = ListBuilder::new(ListBuilder::new(Float64Builder::new()));
    for r in rows {
        match r {
            Some(outer) => {
                for inner in outer {
                    for x in inner {
                        b.values().values().append_value(*x);
                    }
                    b.values().append(true);
                }
                b.append(true);
            }
            None => b.append(false),
        }
    }
    b.finish()
}

fn uuid_bytes(lo: u64, hi: u64) -> [u8; 16] {
    ((u128::from(hi) << 64) | u128::from(lo)).to_be_bytes()
}

fn l256(seed: u8) -> [u8; 32] {
    std::array::from_fn(|i| seed.wrapping_mul(31).wrapping_add(i as u8))
}

// ---------------------------------------------------------------------------
// Reader helpers
// ---------------------------------------------------------------------------

/// One result cell, as the official cursor reports it.
#[derive(Debug, Clone, PartialEq)]
enum V {
    Null,
    B(bool),
    I(i64),
    F(f64),
    S(String),
}

fn s(x: &str) -> V {
    V::S(x.to_string())
}

fn cell(c: &ColumnView<'_>, r: usize) -> V {
    macro_rules! fixed {
        ($col:expr, $map:expr) => {
            if $col.is_null(r) {
                V::Null
            } else {
                ($map)($col.value(r))
            }
        };
    }
    match c {
        ColumnView::Boolean(x) => fixed!(x, |v: u8| V::B(v != 0)),
        ColumnView::Byte(x) => fixed!(x, |v: i8| V::I(v.into())),
        ColumnView::Short(x) => fixed!(x, |v: i16| V::I(v.into())),
        ColumnView::Int(x) => fixed!(x, |v: i32| V::I(v.into())),
        ColumnView::Long(x)
        | ColumnView::Timestamp(x)
        | ColumnView::TimestampNanos(x)
        | ColumnView::Date(x) => fixed!(x, V::I),
        ColumnView::Float(x) => fixed!(x, |v: f32| V::F(v.into())),
        ColumnView::Double(x) => fixed!(x, V::F),
        ColumnView::Char(x) => fixed!(x, |v: u16| V::I(v.into())),
        ColumnView::Ipv4(x) => fixed!(x, |v: u32| V::I(v.into())),
        ColumnView::Symbol(x) => x.resolve(r).map_or(V::Null, s),
        ColumnView::Varchar(x) => x.value(r).map_or(V::Null, s),
        other => panic!(
            "cell(): column kind {:?} not handled by this test",
            other.kind()
        ),
    }
}

/// A drained result.
#[derive(Debug, Default)]
struct Rows {
    names: Vec<String>,
    kinds: Vec<ColumnKind>,
    rows: Vec<Vec<V>>,
    batch_rows: Vec<usize>,
    flags: Vec<u8>,
    terminal: Option<Terminal>,
}

fn drain(mut cur: Cursor<'_>) -> QResult<Rows> {
    let mut out = Rows::default();
    while let Some(b) = cur.next_batch()? {
        if out.names.is_empty() {
            for c in b.schema().columns() {
                out.names.push(c.name.clone());
                out.kinds.push(c.kind);
            }
        }
        out.batch_rows.push(b.row_count());
        out.flags.push(b.flags());
        let cols = (0..b.column_count())
            .map(|i| b.column(i))
            .collect::<QResult<Vec<_>>>()?;
        for r in 0..b.row_count() {
            out.rows.push(cols.iter().map(|c| cell(c, r)).collect());
        }
    }
    out.terminal = cur.terminal().cloned();
    Ok(out)
}

fn query(reader: &mut Reader, sql: &str) -> QResult<Rows> {
    let cur = reader.execute(sql)?;
    drain(cur)
}

#[track_caller]
fn must(reader: &mut Reader, sql: &str) -> Rows {
    query(reader, sql).unwrap_or_else(|e| panic!("{sql}\n  -> {:?}: {}", e.code(), e.msg()))
}

#[track_caller]
fn exec_done(reader: &mut Reader, sql: &str) -> u64 {
    let r = must(reader, sql);
    match r.terminal {
        Some(Terminal::ExecDone { rows_affected, .. }) => {
            assert!(r.rows.is_empty(), "{sql}: EXEC_DONE with rows {:?}", r.rows);
            rows_affected
        }
        other => panic!(
            "{sql}: expected EXEC_DONE, got {other:?} (rows {:?})",
            r.rows
        ),
    }
}

// ---------------------------------------------------------------------------
// 1. Row API, every column type it supports
// ---------------------------------------------------------------------------

#[test]
fn official_sender_rows_every_type() {
    let srv = start(Server::builder());
    let db = connect(&srv, "");
    write_every_type(&srv, &db, "interop_rows_all");
}

/// Writes 6 rows with every column type the row API has (plus 3 rows of a
/// second table `{table}_ns` with a TIMESTAMP_NANOS designated timestamp)
/// and checks the stored tables cell by cell.
fn write_every_type(srv: &ServerHandle, db: &QuestDb, table: &str) {
    let table_ns = format!("{table}_ns");
    const N: usize = 6;
    let sym = [
        Some("AAPL"),
        Some("MSFT"),
        Some("AAPL"),
        None,
        Some("MSFT"),
        Some("AAPL"),
    ];
    let venue = [Some("X"), Some("X"), Some("Y"), Some("X"), Some("Y"), None];
    let b = [
        Some(true),
        Some(false),
        Some(true),
        None,
        Some(true),
        Some(false),
    ];
    let i8s = [Some(1i8), Some(-2), Some(127), Some(i8::MIN), None, Some(0)];
    let i16s = [
        Some(300i16),
        None,
        Some(-300),
        Some(i16::MAX),
        Some(i16::MIN),
        Some(7),
    ];
    let i32s = [
        Some(70_000i32),
        Some(-1),
        None,
        Some(i32::MAX),
        Some(i32::MIN + 1),
        Some(0),
    ];
    let i64s = [
        Some(1i64),
        None,
        Some(i64::MAX),
        Some(i64::MIN + 1),
        Some(-42),
        Some(0),
    ];
    let f32s = [
        Some(1.5f32),
        Some(-0.25),
        None,
        Some(f32::MAX),
        Some(0.0),
        Some(3.25),
    ];
    let f64s = [
        Some(1.5f64),
        Some(-2.25),
        Some(1e300),
        None,
        Some(f64::MIN_POSITIVE),
        Some(7.0),
    ];
    let strs = [
        Some("hello"),
        Some(""),
        None,
        Some("ünïcødé ✓ 日本"),
        Some("a;b,c=d \"q\""),
        Some("x"),
    ];
    let ts_us = [
        Some(1_600_000_000_000_000i64),
        None,
        Some(0),
        Some(1),
        Some(T0_US),
        Some(T0_US + 1),
    ];
    let ts_ns = [
        Some(1_600_000_000_123_456_789i64),
        Some(1),
        None,
        Some(0),
        Some(1_700_000_000_000_000_001),
        Some(42),
    ];
    let dates = [
        Some(1_600_000_000_123i64),
        Some(0),
        Some(86_400_000),
        None,
        Some(1),
        Some(2),
    ];
    let uuids: [Option<(u64, u64)>; N] = [
        Some((0xa716_4466_5544_0000, 0x550e_8400_e29b_41d4)),
        Some((1, 0)),
        None,
        Some((u64::MAX, 0x0123_4567_89ab_cdef)),
        Some((0, 1)),
        Some((42, 42)),
    ];
    let l256s = [
        Some(l256(1)),
        None,
        Some(l256(3)),
        Some(l256(4)),
        Some([0u8; 32]),
        Some(l256(6)),
    ];
    let ips = [
        Some(Ipv4Addr::new(192, 168, 1, 1)),
        Some(Ipv4Addr::new(10, 0, 0, 1)),
        None,
        Some(Ipv4Addr::new(255, 255, 255, 254)),
        Some(Ipv4Addr::new(1, 2, 3, 4)),
        Some(Ipv4Addr::new(127, 0, 0, 1)),
    ];
    let chars = [
        b'A' as u16,
        0x00e9,
        0x263a,
        b'z' as u16,
        b'0' as u16,
        0x4e2d,
    ];
    let geos = [
        Some(0xabcdeu64),
        Some(0),
        None,
        Some(0xf_fffe),
        Some(1),
        Some(12_345),
    ];
    let bins: [Option<&[u8]>; N] = [
        Some(&[0, 1, 2]),
        Some(&[]),
        None,
        Some(&[0xff; 40]),
        Some(b"bytes"),
        Some(&[0]),
    ];
    let arr_d = [
        Some(vec![1.0, 2.0, 3.0]),
        Some(vec![-1.5]),
        None,
        Some(vec![0.0; 5]),
        Some(vec![42.0, 1e-300]),
        Some(vec![7.0]),
    ];
    let arr_d2 = [
        Some(vec![vec![1.0, 2.0], vec![3.0, 4.0]]),
        None,
        Some(vec![vec![5.0, 6.0, 7.0]]),
        Some(vec![vec![8.0], vec![9.0], vec![10.0]]),
        Some(vec![vec![-1.0, -2.0]]),
        Some(vec![vec![0.5, 0.25]]),
    ];
    let arr_l = [
        Some(vec![1i64, 2, 3]),
        Some(vec![i64::MAX]),
        None,
        Some(vec![-5, 0, 5, 10]),
        Some(vec![7]),
        Some(vec![8, 9]),
    ];
    let dec64 = [
        Some("123.45"),
        Some("-0.01"),
        None,
        Some("99999.99"),
        Some("0.00"),
        Some("1.50"),
    ];
    let dec64_u = [
        Some(12_345i64),
        Some(-1),
        None,
        Some(9_999_999),
        Some(0),
        Some(150),
    ];
    let dec128 = [
        Some("12345678901234567890.123"),
        None,
        Some("-1.000"),
        Some("0.001"),
        Some("5.500"),
        Some("-99999999999999999999.999"),
    ];
    let dec128_u = [
        Some(12_345_678_901_234_567_890_123i128),
        None,
        Some(-1_000),
        Some(1),
        Some(5_500),
        Some(-99_999_999_999_999_999_999_999),
    ];
    let dec256 = [
        Some("-1.5"),
        Some("3.1"),
        Some("0.0"),
        None,
        Some("1234567890123456789012345678901234567.8"),
        Some("2.0"),
    ];
    let dec256_u: [Option<i256>; N] = [
        Some(i256::from_i128(-15)),
        Some(i256::from_i128(31)),
        Some(i256::from_i128(0)),
        None,
        Some(i256::from_string("12345678901234567890123456789012345678").unwrap()),
        Some(i256::from_i128(20)),
    ];
    let designated: Vec<i64> = (0..N as i64).map(|i| T0_US + i * 1_000_000).collect();

    let mut sender = db.borrow_sender().expect("borrow_sender");
    let mut buf = sender.new_buffer();
    for r in 0..N {
        buf.table(table).unwrap();
        buf.symbol_opt("sym", sym[r]).unwrap();
        buf.symbol_opt("venue", venue[r]).unwrap();
        if let Some(v) = b[r] {
            buf.column_bool("b", v).unwrap();
        }
        if let Some(v) = i8s[r] {
            buf.column_i8("i8", v).unwrap();
        }
        if let Some(v) = i16s[r] {
            buf.column_i16("i16", v).unwrap();
        }
        buf.column_i32_opt("i32", i32s[r]).unwrap();
        buf.column_i64_opt("i64", i64s[r]).unwrap();
        buf.column_f32_opt("f32", f32s[r]).unwrap();
        buf.column_f64_opt("f64", f64s[r]).unwrap();
        buf.column_str_opt("s", strs[r]).unwrap();
        buf.column_ts_opt("ts_us", ts_us[r].map(TimestampMicros::new))
            .unwrap();
        buf.column_ts_opt("ts_ns", ts_ns[r].map(TimestampNanos::new))
            .unwrap();
        buf.column_date_opt("d", dates[r]).unwrap();
        buf.column_uuid_opt("u", uuids[r]).unwrap();
        buf.column_long256_opt("l256", l256s[r].as_ref()).unwrap();
        buf.column_ipv4_opt("ip", ips[r]).unwrap();
        buf.column_char("ch", chars[r]).unwrap();
        buf.column_geohash_opt("geo", geos[r].map(|g| (g, 20)))
            .unwrap();
        buf.column_binary_opt("bin", bins[r]).unwrap();
        buf.column_arr_opt("arr_d", arr_d[r].as_ref()).unwrap();
        buf.column_arr_opt("arr_d2", arr_d2[r].as_ref()).unwrap();
        buf.column_arr_opt("arr_l", arr_l[r].as_ref()).unwrap();
        buf.column_dec64_opt("dec64", dec64[r]).unwrap();
        buf.column_dec128_opt("dec128", dec128[r]).unwrap();
        buf.column_dec_opt("dec256", dec256[r]).unwrap();
        buf.at(TimestampMicros::new(designated[r])).unwrap();
        // A second table in the same buffer, designated TIMESTAMP_NANOS.
        if r % 2 == 0 {
            buf.table(table_ns.as_str()).unwrap();
            buf.column_i64("v", r as i64).unwrap();
            buf.at(TimestampNanos::new(designated[r] * 1000 + 7))
                .unwrap();
        }
    }
    sender
        .flush_buffer_and_wait(&mut buf, AckLevel::Ok)
        .unwrap_or_else(|e| panic!("flush_buffer_and_wait: {:?}: {}", e.code(), e.msg()));
    drop(sender);

    let t = stored(srv, table);
    assert_eq!(t.num_rows(), N, "rows stored");

    let utc = Some(Arc::<str>::from("UTC"));
    let dict = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));

    let a = column(
        &t,
        "timestamp",
        &DataType::Timestamp(TimeUnit::Microsecond, utc.clone()),
        "timestamp",
    );
    same(
        "timestamp",
        &a,
        &TimestampMicrosecondArray::from(designated.clone()).with_timezone("UTC"),
    );
    let (_, f) = t
        .schema()
        .column_with_name("timestamp")
        .map(|(i, f)| (i, f.clone()))
        .unwrap();
    assert_eq!(
        f.metadata()
            .get("questdb.designated_timestamp")
            .map(String::as_str),
        Some("true"),
        "designated metadata on `timestamp`"
    );

    let a = column(&t, "sym", &dict, "symbol");
    same("sym", &as_utf8(&a), &StringArray::from(sym.to_vec()));
    let a = column(&t, "venue", &dict, "symbol");
    same("venue", &as_utf8(&a), &StringArray::from(venue.to_vec()));
    // BOOLEAN, BYTE and SHORT are not nullable in QuestDB: the client sends a
    // missing value as false / 0.
    let a = column(&t, "b", &DataType::Boolean, "boolean");
    same(
        "b",
        &a,
        &BooleanArray::from(b.map(|x| Some(x.unwrap_or(false))).to_vec()),
    );
    let a = column(&t, "i8", &DataType::Int8, "byte");
    same(
        "i8",
        &a,
        &Int8Array::from(i8s.map(|x| Some(x.unwrap_or(0))).to_vec()),
    );
    let a = column(&t, "i16", &DataType::Int16, "short");
    same(
        "i16",
        &a,
        &Int16Array::from(i16s.map(|x| Some(x.unwrap_or(0))).to_vec()),
    );
    let a = column(&t, "i32", &DataType::Int32, "int");
    same("i32", &a, &Int32Array::from(i32s.to_vec()));
    let a = column(&t, "i64", &DataType::Int64, "long");
    same("i64", &a, &Int64Array::from(i64s.to_vec()));
    let a = column(&t, "f32", &DataType::Float32, "float");
    same("f32", &a, &Float32Array::from(f32s.to_vec()));
    let a = column(&t, "f64", &DataType::Float64, "double");
    same("f64", &a, &Float64Array::from(f64s.to_vec()));
    let a = column(&t, "s", &DataType::Utf8, "varchar");
    same("s", &a, &StringArray::from(strs.to_vec()));
    let a = column(
        &t,
        "ts_us",
        &DataType::Timestamp(TimeUnit::Microsecond, utc.clone()),
        "timestamp",
    );
    same(
        "ts_us",
        &a,
        &TimestampMicrosecondArray::from(ts_us.to_vec()).with_timezone("UTC"),
    );
    let a = column(
        &t,
        "ts_ns",
        &DataType::Timestamp(TimeUnit::Nanosecond, utc.clone()),
        "timestamp_nanos",
    );
    same(
        "ts_ns",
        &a,
        &TimestampNanosecondArray::from(ts_ns.to_vec()).with_timezone("UTC"),
    );
    let a = column(&t, "d", &DataType::Date64, "date");
    same("d", &a, &Date64Array::from(dates.to_vec()));
    let a = column(&t, "u", &DataType::FixedSizeBinary(16), "uuid");
    let want = FixedSizeBinaryArray::try_from_sparse_iter_with_size(
        uuids.iter().map(|u| u.map(|(lo, hi)| uuid_bytes(lo, hi))),
        16,
    )
    .unwrap();
    same("u", &a, &want);
    let a = column(&t, "l256", &DataType::FixedSizeBinary(32), "long256");
    let want =
        FixedSizeBinaryArray::try_from_sparse_iter_with_size(l256s.iter().map(|x| x.as_ref()), 32)
            .unwrap();
    same("l256", &a, &want);
    let a = column(&t, "ip", &DataType::UInt32, "ipv4");
    same(
        "ip",
        &a,
        &UInt32Array::from(ips.map(|x| x.map(u32::from)).to_vec()),
    );
    let a = column(&t, "ch", &DataType::UInt16, "char");
    same("ch", &a, &UInt16Array::from(chars.to_vec()));
    let a = column(&t, "geo", &DataType::Int64, "geohash");
    same(
        "geo",
        &a,
        &Int64Array::from(geos.map(|g| g.map(|x| x as i64)).to_vec()),
    );
    let geo_bits = t
        .schema()
        .field_with_name("geo")
        .unwrap()
        .metadata()
        .get("questdb.geohash_bits")
        .cloned();
    assert_eq!(geo_bits.as_deref(), Some("20"), "geo: questdb.geohash_bits");
    let a = column(&t, "bin", &DataType::Binary, "binary");
    same("bin", &a, &BinaryArray::from(bins.to_vec()));
    let want = list_f64(&arr_d);
    let a = column(&t, "arr_d", want.data_type(), "double_array");
    same("arr_d", &a, &want);
    let want = list2_f64(&arr_d2);
    let a = column(&t, "arr_d2", want.data_type(), "double_array");
    same("arr_d2", &a, &want);
    let want = list_i64(&arr_l);
    let a = column(&t, "arr_l", want.data_type(), "long_array");
    same("arr_l", &a, &want);
    let a = column(&t, "dec64", &DataType::Decimal64(18, 2), "decimal64");
    same(
        "dec64",
        &a,
        &Decimal64Array::from(dec64_u.to_vec())
            .with_precision_and_scale(18, 2)
            .unwrap(),
    );
    let a = column(&t, "dec128", &DataType::Decimal128(38, 3), "decimal128");
    same(
        "dec128",
        &a,
        &Decimal128Array::from(dec128_u.to_vec())
            .with_precision_and_scale(38, 3)
            .unwrap(),
    );
    let a = column(&t, "dec256", &DataType::Decimal256(76, 1), "decimal256");
    same(
        "dec256",
        &a,
        &Decimal256Array::from(dec256_u.to_vec())
            .with_precision_and_scale(76, 1)
            .unwrap(),
    );

    let t = stored(srv, &table_ns);
    let a = column(
        &t,
        "timestamp",
        &DataType::Timestamp(TimeUnit::Nanosecond, utc),
        "timestamp_nanos",
    );
    let want: Vec<i64> = (0..N)
        .step_by(2)
        .map(|r| designated[r] * 1000 + 7)
        .collect();
    same(
        "timestamp (ns)",
        &a,
        &TimestampNanosecondArray::from(want).with_timezone("UTC"),
    );
    let a = column(&t, "v", &DataType::Int64, "long");
    same("v", &a, &Int64Array::from(vec![0i64, 2, 4]));
}

// ---------------------------------------------------------------------------
// 2. Arrow RecordBatch ingestion
// ---------------------------------------------------------------------------

fn field_md(name: &str, dt: DataType, md: &[(&str, &str)]) -> Field {
    Field::new(name, dt, true).with_metadata(
        md.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

#[test]
fn official_sender_arrow_batch() {
    let srv = start(Server::builder());
    let db = connect(&srv, "");

    let ts: Vec<i64> = (0..5).map(|i| T0_US + i * 250_000).collect();
    let uuid_rows: Vec<Option<[u8; 16]>> = vec![
        Some(uuid_bytes(1, 2)),
        None,
        Some(uuid_bytes(0xa716_4466_5544_0000, 0x550e_8400_e29b_41d4)),
        Some(uuid_bytes(3, 4)),
        Some(uuid_bytes(5, 6)),
    ];
    let l256_rows = [
        Some(l256(9)),
        Some(l256(8)),
        None,
        Some(l256(7)),
        Some(l256(6)),
    ];
    let arr_rows = vec![
        Some(vec![1.0, 2.0]),
        None,
        Some(vec![]),
        Some(vec![3.5]),
        Some(vec![4.0, 5.0, 6.0]),
    ];
    let sym_dict: DictionaryArray<Int32Type> =
        vec![Some("red"), Some("blue"), None, Some("red"), Some("red")]
            .into_iter()
            .collect();

    let cols: Vec<(Field, ArrayRef)> = vec![
        (
            Field::new(
                "ts",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                false,
            ),
            Arc::new(TimestampMicrosecondArray::from(ts.clone()).with_timezone("UTC")),
        ),
        (
            Field::new("id", DataType::Int64, true),
            Arc::new(Int64Array::from(vec![
                Some(1),
                None,
                Some(3),
                Some(i64::MAX),
                Some(-5),
            ])),
        ),
        (
            Field::new("price", DataType::Float64, true),
            Arc::new(Float64Array::from(vec![
                Some(1.25),
                Some(2.5),
                None,
                Some(-0.5),
                Some(1e10),
            ])),
        ),
        (
            Field::new("name", DataType::Utf8, true),
            Arc::new(StringArray::from(vec![
                Some("a"),
                None,
                Some(""),
                Some("ü"),
                Some("long text"),
            ])),
        ),
        (
            Field::new("sym", sym_dict.data_type().clone(), true),
            Arc::new(sym_dict),
        ),
        (
            field_md("sym2", DataType::Utf8, &[("questdb.symbol", "true")]),
            Arc::new(StringArray::from(vec![
                Some("k1"),
                Some("k2"),
                Some("k1"),
                None,
                Some("k2"),
            ])),
        ),
        (
            Field::new("flag", DataType::Boolean, true),
            Arc::new(BooleanArray::from(vec![true, false, true, true, false])),
        ),
        (
            field_md("i32", DataType::Int32, &[("questdb.column_type", "int")]),
            Arc::new(Int32Array::from(vec![
                Some(1),
                Some(-2),
                None,
                Some(i32::MAX),
                Some(0),
            ])),
        ),
        (
            // No metadata: the official client widens Int32 to LONG.
            Field::new("wide", DataType::Int32, true),
            Arc::new(Int32Array::from(vec![
                Some(10),
                None,
                Some(-30),
                Some(40),
                Some(50),
            ])),
        ),
        (
            field_md("i8", DataType::Int8, &[("questdb.column_type", "byte")]),
            Arc::new(Int8Array::from(vec![1i8, -1, 127, -128, 0])),
        ),
        (
            field_md("i16", DataType::Int16, &[("questdb.column_type", "short")]),
            Arc::new(Int16Array::from(vec![
                1000i16,
                -1000,
                0,
                i16::MAX,
                i16::MIN,
            ])),
        ),
        (
            Field::new("f32", DataType::Float32, true),
            Arc::new(Float32Array::from(vec![
                Some(0.5f32),
                None,
                Some(-1.5),
                Some(2.0),
                Some(3.0),
            ])),
        ),
        (
            Field::new(
                "tns",
                DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
                true,
            ),
            Arc::new(
                TimestampNanosecondArray::from(vec![
                    Some(1i64),
                    Some(T0_US * 1000 + 123),
                    None,
                    Some(5),
                    Some(6),
                ])
                .with_timezone("UTC"),
            ),
        ),
        (
            Field::new("day", DataType::Date64, true),
            Arc::new(Date64Array::from(vec![
                Some(86_400_000i64),
                None,
                Some(0),
                Some(1_600_000_000_000),
                Some(2),
            ])),
        ),
        (
            field_md(
                "u",
                DataType::FixedSizeBinary(16),
                &[("ARROW:extension:name", "arrow.uuid")],
            ),
            Arc::new(
                FixedSizeBinaryArray::try_from_sparse_iter_with_size(uuid_rows.iter().cloned(), 16)
                    .unwrap(),
            ),
        ),
        (
            field_md(
                "l256",
                DataType::FixedSizeBinary(32),
                &[("questdb.column_type", "long256")],
            ),
            Arc::new(
                FixedSizeBinaryArray::try_from_sparse_iter_with_size(l256_rows.iter().cloned(), 32)
                    .unwrap(),
            ),
        ),
        (
            field_md("ip", DataType::UInt32, &[("questdb.column_type", "ipv4")]),
            Arc::new(UInt32Array::from(vec![
                Some(u32::from(Ipv4Addr::new(10, 1, 2, 3))),
                None,
                Some(u32::from(Ipv4Addr::new(8, 8, 8, 8))),
                Some(1),
                Some(u32::from(Ipv4Addr::new(192, 168, 0, 1))),
            ])),
        ),
        (
            field_md("ch", DataType::UInt16, &[("questdb.column_type", "char")]),
            Arc::new(UInt16Array::from(vec![
                b'a' as u16,
                b'b' as u16,
                0x00e9,
                0x263a,
                b'Z' as u16,
            ])),
        ),
        (
            field_md("geo", DataType::Int64, &[("questdb.geohash_bits", "30")]),
            Arc::new(Int64Array::from(vec![
                Some(0x3fff_fffe),
                Some(1),
                None,
                Some(12_345),
                Some(0),
            ])),
        ),
        (
            Field::new("dec", DataType::Decimal128(38, 3), true),
            Arc::new(
                Decimal128Array::from(vec![
                    Some(1_234_567i128),
                    None,
                    Some(-1),
                    Some(0),
                    Some(10i128.pow(30)),
                ])
                .with_precision_and_scale(38, 3)
                .unwrap(),
            ),
        ),
        (
            Field::new("dec64", DataType::Decimal64(18, 2), true),
            Arc::new(
                Decimal64Array::from(vec![Some(150i64), Some(-1), None, Some(999_999), Some(0)])
                    .with_precision_and_scale(18, 2)
                    .unwrap(),
            ),
        ),
        {
            let a = list_f64(&arr_rows);
            (
                Field::new("arr", a.data_type().clone(), true),
                Arc::new(a) as ArrayRef,
            )
        },
        (
            Field::new("bin", DataType::Binary, true),
            Arc::new(BinaryArray::from(vec![
                Some(&b"\x00\x01"[..]),
                None,
                Some(&b""[..]),
                Some(&b"xyz"[..]),
                Some(&[0xffu8; 20][..]),
            ])),
        ),
    ];
    let schema = Arc::new(Schema::new(
        cols.iter().map(|(f, _)| f.clone()).collect::<Vec<_>>(),
    ));
    let batch =
        RecordBatch::try_new(schema, cols.iter().map(|(_, a)| a.clone()).collect()).unwrap();

    db.flush_arrow_batch(
        "interop_arrow_in",
        &batch,
        Some(ColumnName::new("ts").unwrap()),
        &[],
        Some(AckLevel::Ok),
    )
    .unwrap_or_else(|e| panic!("flush_arrow_batch: {:?}: {}", e.code(), e.msg()));

    let t = stored(&srv, "interop_arrow_in");
    assert_eq!(t.num_rows(), 5, "rows stored");
    let sent = |name: &str| batch.column_by_name(name).unwrap().clone();
    let utc = Some(Arc::<str>::from("UTC"));
    let dict = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));

    // The designated timestamp travels with an empty name, so a new table
    // names it `timestamp` (as QuestDB does).
    let a = column(
        &t,
        "timestamp",
        &DataType::Timestamp(TimeUnit::Microsecond, utc.clone()),
        "timestamp",
    );
    same("timestamp", &a, sent("ts").as_ref());
    assert!(
        t.schema().column_with_name("ts").is_none(),
        "`ts` is not stored twice"
    );

    let checks: Vec<(&str, DataType, &str)> = vec![
        ("id", DataType::Int64, "long"),
        ("price", DataType::Float64, "double"),
        ("name", DataType::Utf8, "varchar"),
        ("flag", DataType::Boolean, "boolean"),
        ("i32", DataType::Int32, "int"),
        ("i8", DataType::Int8, "byte"),
        ("i16", DataType::Int16, "short"),
        ("f32", DataType::Float32, "float"),
        (
            "tns",
            DataType::Timestamp(TimeUnit::Nanosecond, utc.clone()),
            "timestamp_nanos",
        ),
        ("day", DataType::Date64, "date"),
        ("u", DataType::FixedSizeBinary(16), "uuid"),
        ("l256", DataType::FixedSizeBinary(32), "long256"),
        ("ip", DataType::UInt32, "ipv4"),
        ("ch", DataType::UInt16, "char"),
        ("geo", DataType::Int64, "geohash"),
        ("dec", DataType::Decimal128(38, 3), "decimal128"),
        ("dec64", DataType::Decimal64(18, 2), "decimal64"),
        ("arr", sent("arr").data_type().clone(), "double_array"),
        ("bin", DataType::Binary, "binary"),
    ];
    for (name, dt, q) in checks {
        let a = column(&t, name, &dt, q);
        same(name, &a, sent(name).as_ref());
    }
    let a = column(&t, "sym", &dict, "symbol");
    same("sym", &as_utf8(&a), as_utf8(&sent("sym")).as_ref());
    let a = column(&t, "sym2", &dict, "symbol");
    same("sym2", &as_utf8(&a), sent("sym2").as_ref());
    let a = column(&t, "wide", &DataType::Int64, "long");
    same(
        "wide",
        &a,
        &Int64Array::from(vec![Some(10), None, Some(-30), Some(40), Some(50)]),
    );
    let bits = t
        .schema()
        .field_with_name("geo")
        .unwrap()
        .metadata()
        .get("questdb.geohash_bits")
        .cloned();
    assert_eq!(bits.as_deref(), Some("30"), "geo: questdb.geohash_bits");

    // A second batch through a borrowed sender (publish, then wait).
    let second = batch.slice(1, 2);
    let mut sender = db.borrow_sender().expect("borrow_sender");
    sender
        .flush_arrow_batch_at_column(
            "interop_arrow_in",
            &second,
            ColumnName::new("ts").unwrap(),
            &[],
        )
        .unwrap_or_else(|e| panic!("flush_arrow_batch_at_column: {:?}: {}", e.code(), e.msg()));
    sender
        .wait(AckLevel::Ok, ACK_TIMEOUT)
        .unwrap_or_else(|e| panic!("wait: {:?}: {}", e.code(), e.msg()));
    drop(sender);
    let t = stored(&srv, "interop_arrow_in");
    assert_eq!(t.num_rows(), 7, "rows after the second batch");
    // Rows are kept in designated-timestamp order: 0, 1, 1', 2, 2', 3, 4.
    let ids = column(&t, "id", &DataType::Int64, "long");
    same(
        "id after merge",
        &ids,
        &Int64Array::from(vec![
            Some(1),
            None,
            None,
            Some(3),
            Some(3),
            Some(i64::MAX),
            Some(-5),
        ]),
    );
}

// ---------------------------------------------------------------------------
// 3. The official reader
// ---------------------------------------------------------------------------

/// Writes the 10-row `interop_q` table: id 1..=10, name `n{id}` (NULL for
/// 5), sym a/b/c by id % 3, price id * 1.5 (NULL for 7), ts T0 + id s (also
/// the designated timestamp).
fn write_q(db: &QuestDb, table: &str) {
    let mut sender = db.borrow_sender().expect("borrow_sender");
    let mut buf = sender.new_buffer();
    for id in 1..=10i64 {
        let ts = T0_US + id * 1_000_000;
        buf.table(table).unwrap();
        buf.symbol("sym", ["a", "b", "c"][(id % 3) as usize])
            .unwrap();
        buf.column_i64("id", id).unwrap();
        if id != 5 {
            buf.column_str("name", format!("n{id}")).unwrap();
        }
        if id != 7 {
            buf.column_f64("price", id as f64 * 1.5).unwrap();
        }
        buf.column_ts("ts", TimestampMicros::new(ts)).unwrap();
        buf.at(TimestampMicros::new(ts)).unwrap();
    }
    sender.flush_buffer(&mut buf).expect("flush_buffer");
    sender
        .wait(AckLevel::Ok, ACK_TIMEOUT)
        .unwrap_or_else(|e| panic!("wait: {:?}: {}", e.code(), e.msg()));
}

fn name_of(id: i64) -> V {
    if id == 5 {
        V::Null
    } else {
        V::S(format!("n{id}"))
    }
}

#[test]
fn official_reader_queries() {
    let srv = start(Server::builder());
    let db = connect(&srv, "");
    write_q(&db, "interop_q");
    let mut reader = db.borrow_reader().expect("borrow_reader");

    // WHERE + ORDER BY.
    let r = must(
        &mut reader,
        "SELECT id, name, sym, price FROM interop_q WHERE price > 6.0 ORDER BY id DESC",
    );
    assert_eq!(r.names, ["id", "name", "sym", "price"]);
    assert_eq!(
        r.kinds,
        [
            ColumnKind::Long,
            ColumnKind::Varchar,
            ColumnKind::Symbol,
            ColumnKind::Double
        ]
    );
    let want: Vec<Vec<V>> = [10i64, 9, 8, 6, 5]
        .iter()
        .map(|&id| {
            vec![
                V::I(id),
                name_of(id),
                s(["a", "b", "c"][(id % 3) as usize]),
                V::F(id as f64 * 1.5),
            ]
        })
        .collect();
    assert_eq!(r.rows, want);
    assert!(
        matches!(r.terminal, Some(Terminal::End { total_rows: 5, .. })),
        "terminal {:?}",
        r.terminal
    );

    // Binds: $1 LONG, $2 VARCHAR, $3 TIMESTAMP, $4 typed NULL.
    let sql = "SELECT id, name, ts FROM interop_q \
               WHERE id >= $1 AND name <> $2 AND ts < $3 AND ($4 IS NULL OR id = $4) \
               ORDER BY id";
    let cur = reader
        .prepare(sql)
        .bind_i64(3)
        .bind_varchar("n4")
        .bind_timestamp_micros(T0_US + 9_000_000)
        .bind_null(SimpleNullKind::Long)
        .execute()
        .expect("execute with binds");
    let r = drain(cur).unwrap_or_else(|e| panic!("binds query: {:?}: {}", e.code(), e.msg()));
    assert_eq!(
        r.kinds,
        [ColumnKind::Long, ColumnKind::Varchar, ColumnKind::Timestamp]
    );
    let want: Vec<Vec<V>> = [3i64, 6, 7, 8]
        .iter()
        .map(|&id| vec![V::I(id), name_of(id), V::I(T0_US + id * 1_000_000)])
        .collect();
    assert_eq!(r.rows, want, "binds with a NULL $4");
    let cur = reader
        .prepare(sql)
        .bind_i64(3)
        .bind_varchar("n4")
        .bind_timestamp_micros(T0_US + 9_000_000)
        .bind_i64(7)
        .execute()
        .expect("execute with binds");
    let r = drain(cur).unwrap_or_else(|e| panic!("binds query: {:?}: {}", e.code(), e.msg()));
    assert_eq!(
        r.rows,
        vec![vec![V::I(7), s("n7"), V::I(T0_US + 7_000_000)]],
        "binds with $4 = 7"
    );

    // A NULL bind projected back, and a VARCHAR NULL bind.
    let cur = reader
        .prepare("SELECT count(*) AS n FROM interop_q WHERE $1 IS NULL AND name IS NOT NULL")
        .bind_null_varchar()
        .execute()
        .expect("execute");
    let r = drain(cur).unwrap_or_else(|e| panic!("null varchar bind: {:?}: {}", e.code(), e.msg()));
    assert_eq!(r.rows, vec![vec![V::I(9)]]);

    // GROUP BY.
    let r = must(
        &mut reader,
        "SELECT sym, count(*) AS n, sum(id) AS total FROM interop_q GROUP BY sym ORDER BY sym",
    );
    assert_eq!(
        r.rows,
        vec![
            vec![s("a"), V::I(3), V::I(18)],
            vec![s("b"), V::I(4), V::I(22)],
            vec![s("c"), V::I(3), V::I(15)],
        ]
    );

    // LIMIT on the designated timestamp order.
    let r = must(&mut reader, "SELECT id FROM interop_q LIMIT 3");
    assert_eq!(r.rows, vec![vec![V::I(1)], vec![V::I(2)], vec![V::I(3)]]);
}

#[test]
fn official_reader_ddl() {
    let srv = start(Server::builder());
    let db = connect(&srv, "");
    let mut reader = db.borrow_reader().expect("borrow_reader");

    exec_done(
        &mut reader,
        "CREATE TABLE interop_ddl (a INT, s VARCHAR, ts TIMESTAMP) TIMESTAMP(ts) PARTITION BY DAY",
    );
    assert!(
        srv.table_names().iter().any(|t| t == "interop_ddl"),
        "{:?}",
        srv.table_names()
    );

    let n = exec_done(
        &mut reader,
        "INSERT INTO interop_ddl VALUES \
         (1, 'one', '2024-01-01T00:00:00.000000Z'), \
         (2, NULL, '2024-01-01T00:00:01.000000Z'), \
         (3, 'three', '2024-01-01T00:00:02.000000Z')",
    );
    assert_eq!(n, 3, "rows_affected of INSERT ... VALUES (3 rows)");

    let t24 = 1_704_067_200_000_000i64;
    let r = must(&mut reader, "SELECT a, s, ts FROM interop_ddl ORDER BY ts");
    assert_eq!(
        r.kinds,
        [ColumnKind::Int, ColumnKind::Varchar, ColumnKind::Timestamp]
    );
    assert_eq!(
        r.rows,
        vec![
            vec![V::I(1), s("one"), V::I(t24)],
            vec![V::I(2), V::Null, V::I(t24 + 1_000_000)],
            vec![V::I(3), s("three"), V::I(t24 + 2_000_000)],
        ]
    );

    // The official sender appends to the DDL-created table: its designated
    // timestamp lands in `ts`.
    {
        let mut sender = db.borrow_sender().expect("borrow_sender");
        let mut buf = sender.new_buffer();
        buf.table("interop_ddl").unwrap();
        buf.column_i32("a", 4).unwrap();
        buf.column_str("s", "four").unwrap();
        buf.at(TimestampMicros::new(t24 + 3_000_000)).unwrap();
        sender.flush_buffer(&mut buf).expect("flush_buffer");
        sender
            .wait(AckLevel::Ok, ACK_TIMEOUT)
            .unwrap_or_else(|e| panic!("wait: {:?}: {}", e.code(), e.msg()));
    }
    let t = stored(&srv, "interop_ddl");
    assert_eq!(t.num_rows(), 4);
    assert!(
        t.schema().column_with_name("timestamp").is_none(),
        "designated timestamp must go to `ts`: {:?}",
        t.schema().fields()
    );
    let r = must(&mut reader, "SELECT a, s, ts FROM interop_ddl WHERE a = 4");
    assert_eq!(
        r.rows,
        vec![vec![V::I(4), s("four"), V::I(t24 + 3_000_000)]]
    );

    exec_done(&mut reader, "TRUNCATE TABLE interop_ddl");
    let r = must(&mut reader, "SELECT count(*) FROM interop_ddl");
    assert_eq!(r.rows, vec![vec![V::I(0)]]);

    exec_done(&mut reader, "DROP TABLE interop_ddl");
    assert!(
        !srv.table_names().iter().any(|t| t == "interop_ddl"),
        "{:?}",
        srv.table_names()
    );
    let e =
        query(&mut reader, "SELECT * FROM interop_ddl").expect_err("select from a dropped table");
    println!("select from dropped table: {:?}: {}", e.code(), e.msg());
}

#[test]
fn official_reader_bad_sql_recovers() {
    let srv = start(Server::builder());
    let db = connect(&srv, "");
    write_q(&db, "interop_bad");
    let mut reader = db.borrow_reader().expect("borrow_reader");

    let e = query(&mut reader, "SELEC id FRM interop_bad").expect_err("bad SQL must fail");
    println!("bad SQL: {:?}: {}", e.code(), e.msg());
    assert_eq!(e.code(), ErrorCode::ServerParseError, "{}", e.msg());
    assert!(
        !reader.transport_torn_down(),
        "QUERY_ERROR must not tear the connection down"
    );

    let r = must(&mut reader, "SELECT count(*) AS n FROM interop_bad");
    assert_eq!(r.rows, vec![vec![V::I(10)]], "reader usable after an error");

    let e = query(&mut reader, "SELECT * FROM no_such_table_here").expect_err("unknown table");
    println!("unknown table: {:?}: {}", e.code(), e.msg());
    assert!(
        matches!(
            e.code(),
            ErrorCode::ServerParseError | ErrorCode::ServerInternalError
        ),
        "unknown table: {:?}: {}",
        e.code(),
        e.msg()
    );
    assert!(
        e.msg().contains("no_such_table_here"),
        "message names the table: {}",
        e.msg()
    );

    // Binds that do not fit the SQL: an error, not a hang or a dead connection.
    let cur = reader
        .prepare("SELECT id FROM interop_bad WHERE id = $1 AND id = $2")
        .bind_i64(1)
        .execute()
        .expect("execute");
    let e = drain(cur).expect_err("missing bind must fail");
    println!("missing bind: {:?}: {}", e.code(), e.msg());

    let r = must(&mut reader, "SELECT id FROM interop_bad WHERE id = 2");
    assert_eq!(r.rows, vec![vec![V::I(2)]], "reader usable after errors");
    drop(reader);
    // Another borrow from the pool (likely the same connection) also works.
    let mut reader = db.borrow_reader().expect("borrow_reader again");
    let r = must(&mut reader, "SELECT max(id) FROM interop_bad");
    assert_eq!(r.rows, vec![vec![V::I(10)]]);
}

#[test]
fn official_reader_many_batches_small_credit() {
    let srv = start(Server::builder().max_batch_rows(1000));
    let db = connect(&srv, "");
    const ROWS: i64 = 50_000;
    {
        let mut sender = db.borrow_sender().expect("borrow_sender");
        let mut buf = sender.new_buffer();
        for i in 0..ROWS {
            buf.table("interop_big").unwrap();
            buf.column_i64("id", i).unwrap();
            buf.column_f64("v", i as f64 * 0.5).unwrap();
            buf.at(TimestampMicros::new(T0_US + i)).unwrap();
        }
        sender.flush_buffer(&mut buf).expect("flush_buffer");
        sender
            .wait(AckLevel::Ok, ACK_TIMEOUT)
            .unwrap_or_else(|e| panic!("wait: {:?}: {}", e.code(), e.msg()));
    }
    assert_eq!(stored(&srv, "interop_big").num_rows(), ROWS as usize);

    let mut reader = db.borrow_reader().expect("borrow_reader");
    let credit_before = reader.credit_granted_total();
    let cur = reader
        .prepare("SELECT id, v FROM interop_big ORDER BY id")
        .initial_credit(65_536)
        .execute()
        .expect("execute");
    let r = drain(cur).unwrap_or_else(|e| panic!("big query: {:?}: {}", e.code(), e.msg()));
    assert_eq!(r.rows.len(), ROWS as usize, "all rows arrive");
    for (i, row) in r.rows.iter().enumerate() {
        assert_eq!(row, &vec![V::I(i as i64), V::F(i as f64 * 0.5)], "row {i}");
    }
    assert!(r.batch_rows.len() >= 50, "{} batches", r.batch_rows.len());
    assert!(
        r.batch_rows.iter().all(|&n| n <= 1000),
        "batch sizes {:?}",
        r.batch_rows
    );
    assert!(
        matches!(r.terminal, Some(Terminal::End { total_rows, .. }) if total_rows == ROWS as u64),
        "terminal {:?}",
        r.terminal
    );
    assert!(
        reader.credit_granted_total() > credit_before,
        "the client had to grant credit"
    );

    // The same connection then runs a small query normally.
    let r = must(&mut reader, "SELECT count(*) FROM interop_big");
    assert_eq!(r.rows, vec![vec![V::I(ROWS)]]);
}

#[test]
fn official_reader_zstd() {
    let srv = start(Server::builder().max_batch_rows(500));
    let db = connect(&srv, "");
    {
        let mut sender = db.borrow_sender().expect("borrow_sender");
        let mut buf = sender.new_buffer();
        for i in 0..3000i64 {
            buf.table("interop_zstd").unwrap();
            buf.symbol("sym", ["alpha", "beta", "gamma"][(i % 3) as usize])
                .unwrap();
            buf.column_i64("id", i).unwrap();
            buf.column_str("note", format!("repetitive note text {}", i % 10))
                .unwrap();
            buf.column_f64("x", (i % 7) as f64).unwrap();
            buf.at(TimestampMicros::new(T0_US + i * 1000)).unwrap();
        }
        sender.flush_buffer(&mut buf).expect("flush_buffer");
        sender
            .wait(AckLevel::Ok, ACK_TIMEOUT)
            .unwrap_or_else(|e| panic!("wait: {:?}: {}", e.code(), e.msg()));
    }
    let sql = "SELECT id, sym, note, x FROM interop_zstd ORDER BY id";
    let mut raw =
        Reader::from_conf(format!("{}compression=raw;", srv.conf_string())).expect("raw reader");
    let raw_rows = must(&mut raw, sql);
    let mut z =
        Reader::from_conf(format!("{}compression=zstd;", srv.conf_string())).expect("zstd reader");
    let z_rows = must(&mut z, sql);
    assert_eq!(raw_rows.rows.len(), 3000);
    assert_eq!(z_rows.names, raw_rows.names);
    assert_eq!(z_rows.kinds, raw_rows.kinds);
    assert!(
        z_rows.rows == raw_rows.rows,
        "zstd rows differ from raw rows"
    );
    assert!(
        raw_rows.flags.iter().all(|f| f & 0x10 == 0),
        "raw flags {:?}",
        raw_rows.flags
    );
    assert!(
        z_rows.flags.iter().any(|f| f & 0x10 != 0),
        "no zstd-flagged batch: {:?}",
        z_rows.flags
    );
    // Via the pool too.
    let zdb = connect(&srv, "compression=zstd;compression_level=3;");
    let mut r = zdb.borrow_reader().expect("borrow_reader");
    let p_rows = must(&mut r, sql);
    assert!(p_rows.rows == raw_rows.rows, "pooled zstd rows differ");
}

#[test]
fn official_reader_arrow() {
    let srv = start(Server::builder().max_batch_rows(4));
    let db = connect(&srv, "");
    write_q(&db, "interop_arrow_out");
    let mut reader = db.borrow_reader().expect("borrow_reader");

    let sql = "SELECT id, name, sym, price, ts FROM interop_arrow_out ORDER BY id";
    let mut cur = reader.execute(sql).expect("execute");
    let (schema, batches) = cur
        .fetch_all_arrow()
        .unwrap_or_else(|e| panic!("fetch_all_arrow: {:?}: {}", e.code(), e.msg()));
    drop(cur);
    assert_eq!(batches.len(), 3, "10 rows at 4 per batch");
    let all = arrow::compute::concat_batches(&schema, &batches).unwrap();
    assert_eq!(all.num_rows(), 10);
    let utc = Some(Arc::<str>::from("UTC"));
    let udict = DataType::Dictionary(Box::new(DataType::UInt32), Box::new(DataType::Utf8));
    let ids: Vec<i64> = (1..=10).collect();
    let a = column(&all, "id", &DataType::Int64, "long");
    same("id", &a, &Int64Array::from(ids.clone()));
    let a = column(&all, "name", &DataType::Utf8, "varchar");
    same(
        "name",
        &a,
        &StringArray::from(
            ids.iter()
                .map(|&i| (i != 5).then(|| format!("n{i}")))
                .collect::<Vec<_>>(),
        ),
    );
    let a = column(&all, "sym", &udict, "symbol");
    same(
        "sym",
        &as_utf8(&a),
        &StringArray::from(
            ids.iter()
                .map(|&i| Some(["a", "b", "c"][(i % 3) as usize]))
                .collect::<Vec<_>>(),
        ),
    );
    let a = column(&all, "price", &DataType::Float64, "double");
    same(
        "price",
        &a,
        &Float64Array::from(
            ids.iter()
                .map(|&i| (i != 7).then_some(i as f64 * 1.5))
                .collect::<Vec<_>>(),
        ),
    );
    let a = column(
        &all,
        "ts",
        &DataType::Timestamp(TimeUnit::Microsecond, utc),
        "timestamp",
    );
    same(
        "ts",
        &a,
        &TimestampMicrosecondArray::from(
            ids.iter()
                .map(|&i| T0_US + i * 1_000_000)
                .collect::<Vec<_>>(),
        )
        .with_timezone("UTC"),
    );

    // Batch by batch, with binds.
    let mut cur = reader
        .prepare("SELECT id, price FROM interop_arrow_out WHERE id > $1 ORDER BY id")
        .bind_i64(2)
        .execute()
        .expect("execute");
    let mut got: Vec<RecordBatch> = Vec::new();
    while let Some(b) = cur
        .next_arrow_batch()
        .unwrap_or_else(|e| panic!("next_arrow_batch: {:?}: {}", e.code(), e.msg()))
    {
        got.push(b);
    }
    drop(cur);
    assert_eq!(got.iter().map(|b| b.num_rows()).collect::<Vec<_>>(), [4, 4]);
    let all = arrow::compute::concat_batches(&got[0].schema(), &got).unwrap();
    let a = column(&all, "id", &DataType::Int64, "long");
    same(
        "id (binds)",
        &a,
        &Int64Array::from((3..=10).collect::<Vec<i64>>()),
    );

    // RecordBatchReader adapter.
    let mut cur = reader
        .execute("SELECT sym, count(*) AS n FROM interop_arrow_out GROUP BY sym ORDER BY sym")
        .expect("execute");
    let rdr = cur
        .as_arrow_reader()
        .unwrap_or_else(|e| panic!("as_arrow_reader: {:?}: {}", e.code(), e.msg()));
    let rbs: Vec<RecordBatch> = rdr.map(|b| b.expect("arrow batch")).collect();
    let all = arrow::compute::concat_batches(&rbs[0].schema(), &rbs).unwrap();
    let a = column(&all, "n", &DataType::Int64, "long");
    same("n", &a, &Int64Array::from(vec![3i64, 4, 3]));
}

// ---------------------------------------------------------------------------
// More: every type back out, symbols, cancel, empty results, auth
// ---------------------------------------------------------------------------

/// Every column type written by the row API comes back through the
/// official Arrow reader with the values the server stored.
#[test]
fn official_reader_every_type_roundtrip() {
    let srv = start(Server::builder().max_batch_rows(4));
    let db = connect(&srv, "");
    write_every_type(&srv, &db, "interop_rt");
    let t = stored(&srv, "interop_rt");
    let mut reader = db.borrow_reader().expect("borrow_reader");
    let mut cur = reader
        .execute("SELECT * FROM interop_rt ORDER BY \"timestamp\"")
        .expect("execute");
    let (schema, batches) = cur
        .fetch_all_arrow()
        .unwrap_or_else(|e| panic!("fetch_all_arrow: {:?}: {}", e.code(), e.msg()));
    drop(cur);
    assert_eq!(batches.len(), 2, "6 rows at 4 per batch");
    let got = arrow::compute::concat_batches(&schema, &batches).unwrap();
    assert_eq!(got.num_rows(), t.num_rows());
    let names = |s: &Schema| {
        s.fields()
            .iter()
            .map(|f| f.name().clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&schema), names(&t.schema()), "column order");
    for (i, f) in t.schema().fields().iter().enumerate() {
        let name = f.name();
        let gf = schema.field_with_name(name).unwrap();
        for key in ["questdb.column_type", "questdb.geohash_bits"] {
            assert_eq!(
                gf.metadata().get(key),
                f.metadata().get(key),
                "{name}: {key}"
            );
        }
        let want = t.column(i).clone();
        let got_a = got.column_by_name(name).unwrap().clone();
        let (got_a, want) = match (gf.data_type(), want.data_type()) {
            (DataType::Dictionary(..), _) => (as_utf8(&got_a), as_utf8(&want)),
            (g, w) if g != w => {
                // The client's own mapping: DATE → Timestamp(ms), narrow
                // GEOHASH → the smallest signed integer.
                println!("{name}: stored {w}, official reader {g}");
                let c = arrow::compute::cast(&want, g)
                    .unwrap_or_else(|e| panic!("{name}: cast {w} -> {g}: {e}"));
                (got_a, c)
            }
            _ => (got_a, want),
        };
        same(name, &got_a, want.as_ref());
    }

    // The row cursor sees the same NULLs for the nullable scalar columns.
    let r = must(
        &mut reader,
        "SELECT i32, i64, f64, s, sym FROM interop_rt ORDER BY \"timestamp\"",
    );
    assert_eq!(r.rows[2][0], V::Null, "i32 row 2");
    assert_eq!(r.rows[1][1], V::Null, "i64 row 1");
    assert_eq!(r.rows[3][2], V::Null, "f64 row 3");
    assert_eq!(r.rows[2][3], V::Null, "s row 2");
    assert_eq!(r.rows[3][4], V::Null, "sym row 3");
    assert_eq!(
        r.rows[0],
        vec![V::I(70_000), V::I(1), V::F(1.5), s("hello"), s("AAPL")]
    );
}

/// Symbols repeat across flushes of one connection (delta dictionary) and
/// across connections; a column added later is NULL in earlier rows.
#[test]
fn official_sender_symbols_across_flushes() {
    let srv = start(Server::builder());
    let db = connect(&srv, "");
    let mut s1 = db.borrow_sender().expect("borrow_sender");
    let mut buf = s1.new_buffer();
    let mut ts = T0_US;
    let mut row = |buf: &mut questdb::ingress::Buffer, sym: &str, extra: Option<i64>| {
        ts += 1;
        buf.table("interop_syms").unwrap();
        buf.symbol("sym", sym).unwrap();
        buf.column_i64_opt("extra", extra).unwrap();
        buf.at(TimestampMicros::new(ts)).unwrap();
    };
    row(&mut buf, "a", None);
    row(&mut buf, "b", None);
    row(&mut buf, "a", None);
    s1.flush_buffer_and_wait(&mut buf, AckLevel::Ok)
        .expect("flush 1");
    row(&mut buf, "b", Some(1));
    row(&mut buf, "c", Some(2));
    row(&mut buf, "a", None);
    s1.flush_buffer_and_wait(&mut buf, AckLevel::Ok)
        .expect("flush 2");
    // A second connection with its own dictionary.
    let mut s2 = db.borrow_sender().expect("second borrow_sender");
    let mut buf2 = s2.new_buffer();
    row(&mut buf2, "c", Some(3));
    row(&mut buf2, "d", None);
    row(&mut buf2, "a", Some(4));
    s2.flush_buffer_and_wait(&mut buf2, AckLevel::Ok)
        .expect("flush 3");
    row(&mut buf, "d", Some(5));
    s1.flush_buffer_and_wait(&mut buf, AckLevel::Ok)
        .expect("flush 4");
    drop((s1, s2));

    let t = stored(&srv, "interop_syms");
    let dict = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
    let a = column(&t, "sym", &dict, "symbol");
    same(
        "sym",
        &as_utf8(&a),
        &StringArray::from(vec!["a", "b", "a", "b", "c", "a", "c", "d", "a", "d"]),
    );
    let a = column(&t, "extra", &DataType::Int64, "long");
    same(
        "extra",
        &a,
        &Int64Array::from(vec![
            None,
            None,
            None,
            Some(1),
            Some(2),
            None,
            Some(3),
            None,
            Some(4),
            Some(5),
        ]),
    );
}

/// The reader's connection dictionary: symbols across batches and queries,
/// a query-scoped reset, and a server CACHE_RESET when the dictionary
/// passes its cap.
#[test]
fn official_reader_symbol_dictionary() {
    let srv = start(Server::builder().max_batch_rows(3).dict_caps(4, 1 << 20));
    let db = connect(&srv, "");
    {
        let mut sender = db.borrow_sender().expect("borrow_sender");
        let mut buf = sender.new_buffer();
        for i in 0..12i64 {
            buf.table("interop_dict").unwrap();
            buf.symbol("sym", format!("s{}", i % 6)).unwrap();
            buf.column_i64("id", i).unwrap();
            buf.at(TimestampMicros::new(T0_US + i)).unwrap();
        }
        sender.flush_buffer(&mut buf).expect("flush_buffer");
        sender.wait(AckLevel::Ok, ACK_TIMEOUT).expect("wait");
    }
    let want: Vec<Vec<V>> = (0..12i64)
        .map(|i| vec![V::I(i), V::S(format!("s{}", i % 6))])
        .collect();
    let mut reader = db.borrow_reader().expect("borrow_reader");
    let sql = "SELECT id, sym FROM interop_dict ORDER BY id";
    for round in 0..3 {
        let r = must(&mut reader, sql);
        assert_eq!(r.rows, want, "round {round}");
        assert_eq!(r.batch_rows, [3, 3, 3, 3], "round {round}");
    }
    let cur = reader
        .prepare(sql)
        .reset_symbol_dict(true)
        .execute()
        .expect("execute");
    let r = drain(cur).unwrap_or_else(|e| panic!("reset_symbol_dict: {:?}: {}", e.code(), e.msg()));
    assert_eq!(r.rows, want, "with reset_symbol_dict");
    // Other symbols after a reset.
    let r = must(
        &mut reader,
        "SELECT DISTINCT sym FROM interop_dict WHERE id < 2 ORDER BY sym",
    );
    assert_eq!(r.rows, vec![vec![s("s0")], vec![s("s1")]]);
    // Arrow path over the same connection.
    let mut cur = reader.execute(sql).expect("execute");
    let (schema, batches) = cur.fetch_all_arrow().expect("fetch_all_arrow");
    drop(cur);
    let all = arrow::compute::concat_batches(&schema, &batches).unwrap();
    let a = as_utf8(all.column_by_name("sym").unwrap());
    same(
        "sym (arrow)",
        &a,
        &StringArray::from((0..12).map(|i| format!("s{}", i % 6)).collect::<Vec<_>>()),
    );
}

/// CANCEL in the middle of a credit-limited stream, then the connection
/// runs the next query.
#[test]
fn official_reader_cancel() {
    let srv = start(Server::builder().max_batch_rows(1000));
    let db = connect(&srv, "");
    {
        let mut sender = db.borrow_sender().expect("borrow_sender");
        let mut buf = sender.new_buffer();
        for i in 0..20_000i64 {
            buf.table("interop_cancel").unwrap();
            buf.column_i64("id", i).unwrap();
            buf.at(TimestampMicros::new(T0_US + i)).unwrap();
        }
        sender.flush_buffer(&mut buf).expect("flush_buffer");
        sender.wait(AckLevel::Ok, ACK_TIMEOUT).expect("wait");
    }
    let mut reader = db.borrow_reader().expect("borrow_reader");
    let mut cur = reader
        .prepare("SELECT id FROM interop_cancel ORDER BY id")
        .initial_credit(16_384)
        .execute()
        .expect("execute");
    for _ in 0..2 {
        let b = cur.next_batch().expect("next_batch").expect("a batch");
        assert!(b.row_count() > 0);
    }
    cur.cancel()
        .unwrap_or_else(|e| panic!("cancel: {:?}: {}", e.code(), e.msg()));
    println!(
        "after cancel: terminal {:?}, reusable {}",
        cur.terminal(),
        cur.connection_reusable()
    );
    drop(cur);
    let r = must(&mut reader, "SELECT count(*) FROM interop_cancel");
    assert_eq!(r.rows, vec![vec![V::I(20_000)]], "next query after CANCEL");
}

/// A query with no rows still ends cleanly (schema, RESULT_END 0).
#[test]
fn official_reader_empty_result() {
    let srv = start(Server::builder());
    let db = connect(&srv, "");
    write_q(&db, "interop_empty");
    let mut reader = db.borrow_reader().expect("borrow_reader");
    let r = must(
        &mut reader,
        "SELECT id, name FROM interop_empty WHERE id < 0",
    );
    assert!(r.rows.is_empty());
    assert!(
        matches!(r.terminal, Some(Terminal::End { total_rows: 0, .. })),
        "terminal {:?}",
        r.terminal
    );
    println!(
        "empty result: names {:?}, batches {:?}",
        r.names, r.batch_rows
    );
    let mut cur = reader
        .execute("SELECT id, name FROM interop_empty WHERE id < 0")
        .expect("execute");
    match cur.fetch_all_arrow() {
        Ok((schema, batches)) => {
            assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 0);
            assert_eq!(schema.fields().len(), 2, "{schema:?}");
        }
        Err(e) => panic!(
            "fetch_all_arrow on an empty result: {:?}: {}",
            e.code(),
            e.msg()
        ),
    }
    drop(cur);
    let r = must(&mut reader, "SELECT count(*) FROM interop_empty");
    assert_eq!(r.rows, vec![vec![V::I(10)]]);
}

/// Basic and token authentication with the official client's keys.
#[test]
fn official_client_auth() {
    let srv = start(Server::builder().basic_auth("admin", "quest"));
    let db = connect(&srv, "username=admin;password=quest;");
    write_q(&db, "interop_auth");
    let mut reader = db.borrow_reader().expect("borrow_reader");
    let r = must(&mut reader, "SELECT count(*) FROM interop_auth");
    assert_eq!(r.rows, vec![vec![V::I(10)]]);
    drop(reader);
    drop(db);
    let conf = format!("{}username=admin;password=wrong;", srv.conf_string());
    let e = QuestDb::connect(&conf).expect_err("wrong password must fail");
    println!("wrong password: {:?}: {}", e.code(), e.msg());
    let Err(e) = Reader::from_conf(&conf) else {
        panic!("reader with wrong password must fail");
    };
    println!("reader, wrong password: {:?}: {}", e.code(), e.msg());

    let srv = start(Server::builder().token_auth("s3cr3t"));
    let db = connect(&srv, "token=s3cr3t;");
    write_q(&db, "interop_auth_t");
    let mut reader = db.borrow_reader().expect("borrow_reader");
    let r = must(&mut reader, "SELECT count(*) FROM interop_auth_t");
    assert_eq!(r.rows, vec![vec![V::I(10)]]);
}

/// Every bind type the official reader has, against the every-type table.
#[test]
fn official_reader_typed_binds() {
    use questdb::egress::ReaderQuery;
    let srv = start(Server::builder());
    let db = connect(&srv, "");
    write_every_type(&srv, &db, "interop_tb");
    let mut reader = db.borrow_reader().expect("borrow_reader");
    // Not covered: `bind_ipv4` and `bind_binary`, which questdb-rs 7.2.1
    // refuses client-side ("bind not supported for type ipv4/binary").
    type Binder = Box<dyn for<'r> FnOnce(ReaderQuery<'r>) -> ReaderQuery<'r>>;
    let cases: Vec<(&str, i64, Binder)> = vec![
        ("b", 3, Box::new(|q| q.bind_bool(true))),
        ("i8", 1, Box::new(|q| q.bind_i8(1))),
        ("i16", 1, Box::new(|q| q.bind_i16(300))),
        ("i32", 1, Box::new(|q| q.bind_i32(70_000))),
        ("i64", 1, Box::new(|q| q.bind_i64(-42))),
        ("f32", 1, Box::new(|q| q.bind_f32(1.5))),
        ("f64", 1, Box::new(|q| q.bind_f64(1e300))),
        ("s", 1, Box::new(|q| q.bind_varchar("hello"))),
        ("sym", 3, Box::new(|q| q.bind_varchar("AAPL"))),
        ("ts_us", 1, Box::new(|q| q.bind_timestamp_micros(T0_US))),
        (
            "ts_ns",
            1,
            Box::new(|q| q.bind_timestamp_nanos(1_600_000_000_123_456_789)),
        ),
        ("d", 1, Box::new(|q| q.bind_date_millis(86_400_000))),
        (
            "u",
            1,
            Box::new(|q| q.bind_uuid(uuid_bytes(0xa716_4466_5544_0000, 0x550e_8400_e29b_41d4))),
        ),
        ("l256", 1, Box::new(|q| q.bind_long256(l256(3)))),
        ("ch", 1, Box::new(|q| q.bind_char(0x263a))),
        ("geo", 1, Box::new(|q| q.bind_geohash(0xabcde, 20))),
        ("dec64", 1, Box::new(|q| q.bind_decimal64(12_345, 2))),
        ("dec128", 1, Box::new(|q| q.bind_decimal128(-1_000, 3))),
        (
            "dec256",
            1,
            Box::new(|q| q.bind_decimal256(i256::from_i128(31).to_le_bytes(), 1)),
        ),
    ];
    let mut failures = Vec::new();
    for (col, want, bind) in cases {
        let sql = format!("SELECT count(*) FROM interop_tb WHERE {col} = $1");
        let res = bind(reader.prepare(sql.as_str())).execute().and_then(drain);
        match res {
            Ok(r) if r.rows == vec![vec![V::I(want)]] => {}
            Ok(r) => failures.push(format!("{col}: got {:?}, want {want}", r.rows)),
            Err(e) => failures.push(format!("{col}: {:?}: {}", e.code(), e.msg())),
        }
    }
    // Typed NULL binds of several kinds, projected back.
    let cur = reader
        .prepare("SELECT $1 IS NULL AS a, $2 IS NULL AS b, $3 IS NULL AS c FROM interop_tb LIMIT 1")
        .bind_null(SimpleNullKind::Timestamp)
        .bind_null_decimal64(2)
        .bind_null_geohash(20)
        .execute()
        .expect("execute");
    match drain(cur) {
        Ok(r) if r.rows == vec![vec![V::B(true), V::B(true), V::B(true)]] => {}
        Ok(r) => failures.push(format!("NULL binds: got {:?}", r.rows)),
        Err(e) => failures.push(format!("NULL binds: {:?}: {}", e.code(), e.msg())),
    }
    // The connection survives whatever failed above.
    let r = must(&mut reader, "SELECT count(*) FROM interop_tb");
    assert_eq!(r.rows, vec![vec![V::I(6)]]);
    assert!(
        failures.is_empty(),
        "bind failures:\n  {}",
        failures.join("\n  ")
    );
}

/// INSERT with binds and a client-side `max_batch_rows`.
#[test]
fn official_reader_insert_binds_and_client_batch_rows() {
    let srv = start(Server::builder());
    let db = connect(&srv, "max_batch_rows=5;");
    let mut reader = db.borrow_reader().expect("borrow_reader");
    exec_done(
        &mut reader,
        "CREATE TABLE interop_ins (id LONG, name VARCHAR, ts TIMESTAMP) TIMESTAMP(ts)",
    );
    for id in 0..12i64 {
        let cur = reader
            .prepare("INSERT INTO interop_ins VALUES ($1, $2, $3)")
            .bind_i64(id)
            .bind_varchar(format!("v{id}"))
            .bind_timestamp_micros(T0_US + id)
            .execute()
            .expect("execute");
        let r =
            drain(cur).unwrap_or_else(|e| panic!("INSERT with binds: {:?}: {}", e.code(), e.msg()));
        assert!(
            matches!(
                r.terminal,
                Some(Terminal::ExecDone {
                    rows_affected: 1,
                    ..
                })
            ),
            "terminal {:?}",
            r.terminal
        );
    }
    let r = must(
        &mut reader,
        "SELECT id, name, ts FROM interop_ins ORDER BY id",
    );
    let want: Vec<Vec<V>> = (0..12i64)
        .map(|i| vec![V::I(i), V::S(format!("v{i}")), V::I(T0_US + i)])
        .collect();
    assert_eq!(r.rows, want);
    assert_eq!(r.batch_rows, [5, 5, 2], "client max_batch_rows=5");
}

/// Rows without a designated timestamp get the server's time; a durable
/// ACK is awaited when the server offers it.
#[test]
fn official_sender_at_now_and_durable_ack() {
    let srv = start(Server::builder().durable_ack(true));
    let db = connect(&srv, "request_durable_ack=on;");
    let mut sender = db.borrow_sender().expect("borrow_sender");
    let mut buf = sender.new_buffer();
    for i in 0..3i64 {
        buf.table("interop_now").unwrap();
        buf.column_i64("v", i).unwrap();
        buf.at_now().unwrap();
    }
    sender.flush_buffer(&mut buf).expect("flush_buffer");
    sender
        .wait(AckLevel::Durable, ACK_TIMEOUT)
        .unwrap_or_else(|e| panic!("wait(Durable): {:?}: {}", e.code(), e.msg()));
    drop(sender);
    let t = stored(&srv, "interop_now");
    assert_eq!(t.num_rows(), 3);
    let ts = column(
        &t,
        "timestamp",
        &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        "timestamp",
    );
    assert_eq!(ts.null_count(), 0);
    let ts = ts
        .as_any()
        .downcast_ref::<TimestampMicrosecondArray>()
        .unwrap();
    assert!(
        ts.values().iter().all(|&v| v > T0_US),
        "server time: {ts:?}"
    );
}

/// A frame above the server's advertised `X-QWP-Max-Batch-Size` is refused
/// by the client for row buffers, and split by it for Arrow batches.
#[test]
fn official_sender_small_recv_buffer() {
    let srv = start(Server::builder().recv_buffer(64 * 1024));
    let db = connect(&srv, "");
    let mut sender = db.borrow_sender().expect("borrow_sender");
    let mut buf = sender.new_buffer();
    for i in 0..20_000i64 {
        buf.table("interop_small_rb").unwrap();
        buf.column_i64("v", i).unwrap();
        buf.at(TimestampMicros::new(T0_US + i)).unwrap();
    }
    let e = sender
        .flush_buffer(&mut buf)
        .expect_err("an oversize row buffer is refused");
    println!("oversize row buffer: {:?}: {}", e.code(), e.msg());
    assert!(
        e.msg().contains(&(64 * 1024 - 14).to_string()),
        "cap in message: {}",
        e.msg()
    );
    drop(sender);

    let n = 20_000i64;
    let ts = TimestampMicrosecondArray::from((0..n).map(|i| T0_US + i).collect::<Vec<_>>())
        .with_timezone("UTC");
    let batch = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("ts", ts.data_type().clone(), false),
            Field::new("v", DataType::Int64, true),
            Field::new("name", DataType::Utf8, true),
        ])),
        vec![
            Arc::new(ts),
            Arc::new(Int64Array::from((0..n).collect::<Vec<_>>())),
            Arc::new(StringArray::from(
                (0..n).map(|i| format!("name-{i}")).collect::<Vec<_>>(),
            )),
        ],
    )
    .unwrap();
    db.flush_arrow_batch(
        "interop_small_rb",
        &batch,
        Some(ColumnName::new("ts").unwrap()),
        &[],
        None,
    )
    .unwrap_or_else(|e| panic!("flush_arrow_batch (split): {:?}: {}", e.code(), e.msg()));
    let t = stored(&srv, "interop_small_rb");
    assert_eq!(t.num_rows(), n as usize, "all rows of the split batch");
    let v = column(&t, "v", &DataType::Int64, "long");
    same("v", &v, &Int64Array::from((0..n).collect::<Vec<_>>()));
}

/// A type clash is rejected with SCHEMA_MISMATCH and reported to the
/// pool's error handler; the table keeps only the good rows.
#[test]
fn official_sender_schema_mismatch_reported() {
    use questdb::ConnectHandlers;
    use questdb::ingress::{QwpWsErrorHandler, QwpWsSenderError};
    use std::sync::Mutex;
    let srv = start(Server::builder());
    let seen: Arc<Mutex<Vec<QwpWsSenderError>>> = Arc::default();
    let mut handlers = ConnectHandlers::default();
    let s2 = seen.clone();
    handlers.error_handler = Some(QwpWsErrorHandler::new(move |e| {
        s2.lock().unwrap().push(e.clone())
    }));
    let db = QuestDb::connect_with_handlers(&srv.conf_string(), handlers)
        .expect("connect_with_handlers");
    {
        let mut sender = db.borrow_sender().expect("borrow_sender");
        let mut buf = sender.new_buffer();
        buf.table("interop_clash").unwrap();
        buf.column_i64("x", 1).unwrap();
        buf.at(TimestampMicros::new(T0_US)).unwrap();
        sender
            .flush_buffer_and_wait(&mut buf, AckLevel::Ok)
            .expect("good row");
        // A fresh buffer: one buffer refuses a column changing type.
        let mut buf = sender.new_buffer();
        buf.table("interop_clash").unwrap();
        buf.column_str("x", "not a number").unwrap();
        buf.at(TimestampMicros::new(T0_US + 1)).unwrap();
        sender.flush_buffer(&mut buf).expect("flush_buffer");
        let w = sender.wait(AckLevel::Ok, Duration::from_secs(10));
        println!(
            "wait after a clash: {:?}",
            w.as_ref().map_err(|e| (e.code(), e.msg().to_string()))
        );
        sender.drop_on_return();
    }
    let deadline = std::time::Instant::now() + ACK_TIMEOUT;
    while seen.lock().unwrap().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let events = seen.lock().unwrap().clone();
    println!("rejections: {events:?}");
    let e = events
        .first()
        .expect("a rejection reaches the error handler");
    assert_eq!(e.status, Some(0x03), "SCHEMA_MISMATCH status: {e:?}");
    assert!(
        e.message.as_deref().unwrap_or("").contains('x'),
        "message names the column: {e:?}"
    );
    let t = stored(&srv, "interop_clash");
    assert_eq!(t.num_rows(), 1, "only the good row");
}
