//! [`QuestDb`]: the process-wide handle — lazy, pooled, `Send + Sync`.

use std::ops::{Deref, DerefMut};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use arrow::array::RecordBatch;
use arrow::error::ArrowError;

use super::query::{Cursor, Query, Reader};
use super::sender::{AckLevel, IngestOptions, IngestSummary, Sender};
use crate::bridge::overrides::ColumnOverride;
use crate::conf::Conf;
use crate::error::{Error, ErrorKind, Result};
use crate::transport::ConnectOptions;

/// Idle connections kept per kind; more are closed when returned.
pub const MAX_IDLE_CONNECTIONS: usize = 16;

/// A handle to one QuestDB (or embedded) server: create one per process and
/// share it (`Send + Sync`, e.g. in an `Arc`).
///
/// It is lazy: [`QuestDb::connect`] only validates the connect string; the
/// first call that needs the server opens a connection, so an unreachable
/// server, a TLS or an auth failure surfaces there. Connections are reused:
/// each call borrows an idle one (or opens one) and returns it afterwards;
/// a connection that failed is dropped instead.
///
/// ```no_run
/// use questdb_arrow::client::{AckLevel, QuestDb};
/// # fn batch() -> questdb_arrow::arrow::array::RecordBatch { unimplemented!() }
/// let db = QuestDb::connect("ws::addr=localhost:9000;")?;
/// db.flush_arrow_batch("trades", &batch(), Some("ts"), &[], AckLevel::Ok)?;
/// # Ok::<(), questdb_arrow::Error>(())
/// ```
pub struct QuestDb {
    conf: Conf,
    senders: Mutex<Vec<Sender>>,
    readers: Mutex<Vec<Reader>>,
    closed: AtomicBool,
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<QuestDb>();
};

impl std::fmt::Debug for QuestDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuestDb")
            .field("addrs", &self.conf.addrs)
            .field("closed", &self.closed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// A pooled ingest connection borrowed from [`QuestDb::borrow_sender`];
/// it goes back to the pool when dropped (unless it failed).
pub struct PooledSender<'a> {
    db: &'a QuestDb,
    sender: Option<Sender>,
}

impl Deref for PooledSender<'_> {
    type Target = Sender;
    fn deref(&self) -> &Sender {
        self.sender.as_ref().expect("present until drop")
    }
}

impl DerefMut for PooledSender<'_> {
    fn deref_mut(&mut self) -> &mut Sender {
        self.sender.as_mut().expect("present until drop")
    }
}

impl Drop for PooledSender<'_> {
    fn drop(&mut self) {
        if let Some(s) = self.sender.take()
            && s.is_connected()
            && !self.db.closed.load(Ordering::SeqCst)
            && let Ok(mut idle) = self.db.senders.lock()
            && idle.len() < MAX_IDLE_CONNECTIONS
        {
            idle.push(s);
        }
    }
}

/// A pooled query connection borrowed from [`QuestDb::borrow_reader`];
/// it goes back to the pool when dropped (unless it failed).
pub struct PooledReader<'a> {
    db: &'a QuestDb,
    reader: Option<Reader>,
}

impl std::fmt::Debug for PooledReader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.reader.fmt(f)
    }
}

impl Deref for PooledReader<'_> {
    type Target = Reader;
    fn deref(&self) -> &Reader {
        self.reader.as_ref().expect("present until drop")
    }
}

impl DerefMut for PooledReader<'_> {
    fn deref_mut(&mut self) -> &mut Reader {
        self.reader.as_mut().expect("present until drop")
    }
}

impl Drop for PooledReader<'_> {
    fn drop(&mut self) {
        if let Some(r) = self.reader.take()
            && r.is_connected()
            && !self.db.closed.load(Ordering::SeqCst)
            && let Ok(mut idle) = self.db.readers.lock()
            && idle.len() < MAX_IDLE_CONNECTIONS
        {
            idle.push(r);
        }
    }
}

impl QuestDb {
    /// Parses and validates `conf` (a `ws::` or `wss::` connect string)
    /// without connecting.
    pub fn connect(conf: &str) -> Result<QuestDb> {
        QuestDb::from_conf(Conf::parse(conf)?)
    }

    /// Like [`QuestDb::connect`] with the connect string in
    /// `QDB_CLIENT_CONF`.
    pub fn from_env() -> Result<QuestDb> {
        QuestDb::from_conf(Conf::from_env()?)
    }

