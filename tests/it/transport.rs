//! Transport layer against a small tungstenite test server: upgrade headers,
//! version negotiation, HTTP rejects, echo of masked frames, close codes,
//! TLS and timeouts.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use questdb_arrow::ErrorKind;
use questdb_arrow::transport::{
    Auth, ConnectOptions, Connection, Route, TlsOptions, rejected_role,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tungstenite::Message;
use tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tungstenite::http::{HeaderMap, HeaderName, HeaderValue};
use tungstenite::protocol::CloseFrame;
use tungstenite::protocol::frame::coding::CloseCode;

/// Hard bound on every blocking step of the test server.
const SERVER_TIMEOUT: Duration = Duration::from_secs(10);

/// What the server does after a successful upgrade.
#[derive(Clone, Copy)]
enum After {
    /// Echo binary messages until the client closes.
    Echo,
    /// Send a close frame with this code and reason.
    Close(u16, &'static str),
}

/// How the test server answers the upgrade.
#[derive(Clone)]
struct Plan {
    status: u16,
    headers: Vec<(&'static str, &'static str)>,
    body: Option<&'static str>,
    after: After,
    tls: Option<Arc<rustls::ServerConfig>>,
}

impl Plan {
    /// 101 with `X-QWP-Version: 1`, then echo.
    fn ok() -> Plan {
        Plan {
            status: 101,
            headers: vec![("X-QWP-Version", "1")],
            body: None,
            after: After::Echo,
            tls: None,
        }
    }

    fn status(status: u16) -> Plan {
        Plan {
            status,
            headers: vec![],
            ..Plan::ok()
        }
    }

    fn header(mut self, k: &'static str, v: &'static str) -> Plan {
        self.headers.retain(|(h, _)| !h.eq_ignore_ascii_case(k));
        self.headers.push((k, v));
        self
    }
}

/// The upgrade request the server saw.
struct Seen {
    path: String,
    headers: HeaderMap,
}

struct Server {
    port: u16,
    seen: mpsc::Receiver<Seen>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start(plan: Plan) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, seen) = mpsc::channel();
        let thread = thread::spawn(move || {
            let Some(tcp) = accept_one(&listener) else {
                return;
            };
            match plan.tls.clone() {
                None => serve(tcp, plan, tx),
                Some(cfg) => {
                    let conn = rustls::ServerConnection::new(cfg).unwrap();
                    serve(rustls::StreamOwned::new(conn, tcp), plan, tx)
                }
            }
        });
        Server {
            port,
            seen,
            thread: Some(thread),
        }
    }

    fn opts(&self) -> ConnectOptions {
        let mut o = ConnectOptions::new("127.0.0.1", self.port);
        o.read_timeout = Some(SERVER_TIMEOUT);
        o.auth_timeout = SERVER_TIMEOUT;
        o
    }

    fn request(&self) -> Seen {
        self.seen.recv_timeout(SERVER_TIMEOUT).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            // The server thread ends on its own (client gone or timeouts).
            let _ = t.join();
        }
    }
}

/// Accepts one connection, giving up after `SERVER_TIMEOUT`.
fn accept_one(listener: &TcpListener) -> Option<TcpStream> {
    listener.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + SERVER_TIMEOUT;
    loop {
        match listener.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false).unwrap();
                s.set_read_timeout(Some(SERVER_TIMEOUT)).unwrap();
                s.set_write_timeout(Some(SERVER_TIMEOUT)).unwrap();
                return Some(s);
            }
            Err(_) if Instant::now() < deadline => thread::sleep(Duration::from_millis(5)),
            Err(_) => return None,
        }
    }
}

