//! Bounded requests in the embedded server: ingest budgets (deferred data,
//! symbol dictionary, rows without columns), names with control
//! characters, `/read/v1` close codes, pipelined frames. What a request
//! costs in CPU and memory (cancel, time limits, RSS) is in `resources`.

use std::net::TcpStream;
use std::time::{Duration, Instant};

use questdb_arrow::client::QuestDb;
use questdb_arrow::protocol::ingress::{
    ColumnDef, IngressMessage, Response, SymbolDelta, TableBlock,
};
use questdb_arrow::protocol::{ColumnData, ColumnType, FLAG_DEFER_COMMIT, Status, Values};
use questdb_arrow::server::{Server, ServerBuilder, ServerHandle};
use questdb_arrow::transport::{ConnectOptions, Connection, Route};
use tungstenite::Message;
use tungstenite::protocol::frame::coding::CloseCode;

/// A query that keeps one core busy for minutes and yields no row before
/// its end.
pub(crate) const SLOW_SQL: &str = "SELECT sum(value % 7) AS s FROM range(100000000000)";

/// Most CPU time the test process may use in 1 s once its queries are
/// stopped: idle, it uses a few ms; a query still running two branches of
/// [`SLOW_SQL`] uses 0.7 s or more even on a loaded two-core machine.
pub(crate) const IDLE_CPU: Duration = Duration::from_millis(300);

pub(crate) fn start(b: ServerBuilder) -> ServerHandle {
    b.bind("127.0.0.1:0").start().expect("server starts")
}

pub(crate) fn conn(srv: &ServerHandle, route: Route) -> Connection {
    let mut o = ConnectOptions::new("127.0.0.1", srv.addr().port());
    o.read_timeout = Some(Duration::from_secs(20));
    Connection::connect(&o, route).expect("connects").0
}

pub(crate) fn send(c: &mut Connection, frame: &[u8]) -> Response {
    c.send(frame).expect("send");
    Response::decode(&c.recv().expect("response")).expect("response decodes")
}

