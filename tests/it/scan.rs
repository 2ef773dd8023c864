//! The server's fast scan path (plain `SELECT … FROM t [WHERE …] [LIMIT
//! n]` served from stored batches) against its DataFusion path, end to
//! end through the client: the same schema and rows; the fast path is
//! really taken; SYMBOL ids stay right across batches and after a
//! RESET_DICT query flag; the time limit still applies.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::*;
use arrow::datatypes::{DataType, Field, Int32Type, Schema, SchemaRef, TimeUnit};
use questdb_arrow::client::{BatchDecoder, Decoded, IngestOptions, QuestDb};
use questdb_arrow::protocol::Status;
use questdb_arrow::protocol::egress::{
    ClientMessage, QUERY_FLAG_RESET_DICT, QUERY_FLAG_TIMEOUT, QueryRequest, ServerControl,
};
use questdb_arrow::server::{Server, ServerHandle};
use questdb_arrow::transport::{ConnectOptions, Connection, Route};

/// Rows `from..from + n`: ts, l LONG (NULL every 7th), d DOUBLE (NULL
/// every 5th), s SYMBOL (NULL every 4th), v VARCHAR (NULL every 6th).
fn part(from: i64, n: i64) -> RecordBatch {
    let r = from..from + n;
    let s: DictionaryArray<Int32Type> = r
        .clone()
        .map(|i| (i % 4 != 0).then(|| ["a", "b", "c", "d", "e", "f"][(i % 6) as usize]))
        .collect();
    RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new(
                "ts",
                DataType::Timestamp(TimeUnit::Microsecond, None),
                false,
            ),
            Field::new("l", DataType::Int64, true),
            Field::new("d", DataType::Float64, true),
            Field::new("s", s.data_type().clone(), true),
            Field::new("v", DataType::Utf8, true),
        ])),
        vec![
            Arc::new(TimestampMicrosecondArray::from_iter_values(
                r.clone().map(|i| 1_704_067_200_000_000 + i * 1_000_000),
            )),
            Arc::new(Int64Array::from_iter(
                r.clone().map(|i| (i % 7 != 0).then_some(i - 100)),
            )),
            Arc::new(Float64Array::from_iter(
                r.clone().map(|i| (i % 5 != 0).then_some(i as f64 / 4.0)),
            )),
            Arc::new(s),
            Arc::new(StringArray::from_iter(
                r.map(|i| (i % 6 != 0).then(|| format!("v{}", i % 17))),
            )),
        ],
    )
    .unwrap()
}

/// A server (fast scan on or off) with table `t` stored as several
/// batches, and `empty` with none.
fn server(fast: bool) -> (ServerHandle, QuestDb) {
    let srv = Server::builder()
        .bind("127.0.0.1:0")
        .max_batch_rows(100)
        .fast_scan(fast)
        .start()
        .unwrap();
    let db = QuestDb::connect(&srv.conf_string()).unwrap();
    let opts = IngestOptions::new().timestamp_column("ts");
    for (from, n) in [(0, 250), (250, 3), (253, 400)] {
        db.ingest_batches("t", [part(from, n)], &opts).unwrap();
    }
    let mut r = db.borrow_reader().unwrap();
    r.execute("CREATE TABLE empty (l LONG, s SYMBOL, ts TIMESTAMP) TIMESTAMP(ts)")
        .unwrap()
        .fetch_all_arrow()
        .unwrap();
    drop(r);
    (srv, db)
}

