//! The front door: every connection starts here. It reads the request
//! head itself (bounded by [`super::HANDSHAKE_TIMEOUT`] and
//! [`MAX_HEAD_BYTES`](super::http_wire::MAX_HEAD_BYTES)) and routes:
//!
//! - a WebSocket upgrade → [`super::upgrade`] (QWP ingest and egress);
//! - `POST /write`, `POST /api/v2/write` → ILP ingest ([`super::ilp`]):
//!   204 on success, 400 with QuestDB's JSON error (`code`, `message`,
//!   `line`, `errorId`) and nothing committed on a bad line;
//! - `GET /ping` → 204 with `X-Influxdb-Version`;
//! - `GET /settings` → the ILP versions served (what `protocol_version=auto`
//!   clients read);
//! - anything else → 404 JSON.
//!
//! `/ping` and `/settings` need no credentials (they tell nothing about
//! the data); writes need the server's auth, like the upgrade.
//!
//! Plain HTTP requests share one connection (HTTP/1.1 keep-alive); a
//! connection waits at most the idle timeout for its next request.

use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::http_wire::{
    BodyError, Framing, Head, HeadError, ReadAppend, Reply, fill, framing, json_str, read_body,
    read_head,
};
use super::ilp::{self, Precision};
use super::upgrade::{self, check_auth, role_reject};
use super::{Shared, stream::ServerStream};
use crate::error::{Error, ErrorKind, Result};

/// Default for [`super::ServerBuilder::max_http_body`]: 100 MiB.
pub const DEFAULT_MAX_HTTP_BODY: usize = 100 * 1024 * 1024;

/// The `X-Influxdb-Version` QuestDB answers `/ping` with.
const INFLUX_VERSION: &str = "v2.7.4";

/// Longest wait between the reads of a keep-alive connection waiting for
/// its next request (to notice the server stopping).
const POLL: Duration = Duration::from_millis(250);

/// Bytes of an over-cap body read and dropped after the 413, so the
/// client (still sending) gets to read the answer.
const DRAIN_AFTER_413: usize = 16 * 1024 * 1024;

/// Serves one connection: requests until it closes or upgrades.
pub(super) fn serve(
    mut stream: ServerStream,
    shared: &Arc<Shared>,
    n: usize,
    over_limit: bool,
) -> Result<()> {
    let mut buf: Vec<u8> = Vec::new();
    let mut first = true;
    loop {
        if !first {
            if !wait_for_request(&mut stream, &mut buf, shared)? {
                return Ok(());
            }
            stream.deadline = Some(Instant::now() + shared.handshake_timeout());
        }
        first = false;
        let head = match read_head(&mut stream, &mut buf) {
            Ok(h) => h,
            Err(HeadError::Closed) => return Ok(()),
            Err(HeadError::TooLarge) => {
                let _ = Reply::text(431, "request head too large")
                    .closing()
                    .write_to(&mut stream);
                return Err(handshake("request head too large"));
            }
            Err(HeadError::Malformed(why)) => {
                let _ = Reply::text(400, &why).closing().write_to(&mut stream);
                return Err(handshake(&why));
            }
            Err(HeadError::Io(e)) => return Err(Error::new(ErrorKind::Handshake, e.to_string())),
        };
        if over_limit {
            let _ = Reply::text(
                503,
                &format!(
                    "the server is at its connection limit (max_connections = {})",
                    shared.cfg.max_connections
                ),
            )
            .closing()
            .write_to(&mut stream);
            return Err(handshake("over the connection limit"));
        }
        if upgrade::is_upgrade(&head) {
            return upgrade::serve(stream, buf, &head, shared, n);
        }
        // The head is in: the body may take longer than the handshake
        // deadline, each read bounded by the idle timeout.
        stream.deadline = None;
        stream.tcp().set_read_timeout(Some(
            shared.idle_timeout().unwrap_or(Duration::from_secs(300)),
        ))?;
        let reply = respond(&mut stream, &mut buf, &head, shared);
        let close = reply.close || !head.keep_alive();
        let reply = if close { reply.closing() } else { reply };
        reply.write_to(&mut stream)?;
        if reply.status == 413 {
            drain(&mut stream);
        }
        if close {
            return Ok(());
        }
    }
}

fn handshake(why: &str) -> Error {
    Error::new(ErrorKind::Handshake, why.to_string())
}

