//! The embedded server spoken to at the wire level: our transport and codec
//! as the client (the official client's view is in `interop.rs`).

use std::sync::Arc;
use std::time::Duration;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{Float64Type, Int64Type};
use questdb_arrow::bridge::decode::decode_array;
use questdb_arrow::bridge::types::arrow_field;
use questdb_arrow::protocol::egress::{
    ClientMessage, Inflater, QueryRequest, ServerControl, ServerMessage, decode_server_message,
};
use questdb_arrow::protocol::ingress::{
    ColumnDef, IngressMessage, Response, SymbolDelta, TableBlock,
};
use questdb_arrow::protocol::{ColumnData, ColumnType, FLAG_DEFER_COMMIT, Status, Values};
use questdb_arrow::server::{Faults, Server, ServerHandle};
use questdb_arrow::transport::{Auth, ConnectOptions, Connection, Route};
use questdb_arrow::{ErrorKind, Result};

pub fn start() -> ServerHandle {
    Server::builder()
        .bind("127.0.0.1:0")
        .start()
        .expect("server starts")
}

fn opts(srv: &ServerHandle) -> ConnectOptions {
    let mut o = ConnectOptions::new("127.0.0.1", srv.addr().port());
    o.read_timeout = Some(Duration::from_secs(20));
    o
}

pub fn ingest_conn(srv: &ServerHandle) -> Connection {
    Connection::connect(&opts(srv), Route::Ingest)
        .expect("ingest connects")
        .0
}

fn send(c: &mut Connection, bytes: &[u8]) -> Result<Response> {
    c.send(bytes)?;
    Response::decode(&c.recv()?)
}

fn col(name: &str, ty: ColumnType) -> ColumnDef {
    ColumnDef {
        name: name.into(),
        ty,
    }
}

/// A block of `n` rows: sym SYMBOL (ids from the delta), x LONG, d DOUBLE,
/// note VARCHAR (every third NULL), designated ts.
fn block(table: &str, start_ts: i64, n: usize, sym_ids: &[u32]) -> TableBlock {
    let nulls: Vec<bool> = (0..n).map(|i| i % 3 == 2).collect();
    TableBlock {
        name: table.into(),
        columns: vec![
            col("sym", ColumnType::Symbol),
            col("x", ColumnType::Long),
            col("d", ColumnType::Double),
            col("note", ColumnType::Varchar),
            col("", ColumnType::Timestamp),
        ],
        data: vec![
            ColumnData::new(Values::Symbol(
                (0..n).map(|i| sym_ids[i % sym_ids.len()]).collect(),
            )),
            ColumnData::new(Values::Long((0..n as i64).collect())),
            ColumnData::new(Values::Double((0..n).map(|i| i as f64 * 0.5).collect())),
            ColumnData::with_nulls(
                Values::Varchar(
                    (0..n)
                        .filter(|i| i % 3 != 2)
                        .map(|i| format!("n{i}"))
                        .collect(),
                ),
                nulls,
            ),
            ColumnData::new(Values::Timestamp(
                (0..n as i64).map(|i| start_ts + i * 1000).collect(),
            )),
        ],
    }
}

fn msg(delta_start: u64, entries: &[&str], tables: Vec<TableBlock>) -> Vec<u8> {
    IngressMessage::new(
        SymbolDelta {
            start: delta_start,
            entries: entries.iter().map(|s| s.to_string()).collect(),
        },
        tables,
    )
    .to_bytes()
    .unwrap()
}

fn ok_seq(r: &Response) -> i64 {
    match r {
        Response::Ok { sequence, .. } => *sequence,
        other => panic!("expected OK, got {other:?}"),
    }
}

fn err_of(r: &Response) -> (Status, i64, String) {
    match r {
        Response::Error {
            status,
            sequence,
            message,
        } => (*status, *sequence, message.clone()),
        other => panic!("expected an error, got {other:?}"),
    }
}

/// A minimal query client over the codec: returns batches or the error.
pub struct QueryClient {
    conn: Connection,
    next_id: i64,
    dict: Vec<String>,
}

/// What a query gave.
#[derive(Debug)]
pub enum Answer {
    Rows(Vec<RecordBatch>, u64),
    Done(u64),
    Error(Status, String),
}

