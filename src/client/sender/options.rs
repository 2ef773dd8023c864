//! What an ingest is asked to do, and what it reports: [`IngestOptions`],
//! [`AckLevel`], [`Gorilla`], [`Progress`] and [`IngestSummary`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

// `Sender` and `DEFAULT_IN_FLIGHT_FRAMES`, for the docs and the defaults.
use super::*;
use crate::bridge::overrides::ColumnOverride;
use crate::client::policy::{Category, Dropped, Policy};

/// What to wait for before a flush or an ingest returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AckLevel {
    /// The server accepted (committed) every frame.
    #[default]
    Ok,
    /// The server also reported the commits durable. Needs
    /// `request_durable_ack=on` and a server that grants it.
    Durable,
}

/// Whether the designated timestamp is Gorilla-encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Gorilla {
    /// Where it pays (the default). Gorilla costs about 5 ns of client CPU
    /// per jittered timestamp and saves about 6 of its 8 bytes, so it pays
    /// on any link slower than about 10 Gb/s, and a regular cadence (all
    /// delta-of-deltas 0) is cheaper to encode than to copy. So: to a
    /// server on another host, Gorilla whenever it is smaller than raw; to
    /// a server on this host (loopback), Gorilla only for a regular
    /// cadence, raw otherwise.
    #[default]
    Auto,
    /// Whenever the values allow it (every delta-of-delta fits 32 bits).
    On,
    /// Never: raw 8-byte values.
    Off,
}

/// Counters of the current call, passed to the progress callback after
/// every frame written and every acknowledgement read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Rows written to the socket (a replayed row counts again).
    pub rows_sent: u64,
    /// QWP message bytes written.
    pub bytes_sent: u64,
    /// Frames written.
    pub frames_sent: u64,
    /// Rows the server acknowledged as committed.
    pub rows_acked: u64,
}

/// A progress callback.
pub type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

/// Options of [`Sender::ingest`] and friends (builder; `Default` = all
/// defaults).
#[derive(Clone, Default)]
pub struct IngestOptions {
    pub(super) ts_column: Option<String>,
    pub(super) overrides: Vec<(String, ColumnOverride)>,
    pub(super) max_rows_per_frame: Option<usize>,
    pub(super) max_bytes_per_frame: Option<usize>,
    pub(super) ack: AckLevel,
    pub(super) gorilla: Gorilla,
    pub(super) in_flight: Option<usize>,
    pub(super) progress: Option<ProgressFn>,
    pub(super) connections: usize,
    pub(super) policies: Vec<(Category, Policy)>,
}

impl fmt::Debug for IngestOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IngestOptions")
            .field("ts_column", &self.ts_column)
            .field("overrides", &self.overrides)
            .field("max_rows_per_frame", &self.max_rows_per_frame)
            .field("max_bytes_per_frame", &self.max_bytes_per_frame)
            .field("ack", &self.ack)
            .field("gorilla", &self.gorilla)
            .field("in_flight", &self.in_flight)
            .field("progress", &self.progress.is_some())
            .field("connections", &self.connections)
            .field("policies", &self.policies)
            .finish()
    }
}

impl IngestOptions {
    /// All defaults: server-assigned timestamps, no overrides, frames
    /// filled to the server's budget, wait for OK, Gorilla auto, 8 frames in
    /// flight, no callback.
    pub fn new() -> Self {
        Self::default()
    }

    /// The designated timestamp column: a Timestamp column without NULLs or
    /// negative values. Without one the server assigns the time.
    pub fn timestamp_column(mut self, name: impl Into<String>) -> Self {
        self.ts_column = Some(name.into());
        self
    }

    /// A QuestDB type choice for one column (see [`ColumnOverride`]).
    pub fn column_override(mut self, column: impl Into<String>, o: ColumnOverride) -> Self {
        self.overrides.push((column.into(), o));
        self
    }

