//! Arrow ingest over one `/write/v4` connection: the engine behind
//! [`QuestDb::flush_arrow_batch`](super::QuestDb::flush_arrow_batch) and
//! [`QuestDb::ingest`](super::QuestDb::ingest).
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

use arrow::error::ArrowError;

use crate::error::{Error, ErrorKind};

mod options;
mod qwp;

pub use options::{AckLevel, Gorilla, IngestOptions, IngestSummary, Progress, ProgressFn};
pub(crate) use qwp::budget_of;
pub use qwp::{
    ACK_TIMEOUT, DEFAULT_FRAME_BUDGET_BYTES, DEFAULT_IN_FLIGHT_FRAMES, PooledSender, Sender,
    TableBatch,
};

/// The error of input batch `k` that could not be read (never retried: a
/// reconnect cannot fix the input); the input's error is its source.
pub(crate) fn input_error(k: usize, e: ArrowError) -> Error {
    Error::arrow(
        ErrorKind::InvalidData,
        format!("reading input batch {k}"),
        e,
    )
}
