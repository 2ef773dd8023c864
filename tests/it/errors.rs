//! Errors reach the caller with their cause: a query's transport or
//! protocol error behind a full read-ahead queue, `source()` chains of I/O
//! and Arrow errors.

use std::error::Error as _;
use std::net::TcpListener;
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use arrow::array::RecordBatch;
use arrow::error::ArrowError;
use questdb_arrow::client::query::READ_AHEAD_BATCHES;
use questdb_arrow::client::{IngestOptions, QuestDb, Reader};
use questdb_arrow::protocol::egress::{ResultBatch, Role, ServerControl, ServerInfo};
use questdb_arrow::protocol::ingress::ColumnDef;
use questdb_arrow::protocol::{ColumnData, ColumnType, Values};
use questdb_arrow::server::{Server, ServerHandle};
use questdb_arrow::transport::ConnectOptions;
use questdb_arrow::{Error, ErrorKind};
use tungstenite::Message;
use tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tungstenite::http::HeaderValue;

/// Hard bound on every blocking step of the fake server.
const TIMEOUT: Duration = Duration::from_secs(10);

/// What the fake server does after its result batches.
#[derive(Clone, Copy)]
enum Ending {
    /// A frame that is not QWP.
    Garbage,
    /// Drops the TCP connection without a close frame.
    Abort,
}

/// Batches the fake server sends: the one `execute` waits for, enough to
/// fill the read-ahead queue, and no more (so the receiver reads the
/// ending while the queue is full).
const BATCHES: u64 = 1 + READ_AHEAD_BATCHES as u64;

fn batch_frame(seq: u64) -> Vec<u8> {
    ResultBatch {
        request_id: 1,
        batch_seq: seq,
        delta: None,
        schema: vec![ColumnDef {
            name: "x".into(),
            ty: ColumnType::Long,
        }],
        columns: vec![ColumnData::new(Values::Long(vec![seq as i64; 3]))],
        row_count: 3,
    }
    .to_frame(None)
    .unwrap()
}

/// A one-connection `/read/v1` server: SERVER_INFO, then for the query
/// [`BATCHES`] result batches and `ending`. Reports on `done` once all
/// was written.
fn fake_server(ending: Ending) -> (u16, mpsc::Receiver<()>, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (done_tx, done_rx) = mpsc::channel();
    let t = thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(TIMEOUT)).unwrap();
        tcp.set_write_timeout(Some(TIMEOUT)).unwrap();
        #[allow(clippy::result_large_err)] // shape fixed by tungstenite's Callback
        let version = |_: &Request, mut resp: Response| -> Result<Response, ErrorResponse> {
            resp.headers_mut()
                .insert("X-QWP-Version", HeaderValue::from_static("1"));
            Ok(resp)
        };
        let mut ws = tungstenite::accept_hdr(tcp.try_clone().unwrap(), version).unwrap();
        let info = ServerControl::ServerInfo(ServerInfo {
            role: Role::Standalone,
            epoch: 0,
            capabilities: 0,
            server_wall_ns: 0,
            cluster_id: "fake".into(),
            node_id: "fake".into(),
            zone_id: None,
        });
        ws.send(Message::Binary(info.to_frame().into())).unwrap();
        // The query request.
        let req = ws.read().unwrap();
        assert!(matches!(req, Message::Binary(_)), "{req:?}");
        for seq in 0..BATCHES {
            ws.send(Message::Binary(batch_frame(seq).into())).unwrap();
        }
        match ending {
            Ending::Garbage => {
                ws.send(Message::Binary(b"this is not a QWP frame".to_vec().into()))
                    .unwrap();
                done_tx.send(()).unwrap();
                // Keep the connection until the client goes.
                while ws.read().is_ok() {}
            }
            Ending::Abort => {
                ws.flush().unwrap();
                tcp.shutdown(std::net::Shutdown::Both).unwrap();
                done_tx.send(()).unwrap();
            }
        }
    });
    (port, done_rx, t)
}

