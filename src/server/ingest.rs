//! The ingest endpoint: one connection's frames, its symbol dictionary,
//! deferred commits and responses.
//!
//! A connection is served by two threads (see [`serve`]): one reads and
//! decodes frames, the other commits them in order, so the write-ahead
//! log's write of one commit overlaps the decoding of the next frame. At
//! most `MAX_COMMITS_IN_FLIGHT` decoded commits wait; answers go out in
//! frame order, each once its commit is done.
//!
//! Per-connection budgets, each refused with LIMIT_EXCEEDED (the frame is
//! rejected and a deferred transaction rolled back as a whole, never
//! committed in part):
//! - deferred (uncommitted) data: at most `MAX_UNCOMMITTED_ROWS` rows and
//!   `ServerBuilder::max_pending_bytes` of decoded Arrow memory;
//! - the symbol dictionary: `ServerBuilder::max_dict_bytes`, counting each
//!   entry's UTF-8 bytes plus `DICT_ENTRY_OVERHEAD` (besides the protocol's
//!   2,000,000-entry cap, a PARSE_ERROR).
//!
//! A table block must carry its rows: a block with no columns but a
//! non-zero `row_count` is a PARSE_ERROR (server-assigned timestamps are
//! only made for rows some column carries). Table and column names with a
//! control character (below 0x20, or 0x7F) are PARSE_ERRORs too.

use std::io::Read;
use std::sync::atomic::Ordering;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arrow::array::{ArrayRef, RecordBatch, TimestampMicrosecondArray};
use arrow::datatypes::{Field, Schema};
use tungstenite::Message;
use tungstenite::protocol::CloseFrame;
use tungstenite::protocol::frame::coding::CloseCode;

use super::storage::{DEFAULT_TS_NAME, Reject};
use super::{Shared, Upgrade, Ws, read_ready, ws_err};
use crate::bridge::decode::decode_array;
use crate::bridge::types::arrow_field;
use crate::error::{Error, Result};
use crate::protocol::ingress::{Response, decode_message};
use crate::protocol::{
    ColumnType, FLAG_DEFER_COMMIT, MAX_NAME_BYTES, MAX_ROWS_PER_TABLE_BLOCK,
    MAX_SYMBOL_DICT_ENTRIES, Status,
};

/// Rows deferred frames may hold uncommitted (`qwp.max.uncommitted.rows`);
/// more is refused (QuestDB forces a commit instead, which would commit a
/// deferred batch in part).
const MAX_UNCOMMITTED_ROWS: usize = 1_000_000;
/// Bytes counted per symbol-dictionary entry besides its UTF-8 bytes.
const DICT_ENTRY_OVERHEAD: usize = std::mem::size_of::<String>();
/// Distinct tables one connection may write (`qwp.max.tables.per.connection`).
const MAX_TABLES_PER_CONNECTION: usize = 10_000;

/// Rows one commit writes: `(table, batch, designated column name)`.
type Writes = Vec<(String, RecordBatch, Option<String>)>;

/// What is left to do for a decoded frame, in frame order.
enum Job {
    /// Nothing but this answer (a deferred frame, the sink, a rejection).
    Answer(Response),
    /// Commit these writes and answer frame `.0`.
    Commit(i64, Writes),
}

/// Carries out a job: the commit (then, for a durable ack, the fsync of
/// the write-ahead log); returns the answer and the durable ack if one is
/// due. A failed commit or fsync is the frame's error answer, never an OK.
fn settle(shared: &Shared, durable_ack: bool, job: Job) -> (Response, Option<Response>) {
    if let Some(d) = shared.cfg.faults.ack_delay {
        std::thread::sleep(d);
    }
    let (sequence, writes) = match job {
        Job::Answer(r) => return (r, None),
        Job::Commit(sequence, writes) => (sequence, writes),
    };
    let refused = |r: Reject| Response::Error {
        status: r.status,
        sequence,
        message: r.message,
    };
    let tables = match shared.catalog.commit(writes) {
        Ok(t) => t,
        Err(r) => return (refused(r), None),
    };
    if !durable_ack || tables.is_empty() {
        return (Response::Ok { sequence, tables }, None);
    }
    match shared.catalog.sync() {
        Ok(()) => (
            Response::Ok {
                sequence,
                tables: tables.clone(),
            },
            Some(Response::DurableAck { tables }),
        ),
        Err(r) => (refused(r), None),
    }
}