#[allow(clippy::result_large_err)] // shape fixed by tungstenite's Callback
fn serve<S: Read + Write>(stream: S, plan: Plan, tx: mpsc::Sender<Seen>) {
    let callback = |req: &Request, mut resp: Response| -> Result<Response, ErrorResponse> {
        let _ = tx.send(Seen {
            path: req.uri().path().to_string(),
            headers: req.headers().clone(),
        });
        let mut headers = HeaderMap::new();
        for (k, v) in &plan.headers {
            headers.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_static(v),
            );
        }
        if plan.status == 101 {
            resp.headers_mut().extend(headers);
            Ok(resp)
        } else {
            let mut err = ErrorResponse::new(plan.body.map(str::to_string));
            *err.status_mut() = plan.status.try_into().unwrap();
            *err.headers_mut() = headers;
            Err(err)
        }
    };
    let Ok(mut ws) = tungstenite::accept_hdr(stream, callback) else {
        return;
    };
    match plan.after {
        After::Echo => loop {
            match ws.read() {
                Ok(Message::Binary(b)) => {
                    if ws.send(Message::Binary(b)).is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(_) => break,
            }
        },
        After::Close(code, reason) => {
            let frame = CloseFrame {
                code: CloseCode::from(code),
                reason: reason.into(),
            };
            let _ = ws.close(Some(frame));
            while ws.read().is_ok() {}
        }
    }
}

fn header<'a>(seen: &'a Seen, name: &str) -> Option<&'a str> {
    seen.headers.get(name).map(|v| v.to_str().unwrap())
}

#[test]
fn ingest_upgrade_sends_qwp_headers() {
    let server = Server::start(Plan::ok().header("X-QWP-Max-Batch-Size", "2097138"));
    let mut opts = server.opts();
    opts.auth = Auth::Basic {
        username: "admin".into(),
        password: "quest".into(),
    };
    let (mut conn, hs) = Connection::connect(&opts, Route::Ingest).unwrap();
    let seen = server.request();
    assert_eq!(seen.path, "/write/v4");
    assert_eq!(header(&seen, "x-qwp-max-version"), Some("1"));
    assert_eq!(
        header(&seen, "x-qwp-client-id"),
        Some(concat!("questdb-arrow/", env!("CARGO_PKG_VERSION")))
    );
    // base64("admin:quest")
    assert_eq!(
        header(&seen, "authorization"),
        Some("Basic YWRtaW46cXVlc3Q=")
    );
    assert_eq!(header(&seen, "x-qwp-request-durable-ack"), None);
    assert_eq!(header(&seen, "x-qwp-accept-encoding"), None);
    assert_eq!(
        header(&seen, "host"),
        Some(format!("127.0.0.1:{}", server.port).as_str())
    );
    assert_eq!(hs.version, 1);
    assert_eq!(hs.max_batch_size, Some(2_097_138));
    assert!(!hs.durable_ack);
    assert_eq!(conn.handshake(), &hs);
    assert_eq!(conn.peer(), format!("127.0.0.1:{}", server.port));
    conn.close().unwrap();
}

#[test]
fn query_upgrade_sends_bearer_and_encoding() {
    let server = Server::start(Plan::ok().header("X-QWP-Content-Encoding", "zstd"));
    let mut opts = server.opts();
    opts.auth = Auth::Bearer("tok-123".into());
    opts.client_id = "it/1.0".into();
    opts.accept_encoding = Some("zstd;level=3,raw".into());
    opts.max_batch_rows = Some(4096);
    opts.request_durable_ack = true; // ingest only: not sent on /read/v1
    let (mut conn, hs) = Connection::connect(&opts, Route::Query).unwrap();
    let seen = server.request();
    assert_eq!(seen.path, "/read/v1");
    assert_eq!(header(&seen, "authorization"), Some("Bearer tok-123"));
    assert_eq!(header(&seen, "x-qwp-client-id"), Some("it/1.0"));
    assert_eq!(
        header(&seen, "x-qwp-accept-encoding"),
        Some("zstd;level=3,raw")
    );
    assert_eq!(header(&seen, "x-qwp-max-batch-rows"), Some("4096"));
    assert_eq!(header(&seen, "x-qwp-request-durable-ack"), None);
    assert_eq!(hs.content_encoding.as_deref(), Some("zstd"));
    assert_eq!(hs.max_batch_size, None);
    conn.close().unwrap();
}

