//! [`RowSender`]: a [`Buffer`] on an ingest connection, flushed when asked
//! and automatically (`auto_flush*` keys).

use std::net::Ipv4Addr;
use std::ops::DerefMut;
use std::time::{Duration, Instant};

use arrow::datatypes::i256;

use super::{Buffer, Timestamp};
use crate::client::sender::{IngestOptions, IngestSummary, PooledSender, Sender};
use crate::conf::Conf;
use crate::error::Result;

/// When a [`RowSender`] flushes by itself: checked each time a row is
/// added (there is no timer: rows wait until the next row or an explicit
/// flush). The defaults are QWP's: 1 000 rows or 100 ms, no byte trigger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AutoFlush {
    /// `auto_flush`: `false` turns every trigger off (only
    /// [`RowSender::flush`] sends).
    pub enabled: bool,
    /// `auto_flush_rows`: flush once the buffer holds this many rows.
    pub rows: Option<u64>,
    /// `auto_flush_bytes`: flush once [`Buffer::len`] reaches this.
    pub bytes: Option<u64>,
    /// `auto_flush_interval`: flush once the oldest buffered row was added
    /// this long ago.
    pub interval: Option<Duration>,
}

impl Default for AutoFlush {
    fn default() -> Self {
        AutoFlush {
            enabled: true,
            rows: Some(1000),
            bytes: None,
            interval: Some(Duration::from_millis(100)),
        }
    }
}

impl AutoFlush {
    /// The `auto_flush*` keys of `conf`.
    pub fn from_conf(conf: &Conf) -> AutoFlush {
        AutoFlush {
            enabled: conf.auto_flush(),
            rows: conf.auto_flush_rows(),
            bytes: conf.auto_flush_bytes(),
            interval: conf.auto_flush_interval(),
        }
    }

    /// No automatic flush (`auto_flush=off`).
    pub fn off() -> AutoFlush {
        AutoFlush {
            enabled: false,
            ..AutoFlush::default()
        }
    }
}

/// A row sender on a pooled connection
/// ([`QuestDb::borrow_row_sender`](crate::client::QuestDb::borrow_row_sender)).
pub type PooledRowSender<'a> = RowSender<PooledSender<'a>>;

/// Rows into QuestDB: `sender.table(t)?.symbol(..)?.column_f64(..)?.at(ts)?`,
/// buffered in a [`Buffer`] and flushed by the [`AutoFlush`] triggers or
/// [`RowSender::flush`]. Each flush is one transaction (all tables of the
/// buffer) and blocks until the server acknowledged it at the ack level of
/// [`RowSender::set_options`], with the connection's error policies and
/// reconnects (a lost connection or a retriable rejection is retried by
/// reconnecting and resending, as [`Sender::ingest`] does; at-least-once).
///
/// An automatic flush is pipelined like [`Sender::ingest`]: its frame is
/// written and the rows leave the buffer, but it does not wait for the
/// acknowledgement (at most `in_flight_frames` frames wait); the sender
/// holds the rows until acknowledged (to resend them after a reconnect),
/// and the next [`RowSender::flush`] waits for all of them — so a
/// rejection of an automatic flush is the error of a later `at` or flush,
/// naming the table. A failed flush keeps the rows still in the buffer:
/// flush again to resend, or [`RowSender::clear`]. Rows not acknowledged
/// when the sender is dropped are discarded (buffered ones, and those of
/// automatic flushes, whose connection is closed): call
/// [`RowSender::flush`] last.
pub struct RowSender<S: DerefMut<Target = Sender>> {
    sender: S,
    buf: Buffer,
    auto: AutoFlush,
    opts: IngestOptions,
    /// When the oldest buffered row was added.
    oldest: Option<Instant>,
}

impl<S: DerefMut<Target = Sender>> std::fmt::Debug for RowSender<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowSender")
            .field("buffer", &self.buf)
            .field("auto_flush", &self.auto)
            .finish_non_exhaustive()
    }
}