struct Conn<'s> {
    shared: &'s Shared,
    dict: Vec<String>,
    /// What the dictionary counts against `max_dict_bytes`.
    dict_bytes: usize,
    pending: Vec<(String, RecordBatch, Option<String>)>,
    pending_rows: usize,
    /// Arrow memory of `pending`.
    pending_bytes: usize,
    tables_seen: Vec<String>,
    /// Set when a frame of a deferred transaction was rejected: the
    /// transaction is aborted and its remaining frames (up to the next
    /// frame without `FLAG_DEFER_COMMIT`) are refused, so a batch split
    /// across frames never commits in part.
    aborted: Option<(i64, Status)>,
}

fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

impl<'s> Conn<'s> {
    fn new(shared: &'s Shared) -> Conn<'s> {
        Conn {
            shared,
            dict: Vec::new(),
            dict_bytes: 0,
            pending: Vec::new(),
            pending_rows: 0,
            pending_bytes: 0,
            tables_seen: Vec::new(),
            aborted: None,
        }
    }

    /// Decodes and validates one frame (sequence `sequence`): what is left
    /// to do is its commit, or nothing but an answer.
    fn prepare(&mut self, sequence: i64, frame: &[u8]) -> Job {
        // The flags byte follows the magic and the version.
        let deferred = frame.get(5).is_some_and(|f| f & FLAG_DEFER_COMMIT != 0);
        if let Some((first, status)) = self.aborted {
            if !deferred {
                self.aborted = None;
            }
            return Job::Answer(Response::Error {
                status,
                sequence,
                message: format!(
                    "transaction aborted: frame {first} of this deferred batch was rejected"
                ),
            });
        }
        let handled =
            self.handle(frame)
                .and_then(|w| match (&w, &self.shared.cfg.faults.reject_commits) {
                    (Some(_), Some(r)) if r.take() => Err(Reject::new(
                        r.status,
                        "injected rejection (Faults::reject_commits)",
                    )),
                    _ => Ok(w),
                });
        match handled {
            Ok(Some(writes)) => Job::Commit(sequence, writes),
            Ok(None) => Job::Answer(Response::Ok {
                sequence,
                tables: Vec::new(),
            }),
            Err(r) => {
                // Roll back what the transaction holds.
                self.pending.clear();
                self.pending_rows = 0;
                self.pending_bytes = 0;
                if deferred {
                    self.aborted = Some((sequence, r.status));
                }
                Job::Answer(Response::Error {
                    status: r.status,
                    sequence,
                    message: r.message,
                })
            }
        }
    }

    /// The writes a frame commits (`None`: a deferred frame, or the sink).
    fn handle(&mut self, frame: &[u8]) -> std::result::Result<Option<Writes>, Reject> {
        let msg =
            decode_message(frame, 1).map_err(|e| Reject::new(Status::ParseError, e.to_string()))?;
        if let Some(d) = &msg.delta {
            let start = d.start as usize;
            if start > self.dict.len() {
                return Err(Reject::new(
                    Status::DictionaryGap,
                    format!(
                        "delta dictionary starts at id {start} but the connection dictionary has {} entries",
                        self.dict.len()
                    ),
                ));
            }
            if start + d.entries.len() > MAX_SYMBOL_DICT_ENTRIES {
                return Err(Reject::new(
                    Status::ParseError,
                    format!("symbol dictionary exceeds {MAX_SYMBOL_DICT_ENTRIES} entries"),
                ));
            }
            let entry = |s: &str| s.len() + DICT_ENTRY_OVERHEAD;
            let replaced: usize = self
                .dict
                .get(start..)
                .unwrap_or_default()
                .iter()
                .take(d.entries.len())
                .map(|s| entry(s))
                .sum();
            let added: usize = d.entries.iter().map(|s| entry(s)).sum();
            let total = self.dict_bytes - replaced + added;
            let max = self.shared.cfg.max_dict_bytes;
            if total > max {
                return Err(Reject::new(
                    Status::LimitExceeded,
                    format!(
                        "symbol dictionary budget max_dict_bytes ({max} bytes) exceeded: this delta would take the connection's dictionary to {total} bytes ({} entries)",
                        self.dict.len().max(start + d.entries.len())
                    ),
                ));
            }
            for (k, s) in d.entries.iter().enumerate() {
                let id = start + k;
                if id < self.dict.len() {
                    self.dict[id] = s.to_string();
                } else {
                    self.dict.push(s.to_string());
                }
            }
            self.dict_bytes = total;
        }
        if self.shared.cfg.sink {
            return Ok(None);
        }
        for block in &msg.tables {
            let table = block.name;
            if table.is_empty() || table.len() > MAX_NAME_BYTES {
                return Err(Reject::new(
                    Status::ParseError,
                    format!("invalid table name {table:?}"),
                ));
            }
            if has_control_char(table) {
                return Err(Reject::new(
                    Status::ParseError,
                    format!("invalid table name {table:?}: it contains a control character"),
                ));
            }
            if let Some((name, _)) = block.schema.iter().find(|(n, _)| has_control_char(n)) {
                return Err(Reject::new(
                    Status::ParseError,
                    format!(
                        "table {table:?}: invalid column name {name:?}: it contains a control character"
                    ),
                ));
            }
            if block.columns.is_empty() && block.row_count > 0 {
                return Err(Reject::new(
                    Status::ParseError,
                    format!(
                        "table {table:?}: a block of {} rows has no columns",
                        block.row_count
                    ),
                ));
            }
            if block.row_count > MAX_ROWS_PER_TABLE_BLOCK {
                return Err(Reject::new(
                    Status::ParseError,
                    format!("table {table}: {} rows in one block", block.row_count),
                ));
            }
            if !self
                .tables_seen
                .iter()
                .any(|t| t.eq_ignore_ascii_case(table))
            {
                if self.tables_seen.len() >= MAX_TABLES_PER_CONNECTION {
                    return Err(Reject::new(
                        Status::LimitExceeded,
                        format!(
                            "more than {MAX_TABLES_PER_CONNECTION} tables on one connection (table {table})"
                        ),
                    ));
                }
                self.tables_seen.push(table.to_string());
            }
            if block.row_count == 0 {
                continue;
            }
            let ts_name = self
                .shared
                .catalog
                .designated_name(table)
                .or_else(|| {
                    self.pending
                        .iter()
                        .find(|(n, _, _)| n.eq_ignore_ascii_case(table))
                        .and_then(|(_, _, d)| d.clone())
                })
                .unwrap_or_else(|| DEFAULT_TS_NAME.to_string());
            let mut fields: Vec<Field> = Vec::with_capacity(block.columns.len() + 1);
            let mut cols: Vec<ArrayRef> = Vec::with_capacity(block.columns.len() + 1);
            let mut has_designated = false;
            for ((name, ty), view) in block.schema.iter().zip(&block.columns) {
                let designated = name.is_empty();
                if designated && !matches!(ty, ColumnType::Timestamp | ColumnType::TimestampNanos) {
                    return Err(Reject::new(
                        Status::ParseError,
                        format!(
                            "table {table}: a column with an empty name must be the designated TIMESTAMP, not {ty}"
                        ),
                    ));
                }
                let col_name = if designated { ts_name.as_str() } else { name };
                if fields.iter().any(|f| f.name() == col_name) {
                    return Err(Reject::new(
                        Status::ParseError,
                        format!("table {table}: column {col_name} appears twice"),
                    ));
                }
                let (t, arr) = decode_array(view, &self.dict).map_err(|e| {
                    Reject::new(
                        Status::ParseError,
                        format!("table {table}, column {col_name}: {e}"),
                    )
                })?;
                // QuestDB stores no NULL for these types: a NULL arrives
                // as false / 0 (the decoder already put that value under
                // each NULL), so drop the validity.
                let arr = if arr.null_count() > 0
                    && matches!(
                        t.ty,
                        ColumnType::Boolean
                            | ColumnType::Byte
                            | ColumnType::Short
                            | ColumnType::Char
                    ) {
                    arr.to_data()
                        .into_builder()
                        .nulls(None)
                        .build()
                        .map(arrow::array::make_array)
                        .map_err(|e| {
                            Reject::new(
                                Status::InternalError,
                                format!("table {table}, column {col_name}: {e}"),
                            )
                        })?
                } else {
                    arr
                };
                if designated {
                    if arr.null_count() > 0 {
                        return Err(Reject::new(
                            Status::ParseError,
                            format!("table {table}: designated timestamp has NULL values"),
                        ));
                    }
                    has_designated = true;
                }
                fields.push(arrow_field(col_name, t, designated));
                cols.push(arr);
            }
            if !has_designated && fields.iter().all(|f| f.name() != &ts_name) {
                let now = now_micros();
                let ts = TimestampMicrosecondArray::from(vec![now; block.row_count])
                    .with_timezone("UTC");
                fields.push(arrow_field(
                    &ts_name,
                    crate::bridge::QwpType::plain(ColumnType::Timestamp),
                    true,
                ));
                cols.push(Arc::new(ts));
            }
            let fields: Vec<Arc<Field>> = fields.into_iter().map(Arc::new).collect();
            self.shared.catalog.check(table, &fields)?;
            for (n, b, _) in &self.pending {
                if n.eq_ignore_ascii_case(table) {
                    for f in &fields {
                        if let Ok(i) = b.schema().index_of(f.name())
                            && b.schema().field(i).data_type() != f.data_type()
                        {
                            return Err(Reject::new(
                                Status::SchemaMismatch,
                                format!(
                                    "table {table}, column {}: type changed within a transaction",
                                    f.name()
                                ),
                            ));
                        }
                    }
                }
            }
            let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)
                .map_err(|e| Reject::new(Status::ParseError, format!("table {table}: {e}")))?;
            self.pending_rows += batch.num_rows();
            self.pending_bytes += batch.get_array_memory_size();
            self.pending
                .push((table.to_string(), batch, Some(ts_name.clone())));
            if msg.defer_commit() {
                self.check_pending_budget()?;
            }
        }
        if msg.defer_commit() {
            return Ok(None);
        }
        let writes = std::mem::take(&mut self.pending);
        self.pending_rows = 0;
        self.pending_bytes = 0;
        Ok(Some(writes))
    }

