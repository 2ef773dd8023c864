//! The embedded server's catalogue functions, `tables()` and
//! `table_columns('t')`, read through the client.

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Int32Type, Int64Type};
use questdb_arrow::ErrorKind;
use questdb_arrow::client::QuestDb;
use questdb_arrow::protocol::Status;
use questdb_arrow::server::{Server, ServerHandle};

fn start() -> (ServerHandle, QuestDb) {
    let srv = Server::builder().bind("127.0.0.1:0").start().unwrap();
    let db = QuestDb::connect(&srv.conf_string()).unwrap();
    (srv, db)
}

fn rows(db: &QuestDb, sql: &str) -> RecordBatch {
    db.borrow_reader().unwrap().rows(sql).unwrap()
}

fn texts(b: &RecordBatch, col: &str) -> Vec<Option<String>> {
    let a = arrow::compute::cast(b.column_by_name(col).unwrap(), &DataType::Utf8).unwrap();
    a.as_string::<i32>()
        .iter()
        .map(|v| v.map(str::to_string))
        .collect()
}

fn bools(b: &RecordBatch, col: &str) -> Vec<bool> {
    let a = b.column_by_name(col).unwrap().as_boolean();
    assert_eq!(a.null_count(), 0, "{col}");
    a.iter().map(Option::unwrap_or_default).collect()
}

fn field_names(b: &RecordBatch) -> Vec<String> {
    b.schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect()
}

fn some(v: &[&str]) -> Vec<Option<String>> {
    v.iter().map(|s| Some(s.to_string())).collect()
}

fn exec(db: &QuestDb, sql: &str) {
    db.borrow_reader().unwrap().sql(sql).unwrap();
}

fn create(db: &QuestDb) {
    exec(
        db,
        "CREATE TABLE m_trades (ts TIMESTAMP, sym SYMBOL, px DOUBLE, qty LONG, note VARCHAR, \
         g GEOHASH(5c), amount DECIMAL(18,3), curve DOUBLE[], tn TIMESTAMP_NS, ip IPV4) \
         TIMESTAMP(ts) PARTITION BY DAY WAL DEDUP UPSERT KEYS(ts, sym)",
    );
    exec(db, "CREATE TABLE m_plain (a INT, b BOOLEAN)");
    exec(
        db,
        "INSERT INTO m_plain VALUES (1, true), (2, false), (3, true)",
    );
}

#[test]
fn tables_lists_every_table_with_questdb_columns() {
    let (_srv, db) = start();
    create(&db);
    let b = rows(&db, "SELECT * FROM tables() ORDER BY table_name");
    let names = field_names(&b);
    assert_eq!(
        names[..6],
        [
            "id",
            "table_name",
            "designatedTimestamp",
            "partitionBy",
            "walEnabled",
            "dedup"
        ]
    );
    assert_eq!(b.column(0).data_type(), &DataType::Int32);
    assert_eq!(texts(&b, "table_name"), some(&["m_plain", "m_trades"]));
    assert_eq!(
        texts(&b, "designatedTimestamp"),
        vec![None, Some("ts".into())]
    );
    assert_eq!(texts(&b, "partitionBy"), some(&["NONE", "NONE"]));
    assert_eq!(bools(&b, "walEnabled"), [false, false], "no data directory");
    assert_eq!(bools(&b, "dedup"), [false, true]);
    assert_eq!(bools(&b, "matView"), [false, false]);
    let counts: Vec<i64> = b
        .column_by_name("table_row_count")
        .unwrap()
        .as_primitive::<Int64Type>()
        .values()
        .to_vec();
    assert_eq!(counts, [3, 0]);
    let ids = b.column(0).as_primitive::<Int32Type>();
    assert_ne!(ids.value(0), ids.value(1), "ids are unique");

    // It filters and projects like a table (quoted: mixed-case names).
    let b = rows(
        &db,
        "SELECT table_name FROM tables() WHERE \"designatedTimestamp\" IS NOT NULL",
    );
    assert_eq!(texts(&b, "table_name"), some(&["m_trades"]));

    // A table dropped is gone from the list.
    exec(&db, "DROP TABLE m_plain");
    let b = rows(&db, "SELECT table_name FROM tables()");
    assert_eq!(texts(&b, "table_name"), some(&["m_trades"]));
}

#[test]
fn wal_enabled_on_a_server_with_a_data_directory() {
    let dir = crate::support::scratch_dir("meta-wal");
    let srv = Server::builder()
        .bind("127.0.0.1:0")
        .data_dir(&dir)
        .start()
        .unwrap();
    let db = QuestDb::connect(&srv.conf_string()).unwrap();
    exec(&db, "CREATE TABLE m_disk (a LONG)");
    let b = rows(&db, "SELECT \"walEnabled\" FROM tables()");
    assert_eq!(bools(&b, "walEnabled"), [true]);
    drop(db);
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn table_columns_gives_questdb_types_designated_and_upsert_keys() {
    let (_srv, db) = start();
    create(&db);
    let b = rows(&db, "SELECT * FROM table_columns('m_trades')");
    let names = field_names(&b);
    for want in [
        "column",
        "type",
        "indexed",
        "symbolCached",
        "designated",
        "upsertKey",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} in {names:?}");
    }
    assert_eq!(
        texts(&b, "column"),
        some(&[
            "ts", "sym", "px", "qty", "note", "g", "amount", "curve", "tn", "ip"
        ])
    );
    assert_eq!(
        texts(&b, "type"),
        some(&[
            "TIMESTAMP",
            "SYMBOL",
            "DOUBLE",
            "LONG",
            "VARCHAR",
            "GEOHASH(5c)",
            "DECIMAL(18,3)",
            "DOUBLE[]",
            "TIMESTAMP_NS",
            "IPv4"
        ])
    );
    let mut designated = vec![false; 10];
    designated[0] = true;
    assert_eq!(bools(&b, "designated"), designated);
    let mut keys = designated.clone();
    keys[1] = true;
    assert_eq!(bools(&b, "upsertKey"), keys);
    assert_eq!(bools(&b, "indexed"), vec![false; 10]);

    // Case-insensitive table name, filtered like a table.
    let b = rows(
        &db,
        "SELECT \"column\" FROM table_columns('M_PLAIN') WHERE type = 'BOOLEAN'",
    );
    assert_eq!(texts(&b, "column"), some(&["b"]));
}

#[test]
fn table_columns_of_a_missing_table_is_a_typed_error() {
    let (_srv, db) = start();
    let mut r = db.borrow_reader().unwrap();
    let e = r.rows("SELECT * FROM table_columns('nope')").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Server, "{e}");
    assert_eq!(e.status(), Some(Status::ParseError), "{e}");
    assert!(
        e.to_string().contains("table does not exist [table=nope]"),
        "{e}"
    );
    let e = r.rows("SELECT * FROM table_columns()").unwrap_err();
    assert_eq!(e.status(), Some(Status::ParseError), "{e}");
    // The connection goes on.
    assert_eq!(r.rows("SELECT * FROM tables()").unwrap().num_rows(), 0);
}
