//! `DEDUP UPSERT KEYS` in the embedded server: replays stored once,
//! upserts, NULL keys, out-of-order rows, ALTER, restarts, errors.

use std::sync::Arc;

use arrow::array::{AsArray, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Int64Type, Schema, TimeUnit, TimestampMicrosecondType};
use questdb_arrow::client::{AckLevel, QuestDb};
use questdb_arrow::protocol::Status;
use questdb_arrow::server::{Server, ServerHandle};

use crate::support::rows;

const T0: i64 = 1_700_000_000_000_000;
const DDL: &str = "(ts TIMESTAMP, id LONG, note VARCHAR) TIMESTAMP(ts) PARTITION BY DAY WAL";

fn start() -> (ServerHandle, QuestDb) {
    let srv = Server::builder().bind("127.0.0.1:0").start().unwrap();
    let db = QuestDb::connect(&srv.conf_string()).unwrap();
    (srv, db)
}

fn exec(db: &QuestDb, sql: &str) -> questdb_arrow::Result<()> {
    db.query_arrow(sql)?.fetch_all_arrow().map(|_| ())
}

fn flush(db: &QuestDb, table: &str, b: &RecordBatch) {
    db.flush_arrow_batch(table, b, Some("ts"), &[], AckLevel::Ok)
        .unwrap();
}

/// Rows `(ts - T0, id, note)`; `id` NULL when `None`.
fn batch(rows: &[(i64, Option<i64>, &str)]) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            false,
        ),
        Field::new("id", DataType::Int64, true),
        Field::new("note", DataType::Utf8, true),
    ]));
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(TimestampMicrosecondArray::from_iter_values(
                rows.iter().map(|r| T0 + r.0),
            )),
            Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.1))),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.2))),
        ],
    )
    .unwrap()
}

/// The stored rows in stored (timestamp) order: `(ts - T0, id, note)`.
fn stored(srv: &ServerHandle, table: &str) -> Vec<(i64, Option<i64>, String)> {
    let b = srv.table_batch(table).unwrap();
    let col = |n: &str| b.column(b.schema().index_of(n).unwrap()).clone();
    let ts = col("ts");
    let ts = ts.as_primitive::<TimestampMicrosecondType>();
    let id = col("id");
    let id = id.as_primitive::<Int64Type>();
    let note = arrow::compute::cast(&col("note"), &DataType::Utf8).unwrap();
    let note = note.as_string::<i32>();
    (0..b.num_rows())
        .map(|i| {
            (
                ts.value(i) - T0,
                (!arrow::array::Array::is_null(id, i)).then(|| id.value(i)),
                note.value(i).to_string(),
            )
        })
        .collect()
}

fn owned(v: &[(i64, Option<i64>, &str)]) -> Vec<(i64, Option<i64>, String)> {
    v.iter().map(|&(t, i, n)| (t, i, n.to_string())).collect()
}

#[test]
fn a_replayed_batch_is_stored_once() {
    let (srv, db) = start();
    exec(
        &db,
        &format!("CREATE TABLE t {DDL} DEDUP UPSERT KEYS(ts, id)"),
    )
    .unwrap();
    flush(&db, "t", &rows(0..10));
    flush(&db, "t", &rows(0..10));
    assert_eq!(crate::support::ids(&srv, "t"), (0..10).collect::<Vec<_>>());
    // A replay overlapping the tail and running past it: the new rows only.
    flush(&db, "t", &rows(5..15));
    assert_eq!(crate::support::ids(&srv, "t"), (0..15).collect::<Vec<_>>());
    // Without keys the same replay is stored twice.
    exec(&db, &format!("CREATE TABLE plain {DDL}")).unwrap();
    flush(&db, "plain", &rows(0..10));
    flush(&db, "plain", &rows(0..10));
    assert_eq!(srv.table_batch("plain").unwrap().num_rows(), 20);
}