impl QueryClient {
    pub fn connect(srv: &ServerHandle, zstd: bool) -> QueryClient {
        let mut o = opts(srv);
        if zstd {
            o.accept_encoding = Some("zstd;level=3,raw".into());
        }
        let (mut conn, hs) = Connection::connect(&o, Route::Query).expect("query connects");
        assert_eq!(hs.content_encoding.as_deref(), zstd.then_some("zstd"));
        let info = conn.recv().unwrap();
        match decode_server_message(&info, 1).unwrap() {
            ServerMessage::Control(ServerControl::ServerInfo(_)) => {}
            other => panic!("first frame is not SERVER_INFO: {other:?}"),
        }
        QueryClient {
            conn,
            next_id: 1,
            dict: Vec::new(),
        }
    }

    pub fn run(&mut self, q: QueryRequest) -> Answer {
        self.run_with(q, |_, _| {})
    }

    /// Runs `q`; `on_batch(conn, batch_seq)` runs after each batch.
    pub fn run_with(
        &mut self,
        mut q: QueryRequest,
        mut on_batch: impl FnMut(&mut Connection, u64),
    ) -> Answer {
        q.request_id = self.next_id;
        self.next_id += 1;
        self.conn.send(&q.to_bytes().unwrap()).unwrap();
        let mut inflater = Inflater::new();
        let mut schema: Option<Vec<ColumnDef>> = None;
        let mut batches = Vec::new();
        loop {
            let frame = self.conn.recv().expect("frame");
            match decode_server_message(&frame, 1).expect("valid frame") {
                ServerMessage::Batch(raw) => {
                    assert_eq!(raw.request_id, q.request_id);
                    let seq = raw.batch_seq;
                    let v = raw
                        .decode(&mut inflater, schema.as_deref())
                        .expect("batch decodes");
                    if let Some(d) = &v.delta {
                        assert_eq!(
                            d.start as usize,
                            self.dict.len(),
                            "dictionary delta in order"
                        );
                        self.dict.extend(d.entries.iter().map(|s| s.to_string()));
                    }
                    if let Some(s) = &v.schema {
                        schema = Some(
                            s.iter()
                                .map(|(n, t)| ColumnDef {
                                    name: n.to_string(),
                                    ty: *t,
                                })
                                .collect(),
                        );
                    }
                    let defs = schema.as_ref().expect("schema first");
                    let mut fields = Vec::new();
                    let mut cols: Vec<ArrayRef> = Vec::new();
                    for (def, c) in defs.iter().zip(&v.columns) {
                        let (t, a) = decode_array(c, &self.dict).expect("column decodes");
                        fields.push(arrow_field(&def.name, t, false));
                        cols.push(a);
                    }
                    let b =
                        RecordBatch::try_new(Arc::new(arrow::datatypes::Schema::new(fields)), cols)
                            .unwrap();
                    batches.push(b);
                    on_batch(&mut self.conn, seq);
                }
                ServerMessage::Control(ServerControl::ResultEnd { total_rows, .. }) => {
                    return Answer::Rows(batches, total_rows);
                }
                ServerMessage::Control(ServerControl::ExecDone { rows_affected, .. }) => {
                    return Answer::Done(rows_affected);
                }
                ServerMessage::Control(ServerControl::QueryError {
                    status, message, ..
                }) => return Answer::Error(status, message),
                ServerMessage::Control(ServerControl::CacheReset { mask }) => {
                    if mask & 1 == 1 {
                        self.dict.clear();
                    }
                }
                ServerMessage::Control(other) => panic!("unexpected {other:?}"),
            }
        }
    }

    pub fn sql(&mut self, sql: &str) -> Answer {
        self.run(QueryRequest::new(0, sql))
    }

    pub fn rows(&mut self, sql: &str) -> RecordBatch {
        match self.sql(sql) {
            Answer::Rows(b, _) => {
                let schema = b.first().map(|x| x.schema()).expect("at least one batch");
                arrow::compute::concat_batches(&schema, &b).unwrap()
            }
            other => panic!("{sql}: {other:?}"),
        }
    }
}

fn i64s(a: &ArrayRef) -> Vec<i64> {
    a.as_primitive::<Int64Type>().values().to_vec()
}

