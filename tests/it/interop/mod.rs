//! Interop with the official client crate `questdb-rs` 7.2.1 (lib `questdb`):
//! its QWP/WebSocket sender writes into the embedded server, its reader
//! (row cursor and Arrow adapter) queries it.
//!
//! Every test starts its own server on `127.0.0.1:0` and uses its own
//! table names.

mod arrow_batch;
mod more;
mod reader;
mod rows;

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
