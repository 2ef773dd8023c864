//! No request takes the embedded server down: SQL limits, panics, the
//! connection cap, idle and handshake timeouts, Authorization conformance.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use arrow::array::AsArray;
use arrow::datatypes::Int64Type;
use base64::Engine;
use questdb_arrow::ErrorKind;
use questdb_arrow::client::QuestDb;
use questdb_arrow::protocol::Status;
use questdb_arrow::server::{Faults, MAX_SQL_COMPLEXITY, Server, ServerBuilder, ServerHandle};
use questdb_arrow::transport::{ConnectOptions, Connection, Route};

use crate::support::eventually;

fn start(b: ServerBuilder) -> (ServerHandle, QuestDb) {
    let srv = b.bind("127.0.0.1:0").start().unwrap();
    let db = QuestDb::connect(&srv.conf_string()).unwrap();
    (srv, db)
}

/// The single LONG value of a one-row, one-column result.
fn one_long(db: &QuestDb, sql: &str) -> i64 {
    let b = db.borrow_reader().unwrap().rows(sql).unwrap();
    assert_eq!((b.num_rows(), b.num_columns()), (1, 1), "{sql:.80}");
    let c = arrow::compute::cast(b.column(0), &arrow::datatypes::DataType::Int64).unwrap();
    c.as_primitive::<Int64Type>().value(0)
}

/// The status and message of a query the server refuses.
fn refused(db: &QuestDb, sql: &str) -> (Option<Status>, String) {
    let mut r = db.borrow_reader().unwrap();
    let e = r.execute(sql).map(|_| ()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Server, "{e}");
    (e.status(), e.to_string())
}

fn plus_chain(terms: usize) -> String {
    format!("SELECT 1{}", "+1".repeat(terms - 1))
}

#[test]
fn long_chains_and_deep_nesting_are_refused_and_the_server_lives() {
    let (srv, db) = start(Server::builder());
    let mut r = db.borrow_reader().unwrap();
    r.sql("CREATE TABLE g (a LONG)").unwrap();
    r.sql("INSERT INTO g VALUES (1), (2), (3)").unwrap();
    drop(r);
    // The tester's 606-byte statement now simply runs.
    assert_eq!(one_long(&db, &plus_chain(300)), 300);

    let (status, msg) = refused(&db, &plus_chain(100_000));
    assert_eq!(status, Some(Status::ParseError), "{msg}");
    assert!(msg.contains("complexity"), "{msg}");
    assert!(msg.contains(&MAX_SQL_COMPLEXITY.to_string()), "{msg}");

    let nested = format!("SELECT {}1{}", "(".repeat(10_000), ")".repeat(10_000));
    let (status, msg) = refused(&db, &nested);
    assert_eq!(status, Some(Status::ParseError), "{msg}");
    assert!(msg.contains("complexity"), "{msg}");

    // A new connection is served and the table written before is intact.
    let db2 = QuestDb::connect(&srv.conf_string()).unwrap();
    assert_eq!(one_long(&db2, "SELECT sum(a) FROM g"), 6);
    assert_eq!(srv.table_names(), vec!["g".to_string()]);
}

#[test]
fn sql_above_max_sql_bytes_is_refused_with_the_limit_named() {
    let (_srv, db) = start(Server::builder().max_sql_bytes(1000));
    let sql = format!("SELECT '{}'", "x".repeat(1000));
    let (status, msg) = refused(&db, &sql);
    assert_eq!(status, Some(Status::ParseError), "{msg}");
    assert!(
        msg.contains("max_sql_bytes") && msg.contains("1000"),
        "{msg}"
    );
    assert_eq!(one_long(&db, "SELECT 41 + 1"), 42);
}