#[test]
fn ingest_then_query_round_trip() {
    let srv = start();
    let mut c = ingest_conn(&srv);
    let r = send(
        &mut c,
        &msg(
            0,
            &["a", "b"],
            vec![block("trades", 1_000_000, 10, &[0, 1])],
        ),
    )
    .unwrap();
    assert_eq!(ok_seq(&r), 0);
    // The second frame reuses ids 0..1 and adds "c" at id 2.
    let r = send(
        &mut c,
        &msg(2, &["c"], vec![block("trades", 2_000_000, 5, &[2, 0])]),
    )
    .unwrap();
    assert_eq!(ok_seq(&r), 1);

    let stored = srv.table_batch("trades").expect("table exists");
    assert_eq!(stored.num_rows(), 15);
    let names: Vec<_> = stored
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, ["sym", "x", "d", "note", "timestamp"]);

    let mut q = QueryClient::connect(&srv, false);
    let b = q.rows("SELECT sym, x, note FROM trades WHERE x < 3 ORDER BY timestamp");
    assert_eq!(b.num_rows(), 6);
    let syms: Vec<String> = (0..6)
        .map(|i| {
            let d = b.column(0).as_dictionary::<arrow::datatypes::Int32Type>();
            let v = d.values().as_string::<i32>();
            v.value(d.keys().value(i) as usize).to_string()
        })
        .collect();
    assert_eq!(syms, ["a", "b", "a", "c", "a", "c"]);
    assert_eq!(i64s(b.column(1)), [0, 1, 2, 0, 1, 2]);
    let notes = b.column(2).as_string::<i32>();
    assert!(notes.is_null(2) && notes.is_null(5));
    assert_eq!(notes.value(1), "n1");
}

#[test]
fn designated_timestamp_order_and_server_time() {
    let srv = start();
    let mut c = ingest_conn(&srv);
    ok_seq(
        &send(
            &mut c,
            &msg(0, &["s"], vec![block("ordered", 5_000_000, 3, &[0])]),
        )
        .unwrap(),
    );
    ok_seq(
        &send(
            &mut c,
            &msg(1, &[], vec![block("ordered", 1_000_000, 3, &[0])]),
        )
        .unwrap(),
    );
    let b = srv.table_batch("ordered").unwrap();
    let ts: Vec<i64> = b
        .column(4)
        .as_primitive::<arrow::datatypes::TimestampMicrosecondType>()
        .values()
        .to_vec();
    assert_eq!(
        ts,
        [
            1_000_000, 1_001_000, 1_002_000, 5_000_000, 5_001_000, 5_002_000
        ]
    );

    // No designated timestamp in the block: the server assigns one.
    let mut nots = block("nots", 0, 2, &[0]);
    nots.columns.pop();
    nots.data.pop();
    ok_seq(&send(&mut c, &msg(1, &[], vec![nots])).unwrap());
    let b = srv.table_batch("nots").unwrap();
    let ts = b
        .column_by_name("timestamp")
        .expect("server-assigned timestamp");
    assert_eq!(ts.null_count(), 0);
}

#[test]
fn rejections_get_the_spec_status_and_the_server_keeps_serving() {
    let srv = Server::builder()
        .bind("127.0.0.1:0")
        .recv_buffer(64 * 1024)
        .start()
        .unwrap();
    let good = msg(0, &["a"], vec![block("rej", 1_000, 3, &[0])]);

    // Bad magic, wrong version, truncated: PARSE_ERROR naming the problem,
    // with the frame's sequence.
    let mut c = ingest_conn(&srv);
    let mut bad = good.clone();
    bad[0] = b'X';
    let (st, seq, m) = err_of(&send(&mut c, &bad).unwrap());
    assert_eq!((st, seq), (Status::ParseError, 0));
    assert!(m.contains("magic"), "{m}");
    let mut bad = good.clone();
    bad[4] = 2;
    let (st, seq, m) = err_of(&send(&mut c, &bad).unwrap());
    assert_eq!((st, seq), (Status::ParseError, 1));
    assert!(m.contains("version"), "{m}");
    let (st, seq, _) = err_of(&send(&mut c, &good[..good.len() - 3]).unwrap());
    assert_eq!((st, seq), (Status::ParseError, 2));
    // The same connection still accepts good frames.
    assert_eq!(ok_seq(&send(&mut c, &good).unwrap()), 3);

    // Type conflict: x was LONG, now DOUBLE.
    let mut conflict = block("rej", 9_000, 1, &[0]);
    conflict.columns[1].ty = ColumnType::Double;
    conflict.data[1] = ColumnData::new(Values::Double(vec![1.0]));
    let (st, _, m) = err_of(&send(&mut c, &msg(1, &[], vec![conflict])).unwrap());
    assert_eq!(st, Status::SchemaMismatch);
    assert!(m.contains("rej") && m.contains('x'), "{m}");

    // Dictionary gap: delta starts at 5 while the dictionary holds 1 entry.
    let (st, _, m) = err_of(&send(&mut c, &msg(5, &["z"], vec![])).unwrap());
    assert_eq!(st, Status::DictionaryGap, "{m}");

    // Oversized frame: closed with 1009.
    let big = msg(
        1,
        &[],
        vec![TableBlock {
            name: "big".into(),
            columns: vec![col("v", ColumnType::Varchar)],
            data: vec![ColumnData::new(Values::Varchar(vec!["x".repeat(100_000)]))],
        }],
    );
    c.send(&big).unwrap();
    let e = c.recv().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Closed, "{e}");
    assert!(e.to_string().contains("1009"), "{e}");

    // A fresh connection is served normally, and the rejected rows are absent.
    let mut c2 = ingest_conn(&srv);
    ok_seq(&send(&mut c2, &good).unwrap());
    assert_eq!(srv.table_batch("rej").unwrap().num_rows(), 6);
}

