//! ILP ingestion into the embedded server: questdb-rs ILP senders over
//! HTTP and TCP, then the stored tables read back.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{
    DataType, Float64Type, Int64Type, TimestampMicrosecondType, TimestampNanosecondType,
};
use questdb::ingress::{Buffer, Sender, TimestampMicros, TimestampNanos};
use questdb_arrow::client::QuestDb;
use questdb_arrow::server::{Server, ServerHandle};

const TS0: i64 = 1_700_000_000_000_000_000;

/// Every value type the ILP sender writes, three rows.
fn fill(buf: &mut Buffer, table: &str, arrays: bool, decimals: bool) {
    for i in 0..3i64 {
        buf.table(table)
            .unwrap()
            .symbol("sym", format!("s{i}"))
            .unwrap();
        buf.column_bool("b", i % 2 == 0).unwrap();
        buf.column_i64("l", i * 10).unwrap();
        buf.column_f64("d", i as f64 + 0.5).unwrap();
        buf.column_str("v", format!("str \"{i}\"\n,=")).unwrap();
        buf.column_ts("t", TimestampMicros::new(1_000 + i)).unwrap();
        if arrays {
            buf.column_arr("a", &vec![vec![i as f64, 1.0], vec![2.0, 3.0]])
                .unwrap();
        }
        if decimals {
            buf.column_dec("dec", format!("{i}.25").as_str()).unwrap();
        }
        buf.at(TimestampNanos::new(TS0 + i * 1_000)).unwrap();
    }
}

fn check(srv: &ServerHandle, table: &str, arrays: bool, decimals: bool) {
    let b = srv.table_batch(table).expect("table stored");
    assert_eq!(b.num_rows(), 3, "{table}");
    let col = |n: &str| b.column_by_name(n).unwrap_or_else(|| panic!("{table}.{n}"));
    assert!(matches!(col("sym").data_type(), DataType::Dictionary(..)));
    let l = col("l").as_primitive::<Int64Type>();
    assert_eq!(l.values().to_vec(), vec![0, 10, 20]);
    let d = col("d").as_primitive::<Float64Type>();
    assert_eq!(d.values().to_vec(), vec![0.5, 1.5, 2.5]);
    assert!(col("b").as_boolean().value(0));
    assert!(!col("b").as_boolean().value(1));
    assert_eq!(col("v").as_string::<i32>().value(1), "str \"1\"\n,=");
    let t = col("t").as_primitive::<TimestampMicrosecondType>();
    assert_eq!(t.values().to_vec(), vec![1_000, 1_001, 1_002]);
    let ts = col("timestamp").as_primitive::<TimestampMicrosecondType>();
    assert_eq!(ts.value(2), (TS0 + 2_000) / 1_000);
    if arrays {
        let a = col("a").as_list::<i32>();
        let row = a.value(1);
        let inner = row.as_list::<i32>().value(0);
        assert_eq!(
            inner.as_primitive::<Float64Type>().values().to_vec(),
            vec![1.0, 1.0]
        );
    } else {
        assert!(b.column_by_name("a").is_none());
    }
    if decimals {
        let dec = col("dec");
        assert!(
            matches!(dec.data_type(), DataType::Decimal64(18, 3)),
            "{dec:?}"
        );
        let v: Vec<i64> = dec
            .as_primitive::<arrow::datatypes::Decimal64Type>()
            .values()
            .to_vec();
        assert_eq!(v, vec![250, 1_250, 2_250]);
    }
}

fn start() -> ServerHandle {
    Server::builder()
        .bind("127.0.0.1:0")
        .ilp_tcp_bind("127.0.0.1:0")
        .start()
        .unwrap()
}

#[test]
fn http_senders_of_each_protocol_version_store_every_type() {
    let srv = start();
    for (v, arrays, decimals) in [
        ("1", false, false),
        ("2", true, false),
        ("3", true, true),
        ("auto", true, true),
    ] {
        let conf = format!("http::addr={};protocol_version={v};", srv.addr());
        let mut sender = Sender::from_conf(&conf).unwrap();
        let mut buf = sender.new_buffer();
        let table = format!("ilp_http_v{v}");
        fill(&mut buf, &table, arrays, decimals);
        sender.flush(&mut buf).unwrap();
        check(&srv, &table, arrays, decimals);
    }
    // Read back with the crate's own client too.
    let db = QuestDb::connect(&srv.conf_string()).unwrap();
    let got = db
        .query_arrow("SELECT l FROM ilp_http_v1")
        .unwrap()
        .fetch_all_arrow()
        .unwrap();
    let l: Vec<i64> = got
        .iter()
        .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
        .collect();
    assert_eq!(l, vec![0, 10, 20]);
}