#[test]
fn statements_at_the_complexity_limit_execute() {
    let (_srv, db) = start(Server::builder());
    // `SELECT` counts one, each `+` one: exactly at the limit.
    let at = plus_chain(MAX_SQL_COMPLEXITY);
    assert_eq!(one_long(&db, &at), MAX_SQL_COMPLEXITY as i64);
    let (status, msg) = refused(&db, &plus_chain(MAX_SQL_COMPLEXITY + 1));
    assert_eq!(status, Some(Status::ParseError), "{msg}");

    // A column chain is evaluated row by row, not folded by the planner:
    // SELECT, FROM and MAX − 2 `+` are at the limit.
    let mut r = db.borrow_reader().unwrap();
    r.sql("CREATE TABLE c (a LONG)").unwrap();
    r.sql("INSERT INTO c VALUES (2), (3)").unwrap();
    drop(r);
    let terms = MAX_SQL_COMPLEXITY - 1;
    let sql = format!("SELECT a{} FROM c", "+a".repeat(terms - 1));
    let b = db.borrow_reader().unwrap().rows(&sql).unwrap();
    let v = arrow::compute::cast(b.column(0), &arrow::datatypes::DataType::Int64).unwrap();
    let v = v.as_primitive::<Int64Type>();
    assert_eq!(
        v.values().to_vec(),
        vec![2 * terms as i64, 3 * terms as i64]
    );
    // One more `+` is refused.
    let sql = format!("SELECT a{} FROM c", "+a".repeat(terms));
    assert_eq!(refused(&db, &sql).0, Some(Status::ParseError));
}

#[test]
fn a_panic_closes_only_its_connection() {
    let faults = Faults {
        panic_on_sql: Some("SELECT 'boom'".into()),
        panic_udf: true,
        ..Faults::default()
    };
    let srv = Server::builder()
        .bind("127.0.0.1:0")
        .faults(faults)
        .start()
        .unwrap();
    let conf = questdb_arrow::conf::Conf::parse(&srv.conf_string()).unwrap();
    let mut before = questdb_arrow::client::Reader::connect(&conf).unwrap();
    assert_eq!(before.rows("SELECT 1 AS x").unwrap().num_rows(), 1);
    let mut victim = questdb_arrow::client::Reader::connect(&conf).unwrap();
    eventually("two live connections", || srv.connections_live() == 2);

    // A panic in the handler: that connection is closed, nothing else.
    let e = victim.execute("SELECT 'boom'").map(|_| ()).unwrap_err();
    assert_ne!(e.kind(), ErrorKind::Server, "{e}");
    assert!(!victim.is_connected(), "{e}");
    eventually("the panicked connection is no longer counted", || {
        srv.connections_live() == 1
    });
    assert_eq!(before.rows("SELECT 2 AS x").unwrap().num_rows(), 1);
    let mut after = questdb_arrow::client::Reader::connect(&conf).unwrap();
    assert_eq!(after.rows("SELECT 3 AS x").unwrap().num_rows(), 1);

    // A panic inside DataFusion's execution, on this thread or in a task
    // on the runtime: INTERNAL_ERROR for that query, the connection lives.
    for sql in [
        "SELECT qa_panic() AS v",
        "SELECT count(v) FROM (SELECT qa_panic() AS v UNION ALL SELECT qa_panic() AS v)",
    ] {
        let e = after.execute(sql).map(|_| ()).unwrap_err();
        assert_eq!(e.status(), Some(Status::InternalError), "{sql}: {e}");
        assert!(e.to_string().contains("qa_panic"), "{e}");
        assert_eq!(after.rows("SELECT 4 AS x").unwrap().num_rows(), 1);
    }
    assert_eq!(before.rows("SELECT 5 AS x").unwrap().num_rows(), 1);
}

/// Sends a raw upgrade request; returns the status code and the whole
/// response text (headers only for a 101).
fn raw_upgrade(addr: SocketAddr, path: &str, extra_headers: &[String]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut req = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    );
    for h in extra_headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = s.read(&mut buf).unwrap();
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got).to_string();
        if n == 0 || (text.starts_with("HTTP/1.1 101") && text.contains("\r\n\r\n")) {
            let code = text
                .get(9..12)
                .and_then(|c| c.parse().ok())
                .unwrap_or_else(|| panic!("no status line in {text:?}"));
            return (code, text);
        }
    }
}

