//! Asynchronous delivery through a store-and-forward queue: the
//! [`AsyncSender`].
//!
//! # Delivery model
//!
//! questdb-arrow has two ways to ingest:
//!
//! - **Synchronous** ([`QuestDb::flush_arrow_batch`](super::QuestDb::flush_arrow_batch),
//!   [`QuestDb::ingest`](super::QuestDb::ingest), the pooled
//!   [`Sender`] and its row sender): a call returns when the
//!   server acknowledged what it sent. Nothing is kept after the call.
//! - **Asynchronous** ([`AsyncSender`]): [`AsyncSender::publish`] (and the
//!   row sender of [`AsyncSender::row_sender`]) encodes the batch into
//!   frames, appends them to a store-and-forward queue and returns the
//!   **FSN** (frame sequence number) of the frame that commits it, without
//!   waiting for the server. A background thread (the runner) sends the
//!   queue, reads the acknowledgements, reconnects (rounds over the
//!   endpoints with the `reconnect_*` backoff and budget) and replays.
//!   [`AsyncSender::wait`] blocks until everything published is
//!   acknowledged, when the caller needs that; [`AsyncSender::acked_fsn`]
//!   and [`AsyncSender::published_fsn`] show progress without blocking.
//!
//! # The queue
//!
//! Without `sf_dir` the queue is in memory (bounded by
//! `sf_max_total_bytes`, 128 MiB by default): it survives lost
//! connections and server restarts, not the end of the process. With
//! `sf_dir=<dir>` it is on disk in the slot `<dir>/<sender_id>/`, locked
//! so that no two senders share it, and it survives a crash: the next
//! `AsyncSender` on the same slot sends every frame that was not
//! acknowledged. A transaction is queued whole or not at all; if a crash
//! cut one, the next sender drops its frames (they were never reported as
//! published). With `drain_orphans=on` the sender also drains slots
//! under `sf_dir` that no live sender holds (up to
//! `max_background_drainers` at once).
//!
//! When the queue is full (the server is down or slower than the
//! producer), publishing blocks up to `sf_append_deadline_millis`, then
//! fails with [`ErrorKind::Timeout`]; nothing
//! already queued is lost and the batch can be published again.
//!
//! # At-least-once
//!
//! A frame that reached the server but whose acknowledgement was lost
//! (the connection dropped, the client crashed) is sent again, so
//! delivery is **at-least-once**. Declare `DEDUP UPSERT KEYS(ts, …)` on
//! tables written this way: a replayed transaction then writes no
//! duplicate rows.
//!
//! # Errors
//!
//! A call returns only the errors of the call itself: bad input, a full
//! queue past its deadline, a disk error, and the sender's terminal error
//! once delivery stopped. Server rejections arrive later, on the runner;
//! each one is applied as the error policies say (`on_*_error`,
//! [`IngestOptions::on_error`]):
//!
//! - drop: the transaction is dropped (nothing of it is stored) and
//!   delivery goes on;
//! - retry: delivery reconnects and sends again from the oldest
//!   unacknowledged frame, at most `max_frame_rejections` times in a row
//!   without a commit;
//! - halt: delivery stops, the sender is terminal
//!   ([`AsyncSender::must_close`]) and every later call returns the
//!   error. The rejected transaction leaves the queue (sent again it would
//!   only be rejected again); the frames after it stay queued, for the
//!   next sender on the slot.
//!
//! Each rejection (and the error that halted delivery) is also put in a
//! bounded inbox of `error_inbox_capacity` [`SenderError`]s, read with
//! [`AsyncSender::poll_error`]; when it is full, newer notifications are
//! counted in [`Counters::dropped_error_notifications`] and not kept.
//!
//! # Acknowledgement levels
//!
//! [`AsyncSender::wait`] with [`AckLevel::Ok`] waits for the server's
//! acknowledgements; with [`AckLevel::Durable`] (needs
//! `request_durable_ack=on` and a server that grants it) for the durable
//! acknowledgements that cover every table each transaction committed to.
//! Frames are sized for the frame budget of the server connected at open
//! (1.9 MB when unknown, e.g. with `initial_connect_retry=async`), and
//! [`Gorilla::Auto`](super::Gorilla::Auto) picks the timestamp encoding
//! for that server too (as for a remote one when none is connected yet).

mod report;
mod runner;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;

use crate::bridge::column_data::SymbolDict;