#[test]
fn durable_ack_requested_and_echoed() {
    let server = Server::start(Plan::ok().header("X-QWP-Durable-Ack", "enabled"));
    let mut opts = server.opts();
    opts.request_durable_ack = true;
    let (_conn, hs) = Connection::connect(&opts, Route::Ingest).unwrap();
    assert_eq!(
        header(&server.request(), "x-qwp-request-durable-ack"),
        Some("true")
    );
    assert!(hs.durable_ack);
}

#[test]
fn durable_ack_not_echoed_is_an_incompatible_server() {
    let server = Server::start(Plan::ok());
    let mut opts = server.opts();
    opts.request_durable_ack = true;
    let e = Connection::connect(&opts, Route::Ingest).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Incompatible, "{e}");
    assert!(e.to_string().contains("durable-ack mismatch"), "{e}");
}

#[test]
fn missing_version_header_means_1() {
    let server = Server::start(Plan::status(101));
    let (_conn, hs) = Connection::connect(&server.opts(), Route::Ingest).unwrap();
    assert_eq!(hs.version, 1);
}

#[test]
fn unsupported_version_is_an_incompatible_server() {
    let server = Server::start(Plan::ok().header("X-QWP-Version", "2"));
    let e = Connection::connect(&server.opts(), Route::Ingest).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Incompatible, "{e}");
    assert!(
        e.to_string()
            .contains("server selected QWP version 2, this client supports 1"),
        "{e}"
    );
}

#[test]
fn http_401_and_403_are_auth_errors() {
    let mut plan = Plan::status(401);
    plan.body = Some("bad credentials");
    let server = Server::start(plan);
    let e = Connection::connect(&server.opts(), Route::Ingest).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
    assert!(e.to_string().contains("401"), "{e}");
    assert!(e.to_string().contains("bad credentials"), "{e}");

    let server = Server::start(Plan::status(403));
    let e = Connection::connect(&server.opts(), Route::Query).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
    assert!(e.to_string().contains("403"), "{e}");
}

#[test]
fn http_421_is_a_role_reject() {
    let plan = Plan::status(421)
        .header("X-QuestDB-Role", "REPLICA")
        .header("X-QuestDB-Zone", "eu-west");
    let server = Server::start(plan);
    let e = Connection::connect(&server.opts(), Route::Ingest).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RoleReject, "{e}");
    assert!(e.to_string().contains("REPLICA"), "{e}");
    assert!(e.to_string().contains("eu-west"), "{e}");
    assert_eq!(rejected_role(&e), Some("REPLICA"));
}

#[test]
fn other_statuses_are_handshake_errors() {
    let server = Server::start(Plan::status(404));
    let e = Connection::connect(&server.opts(), Route::Ingest).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Handshake, "{e}");
    assert!(e.to_string().contains("404"), "{e}");
}

/// Payload bytes that differ per size and position.
fn payload(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| {
            (i as u32)
                .wrapping_mul(2_654_435_761)
                .rotate_left(len as u32 % 31) as u8
        })
        .collect()
}

