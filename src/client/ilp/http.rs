//! ILP over HTTP/1.1: one keep-alive connection, requests written by hand
//! (heads from [`crate::protocol::ilp::http`]), retries with the crate's
//! one [`Backoff`].
//!
//! Endpoints: requests go to one `addr` at a time. Every attempt that is
//! retried — a failed connect, a lost connection, a timeout, or a status
//! that [fails over](fails_over) (a retriable one, or 421 from a read-only
//! replica) — drops the connection and sends the next attempt to the next
//! `addr`, round and round while `retry_timeout` lasts; the endpoint that
//! answered last is kept for later calls.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use base64::Engine;

use crate::client::connect::Backoff;
use crate::conf::{Conf, ProtocolVersion};
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::ilp::IlpVersion;
use crate::protocol::ilp::http::{
    BodyKind, ChunkedDecoder, IlpServerError, MAX_BODY_BYTES, PING_PATH, ResponseHead,
    SETTINGS_PATH, WRITE_PATH, is_retriable_status, parse_response_head, parse_settings,
    pick_version, write_request_head,
};
use crate::transport::{ConnectOptions, DEFAULT_CLIENT_ID, Stream, open_stream, peek_idle};

/// First pause between retries; it doubles up to [`RETRY_MAX_BACKOFF`]
/// (QuestDB's clients use the same).
const RETRY_FIRST_BACKOFF: Duration = Duration::from_millis(10);
/// Longest pause between retries.
const RETRY_MAX_BACKOFF: Duration = Duration::from_secs(1);

/// One open connection.
struct Conn {
    stream: Stream,
    /// Bytes read past the last response (none with a well-behaved server).
    rbuf: Vec<u8>,
}

/// How one attempt failed.
enum Failed {
    /// Worth another attempt (connection errors, timeouts, retriable
    /// statuses).
    Retry(Error),
    /// Not: the request itself was refused.
    Fatal(Error),
}

type Attempt<T> = std::result::Result<T, Failed>;

/// A complete response.
struct Response {
    head: ResponseHead,
    body: Vec<u8>,
}

/// ILP over HTTP to the endpoints of a connect string.
pub(crate) struct HttpLink {
    conf: Conf,
    /// The endpoint used last (a retried attempt moves to the next).
    endpoint: usize,
    conn: Option<Conn>,
    authorization: Option<String>,
    user_agent: String,
    /// The version in use once known.
    version: Option<IlpVersion>,
    /// Connections opened (the first is not a reconnect).
    pub(crate) connects: u32,
    /// How long failed requests are retried (`retry_timeout`).
    budget: Duration,
}