#[test]
fn bad_auth_is_refused_before_the_upgrade() {
    let srv = Server::builder()
        .bind("127.0.0.1:0")
        .basic_auth("admin", "quest")
        .start()
        .unwrap();
    let mut o = opts(&srv);
    o.auth = Auth::Basic {
        username: "admin".into(),
        password: "wrong".into(),
    };
    let e = Connection::connect(&o, Route::Ingest).expect_err("refused");
    assert_eq!(e.kind(), ErrorKind::Auth);
    let e = Connection::connect(&o, Route::Query).expect_err("refused");
    assert_eq!(e.kind(), ErrorKind::Auth);
    o.auth = Auth::Basic {
        username: "admin".into(),
        password: "quest".into(),
    };
    assert!(Connection::connect(&o, Route::Ingest).is_ok());
}

#[test]
fn deferred_frames_commit_together_and_roll_back_on_disconnect() {
    let srv = start();
    let mut c = ingest_conn(&srv);
    let mut m = IngressMessage::new(
        SymbolDelta {
            start: 0,
            entries: vec!["a".into()],
        },
        vec![block("tx", 1_000, 4, &[0])],
    );
    m.flags |= FLAG_DEFER_COMMIT;
    assert_eq!(ok_seq(&send(&mut c, &m.to_bytes().unwrap()).unwrap()), 0);
    assert!(
        srv.table_batch("tx").is_none(),
        "deferred rows are invisible"
    );
    // The committing frame: an empty message without the flag.
    assert_eq!(ok_seq(&send(&mut c, &msg(1, &[], vec![])).unwrap()), 1);
    assert_eq!(srv.table_batch("tx").unwrap().num_rows(), 4);

    // Deferred, then disconnect: rolled back.
    let mut m2 = IngressMessage::new(
        SymbolDelta {
            start: 1,
            entries: vec![],
        },
        vec![block("tx", 9_000, 2, &[0])],
    );
    m2.flags |= FLAG_DEFER_COMMIT;
    ok_seq(&send(&mut c, &m2.to_bytes().unwrap()).unwrap());
    drop(c);
    let mut c = ingest_conn(&srv);
    // New connection: dictionary reset, so a delta at 0 is right again.
    ok_seq(&send(&mut c, &msg(0, &["a"], vec![])).unwrap());
    assert_eq!(srv.table_batch("tx").unwrap().num_rows(), 4);
}

