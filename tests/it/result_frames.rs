//! How the server frames results: stored batches cut into frames of
//! exactly the rows per batch (sliced, so string offsets start above 0,
//! and copied only across batch boundaries), NULL-free Arrow buffers sent
//! as they are, zstd, TLS, and the timestamp encoding
//! (`ServerBuilder::result_timestamps`) — each compared with the
//! DataFusion path or another encoding, which must give the same rows.

use std::sync::Arc;
use std::time::Duration;

use arrow::array::*;
use arrow::datatypes::{DataType, Field, Int32Type, Schema, SchemaRef, TimeUnit};
use questdb_arrow::client::{BatchDecoder, Decoded, IngestOptions, QuestDb};
use questdb_arrow::protocol::egress::{
    ClientMessage, MSG_RESULT_BATCH, QueryRequest, ServerControl,
};
use questdb_arrow::protocol::{FLAG_ZSTD, HEADER_LEN, TsEncoding};
use questdb_arrow::server::{Server, ServerBuilder, ServerHandle};
use questdb_arrow::transport::{ConnectOptions, Connection, Route};

/// Rows `from..from + n`, no NULLs: ts (a 1 ms cadence with jitter when
/// `jitter`), l LONG, d DOUBLE, s SYMBOL, v VARCHAR.
fn dense(from: i64, n: i64, jitter: bool) -> RecordBatch {
    let r = from..from + n;
    let s: DictionaryArray<Int32Type> = r
        .clone()
        .map(|i| ["x", "y", "z"][(i % 3) as usize])
        .collect();
    let j = i64::from(jitter);
    RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new(
                "ts",
                DataType::Timestamp(TimeUnit::Microsecond, None),
                false,
            ),
            Field::new("l", DataType::Int64, false),
            Field::new("d", DataType::Float64, false),
            Field::new("s", s.data_type().clone(), false),
            Field::new("v", DataType::Utf8, false),
        ])),
        vec![
            Arc::new(TimestampMicrosecondArray::from_iter_values(r.clone().map(
                |i| 1_704_067_200_000_000 + i * 1000 + j * (i * 7919 % 301),
            ))),
            Arc::new(Int64Array::from_iter_values(r.clone().map(|i| i * 3 - 50))),
            Arc::new(Float64Array::from_iter_values(
                r.clone().map(|i| i as f64 / 8.0),
            )),
            Arc::new(s),
            Arc::new(StringArray::from_iter_values(
                r.map(|i| format!("value-{}", i * 31 % 1000)),
            )),
        ],
    )
    .unwrap()
}

/// A server built by `b` (100 rows per batch) with table `n` (jittered
/// timestamps) and `c` (a regular cadence), each stored as batches of
/// 250, 3 and 400 rows.
fn server(b: ServerBuilder) -> (ServerHandle, QuestDb) {
    let srv = b.bind("127.0.0.1:0").max_batch_rows(100).start().unwrap();
    let db = QuestDb::connect(&srv.conf_string()).unwrap();
    fill(&db);
    (srv, db)
}

fn fill(db: &QuestDb) {
    let opts = IngestOptions::new().timestamp_column("ts");
    for (table, jitter) in [("n", true), ("c", false)] {
        for (from, n) in [(0, 250), (250, 3), (253, 400)] {
            db.ingest_batches(table, [dense(from, n, jitter)], &opts)
                .unwrap();
        }
    }
}