pub(crate) fn refusal(r: &Response) -> (Status, String) {
    match r {
        Response::Error {
            status, message, ..
        } => (*status, message.clone()),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

pub(crate) fn is_ok(r: &Response) -> bool {
    matches!(r, Response::Ok { .. })
}

fn col(name: &str, ty: ColumnType) -> ColumnDef {
    ColumnDef {
        name: name.into(),
        ty,
    }
}

/// One ingest frame (delta dictionary section, no Gorilla).
pub(crate) fn frame(deferred: bool, delta: SymbolDelta, tables: Vec<TableBlock>) -> Vec<u8> {
    let mut m = IngressMessage::new(delta, tables);
    m.flags &= !questdb_arrow::protocol::FLAG_GORILLA;
    if deferred {
        m.flags |= FLAG_DEFER_COMMIT;
    }
    m.to_bytes().expect("frame encodes")
}

pub(crate) fn no_delta(next_id: u64) -> SymbolDelta {
    SymbolDelta {
        start: next_id,
        entries: Vec::new(),
    }
}

/// `rows` rows of one VARCHAR column `s` of `width` bytes each; no
/// designated timestamp (the server assigns it).
pub(crate) fn varchar_block(table: &str, rows: usize, width: usize) -> TableBlock {
    TableBlock {
        name: table.into(),
        columns: vec![col("s", ColumnType::Varchar)],
        data: vec![ColumnData::new(Values::Varchar(vec![
            "x".repeat(width);
            rows
        ]))],
    }
}

/// The 18-byte frame of the tester's report: table `t`, 1,000,000 rows,
/// no columns, flags 0.
pub(crate) fn rows_without_columns() -> Vec<u8> {
    let mut f = b"QWP1".to_vec();
    f.extend([1, 0]); // version, flags
    f.extend(1u16.to_le_bytes()); // table_count
    f.extend(6u32.to_le_bytes()); // payload_length
    f.extend([1, b't']); // name
    f.extend([0xC0, 0x84, 0x3D]); // row_count 1,000,000 (varint)
    f.push(0); // column_count
    assert_eq!(f.len(), 18);
    f
}

#[test]
fn rows_without_columns_are_a_parse_error() {
    let srv = start(Server::builder());
    let mut c = conn(&srv, Route::Ingest);
    let (status, msg) = refusal(&send(&mut c, &rows_without_columns()));
    assert_eq!(status, Status::ParseError, "{msg}");
    assert!(
        msg.contains("no columns") && msg.contains("1000000"),
        "{msg}"
    );
    assert!(srv.table_names().is_empty(), "{:?}", srv.table_names());

    // An empty block (no rows, no columns) is fine and creates nothing.
    let empty = TableBlock {
        name: "t".into(),
        columns: vec![],
        data: vec![],
    };
    assert!(is_ok(&send(
        &mut c,
        &frame(false, no_delta(0), vec![empty])
    )));
    // Columns without the designated timestamp: the server stamps exactly
    // the rows they carry.
    let r = send(
        &mut c,
        &frame(false, no_delta(0), vec![varchar_block("t", 3, 2)]),
    );
    assert!(is_ok(&r), "{r:?}");
    let t = srv.table_batch("t").expect("table t");
    assert_eq!(t.num_rows(), 3);
    assert_eq!(t.num_columns(), 2, "s and the server's timestamp");
}

#[test]
fn names_with_control_characters_are_refused() {
    let srv = start(Server::builder());
    let mut c = conn(&srv, Route::Ingest);
    for (table, column) in [("a\u{1}b", "x"), ("tab\tle", "x"), ("fine", "c\u{7f}")] {
        let block = TableBlock {
            name: table.into(),
            columns: vec![
                col(column, ColumnType::Long),
                col("", ColumnType::Timestamp),
            ],
            data: vec![
                ColumnData::new(Values::Long(vec![1])),
                ColumnData::new(Values::Timestamp(vec![1_700_000_000_000_000])),
            ],
        };
        let (status, msg) = refusal(&send(&mut c, &frame(false, no_delta(0), vec![block])));
        assert_eq!(status, Status::ParseError, "{msg}");
        let bad = if column == "x" { table } else { column };
        assert!(msg.contains(&format!("{bad:?}")), "names {bad:?}: {msg}");
        assert!(msg.contains("control character"), "{msg}");
    }
    assert!(srv.table_names().is_empty(), "{:?}", srv.table_names());
}

#[test]
fn query_column_names_never_carry_control_characters() {
    let srv = start(Server::builder());
    let db = QuestDb::connect(&srv.conf_string()).unwrap();
    let mut r = db.borrow_reader().unwrap();
    let b = r
        .rows("SELECT 1 AS \"a\u{0}b\", 2 AS \"t\tab\", 3 AS \"d\u{7f}\", 4 AS \"ok é\"")
        .unwrap();
    let names: Vec<&str> = b
        .schema_ref()
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    assert_eq!(names, ["a_b", "t_ab", "d_", "ok é"]);
}

#[test]
fn deferred_data_over_the_byte_budget_is_refused_and_rolled_back() {
    let srv = start(Server::builder().max_pending_bytes(1024 * 1024));
    let mut c = conn(&srv, Route::Ingest);
    // ~200 KB of Arrow data per frame: the budget holds 5, not 10.
    let mut answers = Vec::new();
    for _ in 0..10 {
        let f = frame(true, no_delta(0), vec![varchar_block("d", 200, 1000)]);
        answers.push(send(&mut c, &f));
    }
    let first_bad = answers
        .iter()
        .position(|r| !is_ok(r))
        .expect("a deferred frame is refused");
    assert!((3..10).contains(&first_bad), "refused at {first_bad}");
    let (status, msg) = refusal(&answers[first_bad]);
    assert_eq!(status, Status::LimitExceeded, "{msg}");
    assert!(
        msg.contains("max_pending_bytes") && msg.contains("1048576"),
        "{msg}"
    );
    // The rest of the transaction, its commit frame included, is refused.
    for r in &answers[first_bad + 1..] {
        assert_eq!(refusal(r).0, Status::LimitExceeded, "{r:?}");
    }
    let commit = send(&mut c, &frame(false, no_delta(0), vec![]));
    assert!(!is_ok(&commit), "{commit:?}");
    assert!(srv.table_batch("d").is_none_or(|t| t.num_rows() == 0));
    // The next transaction is independent.
    for deferred in [true, false] {
        let f = frame(deferred, no_delta(0), vec![varchar_block("d", 200, 1000)]);
        let r = send(&mut c, &f);
        assert!(is_ok(&r), "{r:?}");
    }
    assert_eq!(srv.table_batch("d").unwrap().num_rows(), 400);
}

#[test]
fn deferred_rows_over_the_row_cap_are_refused() {
    let srv = start(Server::builder());
    let mut c = conn(&srv, Route::Ingest);
    let block = || TableBlock {
        name: "r".into(),
        columns: vec![col("b", ColumnType::Boolean)],
        data: vec![ColumnData::new(Values::Boolean(vec![true; 400_000]))],
    };
    let a = send(&mut c, &frame(true, no_delta(0), vec![block()]));
    let b = send(&mut c, &frame(true, no_delta(0), vec![block()]));
    assert!(is_ok(&a) && is_ok(&b), "{a:?} {b:?}");
    let (status, msg) = refusal(&send(&mut c, &frame(true, no_delta(0), vec![block()])));
    assert_eq!(status, Status::LimitExceeded, "{msg}");
    assert!(msg.contains("1000000 uncommitted rows"), "{msg}");
    let commit = send(&mut c, &frame(false, no_delta(0), vec![]));
    assert!(
        !is_ok(&commit),
        "the batch is not committed in part: {commit:?}"
    );
    assert!(srv.table_batch("r").is_none_or(|t| t.num_rows() == 0));
}

#[test]
fn symbol_dictionary_over_the_byte_budget_is_refused() {
    let srv = start(Server::builder().max_dict_bytes(64 * 1024));
    let mut c = conn(&srv, Route::Ingest);
    let entries = |k: usize| -> Vec<String> {
        (0..10)
            .map(|i| format!("{k}-{i}-{}", "s".repeat(1000)))
            .collect()
    };
    let mut next = 0u64;
    let mut refused = None;
    for k in 0..10 {
        let d = SymbolDelta {
            start: next,
            entries: entries(k),
        };
        let r = send(&mut c, &frame(false, d, vec![]));
        if is_ok(&r) {
            next += 10;
        } else {
            refused = Some((k, refusal(&r)));
            break;
        }
    }
    let (k, (status, msg)) = refused.expect("the dictionary flood is refused");
    assert!((3..10).contains(&k), "refused at frame {k}");
    assert_eq!(status, Status::LimitExceeded, "{msg}");
    assert!(
        msg.contains("max_dict_bytes") && msg.contains("65536"),
        "{msg}"
    );
    // Replacing entries with shorter ones frees budget.
    let shorter = SymbolDelta {
        start: 0,
        entries: (0..next).map(|i| format!("e{i}")).collect(),
    };
    assert!(is_ok(&send(&mut c, &frame(false, shorter, vec![]))));
    let more = SymbolDelta {
        start: next,
        entries: entries(99),
    };
    assert!(is_ok(&send(&mut c, &frame(false, more, vec![]))));
}

fn raw_ws(srv: &ServerHandle, path: &str) -> tungstenite::WebSocket<TcpStream> {
    let tcp = TcpStream::connect(srv.addr()).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let url = format!("ws://{}{path}", srv.addr());
    let (mut ws, _) = tungstenite::client(url.as_str(), tcp).unwrap();
    if path == "/read/v1" {
        assert!(
            matches!(ws.read().unwrap(), Message::Binary(_)),
            "SERVER_INFO"
        );
    }
    ws
}

/// Reads until the server's close frame; its code.
fn close_code(ws: &mut tungstenite::WebSocket<TcpStream>) -> CloseCode {
    loop {
        match ws.read() {
            Ok(Message::Close(Some(f))) => return f.code,
            Ok(Message::Close(None)) => panic!("close frame without a code"),
            Ok(_) => {}
            Err(e) => panic!("no close frame: {e}"),
        }
    }
}

#[test]
fn read_endpoint_closes_oversized_and_text_frames_with_a_code() {
    for path in ["/read/v1", "/write/v4"] {
        let srv = start(Server::builder().recv_buffer(64 * 1024));
        let mut ws = raw_ws(&srv, path);
        ws.send(Message::Binary(vec![0x10; 1024 * 1024].into()))
            .unwrap();
        assert_eq!(close_code(&mut ws), CloseCode::Size, "{path}");

        let mut ws = raw_ws(&srv, path);
        ws.send(Message::Text("SELECT 1".into())).unwrap();
        assert_eq!(close_code(&mut ws), CloseCode::Unsupported, "{path}");
        // Then the connection ends.
        let end = loop {
            match ws.read() {
                Ok(_) => continue,
                Err(e) => break e,
            }
        };
        assert!(
            matches!(
                end,
                tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed
            ),
            "{path}: {end}"
        );
    }
}

/// The server decodes the next frame while the previous one commits:
/// frames sent back to back, without waiting, are answered in order, each
/// with its own outcome (a rejected frame between good ones changes
/// nothing around it); and frames a client sent before going away without
/// reading its answers are still committed, as if each had been answered.
#[test]
fn pipelined_frames_are_answered_in_order_and_committed_when_the_client_leaves() {
    let dir = std::env::temp_dir().join(format!("qa-pipeline-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let srv = start(Server::builder().data_dir(&dir).durable_ack(false));
    let rows = |srv: &ServerHandle| srv.table_batch("t").map_or(0, |b| b.num_rows());
    let mut c = conn(&srv, Route::Ingest);
    let good = || frame(false, no_delta(0), vec![varchar_block("t", 1000, 16)]);
    let bad = frame(
        false,
        no_delta(0),
        vec![TableBlock {
            name: "t".into(),
            columns: vec![col("s", ColumnType::Long)],
            data: vec![ColumnData::new(Values::Long(vec![1; 10]))],
        }],
    );
    let deferred = frame(true, no_delta(0), vec![varchar_block("t", 500, 16)]);
    let mut sent = Vec::new();
    for i in 0..24 {
        let f = match i {
            7 => bad.clone(),
            11 => deferred.clone(),
            _ => good(),
        };
        c.send(&f).expect("send");
        sent.push(i);
    }
    let mut txn = 0;
    for i in sent {
        let r = Response::decode(&c.recv().expect("answer")).expect("decodes");
        match (i, &r) {
            (
                7,
                Response::Error {
                    status, sequence, ..
                },
            ) => {
                assert_eq!((*status, *sequence), (Status::SchemaMismatch, 7));
            }
            (_, Response::Ok { sequence, tables }) => {
                assert_eq!(*sequence, i, "answers come in frame order");
                if i == 11 {
                    assert!(tables.is_empty(), "a deferred frame commits nothing");
                } else {
                    txn += 1;
                    assert_eq!(tables[0].1, txn, "frame {i}: {tables:?}");
                }
            }
            other => panic!("frame {i}: {other:?}"),
        }
    }
    // 22 good frames of 1000 rows, plus the deferred 500 with frame 12.
    assert_eq!(rows(&srv), 22 * 1000 + 500);

    // Ten more frames, then the client stops sending (its side of the
    // TCP connection closed, no WebSocket close) without reading a single
    // answer: every frame it sent is committed all the same. (Dropping a
    // socket with unread answers would make its kernel reset the
    // connection, which discards frames the server has not read yet.)
    let mut gone = raw_ws(&srv, "/write/v4");
    for _ in 0..10 {
        gone.send(Message::Binary(good().into())).expect("send");
    }
    gone.get_ref()
        .shutdown(std::net::Shutdown::Write)
        .expect("shutdown");
    let until = Instant::now() + Duration::from_secs(20);
    while rows(&srv) < 32 * 1000 + 500 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(rows(&srv), 32 * 1000 + 500);
    drop(gone);
    drop(c);
    drop(srv);
    // And they were logged: all of them are back after a restart.
    let srv = start(Server::builder().data_dir(&dir));
    assert_eq!(rows(&srv), 32 * 1000 + 500);
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}