use super::connect::{self, Fit};
use super::policy::Policies;
use super::rows::RowSender;
use super::sender::{AckLevel, IngestOptions, Sender, budget_of};
use super::sf::{Recovered, SfOptions, SfQueue, orphan_slots};
use crate::conf::{Conf, InitialConnectRetry};
use crate::error::{Error, ErrorKind, Result};
use crate::transport::{ConnectOptions, Connection, Handshake, Route};
pub use report::{Applied, Counters, SenderError};
use report::{Shared, halted};
use runner::{Runner, commits};

/// A sender that publishes into a store-and-forward queue and delivers in
/// the background; see the [module docs](self).
///
/// Dropping it closes it as [`AsyncSender::close`] does, without the
/// result: call `close` to learn whether everything was delivered.
pub struct AsyncSender {
    inner: Sender,
    queue: Arc<SfQueue>,
    shared: Arc<Shared>,
    runner: Option<JoinHandle<()>>,
    drainers: Vec<JoinHandle<()>>,
    recovered: Recovered,
    /// The last FSN the slot held when opened (what `wait` also covers).
    recovered_end: u64,
    close_timeout: Duration,
    /// `request_durable_ack=on`.
    durable_asked: bool,
}

impl std::fmt::Debug for AsyncSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncSender")
            .field("slot", &self.queue.slot_dir())
            .field("published_fsn", &self.published_fsn())
            .field("acked_fsn", &self.queue.acked_fsn().ok())
            .finish_non_exhaustive()
    }
}

/// The queue options of a connect string's `sf_*` keys.
pub fn sf_options(conf: &Conf) -> SfOptions {
    SfOptions {
        dir: conf.sf_dir().map(Into::into),
        sender_id: conf.sender_id().to_string(),
        max_total_bytes: conf.sf_max_total_bytes(),
        max_segment_bytes: conf.sf_max_segment_bytes(),
        durability: conf.sf_durability(),
        sync_interval: conf.sf_sync_interval(),
        append_deadline: conf.sf_append_deadline(),
    }
}

/// Frames `(after, to]` at the end of a reopened queue that belong to a
/// transaction without its committing frame (a crash cut it): they are
/// never sent. When nothing committed follows the acknowledged FSN they
/// are acknowledged at once (dropped).
fn uncommitted_tail(queue: &SfQueue, rec: &mut Recovered) -> Result<Option<(u64, u64)>> {
    let (acked, last) = (queue.acked_fsn()?, queue.next_fsn()? - 1);
    let mut f = last;
    let mut buf = Vec::new();
    while f > acked {
        if queue.read_frame(f, &mut buf)? && commits(&buf) {
            break;
        }
        f -= 1;
    }
    if f == last {
        return Ok(None);
    }
    rec.warnings.push(format!(
        "store-and-forward: frames {}..={last} are a transaction without its commit (cut by a crash); they are dropped, not sent",
        f + 1
    ));
    if f == acked {
        queue.ack(last)?;
        return Ok(None);
    }
    Ok(Some((f, last)))
}

impl AsyncSender {
    /// Opens the queue of `conf` (memory, or the `sf_dir` slot of
    /// `sender_id`, recovered), connects (one round over the endpoints, or
    /// rounds with backoff with `initial_connect_retry=on`; with `async` it
    /// returns at once and the delivery thread connects, within
    /// `reconnect_max_duration_millis`) and starts delivery, with the
    /// connect string's error policies.
    pub fn open(conf: &Conf) -> Result<AsyncSender> {
        AsyncSender::open_with(conf, &IngestOptions::new())
    }

