//! Client API.
//!
//! - [`QuestDb`]: the process-wide handle (lazy, pooled, `Send + Sync`) with
//!   [`QuestDb::flush_arrow_batch`] (one batch, committed atomically, waits
//!   for the acknowledgement) and [`QuestDb::ingest`] (a stream of batches,
//!   pipelined, bounded memory, at-least-once across reconnects). Its
//!   connections come from two bounded pools ([`pool`]: caps, warm size,
//!   idle trimming, fail-fast borrowing at the cap).
//! - [`Sender`]: the ingest engine over one `/write/v4` connection (what
//!   the handle pools). It never copies a batch: frames are encoded from
//!   the Arrow buffers straight into the send buffer.
//! - [`Reader`] (borrowed from [`QuestDb::borrow_reader`]): SQL with binds
//!   into a streaming [`Cursor`] of Arrow batches (a `RecordBatchReader`);
//!   [`QuestDb::query_arrow`] in one call.

pub mod db;
pub mod pool;
pub mod query;
mod read_ahead;
pub mod sender;

pub use crate::bridge::overrides::ColumnOverride;
pub use db::{PooledReader, PooledSender, QuestDb};
pub use pool::PoolOptions;
pub use query::{BatchDecoder, Cursor, Decoded, Query, QueryResult, Reader, Terminal};
pub use sender::{AckLevel, Gorilla, IngestOptions, IngestSummary, Progress, Sender};

/// Walks `conf`'s addresses in order and returns the first connection
/// `connect` opens, with the options it was opened with (reconnects reuse
/// them). Auth and config errors are terminal (later endpoints would fail
/// the same way); other errors move on to the next address.
pub(crate) fn first_reachable<T>(
    conf: &Conf,
    connect: impl Fn(&ConnectOptions) -> Result<T>,
) -> Result<(T, ConnectOptions)> {
    let mut last = None;
    for addr in &conf.addrs {
        let opts = ConnectOptions::from_conf(conf, addr)?;
        match connect(&opts) {
            Ok(c) => return Ok((c, opts)),
            Err(e) if matches!(e.kind(), ErrorKind::Auth | ErrorKind::Config) => return Err(e),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| Error::new(ErrorKind::Config, "no addr in the connect string")))
}

use crate::conf::Conf;
use crate::error::{Error, ErrorKind, Result};
use crate::transport::ConnectOptions;
