//! [`QuestDb`]: the process-wide handle — lazy, pooled, `Send + Sync`.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use arrow::array::RecordBatch;
use arrow::error::ArrowError;

use super::pool::{Pool, PoolOptions, Reaper};
pub use super::pool::{Poolable, Pooled};
pub use super::query::PooledReader;
use super::query::{Cursor, Query, Reader};
use super::rows::{PooledRowSender, RowSender};
pub use super::sender::PooledSender;
use super::sender::{AckLevel, IngestOptions, IngestSummary, Sender};
use crate::bridge::overrides::ColumnOverride;
use crate::conf::Conf;
use crate::error::{Error, ErrorKind, Result};

/// A handle to one QuestDB (or embedded) server: create one per process and
/// share it (`Send + Sync`, e.g. in an `Arc`).
///
/// It is lazy: [`QuestDb::connect`] only validates the connect string; the
/// first call that needs the server opens a connection, so an unreachable
/// server, a TLS or an auth failure surfaces there. Connections are reused
/// from two bounded pools (ingest and query, see [`super::pool`]): each
/// call borrows an idle one (or opens one) and returns it afterwards; a
/// connection that failed, outlived `max_lifetime_ms` or was closed by the
/// server is dropped instead. At most `sender_pool_max` / `query_pool_max`
/// connections exist per pool, borrowed ones included; borrowing beyond
/// that fails at once with [`ErrorKind::PoolExhausted`] unless
/// `acquire_timeout_ms` lets it wait. Idle connections above
/// `sender_pool_min` / `query_pool_min` are closed after `idle_timeout_ms`
/// by a background thread (stopped by [`QuestDb::close`] and on drop).
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
    pools: Arc<Pools>,
    reaper: Mutex<Option<Reaper>>,
}

/// The two pools; the reaper thread holds them weakly. The query pool is
/// shared with owned cursors ([`QuestDb::query_owned`]).
struct Pools {
    senders: Pool<Sender>,
    readers: Arc<Pool<Reader>>,
}

impl Pools {
    fn reap(&self) -> usize {
        let now = Instant::now();
        self.senders.reap(now) + self.readers.reap(now)
    }

    fn close(&self) {
        self.senders.close();
        self.readers.close();
    }
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<QuestDb>();
};

impl std::fmt::Debug for QuestDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuestDb")
            .field("addrs", &self.conf.addrs())
            .field("idle_senders", &self.idle_senders())
            .field("borrowed_senders", &self.borrowed_senders())
            .field("idle_readers", &self.idle_readers())
            .field("borrowed_readers", &self.borrowed_readers())
            .finish_non_exhaustive()
    }
}

impl QuestDb {
    /// Parses and validates `conf` without connecting: `ws::`/`wss::` (QWP:
    /// ingest and queries) or `http::`/`https::`/`tcp::`/`tcps::` (ILP:
    /// ingest only, through the same calls; see [`super::ilp`]).
    pub fn connect(conf: &str) -> Result<QuestDb> {
        QuestDb::from_conf(Conf::parse(conf)?)
    }

    /// Like [`QuestDb::connect`] with the connect string in
    /// `QDB_CLIENT_CONF`.
    pub fn from_env() -> Result<QuestDb> {
        QuestDb::from_conf(Conf::from_env()?)
    }

    /// A handle for an already parsed configuration (a [`Conf`] is valid
    /// once parsed or set; files it names, such as `tls_roots`, are read at
    /// the first connect), with the pool settings it carries
    /// ([`PoolOptions::from_conf`]).
    pub fn from_conf(conf: Conf) -> Result<QuestDb> {
        let opts = PoolOptions::from_conf(&conf);
        QuestDb::with_pool_options(conf, &opts)
    }

    /// Like [`QuestDb::from_conf`] with explicit pool settings (e.g.
    /// [`PoolOptions::reap_manual`]); the pool keys of `conf` are ignored.
    /// Starts the reaper thread unless reaping is manual.
    pub fn with_pool_options(conf: Conf, opts: &PoolOptions) -> Result<QuestDb> {
        if conf.addrs().is_empty() {
            return Err(Error::new(
                ErrorKind::Config,
                "no addr in the connect string",
            ));
        }
        let pools = Arc::new(Pools {
            senders: Pool::new("sender", "sender_pool_max", opts.senders, opts),
            readers: Arc::new(Pool::new("query", "query_pool_max", opts.readers, opts)),
        });
        let reaper = if opts.reap_manual {
            None
        } else {
            Some(Reaper::spawn(
                Arc::downgrade(&pools),
                opts.housekeeper_interval,
                Pools::reap,
            )?)
        };
        Ok(QuestDb {
            conf,
            pools,
            reaper: Mutex::new(reaper),
        })
    }

    /// The configuration.
    pub fn conf(&self) -> &Conf {
        &self.conf
    }

