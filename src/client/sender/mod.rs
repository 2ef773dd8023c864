//! Arrow ingest over one `/write/v4` connection: the engine behind
//! [`QuestDb::flush_arrow_batch`](super::QuestDb::flush_arrow_batch) and
//! [`QuestDb::ingest`](super::QuestDb::ingest).
//!
//! A [`Sender`] speaks one transport, chosen once by the scheme of its
//! connect string: QWP for `ws::` and `wss::` (what follows describes it),
//! ILP for `http::`, `https::`, `tcp::` and `tcps::` (see
//! [`super::ilp`]: the same calls, ILP's delivery).
//!
//! How a batch travels:
//!
//! 1. Its columns are mapped to QWP types (overrides and `questdb.*`
//!    metadata applied; unsupported types and a bad designated timestamp
//!    are rejected before anything is sent).
//! 2. It is cut into frames that fit the byte budget by exact sizing (never
//!    encode-then-shrink). All frames of one batch but the last carry
//!    `FLAG_DEFER_COMMIT`, so the batch commits atomically.
//! 3. Frames are pipelined: frame *n + 1* is encoded (its columns in
//!    parallel) into one buffer while frame *n* is written from the other,
//!    and up to [`IngestOptions::in_flight_frames`] frames may await their
//!    acknowledgement.
//! 4. Acknowledgements are matched to frames by sequence. A batch counts as
//!    committed when the frame that commits it is acknowledged.
//!
//! Memory: two frame buffers (each at most the frame budget) plus the input
//! batches that are not committed yet — at most `in_flight_frames + 1`
//! batches, whatever the size of the stream.
//!
//! Delivery: streaming [`Sender::ingest`] survives a dropped connection — it
//! reconnects within `reconnect_max_duration_millis` (backoff from
//! `reconnect_initial_backoff_millis` to `reconnect_max_backoff_millis`),
//! replays the symbol dictionary in catch-up frames, and resends every batch
//! not acknowledged as committed. That is **at-least-once**: a batch whose
//! commit reached the server but whose acknowledgement was lost is sent
//! twice. Give tables deduplication keys (`DEDUP UPSERT KEYS`) when that
//! matters. [`Sender::flush_arrow_batch`] does not retry: it returns the
//! error and the caller decides whether to resend.
//!
//! Server rejections follow the error policies of [`super::policy`]
//! (`on_*_error` keys, [`IngestOptions::on_error`]):
//!
//! - **halt** (`terminal`; default for SCHEMA_MISMATCH, PARSE_ERROR,
//!   SECURITY_ERROR, and always for unknown statuses and protocol
//!   violations): the call returns an [`ErrorKind::Server`] error with the
//!   status, naming the table, the batch (its position in the call) and its
//!   rows, and how many rows and batches the call committed. Batches before
//!   it are committed; batches already in flight behind it may commit too
//!   (the count includes them); nothing else of the stream is sent. The
//!   connection is dropped.
//! - **drop and continue**
//!   ([`Policy::DropAndContinue`](super::policy::Policy::DropAndContinue),
//!   code only): the rejected batch commits nothing, is listed in
//!   [`IngestSummary::dropped`] (table, batch, rows, status, message) and
//!   the stream goes on on the same connection; the call succeeds. For
//!   [`Sender::flush_arrow_batch_with`] too: it returns `Ok` with
//!   `rows == 0` and the batch in `dropped` — check it.
//! - **retry** (`retriable`, default for INTERNAL_ERROR and WRITE_ERROR) /
//!   **retry elsewhere** (`retriable_other`): [`Sender::ingest`] reconnects
//!   (to the same endpoint first / to the next one first) and resends every
//!   uncommitted batch, within `reconnect_max_duration_millis`; after
//!   `max_frame_rejections` rejections in a row without a commit the
//!   rejection halts. The blocking flush never resends: there a retriable
//!   rejection is its error.

use std::fmt;

use arrow::array::RecordBatch;
use arrow::error::ArrowError;

use super::ilp::{self, IlpSender};
use crate::conf::Conf;
use crate::error::{Error, ErrorKind, Result};
use crate::transport::ConnectOptions;