/// Waits (up to the idle timeout) for the first byte of the next request;
/// `false` when the connection ended or idled out, or the server stops.
fn wait_for_request(stream: &mut ServerStream, buf: &mut Vec<u8>, shared: &Shared) -> Result<bool> {
    if !buf.is_empty() {
        return Ok(true);
    }
    stream.deadline = None;
    let since = Instant::now();
    let mut byte = [0u8; 4096];
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            return Ok(false);
        }
        if shared.idle_timeout().is_some_and(|d| since.elapsed() >= d) {
            return Ok(false);
        }
        stream.tcp().set_read_timeout(Some(POLL))?;
        match stream.read(&mut byte) {
            Ok(0) => return Ok(false),
            Ok(k) => {
                buf.extend_from_slice(&byte[..k]);
                return Ok(true);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return Ok(false),
        }
    }
}

/// A JSON error in QuestDB's shape.
fn json_error(status: u16, code: &str, message: &str, line: Option<usize>) -> Reply {
    let mut body = format!(
        "{{\"code\":{},\"message\":{}",
        json_str(code),
        json_str(message)
    );
    if let Some(l) = line {
        body.push_str(&format!(",\"line\":{l}"));
    }
    body.push_str(&format!(",\"errorId\":{}}}", json_str(&error_id())));
    Reply::json(status, body)
}

