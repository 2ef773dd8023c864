//! The embedded server's whole request path. Byte 0 of the input picks it:
//!
//! - `0`: ingest frames (the rest split on the marker `\xFF\xFEQW`) through
//!   the ingest connection state machine over a catalogue that persists to
//!   a data directory (write-ahead log, checkpoints); every 512 inputs the
//!   catalogue is closed and recovered from that directory, every 8192 the
//!   directory is wiped. Every frame gets one response; recovery never
//!   fails.
//! - `1`: query-endpoint messages (QUERY_REQUEST, CREDIT, CANCEL or
//!   anything) sent as WebSocket frames to `/read/v1` of a live server, then
//!   a sentinel `SELECT 1`: the server must answer it (or close the
//!   connection) and keep serving the next input.
//! - `2`: the bytes of an HTTP upgrade request, sent raw to the listener:
//!   whatever it answers, the next input is served.
#![no_main]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use questdb_arrow::protocol::egress::{
    QueryRequest, ServerControl, ServerMessage, decode_server_message,
};
use questdb_arrow::server::{IngestHarness, Server, ServerHandle};
use questdb_arrow::transport::{ConnectOptions, Connection, Route};

#[path = "split.rs"]
mod split;
use split::split;

struct Ingest {
    harness: Option<IngestHarness>,
    runs: u64,
}

fn ingest(frames: &[&[u8]]) {
    static H: OnceLock<Mutex<Ingest>> = OnceLock::new();
    let dir = std::env::temp_dir().join(format!("qa-fuzz-requests-{}", std::process::id()));
    let h = H.get_or_init(|| {
        let _ = std::fs::remove_dir_all(&dir);
        Mutex::new(Ingest {
            harness: None,
            runs: 0,
        })
    });
    let mut g = h.lock().unwrap_or_else(|p| p.into_inner());
    g.runs += 1;
    if g.runs % 512 == 0 {
        // Close and recover: replaying what the fuzzer wrote must work.
        g.harness = None;
        if g.runs % 8192 == 0 {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    if g.harness.is_none() {
        g.harness = Some(IngestHarness::persistent(&dir).expect("recovery never fails"));
    }
    let Some(harness) = g.harness.as_ref() else {
        return;
    };
    let responses = harness.feed(frames.iter().copied());
    assert_eq!(responses.len(), frames.len(), "one response per frame");
}

fn server() -> &'static ServerHandle {
    static S: OnceLock<ServerHandle> = OnceLock::new();
    S.get_or_init(|| {
        let srv = Server::builder()
            .bind("127.0.0.1:0")
            .max_batch_rows(64)
            .start()
            .expect("server starts");
        // A table for queries to find.
        let o = opts(&srv);
        let (mut q, _) = Connection::connect(&o, Route::Query).expect("connects");
        let _ = q.recv();
        let create = QueryRequest::new(
            1,
            "CREATE TABLE t AS (SELECT 1 AS a, 'x' AS s, now() AS ts) TIMESTAMP(ts)",
        );
        q.send(&create.to_bytes().expect("encodes")).expect("sends");
        let _ = q.recv();
        srv
    })
}

fn opts(srv: &ServerHandle) -> ConnectOptions {
    let mut o = ConnectOptions::new("127.0.0.1", srv.addr().port());
    o.read_timeout = Some(Duration::from_secs(20));
    o
}

fn query(frames: &[&[u8]]) {
    let srv = server();
    let (mut c, _) = Connection::connect(&opts(srv), Route::Query).expect("server still serves");
    // SERVER_INFO
    c.recv().expect("SERVER_INFO");
    for f in frames {
        if c.send(f).is_err() {
            return;
        }
    }
    let sentinel = QueryRequest::new(i64::MAX, "SELECT 1");
    if c.send(&sentinel.to_bytes().expect("encodes")).is_err() {
        return;
    }
    // Read until the sentinel's end, an error for it, or the server closing.
    loop {
        let Ok(frame) = c.recv() else { return };
        match decode_server_message(&frame, 1) {
            Ok(ServerMessage::Control(ServerControl::ResultEnd { request_id, .. }))
            | Ok(ServerMessage::Control(ServerControl::QueryError { request_id, .. }))
                if request_id == i64::MAX =>
            {
                return;
            }
            Ok(_) => {}
            Err(e) => panic!("the server sent an undecodable frame: {e}"),
        }
    }
}

fn http(bytes: &[u8]) {
    let srv = server();
    let mut s = TcpStream::connect(srv.addr()).expect("listener still accepts");
    let _ = s.set_read_timeout(Some(Duration::from_secs(20)));
    let _ = s.write_all(bytes);
    let _ = s.write_all(b"\r\n\r\n");
    let _ = s.shutdown(std::net::Shutdown::Write);
    let mut buf = [0u8; 4096];
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 {
            break;
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => ingest(&split(rest)),
        1 => query(&split(rest)),
        _ => http(rest),
    }
});
