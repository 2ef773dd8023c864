//! Queries, DDL/DML, binds and connection metadata through the traits.

use std::collections::HashSet;
use std::sync::Arc;

use adbc_core::error::Status;
use adbc_core::options::{InfoCode, OptionConnection};
use adbc_core::{Connection, Optionable, Statement};
use arrow::array::{
    AsArray, Int64Array, RecordBatch, RecordBatchIterator, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use questdb_arrow::server::Server;
use questdb_arrow_adbc::TABLE_TYPE;

use crate::support::{count, i64s, query, sql_stmt, start, start_with, start_with_keys, update};

#[test]
fn ddl_and_dml_report_rows_affected_and_queries_read_them_back() {
    let env = start();
    let mut c = env.conn();
    let ddl = "CREATE TABLE t (id LONG, name VARCHAR, ts TIMESTAMP) TIMESTAMP(ts)";
    assert_eq!(update(&mut c, ddl).unwrap(), Some(0));
    let ins = "INSERT INTO t VALUES (1, 'one', 1000), (2, 'two', 2000), (3, NULL, 3000)";
    assert_eq!(update(&mut c, ins).unwrap(), Some(3));
    let (schema, batches) = query(&mut c, "SELECT id, name FROM t ORDER BY id").unwrap();
    assert_eq!(schema.field(0).name(), "id");
    assert_eq!(schema.field(1).data_type(), &DataType::Utf8);
    assert_eq!(i64s(&batches, 0), [1, 2, 3]);
    let names: Vec<Option<&str>> = batches
        .iter()
        .flat_map(|b| b.column(1).as_string::<i32>().iter())
        .collect();
    assert_eq!(names, [Some("one"), Some("two"), None]);
}

/// The result streams batch by batch as the server sends them: with 64
/// rows per server batch, 1000 rows arrive as many batches, the schema
/// known before the first.
#[test]
fn a_large_result_streams_in_batches() {
    let env = start_with(Server::builder().max_batch_rows(64));
    let mut c = env.conn();
    update(
        &mut c,
        "CREATE TABLE big (v LONG, ts TIMESTAMP) TIMESTAMP(ts)",
    )
    .unwrap();
    let values: Vec<String> = (0..1000).map(|i| format!("({i}, {i})")).collect();
    let ins = format!("INSERT INTO big VALUES {}", values.join(", "));
    assert_eq!(update(&mut c, &ins).unwrap(), Some(1000));
    let mut reader = sql_stmt(&mut c, "SELECT v FROM big").execute().unwrap();
    assert_eq!(reader.schema().field(0).name(), "v");
    let first = reader.next().unwrap().unwrap();
    assert!(first.num_rows() <= 64, "{} rows", first.num_rows());
    let rest: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    assert!(rest.len() >= 15, "{} more batches", rest.len());
    let mut all = i64s(&[first], 0);
    all.extend(i64s(&rest, 0));
    all.sort_unstable();
    assert_eq!(all, (0..1000).collect::<Vec<i64>>());
    // A stream dropped after its first batch ends its query; the
    // connection goes on with the next statements.
    for _ in 0..3 {
        let mut r = sql_stmt(&mut c, "SELECT v FROM big").execute().unwrap();
        assert!(r.next().unwrap().unwrap().num_rows() > 0);
    }
    assert_eq!(count(&mut c, "big"), 1000);
}

fn params(n: Vec<i64>, s: Vec<&str>) -> RecordBatch {
    RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("n", DataType::Int64, true),
            Field::new("s", DataType::Utf8, true),
        ])),
        vec![
            Arc::new(Int64Array::from(n)),
            Arc::new(StringArray::from(s)),
        ],
    )
    .unwrap()
}