#[test]
fn restart_with_data_dir_keeps_rows() {
    let dir = std::env::temp_dir().join(format!("qa-restart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    {
        let srv = Server::builder()
            .bind("127.0.0.1:0")
            .data_dir(&dir)
            .start()
            .unwrap();
        let mut c = ingest_conn(&srv);
        ok_seq(
            &send(
                &mut c,
                &msg(0, &["p", "q"], vec![block("kept", 1_000, 7, &[0, 1])]),
            )
            .unwrap(),
        );
        let mut q = QueryClient::connect(&srv, false);
        assert!(matches!(
            q.sql("CREATE TABLE made (a INT, ts TIMESTAMP) TIMESTAMP(ts) PARTITION BY DAY WAL"),
            Answer::Done(0)
        ));
        assert!(matches!(
            q.sql("INSERT INTO made VALUES (1, 10), (2, 20)"),
            Answer::Done(2)
        ));
    }
    let srv = Server::builder()
        .bind("127.0.0.1:0")
        .data_dir(&dir)
        .start()
        .unwrap();
    let mut q = QueryClient::connect(&srv, false);
    let b = q.rows("SELECT x, sym FROM kept ORDER BY x");
    assert_eq!(i64s(b.column(0)), (0..7).collect::<Vec<_>>());
    let b = q.rows("SELECT a FROM made ORDER BY a");
    assert_eq!(
        b.column(0)
            .as_primitive::<arrow::datatypes::Int32Type>()
            .values()
            .to_vec(),
        [1, 2]
    );
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn queries_binds_ddl_errors_and_reuse() {
    let srv = start();
    let mut q = QueryClient::connect(&srv, false);
    assert!(matches!(
        q.sql("CREATE TABLE m (id LONG, name VARCHAR, px DOUBLE, ts TIMESTAMP) TIMESTAMP(ts)"),
        Answer::Done(0)
    ));
    assert!(matches!(
        q.sql("INSERT INTO m VALUES (1, 'one', 1.5, 1000), (2, 'two', 2.5, 2000), (3, NULL, 3.5, 3000)"),
        Answer::Done(3)
    ));
    // A bad statement: PARSE_ERROR with DataFusion's message; connection reused.
    match q.sql("SELEKT nonsense") {
        Answer::Error(Status::ParseError, m) => assert!(!m.is_empty()),
        other => panic!("{other:?}"),
    }
    match q.sql("SELECT * FROM no_such_table") {
        Answer::Error(Status::ParseError, m) => assert!(m.contains("no_such_table"), "{m}"),
        other => panic!("{other:?}"),
    }
    // Binds: $1 LONG, $2 VARCHAR.
    let mut req = QueryRequest::new(
        0,
        "SELECT id, px FROM m WHERE id >= $1 AND name <> $2 ORDER BY id",
    );
    req.binds = vec![
        ColumnData::new(Values::Long(vec![1])),
        ColumnData::new(Values::Varchar(vec!["one".into()])),
    ];
    let Answer::Rows(b, total) = q.run(req) else {
        panic!("rows expected")
    };
    assert_eq!(total, 1);
    assert_eq!(i64s(b[0].column(0)), [2]);
    assert_eq!(b[0].column(1).as_primitive::<Float64Type>().value(0), 2.5);
    // Empty result still carries its schema.
    let Answer::Rows(b, 0) = q.sql("SELECT id, name FROM m WHERE id > 100") else {
        panic!()
    };
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].num_rows(), 0);
    assert_eq!(b[0].schema().field(1).name(), "name");
    // TRUNCATE / DROP answer EXEC_DONE.
    assert!(matches!(q.sql("TRUNCATE TABLE m"), Answer::Done(0)));
    assert_eq!(
        q.rows("SELECT count(*) AS n FROM m")
            .column(0)
            .as_primitive::<Int64Type>()
            .value(0),
        0
    );
    assert!(matches!(q.sql("DROP TABLE m"), Answer::Done(0)));
    assert!(matches!(
        q.sql("DROP TABLE m"),
        Answer::Error(Status::ParseError, _)
    ));
}

fn numbers(srv: &ServerHandle, table: &str, n: usize) {
    let mut c = ingest_conn(srv);
    let mut start = 0usize;
    let mut first = true;
    while start < n {
        let k = (n - start).min(20_000);
        let mut b = block(table, 1_000_000 + start as i64 * 1000, k, &[0]);
        b.data[1] = ColumnData::new(Values::Long((start as i64..(start + k) as i64).collect()));
        let m = if first {
            msg(0, &["s"], vec![b])
        } else {
            msg(1, &[], vec![b])
        };
        first = false;
        ok_seq(&send(&mut c, &m).unwrap());
        start += k;
    }
}

#[test]
fn credit_flow_control_cancel_and_zstd() {
    let srv = Server::builder()
        .bind("127.0.0.1:0")
        .max_batch_rows(1000)
        .start()
        .unwrap();
    numbers(&srv, "big", 50_000);

    // Small initial credit: the server pauses; CREDIT after each batch keeps it going.
    let mut q = QueryClient::connect(&srv, false);
    let mut req = QueryRequest::new(0, "SELECT x, d FROM big");
    req.initial_credit = 4096;
    let mut granted = 0;
    let answer = q.run_with(req, |conn, _seq| {
        granted += 1;
        let credit = ClientMessage::Credit {
            request_id: 1,
            additional_bytes: 64 * 1024,
        };
        conn.send(&credit.to_bytes()).unwrap();
    });
    let Answer::Rows(b, total) = answer else {
        panic!("{answer:?}")
    };
    assert_eq!(total, 50_000);
    assert_eq!(b.len(), 50);
    let xs: Vec<i64> = b.iter().flat_map(|x| i64s(x.column(0))).collect();
    let first_bad = xs.iter().enumerate().position(|(i, &x)| x != i as i64);
    assert!(
        xs.len() == 50_000 && first_bad.is_none(),
        "rows missing or out of order at {first_bad:?}"
    );

    // Without CREDIT the stream stalls after the first batch (the row floor);
    // CANCEL then ends it with CANCELLED, and the connection is reusable.
    let mut req = QueryRequest::new(0, "SELECT x FROM big");
    req.initial_credit = 1;
    let answer = q.run_with(req, |conn, seq| {
        if seq == 0 {
            conn.send(&ClientMessage::Cancel { request_id: 2 }.to_bytes())
                .unwrap();
        }
    });
    assert!(
        matches!(answer, Answer::Error(Status::Cancelled, _)),
        "{answer:?}"
    );
    assert_eq!(q.rows("SELECT count(*) FROM big").num_rows(), 1);

    // zstd gives the same batches as raw.
    let raw =
        QueryClient::connect(&srv, false).rows("SELECT sym, x, d, note FROM big WHERE x < 5000");
    let z = QueryClient::connect(&srv, true).rows("SELECT sym, x, d, note FROM big WHERE x < 5000");
    assert_eq!(raw, z);
}