#[test]
fn an_upsert_replaces_the_other_columns_in_place() {
    let (srv, db) = start();
    exec(
        &db,
        &format!("CREATE TABLE t {DDL} DEDUP UPSERT KEYS(ts, id)"),
    )
    .unwrap();
    flush(
        &db,
        "t",
        &batch(&[(0, Some(1), "a"), (1, Some(2), "b"), (2, Some(3), "c")]),
    );
    // Same key: replaced; same timestamp, other id: a new row.
    flush(&db, "t", &batch(&[(1, Some(2), "B"), (2, Some(4), "d")]));
    assert_eq!(
        stored(&srv, "t"),
        owned(&[
            (0, Some(1), "a"),
            (1, Some(2), "B"),
            (2, Some(3), "c"),
            (2, Some(4), "d")
        ])
    );
    // SQL INSERT goes through the same merge.
    exec(&db, &format!("INSERT INTO t VALUES ({}, 3, 'C')", T0 + 2)).unwrap();
    exec(&db, &format!("INSERT INTO t VALUES ({}, 3, 'CC')", T0 + 2)).unwrap();
    assert_eq!(
        stored(&srv, "t"),
        owned(&[
            (0, Some(1), "a"),
            (1, Some(2), "B"),
            (2, Some(3), "CC"),
            (2, Some(4), "d")
        ])
    );
}

#[test]
fn duplicates_within_one_batch_keep_the_last() {
    let (srv, db) = start();
    exec(
        &db,
        &format!("CREATE TABLE t {DDL} DEDUP UPSERT KEYS(ts, id)"),
    )
    .unwrap();
    flush(
        &db,
        "t",
        &batch(&[
            (0, Some(1), "a"),
            (0, Some(1), "b"),
            (5, Some(2), "c"),
            (0, Some(1), "d"),
        ]),
    );
    assert_eq!(
        stored(&srv, "t"),
        owned(&[(0, Some(1), "d"), (5, Some(2), "c")])
    );
}