    /// At most this many rows per frame (default and ceiling: 1 000 000).
    pub fn max_rows_per_frame(mut self, rows: usize) -> Self {
        self.max_rows_per_frame = Some(rows.max(1));
        self
    }

    /// At most this many bytes per QWP message (default: 90 % of the
    /// server's `X-QWP-Max-Batch-Size`; a larger value is lowered to that).
    pub fn max_bytes_per_frame(mut self, bytes: usize) -> Self {
        self.max_bytes_per_frame = Some(bytes.max(256));
        self
    }

    /// What to wait for before returning (default [`AckLevel::Ok`]).
    pub fn ack(mut self, level: AckLevel) -> Self {
        self.ack = level;
        self
    }

    /// Gorilla encoding of the designated timestamp (default auto).
    pub fn gorilla(mut self, g: Gorilla) -> Self {
        self.gorilla = g;
        self
    }

    /// Frames that may await acknowledgement at once (default 8, at least
    /// 1, at most 128 as the server allows).
    pub fn in_flight_frames(mut self, n: usize) -> Self {
        self.in_flight = Some(n.clamp(1, 128));
        self
    }

    /// Called after every frame written and every acknowledgement read. It
    /// runs on the ingesting thread: keep it quick.
    pub fn on_progress(mut self, f: impl Fn(&Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(f));
        self
    }

    /// Spread the stream over this many pooled connections (default 1):
    /// [`QuestDb::ingest`](crate::client::QuestDb::ingest) hands each input batch
    /// to whichever connection is free, and each still commits atomically.
    /// Batches then commit in no fixed order across connections (rows of a
    /// table with a designated timestamp are kept in timestamp order by the
    /// server either way). Each connection keeps its own frames in flight,
    /// so memory grows with `n`; the pool must allow `n` senders. Only the
    /// pooled [`QuestDb`](crate::client::QuestDb) calls read it: a [`Sender`] is
    /// one connection.
    pub fn connections(mut self, n: usize) -> Self {
        self.connections = n.max(1);
        self
    }

    pub(crate) fn progress_fn(&self) -> Option<ProgressFn> {
        self.progress.clone()
    }

    /// Connections one ingest uses (at least 1).
    pub fn connection_count(&self) -> usize {
        self.connections.max(1)
    }

    /// What a server rejection of `category` does, over the connect
    /// string's `on_*_error` keys (see [`crate::client::policy`]). Set twice, the
    /// last one wins.
    pub fn on_error(mut self, category: Category, policy: Policy) -> Self {
        self.policies.push((category, policy));
        self
    }

    /// The designated timestamp column, if set.
    pub fn ts_column(&self) -> Option<&str> {
        self.ts_column.as_deref()
    }

    /// The overrides, in order.
    pub fn overrides(&self) -> &[(String, ColumnOverride)] {
        &self.overrides
    }

    pub(crate) fn policy_overrides(&self) -> &[(Category, Policy)] {
        &self.policies
    }

    /// The ack level ([`IngestOptions::ack`]).
    pub(crate) fn ack_level(&self) -> AckLevel {
        self.ack
    }

    pub(crate) fn window(&self) -> usize {
        self.in_flight.unwrap_or(DEFAULT_IN_FLIGHT_FRAMES)
    }
}

/// What a flush or an ingest did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IngestSummary {
    /// Rows committed.
    pub rows: u64,
    /// Input batches committed.
    pub batches: u64,
    /// Frames written (replays included).
    pub frames: u64,
    /// QWP message bytes written (replays included).
    pub bytes: u64,
    /// Reconnects during the call.
    pub reconnects: u32,
    /// Wall time of the call.
    pub elapsed: Duration,
    /// Rows of the batches in [`Self::dropped`].
    pub dropped_rows: u64,
    /// Batches rejected under [`Policy::DropAndContinue`], in the order of
    /// the rejections; nothing of them was committed.
    pub dropped: Vec<Dropped>,
}

impl IngestSummary {
    /// Committed rows per second of wall time.
    pub fn rows_per_sec(&self) -> f64 {
        self.rows as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}
