//! A socket-free driver of the ingest connection handler, for fuzzing and
//! tests.

use std::sync::Arc;

use super::storage::Catalog;
use super::{Server, ServerBuilder, Shared, ingest};
use crate::error::{Error, ErrorKind, Result};

/// Drives the ingest connection handler without sockets, for fuzzing and
/// tests: each call to [`IngestHarness::feed`] is one fresh connection.
#[doc(hidden)]
pub struct IngestHarness {
    shared: Arc<Shared>,
}

#[doc(hidden)]
impl IngestHarness {
    /// A harness over an in-memory catalog (`sink`: decode only).
    pub fn new(sink: bool) -> Result<IngestHarness> {
        IngestHarness::over(Server::builder().sink(sink), Catalog::open(None)?)
    }

    /// A harness whose catalogue persists to `dir` (recovering what is
    /// there), so the write-ahead log and recovery are exercised too.
    pub fn persistent(dir: &std::path::Path) -> Result<IngestHarness> {
        IngestHarness::over(Server::builder(), Catalog::open(Some(dir.to_path_buf()))?)
    }

    fn over(cfg: ServerBuilder, catalog: Catalog) -> Result<IngestHarness> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .map_err(|e| Error::new(ErrorKind::Io, format!("tokio runtime: {e}")))?;
        Ok(IngestHarness {
            shared: Arc::new(Shared::new(cfg, Arc::new(catalog), None, runtime)),
        })
    }

    /// Feeds `frames` to one connection; returns the responses.
    pub fn feed<'f>(
        &self,
        frames: impl IntoIterator<Item = &'f [u8]>,
    ) -> Vec<crate::protocol::ingress::Response> {
        ingest::feed(&self.shared, frames)
    }

    /// Rows stored in `table`.
    pub fn rows(&self, table: &str) -> usize {
        self.shared.catalog.table(table).map_or(0, |t| t.rows())
    }
}
