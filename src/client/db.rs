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
    senders: Pool<Sender>,
    readers: Pool<Reader>,
    closed: AtomicBool,
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<QuestDb>();
};

impl std::fmt::Debug for QuestDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuestDb")
            .field("addrs", &self.conf.addrs())
            .field("closed", &self.closed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// What a pool needs to know of a connection it keeps.
pub trait Poolable: Send {
    /// Whether it can be reused (a failed connection is dropped instead).
    fn reusable(&self) -> bool;
}

impl Poolable for Sender {
    fn reusable(&self) -> bool {
        self.is_connected()
    }
}

impl Poolable for Reader {
    fn reusable(&self) -> bool {
        self.is_connected()
    }
}

/// Idle connections of one kind.
struct Pool<T>(Mutex<Vec<T>>);

impl<T> Pool<T> {
    fn new() -> Self {
        Pool(Mutex::new(Vec::new()))
    }

    fn take(&self) -> Result<Option<T>> {
        Ok(self
            .0
            .lock()
            .map_err(|_| Error::new(ErrorKind::Closed, "connection pool poisoned"))?
            .pop())
    }

    fn put(&self, item: T) {
        if let Ok(mut idle) = self.0.lock()
            && idle.len() < MAX_IDLE_CONNECTIONS
        {
            idle.push(item);
        }
    }

    fn clear(&self) {
        if let Ok(mut idle) = self.0.lock() {
            idle.clear();
        }
    }

    fn len(&self) -> usize {
        self.0.lock().map_or(0, |v| v.len())
    }
}

/// A connection borrowed from a [`QuestDb`] pool; it goes back when
/// dropped (unless it failed or the handle was closed).
pub struct Pooled<'a, T: Poolable> {
    db: &'a QuestDb,
    pool: &'a Pool<T>,
    item: Option<T>,
}

/// A pooled ingest connection ([`QuestDb::borrow_sender`]).
pub type PooledSender<'a> = Pooled<'a, Sender>;
/// A pooled query connection ([`QuestDb::borrow_reader`]).
pub type PooledReader<'a> = Pooled<'a, Reader>;

impl<T: Poolable + std::fmt::Debug> std::fmt::Debug for Pooled<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.item.fmt(f)
    }
}

impl<T: Poolable> Deref for Pooled<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.item.as_ref().expect("present until drop")
    }
}

impl<T: Poolable> DerefMut for Pooled<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.item.as_mut().expect("present until drop")
    }
}

impl<T: Poolable> Drop for Pooled<'_, T> {
    fn drop(&mut self) {
        if let Some(item) = self.item.take()
            && item.reusable()
            && !self.db.closed.load(Ordering::SeqCst)
        {
            self.pool.put(item);
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
        for a in conf.addrs() {
            ConnectOptions::from_conf(&conf, a)?;
        }
        if conf.addrs().is_empty() {
            return Err(Error::new(
                ErrorKind::Config,
                "no addr in the connect string",
            ));
        }
        Ok(QuestDb {
            conf,
            senders: Pool::new(),
            readers: Pool::new(),
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

    fn borrow<'a, T: Poolable>(
        &'a self,
        pool: &'a Pool<T>,
        open: impl FnOnce(&Conf) -> Result<T>,
    ) -> Result<Pooled<'a, T>> {
        self.check_open()?;
        let item = match pool.take()? {
            Some(item) => item,
            None => open(&self.conf)?,
        };
        Ok(Pooled {
            db: self,
            pool,
            item: Some(item),
        })
    }

    /// Borrows an ingest connection: an idle one, or a new one.
    pub fn borrow_sender(&self) -> Result<PooledSender<'_>> {
        self.borrow(&self.senders, Sender::connect)
    }

    /// Borrows a query connection: an idle one, or a new one (which reads
    /// the server's SERVER_INFO first).
    pub fn borrow_reader(&self) -> Result<PooledReader<'_>> {
        self.borrow(&self.readers, Reader::connect)
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
        self.senders.clear();
        self.readers.clear();
    }

    /// Idle pooled query connections (for tests and metrics).
    pub fn idle_readers(&self) -> usize {
        self.readers.len()
    }

    /// Idle pooled ingest connections (for tests and metrics).
    pub fn idle_senders(&self) -> usize {
        self.senders.len()
    }
}