/// A unique id for an error reply (QuestDB's `errorId`): this process's
/// random prefix and a counter.
fn error_id() -> String {
    static PREFIX: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let prefix = PREFIX.get_or_init(|| rand::random::<u64>() & 0xffff_ffff_ffff);
    format!("{prefix:012x}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The `/settings` body: the ILP versions this server parses and the
/// longest table or column name.
fn settings_body() -> String {
    format!(
        "{{\"config\":{{\"release.type\":\"OSS\",\"release.version\":{},\
\"line.proto.support.versions\":[1,2,3],\"ilp.proto.transports\":[\"tcp\",\"http\"],\
\"cairo.max.file.name.length\":{}}},\"preferences.version\":0,\"preferences\":{{}}}}",
        json_str(concat!("questdb-arrow ", env!("CARGO_PKG_VERSION"))),
        crate::protocol::MAX_NAME_BYTES
    )
}

/// Answers one plain HTTP request (its body is read here).
fn respond(stream: &mut ServerStream, buf: &mut Vec<u8>, head: &Head, shared: &Shared) -> Reply {
    let method = head.method.as_str();
    let is_write = method == "POST" && matches!(head.path.as_str(), "/write" | "/api/v2/write");
    let has_body = head.get("transfer-encoding").is_some()
        || head.get("content-length").is_some_and(|v| v.trim() != "0");
    if !is_write && has_body {
        // Only writes read a body: close rather than take this one's
        // bytes for the next request.
        return respond_to(stream, buf, head, shared).closing();
    }
    respond_to(stream, buf, head, shared)
}

fn respond_to(stream: &mut ServerStream, buf: &mut Vec<u8>, head: &Head, shared: &Shared) -> Reply {
    let method = head.method.as_str();
    match head.path.as_str() {
        "/ping" if method == "GET" || method == "HEAD" => {
            Reply::empty(204).header("X-Influxdb-Version", INFLUX_VERSION)
        }
        "/settings" if method == "GET" => Reply::json(200, settings_body()),
        "/write" | "/api/v2/write" if method == "POST" => write(stream, buf, head, shared),
        "/ping" | "/settings" | "/write" | "/api/v2/write" => json_error(
            405,
            "method not allowed",
            &format!("{method} is not allowed on {}", head.path),
            None,
        )
        .closing(),
        other => json_error(404, "not found", &format!("no endpoint at {other}"), None).closing(),
    }
}

/// `POST /write`: checks, reads the body, parses it and commits.
fn write(stream: &mut ServerStream, buf: &mut Vec<u8>, head: &Head, shared: &Shared) -> Reply {
    let cfg = &shared.cfg;
    // Refusals before the body is read close the connection: the unread
    // body would be taken for the next request.
    if let Err(r) = check_auth(&cfg.auth, head) {
        let msg = String::from_utf8_lossy(&r.body).into_owned();
        return json_error(r.status, "unauthorized", &msg, None).closing();
    }
    let read_only = match (&cfg.faults.reject_role, shared.read_only()) {
        (Some((role, zone)), _) => Some((role.clone(), zone.clone())),
        (None, Some(role)) => Some((role.name().to_string(), cfg.zone.clone())),
        (None, None) => None,
    };
    if let Some((role, zone)) = read_only {
        let body = json_error(
            421,
            "misdirected request",
            &format!("this server is a {role} and takes no writes"),
            None,
        );
        return role_reject(&role, zone.as_deref(), body).closing();
    }
    let precision = match head.param("precision").map(Precision::parse) {
        None => Precision::Nanos,
        Some(Some(p)) => p,
        Some(None) => {
            return json_error(
                400,
                "invalid",
                &format!(
                    "unsupported precision {:?} (use n, ns, u, us, ms or s)",
                    head.param("precision").unwrap_or("")
                ),
                None,
            )
            .closing();
        }
    };
    if head.has_token("expect", "100-continue") {
        let announced = head
            .get("content-length")
            .and_then(|v| v.trim().parse::<u64>().ok());
        if announced.is_some_and(|l| l > cfg.max_http_body as u64) {
            return too_large(announced, cfg.max_http_body);
        }
        if let Err(e) = Reply::empty(100).write_to(stream) {
            return json_error(400, "invalid", &format!("write failed: {e}"), None).closing();
        }
    }
    let read = match framing(head, cfg.max_http_body) {
        Ok(Framing::Length(len)) => ingest_as_read(stream, buf, len, shared, precision),
        Ok(Framing::Chunked) => read_body(stream, buf, head, cfg.max_http_body).map(|body| {
            let res = ilp::ingest(shared, &body, precision);
            if buf.is_empty() {
                // The body's buffer reads the connection's next request.
                *buf = body;
                buf.clear();
            }
            res
        }),
        Err(e) => Err(e),
    };
    let res = match read {
        Ok(res) => res,
        Err(BodyError::TooLarge(len)) => return too_large(len, cfg.max_http_body),
        Err(BodyError::Malformed(why)) => return json_error(400, "invalid", &why, None).closing(),
        Err(BodyError::Io(e)) => {
            return json_error(400, "invalid", &format!("reading the body: {e}"), None).closing();
        }
    };
    match res {
        Ok(()) => Reply::empty(204),
        Err(f) if f.internal => json_error(500, "internal error", &f.message, f.line),
        Err(f) => json_error(
            400,
            "invalid",
            &format!("failed to parse line protocol: {}", f.message),
            f.line,
        ),
    }
}

/// Bytes read from the socket before the lines that came are parsed
/// (doubled while one line spans all of them).
const PARSE_STEP: usize = 256 * 1024;

/// Reads an ILP body of `len` bytes and parses its lines as they come
/// (a piece of at least [`PARSE_STEP`] bytes at a time), then commits
/// them: the server parses while the client is still sending, instead of
/// waiting for the whole body first (on a 15 MB body over loopback, the
/// reading took a fifth of the request's time). Nothing is committed
/// unless every line is good; the whole body is read either way, so the
/// answer comes after it. `buf` holds what was read past the head, and
/// keeps what follows the body; it keeps the body's room for the next
/// request (a keep-alive connection keeps the room of its largest body,
/// at most `max_http_body`).
fn ingest_as_read<S: ReadAppend>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    len: usize,
    shared: &Shared,
    precision: Precision,
) -> std::result::Result<std::result::Result<(), ilp::IlpFailure>, BodyError> {
    // All the room at once (address space: a page costs memory only once
    // a byte arrives in it), so that the body is not moved while read and
    // the places of names stay valid from piece to piece. If the room
    // cannot be had, the buffer grows as bytes come, and a move makes the
    // parser forget the places.
    let _ = buf.try_reserve(len.saturating_sub(buf.len()));
    let mut lines = ilp::BodyWrites::new(&shared.catalog, precision, ilp::now_micros(), len);
    let (mut taken, mut step) = (0, PARSE_STEP);
    let mut failed = None;
    loop {
        let have = buf.len().min(len);
        let end = have == len;
        if failed.is_none() {
            match lines.feed(&buf[taken..have], end) {
                Ok(0) if !end && have > taken => step = step.saturating_mul(2),
                Ok(n) => taken += n,
                Err(f) => failed = Some(f),
            }
        }
        if end {
            break;
        }
        let at = buf.as_ptr();
        fill(stream, buf, (have + step).min(len))?;
        if buf.as_ptr() != at {
            lines.forget_places();
        }
    }
    buf.drain(..len);
    Ok(match failed {
        Some(f) => Err(f),
        None => lines.finish().and_then(|w| ilp::commit(shared, w)),
    })
}

fn too_large(len: Option<u64>, cap: usize) -> Reply {
    let what = len.map_or("the chunked body".to_string(), |l| format!("{l} bytes"));
    json_error(
        413,
        "request too large",
        &format!("{what} exceed the body limit of {cap} bytes (max_http_body)"),
        None,
    )
    .closing()
}

/// After a 413: stops writing and reads (and drops) a bounded amount of
/// what the client still sends, so it can read the reply before the
/// socket closes.
fn drain(stream: &mut ServerStream) {
    let _ = stream.tcp().shutdown(std::net::Shutdown::Write);
    let _ = stream
        .tcp()
        .set_read_timeout(Some(Duration::from_millis(500)));
    let mut sink = vec![0u8; 64 * 1024];
    let mut left = DRAIN_AFTER_413;
    while left > 0 {
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(k) => left = left.saturating_sub(k),
        }
    }
}