#[test]
fn cache_reset_when_the_dictionary_cap_is_reached() {
    let srv = Server::builder()
        .bind("127.0.0.1:0")
        .dict_caps(3, 1 << 20)
        .start()
        .unwrap();
    let mut c = ingest_conn(&srv);
    let syms = ["a", "b", "c", "d", "e"];
    ok_seq(
        &send(
            &mut c,
            &msg(0, &syms, vec![block("sy", 1_000, 10, &[0, 1, 2, 3, 4])]),
        )
        .unwrap(),
    );
    let mut q = QueryClient::connect(&srv, false);
    let first = q.rows("SELECT sym FROM sy");
    // The dictionary now holds 5 > 3 entries: the next query starts with a
    // CACHE_RESET and ids from 0 again; results must be unchanged.
    let second = q.rows("SELECT sym FROM sy");
    assert_eq!(first, second);
    assert_eq!(q.dict.len(), 5);
}

#[test]
fn concurrent_ingest_and_queries() {
    let srv = Arc::new(start());
    let mut handles = Vec::new();
    for t in 0..4 {
        let srv = srv.clone();
        handles.push(std::thread::spawn(move || {
            let mut c = ingest_conn(&srv);
            for i in 0..5 {
                let start = (t * 1000 + i * 100) as i64 * 1_000;
                let m = if i == 0 {
                    msg(0, &["s"], vec![block("shared", start, 50, &[0])])
                } else {
                    msg(1, &[], vec![block("shared", start, 50, &[0])])
                };
                ok_seq(&send(&mut c, &m).unwrap());
            }
        }));
    }
    let srv2 = srv.clone();
    let reader = std::thread::spawn(move || {
        let mut q = QueryClient::connect(&srv2, false);
        for _ in 0..5 {
            let _ = q.sql("SELECT count(*) FROM shared");
        }
    });
    for h in handles {
        h.join().unwrap();
    }
    reader.join().unwrap();
    let mut q = QueryClient::connect(&srv, false);
    let n = q.rows("SELECT count(*) AS n FROM shared");
    assert_eq!(n.column(0).as_primitive::<Int64Type>().value(0), 1000);
}

#[test]
fn fault_injection_closes_and_role_rejects() {
    let srv = Server::builder()
        .bind("127.0.0.1:0")
        .faults(Faults {
            close_after_frames: Some(2),
            close_first_connections: Some(1),
            ..Faults::default()
        })
        .start()
        .unwrap();
    let mut c = ingest_conn(&srv);
    ok_seq(&send(&mut c, &msg(0, &["a"], vec![block("f", 1, 1, &[0])])).unwrap());
    let e = send(&mut c, &msg(1, &[], vec![block("f", 2, 1, &[0])])).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Closed | ErrorKind::Io), "{e}");
    // The second connection is not affected.
    let mut c = ingest_conn(&srv);
    ok_seq(&send(&mut c, &msg(0, &["a"], vec![block("f", 3, 1, &[0])])).unwrap());
    ok_seq(&send(&mut c, &msg(1, &[], vec![block("f", 4, 1, &[0])])).unwrap());
    assert_eq!(srv.table_batch("f").unwrap().num_rows(), 3);

    let srv = Server::builder()
        .bind("127.0.0.1:0")
        .faults(Faults {
            reject_role: Some(("REPLICA".into(), Some("eu".into()))),
            ..Faults::default()
        })
        .start()
        .unwrap();
    let e = Connection::connect(&opts(&srv), Route::Ingest)
        .err()
        .unwrap();
    assert_eq!(e.kind(), ErrorKind::RoleReject);
    assert_eq!(questdb_arrow::transport::rejected_role(&e), Some("REPLICA"));
}