#[test]
fn connections_over_the_limit_get_503_until_one_ends() {
    let srv = Server::builder()
        .bind("127.0.0.1:0")
        .max_connections(2)
        .start()
        .unwrap();
    let conf = questdb_arrow::conf::Conf::parse(&srv.conf_string()).unwrap();
    let a = questdb_arrow::client::Reader::connect(&conf).unwrap();
    let mut b = questdb_arrow::client::Reader::connect(&conf).unwrap();
    eventually("two live connections", || srv.connections_live() == 2);
    let (code, text) = raw_upgrade(srv.addr(), "/read/v1", &[]);
    assert_eq!(code, 503, "{text}");
    assert!(text.contains("max_connections = 2"), "{text}");
    assert!(questdb_arrow::client::Reader::connect(&conf).is_err());
    assert_eq!(b.rows("SELECT 1 AS x").unwrap().num_rows(), 1);
    drop(a);
    eventually("a slot frees", || srv.connections_live() == 1);
    let mut c = questdb_arrow::client::Reader::connect(&conf).unwrap();
    assert_eq!(c.rows("SELECT 2 AS x").unwrap().num_rows(), 1);
}

#[test]
fn idle_connections_and_slow_handshakes_are_closed() {
    let srv = Server::builder()
        .bind("127.0.0.1:0")
        .idle_timeout(Duration::from_secs(1))
        .start()
        .unwrap();
    let mut o = ConnectOptions::new("127.0.0.1", srv.addr().port());
    o.read_timeout = Some(Duration::from_secs(20));
    for route in [Route::Query, Route::Ingest] {
        let (mut c, _) = Connection::connect(&o, route).unwrap();
        if route == Route::Query {
            c.recv().unwrap(); // SERVER_INFO
        }
        let t = Instant::now();
        let e = c.recv().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Closed, "{route:?}: {e}");
        assert!(e.to_string().contains("1001"), "{route:?}: {e}");
        assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    }
    eventually("idle connections are gone", || srv.connections_live() == 0);

    // A handshake that never completes is dropped after the (1 s) bound.
    let mut s = TcpStream::connect(srv.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(b"GET /read/v1 HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let t = Instant::now();
    let mut buf = [0u8; 256];
    let n = s.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "{:?}", String::from_utf8_lossy(&buf[..n]));
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());

    // A busy connection is not idle.
    let db = QuestDb::connect(&srv.conf_string()).unwrap();
    let mut r = db.borrow_reader().unwrap();
    for i in 0..4 {
        std::thread::sleep(Duration::from_millis(400));
        assert_eq!(r.rows(&format!("SELECT {i} AS x")).unwrap().num_rows(), 1);
    }
}

fn basic(user: &str, pass: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
}

#[test]
fn authorization_schemes_are_case_insensitive_and_one_header_only() {
    let srv = Server::builder()
        .bind("127.0.0.1:0")
        .basic_auth("admin", "quest")
        .start()
        .unwrap();
    let good = basic("admin", "quest");
    for scheme in ["Basic", "basic", "BASIC", "bAsIc"] {
        let h = format!("Authorization: {scheme} {good}");
        let (code, text) = raw_upgrade(srv.addr(), "/write/v4", &[h]);
        assert_eq!(code, 101, "{scheme}: {text}");
    }
    let bad = format!("Authorization: basic {}", basic("admin", "nope"));
    assert_eq!(raw_upgrade(srv.addr(), "/write/v4", &[bad]).0, 401);
    let bearer = format!("Authorization: Bearer {good}");
    assert_eq!(raw_upgrade(srv.addr(), "/write/v4", &[bearer]).0, 401);
    let twice = [
        format!("Authorization: Basic {good}"),
        format!("Authorization: Basic {good}"),
    ];
    let (code, text) = raw_upgrade(srv.addr(), "/read/v1", &twice);
    assert_eq!(code, 400, "{text}");
    assert!(text.contains("duplicate Authorization header"), "{text}");

    let srv = Server::builder()
        .bind("127.0.0.1:0")
        .token_auth("s3cret")
        .start()
        .unwrap();
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let h = format!("Authorization: {scheme} s3cret");
        let (code, text) = raw_upgrade(srv.addr(), "/read/v1", &[h]);
        assert_eq!(code, 101, "{scheme}: {text}");
    }
    let wrong = "Authorization: Bearer S3CRET".to_string();
    assert_eq!(raw_upgrade(srv.addr(), "/read/v1", &[wrong]).0, 401);
    let twice = [
        "Authorization: Bearer s3cret".to_string(),
        "Authorization: bearer s3cret".to_string(),
    ];
    let (code, text) = raw_upgrade(srv.addr(), "/read/v1", &twice);
    assert_eq!(code, 400, "{text}");
    assert!(text.contains("duplicate Authorization header"), "{text}");
}
