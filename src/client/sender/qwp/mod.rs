//! The QWP engine behind [`Sender`](super::Sender) for `ws::` and `wss::`
//! connect strings: one `/write/v4` connection with its symbol dictionary,
//! frame pipeline, acknowledgements and the batches not yet committed (see
//! the [`sender`](super) module docs for how a batch travels and what a
//! rejection does). It knows nothing of ILP: [`Sender`](super::Sender)
//! picks the transport once, at connect.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{Array, RecordBatch};
use arrow::datatypes::DataType;
use arrow::error::ArrowError;

use super::{
    AckLevel, Gorilla, IngestOptions, IngestSummary, Progress, ProgressFn, TableBatch, input_error,
    lower_cap,
};
use crate::bridge::column_data::SymbolDict;
use crate::bridge::frame::BlockEncoder;
use crate::bridge::overrides::apply_overrides;
use crate::bridge::types::{QwpType, qwp_type_of};
use crate::client::connect::{self, Fit};
use crate::client::policy::{Action, Dropped, Policies};
use crate::conf::Conf;
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::column::{Layout, TsEncoding};
use crate::protocol::ingress::{Response, catch_up};
use crate::protocol::{
    ColumnType, FLAG_DEFER_COMMIT, FLAG_DELTA_SYMBOL_DICT, FLAG_GORILLA, HEADER_LEN, Header,
    MAX_ROWS_PER_TABLE_BLOCK, Out, Status,
};
use crate::transport::{ConnectOptions, Connection, FrameBuf, Route};

mod acks;
mod blocks;
mod pipeline;
mod plan;
mod publish;
mod recover;

use blocks::Block;
use plan::{Plan, plan_schema};

/// Used when the server does not advertise `X-QWP-Max-Batch-Size`.
pub const DEFAULT_FRAME_BUDGET_BYTES: usize = 1_900_000;
/// Frames that may await acknowledgement at once, by default.
pub const DEFAULT_IN_FLIGHT_FRAMES: usize = 8;
/// How long to wait for an acknowledgement before giving up.
pub const ACK_TIMEOUT: Duration = Duration::from_secs(60);
/// After a rejection that ends the call: how long to wait for the answers
/// to the frames written before it, so the error counts what committed.
const HALT_DRAIN: Duration = Duration::from_secs(5);

/// One input batch: it commits atomically and is kept until it did, for
/// replay after a reconnect.
struct Group {
    /// The table (the tables, comma-separated, of a multi-table group), for
    /// messages.
    table: Arc<str>,
    /// Position among the batches of the call.
    index: u64,
    /// What the server's answers did to it so far.
    fate: Fate,
    /// Its table blocks: one for an Arrow batch, one per table for a row
    /// buffer; all commit together.
    blocks: Arc<[Block]>,
    /// Rows of all blocks.
    rows: usize,
    /// Rows already in written frames.
    written: usize,
    first_seq: i64,
    /// Sequence of the committing (last) frame once written, else -1.
    last_seq: i64,
}

/// Where a [`Group`] stands with the server. Answers come in frame order,
/// but an OK for a later frame says nothing about an earlier rejected one,
/// so a rejected group is marked before the watermark passes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// Not rejected: committed once its last frame is answered.
    Pending,
    /// Rejected for good (dropped, or the call halts): nothing of it is
    /// committed; later answers for its frames only move the watermark.
    Rejected,
    /// Rejected under a retry policy: kept for the replay.
    Resend,
}

/// A frame encoded into `bufs[buf]` but not written yet.
struct Staged {
    buf: usize,
    rows: usize,
    commit: bool,
}

/// One QWP ingest connection (or, publishing, a store-and-forward queue)
/// with its symbol dictionary, pipeline and the batches not yet committed.
/// Wrapped by [`Sender`](super::Sender), which [`crate::client::QuestDb`]
/// pools.
pub(crate) struct QwpSender {
    conf: Option<Conf>,
    opts: ConnectOptions,
    /// Index in `conf.addrs` of the endpoint connected last (a reconnect
    /// starts after it).
    endpoint: usize,
    conn: Option<Connection>,
    server_budget: usize,
    cap: usize,
    durable_granted: bool,
    dict: SymbolDict,
    next_seq: i64,
    acked: i64,
    bufs: [FrameBuf; 2],
    staged: Option<Staged>,
    groups: VecDeque<Group>,
    rows_hint: usize,
    durable_want: HashMap<String, i64>,
    durable_have: HashMap<String, i64>,
    rejections: u32,
    stats: Progress,
    /// `stats` when the current call began.
    base: Progress,
    batches_acked: u64,
    /// Batches pushed by the current call.
    pushed: u64,
    policies: Policies,
    dropped: Vec<Dropped>,
    progress: Option<ProgressFn>,
    /// Publish mode: frames go into this store-and-forward queue instead
    /// of onto a connection.
    outbox: Option<Box<publish::Outbox>>,
}