mod options;
mod qwp;

pub use options::{AckLevel, Gorilla, IngestOptions, IngestSummary, Progress, ProgressFn};
use qwp::QwpSender;
pub(crate) use qwp::budget_of;
pub use qwp::{ACK_TIMEOUT, DEFAULT_FRAME_BUDGET_BYTES, DEFAULT_IN_FLIGHT_FRAMES};

/// A table's rows for [`Sender::flush_tables`]: the table, its batch and
/// its designated timestamp column (`None`: the server assigns the time).
pub type TableBatch = (String, RecordBatch, Option<String>);

/// The error of input batch `k` that could not be read (never retried: a
/// reconnect cannot fix the input); the input's error is its source.
pub(crate) fn input_error(k: usize, e: ArrowError) -> Error {
    Error::arrow(
        ErrorKind::InvalidData,
        format!("reading input batch {k}"),
        e,
    )
}

/// A frame budget cap `cap` lowered (never raised) to `bytes`, at least
/// 256 bytes.
fn lower_cap(cap: usize, bytes: usize) -> usize {
    cap.min(bytes.max(256))
}

/// The transport of a [`Sender`], fixed at connect.
enum Wire {
    /// `ws::`, `wss::`: the QWP engine (or a publisher into a
    /// store-and-forward queue).
    Qwp(Box<QwpSender>),
    /// `http::`, `https::`, `tcp::`, `tcps::`. `cap` only keeps what
    /// [`Sender::set_frame_budget`] asked for, so [`Sender::frame_budget`]
    /// reports it: ILP has no frames.
    Ilp { ilp: Box<IlpSender>, cap: usize },
}

/// One ingest connection with its symbol dictionary, pipeline and the
/// batches not yet committed. Not shared: [`super::QuestDb`] pools them.
///
/// One sender speaks one transport, chosen at connect by the scheme of the
/// connect string: QWP over WebSocket for `ws::` and `wss::`, ILP for
/// `http::`, `https::`, `tcp::` and `tcps::` (see [`super::ilp`] for what
/// each call sends there and which options have no ILP meaning). Every
/// call goes to that transport; none falls back to the other.
pub struct Sender {
    wire: Wire,
}

impl fmt::Debug for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.wire {
            Wire::Qwp(q) => f.debug_tuple("Sender").field(q).finish(),
            Wire::Ilp { ilp, .. } => f
                .debug_struct("Sender")
                .field("scheme", &ilp.conf().scheme())
                .field("connected", &ilp.reusable())
                .finish_non_exhaustive(),
        }
    }
}

/// A pooled ingest connection
/// ([`QuestDb::borrow_sender`](super::QuestDb::borrow_sender)).
pub type PooledSender<'a> = super::pool::Pooled<'a, Sender>;

impl super::pool::Poolable for Sender {
    fn reusable(&self) -> bool {
        self.is_connected()
    }

    fn gone(&self) -> bool {
        self.peer_gone()
    }
}

impl Sender {
    fn qwp(q: QwpSender) -> Sender {
        Sender {
            wire: Wire::Qwp(Box::new(q)),
        }
    }

    /// Connects to the first endpoint of `conf` that takes writes (see
    /// the endpoint walk in [`crate::client`]: replicas answer 421 and are
    /// passed at once); with `initial_connect_retry=on`, rounds repeat
    /// with backoff within `reconnect_max_duration_millis`.
    pub fn connect(conf: &Conf) -> Result<Sender> {
        if conf.scheme().is_ilp() {
            return Ok(Sender {
                wire: Wire::Ilp {
                    ilp: Box::new(IlpSender::connect(conf)?),
                    cap: usize::MAX,
                },
            });
        }
        QwpSender::connect(conf).map(Sender::qwp)
    }

    /// Connects with explicit transport options (reconnects go to the same
    /// endpoint with the default budget of 5 minutes).
    pub fn connect_with(opts: &ConnectOptions) -> Result<Sender> {
        QwpSender::connect_with(opts).map(Sender::qwp)
    }

