//! The query endpoint: SERVER_INFO, then QUERY_REQUESTs answered with
//! RESULT_BATCH streams (byte credit, cancel, zstd, the connection symbol
//! dictionary) or EXEC_DONE / QUERY_ERROR.
//!
//! A result set is computed by a task on the server's runtime (see
//! [`RunningQuery`]) while this connection's thread keeps reading the
//! socket: CANCEL stops the computation and is answered with QUERY_ERROR
//! CANCELLED within milliseconds, and a client that goes away stops it too.
//! A query running longer than its time limit (the server's
//! `query_timeout`, or the request's `timeout_ms` under
//! `QUERY_FLAG_TIMEOUT`, whichever is shorter; 0 means none) is stopped
//! and answered with QUERY_ERROR LIMIT_EXCEEDED.
//!
//! Result column names never carry control characters: each character
//! below 0x20 or 0x7F is replaced by `_` (such names break clients'
//! Arrow conversions), then the name is clipped to 127 bytes.
//!
//! Like `/write/v4`, a client frame above the receive buffer is answered
//! with close 1009 and a text frame with close 1003; then the connection
//! ends.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arrow::array::RecordBatch;
use tungstenite::Message;
use tungstenite::protocol::frame::coding::CloseCode;

use super::ingest::close_and_drain;
use super::result_frames::{Cut, Failed, Frames};
use super::sql::{Next, Outcome, execute};
use super::storage::Reject;
use super::{Shared, Upgrade, Ws, read_ready, ws_err};
use crate::bridge::column_data::SymbolDict as Dict;
use crate::bridge::types::{QwpType, qwp_type_of};
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::column::{Layout, TsEncoding};
use crate::protocol::egress::{
    CAP_QUERY_FLAGS, CAP_ZONE, ClientMessage, QUERY_FLAG_RESET_DICT, QUERY_FLAG_TIMEOUT,
    QueryRequest, RESET_MASK_DICT, ServerControl, ServerInfo,
};
use crate::protocol::{MAX_NAME_BYTES, Status};

struct Conn<'a> {
    ws: Ws,
    shared: &'a Shared,
    up: &'a Upgrade,
    dict: Dict,
    reset_pending: bool,
    /// How result bodies are laid out (the timestamp encoding, see
    /// [`result_layout`]).
    layout: Layout,
    /// When the socket was last looked at for CANCEL / CREDIT while a
    /// result was being sent (see [`POLL_EVERY`]).
    polled: Instant,
}

/// The layout of this connection's result bodies: FLAG_GORILLA always set,
/// TIMESTAMP-like columns encoded as the server was built to
/// ([`ServerBuilder::result_timestamps`](super::ServerBuilder::result_timestamps)),
/// by default Gorilla only for a regular cadence to a client on this host
/// that did not ask for zstd (over loopback the bytes Gorilla saves on
/// jittered timestamps cost both sides more CPU than sending them) and
/// Gorilla where it is smaller to any other client (a client asking for
/// zstd wants fewer bytes, and zstd costs more per raw timestamp than
/// Gorilla).
fn result_layout(shared: &Shared, ws: &Ws, up: &Upgrade) -> Layout {
    let loopback = ws
        .get_ref()
        .tcp()
        .peer_addr()
        .is_ok_and(|a| a.ip().to_canonical().is_loopback());
    let cheap = loopback && up.zstd_level.is_none();
    let ts_encoding = shared.cfg.result_timestamps.unwrap_or(if cheap {
        TsEncoding::Cadence
    } else {
        TsEncoding::Auto
    });
    Layout {
        ts_encoding,
        ..Layout::EGRESS
    }
}

/// How long the connection thread waits for the query's next batch before
/// it looks at the socket again.
const BATCH_WAIT: Duration = Duration::from_millis(20);
/// How long it then waits for a client message: not at all (a socket read
/// timeout is rounded up to the kernel's tick, several milliseconds, which
/// would cap the result rate; see [`Conn::read`]).
const SOCKET_WAIT: Duration = Duration::ZERO;
/// Between frames the socket is looked at for CANCEL / CREDIT at most this
/// often (a look is three system calls and a read into tungstenite's
/// buffer; at 10 000 rows a frame a plain scan sends a frame every ~0.2
/// ms). CANCEL is still answered within milliseconds, and credit running
/// out is waited for by reading the socket at once.
const POLL_EVERY: Duration = Duration::from_millis(1);

