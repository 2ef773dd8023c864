//! The crate's own ILP client over TLS into the embedded server with TLS:
//! `https::` (basic and bearer auth) and `tcps::` (QuestDB's ECDSA key, the
//! challenge inside the TLS session), batches and rows read back over
//! `wss::`; wrong credentials store nothing; `https::` to a plain server is
//! a TLS error.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use questdb_arrow::ErrorKind;
use questdb_arrow::client::rows::TimestampNanos;
use questdb_arrow::client::{AckLevel, QuestDb};
use questdb_arrow::server::{Server, ServerBuilder, ServerHandle};

use crate::ilp_roundtrip::{batch, expected, read_back, wait_rows};
use crate::ilp_server::{D, KEY_ID, X, Y, untrusted_public_key};

/// A server with TLS (and an ILP/TCP listener) from `b`, with its
/// certificate file and the folder to remove.
struct TlsServer {
    srv: ServerHandle,
    cert: PathBuf,
    dir: PathBuf,
}

impl TlsServer {
    fn start(tag: &str, b: ServerBuilder) -> TlsServer {
        let (cert, key, dir) = crate::support::self_signed_pem(tag);
        let srv = b
            .bind("127.0.0.1:0")
            .ilp_tcp_bind("127.0.0.1:0")
            .tls(&cert, &key)
            .start()
            .unwrap();
        TlsServer { srv, cert, dir }
    }

    /// `scheme::addr=localhost:<port>;tls_roots=<cert>;` plus `extra`, on
    /// the main port (`https`, `wss`) or the ILP/TCP one (`tcps`).
    fn conf(&self, scheme: &str, extra: &str) -> String {
        let port = match scheme {
            "tcps" => self.srv.ilp_tcp_addr().unwrap().port(),
            _ => self.srv.addr().port(),
        };
        conf_for(scheme, port, &self.cert, extra)
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn conf_for(scheme: &str, port: u16, cert: &Path, extra: &str) -> String {
    format!(
        "{scheme}::addr=localhost:{port};tls_roots={};{extra}",
        cert.display()
    )
}

/// Writes the rows of `batch(n)` with the row sender (a null `l` left out
/// of its row) and flushes them in one request.
fn send_rows(db: &QuestDb, table: &str, n: usize) -> questdb_arrow::Result<()> {
    let b = batch(n);
    let mut s = db.borrow_row_sender()?;
    for (i, (l, d, bo, v)) in expected(&b).into_iter().enumerate() {
        let mut row = s.table(table)?;
        if let Some(l) = l {
            row.column_i64("l", l)?;
        }
        row.column_f64("d", d)?.column_bool("b", bo)?;
        if let Some(v) = &v {
            row.column_str("v", v)?;
        }
        row.at(TimestampNanos::new(
            1_700_000_000_000_000_000 + i as i64 * 1_000,
        ))?;
    }
    s.flush().map(drop)
}

/// Writes a batch and then rows over `conf` and reads both back over
/// `query` (wss).
fn round_trip(srv: &ServerHandle, conf: &str, query: &str, tag: &str) {
    let db = QuestDb::connect(conf).unwrap();
    let b = batch(300);
    let table = format!("{tag}_batch");
    db.flush_arrow_batch(&table, &b, Some("ts"), &[], AckLevel::Ok)
        .unwrap();
    wait_rows(srv, &table, 300);
    assert_eq!(read_back(query, &table), expected(&b));
    let table = format!("{tag}_rows");
    send_rows(&db, &table, 40).unwrap();
    wait_rows(srv, &table, 40);
    assert_eq!(read_back(query, &table), expected(&batch(40)));
}

/// One batch over `conf` must fail with `status` named; nothing stored.
fn refused_http(srv: &ServerHandle, conf: &str, status: u16, table: &str) {
    let db = QuestDb::connect(conf).unwrap();
    let err = db
        .flush_arrow_batch(table, &batch(3), Some("ts"), &[], AckLevel::Ok)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert_eq!(err.ilp_server_error().map(|e| e.status), Some(status));
    assert!(err.to_string().contains(&format!("HTTP {status}")), "{err}");
    assert!(srv.table_batch(table).is_none());
}

#[test]
fn https_with_basic_auth_round_trips_and_a_wrong_password_is_401() {
    let s = TlsServer::start("ilptls-basic", Server::builder().basic_auth("u", "pw"));
    let auth = "username=u;password=pw;";
    round_trip(
        &s.srv,
        &s.conf("https", auth),
        &s.conf("wss", auth),
        "https_basic",
    );
    refused_http(
        &s.srv,
        &s.conf("https", "username=u;password=nope;"),
        401,
        "https_basic_refused",
    );
}

#[test]
fn https_with_a_token_round_trips_and_a_wrong_token_is_401() {
    let s = TlsServer::start("ilptls-token", Server::builder().token_auth("tok"));
    round_trip(
        &s.srv,
        &s.conf("https", "token=tok;"),
        &s.conf("wss", "token=tok;"),
        "https_token",
    );
    refused_http(
        &s.srv,
        &s.conf("https", "token=other;"),
        401,
        "https_token_refused",
    );
}

/// The connect-string keys of the test ECDSA key.
fn key_conf() -> String {
    format!("username={KEY_ID};token={D};token_x={X};token_y={Y};")
}

#[test]
fn tcps_with_the_ecdsa_key_round_trips() {
    let s = TlsServer::start("ilptls-tcps", Server::builder().ilp_tcp_auth(KEY_ID, X, Y));
    let key = key_conf();
    round_trip(&s.srv, &s.conf("tcps", &key), &s.conf("wss", ""), "tcps");
}

#[test]
fn tcps_with_a_key_the_server_does_not_trust_fails_a_later_flush() {
    // The server trusts another public key: it checks the signature after
    // the client sent it and closes the connection; TCP has no answer, so
    // the client learns it on a later flush.
    let (x2, y2) = untrusted_public_key();
    let s = TlsServer::start(
        "ilptls-forged",
        Server::builder().ilp_tcp_auth(KEY_ID, x2, y2),
    );
    let key = key_conf();
    let db = QuestDb::connect(&s.conf("tcps", &key)).unwrap();
    let send = || db.flush_arrow_batch("forged", &batch(5), Some("ts"), &[], AckLevel::Ok);
    let err = match send() {
        Err(e) => e,
        Ok(_) => {
            // The first write may beat the server's close: wait until the
            // server has closed the connection, then flush again.
            let end = Instant::now() + Duration::from_secs(10);
            while s.srv.connections_live() > 0 {
                assert!(Instant::now() < end, "the server kept the connection");
                std::thread::sleep(Duration::from_millis(20));
            }
            send().unwrap_err()
        }
    };
    assert_eq!(err.kind(), ErrorKind::Closed, "{err}");
    assert!(err.to_string().contains("closed"), "{err}");
    assert!(s.srv.table_batch("forged").is_none());
}

#[test]
fn https_to_a_server_without_tls_is_a_tls_error() {
    let (cert, _key, dir) = crate::support::self_signed_pem("ilptls-plain");
    let srv = Server::builder().bind("127.0.0.1:0").start().unwrap();
    let conf = conf_for("https", srv.addr().port(), &cert, "");
    let db = QuestDb::connect(&conf).unwrap();
    let err = db
        .flush_arrow_batch("never", &batch(1), Some("ts"), &[], AckLevel::Ok)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    assert!(srv.table_batch("never").is_none());
    let _ = std::fs::remove_dir_all(&dir);
}