impl HttpLink {
    /// A link for `conf`; it connects on first use.
    pub(crate) fn new(conf: &Conf) -> HttpLink {
        let authorization = match (conf.token(), conf.username()) {
            (Some(t), _) => Some(format!("Bearer {t}")),
            (None, Some(u)) => {
                let pair = format!("{u}:{}", conf.password().unwrap_or_default());
                Some(format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                ))
            }
            _ => None,
        };
        let version = match conf.protocol_version() {
            ProtocolVersion::Auto => None,
            ProtocolVersion::V1 => Some(IlpVersion::V1),
            ProtocolVersion::V2 => Some(IlpVersion::V2),
            ProtocolVersion::V3 => Some(IlpVersion::V3),
        };
        HttpLink {
            conf: conf.clone(),
            endpoint: 0,
            conn: None,
            authorization,
            user_agent: conf.client_id().unwrap_or(DEFAULT_CLIENT_ID).to_owned(),
            version,
            connects: 0,
            budget: conf.retry_timeout(),
        }
    }

    /// The link without retries.
    pub(crate) fn once(mut self) -> HttpLink {
        self.budget = Duration::ZERO;
        self
    }

    fn opts(&self) -> ConnectOptions {
        let mut o = ConnectOptions::from_conf(&self.conf, &self.conf.addrs()[self.endpoint]);
        o.auth_timeout = self.conf.request_timeout();
        o
    }

    /// The protocol version: the one configured, or (`auto`) the highest
    /// both sides speak, read from `GET /settings` when the first
    /// connection opens (a 404 means version 1), with the retries of a
    /// request.
    pub(crate) fn version(&mut self) -> Result<IlpVersion> {
        if let Some(v) = self.version {
            return Ok(v);
        }
        let v = self.with_retries("GET /settings", |s| s.settings())?;
        self.version = Some(v);
        Ok(v)
    }

    fn settings(&mut self) -> Attempt<IlpVersion> {
        let r = self.exchange("GET", SETTINGS_PATH, None)?;
        match r.head.status {
            404 => Ok(IlpVersion::V1),
            200..=299 => parse_settings(&r.body)
                .and_then(|v| pick_version(v.as_deref()))
                .map_err(Failed::Fatal),
            _ => Err(self.refused(r, "GET /settings")),
        }
    }

    /// Posts `body` (ILP lines) to `/write`; returns when the server
    /// answered 2xx (204: stored). Retried on connection errors, timeouts
    /// and retriable statuses until `retry_timeout` is spent.
    pub(crate) fn post(&mut self, body: &[u8]) -> Result<()> {
        let what = format!("POST {WRITE_PATH} ({} bytes)", body.len());
        self.with_retries(&what, |s| {
            let r = s.exchange("POST", WRITE_PATH, Some(body))?;
            if (200..300).contains(&r.head.status) {
                Ok(())
            } else {
                Err(s.refused(r, &what))
            }
        })
    }

    /// `GET /ping`: `Ok` when the server answers 2xx (QuestDB: 204).
    pub(crate) fn ping(&mut self) -> Result<()> {
        self.with_retries("GET /ping", |s| {
            let r = s.exchange("GET", PING_PATH, None)?;
            if (200..300).contains(&r.head.status) {
                Ok(())
            } else {
                Err(s.refused(r, "GET /ping"))
            }
        })
    }

    /// The error of a non-2xx response: retried, on the next endpoint,
    /// when its status [fails over](fails_over).
    fn refused(&self, r: Response, what: &str) -> Failed {
        let status = r.head.status;
        let e = Error::ilp_http(
            IlpServerError::parse(status, &r.head.reason, &r.body),
            format!("{what} to {}", self.conf.addrs()[self.endpoint]),
        );
        if fails_over(status) {
            Failed::Retry(e)
        } else {
            Failed::Fatal(e)
        }
    }

    /// Runs `attempt` until it succeeds, fails for good, or
    /// `retry_timeout` is spent (`0`: one attempt). A failed attempt worth
    /// retrying drops the connection, and the next attempt (of this call or
    /// a later one) goes to the next `addr`.
    fn with_retries<T>(
        &mut self,
        what: &str,
        mut attempt: impl FnMut(&mut Self) -> Attempt<T>,
    ) -> Result<T> {
        let budget = self.budget;
        let mut backoff = Backoff::with(
            RETRY_FIRST_BACKOFF,
            RETRY_MAX_BACKOFF,
            Some(Instant::now() + budget),
        );
        let mut tries = 0u32;
        loop {
            tries += 1;
            let e = match attempt(self) {
                Ok(v) => return Ok(v),
                Err(Failed::Fatal(e)) => return Err(e),
                Err(Failed::Retry(e)) => e,
            };
            self.conn = None;
            self.endpoint = (self.endpoint + 1) % self.conf.addrs().len();
            if budget.is_zero() {
                return Err(e.context(format!("{what} (retry_timeout=0: not retried)")));
            }
            if !backoff.pause() {
                return Err(e.context(format!(
                    "{what}: {tries} attempts, retry_timeout of {budget:?} spent"
                )));
            }
        }
    }

    /// The open connection, or a new one to the current endpoint. A
    /// kept-alive connection the server closed meanwhile is replaced
    /// first, so it costs no retry.
    fn conn(&mut self) -> Attempt<&mut Conn> {
        if let Some(c) = &self.conn
            && peek_idle(c.stream.tcp()).is_none()
        {
            self.conn = None;
        }
        if self.conn.is_none() {
            let opts = self.opts();
            match open_stream(&opts) {
                Ok(stream) => {
                    self.connects += 1;
                    self.conn = Some(Conn {
                        stream,
                        rbuf: Vec::new(),
                    });
                }
                Err(e) => {
                    return Err(match e.kind() {
                        ErrorKind::Config | ErrorKind::Tls => Failed::Fatal(e),
                        _ => Failed::Retry(e),
                    });
                }
            }
        }
        match self.conn.as_mut() {
            Some(c) => Ok(c),
            None => Err(Failed::Fatal(Error::new(
                ErrorKind::Internal,
                "ILP/HTTP connection missing after connect",
            ))),
        }
    }

    /// Sends one request and reads its response, within
    /// `request_timeout + body / request_min_throughput`. Any failure
    /// drops the connection.
    fn exchange(&mut self, method: &str, path: &str, body: Option<&[u8]>) -> Attempt<Response> {
        let timeout = self.conf.request_timeout_for(body.map_or(0, <[u8]>::len));
        let deadline = Instant::now() + timeout;
        let addr = self.conf.addrs()[self.endpoint].to_string();
        let mut head = Vec::with_capacity(256);
        write_request_head(
            &mut head,
            method,
            path,
            &addr,
            self.authorization.as_deref(),
            &self.user_agent,
            body.map(<[u8]>::len),
        );
        let what = format!("{method} {path} to {addr}");
        let conn = self.conn()?;
        let res = send_and_read(conn, &head, body, deadline, timeout, &what);
        match res {
            Ok(r) => {
                if !r.head.keep_alive {
                    self.conn = None;
                }
                Ok(r)
            }
            Err(e) => {
                self.conn = None;
                Err(match e.kind() {
                    ErrorKind::Protocol => Failed::Fatal(e),
                    _ => Failed::Retry(e),
                })
            }
        }
    }

    /// Whether the link can serve another call (always: a lost connection
    /// is reopened by the next request).
    pub(crate) fn reusable(&self) -> bool {
        true
    }
}