#[test]
fn every_column_type_is_stored_and_served() {
    use questdb_arrow::protocol::column::ArrayValue;
    let srv = start();
    let n = 3;
    let nulls = vec![false, true, false];
    let cols: Vec<(ColumnType, ColumnData)> = vec![
        (
            ColumnType::Boolean,
            ColumnData::new(Values::Boolean(vec![true, false, true])),
        ),
        (
            ColumnType::Byte,
            ColumnData::new(Values::Byte(vec![1, -2, 3])),
        ),
        (
            ColumnType::Short,
            ColumnData::new(Values::Short(vec![1, -2, 3])),
        ),
        (
            ColumnType::Int,
            ColumnData::with_nulls(Values::Int(vec![1, 3]), nulls.clone()),
        ),
        (
            ColumnType::Long,
            ColumnData::with_nulls(Values::Long(vec![1, 3]), nulls.clone()),
        ),
        (
            ColumnType::Float,
            ColumnData::with_nulls(Values::Float(vec![1.5, 3.0]), nulls.clone()),
        ),
        (
            ColumnType::Double,
            ColumnData::with_nulls(Values::Double(vec![1.5, 3.0]), nulls.clone()),
        ),
        (
            ColumnType::Symbol,
            ColumnData::with_nulls(Values::Symbol(vec![0, 1]), nulls.clone()),
        ),
        (
            ColumnType::TimestampNanos,
            ColumnData::with_nulls(Values::TimestampNanos(vec![1, 3]), nulls.clone()),
        ),
        (
            ColumnType::Date,
            ColumnData::with_nulls(Values::Date(vec![86_400_000, 3]), nulls.clone()),
        ),
        (
            ColumnType::Uuid,
            ColumnData::with_nulls(Values::Uuid(vec![1, 3 << 70]), nulls.clone()),
        ),
        (
            ColumnType::Long256,
            ColumnData::with_nulls(Values::Long256(vec![[1; 32], [2; 32]]), nulls.clone()),
        ),
        (
            ColumnType::Geohash,
            ColumnData::with_nulls(
                Values::Geohash {
                    precision_bits: 25,
                    values: vec![1, 3],
                },
                nulls.clone(),
            ),
        ),
        (
            ColumnType::Varchar,
            ColumnData::with_nulls(Values::Varchar(vec!["a".into(), "ü".into()]), nulls.clone()),
        ),
        (
            ColumnType::Binary,
            ColumnData::with_nulls(Values::Binary(vec![vec![0, 1], vec![]]), nulls.clone()),
        ),
        (
            ColumnType::DoubleArray,
            ColumnData::with_nulls(
                Values::DoubleArray(vec![
                    ArrayValue {
                        dims: vec![2],
                        data: vec![1.0, 2.0],
                    },
                    ArrayValue {
                        dims: vec![0],
                        data: vec![],
                    },
                ]),
                nulls.clone(),
            ),
        ),
        (
            ColumnType::LongArray,
            ColumnData::with_nulls(
                Values::LongArray(vec![
                    ArrayValue {
                        dims: vec![1],
                        data: vec![7],
                    },
                    ArrayValue {
                        dims: vec![2],
                        data: vec![3, 4],
                    },
                ]),
                nulls.clone(),
            ),
        ),
        (
            ColumnType::Decimal64,
            ColumnData::with_nulls(
                Values::Decimal64 {
                    scale: 2,
                    values: vec![123, -5],
                },
                nulls.clone(),
            ),
        ),
        (
            ColumnType::Decimal128,
            ColumnData::with_nulls(
                Values::Decimal128 {
                    scale: 10,
                    values: vec![123, -5],
                },
                nulls.clone(),
            ),
        ),
        (
            ColumnType::Decimal256,
            ColumnData::with_nulls(
                Values::Decimal256 {
                    scale: 40,
                    values: vec![[1; 32], [0; 32]],
                },
                nulls.clone(),
            ),
        ),
        (
            ColumnType::Char,
            ColumnData::new(Values::Char(vec![65, 0x263A, 66])),
        ),
        (
            ColumnType::Ipv4,
            ColumnData::with_nulls(Values::Ipv4(vec![0xC0A80001, 1]), nulls.clone()),
        ),
        (
            ColumnType::Timestamp,
            ColumnData::new(Values::Timestamp(vec![10, 20, 30])),
        ),
    ];
    let block = TableBlock {
        name: "all_types".into(),
        columns: cols
            .iter()
            .enumerate()
            .map(|(i, (t, _))| {
                col(
                    if *t == ColumnType::Timestamp {
                        ""
                    } else {
                        Box::leak(format!("c{i}").into_boxed_str())
                    },
                    *t,
                )
            })
            .collect(),
        data: cols.iter().map(|(_, d)| d.clone()).collect(),
    };
    let mut c = ingest_conn(&srv);
    ok_seq(&send(&mut c, &msg(0, &["x", "y"], vec![block])).unwrap());
    let stored = srv.table_batch("all_types").unwrap();
    assert_eq!(stored.num_rows(), n);
    let mut q = QueryClient::connect(&srv, false);
    let served = q.rows("SELECT * FROM all_types");
    assert_eq!(served.num_columns(), stored.num_columns());
    for i in 0..stored.num_columns() {
        assert_eq!(
            served.column(i).to_data(),
            stored.column(i).to_data(),
            "column {}",
            stored.schema().field(i).name()
        );
        assert_eq!(
            served.schema().field(i).data_type(),
            stored.schema().field(i).data_type()
        );
    }
    // Spot checks of values against what was sent.
    assert_eq!(stored.column(3).null_count(), 1);
    let f: &Float64Array = stored.column(6).as_primitive();
    assert_eq!(f.value(2), 3.0);
    let s: &StringArray = stored.column(13).as_string();
    assert_eq!(s.value(2), "ü");
    let l: &Int64Array = stored.column(4).as_primitive();
    assert_eq!(l.value(0), 1);
}