/// Each bound row is one execution with typed binds; their results follow
/// each other in one stream.
#[test]
fn bound_rows_are_executions_with_typed_binds() {
    let env = start();
    let mut c = env.conn();
    let mut s = sql_stmt(&mut c, "SELECT $1 + 1 AS n, $2 AS s");
    s.bind(params(vec![41, 9], vec!["a", "b"])).unwrap();
    let reader = s.execute().unwrap();
    let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    assert_eq!(i64s(&batches, 0), [42, 10]);
    let strs: Vec<&str> = batches
        .iter()
        .flat_map(|b| b.column(1).as_string::<i32>().iter().map(Option::unwrap))
        .collect();
    assert_eq!(strs, ["a", "b"]);
    // The batch stays bound: the statement runs again.
    let again: Vec<RecordBatch> = s.execute().unwrap().map(Result::unwrap).collect();
    assert_eq!(i64s(&again, 0), [42, 10]);
    // A new query clears it: one execution, no binds.
    s.set_sql_query("SELECT 7 AS n").unwrap();
    let once: Vec<RecordBatch> = s.execute().unwrap().map(Result::unwrap).collect();
    assert_eq!(i64s(&once, 0), [7]);
}

/// A result holds one pooled connection at a time, its own: with
/// `query_pool_max=1` the executions of several bound rows run one after
/// the other on it, and a stream dropped half-read gives it back to the
/// next statement.
#[test]
fn a_stream_holds_one_pooled_connection() {
    let env = start_with_keys(Server::builder().max_batch_rows(2), "query_pool_max=1;");
    let mut c = env.conn();
    let mut s = sql_stmt(&mut c, "SELECT $1 + 1 AS n, $2 AS s");
    s.bind(params(vec![1, 2, 3], vec!["a", "b", "c"])).unwrap();
    let batches: Vec<RecordBatch> = s.execute().unwrap().map(Result::unwrap).collect();
    assert_eq!(i64s(&batches, 0), [2, 3, 4]);
    update(&mut c, "CREATE TABLE few (v LONG)").unwrap();
    update(&mut c, "INSERT INTO few VALUES (1), (2), (3), (4), (5)").unwrap();
    let mut half = sql_stmt(&mut c, "SELECT v FROM few").execute().unwrap();
    assert_eq!(half.next().unwrap().unwrap().num_rows(), 2);
    drop(half);
    assert_eq!(count(&mut c, "few"), 5);
}

/// `execute_schema`: a query's columns without its rows, with the first
/// bound parameter row; the described query is cancelled, so its one
/// pooled connection (`query_pool_max=1`) serves what follows. A statement
/// that may write is refused, not run.
#[test]
fn execute_schema_describes_queries_and_runs_no_writes() {
    let env = start_with_keys(Server::builder().max_batch_rows(2), "query_pool_max=1;");
    let mut c = env.conn();
    update(&mut c, "CREATE TABLE few (v LONG, name VARCHAR)").unwrap();
    update(
        &mut c,
        "INSERT INTO few VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, 'd'), (5, 'e')",
    )
    .unwrap();
    let fields = |schema: &Schema| -> Vec<(String, DataType)> {
        schema
            .fields()
            .iter()
            .map(|f| (f.name().clone(), f.data_type().clone()))
            .collect()
    };
    let mut s = sql_stmt(&mut c, "SELECT v, name FROM few");
    assert_eq!(
        fields(&s.execute_schema().unwrap()),
        [
            ("v".into(), DataType::Int64),
            ("name".into(), DataType::Utf8)
        ]
    );
    // The statement still runs, whole.
    let batches: Vec<RecordBatch> = s.execute().unwrap().map(Result::unwrap).collect();
    let mut v = i64s(&batches, 0);
    v.sort_unstable();
    assert_eq!(v, [1, 2, 3, 4, 5]);
    let mut p = sql_stmt(&mut c, "SELECT $1 + 1 AS n, $2 AS s");
    p.bind(params(vec![1, 2], vec!["a", "b"])).unwrap();
    assert_eq!(
        fields(&p.execute_schema().unwrap()),
        [("n".into(), DataType::Int64), ("s".into(), DataType::Utf8)]
    );
    let mut w = sql_stmt(&mut c, "INSERT INTO few VALUES (6, 'f')");
    let e = w.execute_schema().unwrap_err();
    assert_eq!(e.status, Status::NotImplemented, "{e}");
    assert!(e.message.contains("would run"), "{e}");
    assert_eq!(count(&mut c, "few"), 5);
}