    /// A QWP sender that publishes into `queue` (no connection of its
    /// own): `budget` is the frame budget, `dict` the dictionary the queue
    /// already holds, `loopback` whether the server is on this host.
    pub(crate) fn publisher(
        conf: Option<Conf>,
        opts: ConnectOptions,
        queue: std::sync::Arc<crate::client::sf::SfQueue>,
        budget: usize,
        dict: crate::bridge::column_data::SymbolDict,
        loopback: bool,
    ) -> Sender {
        Sender::qwp(QwpSender::publisher(
            conf, opts, queue, budget, dict, loopback,
        ))
    }

    /// The configuration it connected with (`None` for
    /// [`Sender::connect_with`]).
    pub fn conf(&self) -> Option<&Conf> {
        match &self.wire {
            Wire::Qwp(q) => q.conf(),
            Wire::Ilp { ilp, .. } => Some(ilp.conf()),
        }
    }

    /// Drops the connection when frames written without waiting are not
    /// all acknowledged (what they carry is discarded), so nobody inherits
    /// them.
    pub(crate) fn abandon_pending(&mut self) {
        match &mut self.wire {
            Wire::Qwp(q) => q.abandon_pending(),
            // Nothing is left unanswered between ILP calls.
            Wire::Ilp { .. } => {}
        }
    }

    /// Whether the connection is open (after an error it is dropped and the
    /// next call reconnects).
    pub fn is_connected(&self) -> bool {
        match &self.wire {
            Wire::Qwp(q) => q.is_connected(),
            Wire::Ilp { ilp, .. } => ilp.reusable(),
        }
    }

    /// Whether the connection is gone (disconnected, or closed by the
    /// server while unused; see
    /// [`Connection::peer_gone`](crate::transport::Connection::peer_gone)).
    /// For the pool.
    pub(crate) fn peer_gone(&self) -> bool {
        match &self.wire {
            Wire::Qwp(q) => q.peer_gone(),
            Wire::Ilp { ilp, .. } => !ilp.reusable(),
        }
    }

    /// The frame size budget in bytes (whole QWP message).
    pub fn frame_budget(&self) -> usize {
        match &self.wire {
            Wire::Qwp(q) => q.frame_budget(),
            Wire::Ilp { cap, .. } => DEFAULT_FRAME_BUDGET_BYTES.min(*cap),
        }
    }

    /// Lowers (never raises) the frame budget for later calls, e.g. for
    /// tests.
    pub fn set_frame_budget(&mut self, bytes: usize) {
        match &mut self.wire {
            Wire::Qwp(q) => q.set_frame_budget(bytes),
            Wire::Ilp { cap, .. } => *cap = lower_cap(*cap, bytes),
        }
    }

    /// Sends `batch` to `table` and waits until the server acknowledged all
    /// of it. `ts_col` names the designated timestamp column; `None` lets
    /// the server assign the time. A batch larger than one frame commits
    /// atomically. On error nothing of this batch is committed and the
    /// connection is dropped (the next call reconnects); resending is the
    /// caller's choice. Under [`Policy::DropAndContinue`] for the
    /// rejection's category it returns `Ok` with the batch in
    /// [`IngestSummary::dropped`] instead, and the connection stays.
    ///
    /// [`Policy::DropAndContinue`]: super::policy::Policy::DropAndContinue
    pub fn flush_arrow_batch(
        &mut self,
        table: &str,
        batch: &RecordBatch,
        ts_col: Option<&str>,
    ) -> Result<IngestSummary> {
        let mut opts = IngestOptions::new();
        opts.ts_column = ts_col.map(str::to_string);
        self.flush_arrow_batch_with(table, batch, &opts)
    }

    /// [`Self::flush_arrow_batch`] with every option of [`IngestOptions`].
    pub fn flush_arrow_batch_with(
        &mut self,
        table: &str,
        batch: &RecordBatch,
        opts: &IngestOptions,
    ) -> Result<IngestSummary> {
        match &mut self.wire {
            Wire::Qwp(q) => q.flush_arrow_batch_with(table, batch, opts),
            Wire::Ilp { ilp, .. } => ilp.flush_arrow_batch(table, batch, opts),
        }
    }