#[test]
fn out_of_order_rows_upsert_into_the_middle() {
    let (srv, db) = start();
    exec(
        &db,
        &format!("CREATE TABLE t {DDL} DEDUP UPSERT KEYS(ts, id)"),
    )
    .unwrap();
    for k in 0..4 {
        flush(&db, "t", &rows(k * 25..(k + 1) * 25));
    }
    // Unsorted, reaching back into the second stored batch: two upserts
    // and one new row between them.
    flush(
        &db,
        "t",
        &batch(&[
            (60, Some(60), "x60"),
            (30, Some(30), "x30"),
            (45, Some(1000), "new"),
        ]),
    );
    let got = stored(&srv, "t");
    assert_eq!(got.len(), 101);
    assert!(got.windows(2).all(|w| w[0].0 <= w[1].0), "timestamp order");
    let at = |ts: i64| {
        got.iter()
            .filter(|r| r.0 == ts)
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(at(30), owned(&[(30, Some(30), "x30")]));
    assert_eq!(at(60), owned(&[(60, Some(60), "x60")]));
    assert_eq!(
        at(45),
        owned(&[(45, Some(45), "n45"), (45, Some(1000), "new")])
    );
    assert_eq!(at(29), owned(&[(29, Some(29), "n29")]));
}

#[test]
fn null_keys_compare_equal() {
    let (srv, db) = start();
    exec(
        &db,
        &format!("CREATE TABLE t {DDL} DEDUP UPSERT KEYS(ts, id)"),
    )
    .unwrap();
    flush(&db, "t", &batch(&[(0, None, "a"), (0, Some(0), "zero")]));
    flush(&db, "t", &batch(&[(0, None, "b")]));
    flush(&db, "t", &batch(&[(0, None, "c"), (0, None, "d")]));
    assert_eq!(
        stored(&srv, "t"),
        owned(&[(0, None, "d"), (0, Some(0), "zero")])
    );
}

#[test]
fn alter_enable_applies_to_later_rows_and_disable_turns_it_off() {
    let (srv, db) = start();
    exec(&db, &format!("CREATE TABLE t {DDL}")).unwrap();
    flush(
        &db,
        "t",
        &batch(&[(0, Some(1), "a"), (0, Some(1), "b"), (0, Some(2), "c")]),
    );
    exec(&db, "ALTER TABLE t DEDUP ENABLE UPSERT KEYS(ts, id)").unwrap();
    // Existing duplicates stay...
    assert_eq!(stored(&srv, "t").len(), 3);
    // ...and a new row with their key replaces every one of them.
    flush(&db, "t", &batch(&[(0, Some(1), "x")]));
    assert_eq!(
        stored(&srv, "t"),
        owned(&[(0, Some(1), "x"), (0, Some(1), "x"), (0, Some(2), "c")])
    );
    // Enabling again replaces the key list: by timestamp alone now.
    exec(&db, "alter table t dedup upsert keys(ts)").unwrap();
    flush(&db, "t", &batch(&[(1, Some(1), "p"), (1, Some(2), "q")]));
    assert_eq!(stored(&srv, "t")[3..], owned(&[(1, Some(2), "q")]));
    exec(&db, "ALTER TABLE t DEDUP DISABLE").unwrap();
    flush(&db, "t", &batch(&[(1, Some(2), "q")]));
    assert_eq!(
        stored(&srv, "t")[3..],
        owned(&[(1, Some(2), "q"), (1, Some(2), "q")])
    );
    // The table still answers queries (every batch carries its schema).
    let n = db
        .query_arrow("SELECT count(*) AS n FROM t")
        .unwrap()
        .fetch_all_arrow()
        .unwrap();
    assert_eq!(n[0].column(0).as_primitive::<Int64Type>().value(0), 5);
}

#[test]
fn create_table_as_select_with_keys_dedups_the_copy() {
    let (srv, db) = start();
    exec(&db, &format!("CREATE TABLE src {DDL}")).unwrap();
    flush(&db, "src", &batch(&[(0, Some(1), "a"), (0, Some(1), "b")]));
    exec(
        &db,
        "CREATE TABLE c AS (SELECT * FROM src) TIMESTAMP(ts) PARTITION BY DAY WAL DEDUP UPSERT KEYS(ts, id)",
    )
    .unwrap();
    assert_eq!(stored(&srv, "c"), owned(&[(0, Some(1), "b")]));
    // A copy of a table with keys does not inherit them.
    exec(
        &db,
        "CREATE TABLE d AS (SELECT * FROM c) TIMESTAMP(ts) PARTITION BY DAY WAL",
    )
    .unwrap();
    flush(&db, "d", &batch(&[(0, Some(1), "b")]));
    assert_eq!(stored(&srv, "d").len(), 2);
}

#[test]
fn restart_with_data_dir_keeps_the_keys() {
    let dir = std::env::temp_dir().join(format!("qa-dedup-restart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let open = || {
        Server::builder()
            .bind("127.0.0.1:0")
            .data_dir(&dir)
            .checkpoint_idle(None)
            .start()
            .unwrap()
    };
    {
        let srv = open();
        let db = QuestDb::connect(&srv.conf_string()).unwrap();
        // `ck`: keys from CREATE, then a checkpoint (restored from the
        // manifest); `wal`: keys from ALTER, rows only in the log (replayed
        // through the same merge); `off`: keys enabled then disabled.
        exec(
            &db,
            &format!("CREATE TABLE ck {DDL} DEDUP UPSERT KEYS(ts, id)"),
        )
        .unwrap();
        flush(&db, "ck", &rows(0..5));
        srv.checkpoint().unwrap();
        exec(&db, &format!("CREATE TABLE wal {DDL}")).unwrap();
        exec(&db, "ALTER TABLE wal DEDUP ENABLE UPSERT KEYS(ts, id)").unwrap();
        flush(&db, "wal", &rows(0..5));
        flush(&db, "wal", &batch(&[(2, Some(2), "upserted")]));
        exec(
            &db,
            &format!("CREATE TABLE off {DDL} DEDUP UPSERT KEYS(ts, id)"),
        )
        .unwrap();
        exec(&db, "ALTER TABLE off DEDUP DISABLE").unwrap();
        flush(&db, "off", &rows(0..5));
    }
    let srv = open();
    let db = QuestDb::connect(&srv.conf_string()).unwrap();
    assert_eq!(stored(&srv, "wal").len(), 5);
    assert_eq!(stored(&srv, "wal")[2].2, "upserted");
    for t in ["ck", "wal", "off"] {
        flush(&db, t, &rows(0..5));
    }
    assert_eq!(crate::support::ids(&srv, "ck"), (0..5).collect::<Vec<_>>());
    assert_eq!(crate::support::ids(&srv, "wal"), (0..5).collect::<Vec<_>>());
    assert_eq!(stored(&srv, "wal")[2].2, "n2", "upserted again");
    assert_eq!(stored(&srv, "off").len(), 10, "dedup stays off");
    drop(db);
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The statement fails with PARSE_ERROR and a message containing `want`.
fn fails(db: &QuestDb, sql: &str, want: &[&str]) {
    let e = exec(db, sql).unwrap_err();
    assert_eq!(e.status(), Some(Status::ParseError), "{sql}: {e}");
    let msg = e.to_string();
    for w in want {
        assert!(msg.contains(w), "{sql}: {msg:?} lacks {w:?}");
    }
}

#[test]
fn every_error_names_the_table_and_column() {
    let (srv, db) = start();
    let cols = "(ts TIMESTAMP, id LONG, a DOUBLE[])";
    let part = "TIMESTAMP(ts) PARTITION BY DAY WAL";
    fails(
        &db,
        &format!("CREATE TABLE e1 {cols} {part} DEDUP UPSERT KEYS(ts, nope)"),
        &["deduplicate key column not found [table=e1, column=nope]"],
    );
    fails(
        &db,
        &format!("CREATE TABLE e2 {cols} {part} DEDUP UPSERT KEYS(id)"),
        &["deduplicate key list must include dedicated timestamp column [table=e2, timestamp=ts]"],
    );
    fails(
        &db,
        &format!("CREATE TABLE e3 {cols} DEDUP UPSERT KEYS(ts)"),
        &["designated timestamp [table=e3]"],
    );
    fails(
        &db,
        &format!(
            "CREATE TABLE e4 {cols} TIMESTAMP(ts) PARTITION BY DAY BYPASS WAL DEDUP UPSERT KEYS(ts)"
        ),
        &[
            "deduplication is possible only on WAL tables [table=e4]",
            "BYPASS WAL",
        ],
    );
    fails(
        &db,
        &format!("CREATE TABLE e5 {cols} TIMESTAMP(ts) DEDUP UPSERT KEYS(ts)"),
        &[
            "deduplication is possible only on WAL tables [table=e5]",
            "not partitioned",
        ],
    );
    fails(
        &db,
        &format!("CREATE TABLE e6 {cols} {part} DEDUP UPSERT KEYS(ts, a)"),
        &["dedup key columns cannot include ARRAY [table=e6, column=a"],
    );
    fails(
        &db,
        &format!("CREATE TABLE e7 {cols} {part} DEDUP KEYS(ts)"),
        &["expected 'upsert'"],
    );
    fails(
        &db,
        &format!("CREATE TABLE e7 {cols} {part} DEDUP UPSERT (ts)"),
        &["expected 'keys'"],
    );
    fails(
        &db,
        &format!("CREATE TABLE e7 {cols} {part} DEDUP UPSERT KEYS"),
        &["column list expected"],
    );
    fails(
        &db,
        &format!("CREATE TABLE e7 {cols} {part} DEDUP UPSERT KEYS(ts, id"),
        &["')' expected"],
    );
    fails(
        &db,
        &format!("CREATE TABLE e7 {cols} {part} DEDUP UPSERT KEYS()"),
        &["literal expected"],
    );
    assert!(
        srv.table_names().is_empty(),
        "no table was created: {:?}",
        srv.table_names()
    );

    exec(&db, &format!("CREATE TABLE t {cols} {part}")).unwrap();
    exec(&db, "CREATE TABLE nots (id LONG)").unwrap();
    fails(
        &db,
        "ALTER TABLE t DEDUP ENABLE UPSERT KEYS(ts, nope)",
        &["deduplicate key column not found [table=t, column=nope]"],
    );
    fails(
        &db,
        "ALTER TABLE t DEDUP ENABLE UPSERT KEYS(id)",
        &["must include dedicated timestamp column [table=t, timestamp=ts]"],
    );
    fails(
        &db,
        "ALTER TABLE nots DEDUP ENABLE UPSERT KEYS(id)",
        &["designated timestamp [table=nots]"],
    );
    fails(
        &db,
        "ALTER TABLE missing DEDUP ENABLE UPSERT KEYS(ts)",
        &["table does not exist [table=missing]"],
    );
    fails(
        &db,
        "ALTER TABLE t DEDUP ENABLE KEYS(ts)",
        &["expected 'upsert'"],
    );
    fails(
        &db,
        "ALTER TABLE t DEDUP DISABLE now",
        &["after DEDUP DISABLE"],
    );
    // A failed ALTER changed nothing: no dedup on `t`.
    flush(&db, "t", &rows(0..2));
    flush(&db, "t", &rows(0..2));
    assert_eq!(srv.table_batch("t").unwrap().num_rows(), 4);
}
