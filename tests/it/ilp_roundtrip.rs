//! The crate's own ILP client against the embedded server's ILP endpoints:
//! batches and rows written over `http::` (protocol version negotiated by
//! `/settings`) and `tcp::`, read back over `ws::` and compared; HTTP
//! failover from a read-only replica (421) to the next `addr`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{
    Array, AsArray, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampNanosecondArray,
};
use arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Schema, TimeUnit};
use questdb_arrow::client::rows::TimestampNanos;
use questdb_arrow::client::{AckLevel, QuestDb};
use questdb_arrow::protocol::egress::Role;
use questdb_arrow::server::{Server, ServerHandle};

const TS0: i64 = 1_700_000_000_000_000_000;

pub(crate) fn batch(n: usize) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("ts", DataType::Timestamp(TimeUnit::Nanosecond, None), false),
        Field::new("l", DataType::Int64, true),
        Field::new("d", DataType::Float64, false),
        Field::new("b", DataType::Boolean, false),
        Field::new("v", DataType::Utf8, true),
    ]));
    let ts = TimestampNanosecondArray::from_iter_values((0..n as i64).map(|i| TS0 + i * 1_000));
    let l = Int64Array::from_iter((0..n as i64).map(|i| (i % 7 != 3).then_some(i * 3 - 50)));
    let d = Float64Array::from_iter_values((0..n).map(|i| i as f64 * 0.25 - 1.0));
    let b = BooleanArray::from_iter((0..n).map(|i| Some(i % 3 == 0)));
    let v = StringArray::from_iter((0..n).map(|i| (i % 5 != 0).then(|| format!("s \"{i}\",= x"))));
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(ts),
            Arc::new(l),
            Arc::new(d),
            Arc::new(b),
            Arc::new(v),
        ],
    )
    .unwrap()
}

pub(crate) fn wait_rows(srv: &ServerHandle, table: &str, rows: usize) {
    let end = Instant::now() + Duration::from_secs(10);
    while srv.table_batch(table).map_or(0, |b| b.num_rows()) < rows {
        assert!(Instant::now() < end, "{table}: rows did not arrive");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One row of [`batch`] as compared: `l, d, b, v`.
pub(crate) type Row = (Option<i64>, f64, bool, Option<String>);

/// Reads `l, d, b, v` back over QWP (`query_conf`: a `ws::` or `wss::`
/// connect string), in timestamp order (ILP does not name the designated
/// timestamp: the server calls it `timestamp`, as QuestDB does).
pub(crate) fn read_back(query_conf: &str, table: &str) -> Vec<Row> {
    let db = QuestDb::connect(query_conf).unwrap();
    let got = db
        .query_arrow(&format!(
            "SELECT l, d, b, v FROM {table} ORDER BY timestamp"
        ))
        .unwrap()
        .fetch_all_arrow()
        .unwrap();
    let mut out = Vec::new();
    for b in &got {
        let l = b.column(0).as_primitive::<Int64Type>();
        let d = b.column(1).as_primitive::<Float64Type>();
        let bo = b.column(2).as_boolean();
        let v = arrow::compute::cast(b.column(3), &DataType::Utf8).unwrap();
        let v = v.as_string::<i32>();
        for i in 0..b.num_rows() {
            out.push((
                l.is_valid(i).then(|| l.value(i)),
                d.value(i),
                bo.value(i),
                v.is_valid(i).then(|| v.value(i).to_string()),
            ));
        }
    }
    out
}

pub(crate) fn expected(b: &RecordBatch) -> Vec<Row> {
    let l = b.column(1).as_primitive::<Int64Type>();
    let d = b.column(2).as_primitive::<Float64Type>();
    let bo = b.column(3).as_boolean();
    let v = b.column(4).as_string::<i32>();
    (0..b.num_rows())
        .map(|i| {
            (
                l.is_valid(i).then(|| l.value(i)),
                d.value(i),
                bo.value(i),
                v.is_valid(i).then(|| v.value(i).to_string()),
            )
        })
        .collect()
}

#[test]
fn http_batches_round_trip_through_the_embedded_server() {
    let srv = Server::builder().bind("127.0.0.1:0").start().unwrap();
    let db = QuestDb::connect(&format!("http::addr={};", srv.addr())).unwrap();
    let b = batch(1_000);
    db.flush_arrow_batch("ilp_rt", &b, Some("ts"), &[], AckLevel::Ok)
        .unwrap();
    wait_rows(&srv, "ilp_rt", 1_000);
    assert_eq!(read_back(&srv.conf_string(), "ilp_rt"), expected(&b));
}

#[test]
fn http_row_sender_writes_two_tables_in_one_request() {
    let srv = Server::builder().bind("127.0.0.1:0").start().unwrap();
    let db = QuestDb::connect(&format!("http::addr={};auto_flush=off;", srv.addr())).unwrap();
    let mut s = db.borrow_row_sender().unwrap();
    for i in 0..10i64 {
        s.table("rt_a")
            .unwrap()
            .symbol("k", if i % 2 == 0 { "even" } else { "odd" })
            .unwrap()
            .column_i64("n", i)
            .unwrap()
            .at(TimestampNanos::new(TS0 + i))
            .unwrap();
        s.table("rt_b")
            .unwrap()
            .column_f64("x", i as f64 / 2.0)
            .unwrap()
            .at(TimestampNanos::new(TS0 + i))
            .unwrap();
    }
    s.flush().unwrap();
    wait_rows(&srv, "rt_a", 10);
    wait_rows(&srv, "rt_b", 10);
    let q = QuestDb::connect(&srv.conf_string()).unwrap();
    let a = q
        .query_arrow("SELECT sum(n) FROM rt_a WHERE k = 'even'")
        .unwrap()
        .fetch_all_arrow()
        .unwrap();
    let sum = arrow::compute::cast(a[0].column(0), &DataType::Int64).unwrap();
    assert_eq!(sum.as_primitive::<Int64Type>().value(0), 2 + 4 + 6 + 8);
}

#[test]
fn tcp_batches_round_trip_through_the_embedded_server() {
    let srv = Server::builder()
        .bind("127.0.0.1:0")
        .ilp_tcp_bind("127.0.0.1:0")
        .start()
        .unwrap();
    let tcp = srv.ilp_tcp_addr().unwrap();
    let db = QuestDb::connect(&format!("tcp::addr={tcp};")).unwrap();
    let b = batch(500);
    db.flush_arrow_batch("ilp_rt_tcp", &b, Some("ts"), &[], AckLevel::Ok)
        .unwrap();
    wait_rows(&srv, "ilp_rt_tcp", 500);
    assert_eq!(read_back(&srv.conf_string(), "ilp_rt_tcp"), expected(&b));
}

#[test]
fn a_type_conflict_is_the_servers_error_naming_the_line() {
    let srv = Server::builder().bind("127.0.0.1:0").start().unwrap();
    let db = QuestDb::connect(&format!("http::addr={};retry_timeout=0;", srv.addr())).unwrap();
    db.flush_arrow_batch("ilp_rt_conflict", &batch(3), Some("ts"), &[], AckLevel::Ok)
        .unwrap();
    wait_rows(&srv, "ilp_rt_conflict", 3);
    // `v` is VARCHAR now; a boolean column `v` conflicts.
    let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Boolean, false)]));
    let bad = RecordBatch::try_new(schema, vec![Arc::new(BooleanArray::from(vec![true]))]).unwrap();
    let err = db
        .flush_arrow_batch("ilp_rt_conflict", &bad, None, &[], AckLevel::Ok)
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("line") && text.contains('1'), "{text}");
    assert_eq!(srv.table_batch("ilp_rt_conflict").unwrap().num_rows(), 3);
}