    /// Streams every batch of `reader` (any `RecordBatchReader`, or any
    /// iterator of `Result<RecordBatch, ArrowError>`) into `table`, each
    /// batch committed atomically, frames pipelined, memory bounded (see the
    /// module docs). Returns when every batch is acknowledged at
    /// `opts`' ack level. A dropped connection or a retriable rejection is
    /// survived by reconnecting and replaying the batches not yet committed
    /// (at-least-once). Server rejections follow the error policies (see
    /// the module docs): a halt stops the stream with an error that says
    /// how many rows were committed; a dropped batch is listed in
    /// [`IngestSummary::dropped`].
    pub fn ingest<I>(
        &mut self,
        table: &str,
        reader: I,
        opts: &IngestOptions,
    ) -> Result<IngestSummary>
    where
        I: IntoIterator<Item = std::result::Result<RecordBatch, ArrowError>>,
    {
        match &mut self.wire {
            Wire::Qwp(q) => q.ingest(table, reader, opts),
            Wire::Ilp { ilp, .. } => ilp.ingest(table, reader, opts),
        }
    }

    /// [`Self::ingest`] over plain batches.
    pub fn ingest_batches(
        &mut self,
        table: &str,
        batches: impl IntoIterator<Item = RecordBatch>,
        opts: &IngestOptions,
    ) -> Result<IngestSummary> {
        self.ingest(table, batches.into_iter().map(Ok), opts)
    }

    /// Sends `tables` (each a table, a batch and its designated timestamp
    /// column) as one transaction: in one frame with one table block per
    /// entry when that fits the frame budget, else in several frames of
    /// which only the last commits. Returns when the server acknowledged
    /// it at `opts`' ack level (the `timestamp_column` and overrides of
    /// `opts` are not used: each entry names its own). A lost connection or
    /// a retriable rejection is survived as in [`Sender::ingest`]
    /// (reconnect, resend); other rejections follow the error policies. On
    /// error nothing of it is committed, unless the error says otherwise.
    pub fn flush_tables(
        &mut self,
        tables: Vec<TableBatch>,
        opts: &IngestOptions,
    ) -> Result<IngestSummary> {
        self.send_tables(tables, opts, true)
    }

    /// [`Self::flush_tables`]; without `wait` it returns once the frames
    /// are written (at most [`IngestOptions::in_flight_frames`] awaiting
    /// their acknowledgement): the transaction stays held for a replay
    /// until acknowledged, and a later call waits for it (and reports its
    /// rejection).
    pub(crate) fn send_tables(
        &mut self,
        tables: Vec<TableBatch>,
        opts: &IngestOptions,
        wait: bool,
    ) -> Result<IngestSummary> {
        match &mut self.wire {
            Wire::Qwp(q) => q.send_tables(tables, opts, wait),
            Wire::Ilp { ilp, .. } => ilp.send_tables(tables, opts),
        }
    }

    /// Frames this sender queued (0 for an ILP sender: it queues none).
    pub(crate) fn published_frames(&self) -> u64 {
        match &self.wire {
            Wire::Qwp(q) => q.published_frames(),
            Wire::Ilp { .. } => 0,
        }
    }

    /// FSN of the last frame this sender queued (0: none; always for an
    /// ILP sender).
    pub(crate) fn last_fsn(&self) -> u64 {
        match &self.wire {
            Wire::Qwp(q) => q.last_fsn(),
            Wire::Ilp { .. } => 0,
        }
    }

    /// Plans `batch` for `table` (overrides and the designated timestamp
    /// of `opts`) and publishes it as one transaction into the
    /// store-and-forward queue; returns the FSN of its committing frame.
    /// An ILP sender has no queue: an [`ErrorKind::Unsupported`] error
    /// naming its scheme.
    pub(crate) fn publish_batch(
        &mut self,
        table: &str,
        batch: &RecordBatch,
        opts: &IngestOptions,
    ) -> Result<u64> {
        match &mut self.wire {
            Wire::Qwp(q) => q.publish_batch(table, batch, opts),
            Wire::Ilp { ilp, .. } => {
                Err(ilp::write_only(ilp.conf(), "store-and-forward publishes"))
            }
        }
    }
}

#[cfg(test)]
mod tests;
