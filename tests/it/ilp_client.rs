//! The ILP client (`http::`, `tcp::`) against mock servers written here:
//! std `TcpListener` threads answering canned HTTP responses or reading
//! TCP lines.
//!
//! To add once the embedded server's ILP endpoints (branch `ilpsrv`) are
//! merged: `tests/it/ilp_roundtrip.rs` (feature `server`) — start
//! `Server::builder()`, ingest over `http::addr=<its HTTP addr>;` with the
//! default `protocol_version=auto` (so `/settings` is read from the real
//! server) through `flush_arrow_batch`, `ingest_batches` and a row sender
//! with two tables, query the tables back over `ws::` and compare; a 400
//! from a type conflict naming the line; and `tcp::` with ECDSA against
//! its TCP listener.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use base64::Engine;
use questdb_arrow::ErrorKind;
use questdb_arrow::client::rows::TimestampNanos;
use questdb_arrow::client::{AckLevel, IngestOptions, QuestDb};
use questdb_arrow::protocol::ilp::IlpVersion;

use super::ilp_mock::{Canned, MockHttp, Request, batch, canned, db, lines};

#[test]
fn a_500_is_retried_and_the_body_lands_once_at_the_204() {
    let m = MockHttp::start(vec![canned(500, r#"{"message":"busy"}"#)], vec![]);
    let db = db(format!(
        "http::addr={};protocol_version=1;retry_timeout=5000;",
        m.addr
    ));
    let b = batch(100);
    let sum = db
        .flush_arrow_batch("trades", &b, Some("ts"), &[], AckLevel::Ok)
        .unwrap();
    assert_eq!((sum.rows, sum.batches, sum.frames), (100, 1, 1));
    let w = m.writes();
    assert_eq!(w.len(), 2, "sent twice: the 500, then the 204");
    let want = lines("trades", &b, IlpVersion::V1);
    assert_eq!(w[0].body, want);
    assert_eq!(w[1].body, want);
    assert_eq!(w[0].path, "/write?precision=n");
    assert_eq!(
        w[0].header("Content-Length"),
        Some(&*want.len().to_string())
    );
}

#[test]
fn a_503_sends_the_retry_to_the_next_addr() {
    let busy = MockHttp::start(vec![canned(503, r#"{"message":"later"}"#)], vec![]);
    let ok = MockHttp::start(vec![], vec![]);
    let db = db(format!(
        "http::addr={};addr={};protocol_version=1;",
        busy.addr, ok.addr
    ));
    let b = batch(10);
    db.flush_arrow_batch("t", &b, Some("ts"), &[], AckLevel::Ok)
        .unwrap();
    let want = lines("t", &b, IlpVersion::V1);
    assert_eq!(busy.writes().len(), 1);
    let landed: Vec<Vec<u8>> = ok.writes().into_iter().map(|r| r.body).collect();
    assert_eq!(landed, vec![want]);
}

#[test]
fn retry_timeout_zero_sends_once() {
    let m = MockHttp::start(vec![canned(503, r#"{"message":"later"}"#)], vec![]);
    let db = db(format!(
        "http::addr={};protocol_version=1;retry_timeout=0;",
        m.addr
    ));
    let e = db
        .flush_arrow_batch("t", &batch(3), Some("ts"), &[], AckLevel::Ok)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Server);
    assert_eq!(e.ilp_server_error().map(|s| s.status), Some(503));
    assert!(e.message().contains("not retried"), "{e}");
    assert_eq!(m.writes().len(), 1);
}

#[test]
fn a_slow_server_times_out_after_request_timeout_plus_the_body_allowance() {
    let slow = Canned {
        delay: Duration::from_millis(900),
        ..canned(204, "")
    };
    let m = MockHttp::start(vec![slow.clone(), slow], vec![]);
    let b = batch(50);
    let body = lines("t", &b, IlpVersion::V1).len();
    // 150 ms + no allowance: the 900 ms answer is too late.
    let db1 = db(format!(
        "http::addr={};protocol_version=1;retry_timeout=0;request_timeout=150;request_min_throughput=0;",
        m.addr
    ));
    let t0 = Instant::now();
    let e = db1
        .flush_arrow_batch("t", &b, Some("ts"), &[], AckLevel::Ok)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(
        t0.elapsed() < Duration::from_millis(800),
        "{:?}",
        t0.elapsed()
    );
    // 150 ms + body / (body/2 per second) = 2.15 s: the answer is in time.
    let db2 = db(format!(
        "http::addr={};protocol_version=1;retry_timeout=0;request_timeout=150;request_min_throughput={};",
        m.addr,
        body / 2
    ));
    db2.flush_arrow_batch("t", &b, Some("ts"), &[], AckLevel::Ok)
        .unwrap();
}

#[test]
fn a_400_names_the_line_and_the_message() {
    let json = r#"{"code":"invalid","message":"failed to parse line protocol:errors encountered on line(s):\nerror in line 2: table: t, column: px; cast error from protocol type: FLOAT to column type: LONG","line":2,"errorId":"abc-1"}"#;
    let m = MockHttp::start(vec![canned(400, json)], vec![]);
    let db = db(format!("http::addr={};protocol_version=1;", m.addr));
    let e = db
        .flush_arrow_batch("t", &batch(3), Some("ts"), &[], AckLevel::Ok)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Server);
    let s = e.ilp_server_error().unwrap();
    assert_eq!((s.status, s.line), (400, Some(2)));
    assert_eq!(s.error_id.as_deref(), Some("abc-1"));
    let text = e.to_string();
    assert!(text.contains("at line 2"), "{text}");
    assert!(text.contains("cast error from protocol type"), "{text}");
    assert!(text.contains("table t"), "{text}");
    assert_eq!(m.writes().len(), 1, "a 400 is not retried");
}

#[test]
fn auth_headers_are_sent() {
    let m = MockHttp::start(vec![], vec![]);
    let basic = db(format!(
        "http::addr={};protocol_version=1;username=joe;password=s3cr;;t;",
        m.addr
    ));
    basic
        .flush_arrow_batch("t", &batch(1), Some("ts"), &[], AckLevel::Ok)
        .unwrap();
    let bearer = db(format!(
        "http::addr={};protocol_version=1;token=tok123;",
        m.addr
    ));
    bearer
        .flush_arrow_batch("t", &batch(1), Some("ts"), &[], AckLevel::Ok)
        .unwrap();
    let w = m.writes();
    let want = base64::engine::general_purpose::STANDARD.encode("joe:s3cr;t");
    assert_eq!(
        w[0].header("Authorization"),
        Some(&*format!("Basic {want}"))
    );
    assert_eq!(w[1].header("Authorization"), Some("Bearer tok123"));
    // A refused credential is an authentication error, not retried.
    let m = MockHttp::start(vec![canned(401, r#"{"message":"Unauthorized"}"#)], vec![]);
    let e = db(format!(
        "http::addr={};protocol_version=1;token=bad;",
        m.addr
    ))
    .flush_arrow_batch("t", &batch(1), Some("ts"), &[], AckLevel::Ok)
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
    assert_eq!(m.writes().len(), 1);
}

#[test]
fn auto_picks_the_highest_version_of_settings_and_a_404_means_v1() {
    let settings = r#"{"config":{"release.type":"OSS","line.proto.support.versions":[1,2],"ilp.proto.transports":["tcp","http"]},"preferences.version":0}"#;
    let m = MockHttp::start(vec![], vec![canned(200, settings)]);
    let db = db(format!("http::addr={};", m.addr));
    let b = batch(5);
    for _ in 0..2 {
        db.flush_arrow_batch("t", &b, Some("ts"), &[], AckLevel::Ok)
            .unwrap();
    }
    let r = m.requests();
    let gets: Vec<&Request> = r.iter().filter(|r| r.method == "GET").collect();
    assert_eq!(gets.len(), 1, "settings read once: {r:?}");
    assert_eq!(gets[0].path, "/settings");
    let w = m.writes();
    assert_eq!(w[0].body, lines("t", &b, IlpVersion::V2));
    assert_ne!(w[0].body, lines("t", &b, IlpVersion::V1));

    let old = MockHttp::start(vec![], vec![canned(404, "Not Found")]);
    let db = db_for(&old);
    db.flush_arrow_batch("t", &b, Some("ts"), &[], AckLevel::Ok)
        .unwrap();
    assert_eq!(old.writes()[0].body, lines("t", &b, IlpVersion::V1));
}

fn db_for(m: &MockHttp) -> QuestDb {
    db(format!("http::addr={};", m.addr))
}

#[test]
fn streaming_ingest_sends_a_request_per_batch_and_ping_works() {
    let m = MockHttp::start(vec![], vec![]);
    let db = db(format!("http::addr={};protocol_version=2;", m.addr));
    db.ping().unwrap();
    let batches = vec![batch(4), batch(6), batch(2)];
    let sum = db
        .ingest_batches(
            "t",
            batches.clone(),
            &IngestOptions::new().timestamp_column("ts"),
        )
        .unwrap();
    assert_eq!((sum.rows, sum.batches, sum.frames), (12, 3, 3));
    let w = m.writes();
    for (req, b) in w.iter().zip(&batches) {
        assert_eq!(req.body, lines("t", b, IlpVersion::V2));
    }
    assert!(m.requests().iter().any(|r| r.path == "/ping"));
    // Queries need QWP.
    let e = db.query("SELECT 1").unwrap_err();
    assert!(e.message().contains("use a ws:: or wss::"), "{e}");
}

#[test]
fn max_buf_size_is_an_error_naming_the_table() {
    let m = MockHttp::start(vec![], vec![]);
    let db = db(format!(
        "http::addr={};protocol_version=1;max_buf_size=1k;init_buf_size=1k;",
        m.addr
    ));
    let e = db
        .flush_arrow_batch("big", &batch(100), Some("ts"), &[], AckLevel::Ok)
        .unwrap_err();
    assert!(e.message().contains("table big"), "{e}");
    assert!(e.message().contains("max_buf_size"), "{e}");
    assert!(m.writes().is_empty());
    // Streaming cuts the batch into requests that fit.
    let b = batch(100);
    let sum = db
        .ingest_batches(
            "big",
            [b.clone()],
            &IngestOptions::new().timestamp_column("ts"),
        )
        .unwrap();
    assert_eq!(sum.rows, 100);
    let w = m.writes();
    assert!(w.len() > 1);
    assert!(w.iter().all(|r| r.body.len() <= 1024));
    let all: Vec<u8> = w.iter().flat_map(|r| r.body.clone()).collect();
    assert_eq!(all, lines("big", &b, IlpVersion::V1));
}

#[test]
fn the_row_sender_sends_two_tables_in_one_request() {
    let m = MockHttp::start(vec![], vec![]);
    let db = db(format!(
        "http::addr={};protocol_version=1;auto_flush=off;",
        m.addr
    ));
    let mut s = db.borrow_row_sender().unwrap();
    s.table("a")
        .unwrap()
        .symbol("k", "x")
        .unwrap()
        .column_f64("v", 1.5)
        .unwrap()
        .at(TimestampNanos::new(1_000))
        .unwrap();
    s.table("b")
        .unwrap()
        .column_i64("n", 7)
        .unwrap()
        .at_now()
        .unwrap();
    s.table("a")
        .unwrap()
        .symbol("k", "y")
        .unwrap()
        .column_f64("v", 2.5)
        .unwrap()
        .at(TimestampNanos::new(2_000))
        .unwrap();
    assert!(m.writes().is_empty(), "nothing sent before the flush");
    let sum = s.flush().unwrap();
    assert_eq!(sum.rows, 3);
    let w = m.writes();
    assert_eq!(w.len(), 1);
    let body = String::from_utf8(w[0].body.clone()).unwrap();
    let got: Vec<&str> = body.lines().collect();
    assert_eq!(
        got,
        ["a,k=x v=1.5 1000", "a,k=y v=2.5 2000", "b n=7i"],
        "{body}"
    );
}

/// A mock ILP/TCP server: reads everything each connection sends until it
/// closes (or `limit` bytes, then closes it itself).
fn mock_tcp(limit: Option<usize>) -> (String, JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let h = std::thread::spawn(move || {
        let (mut c, _) = listener.accept().unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match c.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
            if limit.is_some_and(|l| got.len() >= l) {
                break;
            }
        }
        got
    });
    (addr, h)
}

#[test]
fn tcp_writes_exactly_the_encoders_lines() {
    let (addr, h) = mock_tcp(None);
    let db = db(format!(
        "tcp::addr={addr};protocol_version=2;bind_interface=127.0.0.1;"
    ));
    let (b1, b2) = (batch(10), batch(3));
    db.flush_arrow_batch("t", &b1, Some("ts"), &[], AckLevel::Ok)
        .unwrap();
    db.flush_arrow_batch("u", &b2, Some("ts"), &[], AckLevel::Ok)
        .unwrap();
    db.close();
    drop(db);
    let mut want = lines("t", &b1, IlpVersion::V2);
    want.extend(lines("u", &b2, IlpVersion::V2));
    assert_eq!(h.join().unwrap(), want);
    // bind_interface is honoured: an address this host does not have
    // cannot be bound.
    let e = QuestDb::connect(&format!("tcp::addr={addr};bind_interface=192.0.2.1;"))
        .unwrap()
        .borrow_sender()
        .unwrap_err();
    assert!(e.to_string().contains("cannot connect"), "{e}");
}

#[test]
fn tcp_server_closing_is_an_error_on_a_later_flush() {
    let b = batch(20);
    let first = lines("t", &b, IlpVersion::V1).len();
    let (addr, h) = mock_tcp(Some(first));
    let db = db(format!("tcp::addr={addr};"));
    let mut s = db.borrow_sender().unwrap();
    s.flush_arrow_batch("t", &b, Some("ts")).unwrap();
    assert_eq!(h.join().unwrap().len(), first);
    // The server closed after the first flush; a later flush says so.
    let mut err = None;
    for _ in 0..100 {
        match s.flush_arrow_batch("t", &b, Some("ts")) {
            Ok(_) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => {
                err = Some(e);
                break;
            }
        }
    }
    let e = err.expect("no flush failed after the server closed");
    assert_eq!(e.kind(), ErrorKind::Closed, "{e}");
    assert!(
        e.message().contains("may have dropped lines sent before"),
        "{e}"
    );
}

/// The key id, d, x, y (base64url) and the 65-byte public key of a fresh
/// P-256 key.
fn ecdsa_key() -> (String, String, String, Vec<u8>) {
    use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
    let der = pkcs8.as_ref();
    let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, der, &rng).unwrap();
    let public = key.public_key().as_ref().to_vec();
    // ECPrivateKey: version 1, then the 32-byte private key.
    let at = der
        .windows(5)
        .position(|w| w == [0x02, 0x01, 0x01, 0x04, 0x20])
        .unwrap()
        + 5;
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    (
        b64(&der[at..at + 32]),
        b64(&public[1..33]),
        b64(&public[33..]),
        public,
    )
}

#[test]
fn tcp_ecdsa_authentication_signs_the_challenge() {
    use ring::signature::{ECDSA_P256_SHA256_ASN1, UnparsedPublicKey};
    let (d, x, y, public) = ecdsa_key();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let h = std::thread::spawn(move || {
        let (c, _) = listener.accept().unwrap();
        let mut out = c.try_clone().unwrap();
        let mut r = BufReader::new(c);
        let mut kid = String::new();
        r.read_line(&mut kid).unwrap();
        let challenge = b"a1b2c3d4e5f6g7h8i9j0klmnopqrstuv";
        out.write_all(challenge).unwrap();
        out.write_all(b"\n").unwrap();
        let mut sig = String::new();
        r.read_line(&mut sig).unwrap();
        let sig = base64::engine::general_purpose::STANDARD
            .decode(sig.trim_end())
            .unwrap();
        let ok = UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &public)
            .verify(challenge, &sig)
            .is_ok();
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).unwrap();
        (kid, ok, rest)
    });
    let db = db(format!(
        "tcp::addr={addr};username=testUser1;token={d};token_x={x};token_y={y};"
    ));
    let b = batch(2);
    db.flush_arrow_batch("t", &b, Some("ts"), &[], AckLevel::Ok)
        .unwrap();
    db.close();
    drop(db);
    let (kid, ok, rest) = h.join().unwrap();
    assert_eq!(kid, "testUser1\n");
    assert!(ok, "the signature does not verify");
    assert_eq!(rest, lines("t", &b, IlpVersion::V1));
}

#[test]
fn ilp_keys_are_checked_against_the_transport() {
    for (s, key) in [
        ("http::addr=h;token_x=abc;", "`token_x`"),
        ("ws::addr=h;protocol_version=2;", "`protocol_version`"),
        ("http::addr=h;sf_dir=/tmp/x;", "`sf_dir`"),
        ("tcp::addr=h;retry_timeout=5;", "`retry_timeout`"),
        ("http::addr=h;bind_interface=127.0.0.1;", "`bind_interface`"),
        ("http::addr=h;target=replica;", "`target`"),
    ] {
        let e = QuestDb::connect(s).unwrap_err();
        assert!(e.message().starts_with(key), "{s}: {e}");
    }
    let e = QuestDb::connect("tcp::addr=h;protocol_version=auto;").unwrap_err();
    assert!(e.message().contains("protocol_version"), "{e}");
    let e = QuestDb::connect("tcp::addr=h;username=k;token=d;").unwrap_err();
    assert!(e.message().contains("token_x"), "{e}");
    let c = QuestDb::connect("tcp::addr=h;").unwrap();
    assert_eq!(c.conf().addrs()[0].port, 9009);
    let c = QuestDb::connect("https::addr=h;").unwrap();
    assert_eq!(c.conf().addrs()[0].port, 9000);
}

#[test]
fn max_name_len_and_ws_ping() {
    let m = MockHttp::start(vec![], vec![]);
    let db = db(format!(
        "http::addr={};protocol_version=1;max_name_len=2;",
        m.addr
    ));
    let e = db
        .flush_arrow_batch("trades", &batch(1), Some("ts"), &[], AckLevel::Ok)
        .unwrap_err();
    assert!(e.message().contains("table \"trades\" is 6 bytes"), "{e}");
    assert!(e.message().contains("max_name_len (2)"), "{e}");
    let e = db
        .flush_arrow_batch("t", &batch(1), Some("ts"), &[], AckLevel::Ok)
        .unwrap_err();
    assert!(
        e.message().contains("table t, column \"sym\" is 3 bytes"),
        "{e}"
    );
    assert!(m.writes().is_empty());
    // ws:: answers GET /ping on the same port.
    let ws = QuestDb::connect(&format!("ws::addr={};", m.addr)).unwrap();
    ws.ping().unwrap();
    assert_eq!(m.requests().iter().filter(|r| r.path == "/ping").count(), 1);
    let dead = QuestDb::connect("ws::addr=127.0.0.1:1;").unwrap();
    assert!(dead.ping().is_err());
    let tcp = QuestDb::connect("tcp::addr=127.0.0.1:1;").unwrap();
    assert_eq!(tcp.ping().unwrap_err().kind(), ErrorKind::Unsupported);
}

#[cfg(feature = "polars")]
#[test]
fn polars_dataframes_go_over_http() {
    use questdb_arrow::polars_io::PolarsIngestOptions;
    use questdb_arrow::polars_io::polars::prelude::*;
    use questdb_arrow::protocol::ilp::parse_lines;
    let m = MockHttp::start(vec![], vec![]);
    let db = db(format!("http::addr={};protocol_version=2;", m.addr));
    let df = df!("sym" => ["a", "b", "c"], "px" => [1.5, 2.5, 3.5]).unwrap();
    db.flush_polars_dataframe("prices", &df, &PolarsIngestOptions::new().max_rows(2))
        .unwrap();
    let w = m.writes();
    assert_eq!(w.len(), 2, "one request per slice of max_rows");
    let mut rows = 0;
    for r in &w {
        for l in parse_lines(&r.body, IlpVersion::V2) {
            let l = l.unwrap();
            assert_eq!(l.table, "prices");
            rows += 1;
        }
    }
    assert_eq!(rows, 3);
}

/// Reads one request (head and `Content-Length` body) from `r`.
fn read_request(r: &mut BufReader<TcpStream>) -> Option<Vec<u8>> {
    let mut len = 0;
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).ok()? == 0 {
            return None;
        }
        if h.trim_end().is_empty() {
            break;
        }
        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    Some(body)
}

#[test]
fn a_closed_keep_alive_is_reopened_and_a_lost_connection_retried() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let h = std::thread::spawn(move || {
        let mut bodies = Vec::new();
        // Each connection serves one request: answered 204 then closed by
        // the server, or (the third) read and dropped unanswered.
        for answer in [true, true, false, true] {
            let (c, _) = listener.accept().unwrap();
            let mut out = c.try_clone().unwrap();
            let mut r = BufReader::new(c);
            bodies.push(read_request(&mut r).unwrap());
            if answer {
                out.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").unwrap();
            }
        }
        bodies
    });
    let b = batch(7);
    let once = db(format!(
        "http::addr={addr};protocol_version=1;retry_timeout=0;"
    ));
    once.flush_arrow_batch("t", &b, Some("ts"), &[], AckLevel::Ok)
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    // The server closed the kept-alive connection meanwhile: the pooled
    // sender opens a new one without needing a retry.
    once.flush_arrow_batch("t", &b, Some("ts"), &[], AckLevel::Ok)
        .unwrap();
    assert_eq!(once.idle_senders(), 1, "one pooled sender served both");
    // A connection lost before the answer is retried on a new one.
    let retried = db(format!(
        "http::addr={addr};protocol_version=1;retry_timeout=5000;"
    ));
    let sum = retried
        .flush_arrow_batch("t", &b, Some("ts"), &[], AckLevel::Ok)
        .unwrap();
    assert_eq!(sum.reconnects, 1);
    let bodies = h.join().unwrap();
    let want = lines("t", &b, IlpVersion::V1);
    assert_eq!(bodies, vec![want; 4]);
}