fn wait_rows(srv: &ServerHandle, table: &str, rows: usize) -> RecordBatch {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(b) = srv.table_batch(table)
            && b.num_rows() >= rows
        {
            return b;
        }
        assert!(Instant::now() < end, "{table}: rows did not arrive");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn tcp_senders_store_every_type() {
    let srv = start();
    let tcp = srv.ilp_tcp_addr().unwrap();
    for (v, arrays, decimals) in [("1", false, false), ("2", true, false), ("3", true, true)] {
        let conf = format!("tcp::addr={tcp};protocol_version={v};");
        let mut sender = Sender::from_conf(&conf).unwrap();
        let mut buf = sender.new_buffer();
        let table = format!("ilp_tcp_v{v}");
        fill(&mut buf, &table, arrays, decimals);
        sender.flush(&mut buf).unwrap();
        wait_rows(&srv, &table, 3);
        check(&srv, &table, arrays, decimals);
    }
}

/// QuestDB's documented ILP/TCP test key: key id, `d`, `x`, `y`
/// (base64url).
pub(crate) const KEY_ID: &str = "testUser1";
pub(crate) const D: &str = "5UjEMuA0Pj5pjK8a-fa24dyIf-Es5mYny3oE_Wmus48";
pub(crate) const X: &str = "fLKYEaoEb9lrn3nkwLDA-M_xnuFOdSt9y0Z7_vWSHLU";
pub(crate) const Y: &str = "Dt5tbS1dEDMSYfym3fgMv0B99szno-dFc1rYF9t0aac";

/// `x`, `y` (base64url) of a fresh P-256 key: a server trusting it
/// refuses the signatures of [`D`].
pub(crate) fn untrusted_public_key() -> (String, String) {
    use base64::Engine;
    use ring::signature::KeyPair;
    let rng = ring::rand::SystemRandom::new();
    let alg = &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING;
    let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
    let other = ring::signature::EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap();
    let point = other.public_key().as_ref();
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    (b64(&point[1..33]), b64(&point[33..65]))
}

/// A server taking ILP/TCP with the test key required.
fn key_server() -> ServerHandle {
    Server::builder()
        .bind("127.0.0.1:0")
        .ilp_tcp_bind("127.0.0.1:0")
        .ilp_tcp_auth(KEY_ID, X, Y)
        .start()
        .unwrap()
}

#[test]
fn tcp_ecdsa_auth_admits_the_key_and_refuses_others() {
    let srv = key_server();
    let tcp = srv.ilp_tcp_addr().unwrap();
    let send = |user: &str, table: &str| -> questdb::Result<()> {
        let conf = format!("tcp::addr={tcp};username={user};token={D};token_x={X};token_y={Y};");
        let mut sender = Sender::from_conf(&conf)?;
        let mut buf = sender.new_buffer();
        buf.table(table)?.column_i64("x", 1)?.at_now()?;
        sender.flush(&mut buf)
    };
    send(KEY_ID, "authed").unwrap();
    wait_rows(&srv, "authed", 1);
    // An unknown key id: the server closes before the challenge.
    assert!(send("someoneElse", "refused").is_err());
    std::thread::sleep(Duration::from_millis(200));
    assert!(srv.table_batch("refused").is_none());
    // A server that trusts another public key refuses the signature.
    let (x2, y2) = untrusted_public_key();
    let srv2 = Server::builder()
        .bind("127.0.0.1:0")
        .ilp_tcp_bind("127.0.0.1:0")
        .ilp_tcp_auth(KEY_ID, x2, y2)
        .start()
        .unwrap();
    let tcp2 = srv2.ilp_tcp_addr().unwrap();
    let conf = format!("tcp::addr={tcp2};username={KEY_ID};token={D};token_x={X};token_y={Y};");
    if let Ok(mut sender) = Sender::from_conf(&conf) {
        let mut buf = sender.new_buffer();
        buf.table("forged")
            .unwrap()
            .column_i64("x", 1)
            .unwrap()
            .at_now()
            .unwrap();
        let _ = sender.flush(&mut buf);
    }
    std::thread::sleep(Duration::from_millis(500));
    assert!(srv2.table_batch("forged").is_none());
}

#[test]
fn tcp_lines_sent_with_the_signature_are_stored() {
    use base64::Engine;
    let srv = key_server();
    let url = |v: &str| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(v)
            .unwrap()
    };
    let public = [vec![4u8], url(X), url(Y)].concat();
    let rng = ring::rand::SystemRandom::new();
    let key = ring::signature::EcdsaKeyPair::from_private_key_and_public_key(
        &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &url(D),
        &public,
        &rng,
    )
    .unwrap();
    let mut s = TcpStream::connect(srv.ilp_tcp_addr().unwrap()).unwrap();
    s.write_all(format!("{KEY_ID}\n").as_bytes()).unwrap();
    let mut challenge = Vec::new();
    let mut byte = [0u8; 1];
    while s.read(&mut byte).unwrap() == 1 && byte[0] != b'\n' {
        challenge.push(byte[0]);
    }
    let sig = key.sign(&rng, &challenge).unwrap();
    // The signature and the first lines in one write: the server reads
    // them together and must not lose the lines.
    let sig = base64::engine::general_purpose::STANDARD.encode(sig.as_ref());
    s.write_all(format!("{sig}\nearly x=1i\nearly x=2i\n").as_bytes())
        .unwrap();
    drop(s);
    assert_eq!(wait_rows(&srv, "early", 2).num_rows(), 2);
}