#[test]
fn echo_round_trips_masked_frames() {
    let server = Server::start(Plan::ok());
    let (mut conn, _) = Connection::connect(&server.opts(), Route::Ingest).unwrap();
    for len in [0usize, 1, 125, 126, 70_000, 3 << 20] {
        let p = payload(len);
        // Written in uneven pieces, so the mask phase moves across calls.
        conn.send_with(len, |out| {
            let (a, rest) = p.split_at(len.min(3));
            out.put(a);
            let (b, c) = rest.split_at(rest.len() / 2);
            out.put(b);
            for chunk in c.chunks(4093) {
                out.put(chunk);
            }
        })
        .unwrap();
        let got = conn.recv().unwrap();
        assert_eq!(got.len(), len);
        assert!(got == p, "payload of {len} bytes came back different");
    }
    // Several messages in flight, then read back in order.
    for len in [5usize, 300, 65_536] {
        conn.send(&payload(len)).unwrap();
    }
    for len in [5usize, 300, 65_536] {
        assert_eq!(conn.recv().unwrap(), payload(len));
    }
    conn.close().unwrap();
    let e = conn.send(b"after close").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Closed, "{e}");
}

#[test]
fn recv_timeout_polls_without_breaking_the_connection() {
    let server = Server::start(Plan::ok());
    let (mut conn, _) = Connection::connect(&server.opts(), Route::Ingest).unwrap();
    assert_eq!(conn.recv_timeout(Some(Duration::ZERO)).unwrap(), None);
    assert_eq!(
        conn.recv_timeout(Some(Duration::from_millis(50))).unwrap(),
        None
    );
    conn.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    assert_eq!(conn.recv().unwrap_err().kind(), ErrorKind::Timeout);
    conn.set_read_timeout(Some(SERVER_TIMEOUT)).unwrap();
    conn.send(b"ping?").unwrap();
    assert_eq!(
        conn.recv_timeout(Some(SERVER_TIMEOUT)).unwrap().as_deref(),
        Some(&b"ping?"[..])
    );
    conn.send(b"again").unwrap();
    assert_eq!(conn.recv().unwrap(), b"again");
}

#[test]
fn server_close_1009_is_reported() {
    let mut plan = Plan::ok();
    plan.after = After::Close(1009, "frame too big");
    let server = Server::start(plan);
    let (mut conn, _) = Connection::connect(&server.opts(), Route::Ingest).unwrap();
    let e = conn.recv().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Closed, "{e}");
    assert!(e.to_string().contains("1009"), "{e}");
    assert!(e.to_string().contains("frame too big"), "{e}");
    let e = conn.send(b"x").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Closed, "{e}");
}

#[test]
fn closed_port_is_an_io_error() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut opts = ConnectOptions::new("127.0.0.1", port);
    opts.connect_timeout = Some(Duration::from_secs(5));
    let e = Connection::connect(&opts, Route::Ingest).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io, "{e}");
    assert!(e.to_string().contains(&format!("127.0.0.1:{port}")), "{e}");
}

/// A server that accepts one connection, reads whatever comes and never
/// answers; the thread ends when the client goes.
fn silent_server() -> (u16, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let t = thread::spawn(move || {
        if let Some(mut s) = accept_one(&listener) {
            let mut buf = [0u8; 4096];
            while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
        }
    });
    (port, t)
}

#[test]
fn silent_server_times_out_the_upgrade() {
    let (port, t) = silent_server();
    let mut opts = ConnectOptions::new("127.0.0.1", port);
    opts.auth_timeout = Duration::from_millis(300);
    let e = Connection::connect(&opts, Route::Ingest).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    t.join().unwrap();
}

/// `auth_timeout_ms` (and its questdb-rs spelling `auth_timeout`) in a
/// connect string bounds the upgrade: the default (15 s) would not end
/// within the bound asserted here.
#[test]
fn auth_timeout_from_the_connect_string_bounds_the_upgrade() {
    for key in ["auth_timeout_ms", "auth_timeout"] {
        let (port, t) = silent_server();
        let conf =
            questdb_arrow::conf::Conf::parse(&format!("ws::addr=127.0.0.1:{port};{key}=300;"))
                .unwrap();
        let opts = ConnectOptions::from_conf(&conf, &conf.addrs()[0]);
        let started = Instant::now();
        let e = Connection::connect(&opts, Route::Ingest).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Timeout, "{key}: {e}");
        assert!(started.elapsed() < Duration::from_secs(10), "{key}");
        t.join().unwrap();
    }
}