fn replica() -> ServerHandle {
    Server::builder()
        .bind("127.0.0.1:0")
        .role(Role::Replica, None)
        .start()
        .unwrap()
}

#[test]
fn a_421_from_a_replica_moves_the_request_to_the_next_addr() {
    let (ro, primary) = (
        replica(),
        Server::builder().bind("127.0.0.1:0").start().unwrap(),
    );
    let conf = format!("http::addr={};addr={};", ro.addr(), primary.addr());
    let db = QuestDb::connect(&conf).unwrap();
    let b = batch(200);
    let sum = db
        .flush_arrow_batch("ilp_failover", &b, Some("ts"), &[], AckLevel::Ok)
        .unwrap();
    assert_eq!(sum.rows, 200);
    wait_rows(&primary, "ilp_failover", 200);
    // Stored once, on the primary only.
    assert_eq!(
        read_back(&primary.conf_string(), "ilp_failover"),
        expected(&b)
    );
    assert!(ro.table_batch("ilp_failover").is_none());
    // The link stays on the primary: the next request lands there at once.
    db.flush_arrow_batch("ilp_failover", &batch(1), Some("ts"), &[], AckLevel::Ok)
        .unwrap();
    wait_rows(&primary, "ilp_failover", 201);
    assert!(ro.table_names().is_empty());
}

#[test]
fn a_421_with_retry_timeout_zero_is_the_error_naming_the_status() {
    let ro = replica();
    let db = QuestDb::connect(&format!("http::addr={};retry_timeout=0;", ro.addr())).unwrap();
    let err = db
        .flush_arrow_batch("ilp_ro", &batch(2), Some("ts"), &[], AckLevel::Ok)
        .unwrap_err();
    assert_eq!(err.ilp_server_error().map(|e| e.status), Some(421), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("HTTP 421") && text.contains("not retried"),
        "{text}"
    );
    assert!(ro.table_batch("ilp_ro").is_none());
}