fn query(db: &QuestDb, sql: &str) -> (SchemaRef, RecordBatch) {
    let mut cur = db.query_arrow(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let schema = cur.schema();
    let batches = cur.fetch_all_arrow().unwrap();
    let all = arrow::compute::concat_batches(&schema, &batches).unwrap();
    (schema, all)
}

#[test]
fn fast_scan_results_equal_the_datafusion_path() {
    let (fast_srv, fast) = server(true);
    let (slow_srv, slow) = server(false);
    let queries = [
        "SELECT * FROM t",
        "SELECT l, d AS price, s AS sym, v FROM t",
        "SELECT * FROM t LIMIT 0",
        "SELECT * FROM t LIMIT 1",
        "SELECT * FROM t LIMIT 251",
        "SELECT * FROM t LIMIT 5000",
        "SELECT * FROM t WHERE l = 7",
        "SELECT * FROM t WHERE l <> 7 AND l != 8",
        "SELECT * FROM t WHERE l < 20 AND l >= -50",
        "SELECT * FROM t WHERE l <= 20 AND l > -50",
        "SELECT * FROM t WHERE d = 12.5",
        "SELECT * FROM t WHERE d > 30 AND d <= 100.25",
        "SELECT * FROM t WHERE d < 3 OR d IS NULL",
        "SELECT * FROM t WHERE d IS NULL",
        "SELECT * FROM t WHERE s = 'c'",
        "SELECT * FROM t WHERE s <> 'c'",
        "SELECT * FROM t WHERE s > 'b' AND s <= 'e'",
        "SELECT * FROM t WHERE s IS NULL",
        "SELECT * FROM t WHERE v = 'v3'",
        "SELECT * FROM t WHERE v < 'v2' AND v IS NOT NULL",
        "SELECT * FROM t WHERE timestamp >= '2024-01-01T00:05:00Z'",
        "SELECT * FROM t WHERE timestamp < '2024-01-01T00:02:00.000000Z' AND timestamp > '2024-01-01T00:00:30Z'",
        "SELECT * FROM t WHERE timestamp BETWEEN '2024-01-01T00:01:00Z' AND '2024-01-01T00:09:00Z' LIMIT 150",
        "SELECT s, l FROM t WHERE l > 400 LIMIT 7",
        "SELECT * FROM empty",
        "SELECT * FROM empty WHERE l = 1",
    ];
    let mut taken = 0;
    for sql in queries {
        let before = fast_srv.fast_scans();
        let (fs, f) = query(&fast, sql);
        let (ss, s) = query(&slow, sql);
        assert_eq!(fs, ss, "{sql}: schemas");
        assert_eq!(f, s, "{sql}: rows");
        if fast_srv.fast_scans() > before {
            taken += 1;
        }
    }
    // All but the OR query are plain scans.
    assert_eq!(taken, queries.len() - 1);
    assert_eq!(slow_srv.fast_scans(), 0, "fast_scan(false) turns it off");
    let (_, all) = query(&fast, "SELECT * FROM t");
    assert_eq!(all.num_rows(), 653);
}

#[test]
fn the_fast_path_is_taken_only_for_plain_scans() {
    let (srv, db) = server(true);
    query(&db, "SELECT * FROM t WHERE l > 3 LIMIT 10");
    assert_eq!(srv.fast_scans(), 1);
    for sql in [
        "SELECT count(*) FROM t",
        "SELECT * FROM t ORDER BY l",
        "SELECT l + 1 AS m FROM t",
        "SELECT * FROM t WHERE l = 1.5",
    ] {
        query(&db, sql);
    }
    assert_eq!(srv.fast_scans(), 1);
    // Errors come from DataFusion, as before.
    let e = db.query_arrow("SELECT nope FROM t").err().unwrap();
    assert_eq!(e.status(), Some(Status::ParseError), "{e}");
    assert_eq!(srv.fast_scans(), 1);
}

fn raw(srv: &ServerHandle) -> Connection {
    let mut o = ConnectOptions::new("127.0.0.1", srv.addr().port());
    o.read_timeout = Some(Duration::from_secs(20));
    let (mut c, _) = Connection::connect(&o, Route::Query).unwrap();
    c.recv().unwrap(); // SERVER_INFO
    c
}

/// Sends `q`; the SYMBOL column `s` of its rows, whether a CACHE_RESET
/// came first, and how it ended.
fn symbols(
    c: &mut Connection,
    d: &mut BatchDecoder,
    q: QueryRequest,
) -> (Vec<Option<String>>, bool, ServerControl) {
    c.send(&ClientMessage::Query(q).to_bytes()).unwrap();
    d.start_query();
    let (mut out, mut reset) = (Vec::new(), false);
    loop {
        match d.decode(&c.recv().unwrap()).unwrap() {
            Decoded::Batch { batch, .. } => {
                let s = arrow::compute::cast(batch.column(0), &DataType::Utf8).unwrap();
                out.extend(s.as_string::<i32>().iter().map(|v| v.map(str::to_string)));
            }
            Decoded::Control(ServerControl::CacheReset { .. }) => reset = true,
            Decoded::Control(end) => return (out, reset, end),
        }
    }
}

#[test]
fn symbols_across_batches_and_after_reset_dict() {
    let (srv, _db) = server(true);
    let want: Vec<Option<String>> = (0..653)
        .map(|i: i64| {
            (i % 4 != 0).then(|| ["a", "b", "c", "d", "e", "f"][(i % 6) as usize].to_string())
        })
        .collect();
    let mut c = raw(&srv);
    let mut d = BatchDecoder::new(1);
    let sql = "SELECT s FROM t";
    let flags = |f: u64| QueryRequest {
        query_flags: Some(f),
        ..QueryRequest::new(1, sql)
    };
    for (q, want_reset) in [
        (QueryRequest::new(1, sql), false),
        (flags(0), false),
        (flags(QUERY_FLAG_RESET_DICT), true),
        (
            QueryRequest::new(2, "SELECT s FROM t WHERE s <> 'a' LIMIT 300"),
            false,
        ),
        (flags(QUERY_FLAG_RESET_DICT), true),
    ] {
        let filtered = q.sql.contains("WHERE");
        let (got, reset, end) = symbols(&mut c, &mut d, q);
        assert!(matches!(end, ServerControl::ResultEnd { .. }), "{end:?}");
        assert_eq!(reset, want_reset);
        if filtered {
            let w: Vec<Option<String>> = want
                .iter()
                .filter(|s| s.as_deref().is_some_and(|s| s != "a"))
                .take(300)
                .cloned()
                .collect();
            assert_eq!(got, w);
        } else {
            assert_eq!(got, want);
        }
    }
    assert_eq!(srv.fast_scans(), 5);
}

#[test]
fn the_time_limit_stops_a_fast_scan() {
    let (srv, _db) = server(true);
    let mut c = raw(&srv);
    // One byte of credit: one batch, then the scan waits for credit that
    // never comes, until its 300 ms are up.
    let q = QueryRequest {
        initial_credit: 1,
        query_flags: Some(QUERY_FLAG_TIMEOUT),
        timeout_ms: Some(300),
        ..QueryRequest::new(4, "SELECT * FROM t")
    };
    let t = Instant::now();
    let mut d = BatchDecoder::new(1);
    let (rows, _, end) = symbols(&mut c, &mut d, q);
    assert_eq!(rows.len(), 100, "one batch");
    match end {
        ServerControl::QueryError {
            request_id,
            status,
            message,
        } => {
            assert_eq!(
                (request_id, status),
                (4, Status::LimitExceeded),
                "{message}"
            );
            assert!(message.contains("300 ms"), "{message}");
        }
        other => panic!("expected QUERY_ERROR, got {other:?}"),
    }
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert_eq!(srv.fast_scans(), 1);
}