// ---- TLS ----

struct TestCert {
    pem: String,
    server: Arc<rustls::ServerConfig>,
}

fn test_cert() -> TestCert {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
    let certs: Vec<CertificateDer<'static>> = vec![ck.cert.der().clone()];
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    TestCert {
        pem: ck.cert.pem(),
        server: Arc::new(server),
    }
}

/// A temp file removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(contents: &str) -> TempFile {
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "qa-transport-{}-{}-{}.pem",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::write(&path, contents).unwrap();
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn tls_server(cert: &TestCert) -> (Server, ConnectOptions) {
    let mut plan = Plan::ok();
    plan.tls = Some(cert.server.clone());
    let server = Server::start(plan);
    let mut opts = server.opts();
    opts.host = "localhost".into();
    (server, opts)
}

/// `tls_roots` in a connect string: the self-signed server is trusted with
/// it and refused without it.
#[test]
fn tls_roots_from_the_connect_string_decides_trust() {
    let cert = test_cert();
    let roots = TempFile::new(&cert.pem);
    // The test server takes one connection: one server per attempt.
    let attempt = |extra: &str| {
        let (_server, opts) = tls_server(&cert);
        let conf =
            questdb_arrow::conf::Conf::parse(&format!("wss::addr=localhost:{};{extra}", opts.port))
                .unwrap();
        Connection::connect(
            &ConnectOptions::from_conf(&conf, &conf.addrs()[0]),
            Route::Ingest,
        )
        .map(drop)
    };
    attempt(&format!("tls_roots={};", roots.0.display())).unwrap();
    let e = attempt("").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
}

#[test]
fn tls_with_roots_file_echoes() {
    let cert = test_cert();
    let roots = TempFile::new(&cert.pem);
    let (server, mut opts) = tls_server(&cert);
    opts.tls = Some(TlsOptions {
        roots_file: Some(roots.0.clone()),
        ..TlsOptions::default()
    });
    let (mut conn, hs) = Connection::connect(&opts, Route::Ingest).unwrap();
    assert_eq!(hs.version, 1);
    assert_eq!(server.request().path, "/write/v4");
    for len in [0usize, 126, 70_000, 1 << 20] {
        let p = payload(len);
        conn.send(&p).unwrap();
        assert!(conn.recv().unwrap() == p, "TLS echo of {len} bytes differs");
    }
    conn.close().unwrap();
}

#[test]
fn tls_untrusted_certificate_is_a_tls_error() {
    let cert = test_cert();
    let (_server, mut opts) = tls_server(&cert);
    opts.tls = Some(TlsOptions::default()); // webpki roots: self-signed is unknown
    let e = Connection::connect(&opts, Route::Ingest).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    let cause = std::error::Error::source(&e).expect("the rustls error as source");
    assert!(cause.is::<rustls::Error>(), "{e}");
}

#[test]
fn tls_verify_off_accepts_any_certificate() {
    let cert = test_cert();
    let (_server, mut opts) = tls_server(&cert);
    opts.tls = Some(TlsOptions {
        verify: false,
        ..TlsOptions::default()
    });
    let (mut conn, _) = Connection::connect(&opts, Route::Ingest).unwrap();
    conn.send(b"hello over tls").unwrap();
    assert_eq!(conn.recv().unwrap(), b"hello over tls");
    conn.close().unwrap();
}

#[test]
fn tls_bad_roots_file_names_the_file() {
    let empty = TempFile::new("not a certificate\n");
    let mut opts = ConnectOptions::new("localhost", 1);
    opts.tls = Some(TlsOptions {
        roots_file: Some(empty.0.clone()),
        ..TlsOptions::default()
    });
    let e = Connection::connect(&opts, Route::Ingest).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    assert!(
        e.to_string().contains(&empty.0.display().to_string()),
        "{e}"
    );
}