    /// [`AsyncSender::open`] with the error policies
    /// ([`IngestOptions::on_error`]) and the frames in flight
    /// ([`IngestOptions::in_flight_frames`]) of `opts`.
    pub fn open_with(conf: &Conf, opts: &IngestOptions) -> Result<AsyncSender> {
        if conf.scheme().is_ilp() {
            return Err(crate::client::ilp::write_only(
                conf,
                "the AsyncSender's store-and-forward delivery and acknowledgements",
            )
            .context("AsyncSender"));
        }
        let (queue, mut recovered) = SfQueue::open(sf_options(conf))?;
        let queue = Arc::new(queue);
        let skip = uncommitted_tail(&queue, &mut recovered)?;
        let recovered_end = queue.next_fsn()? - 1;
        // `initial_connect_retry=async`: the runner makes the first
        // connection too; frames get the default budget.
        let (first, copts, endpoint) =
            if conf.initial_connect_retry() == InitialConnectRetry::Async {
                let addr = conf.addrs().first().ok_or_else(|| {
                    Error::new(ErrorKind::Config, "no addr in the connect string")
                })?;
                (None, ConnectOptions::from_conf(conf, addr), 0)
            } else {
                let (c, o, i) = connect::connect(
                    conf,
                    0,
                    connect::initial_retry(conf),
                    |o| Connection::connect(o, Route::Ingest),
                    |_| Fit::Yes,
                )?;
                (Some(c), o, i)
            };
        let budget = budget_of(first.as_ref().and_then(|(_, hs)| hs.max_batch_size));
        // Gorilla::Auto decides on the server connected at open, as a
        // connection's sender does (remote when none is yet).
        let loopback = first.as_ref().is_some_and(|(c, _)| c.is_loopback());
        let shared = Arc::new(Shared::new(conf.error_inbox_capacity()));
        let policies = Policies::resolve(opts.policy_overrides(), Some(conf));
        let runner = Runner {
            queue: queue.clone(),
            shared: shared.clone(),
            conf: conf.clone(),
            policies,
            window: opts.window(),
            skip,
            endpoint,
            max_sent: queue.next_fsn()? - 1,
            max_keyed: queue.next_fsn()? - 1,
            last_failure: None,
            undurable: Default::default(),
            durable: Default::default(),
        };
        let dict = SymbolDict::from_entries(queue.dictionary()?)?;
        let handle = spawn("qa-sf-runner", runner, first)?;
        let inner = Sender::publisher(
            Some(conf.clone()),
            copts,
            queue.clone(),
            budget,
            dict,
            loopback,
        );
        let mut s = AsyncSender {
            inner,
            queue,
            shared,
            runner: Some(handle),
            drainers: Vec::new(),
            recovered,
            recovered_end,
            close_timeout: conf.close_flush_timeout(),
            durable_asked: conf.request_durable_ack(),
        };
        if conf.drain_orphans() {
            s.drainers = drain_orphans(conf, policies, opts.window(), &s.shared)?;
        }
        Ok(s)
    }

    /// What opening the queue found: frames recovered from `sf_dir`,
    /// whether a corrupt tail was cut, warnings.
    pub fn recovered(&self) -> &Recovered {
        &self.recovered
    }

    /// The slot directory in disk mode.
    pub fn slot_dir(&self) -> Option<std::path::PathBuf> {
        self.queue.slot_dir()
    }

    /// The terminal error, as an error, if delivery stopped.
    fn check(&self) -> Result<()> {
        match self.shared.terminal() {
            Some(t) => Err(t
                .to_error()
                .context("the sender is terminal (delivery stopped); close it and open a new one")),
            None => Ok(()),
        }
    }

    /// Queues `batch` for `table` as one transaction and returns the FSN
    /// of its committing frame; does not wait for the server. `ts_col`
    /// names the designated timestamp column (`None`: the server assigns
    /// the time). Blocks only while the queue is full (up to
    /// `sf_append_deadline_millis`). On error nothing of the batch is
    /// queued.
    pub fn publish(
        &mut self,
        table: &str,
        batch: &RecordBatch,
        ts_col: Option<&str>,
    ) -> Result<u64> {
        let mut opts = IngestOptions::new();
        if let Some(t) = ts_col {
            opts = opts.timestamp_column(t);
        }
        self.publish_with(table, batch, &opts)
    }

    /// [`AsyncSender::publish`] with the designated timestamp, column
    /// overrides and Gorilla choice of `opts`.
    pub fn publish_with(
        &mut self,
        table: &str,
        batch: &RecordBatch,
        opts: &IngestOptions,
    ) -> Result<u64> {
        self.check()?;
        self.inner
            .publish_batch(table, batch, opts)
            .map_err(|e| e.context(format!("table {table}: not published")))
    }

    /// Publishes a polars `DataFrame` as [`AsyncSender::publish`] does
    /// (one transaction).
    #[cfg(feature = "polars")]
    pub fn publish_polars(
        &mut self,
        table: &str,
        df: &polars::prelude::DataFrame,
        ts_col: Option<&str>,
    ) -> Result<u64> {
        let batches = crate::polars_io::dataframe_to_batches(df, usize::MAX)?;
        let mut last = self.published_fsn();
        let Some(first) = batches.first() else {
            return Ok(last);
        };
        let batch = arrow::compute::concat_batches(&first.schema(), &batches)
            .map_err(|e| Error::arrow(ErrorKind::InvalidData, format!("table {table}"), e))?;
        last = self.publish(table, &batch, ts_col)?;
        Ok(last)
    }

    /// A row sender whose flushes (explicit and automatic) publish into
    /// this sender's queue instead of waiting for the server: its `flush`
    /// returns once the rows are queued. Auto-flush triggers and buffer
    /// limits come from the connect string.
    pub fn row_sender(&mut self) -> Result<RowSender<&mut Sender>> {
        self.check()?;
        Ok(self.inner.row_sender())
    }

