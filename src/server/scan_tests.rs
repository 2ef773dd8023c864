//! The fast scan against DataFusion over the same stored batches: the same
//! schema (names, types, nullability, metadata) and the same rows, for
//! sliced batches, NULLs, NaN, dictionaries shared across batches and an
//! empty batch; and what must be left to DataFusion.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, DictionaryArray, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Int32Type, Schema, TimeUnit};
use datafusion::datasource::MemTable;
use datafusion::prelude::{SessionConfig, SessionContext};

use super::*;
use crate::bridge::types::{QwpType, arrow_field};
use crate::protocol::ColumnType;

/// `rows` rows starting at `from`: ts, l (LONG, NULL every 7th), d
/// (DOUBLE, NULL every 5th, NaN and -0.0 too), s (SYMBOL over `dict`, NULL
/// every 4th), v (VARCHAR, NULL every 6th), i (INT).
fn batch(schema: &SchemaRef, from: i64, rows: i64, dict: &ArrayRef) -> RecordBatch {
    let r = from..from + rows;
    let keys = Int32Array::from_iter(r.clone().map(|i| (i % 4 != 0).then_some((i % 5) as i32)));
    let s = DictionaryArray::<Int32Type>::try_new(keys, dict.clone()).unwrap();
    let cols: Vec<ArrayRef> = vec![
        Arc::new(TimestampMicrosecondArray::from_iter_values(
            r.clone().map(|i| 1_704_067_200_000_000 + i * 60_000_000),
        )),
        Arc::new(Int64Array::from_iter(
            r.clone().map(|i| (i % 7 != 0).then_some(i * 3 - 50)),
        )),
        Arc::new(Float64Array::from_iter(r.clone().map(|i| match i % 11 {
            3 => Some(f64::NAN),
            4 => Some(-0.0),
            _ => (i % 5 != 0).then_some(i as f64 * 0.5 - 20.0),
        }))),
        Arc::new(s),
        Arc::new(StringArray::from_iter(
            r.clone()
                .map(|i| (i % 6 != 0).then(|| format!("v{}", i % 13))),
        )),
        Arc::new(Int32Array::from_iter_values(r.map(|i| (i % 9) as i32 - 4))),
    ];
    RecordBatch::try_new(schema.clone(), cols).unwrap()
}

/// A table of several stored batches: two sharing one dictionary, one
/// sliced out of a bigger batch (with its own dictionary), an empty one.
fn table() -> Table {
    let q = |t| QwpType::plain(t);
    let schema = Arc::new(Schema::new(vec![
        arrow_field("ts", q(ColumnType::Timestamp), true)
            .with_data_type(DataType::Timestamp(TimeUnit::Microsecond, None)),
        arrow_field("l", q(ColumnType::Long), false),
        arrow_field("d", q(ColumnType::Double), false),
        arrow_field("s", q(ColumnType::Symbol), false).with_data_type(DataType::Dictionary(
            Box::new(DataType::Int32),
            Box::new(DataType::Utf8),
        )),
        arrow_field("v", q(ColumnType::Varchar), false),
        arrow_field("i", q(ColumnType::Int), false),
    ]));
    let shared: ArrayRef = Arc::new(StringArray::from(vec!["a", "b", "c", "d", "e"]));
    let other: ArrayRef = Arc::new(StringArray::from(vec![
        Some("e"),
        Some("d"),
        None,
        Some("b"),
        Some("zz"),
    ]));
    let big = batch(&schema, 100, 200, &other);
    let mut t = Table::new("Trades", schema.clone(), Some(0));
    t.batches = vec![
        batch(&schema, 0, 40, &shared),
        batch(&schema, 40, 60, &shared),
        big.slice(37, 90),
        batch(&schema, 300, 0, &shared),
        batch(&schema, 300, 25, &shared),
    ];
    t
}

fn lookup(name: &str) -> Option<Table> {
    (name == "trades").then(table)
}

fn fast(sql: &str) -> Option<(SchemaRef, Vec<RecordBatch>)> {
    let mut s = plan_with(sql, lookup)?;
    let mut out = Vec::new();
    loop {
        match s.next_batch() {
            Next::Batch(b) => out.push(b),
            Next::End => return Some((s.schema.clone(), out)),
            Next::Failed(r) => panic!("{sql}: {r:?}"),
            Next::Pending => panic!("{sql}: a scan is never pending"),
        }
    }
}