    /// Refuses a deferred frame that makes the uncommitted data too big.
    fn check_pending_budget(&self) -> std::result::Result<(), Reject> {
        if self.pending_rows > MAX_UNCOMMITTED_ROWS {
            return Err(Reject::new(
                Status::LimitExceeded,
                format!(
                    "deferred rows budget ({MAX_UNCOMMITTED_ROWS} uncommitted rows) exceeded: {} rows held; commit more often",
                    self.pending_rows
                ),
            ));
        }
        let max = self.shared.cfg.max_pending_bytes;
        if self.pending_bytes > max {
            return Err(Reject::new(
                Status::LimitExceeded,
                format!(
                    "deferred data budget max_pending_bytes ({max} bytes) exceeded: {} bytes of uncommitted rows held; commit more often",
                    self.pending_bytes
                ),
            ));
        }
        Ok(())
    }
}

/// How long [`close_and_drain`] keeps reading after its close frame.
const LINGER: Duration = Duration::from_secs(2);
/// The most [`close_and_drain`] reads and discards.
const LINGER_MAX_BYTES: usize = 64 * 1024 * 1024;

/// Closes the WebSocket with `code` and, before the socket is dropped,
/// reads and discards what the client still sends (the rest of an
/// oversized frame, its close reply) until it closes its side, for at most
/// [`LINGER`]. Dropping a socket with unread input makes the kernel answer
/// with a TCP reset, which can destroy the close frame before the client
/// reads it.
pub(super) fn close_and_drain(ws: &mut Ws, code: CloseCode, reason: &str) {
    // The connection is ending; a failure here leaves nothing to report to.
    let _ = ws.close(Some(CloseFrame {
        code,
        reason: reason.to_string().into(),
    }));
    let _ = ws.flush();
    let until = Instant::now() + LINGER;
    let _ = ws
        .get_ref()
        .tcp()
        .set_read_timeout(Some(Duration::from_millis(50)));
    let mut buf = vec![0u8; 64 * 1024];
    let mut read = 0usize;
    while Instant::now() < until && read < LINGER_MAX_BYTES {
        match ws.get_mut().read(&mut buf) {
            Ok(0) => break,
            Ok(n) => read += n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) => {}
            Err(_) => break,
        }
    }
}