#[test]
fn tcp_bad_line_closes_after_committing_what_preceded() {
    let srv = start();
    let mut s = TcpStream::connect(srv.ilp_tcp_addr().unwrap()).unwrap();
    s.write_all(b"tb x=1i\ntb x=2i\ntb x=oops\ntb x=4i\n")
        .unwrap();
    // An unterminated last line (perhaps cut off) is not stored.
    let mut cut = TcpStream::connect(srv.ilp_tcp_addr().unwrap()).unwrap();
    cut.write_all(b"tcut x=1i\ntcut x=2i,y=12").unwrap();
    drop(cut);
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut rest = Vec::new();
    // The server closes the connection: EOF (or a reset).
    let _ = s.read_to_end(&mut rest);
    let b = wait_rows(&srv, "tb", 2);
    let c = wait_rows(&srv, "tcut", 1);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(srv.table_batch("tcut").unwrap().num_rows(), 1);
    assert!(matches!(
        c.column_by_name("x").unwrap().data_type(),
        DataType::Int64
    ));
    assert_eq!(
        b.column_by_name("x")
            .unwrap()
            .as_primitive::<Int64Type>()
            .values()
            .to_vec(),
        vec![1, 2]
    );
}

/// Sends raw HTTP requests on one connection and reads one response each.
fn http(stream: &mut TcpStream, req: &[u8]) -> (u16, String, String) {
    stream.write_all(req).unwrap();
    read_response(stream)
}

fn read_response(stream: &mut TcpStream) -> (u16, String, String) {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).unwrap();
        assert!(
            n > 0,
            "closed mid-head: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.push(byte[0]);
    }
    let head = String::from_utf8(buf).unwrap();
    let status: u16 = head[9..12].parse().unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).unwrap();
    (status, head, String::from_utf8(body).unwrap())
}