/// What the server's DataFusion path gives (same session settings).
fn datafusion(sql: &str) -> (SchemaRef, Vec<RecordBatch>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let ctx = SessionContext::new_with_config(
        SessionConfig::new()
            .with_target_partitions(1)
            .with_batch_size(10_000),
    );
    let t = table();
    ctx.register_table(
        "trades",
        Arc::new(MemTable::try_new(t.schema.clone(), vec![t.batches.clone()]).unwrap()),
    )
    .unwrap();
    rt.block_on(async {
        let df = ctx.sql(sql).await.unwrap();
        let stream = df.execute_stream().await.unwrap();
        let schema = stream.schema();
        let batches = datafusion::physical_plan::common::collect(stream)
            .await
            .unwrap();
        (schema, batches)
    })
}

fn rows(schema: &SchemaRef, b: &[RecordBatch]) -> RecordBatch {
    arrow::compute::concat_batches(schema, b).unwrap()
}

#[test]
fn fast_scans_equal_datafusion() {
    let queries = [
        "SELECT * FROM trades",
        "select * from TRADES;",
        "SELECT l, d AS price, s sym, \"v\" AS \"Note\" FROM trades",
        "SELECT ts AS t2, i FROM trades",
        "SELECT * FROM trades LIMIT 0",
        "SELECT * FROM trades LIMIT 1",
        "SELECT * FROM trades LIMIT 57",
        "SELECT * FROM trades LIMIT 100000",
        "SELECT d FROM trades WHERE l = 7",
        "SELECT * FROM trades WHERE l <> 7 AND l != 10",
        "SELECT * FROM trades WHERE l < 100 AND l >= -20",
        "SELECT * FROM trades WHERE l <= 100 AND l > -20 LIMIT 30",
        "SELECT * FROM trades WHERE 100 > l",
        "SELECT * FROM trades WHERE l = -11",
        "SELECT * FROM trades LIMIT ALL",
        "SELECT * FROM trades WHERE i = 3",
        "SELECT * FROM trades WHERE i > -2",
        "SELECT * FROM trades WHERE d = 6",
        "SELECT * FROM trades WHERE d > 12.5",
        "SELECT * FROM trades WHERE d <= -3.0e0",
        "SELECT * FROM trades WHERE d = 0",
        "SELECT * FROM trades WHERE d <> 0.0",
        "SELECT * FROM trades WHERE d = -0.0 AND d <= -0",
        "SELECT * FROM trades WHERE d >= 1e308",
        "SELECT * FROM trades WHERE d >= -1e400",
        "SELECT * FROM trades WHERE s = 'b'",
        "SELECT * FROM trades WHERE s <> 'b'",
        "SELECT * FROM trades WHERE s < 'c' AND s >= 'b'",
        "SELECT * FROM trades WHERE 'c' <= s",
        "SELECT * FROM trades WHERE s = 'zz'",
        "SELECT * FROM trades WHERE s = 'nope'",
        "SELECT * FROM trades WHERE v = 'v3'",
        "SELECT * FROM trades WHERE v > 'v3' AND v < 'v7'",
        "SELECT * FROM trades WHERE v <> 'v3'",
        "SELECT * FROM trades WHERE ts >= '2024-01-01T01:00:00Z'",
        "SELECT * FROM trades WHERE ts < '2024-01-01T02:00:00.000000Z' AND ts > '2024-01-01 00:30:00'",
        "SELECT * FROM trades WHERE ts = '2024-01-01T00:05:00+00:00'",
        "SELECT * FROM trades WHERE ts BETWEEN '2024-01-01T01:00:00Z' AND '2024-01-01T03:00:00Z'",
        "SELECT * FROM trades WHERE l BETWEEN 10 AND 200",
        "SELECT * FROM trades WHERE d IS NULL",
        "SELECT * FROM trades WHERE s IS NOT NULL AND v IS NULL",
        "SELECT * FROM trades WHERE (l > 10 AND (s = 'a')) AND d IS NOT NULL",
        "SELECT v FROM trades WHERE l > 10 LIMIT 5",
        "SELECT * FROM trades WHERE l > 1000000",
        "SELECT * FROM trades WHERE l > 10 LIMIT 0",
    ];
    for sql in queries {
        let (fs, fb) = fast(sql).unwrap_or_else(|| panic!("not a fast scan: {sql}"));
        let (ds, db) = datafusion(sql);
        assert_eq!(fs, ds, "{sql}: schemas");
        let (f, d) = (rows(&fs, &fb), rows(&ds, &db));
        assert_eq!(f, d, "{sql}: rows");
        assert!(fb.iter().all(|b| b.num_rows() > 0), "{sql}: empty batches");
        let none = ["1000000", "nope", "LIMIT 0"];
        if sql.contains("WHERE") && !none.iter().any(|n| sql.contains(n)) {
            assert!(
                f.num_rows() > 0,
                "{sql}: a filter selecting nothing tests little"
            );
        }
    }
}