    /// Borrows an ingest connection: an idle one, or a new one. At the
    /// cap (`sender_pool_max`, borrowed ones included) it fails with
    /// [`ErrorKind::PoolExhausted`], or first waits up to
    /// `acquire_timeout_ms` when that is set; after [`QuestDb::close`] it
    /// fails with [`ErrorKind::Closed`].
    pub fn borrow_sender(&self) -> Result<PooledSender<'_>> {
        self.pools.senders.acquire(|| Sender::connect(&self.conf))
    }

    /// Borrows an ingest connection (as [`QuestDb::borrow_sender`]) as a
    /// row sender with the buffer sizes and auto-flush triggers of the
    /// connect string; the connection goes back to the pool when it is
    /// dropped. Flush before dropping it: unflushed rows are discarded.
    pub fn borrow_row_sender(&self) -> Result<PooledRowSender<'_>> {
        Ok(RowSender::new(self.borrow_sender()?, Some(&self.conf)))
    }

    /// An asynchronous sender with its store-and-forward queue (in memory,
    /// or in `sf_dir`): `publish` returns without waiting for the server;
    /// see [`AsyncSender`](super::AsyncSender). Not pooled: it owns its
    /// connection and its delivery thread until it is closed.
    pub fn async_sender(&self) -> Result<super::AsyncSender> {
        super::AsyncSender::open(&self.conf)
    }

    /// Borrows a query connection: an idle one, or a new one (which reads
    /// the server's SERVER_INFO first). Capped by `query_pool_max` like
    /// [`QuestDb::borrow_sender`].
    pub fn borrow_reader(&self) -> Result<PooledReader<'_>> {
        self.pools.readers.acquire(|| Reader::connect(&self.conf))
    }

    /// A query on a pooled connection, to add binds and options to:
    /// `db.query(sql)?.bind_i64(1).execute()?`.
    pub fn query(&self, sql: &str) -> Result<Query<'_>> {
        Ok(Query::pooled(self.borrow_reader()?, sql))
    }

    /// Like [`QuestDb::query`], for a cursor that does not borrow the
    /// handle (`Cursor<'static>`): one to keep in a `'static`
    /// `RecordBatchReader` (an FFI stream, another thread) without a
    /// thread or a copy in between. Its connection counts in
    /// `query_pool_max` like any borrowed one and goes back to the pool
    /// when the cursor is dropped; after [`QuestDb::close`] (or the
    /// handle's drop) it is closed instead.
    pub fn query_owned(&self, sql: &str) -> Result<Query<'static>> {
        let reader = self
            .pools
            .readers
            .acquire_owned(|| Reader::connect(&self.conf))?;
        Ok(Query::pooled(reader, sql))
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
        if opts.connection_count() > 1 {
            return super::parallel::ingest(self, table, reader, opts);
        }
        self.borrow_sender()?.ingest(table, reader, opts)
    }

    /// [`QuestDb::ingest`] over plain batches.
    pub fn ingest_batches(
        &self,
        table: &str,
        batches: impl IntoIterator<Item = RecordBatch>,
        opts: &IngestOptions,
    ) -> Result<IngestSummary> {
        self.ingest(table, batches.into_iter().map(Ok), opts)
    }

    /// Asks the server whether it is up: `GET /ping` on its HTTP port
    /// (`http::`, `https::`, and `ws::`/`wss::`, which share the port),
    /// `Ok` on a 2xx answer (QuestDB: 204). Over `http::` it retries within
    /// `retry_timeout`; `tcp::` has no ping (an error).
    pub fn ping(&self) -> Result<()> {
        super::ilp::ping(&self.conf)
    }

    /// Closes the idle connections and stops the reaper thread (waiting
    /// for a pass in progress); later calls fail with
    /// [`ErrorKind::Closed`], as do borrows waiting at the cap. Borrowed
    /// connections close when returned. Dropping the handle does the same.
    pub fn close(&self) {
        self.pools.close();
        let reaper = self
            .reaper
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(mut r) = reaper {
            r.stop();
        }
    }

    /// Closes idle connections now, as the reaper does: those the server
    /// closed or past `max_lifetime_ms`, and those idle for
    /// `idle_timeout_ms` above the warm size. Returns how many it closed.
    /// The way to trim with [`PoolOptions::reap_manual`]; works with the
    /// reaper thread too.
    pub fn reap_idle(&self) -> usize {
        self.pools.reap()
    }

    /// The name of the reaper thread while it runs (`None` with manual
    /// reaping or after [`QuestDb::close`]), as debuggers and `/proc` show
    /// it.
    pub fn reaper_thread_name(&self) -> Option<String> {
        self.reaper
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|r| r.name().to_string())
    }

    /// Idle pooled query connections (for tests and metrics).
    pub fn idle_readers(&self) -> usize {
        self.pools.readers.idle()
    }

    /// Idle pooled ingest connections (for tests and metrics).
    pub fn idle_senders(&self) -> usize {
        self.pools.senders.idle()
    }

    /// Query connections borrowed now (for tests and metrics).
    pub fn borrowed_readers(&self) -> usize {
        self.pools.readers.borrowed()
    }

    /// Ingest connections borrowed now (for tests and metrics).
    pub fn borrowed_senders(&self) -> usize {
        self.pools.senders.borrowed()
    }
}

impl Drop for QuestDb {
    fn drop(&mut self) {
        self.close();
    }
}