fn all(db: &QuestDb, sql: &str) -> (SchemaRef, RecordBatch) {
    let mut cur = db.query_arrow(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let schema = cur.schema();
    let batches = cur.fetch_all_arrow().unwrap();
    let all = arrow::compute::concat_batches(&schema, &batches).unwrap();
    (schema, all)
}

/// The RESULT_BATCH bytes of `sql` asked for with zstd (level 1).
fn zstd_bytes(srv: &ServerHandle, sql: &str) -> usize {
    let mut o = ConnectOptions::new("127.0.0.1", srv.addr().port());
    o.read_timeout = Some(Duration::from_secs(20));
    o.accept_encoding = Some("zstd;level=1,raw".into());
    let (mut c, _) = Connection::connect(&o, Route::Query).unwrap();
    c.recv().unwrap(); // SERVER_INFO
    c.send(&ClientMessage::Query(QueryRequest::new(1, sql)).to_bytes())
        .unwrap();
    let mut bytes = 0;
    loop {
        let f = c.recv().unwrap();
        if f[HEADER_LEN] != MSG_RESULT_BATCH {
            return bytes;
        }
        assert_ne!(f[5] & FLAG_ZSTD, 0, "compressed");
        bytes += f.len();
    }
}

/// The batches of `sql` read frame by frame, and the frames' bytes.
fn frames(srv: &ServerHandle, sql: &str) -> (Vec<RecordBatch>, usize) {
    let mut o = ConnectOptions::new("127.0.0.1", srv.addr().port());
    o.read_timeout = Some(Duration::from_secs(20));
    let (mut c, _) = Connection::connect(&o, Route::Query).unwrap();
    c.recv().unwrap(); // SERVER_INFO
    c.send(&ClientMessage::Query(QueryRequest::new(1, sql)).to_bytes())
        .unwrap();
    let mut d = BatchDecoder::new(1);
    d.start_query();
    let (mut out, mut bytes) = (Vec::new(), 0);
    loop {
        let f = c.recv().unwrap();
        match d.decode(&f).unwrap() {
            Decoded::Batch { batch, .. } => {
                bytes += f.len();
                out.push(batch);
            }
            Decoded::Control(ServerControl::ResultEnd { total_rows, .. }) => {
                let rows: usize = out.iter().map(|b| b.num_rows()).sum();
                assert_eq!(total_rows, rows as u64);
                return (out, bytes);
            }
            Decoded::Control(other) => panic!("{sql}: {other:?}"),
        }
    }
}

#[test]
fn frames_are_slices_of_the_stored_batches() {
    let (fast_srv, fast) = server(Server::builder());
    let (_slow_srv, slow) = server(Server::builder().fast_scan(false));
    // 653 rows stored as 250 + 3 + 400, frames of at most 100 rows: 250
    // as 100, 100 and its rest of 50 (slices, no copy); the 3 small rows
    // joined with the first 97 of the 400 (a copy); the other 303 as 100,
    // 100, then 78 and 25 (a rest below a quarter of 100 would need a
    // copy). Frames inside a stored batch are sliced from it (string
    // offsets above 0).
    let (got, _) = frames(&fast_srv, "SELECT * FROM n");
    let rows: Vec<usize> = got.iter().map(|b| b.num_rows()).collect();
    assert_eq!(rows, [100, 100, 50, 100, 100, 100, 78, 25]);
    let zstd_conf =
        |srv: &ServerHandle| format!("{}compression=zstd;compression_level=1;", srv.conf_string());
    let fast_zstd = QuestDb::connect(&zstd_conf(&fast_srv)).unwrap();
    let before = fast_srv.fast_scans();
    for sql in [
        "SELECT * FROM n",
        "SELECT * FROM c",
        "SELECT v, l, timestamp FROM n LIMIT 321",
        "SELECT * FROM n WHERE l > 100 AND l < 1500",
        "SELECT s, v FROM c WHERE s = 'y'",
    ] {
        let (ss, s) = all(&slow, sql);
        for (which, db) in [("raw", &fast), ("zstd", &fast_zstd)] {
            let (fs, f) = all(db, sql);
            assert_eq!(fs, ss, "{sql} ({which}): schemas");
            assert_eq!(f, s, "{sql} ({which}): rows");
        }
    }
    assert_eq!(fast_srv.fast_scans() - before, 10, "all plain scans");
}

#[test]
fn timestamps_are_raw_over_loopback_unless_a_regular_cadence_or_zstd() {
    let (auto_srv, _a) = server(Server::builder());
    let (raw_srv, _r) = server(Server::builder().result_timestamps(Some(TsEncoding::Raw)));
    let (gor_srv, _g) = server(Server::builder().result_timestamps(Some(TsEncoding::Gorilla)));
    let bytes = |srv: &ServerHandle, table: &str| {
        let (b, n) = frames(srv, &format!("SELECT * FROM {table}"));
        (
            arrow::compute::concat_batches(&b[0].schema(), &b).unwrap(),
            n,
        )
    };
    for table in ["n", "c"] {
        let (auto, auto_n) = bytes(&auto_srv, table);
        let (raw, raw_n) = bytes(&raw_srv, table);
        let (gor, gor_n) = bytes(&gor_srv, table);
        assert_eq!(auto, raw, "{table}");
        assert_eq!(auto, gor, "{table}");
        assert!(gor_n < raw_n, "{table}: Gorilla {gor_n} B, raw {raw_n} B");
        // The client is on this host: jittered timestamps go raw, a
        // regular cadence with Gorilla.
        let want = if table == "n" { raw_n } else { gor_n };
        assert_eq!(auto_n, want, "{table}: auto {auto_n} B");
        // Under zstd, Gorilla whenever smaller, on loopback too.
        let sql = format!("SELECT * FROM {table}");
        let (auto_z, raw_z, gor_z) = (
            zstd_bytes(&auto_srv, &sql),
            zstd_bytes(&raw_srv, &sql),
            zstd_bytes(&gor_srv, &sql),
        );
        assert_eq!(auto_z, gor_z, "{table}: zstd");
        assert_ne!(auto_z, raw_z, "{table}: zstd");
    }
}

#[test]
fn results_over_tls_equal_plain_ones() {
    let (cert, key, dir) = crate::support::self_signed_pem("result-frames-tls");
    let tls = Server::builder()
        .bind("127.0.0.1:0")
        .max_batch_rows(100)
        .tls(&cert, &key)
        .start()
        .unwrap();
    let conf = format!(
        "wss::addr=localhost:{};tls_roots={};",
        tls.addr().port(),
        cert.display()
    );
    let secure = QuestDb::connect(&conf).unwrap();
    fill(&secure);
    let (_plain_srv, plain) = server(Server::builder());
    for sql in ["SELECT * FROM n", "SELECT v, s FROM c LIMIT 250"] {
        let (ts, t) = all(&secure, sql);
        let (ps, p) = all(&plain, sql);
        assert_eq!(ts, ps, "{sql}: schemas");
        assert_eq!(t, p, "{sql}: rows");
    }
    assert_eq!(tls.fast_scans(), 2);
    drop(secure);
    drop(tls);
    let _ = std::fs::remove_dir_all(&dir);
}