impl<S: DerefMut<Target = Sender>> RowSender<S> {
    /// A row sender on `sender` with the buffer sizes and auto-flush
    /// triggers of `conf` (defaults without one).
    pub fn new(sender: S, conf: Option<&Conf>) -> RowSender<S> {
        let (buf, auto) = match conf {
            Some(c) => (Buffer::from_conf(c), AutoFlush::from_conf(c)),
            None => (Buffer::new(), AutoFlush::default()),
        };
        RowSender {
            sender,
            buf,
            auto,
            opts: IngestOptions::new(),
            oldest: None,
        }
    }

    /// The automatic flush triggers.
    pub fn auto_flush(&self) -> AutoFlush {
        self.auto
    }

    /// Changes the automatic flush triggers.
    pub fn set_auto_flush(&mut self, auto: AutoFlush) {
        self.auto = auto;
    }

    /// The options of every flush: ack level, error policies, Gorilla
    /// (the timestamp column and overrides are not used).
    pub fn set_options(&mut self, opts: IngestOptions) {
        self.opts = opts;
    }

    /// The buffered rows.
    pub fn buffer(&self) -> &Buffer {
        &self.buf
    }

    /// The connection.
    pub fn sender(&mut self) -> &mut Sender {
        &mut self.sender
    }

    /// Drops the buffered rows.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.oldest = None;
    }

    /// Begins a row of `table`; finish it with [`Row::at`] or
    /// [`Row::at_now`] (a `Row` dropped unfinished is rolled back).
    pub fn table(&mut self, table: &str) -> Result<Row<'_, S>> {
        self.buf.table(table)?;
        Ok(Row { rs: self })
    }

    /// Sends every buffered row as one transaction and waits for the
    /// acknowledgement; the buffer is empty afterwards. On error the rows
    /// stay buffered. On the row sender of an
    /// [`AsyncSender`](crate::client::AsyncSender) it returns once the
    /// rows are queued; delivery happens in the background.
    pub fn flush(&mut self) -> Result<IngestSummary> {
        let sum = self.sender.flush_buffer_with(&mut self.buf, &self.opts)?;
        self.oldest = None;
        Ok(sum)
    }

    /// After a row was added: flush when a trigger fired.
    fn added(&mut self) -> Result<()> {
        if !self.auto.enabled {
            return Ok(());
        }
        let now = self.auto.interval.map(|_| Instant::now());
        let oldest = *self
            .oldest
            .get_or_insert_with(|| now.unwrap_or_else(Instant::now));
        let due = self
            .auto
            .rows
            .is_some_and(|r| self.buf.row_count() as u64 >= r)
            || self.auto.bytes.is_some_and(|b| self.buf.len() as u64 >= b)
            || self
                .auto
                .interval
                .zip(now)
                .is_some_and(|(i, now)| now.duration_since(oldest) >= i);
        if due {
            // Pipelined: written, not waited for (the next flush waits).
            self.sender.send_buffer(&mut self.buf, &self.opts, false)?;
            self.oldest = None;
        }
        Ok(())
    }
}

impl<S: DerefMut<Target = Sender>> Drop for RowSender<S> {
    fn drop(&mut self) {
        // Rows of automatic flushes not yet acknowledged are discarded with
        // the connection, never left for the connection's next user.
        self.sender.abandon_pending();
    }
}

/// One row being built on a [`RowSender`]; its setters are [`Buffer`]'s.
/// Dropping it before [`Row::at`] / [`Row::at_now`] rolls the row back.
pub struct Row<'a, S: DerefMut<Target = Sender>> {
    rs: &'a mut RowSender<S>,
}

impl<S: DerefMut<Target = Sender>> std::fmt::Debug for Row<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Row").finish_non_exhaustive()
    }
}

impl<S: DerefMut<Target = Sender>> Drop for Row<'_, S> {
    fn drop(&mut self) {
        if self.rs.buf.in_row() {
            self.rs.buf.discard_row();
        }
    }
}

