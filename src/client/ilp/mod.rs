//! The ILP sender behind `http::`, `https::`, `tcp::` and `tcps::` connect
//! strings: the same [`QuestDb`](super::QuestDb) calls as QWP, with Arrow
//! batches encoded to ILP lines by
//! [`IlpEncoder::encode_parallel`](crate::protocol::ilp::IlpEncoder::encode_parallel)
//! (rows in parallel on rayon).
//!
//! # Which call sends what
//!
//! | call | HTTP | TCP |
//! |---|---|---|
//! | `flush_arrow_batch` | one request for the batch (a body over `max_buf_size` is an error naming the table) | the batch's lines, written |
//! | `ingest` / `ingest_batches` / `flush_polars_dataframe` | batches are encoded one by one into a body that is sent when it reaches `auto_flush_bytes` (unset: after every batch); a batch whose lines exceed `max_buf_size` is cut into row ranges that fit; each request is sent while the next body is encoded, one request in flight | the same bodies, written, the same way |
//! | row sender `at` / `at_now` | buffers (column-wise, as over QWP) until an `auto_flush*` trigger, then flushes | same |
//! | row sender `flush` | one request with the lines of every buffered table | the lines, written |
//! | `ping` | `GET /ping` | an error (TCP has no ping) |
//!
//! Nothing is sent by `connect`; over TCP the first borrow connects and
//! authenticates. Over HTTP a call returns once the server answered 204
//! (the lines are stored); over TCP once the bytes are written (see
//! [`tcp`] for what that means).
//!
//! # Delivery
//!
//! HTTP: a request failed by a lost connection, a timeout
//! (`request_timeout + body bytes / request_min_throughput`) or a
//! retriable status (500, 503, 504, 507, 509, 523, 524, 529, 599, and 421,
//! which read-only replicas answer) is sent again, with backoff, until
//! `retry_timeout` is spent, each attempt to the next `addr` (so with
//! `addr=replica;addr=primary;` writes reach the primary) — at-least-once: a
//! request whose 204 was lost is stored twice unless the table has
//! deduplication keys; `retry_timeout=0` sends once (at-most-once). Other
//! statuses are errors carrying the server's JSON error
//! ([`crate::Error::ilp_server_error`]: status, message, line). QuestDB
//! commits one request per table; a request spanning tables may commit
//! some of them (the row sender puts all its tables in one request).
//!
//! TCP: fire and forget, see [`tcp`].
//!
//! The QWP-only options of [`IngestOptions`] do not apply: a durable ack
//! level is refused; frame sizes, Gorilla, in-flight windows and error
//! policies have no ILP meaning (a failed request ends the call).

mod http;
mod pipeline;
pub mod tcp;

use std::time::Instant;

use arrow::array::RecordBatch;
use arrow::error::ArrowError;

use crate::client::sender::{
    AckLevel, IngestOptions, IngestSummary, Progress, TableBatch, input_error,
};
use crate::conf::{Conf, ProtocolVersion, Transport};
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::ilp::{IlpEncoder, IlpVersion};

use self::http::HttpLink;
use self::pipeline::Pipe;
use self::tcp::TcpLink;

/// The error of a call ILP cannot serve (`what`: "queries", ...).
pub(crate) fn write_only(conf: &Conf, what: &str) -> Error {
    Error::new(
        ErrorKind::Unsupported,
        format!(
            "{what} need QWP: {}:: speaks ILP, which is write-only; use a ws:: or wss:: connect string to the same server",
            conf.scheme()
        ),
    )
}

/// `GET /ping` to the first endpoint of `conf` (`http`, `https`, and
/// `ws`/`wss`, whose port is QuestDB's HTTP port too): `Ok` when the server
/// answers 2xx. HTTP retries within `retry_timeout`; WebSocket schemes try
/// once.
pub(crate) fn ping(conf: &Conf) -> Result<()> {
    match conf.scheme().transport() {
        Transport::Tcp => Err(Error::new(
            ErrorKind::Unsupported,
            "ILP over TCP has no ping (QuestDB answers GET /ping on its HTTP port: use an http:: or ws:: connect string)",
        )),
        Transport::Http => HttpLink::new(conf).ping(),
        Transport::Ws => HttpLink::new(conf).once().ping(),
    }
}

/// The transport of an [`IlpSender`].
enum Link {
    Http(Box<HttpLink>),
    Tcp(Box<TcpLink>),
}