    /// Lowers (never raises) the frame size for later publishes, e.g. to
    /// test multi-frame transactions.
    pub fn set_frame_budget(&mut self, bytes: usize) {
        self.inner.set_frame_budget(bytes);
    }

    /// FSN of the last frame published (0: none).
    pub fn published_fsn(&self) -> u64 {
        self.inner.last_fsn()
    }

    /// The highest FSN the server acknowledged (every frame up to it is
    /// stored or was dropped by policy).
    pub fn acked_fsn(&self) -> Result<u64> {
        self.queue.acked_fsn()
    }

    /// Blocks until every frame published so far (and every frame
    /// recovered from `sf_dir` when it opened) is acknowledged at
    /// `level`. `timeout` is a no-progress deadline: it fires only when
    /// the acknowledged FSN has not moved for that long
    /// ([`Duration::ZERO`] waits without limit); then the error is
    /// [`ErrorKind::Timeout`] and the frames stay queued. Returns the
    /// terminal error if delivery stopped.
    pub fn wait(&self, level: AckLevel, timeout: Duration) -> Result<()> {
        let last = self.published_fsn().max(self.recovered_end);
        self.wait_for(last, level, timeout)
    }

    /// [`AsyncSender::wait`] for the frames up to `fsn` only.
    pub fn wait_for(&self, fsn: u64, level: AckLevel, timeout: Duration) -> Result<()> {
        let durable = level == AckLevel::Durable;
        if durable && !self.durable_asked {
            return Err(Error::config(
                "request_durable_ack",
                "off",
                "AckLevel::Durable needs request_durable_ack=on",
            ));
        }
        let reached = |s: &Self| -> Result<u64> {
            if durable {
                Ok(s.shared.durable_fsn.load(Ordering::Relaxed))
            } else {
                s.queue.acked_fsn()
            }
        };
        let mut seen = reached(self)?;
        let mut since = Instant::now();
        loop {
            // A halt at or below `fsn` (or one not tied to a frame) is the
            // answer even when its transaction left the queue.
            if let Some(t) = self.shared.terminal()
                && (t.from_fsn == 0 || t.from_fsn <= fsn)
                && (seen < fsn || t.from_fsn > 0)
            {
                return Err(t.to_error().context(
                    "the sender is terminal (delivery stopped); close it and open a new one",
                ));
            }
            if seen >= fsn {
                return Ok(());
            }
            let slice = Duration::from_millis(50);
            if durable {
                // (Every connection was granted durable acks: the
                // transport refuses one that is not.)
                std::thread::sleep(Duration::from_millis(2));
            } else {
                self.queue.wait_acked(fsn, Some(slice))?;
            }
            let now = reached(self)?;
            if now != seen {
                seen = now;
                since = Instant::now();
            } else if !timeout.is_zero() && since.elapsed() >= timeout {
                return Err(Error::new(
                    ErrorKind::Timeout,
                    format!(
                        "no acknowledgement progress within {timeout:?}: FSN {seen} acknowledged, waiting for {fsn}; the frames stay queued"
                    ),
                ));
            }
        }
    }

    /// Whether delivery stopped for good (a halting rejection, an
    /// authentication failure, the reconnect budget spent): publish no
    /// more, [`close`](AsyncSender::close) it and open a new one.
    pub fn must_close(&self) -> bool {
        self.shared.terminal().is_some()
    }

    /// The error that stopped delivery, if it stopped (it stays; the
    /// inbox has it too).
    pub fn terminal_error(&self) -> Option<SenderError> {
        self.shared.terminal()
    }

    /// The oldest server rejection not read yet (see the
    /// [module docs](self#errors)).
    pub fn poll_error(&self) -> Option<SenderError> {
        self.shared.poll()
    }

    /// Delivery counters.
    pub fn counters(&self) -> Counters {
        let mut c = self.shared.counters();
        c.frames_published = self.inner.published_frames();
        c.backpressure_stalls = self.queue.stalls().unwrap_or(0);
        c
    }