impl fmt::Debug for QwpSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QwpSender")
            .field("conn", &self.conn)
            .field("budget", &self.frame_budget())
            .field("next_seq", &self.next_seq)
            .field("acked", &self.acked)
            .finish_non_exhaustive()
    }
}

/// The frame budget for a server's `X-QWP-Max-Batch-Size` (the default
/// when it advertises none).
pub(crate) fn budget_of(max_batch_size: Option<usize>) -> usize {
    // 90 % of the advertised cap leaves room for framing, as the spec asks.
    max_batch_size.map_or(DEFAULT_FRAME_BUDGET_BYTES, |m| m / 10 * 9)
}

impl QwpSender {
    /// See [`Sender::connect`](super::Sender::connect).
    pub(super) fn connect(conf: &Conf) -> Result<QwpSender> {
        let (conn, opts, i) = connect::connect(
            conf,
            0,
            connect::initial_retry(conf),
            |o| Connection::connect(o, Route::Ingest),
            |_| Fit::Yes,
        )?;
        let mut s = QwpSender::new(Some(conf.clone()), opts, conn);
        s.endpoint = i;
        Ok(s)
    }

    /// See [`Sender::connect_with`](super::Sender::connect_with).
    pub(super) fn connect_with(opts: &ConnectOptions) -> Result<QwpSender> {
        let conn = Connection::connect(opts, Route::Ingest)?;
        Ok(QwpSender::new(None, opts.clone(), conn))
    }

    fn new(
        conf: Option<Conf>,
        opts: ConnectOptions,
        (conn, hs): (Connection, crate::transport::Handshake),
    ) -> QwpSender {
        let mut s = QwpSender::unconnected(conf, opts, budget_of(hs.max_batch_size));
        s.conn = Some(conn);
        s.durable_granted = hs.durable_ack;
        s
    }

    /// A sender without a connection, with frame budget `budget`.
    fn unconnected(conf: Option<Conf>, opts: ConnectOptions, budget: usize) -> QwpSender {
        QwpSender {
            conf,
            opts,
            endpoint: 0,
            conn: None,
            server_budget: budget,
            cap: usize::MAX,
            durable_granted: false,
            dict: SymbolDict::default(),
            next_seq: 0,
            acked: -1,
            bufs: Default::default(),
            staged: None,
            groups: VecDeque::new(),
            rows_hint: 0,
            durable_want: HashMap::new(),
            durable_have: HashMap::new(),
            rejections: 0,
            stats: Progress::default(),
            base: Progress::default(),
            batches_acked: 0,
            pushed: 0,
            policies: Policies::default(),
            dropped: Vec::new(),
            progress: None,
            outbox: None,
        }
    }

    /// See [`Sender::conf`](super::Sender::conf).
    pub(super) fn conf(&self) -> Option<&Conf> {
        self.conf.as_ref()
    }

    /// See [`Sender::abandon_pending`](super::Sender::abandon_pending).
    pub(super) fn abandon_pending(&mut self) {
        if !self.groups.is_empty() || self.staged.is_some() {
            self.drop_connection();
        }
    }

    /// See [`Sender::is_connected`](super::Sender::is_connected).
    pub(super) fn is_connected(&self) -> bool {
        self.conn.is_some()
    }

    /// Whether the connection is gone (disconnected, or closed by the
    /// server while unused; see [`Connection::peer_gone`]).
    pub(super) fn peer_gone(&self) -> bool {
        self.conn.as_ref().is_none_or(Connection::peer_gone)
    }

    /// See [`Sender::frame_budget`](super::Sender::frame_budget).
    pub(super) fn frame_budget(&self) -> usize {
        self.server_budget.min(self.cap)
    }

    /// See [`Sender::set_frame_budget`](super::Sender::set_frame_budget).
    pub(super) fn set_frame_budget(&mut self, bytes: usize) {
        self.cap = lower_cap(self.cap, bytes);
    }

    /// Whether the connected server is on this host (decides
    /// [`Gorilla::Auto`]); `false` while not connected. Publishing: the
    /// server connected at open.
    fn loopback(&self) -> bool {
        self.conn.as_ref().is_some_and(Connection::is_loopback)
            || self.outbox.as_ref().is_some_and(|o| o.loopback)
    }

    /// See [`Sender::flush_arrow_batch_with`](super::Sender::flush_arrow_batch_with).
    pub(super) fn flush_arrow_batch_with(
        &mut self,
        table: &str,
        batch: &RecordBatch,
        opts: &IngestOptions,
    ) -> Result<IngestSummary> {
        self.run(table, opts, false, true, |s| {
            s.push_batch(table, batch, opts, false)?;
            Ok(false)
        })
    }