enum Poll {
    Nothing,
    Cancel,
}

/// Why a query stops before its end.
enum Stop {
    Cancelled,
    TimedOut(Duration),
}

/// A result column name as sent: control characters replaced by `_`,
/// clipped to 127 bytes.
fn result_name(s: &str) -> String {
    let s: String = s
        .chars()
        .map(|c| {
            if c < '\u{20}' || c == '\u{7f}' {
                '_'
            } else {
                c
            }
        })
        .collect();
    let mut end = s.len().min(MAX_NAME_BYTES);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

impl Conn<'_> {
    fn send(&mut self, frame: Vec<u8>) -> Result<()> {
        self.ws.send(Message::Binary(frame.into())).map_err(ws_err)
    }

    fn error(&mut self, request_id: i64, r: Reject) -> Result<()> {
        self.send(
            ServerControl::QueryError {
                request_id,
                status: r.status,
                message: r.message,
            }
            .to_frame(),
        )
    }

    /// Reads one client message, waiting at most `wait`; a zero `wait`
    /// only takes what already arrived (a non-blocking read: the socket's
    /// read timeout cannot be shorter than a kernel tick).
    fn read(&mut self, wait: Duration) -> Result<Option<ClientMessage>> {
        let got = if wait.is_zero() {
            read_ready(&mut self.ws)
        } else {
            self.ws.get_ref().tcp().set_read_timeout(Some(wait))?;
            self.ws.read()
        };
        match got {
            Ok(Message::Binary(b)) => match ClientMessage::decode(&b, true) {
                Ok(m) => Ok(Some(m)),
                Err(e) => {
                    let _ = self.error(-1, Reject::new(Status::ParseError, e.to_string()));
                    let _ = self.ws.close(None);
                    let _ = self.ws.flush();
                    Err(Error::new(ErrorKind::Closed, "malformed client message"))
                }
            },
            Ok(Message::Close(_)) => Err(Error::new(ErrorKind::Closed, "client closed")),
            Ok(Message::Text(_)) => {
                close_and_drain(
                    &mut self.ws,
                    CloseCode::Unsupported,
                    "QWP frames are binary",
                );
                Err(Error::new(
                    ErrorKind::Closed,
                    "text frame; closed with 1003",
                ))
            }
            Ok(_) => Ok(None),
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                match self.shared.close_if_idle(&mut self.ws) {
                    Some(idle) => Err(idle),
                    None => Ok(None),
                }
            }
            Err(tungstenite::Error::Capacity(e)) => {
                close_and_drain(
                    &mut self.ws,
                    CloseCode::Size,
                    &format!("frame larger than the receive buffer: {e}"),
                );
                Err(Error::new(
                    ErrorKind::Closed,
                    "oversized frame; closed with 1009",
                ))
            }
            Err(e) => Err(ws_err(e)),
        }
    }

    /// Between batches: the server stopping (an error), the time limit,
    /// and CANCEL / CREDIT from the client (waiting at most `wait`; with
    /// no wait, the socket is looked at only if [`POLL_EVERY`] has passed
    /// since the last look).
    fn watch(
        &mut self,
        id: i64,
        credit: &mut Option<i64>,
        deadline: Option<(Instant, Duration)>,
        wait: Duration,
    ) -> Result<Option<Stop>> {
        if self.shared.stop.load(Ordering::SeqCst) {
            return Err(Error::new(ErrorKind::Closed, "server stopping"));
        }
        let now = Instant::now();
        if let Some((at, limit)) = deadline
            && now >= at
        {
            return Ok(Some(Stop::TimedOut(limit)));
        }
        if wait.is_zero() && now.duration_since(self.polled) < POLL_EVERY {
            return Ok(None);
        }
        self.polled = now;
        Ok(match self.poll(id, credit, wait)? {
            Poll::Cancel => Some(Stop::Cancelled),
            Poll::Nothing => None,
        })
    }

    /// Answers a query stopped early.
    fn stopped(&mut self, id: i64, why: Stop) -> Result<()> {
        match why {
            Stop::Cancelled => self.cancelled(id),
            Stop::TimedOut(limit) => self.error(
                id,
                Reject::new(
                    Status::LimitExceeded,
                    format!(
                        "query {id} timed out: it ran longer than its limit of {} ms",
                        limit.as_millis()
                    ),
                ),
            ),
        }
    }

    /// The time limit of `q`: the shorter of the server's and the request's.
    fn time_limit(&self, q: &QueryRequest) -> Option<Duration> {
        let asked = q
            .timeout_ms
            .filter(|_| q.query_flags.unwrap_or(0) & QUERY_FLAG_TIMEOUT != 0)
            .filter(|&ms| ms > 0)
            .map(Duration::from_millis);
        match (self.shared.cfg.query_timeout, asked) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Handles CREDIT/CANCEL for `id` that arrived meanwhile.
    fn poll(&mut self, id: i64, credit: &mut Option<i64>, wait: Duration) -> Result<Poll> {
        match self.read(wait)? {
            Some(ClientMessage::Cancel { request_id }) if request_id == id => Ok(Poll::Cancel),
            Some(ClientMessage::Credit {
                request_id,
                additional_bytes,
            }) if request_id == id => {
                if let Some(c) = credit {
                    *c = c.saturating_add(additional_bytes.min(i64::MAX as u64) as i64);
                }
                Ok(Poll::Nothing)
            }
            Some(ClientMessage::Query(q)) => {
                // One query at a time per connection.
                self.error(
                    q.request_id,
                    Reject::new(
                        Status::LimitExceeded,
                        format!("request {id} is still running on this connection"),
                    ),
                )?;
                Ok(Poll::Nothing)
            }
            _ => Ok(Poll::Nothing),
        }
    }

    fn run(&mut self, q: QueryRequest) -> Result<()> {
        let id = q.request_id;
        let deadline = self.time_limit(&q).map(|l| (Instant::now() + l, l));
        if q.query_flags.unwrap_or(0) & QUERY_FLAG_RESET_DICT != 0
            || self.dict.len() > self.shared.cfg.dict_cap_entries
            || self.dict.bytes() > self.shared.cfg.dict_cap_bytes
        {
            self.dict.clear();
            self.reset_pending = true;
        }
        let outcome = match execute(self.shared, &q.sql, &q.binds) {
            Ok(o) => o,
            Err(r) => return self.error(id, r),
        };
        let source = match outcome {
            Outcome::Done(rows) => {
                return self.send(
                    ServerControl::ExecDone {
                        request_id: id,
                        op_type: 0,
                        rows_affected: rows,
                    }
                    .to_frame(),
                );
            }
            Outcome::Rows(s) => s,
        };
        // Planning is not interruptible; it may have used up the time.
        if let Some((at, limit)) = deadline
            && Instant::now() >= at
        {
            return self.stopped(id, Stop::TimedOut(limit));
        }
        let schema = source.schema();
        let mut types: Vec<QwpType> = Vec::new();
        let mut names: Vec<String> = Vec::new();
        for f in schema.fields() {
            match qwp_type_of(f) {
                Ok(t) => {
                    types.push(t);
                    names.push(result_name(f.name()));
                }
                Err(e) => {
                    return self.error(id, Reject::new(Status::InternalError, e.to_string()));
                }
            }
        }
        if self.reset_pending {
            self.send(
                ServerControl::CacheReset {
                    mask: RESET_MASK_DICT,
                }
                .to_frame(),
            )?;
            self.reset_pending = false;
        }
        let mut credit: Option<i64> = (q.initial_credit > 0).then_some(q.initial_credit as i64);
        let max_rows = self
            .up
            .max_batch_rows
            .unwrap_or(self.shared.cfg.max_batch_rows)
            .min(self.shared.cfg.max_batch_rows);
        let mut frames = match Frames::new(names, types, self.layout, self.up.zstd_level) {
            Ok(f) => f,
            Err(e) => return self.error(id, Reject::new(Status::InternalError, e.to_string())),
        };
        let mut seq: u64 = 0;
        let mut total: u64 = 0;
        // The source's batches cut into frames of at most `max_rows`,
        // slices of them where they are large enough (see `Cut`).
        let mut cut = Cut::new(schema.clone(), max_rows);
        let mut done = false;
        // Dropping it (on every return) stops DataFusion.
        let mut running = source.start(self.shared);
        while !done {
            let next = loop {
                match running.next(BATCH_WAIT) {
                    Next::Pending => {}
                    other => break other,
                }
                if let Some(why) = self.watch(id, &mut credit, deadline, SOCKET_WAIT)? {
                    drop(running);
                    return self.stopped(id, why);
                }
            };
            match next {
                Next::End | Next::Pending => done = true,
                Next::Batch(b) => cut.push(b),
                Next::Failed(r) => return self.error(id, r),
            }
            let mut sent_now = false;
            loop {
                let batch = match cut.next(done) {
                    Ok(Some(b)) => b,
                    Ok(None) => break,
                    Err(e) => {
                        return self.error(id, Reject::new(Status::InternalError, e.to_string()));
                    }
                };
                // Flow control: wait while the budget is used up.
                while credit.is_some_and(|c| c <= 0) {
                    let wait = Duration::from_millis(100);
                    if let Some(why) = self.watch(id, &mut credit, deadline, wait)? {
                        drop(running);
                        return self.stopped(id, why);
                    }
                }
                if let Some(why) = self.watch(id, &mut credit, deadline, Duration::ZERO)? {
                    drop(running);
                    return self.stopped(id, why);
                }
                let len = match frames.send(&mut self.ws, id, seq, &batch, &mut self.dict) {
                    Ok(n) => n,
                    Err(Failed::Encode(e)) => {
                        return self.error(id, Reject::new(Status::InternalError, e.to_string()));
                    }
                    Err(Failed::Socket(e)) => return Err(e),
                };
                if let Some(c) = credit.as_mut() {
                    *c -= len as i64;
                }
                sent_now = true;
                seq += 1;
                total += batch.num_rows() as u64;
            }
            if !sent_now && !done {
                // A source giving many small batches (a selective filter)
                // still honours CANCEL and the time limit between them.
                if let Some(why) = self.watch(id, &mut credit, deadline, Duration::ZERO)? {
                    drop(running);
                    return self.stopped(id, why);
                }
            }
        }
        if seq == 0 {
            let empty = RecordBatch::new_empty(schema.clone());
            match frames.send(&mut self.ws, id, 0, &empty, &mut self.dict) {
                Ok(_) => {}
                Err(Failed::Encode(e)) => return Err(e.context("empty result")),
                Err(Failed::Socket(e)) => return Err(e),
            }
            seq = 1;
        }
        self.send(
            ServerControl::ResultEnd {
                request_id: id,
                final_seq: seq.saturating_sub(1),
                total_rows: total,
            }
            .to_frame(),
        )
    }

    fn cancelled(&mut self, id: i64) -> Result<()> {
        self.error(
            id,
            Reject::new(Status::Cancelled, format!("query {id} cancelled")),
        )
    }
}

pub(super) fn serve(ws: Ws, shared: &Arc<Shared>, up: &Upgrade) -> Result<()> {
    let cfg = &shared.cfg;
    let mut caps = CAP_QUERY_FLAGS;
    if cfg.zone.is_some() {
        caps |= CAP_ZONE;
    }
    let (role, epoch) = shared.role();
    let info = ServerInfo {
        role,
        epoch,
        capabilities: caps,
        server_wall_ns: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0),
        cluster_id: "questdb-arrow".into(),
        node_id: "embedded".into(),
        zone_id: cfg.zone.clone(),
    };
    let layout = result_layout(shared, &ws, up);
    let mut conn = Conn {
        ws,
        shared,
        up,
        dict: Dict::default(),
        reset_pending: false,
        layout,
        polled: Instant::now(),
    };
    conn.send(ServerControl::ServerInfo(info).to_frame())?;
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            let _ = conn.ws.close(None);
            let _ = conn.ws.flush();
            return Ok(());
        }
        // CANCEL / CREDIT for unknown or finished requests are dropped.
        if let Some(ClientMessage::Query(q)) = conn.read(Duration::from_millis(200))? {
            conn.run(q)?;
        }
    }
}