impl Link {
    /// Sends `body`: one HTTP request (retried as configured), or one TCP
    /// write.
    fn transmit(&mut self, body: &[u8]) -> Result<()> {
        match self {
            Link::Http(h) => h.post(body),
            Link::Tcp(t) => t.send(body),
        }
    }

    /// The protocol version lines are written in (over HTTP with
    /// `protocol_version=auto`, asked of the server once).
    fn version(&mut self, conf: &Conf) -> Result<IlpVersion> {
        match self {
            Link::Http(h) => h.version(),
            Link::Tcp(_) => Ok(match conf.protocol_version() {
                ProtocolVersion::V2 => IlpVersion::V2,
                ProtocolVersion::V3 => IlpVersion::V3,
                _ => IlpVersion::V1,
            }),
        }
    }
}

/// One ILP connection (HTTP keep-alive or TCP) with its request body;
/// pooled inside a [`Sender`](super::Sender).
pub(crate) struct IlpSender {
    conf: Conf,
    link: Link,
    body: Vec<u8>,
    /// The second body buffer of `ingest`'s pipeline, kept between calls.
    spare: Vec<u8>,
    /// The encoder's per-range buffers, kept between calls.
    scratch: Vec<Vec<u8>>,
}

/// What one call sent so far.
#[derive(Default)]
struct Tally {
    progress: Progress,
    batches: u64,
}

impl Tally {
    /// Counts a request that succeeded (`len` body bytes) and reports the
    /// progress.
    fn record(&mut self, rows: u64, batches: u64, len: u64, opts: &IngestOptions) {
        let p = &mut self.progress;
        p.rows_sent += rows;
        p.rows_acked += rows;
        p.bytes_sent += len;
        p.frames_sent += 1;
        self.batches += batches;
        if let Some(f) = opts.progress_fn() {
            f(p);
        }
    }
}

/// The encoder of `table` for `batch`'s schema in `version`, after the
/// `max_name_len` check of the table and column names.
fn encoder(
    conf: &Conf,
    table: &str,
    batch: &RecordBatch,
    ts: Option<&str>,
    opts: &IngestOptions,
    version: IlpVersion,
) -> Result<IlpEncoder> {
    let max = conf.max_name_len();
    let long = |what: String, name: &str| {
        Error::new(
            ErrorKind::InvalidData,
            format!(
                "{what} {name:?} is {} bytes, longer than max_name_len ({max})",
                name.len()
            ),
        )
    };
    if table.len() > max {
        return Err(long("table".into(), table));
    }
    for f in batch.schema().fields() {
        if f.name().len() > max {
            return Err(long(format!("table {table}, column"), f.name()));
        }
    }
    IlpEncoder::new(table, &batch.schema(), version, ts, opts.overrides())
}

impl IlpSender {
    /// A sender for an ILP connect string: TCP connects (and
    /// authenticates) now, HTTP on the first request.
    pub(crate) fn connect(conf: &Conf) -> Result<IlpSender> {
        let link = match conf.scheme().transport() {
            Transport::Http => Link::Http(Box::new(HttpLink::new(conf))),
            Transport::Tcp => Link::Tcp(Box::new(TcpLink::connect(conf)?)),
            Transport::Ws => {
                return Err(Error::new(
                    ErrorKind::Internal,
                    "the ILP sender got a ws:: connect string",
                ));
            }
        };
        Ok(IlpSender {
            conf: conf.clone(),
            link,
            body: Vec::with_capacity(usize::try_from(conf.init_buf_size()).unwrap_or(0)),
            spare: Vec::new(),
            scratch: Vec::new(),
        })
    }

    /// The connect string it was made from.
    pub(crate) fn conf(&self) -> &Conf {
        &self.conf
    }

    /// Whether the pool may hand it out again.
    pub(crate) fn reusable(&self) -> bool {
        match &self.link {
            Link::Http(h) => h.reusable(),
            Link::Tcp(t) => t.is_open(),
        }
    }

    fn max_buf(&self) -> usize {
        usize::try_from(self.conf.max_buf_size()).unwrap_or(usize::MAX)
    }