/// INSERT with binds: one execution per row, rows affected summed, from a
/// bound batch and from a bound stream of several batches.
#[test]
fn inserts_with_bound_rows_and_streams() {
    let env = start();
    let mut c = env.conn();
    update(
        &mut c,
        "CREATE TABLE b (n LONG, s VARCHAR, ts TIMESTAMP) TIMESTAMP(ts)",
    )
    .unwrap();
    let rows = |n: Vec<i64>| {
        let ts: Vec<i64> = n.iter().map(|v| 1_700_000_000_000_000 + v).collect();
        let s: Vec<String> = n.iter().map(|v| format!("r{v}")).collect();
        RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("n", DataType::Int64, false),
                Field::new("s", DataType::Utf8, false),
                Field::new(
                    "ts",
                    DataType::Timestamp(TimeUnit::Microsecond, None),
                    false,
                ),
            ])),
            vec![
                Arc::new(Int64Array::from(n)),
                Arc::new(StringArray::from(s)),
                Arc::new(TimestampMicrosecondArray::from(ts)),
            ],
        )
        .unwrap()
    };
    let mut s = sql_stmt(&mut c, "INSERT INTO b VALUES ($1, $2, $3)");
    s.bind(rows(vec![1, 2, 3])).unwrap();
    assert_eq!(s.execute_update().unwrap(), Some(3));
    let first = rows(vec![4, 5]);
    let schema = first.schema();
    let stream = RecordBatchIterator::new(vec![Ok(first), Ok(rows(vec![6]))], schema);
    s.bind_stream(Box::new(stream)).unwrap();
    assert_eq!(s.execute_update().unwrap(), Some(3));
    let (_, got) = query(&mut c, "SELECT n, s FROM b ORDER BY n").unwrap();
    assert_eq!(i64s(&got, 0), [1, 2, 3, 4, 5, 6]);
    assert_eq!(got[0].column(1).as_string::<i32>().value(0), "r1");
    assert_eq!(count(&mut c, "b"), 6);
}

#[test]
fn info_table_types_schema_and_autocommit() {
    let env = start();
    let mut c = env.conn();
    let info: Vec<RecordBatch> = c.get_info(None).unwrap().map(Result::unwrap).collect();
    let b = &info[0];
    let codes = b
        .column(0)
        .as_primitive::<arrow::datatypes::UInt32Type>()
        .values()
        .to_vec();
    assert!(
        codes.contains(&u32::from(&InfoCode::VendorName)),
        "{codes:?}"
    );
    assert!(codes.contains(&u32::from(&InfoCode::DriverVersion)));
    let values = b.column(1).as_union();
    let at = |code: InfoCode| codes.iter().position(|c| *c == u32::from(&code)).unwrap();
    let vendor = values.value(at(InfoCode::VendorName));
    assert_eq!(vendor.as_string::<i32>().value(0), "QuestDB");
    let adbc = values.value(at(InfoCode::DriverAdbcVersion));
    assert_eq!(
        adbc.as_primitive::<arrow::datatypes::Int64Type>().value(0),
        1_001_000
    );
    // A subset asked for is what comes back.
    let only: HashSet<InfoCode> = [InfoCode::DriverName].into();
    let one: Vec<RecordBatch> = c
        .get_info(Some(only))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(one[0].num_rows(), 1);

    let types: Vec<RecordBatch> = c.get_table_types().unwrap().map(Result::unwrap).collect();
    assert_eq!(types[0].column(0).as_string::<i32>().value(0), TABLE_TYPE);

    update(
        &mut c,
        "CREATE TABLE sch (a INT, b DOUBLE, ts TIMESTAMP) TIMESTAMP(ts)",
    )
    .unwrap();
    let schema = c.get_table_schema(None, None, "sch").unwrap();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, ["a", "b", "ts"]);
    assert_eq!(schema.field(1).data_type(), &DataType::Float64);
    let missing = c.get_table_schema(None, None, "nope").unwrap_err();
    assert_eq!(missing.status, adbc_core::error::Status::NotFound);

    assert_eq!(
        c.get_option_string(OptionConnection::AutoCommit).unwrap(),
        "true"
    );
    c.set_option(OptionConnection::AutoCommit, true.into())
        .unwrap();
}