/// Whether a response with this status is retried on the next endpoint:
/// QuestDB's retriable statuses ([`is_retriable_status`]) and 421, which a
/// read-only replica (or a primary still catching up) answers a write
/// with: another endpoint may be the primary, and this one may become it.
fn fails_over(status: u16) -> bool {
    status == 421 || is_retriable_status(status)
}

fn io_error(what: &str, e: std::io::Error, timeout: Duration) -> Error {
    match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => Error::new(
            ErrorKind::Timeout,
            format!(
                "{what}: no complete answer within {timeout:?} (request_timeout + body bytes / request_min_throughput)"
            ),
        ),
        _ => Error::new(ErrorKind::Io, what.to_owned()).with_source(e),
    }
}

/// Sets the socket's timeouts to what is left before `deadline`.
fn arm(conn: &Conn, deadline: Instant, what: &str, timeout: Duration) -> Result<()> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(io_error(what, std::io::ErrorKind::TimedOut.into(), timeout));
    }
    let tcp = conn.stream.tcp();
    tcp.set_read_timeout(Some(left))
        .and_then(|()| tcp.set_write_timeout(Some(left)))
        .map_err(|e| Error::new(ErrorKind::Io, what.to_owned()).with_source(e))
}

fn send_and_read(
    conn: &mut Conn,
    head: &[u8],
    body: Option<&[u8]>,
    deadline: Instant,
    timeout: Duration,
    what: &str,
) -> Result<Response> {
    // Written in slices so a slow reader meets the deadline, not a
    // single write's timeout.
    for part in std::iter::once(head).chain(body) {
        for piece in part.chunks(64 * 1024) {
            arm(conn, deadline, what, timeout)?;
            conn.stream
                .write_all(piece)
                .map_err(|e| io_error(what, e, timeout))?;
        }
    }
    arm(conn, deadline, what, timeout)?;
    conn.stream
        .flush()
        .map_err(|e| io_error(what, e, timeout))?;
    read_response(conn, deadline, timeout, what)
}

/// Reads more bytes into `conn.rbuf`; an error at end of stream.
fn fill(conn: &mut Conn, deadline: Instant, timeout: Duration, what: &str) -> Result<()> {
    arm(conn, deadline, what, timeout)?;
    let mut chunk = [0u8; 16 * 1024];
    let n = conn
        .stream
        .read(&mut chunk)
        .map_err(|e| io_error(what, e, timeout))?;
    if n == 0 {
        return Err(Error::new(
            ErrorKind::Closed,
            format!("{what}: the server closed the connection before answering"),
        ));
    }
    conn.rbuf.extend_from_slice(&chunk[..n]);
    Ok(())
}

fn too_big(what: &str) -> Error {
    Error::new(
        ErrorKind::Protocol,
        format!("{what}: response body larger than {MAX_BODY_BYTES} bytes"),
    )
}

fn read_response(
    conn: &mut Conn,
    deadline: Instant,
    timeout: Duration,
    what: &str,
) -> Result<Response> {
    let head = loop {
        match parse_response_head(&conn.rbuf).map_err(|e| e.context(what))? {
            Some(h) if (100..200).contains(&h.status) => {
                conn.rbuf.drain(..h.head_len);
            }
            Some(h) => break h,
            None => fill(conn, deadline, timeout, what)?,
        }
    };
    conn.rbuf.drain(..head.head_len);
    let mut body = Vec::new();
    match head.body {
        BodyKind::Empty => {}
        BodyKind::Length(n) if n > MAX_BODY_BYTES => return Err(too_big(what)),
        BodyKind::Length(n) => {
            while conn.rbuf.len() < n {
                fill(conn, deadline, timeout, what)?;
            }
            body = conn.rbuf.drain(..n).collect();
        }
        BodyKind::Chunked => {
            let mut dec = ChunkedDecoder::default();
            loop {
                let used = dec
                    .feed(&conn.rbuf, &mut body)
                    .map_err(|e| e.context(what))?;
                conn.rbuf.drain(..used);
                if body.len() > MAX_BODY_BYTES {
                    return Err(too_big(what));
                }
                if dec.is_done() {
                    break;
                }
                fill(conn, deadline, timeout, what)?;
            }
        }
        BodyKind::UntilClose => loop {
            body.append(&mut conn.rbuf);
            if body.len() > MAX_BODY_BYTES {
                return Err(too_big(what));
            }
            match fill(conn, deadline, timeout, what) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::Closed => break,
                Err(e) => return Err(e),
            }
        },
    }
    Ok(Response { head, body })
}