/// Whether a table or column name holds a control character (below 0x20,
/// or DEL).
fn has_control_char(name: &str) -> bool {
    name.chars().any(|c| c < '\u{20}' || c == '\u{7f}')
}

/// One connection's handling of `frames`, without a socket.
pub(super) fn feed<'f>(
    shared: &Shared,
    frames: impl IntoIterator<Item = &'f [u8]>,
) -> Vec<Response> {
    let mut conn = Conn::new(shared);
    frames
        .into_iter()
        .enumerate()
        .map(|(i, f)| settle(shared, false, conn.prepare(i as i64, f)).0)
        .collect()
}

/// Commits a connection may have decoded but not yet answered: one being
/// committed while the next is decoded, and one waiting. (Answers of
/// frames without a commit carry no rows and are not counted.)
const MAX_COMMITS_IN_FLIGHT: usize = 2;
/// While answers are outstanding and no frame has arrived, how long the
/// connection thread waits for an answer before it looks at the socket
/// again (a socket read timeout would be rounded up to the kernel's tick,
/// milliseconds; this wait is precise).
const ANSWER_WAIT: Duration = Duration::from_micros(200);

/// Serves one ingest connection as a pipeline of two threads: this one
/// reads and decodes frames, a committer thread commits them in order (the
/// write-ahead log write, and the fsync of a durable ack, overlap with the
/// decoding of the next frame). Answers go out in frame order, each only
/// once its commit is done. When the connection ends, every frame already
/// read is still committed (as if it had been answered), like before the
/// next frame was read.
pub(super) fn serve(ws: Ws, shared: &Arc<Shared>, up: &Upgrade, conn_no: usize) -> Result<()> {
    let durable_ack = up.durable_ack;
    std::thread::scope(|s| {
        let (jobs, jobs_rx) = mpsc::channel::<Job>();
        let (done_tx, done) = mpsc::channel();
        let shared2: &Shared = shared;
        std::thread::Builder::new()
            .name("qa-server-commit".into())
            .spawn_scoped(s, move || {
                for job in jobs_rx {
                    let commit = matches!(job, Job::Commit(..));
                    let (resp, durable) = settle(shared2, durable_ack, job);
                    // Once the reader is gone the answer has nowhere to go,
                    // but the commit is still carried out.
                    let _ = done_tx.send(Settled {
                        resp,
                        durable,
                        commit,
                    });
                }
            })?;
        let mut p = Pipeline {
            ws,
            jobs,
            done,
            in_flight: 0,
            commits: 0,
        };
        p.run(shared, conn_no)
    })
}