/// The ingest handler (the same code the `server_ingest` fuzz target drives)
/// answers every corrupted frame with a status and never panics; good frames
/// after bad ones still commit.
#[test]
fn ingest_handler_survives_corrupted_frames() {
    use questdb_arrow::server::IngestHarness;
    let h = IngestHarness::new(false).unwrap();
    let good = msg(0, &["a", "b"], vec![block("fz", 1_000, 5, &[0, 1])]);
    let mut frames: Vec<Vec<u8>> = Vec::new();
    for cut in (0..good.len()).step_by(3) {
        frames.push(good[..cut].to_vec());
    }
    let mut seed = 0x1234_5678_9ABC_DEF0u64;
    for i in 0..good.len() {
        for _ in 0..3 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut b = good.clone();
            b[i] ^= (seed as u8) | 1;
            frames.push(b);
        }
    }
    let n = frames.len();
    let responses = h.feed(frames.iter().map(|f| f.as_slice()));
    assert_eq!(responses.len(), n);
    // Each corrupted frame was answered (OK or an error status), in sequence.
    for (i, r) in responses.iter().enumerate() {
        let seq = match r {
            Response::Ok { sequence, .. } | Response::Error { sequence, .. } => *sequence,
            Response::DurableAck { .. } => panic!("unexpected durable ack"),
        };
        assert_eq!(seq, i as i64);
    }
    let before = h.rows("fz");
    let r = h.feed([good.as_slice()]);
    assert!(matches!(r[0], Response::Ok { .. }), "{:?}", r[0]);
    assert_eq!(h.rows("fz"), before + 5);
}

#[test]
fn sink_mode_acknowledges_without_storing() {
    let srv = Server::builder()
        .bind("127.0.0.1:0")
        .sink(true)
        .start()
        .unwrap();
    let mut c = ingest_conn(&srv);
    ok_seq(&send(&mut c, &msg(0, &["a"], vec![block("sunk", 1, 100, &[0])])).unwrap());
    // Malformed frames are still rejected: sink mode decodes everything.
    let (st, seq, _) = err_of(&send(&mut c, b"QWP1 not a frame").unwrap());
    assert_eq!((st, seq), (Status::ParseError, 1));
    assert!(srv.table_batch("sunk").is_none());
    assert!(srv.table_names().is_empty());
}

#[test]
fn ack_delay_fault_holds_responses_back() {
    let srv = Server::builder()
        .bind("127.0.0.1:0")
        .faults(Faults {
            ack_delay: Some(Duration::from_millis(300)),
            ..Faults::default()
        })
        .start()
        .unwrap();
    let mut c = ingest_conn(&srv);
    c.send(&msg(0, &["a"], vec![block("slow", 1, 1, &[0])]))
        .unwrap();
    // Nothing within 100 ms; the OK arrives later.
    assert!(
        c.recv_timeout(Some(Duration::from_millis(100)))
            .unwrap()
            .is_none()
    );
    let r = c
        .recv_timeout(Some(Duration::from_secs(10)))
        .unwrap()
        .expect("ack");
    assert_eq!(ok_seq(&Response::decode(&r).unwrap()), 0);
}