    /// Appends `batch`'s lines to the body; an error naming the table when
    /// the body would exceed `max_buf_size`.
    fn append(
        &mut self,
        table: &str,
        batch: &RecordBatch,
        ts: Option<&str>,
        opts: &IngestOptions,
    ) -> Result<()> {
        let version = self.link.version(&self.conf)?;
        let enc = encoder(&self.conf, table, batch, ts, opts, version)?;
        let start = self.body.len();
        enc.encode_parallel_into(batch, &mut self.body, &mut self.scratch)?;
        let len = self.body.len();
        if len > self.max_buf() {
            self.body.truncate(start);
            return Err(Error::new(
                ErrorKind::InvalidData,
                format!(
                    "table {table}: the request body would be {len} bytes, over max_buf_size ({})",
                    self.max_buf()
                ),
            ));
        }
        Ok(())
    }

    /// Sends the body (one HTTP request, or one TCP write) and empties it.
    fn send(
        &mut self,
        rows: u64,
        batches: u64,
        tally: &mut Tally,
        opts: &IngestOptions,
    ) -> Result<()> {
        if self.body.is_empty() {
            return Ok(());
        }
        let res = self.link.transmit(&self.body);
        let len = self.body.len() as u64;
        self.body.clear();
        res?;
        tally.record(rows, batches, len, opts);
        Ok(())
    }

    fn check_ack(opts: &IngestOptions) -> Result<()> {
        if opts.ack_level() == AckLevel::Durable {
            return Err(Error::config(
                "request_durable_ack",
                "on",
                "durable acknowledgements are QWP's (ws:: or wss::); ILP has none",
            ));
        }
        Ok(())
    }

    fn summary(t0: Instant, tally: &Tally, connects_before: u32, connects: u32) -> IngestSummary {
        IngestSummary {
            rows: tally.progress.rows_acked,
            batches: tally.batches,
            frames: tally.progress.frames_sent,
            bytes: tally.progress.bytes_sent,
            reconnects: connects.saturating_sub(connects_before.max(1)),
            elapsed: t0.elapsed(),
            dropped_rows: 0,
            dropped: Vec::new(),
        }
    }

    fn connects(&self) -> u32 {
        match &self.link {
            Link::Http(h) => h.connects,
            Link::Tcp(t) => t.connects,
        }
    }

    /// Runs `f` with a fresh tally; on error the body is dropped and the
    /// error says what the call sent.
    fn call(
        &mut self,
        table: &str,
        opts: &IngestOptions,
        f: impl FnOnce(&mut Self, &mut Tally) -> Result<()>,
    ) -> Result<IngestSummary> {
        Self::check_ack(opts)?;
        let t0 = Instant::now();
        let before = self.connects();
        let mut tally = Tally::default();
        self.body.clear();
        let res = f(self, &mut tally);
        self.body.clear();
        match res {
            Ok(()) => Ok(Self::summary(t0, &tally, before, self.connects())),
            Err(e) => Err(e.context(format!(
                "table {table}: {} rows in {} batches sent by this call before the error",
                tally.progress.rows_acked, tally.batches
            ))),
        }
    }

    /// One batch, one request (one write over TCP).
    pub(crate) fn flush_arrow_batch(
        &mut self,
        table: &str,
        batch: &RecordBatch,
        opts: &IngestOptions,
    ) -> Result<IngestSummary> {
        self.call(table, opts, |s, tally| {
            s.append(table, batch, opts.ts_column(), opts)?;
            s.send(batch.num_rows() as u64, 1, tally, opts)
        })
    }

    /// Streams `reader` into `table` (see the module docs for the request
    /// sizes), each request sent while the next body is encoded
    /// ([`pipeline`]).
    pub(crate) fn ingest<I>(
        &mut self,
        table: &str,
        reader: I,
        opts: &IngestOptions,
    ) -> Result<IngestSummary>
    where
        I: IntoIterator<Item = std::result::Result<RecordBatch, ArrowError>>,
    {
        let threshold = self
            .conf
            .auto_flush_bytes()
            .map_or(0, |b| usize::try_from(b).unwrap_or(usize::MAX));
        let max_buf = self.max_buf();
        self.call(table, opts, |s, tally| {
            let IlpSender {
                conf,
                link,
                body,
                spare,
                scratch,
            } = s;
            std::thread::scope(|sc| {
                let mut pipe = Pipe::new(sc, link, std::mem::take(spare));
                let mut feed = Feed {
                    conf,
                    table,
                    opts,
                    threshold,
                    max_buf,
                    body,
                    scratch,
                    tally,
                    version: None,
                };
                let res = feed.run(&mut pipe, reader);
                let (last, buf) = pipe.finish(feed.tally, opts);
                *spare = buf;
                // An earlier request's error comes first.
                last.and(res)
            })
        })
    }