/// A settled job: its answer, the durable ack if one is due, and whether
/// it was a commit.
struct Settled {
    resp: Response,
    durable: Option<Response>,
    commit: bool,
}

struct Pipeline {
    ws: Ws,
    jobs: mpsc::Sender<Job>,
    done: mpsc::Receiver<Settled>,
    /// Jobs sent and not yet answered.
    in_flight: usize,
    /// Of which commits.
    commits: usize,
}

fn committer_gone() -> Error {
    Error::new(
        crate::error::ErrorKind::Internal,
        "the connection's committer thread ended",
    )
}

impl Pipeline {
    /// Sends the answers of settled jobs, having waited up to `wait` for
    /// the first (none: wait as long as it takes).
    fn answer(&mut self, wait: Option<Duration>) -> Result<()> {
        if self.in_flight == 0 {
            return Ok(());
        }
        let first = match wait {
            None => self.done.recv().map_err(|_| committer_gone())?,
            Some(d) => match self.done.recv_timeout(d) {
                Ok(x) => x,
                Err(mpsc::RecvTimeoutError::Timeout) => return Ok(()),
                Err(mpsc::RecvTimeoutError::Disconnected) => return Err(committer_gone()),
            },
        };
        self.send(first)?;
        while self.in_flight > 0 {
            match self.done.try_recv() {
                Ok(x) => self.send(x)?,
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => return Err(committer_gone()),
            }
        }
        Ok(())
    }