macro_rules! forward {
    ($($(#[$m:meta])* $name:ident($($arg:ident: $ty:ty),*);)*) => {
        $(
            $(#[$m])*
            pub fn $name(&mut self, name: &str, $($arg: $ty),*) -> Result<&mut Self> {
                self.rs.buf.$name(name, $($arg),*)?;
                Ok(self)
            }
        )*
    };
}

impl<S: DerefMut<Target = Sender>> Row<'_, S> {
    forward! {
        /// See [`Buffer::symbol`].
        symbol(value: &str);
        /// See [`Buffer::column_bool`].
        column_bool(value: bool);
        /// See [`Buffer::column_i8`].
        column_i8(value: i8);
        /// See [`Buffer::column_i16`].
        column_i16(value: i16);
        /// See [`Buffer::column_i32`].
        column_i32(value: i32);
        /// See [`Buffer::column_i64`].
        column_i64(value: i64);
        /// See [`Buffer::column_f32`].
        column_f32(value: f32);
        /// See [`Buffer::column_f64`].
        column_f64(value: f64);
        /// See [`Buffer::column_str`].
        column_str(value: &str);
        /// See [`Buffer::column_binary`].
        column_binary(value: &[u8]);
        /// See [`Buffer::column_char`].
        column_char(value: u16);
        /// See [`Buffer::column_ipv4`].
        column_ipv4(value: Ipv4Addr);
        /// See [`Buffer::column_uuid`].
        column_uuid(lo: u64, hi: u64);
        /// See [`Buffer::column_long256`].
        column_long256(value: &[u8; 32]);
        /// See [`Buffer::column_date`].
        column_date(millis: i64);
        /// See [`Buffer::column_geohash`].
        column_geohash(bits: u64, precision_bits: u8);
        /// See [`Buffer::column_dec64`].
        column_dec64(unscaled: i64, scale: u8);
        /// See [`Buffer::column_dec128`].
        column_dec128(unscaled: i128, scale: u8);
        /// See [`Buffer::column_dec256`].
        column_dec256(unscaled: i256, scale: u8);
        /// See [`Buffer::column_dec`].
        column_dec(text: &str);
        /// See [`Buffer::column_arr_f64`].
        column_arr_f64(values: &[f64]);
        /// See [`Buffer::column_arr_i64`].
        column_arr_i64(values: &[i64]);
    }

    /// See [`Buffer::column_ts`].
    pub fn column_ts(&mut self, name: &str, ts: impl Into<Timestamp>) -> Result<&mut Self> {
        self.rs.buf.column_ts(name, ts)?;
        Ok(self)
    }

    /// Finishes the row with its designated timestamp (see [`Buffer::at`]),
    /// then flushes if an [`AutoFlush`] trigger fired (a failed automatic
    /// flush is this call's error; the row is buffered).
    pub fn at(&mut self, ts: impl Into<Timestamp>) -> Result<()> {
        self.rs.buf.at(ts)?;
        self.rs.added()
    }

    /// Finishes the row with the server's time (see [`Buffer::at_now`]),
    /// then flushes if a trigger fired.
    pub fn at_now(&mut self) -> Result<()> {
        self.rs.buf.at_now()?;
        self.rs.added()
    }
}

impl Sender {
    /// A row sender on this connection, with the buffer sizes and
    /// auto-flush triggers of its connect string.
    pub fn row_sender(&mut self) -> RowSender<&mut Sender> {
        let conf = self.conf().cloned();
        RowSender::new(self, conf.as_ref())
    }

    /// Sends every row of `buf` (all its tables, as one transaction) and
    /// waits for the acknowledgement; `buf` is empty afterwards (its
    /// allocations kept). On error the rows stay in `buf`. A `Buffer`
    /// flushed this way never flushes by itself.
    pub fn flush_buffer(&mut self, buf: &mut Buffer) -> Result<IngestSummary> {
        self.flush_buffer_with(buf, &IngestOptions::new())
    }

    /// [`Self::flush_buffer`] with the ack level, error policies and
    /// Gorilla choice of `opts`.
    pub fn flush_buffer_with(
        &mut self,
        buf: &mut Buffer,
        opts: &IngestOptions,
    ) -> Result<IngestSummary> {
        self.send_buffer(buf, opts, true)
    }

    fn send_buffer(
        &mut self,
        buf: &mut Buffer,
        opts: &IngestOptions,
        wait: bool,
    ) -> Result<IngestSummary> {
        let tables = buf.lend()?;
        let res = self.send_tables(tables, opts, wait);
        buf.reclaim(res.is_ok());
        res
    }
}