    /// The tables of a row buffer, in one request.
    pub(crate) fn send_tables(
        &mut self,
        tables: Vec<TableBatch>,
        opts: &IngestOptions,
    ) -> Result<IngestSummary> {
        let label = tables
            .iter()
            .map(|t| t.0.as_str())
            .collect::<Vec<_>>()
            .join(",");
        self.call(&label, opts, |s, tally| {
            let mut rows = 0u64;
            for (table, batch, ts) in &tables {
                if batch.num_rows() > 0 {
                    s.append(table, batch, ts.as_deref(), opts)?;
                    rows += batch.num_rows() as u64;
                }
            }
            s.send(rows, 1, tally, opts)
        })
    }
}

/// `ingest`'s side of the pipeline: reads batches and fills request
/// bodies.
struct Feed<'c> {
    conf: &'c Conf,
    table: &'c str,
    opts: &'c IngestOptions,
    /// Send once the body holds this many bytes (0: after every batch).
    threshold: usize,
    max_buf: usize,
    body: &'c mut Vec<u8>,
    scratch: &'c mut Vec<Vec<u8>>,
    tally: &'c mut Tally,
    version: Option<IlpVersion>,
}

impl Feed<'_> {
    fn run<I>(&mut self, pipe: &mut Pipe<'_, '_, '_>, reader: I) -> Result<()>
    where
        I: IntoIterator<Item = std::result::Result<RecordBatch, ArrowError>>,
    {
        let (mut rows, mut batches) = (0u64, 0u64);
        for (k, b) in reader.into_iter().enumerate() {
            let b = b.map_err(|e| input_error(k, e))?;
            if b.num_rows() == 0 {
                continue;
            }
            let version = match self.version {
                Some(v) => v,
                None => *self
                    .version
                    .insert(pipe.link(self.tally, self.opts)?.version(self.conf)?),
            };
            let enc = encoder(
                self.conf,
                self.table,
                &b,
                self.opts.ts_column(),
                self.opts,
                version,
            )?;
            let start = self.body.len();
            enc.encode_parallel_into(&b, self.body, self.scratch)?;
            if self.body.len() > self.max_buf {
                // The batch's lines do not fit after what the body holds:
                // that goes first, then the lines, cut to fit when they
                // are too long alone.
                let lines = self.body.split_off(start);
                pipe.send(self.body, rows, batches, self.tally, self.opts)?;
                (rows, batches) = (0, 0);
                if lines.len() > self.max_buf {
                    self.send_in_parts(pipe, &enc, &b)?;
                    continue;
                }
                self.body.extend_from_slice(&lines);
            }
            rows += b.num_rows() as u64;
            batches += 1;
            if self.body.len() >= self.threshold {
                pipe.send(self.body, rows, batches, self.tally, self.opts)?;
                (rows, batches) = (0, 0);
            }
        }
        pipe.send(self.body, rows, batches, self.tally, self.opts)
    }

    /// Sends a batch whose lines exceed `max_buf_size` as row ranges that
    /// fit, one request each.
    fn send_in_parts(
        &mut self,
        pipe: &mut Pipe<'_, '_, '_>,
        enc: &IlpEncoder,
        batch: &RecordBatch,
    ) -> Result<()> {
        let n = batch.num_rows();
        let mut start = 0;
        let mut step = n / 2;
        while start < n {
            let len = step.clamp(1, n - start);
            let part = batch.slice(start, len);
            enc.encode_parallel_into(&part, self.body, self.scratch)?;
            if self.body.len() > self.max_buf {
                if len == 1 {
                    return Err(Error::new(
                        ErrorKind::InvalidData,
                        format!(
                            "table {}, row {start}: its line is {} bytes, over max_buf_size ({})",
                            self.table,
                            self.body.len(),
                            self.max_buf
                        ),
                    ));
                }
                self.body.clear();
                step = len / 2;
                continue;
            }
            let last = u64::from(start + len == n);
            pipe.send(self.body, len as u64, last, self.tally, self.opts)?;
            start += len;
        }
        Ok(())
    }
}