#[test]
fn scans_share_stored_buffers() {
    let t = table();
    let scan = |sql| {
        let mut s = plan_with(sql, |_| Some(t.clone())).unwrap();
        let mut out = Vec::new();
        while let Next::Batch(b) = s.next_batch() {
            out.push(b);
        }
        out
    };
    let b = scan("SELECT s, l FROM trades");
    assert_eq!(b.len(), 4, "the empty stored batch is skipped");
    assert!(Arc::ptr_eq(b[0].column(0), t.batches[0].column(3)));
    assert!(Arc::ptr_eq(b[1].column(1), t.batches[1].column(1)));
    // A filter keeps a dictionary's values (connection ids stay cached).
    let b = scan("SELECT s FROM trades WHERE l > 0");
    let dict = |a: &ArrayRef| a.as_any_dictionary().values().clone();
    assert!(Arc::ptr_eq(&dict(b[0].column(0)), &dict(b[1].column(0))));
}

#[test]
fn everything_else_is_left_to_datafusion() {
    let queries = [
        "SELECT * FROM trades ORDER BY l",
        "SELECT count(*) FROM trades",
        "SELECT s, count(*) FROM trades GROUP BY s",
        "SELECT DISTINCT s FROM trades",
        "SELECT l + 1 FROM trades",
        "SELECT *, l FROM trades",
        "SELECT l, l FROM trades",
        "SELECT l AS x, d AS x FROM trades",
        "SELECT trades.l FROM trades",
        "SELECT * FROM trades t",
        "SELECT * FROM trades, trades",
        "SELECT * FROM trades WHERE l = 1 OR l = 2",
        "SELECT * FROM trades WHERE NOT l = 1",
        "SELECT * FROM trades WHERE l = d",
        "SELECT * FROM trades WHERE l = 1.5",
        "SELECT * FROM trades WHERE l = '1'",
        "SELECT * FROM trades WHERE l = 9223372036854775808",
        "SELECT * FROM trades WHERE i = 3000000000",
        "SELECT * FROM trades WHERE d = 9007199254740993",
        "SELECT * FROM trades WHERE ts > 0",
        "SELECT * FROM trades WHERE ts > 'yesterday-ish'",
        "SELECT * FROM trades WHERE s = 1",
        "SELECT * FROM trades WHERE l = $1",
        "SELECT * FROM trades WHERE l = NULL",
        "SELECT * FROM trades WHERE l NOT BETWEEN 1 AND 2",
        "SELECT * FROM trades WHERE l IN (1, 2)",
        "SELECT * FROM trades WHERE v LIKE 'v%'",
        "SELECT * FROM trades LIMIT 5 OFFSET 2",
        "SELECT * FROM trades LIMIT 1 + 1",
        "SELECT * FROM \"Trades\"",
        "SELECT \"L\" FROM trades",
        "SELECT L FROM trades WHERE nope = 1",
        "SELECT * FROM nope",
        "WITH x AS (SELECT * FROM trades) SELECT * FROM x",
        "SELECT * FROM (SELECT * FROM trades)",
        "SELECT * FROM trades UNION ALL SELECT * FROM trades",
        "SELECT * FROM trades; SELECT * FROM trades",
        "EXPLAIN SELECT * FROM trades",
        "SELECT * FROM trades WHERE l > 1 HAVING l > 2",
        "SELECT * EXCLUDE (l) FROM trades",
        "SELECT * FROM trades FETCH FIRST 2 ROWS ONLY",
        "SELEC * FROM trades",
    ];
    for sql in queries {
        assert!(plan_with(sql, lookup).is_none(), "taken: {sql}");
    }
    // Upper-case unquoted names are lowercased, as DataFusion does.
    assert!(plan_with("SELECT L, D AS Price FROM Trades", lookup).is_some());
    let (s, _) = fast("SELECT L, D AS Price FROM Trades").unwrap();
    let names: Vec<&String> = s.fields().iter().map(|f| f.name()).collect();
    assert_eq!(names, ["l", "price"]);
}