/// Runs the query against the fake server, lets the receiver fill the
/// queue and meet `ending`, then drains: the batches, then the error.
fn error_behind_a_full_queue(ending: Ending) -> Error {
    let (port, done, server) = fake_server(ending);
    let mut opts = ConnectOptions::new("127.0.0.1", port);
    opts.read_timeout = Some(TIMEOUT);
    opts.auth_timeout = TIMEOUT;
    let mut reader = Reader::connect_with(&opts).unwrap();
    let mut cur = reader.execute("select x from t").unwrap();
    done.recv_timeout(TIMEOUT).unwrap();
    // Not a timing assertion: time for the receiver to queue the batches
    // and read the ending while nobody consumes (what used to lose the
    // error). The outcome must be the same however long this takes.
    thread::sleep(Duration::from_millis(200));
    let mut seqs = Vec::new();
    let err = loop {
        match cur.next_arrow_batch() {
            Ok(Some(b)) => seqs.push(first_value(&b)),
            Ok(None) => panic!("the result ended without the error; batches {seqs:?}"),
            Err(e) => break e,
        }
    };
    assert_eq!(seqs, (0..BATCHES as i64).collect::<Vec<_>>());
    // The error ended the cursor; the connection is gone.
    assert!(cur.next_arrow_batch().unwrap().is_none());
    drop(cur);
    assert!(!reader.is_connected());
    drop(reader);
    server.join().unwrap();
    err
}

fn first_value(b: &RecordBatch) -> i64 {
    b.column(0)
        .as_any()
        .downcast_ref::<arrow::array::Int64Array>()
        .unwrap()
        .value(0)
}

#[test]
fn protocol_error_behind_a_full_read_ahead_queue_reaches_the_caller() {
    let e = error_behind_a_full_queue(Ending::Garbage);
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    // The decoder's own finding, not "the query's receiver stopped".
    assert!(e.message().contains("bad magic"), "{e}");
    assert_eq!(e.offset(), Some(0), "{e}");
    assert!(e.message().contains("select x from t"), "{e}");
}

#[test]
fn abrupt_close_behind_a_full_read_ahead_queue_reaches_the_caller() {
    let e = error_behind_a_full_queue(Ending::Abort);
    assert_eq!(e.kind(), ErrorKind::Closed, "{e}");
    assert!(
        e.to_string()
            .contains("dropped the connection without a close frame"),
        "{e}"
    );
}

fn embedded() -> (ServerHandle, QuestDb) {
    let srv = Server::builder().bind("127.0.0.1:0").start().unwrap();
    let db = QuestDb::connect(&srv.conf_string()).unwrap();
    (srv, db)
}

fn io_source(e: &Error) -> &std::io::Error {
    e.source()
        .and_then(|s| s.downcast_ref::<std::io::Error>())
        .unwrap_or_else(|| panic!("no io::Error source: {e}"))
}

#[test]
fn missing_parquet_file_is_an_io_error_with_its_source() {
    let (_srv, db) = embedded();
    let path = std::env::temp_dir().join("questdb-arrow-errors-no-such-file.parquet");
    let e = questdb_arrow::parquet_io::ingest_parquet(&db, &path, "t", &IngestOptions::new())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io, "{e}");
    assert_eq!(io_source(&e).kind(), std::io::ErrorKind::NotFound);
    assert!(e.message().contains("no-such-file.parquet"), "{e}");
}

#[test]
fn unreadable_parquet_file_is_an_io_error_not_invalid_data() {
    // A directory opens as a file on Linux; reading its footer fails with
    // an OS error, which the parquet crate wraps.
    let (_srv, db) = embedded();
    let dir = std::env::temp_dir().join(format!("questdb-arrow-errors-dir-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let r = questdb_arrow::parquet_io::ingest_parquet(&db, &dir, "t", &IngestOptions::new());
    std::fs::remove_dir(&dir).unwrap();
    let e = r.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io, "{e}");
    assert_eq!(
        io_source(&e).kind(),
        std::io::ErrorKind::IsADirectory,
        "{e}"
    );
}

#[test]
fn arrow_errors_of_the_input_keep_their_source() {
    let (_srv, db) = embedded();
    let input = [Err(ArrowError::ComputeError("boom".into()))];
    let e = db.ingest("t", input, &IngestOptions::new()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidData, "{e}");
    assert!(e.message().contains("reading input batch 0"), "{e}");
    let src = e.source().and_then(|s| s.downcast_ref::<ArrowError>());
    assert!(
        matches!(src, Some(ArrowError::ComputeError(m)) if m == "boom"),
        "{src:?}"
    );
    // An input I/O error stays an I/O error.
    let io = std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "disk gone");
    let input = [Err(ArrowError::from(io))];
    // Not retried as if the connection had failed (which used to end the
    // call "successfully" with the input unread).
    let e = db.ingest("t", input, &IngestOptions::new()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io, "{e}");
    assert!(e.message().starts_with("table t: "), "{e}");
    let io = e.source().and_then(|s| s.source());
    let io = io.and_then(|s| s.downcast_ref::<std::io::Error>()).unwrap();
    assert_eq!(io.kind(), std::io::ErrorKind::UnexpectedEof);
}