fn post(body: &str, extra: &str) -> Vec<u8> {
    format!(
        "POST /write HTTP/1.1\r\nHost: x\r\n{extra}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[test]
fn http_keep_alive_ping_settings_two_tables_and_bad_lines() {
    let srv = start();
    let mut s = TcpStream::connect(srv.addr()).unwrap();
    let (st, head, _) = http(&mut s, b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(st, 204);
    assert!(head.contains("X-Influxdb-Version: v2.7.4"), "{head}");
    let (st, _, body) = http(&mut s, b"GET /settings HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(st, 200);
    assert!(
        body.contains("\"line.proto.support.versions\":[1,2,3]"),
        "{body}"
    );
    // Two tables in one request, one transaction each.
    let (st, _, _) = http(
        &mut s,
        &post("ta a=1i 1000\ntb b=2.5 2000\nta a=3i 3000\n", ""),
    );
    assert_eq!(st, 204);
    assert_eq!(srv.table_batch("ta").unwrap().num_rows(), 2);
    assert_eq!(srv.table_batch("tb").unwrap().num_rows(), 1);
    // A chunked body on the same connection, with precision=ms.
    let chunked = b"POST /api/v2/write?precision=ms HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n6\r\ntc c=1\r\n5\r\ni 42\n\r\n0\r\n\r\n";
    let (st, _, body) = http(&mut s, chunked);
    assert_eq!(st, 204, "{body}");
    let tc = srv.table_batch("tc").unwrap();
    let ts = tc.column_by_name("timestamp").unwrap();
    assert_eq!(
        ts.as_primitive::<TimestampMicrosecondType>().value(0),
        42_000
    );
    // A bad third line: 400 naming it, nothing of the request stored.
    let (st, head, body) = http(&mut s, &post("td x=1i\nte y=2i\ntd x=\n", ""));
    assert_eq!(st, 400, "{body}");
    assert!(head.contains("Content-Type: application/json"), "{head}");
    assert!(body.contains("\"line\":3"), "{body}");
    assert!(body.contains("\"code\":\"invalid\""), "{body}");
    assert!(body.contains("\"errorId\":"), "{body}");
    assert!(srv.table_batch("td").is_none() && srv.table_batch("te").is_none());
    // A type mismatch names the column; the connection still serves.
    let (st, _, body) = http(&mut s, &post("ta a=1.5\n", ""));
    assert_eq!(st, 400);
    assert!(body.contains("column a"), "{body}");
    let (st, _, body) = http(&mut s, b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(st, 404);
    assert!(body.contains("\"code\""), "{body}");
}

#[test]
fn http_auth_basic_and_bearer() {
    let srv = Server::builder()
        .bind("127.0.0.1:0")
        .basic_auth("joe", "secret")
        .start()
        .unwrap();
    let send = |user: &str, pass: &str| -> questdb::Result<()> {
        let conf = format!(
            "http::addr={};username={user};password={pass};retry_timeout=0;",
            srv.addr()
        );
        let mut sender = Sender::from_conf(&conf)?;
        let mut buf = sender.new_buffer();
        buf.table("auth_b")?.column_i64("x", 1)?.at_now()?;
        sender.flush(&mut buf)
    };
    send("joe", "secret").unwrap();
    assert!(send("joe", "wrong").is_err());
    assert_eq!(srv.table_batch("auth_b").unwrap().num_rows(), 1);
    let mut s = TcpStream::connect(srv.addr()).unwrap();
    let (st, _, _) = http(&mut s, &post("auth_b x=1i\n", ""));
    assert_eq!(st, 401);

    let srv = Server::builder()
        .bind("127.0.0.1:0")
        .token_auth("tok")
        .start()
        .unwrap();
    let send = |token: &str| -> questdb::Result<()> {
        let conf = format!("http::addr={};token={token};retry_timeout=0;", srv.addr());
        let mut sender = Sender::from_conf(&conf)?;
        let mut buf = sender.new_buffer();
        buf.table("auth_t")?.column_i64("x", 1)?.at_now()?;
        sender.flush(&mut buf)
    };
    send("tok").unwrap();
    assert!(send("nope").is_err());
    assert_eq!(srv.table_batch("auth_t").unwrap().num_rows(), 1);
}

#[test]
fn http_body_over_the_cap_is_413() {
    let srv = Server::builder()
        .bind("127.0.0.1:0")
        .max_http_body(1024)
        .start()
        .unwrap();
    let big: String = (0..200).map(|i| format!("big x={i}i\n")).collect();
    let mut s = TcpStream::connect(srv.addr()).unwrap();
    let (st, head, body) = http(&mut s, &post(&big, ""));
    assert_eq!(st, 413, "{body}");
    assert!(head.contains("Connection: close"));
    assert!(body.contains("max_http_body"), "{body}");
    assert!(srv.table_batch("big").is_none());
    // Expect: 100-continue over the cap: refused before the body is sent.
    let mut s = TcpStream::connect(srv.addr()).unwrap();
    let req = format!(
        "POST /write HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
        big.len()
    );
    let (st, _, _) = http(&mut s, req.as_bytes());
    assert_eq!(st, 413);
    // Under the cap: 100 Continue, then 204.
    let mut s = TcpStream::connect(srv.addr()).unwrap();
    let (st, _, _) = http(
        &mut s,
        b"POST /write HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 7\r\n\r\n",
    );
    assert_eq!(st, 100);
    let (st, _, _) = http(&mut s, b"ok x=1i");
    assert_eq!(st, 204);
    assert_eq!(srv.table_batch("ok").unwrap().num_rows(), 1);
}

#[test]
fn http_head_limits_and_slowloris() {
    let srv = Server::builder()
        .bind("127.0.0.1:0")
        .idle_timeout(Duration::from_millis(600))
        .start()
        .unwrap();
    let mut s = TcpStream::connect(srv.addr()).unwrap();
    let mut req = b"GET /ping HTTP/1.1\r\nX-Big: ".to_vec();
    req.extend(std::iter::repeat_n(b'a', 70 * 1024));
    req.extend_from_slice(b"\r\n\r\n");
    let _ = s.write_all(&req);
    let (st, _, _) = read_response(&mut s);
    assert_eq!(st, 431);
    // A head that never completes is cut at the handshake deadline.
    let mut s = TcpStream::connect(srv.addr()).unwrap();
    s.write_all(b"GET /ping HTTP/1.1\r\nHost").unwrap();
    let t0 = Instant::now();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    assert!(rest.is_empty());
}

#[test]
fn nanosecond_designated_columns_keep_nanoseconds() {
    let srv = start();
    let db = QuestDb::connect(&srv.conf_string()).unwrap();
    db.query_arrow("CREATE TABLE ns (x LONG, ts TIMESTAMP_NS) TIMESTAMP(ts)")
        .unwrap()
        .fetch_all_arrow()
        .unwrap();
    let mut s = TcpStream::connect(srv.addr()).unwrap();
    let (st, _, body) = http(&mut s, &post("ns x=1i 1700000000000000123\n", ""));
    assert_eq!(st, 204, "{body}");
    let b = srv.table_batch("ns").unwrap();
    let ts = b.column_by_name("ts").unwrap();
    assert_eq!(
        ts.as_primitive::<TimestampNanosecondType>().value(0),
        1_700_000_000_000_000_123
    );
}

#[test]
fn http_sender_reuses_its_connection_and_gets_server_errors() {
    let srv = start();
    let conf = format!("http::addr={};retry_timeout=0;", srv.addr());
    let mut sender = Sender::from_conf(&conf).unwrap();
    let mut buf = sender.new_buffer();
    for i in 0..3 {
        buf.table("reuse")
            .unwrap()
            .column_i64("x", i)
            .unwrap()
            .at_now()
            .unwrap();
        sender.flush(&mut buf).unwrap();
    }
    assert_eq!(srv.table_batch("reuse").unwrap().num_rows(), 3);
    // The /settings probe and the three writes shared one kept-alive
    // connection.
    assert_eq!(srv.connections_accepted(), 1);
    // A value that does not fit the column: the client sees the server's
    // message naming the column, and nothing is stored.
    buf.table("reuse")
        .unwrap()
        .column_i64("x", 4)
        .unwrap()
        .at_now()
        .unwrap();
    buf.table("reuse")
        .unwrap()
        .column_str("x", "text")
        .unwrap()
        .at_now()
        .unwrap();
    let e = sender.flush(&mut buf).expect_err("type mismatch");
    assert!(e.msg().contains("column x"), "{}", e.msg());
    assert_eq!(srv.table_batch("reuse").unwrap().num_rows(), 3);
}

#[test]
fn read_only_roles_refuse_http_writes() {
    let srv = Server::builder()
        .bind("127.0.0.1:0")
        .role(
            questdb_arrow::protocol::egress::Role::Replica,
            Some("z1".into()),
        )
        .start()
        .unwrap();
    let mut s = TcpStream::connect(srv.addr()).unwrap();
    let (st, head, body) = http(&mut s, &post("ro x=1i\n", ""));
    assert_eq!(st, 421, "{body}");
    assert!(head.contains("X-QuestDB-Role: REPLICA"), "{head}");
    assert!(head.contains("X-QuestDB-Zone: z1"), "{head}");
    assert!(srv.table_batch("ro").is_none());
}

#[test]
fn tcp_line_over_the_limit_closes_the_connection() {
    let srv = Server::builder()
        .bind("127.0.0.1:0")
        .ilp_tcp_bind("127.0.0.1:0")
        .ilp_tcp_max_line(4096)
        .start()
        .unwrap();
    let mut s = TcpStream::connect(srv.ilp_tcp_addr().unwrap()).unwrap();
    s.write_all(b"ok x=1i\n").unwrap();
    let long = format!("long v=\"{}\"", "a".repeat(64 * 1024));
    let _ = s.write_all(long.as_bytes());
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut rest = Vec::new();
    let t0 = Instant::now();
    let _ = s.read_to_end(&mut rest);
    assert!(
        t0.elapsed() < Duration::from_secs(4),
        "closed by the server"
    );
    wait_rows(&srv, "ok", 1);
    assert!(srv.table_batch("long").is_none());
}

#[test]
fn https_sender_writes_over_tls() {
    let (cert, key, dir) = crate::support::self_signed_pem("ilp-https");
    let srv = Server::builder()
        .bind("127.0.0.1:0")
        .tls(&cert, &key)
        .start()
        .unwrap();
    let conf = format!(
        "https::addr=localhost:{};tls_roots={};",
        srv.addr().port(),
        cert.display()
    );
    let mut sender = Sender::from_conf(&conf).unwrap();
    let mut buf = sender.new_buffer();
    fill(&mut buf, "over_tls", true, true);
    sender.flush(&mut buf).unwrap();
    check(&srv, "over_tls", true, true);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The server's per-line shortcuts (the previous line's table, each
/// column where the previous line had it) fall back to a lookup whenever
/// a line differs: tables interleaved and named in another case, columns
/// reordered, renamed in case, missing and new — every value lands in its
/// own column and row.
#[test]
fn lines_that_differ_in_table_order_and_case_land_in_their_columns() {
    let srv = start();
    let mut s = TcpStream::connect(srv.addr()).unwrap();
    let body = "ta,s=x a=1i,b=1.5 1000\n\
                TA,s=y b=2.5,a=2i 2000\n\
                tb c=7i 3000\n\
                ta A=3i,B=3.5,c=\"new\" 4000\n\
                Tb C=8i 5000\n\
                ta,S=z b=4.5 6000\n";
    let (st, _, resp) = http(&mut s, &post(body, ""));
    assert_eq!(st, 204, "{resp}");
    let ta = srv.table_batch("ta").unwrap();
    assert_eq!(ta.num_rows(), 4);
    let col = |b: &RecordBatch, n: &str| b.column_by_name(n).unwrap().clone();
    let a = col(&ta, "a");
    let a = a.as_primitive::<Int64Type>();
    assert_eq!(
        (0..4)
            .map(|i| a.is_valid(i).then(|| a.value(i)))
            .collect::<Vec<_>>(),
        vec![Some(1), Some(2), Some(3), None]
    );
    let b = col(&ta, "b");
    let b = b.as_primitive::<Float64Type>();
    assert_eq!(b.values().to_vec(), vec![1.5, 2.5, 3.5, 4.5]);
    let c = col(&ta, "c");
    let c = c.as_string::<i32>();
    assert_eq!(
        (0..4)
            .map(|i| c.is_valid(i).then(|| c.value(i)))
            .collect::<Vec<_>>(),
        vec![None, None, Some("new"), None]
    );
    let sym = arrow::compute::cast(&col(&ta, "s"), &DataType::Utf8).unwrap();
    let sym = sym.as_string::<i32>();
    assert_eq!(
        (0..4)
            .map(|i| sym.is_valid(i).then(|| sym.value(i)))
            .collect::<Vec<_>>(),
        vec![Some("x"), Some("y"), None, Some("z")]
    );
    let tb = srv.table_batch("tb").unwrap();
    let c = col(&tb, "c");
    assert_eq!(c.as_primitive::<Int64Type>().values().to_vec(), vec![7, 8]);
    // A column named twice in one line (in another case) is still caught.
    let (st, _, resp) = http(&mut s, &post("ta a=1i,A=2i 7000\n", ""));
    assert_eq!(st, 400, "{resp}");
    assert!(resp.contains("appears twice"), "{resp}");
    assert_eq!(srv.table_batch("ta").unwrap().num_rows(), 4);
}

/// `rows` lines of table `table` whose binary doubles (protocol version
/// 2) are all `\n` bytes on every third line, with escaped newlines in a
/// string: a reader that cuts at `\n` bytes cuts lines apart.
fn newline_bytes_body(table: &str, rows: usize) -> Vec<u8> {
    let mut body = Vec::new();
    for i in 0..rows {
        body.extend_from_slice(format!("{table} x={i}i,d==").as_bytes());
        body.push(16);
        let v = if i % 3 == 0 {
            f64::from_bits(0x0A0A_0A0A_0A0A_0A0A)
        } else {
            i as f64
        };
        body.extend_from_slice(&v.to_le_bytes());
        body.extend_from_slice(format!(",v=\"a\\\nb\" {}\n", TS0 + i as i64).as_bytes());
    }
    body
}

fn check_newline_bytes(b: &RecordBatch, rows: usize) {
    assert_eq!(b.num_rows(), rows);
    let x = b.column_by_name("x").unwrap().as_primitive::<Int64Type>();
    assert_eq!(x.values().to_vec(), (0..rows as i64).collect::<Vec<_>>());
    let d = b.column_by_name("d").unwrap().as_primitive::<Float64Type>();
    for i in 0..rows {
        let want = if i % 3 == 0 {
            0x0A0A_0A0A_0A0A_0A0A
        } else {
            (i as f64).to_bits()
        };
        assert_eq!(d.value(i).to_bits(), want, "row {i}");
    }
    assert_eq!(
        b.column_by_name("v").unwrap().as_string::<i32>().value(1),
        "a\nb"
    );
}

/// A body of several megabytes is parsed while it arrives (in pieces cut
/// anywhere, here inside lines and binary values): stored whole, and a
/// bad last line refuses all of it, named by its number in the body.
#[test]
fn http_large_body_sent_in_pieces_is_stored_whole_or_not_at_all() {
    let srv = start();
    let rows = 60_000;
    for (table, bad) in [("big_ok", false), ("big_bad", true)] {
        let mut body = newline_bytes_body(table, rows);
        if bad {
            body.extend_from_slice(format!("{table} x=oops\n").as_bytes());
        }
        assert!(body.len() > 2_000_000);
        let mut s = TcpStream::connect(srv.addr()).unwrap();
        s.write_all(
            format!(
                "POST /write HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        )
        .unwrap();
        for piece in body.chunks(100_003) {
            s.write_all(piece).unwrap();
            s.flush().unwrap();
            std::thread::sleep(Duration::from_millis(2));
        }
        let (status, _, reply) = read_response(&mut s);
        if bad {
            assert_eq!(status, 400, "{reply}");
            assert!(reply.contains(&format!("\"line\":{}", rows + 1)), "{reply}");
            assert!(srv.table_batch(table).is_none());
        } else {
            assert_eq!(status, 204, "{reply}");
            check_newline_bytes(&srv.table_batch(table).expect(table), rows);
        }
    }
}

/// Over TCP, lines arriving a few bytes at a time, with `\n` bytes inside
/// binary doubles and escapes, are stored as sent.
#[test]
fn tcp_lines_in_small_pieces_with_newline_bytes_are_stored() {
    let srv = start();
    let body = newline_bytes_body("tcp_nl", 30);
    let mut s = TcpStream::connect(srv.ilp_tcp_addr().unwrap()).unwrap();
    s.set_nodelay(true).unwrap();
    for piece in body.chunks(7) {
        s.write_all(piece).unwrap();
        std::thread::sleep(Duration::from_micros(300));
    }
    drop(s);
    let b = wait_rows(&srv, "tcp_nl", 30);
    check_newline_bytes(&b, 30);
}