    /// Stops accepting batches, waits up to `close_flush_timeout_millis`
    /// for every published frame to be acknowledged, and stops delivery.
    /// Frames not acknowledged by then stay in `sf_dir` for the next sender
    /// on the slot (in memory mode they are lost, and the error says how
    /// many). Returns the terminal error if delivery had stopped.
    pub fn close(mut self) -> Result<()> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<()> {
        let Some(runner) = self.runner.take() else {
            return Ok(());
        };
        let closed = self.queue.close();
        self.shared.closing.store(true, Ordering::Relaxed);
        let target = self.published_fsn().max(self.recovered_end);
        let deadline = Instant::now() + self.close_timeout;
        while self.queue.acked_fsn().unwrap_or(0) < target
            && self.shared.terminal().is_none()
            && Instant::now() < deadline
        {
            let _ = self
                .queue
                .wait_acked(target, Some(Duration::from_millis(50)));
        }
        self.shared.abort.store(true, Ordering::Relaxed);
        let joined = runner.join();
        for d in self.drainers.drain(..) {
            let _ = d.join();
        }
        if joined.is_err() {
            return Err(Error::new(
                ErrorKind::Internal,
                "store-and-forward runner thread panicked",
            ));
        }
        self.check()?;
        closed?;
        let left = self.queue.pending_frames()?;
        if left > 0 {
            let fate = if self.queue.slot_dir().is_some() {
                "they stay in sf_dir and the next sender on this slot sends them"
            } else {
                "the queue is in memory: they are lost"
            };
            return Err(Error::new(
                ErrorKind::Timeout,
                format!(
                    "closed with {left} frames not acknowledged after close_flush_timeout_millis={}; {fate}",
                    self.close_timeout.as_millis()
                ),
            ));
        }
        Ok(())
    }
}

impl Drop for AsyncSender {
    fn drop(&mut self) {
        // The outcome is `close`'s to report; dropping cannot return it.
        let _ = self.shutdown();
    }
}

fn spawn(name: &str, r: Runner, first: Option<(Connection, Handshake)>) -> Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || r.run(first))
        .map_err(|e| {
            Error::wrap(
                ErrorKind::Io,
                "starting the store-and-forward runner thread",
                e,
            )
        })
}

/// Starts drainers for the orphaned slots under `sf_dir` (no live sender
/// holds them, frames are left): each opens the slot, sends it until it
/// is acknowledged, and ends. Their errors go to the owner's inbox.
fn drain_orphans(
    conf: &Conf,
    policies: Policies,
    window: usize,
    owner: &Arc<Shared>,
) -> Result<Vec<JoinHandle<()>>> {
    let Some(dir) = conf.sf_dir() else {
        return Ok(Vec::new());
    };
    let mut slots = orphan_slots(dir, Some(conf.sender_id()))?;
    let n = (conf.max_background_drainers().max(1) as usize).min(slots.len());
    let per = slots.len().div_ceil(n.max(1));
    let mut handles = Vec::new();
    while !slots.is_empty() {
        let mine: Vec<String> = slots.drain(..per.min(slots.len())).collect();
        let (conf, owner) = (conf.clone(), owner.clone());
        let h = std::thread::Builder::new()
            .name("qa-sf-drainer".to_string())
            .spawn(move || {
                for slot in mine {
                    if let Err(e) = drain_slot(&conf, &slot, policies, window, &owner) {
                        owner.notify(halted(&e.context(format!("draining orphaned slot {slot}"))));
                    }
                }
            })
            .map_err(|e| Error::wrap(ErrorKind::Io, "starting a drainer thread", e))?;
        handles.push(h);
    }
    Ok(handles)
}

/// Sends one orphaned slot until it is acknowledged (or the owner stops).
fn drain_slot(
    conf: &Conf,
    slot: &str,
    policies: Policies,
    window: usize,
    owner: &Arc<Shared>,
) -> Result<()> {
    let mut opts = sf_options(conf);
    opts.sender_id = slot.to_string();
    let (queue, mut rec) = match SfQueue::open(opts) {
        Ok(q) => q,
        // Taken meanwhile by a live sender: it is not an orphan.
        Err(e) if e.kind() == ErrorKind::Config => return Ok(()),
        Err(e) => return Err(e),
    };
    let queue = Arc::new(queue);
    let skip = uncommitted_tail(&queue, &mut rec)?;
    let shared = Arc::new(Shared::new(conf.error_inbox_capacity()));
    shared.closing.store(true, Ordering::Relaxed);
    let runner = Runner {
        queue: queue.clone(),
        shared: shared.clone(),
        conf: conf.clone(),
        policies,
        window,
        skip,
        endpoint: 0,
        max_sent: queue.next_fsn()? - 1,
        max_keyed: queue.next_fsn()? - 1,
        last_failure: None,
        undurable: Default::default(),
        durable: Default::default(),
    };
    let watch = owner.clone();
    let stop = shared.clone();
    // The owner's close stops the drainer too.
    let h = spawn("qa-sf-drain", runner, None)?;
    while !h.is_finished() {
        if watch.stopping() {
            stop.abort.store(true, Ordering::Relaxed);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = h.join();
    while let Some(e) = shared.poll() {
        owner.notify(e);
    }
    Ok(())
}