    /// See [`Sender::ingest`](super::Sender::ingest).
    pub(super) fn ingest<I>(
        &mut self,
        table: &str,
        reader: I,
        opts: &IngestOptions,
    ) -> Result<IngestSummary>
    where
        I: IntoIterator<Item = std::result::Result<RecordBatch, ArrowError>>,
    {
        let mut it = reader.into_iter();
        let mut k = 0usize;
        // An input failure is never retried (a reconnect cannot fix the
        // input, whatever its kind: an I/O error of a file, a cursor's
        // closed connection): `run` sees a non-retriable placeholder and
        // the input's error, with its source, replaces it below.
        let mut input_err = None;
        let res = self.run(table, opts, true, true, |s| {
            let Some(b) = it.next() else {
                return Ok(false);
            };
            let b = match b {
                Ok(b) => b,
                Err(e) => {
                    input_err = Some(input_error(k, e));
                    return Err(Error::new(ErrorKind::InvalidData, ""));
                }
            };
            k += 1;
            s.push_batch(table, &b, opts, true)?;
            Ok(true)
        });
        match (res, input_err) {
            // `run` put its context (table, rows committed) on the empty
            // placeholder message.
            (Err(e), Some(input)) => Err(input.context(e.message())),
            (res, _) => res,
        }
    }

    /// Drives `step` until it returns `false`, then waits for the
    /// acknowledgements (with `wait`; else only writes what is staged and
    /// leaves the rest to a later call). On a terminal error the
    /// connection is dropped.
    fn run(
        &mut self,
        table: &str,
        opts: &IngestOptions,
        replay: bool,
        wait: bool,
        mut step: impl FnMut(&mut Self) -> Result<bool>,
    ) -> Result<IngestSummary> {
        let t0 = Instant::now();
        if self.is_publisher() {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "table {table}: this sender publishes into a store-and-forward queue; use AsyncSender::publish (or a row sender's flush) instead"
                ),
            ));
        }
        if opts.ack == AckLevel::Durable
            && self.conf.as_ref().is_some_and(|c| !c.request_durable_ack())
        {
            return Err(Error::config(
                "request_durable_ack",
                "off",
                "AckLevel::Durable needs request_durable_ack=on",
            ));
        }
        let before = (self.stats, self.batches_acked);
        self.base = self.stats;
        self.progress = opts.progress.clone();
        self.policies = Policies::resolve(&opts.policies, self.conf.as_ref());
        self.pushed = 0;
        self.dropped.clear();
        let mut reconnects = 0u32;
        let res = (|| {
            self.ensure_connected()?;
            while self.guard(replay, &mut reconnects, &mut step, Some(true))? {}
            let mut finish = |s: &mut Self| {
                if wait {
                    s.wait_all(opts.ack)
                } else {
                    s.flush_staged()
                }
            };
            self.guard(replay, &mut reconnects, &mut finish, None)
        })();
        if res.as_ref().is_err_and(|e| e.kind() == ErrorKind::Server) {
            // Batches written before the rejection may still commit: count
            // them, so the error says what the server holds. (Without
            // `halt` the drain never fails.)
            let _ = self.drain(Instant::now() + HALT_DRAIN, HALT_DRAIN, false);
        }
        let summary = IngestSummary {
            rows: self.stats.rows_acked - before.0.rows_acked,
            batches: self.batches_acked - before.1,
            frames: self.stats.frames_sent - before.0.frames_sent,
            bytes: self.stats.bytes_sent - before.0.bytes_sent,
            reconnects,
            elapsed: t0.elapsed(),
            dropped_rows: self.dropped.iter().map(|d| d.rows).sum(),
            dropped: std::mem::take(&mut self.dropped),
        };
        self.progress = None;
        match res {
            Ok(()) => Ok(summary),
            Err(e) => {
                // Input rejected before anything of it was sent leaves the
                // connection clean; anything else drops it (which rolls back
                // what the server holds uncommitted).
                let clean = self.groups.is_empty()
                    && self.staged.is_none()
                    && matches!(e.kind(), ErrorKind::InvalidData | ErrorKind::Unsupported);
                if !clean {
                    self.drop_connection();
                }
                Err(e.context(format!(
                    "table {table}: {} rows in {} batches committed by this call",
                    summary.rows, summary.batches
                )))
            }
        }
    }

    /// Plans `batch`, registers it as a group and sends its frames.
    fn push_batch(
        &mut self,
        table: &str,
        batch: &RecordBatch,
        opts: &IngestOptions,
        streaming: bool,
    ) -> Result<()> {
        let index = self.pushed;
        self.pushed += 1;
        let batch = apply_overrides(table, batch, &opts.overrides)?;
        let plan = plan_schema(table, &batch, opts, self.loopback())?;
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let blocks: Arc<[Block]> = Arc::new([Block {
            table: table.into(),
            batch,
            plan: Arc::new(plan),
        }]);
        let window = if streaming { opts.window() } else { usize::MAX };
        self.push_group(index, blocks, window)
    }
}