    fn send(&mut self, s: Settled) -> Result<()> {
        self.in_flight -= 1;
        self.commits -= usize::from(s.commit);
        self.ws
            .send(Message::Binary(s.resp.to_bytes().into()))
            .map_err(ws_err)?;
        if let Some(d) = s.durable {
            self.ws
                .send(Message::Binary(d.to_bytes().into()))
                .map_err(ws_err)?;
        }
        Ok(())
    }

    /// After a demotion: answers what is in flight and closes with 1000,
    /// QuestDB's "not writable" signal; what was not acknowledged is the
    /// client's to replay on the new primary.
    fn close_demoted(&mut self, role: crate::protocol::egress::Role) -> Result<()> {
        self.answer_all()?;
        close_and_drain(
            &mut self.ws,
            CloseCode::Normal,
            &format!("this server became a {} and takes no writes", role.name()),
        );
        Ok(())
    }

    /// Sends every outstanding answer.
    fn answer_all(&mut self) -> Result<()> {
        while self.in_flight > 0 {
            self.answer(None)?;
        }
        Ok(())
    }

    fn run(&mut self, shared: &Shared, conn_no: usize) -> Result<()> {
        let faults = &shared.cfg.faults;
        let close_after = faults
            .close_after_frames
            .filter(|_| faults.close_first_connections.is_none_or(|k| conn_no < k));
        let mut conn = Conn::new(shared);
        let mut seq: i64 = 0;
        self.ws
            .get_ref()
            .tcp()
            .set_read_timeout(Some(Duration::from_millis(200)))?;
        loop {
            if shared.stop.load(Ordering::SeqCst) {
                self.answer_all()?;
                let _ = self.ws.close(None);
                let _ = self.ws.flush();
                return Ok(());
            }
            self.answer(Some(Duration::ZERO))?;
            let got = if self.in_flight == 0 {
                self.ws.read()
            } else if self.commits >= MAX_COMMITS_IN_FLIGHT {
                self.answer(None)?;
                continue;
            } else {
                // Take the next frame if it has arrived; otherwise wait a
                // moment for an answer (a client waiting for one sends
                // nothing more) and look again.
                match read_ready(&mut self.ws) {
                    Err(tungstenite::Error::Io(e))
                        if e.kind() == std::io::ErrorKind::WouldBlock =>
                    {
                        self.answer(Some(ANSWER_WAIT))?;
                        continue;
                    }
                    other => other,
                }
            };
            let msg = match got {
                Ok(m) => m,
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    if let Some(idle) = shared.close_if_idle(&mut self.ws) {
                        return Err(idle);
                    }
                    continue;
                }
                Err(tungstenite::Error::Capacity(e)) => {
                    self.answer_all()?;
                    close_and_drain(
                        &mut self.ws,
                        CloseCode::Size,
                        &format!("frame larger than the receive buffer: {e}"),
                    );
                    return Ok(());
                }
                // Dropping `conn` discards uncommitted (deferred) rows.
                Err(e) => return Err(ws_err(e)),
            };
            let frame = match msg {
                Message::Binary(b) => b,
                Message::Close(_) => return Ok(()),
                Message::Text(_) => {
                    self.answer_all()?;
                    close_and_drain(
                        &mut self.ws,
                        CloseCode::Unsupported,
                        "QWP frames are binary",
                    );
                    return Ok(());
                }
                _ => continue,
            };
            if let Some(role) = shared.read_only() {
                // Demoted: this frame and any later one are not taken.
                return self.close_demoted(role);
            }
            let this = seq;
            seq += 1;
            if close_after.is_some_and(|k| seq as usize >= k) {
                // Fault injection: drop the connection without answering
                // this frame (the earlier ones are answered).
                self.answer_all()?;
                return Ok(());
            }
            let job = conn.prepare(this, &frame);
            self.commits += usize::from(matches!(job, Job::Commit(..)));
            self.jobs.send(job).map_err(|_| committer_gone())?;
            self.in_flight += 1;
        }
    }
}