    /// A handle for an already parsed configuration (validated here: every
    /// address, TLS files, auth).
    pub fn from_conf(conf: Conf) -> Result<QuestDb> {
        for a in &conf.addrs {
            ConnectOptions::from_conf(&conf, a)?;
        }
        if conf.addrs.is_empty() {
            return Err(Error::new(
                ErrorKind::Config,
                "no addr in the connect string",
            ));
        }
        Ok(QuestDb {
            conf,
            senders: Mutex::new(Vec::new()),
            readers: Mutex::new(Vec::new()),
            closed: AtomicBool::new(false),
        })
    }

    /// The configuration.
    pub fn conf(&self) -> &Conf {
        &self.conf
    }

    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(Error::new(ErrorKind::Closed, "QuestDb handle was closed"));
        }
        Ok(())
    }

    /// Borrows an ingest connection: an idle one, or a new one.
    pub fn borrow_sender(&self) -> Result<PooledSender<'_>> {
        self.check_open()?;
        let idle = self
            .senders
            .lock()
            .map_err(|_| Error::new(ErrorKind::Closed, "connection pool poisoned"))?
            .pop();
        let sender = match idle {
            Some(s) => s,
            None => Sender::connect(&self.conf)?,
        };
        Ok(PooledSender {
            db: self,
            sender: Some(sender),
        })
    }

    /// Borrows a query connection: an idle one, or a new one (which reads
    /// the server's SERVER_INFO first).
    pub fn borrow_reader(&self) -> Result<PooledReader<'_>> {
        self.check_open()?;
        let idle = self
            .readers
            .lock()
            .map_err(|_| Error::new(ErrorKind::Closed, "connection pool poisoned"))?
            .pop();
        let reader = match idle {
            Some(r) => r,
            None => Reader::connect(&self.conf)?,
        };
        Ok(PooledReader {
            db: self,
            reader: Some(reader),
        })
    }

    /// A query on a pooled connection, to add binds and options to:
    /// `db.query(sql)?.bind_i64(1).execute()?`.
    pub fn query(&self, sql: &str) -> Result<Query<'_>> {
        Ok(Query::pooled(self.borrow_reader()?, sql))
    }

    /// Runs `sql` on a pooled connection and returns the streaming cursor
    /// (a `RecordBatchReader`); the connection returns to the pool when the
    /// cursor is dropped.
    pub fn query_arrow(&self, sql: &str) -> Result<Cursor<'_>> {
        self.query(sql)?.execute()
    }

    /// Sends `batch` to `table` and blocks until the server acknowledged
    /// all of it at `ack` level — the same meaning as the official
    /// client's call: `ts_col` is the designated timestamp column (`None`:
    /// the server assigns the time), `overrides` are per-column QuestDB
    /// type choices. A batch larger than one frame commits atomically. On
    /// error nothing of it is committed; the caller may resend.
    pub fn flush_arrow_batch(
        &self,
        table: &str,
        batch: &RecordBatch,
        ts_col: Option<&str>,
        overrides: &[(&str, ColumnOverride)],
        ack: AckLevel,
    ) -> Result<IngestSummary> {
        let mut opts = IngestOptions::new().ack(ack);
        if let Some(ts) = ts_col {
            opts = opts.timestamp_column(ts);
        }
        for (c, o) in overrides {
            opts = opts.column_override(*c, *o);
        }
        self.borrow_sender()?
            .flush_arrow_batch_with(table, batch, &opts)
    }

    /// Streams a `RecordBatchReader` (or any iterator of
    /// `Result<RecordBatch, ArrowError>`) into `table` with pipelined
    /// frames and bounded memory, surviving dropped connections
    /// (at-least-once); see [`Sender::ingest`].
    pub fn ingest<I>(&self, table: &str, reader: I, opts: &IngestOptions) -> Result<IngestSummary>
    where
        I: IntoIterator<Item = std::result::Result<RecordBatch, ArrowError>>,
    {
        self.borrow_sender()?.ingest(table, reader, opts)
    }

    /// [`QuestDb::ingest`] over plain batches.
    pub fn ingest_batches(
        &self,
        table: &str,
        batches: impl IntoIterator<Item = RecordBatch>,
        opts: &IngestOptions,
    ) -> Result<IngestSummary> {
        self.borrow_sender()?.ingest_batches(table, batches, opts)
    }

    /// Closes the idle connections; later calls fail with
    /// [`ErrorKind::Closed`]. Borrowed connections close when returned.
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        if let Ok(mut idle) = self.senders.lock() {
            idle.clear();
        }
        if let Ok(mut idle) = self.readers.lock() {
            idle.clear();
        }
    }

    /// Idle pooled query connections (for tests and metrics).
    pub fn idle_readers(&self) -> usize {
        self.readers.lock().map_or(0, |v| v.len())
    }

    /// Idle pooled ingest connections (for tests and metrics).
    pub fn idle_senders(&self) -> usize {
        self.senders.lock().map_or(0, |v| v.len())
    }
}
