//! One logical ingest or query over several connections: the way to use
//! more than one socket (and, on the server, more than one core).
//!
//! - **Ingest** ([`IngestOptions::connections`]): `n` pooled senders pull
//!   the input batches from one queue, each connection taking the next
//!   batch when it has room, so a slow connection does not hold the others
//!   back. Every batch still commits atomically; across connections batches
//!   commit in no fixed order. The first failure stops the others after
//!   the batches they hold; the error says how many rows the other
//!   connections committed. Progress callbacks see the sum over all
//!   connections. Batches dropped under an error policy are listed in the
//!   summary with their position in their connection's share of the input.
//! - **Query** ([`QuestDb::query_partitioned`]): the result is cut into
//!   `n` disjoint ranges of a timestamp column (from one `min`/`max` query
//!   first), each read on a connection of its own, and their batches come
//!   back as one stream in arrival order.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use arrow::array::{Array, AsArray, RecordBatch, RecordBatchReader};
use arrow::datatypes::{DataType, SchemaRef, TimeUnit, TimestampMicrosecondType};
use arrow::datatypes::{TimestampMillisecondType, TimestampNanosecondType};
use arrow::error::ArrowError;

use super::QuestDb;
use super::query::Reader;
use super::sender::{IngestOptions, IngestSummary, Progress};
use crate::error::{Error, ErrorKind, Result};

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The queue the ingest connections pull from. The last connection to
/// stop drops the receiving end, so the producer's send fails instead of
/// blocking once nobody is left to take batches.
struct Queue {
    rx: Mutex<Option<Receiver<RecordBatch>>>,
    alive: AtomicUsize,
    stop: AtomicBool,
}

impl Queue {
    fn next(&self) -> Option<RecordBatch> {
        if self.stop.load(Ordering::SeqCst) {
            return None;
        }
        let guard = lock(&self.rx);
        guard.as_ref()?.recv().ok()
    }
}

/// Marks one connection as gone when dropped (a panic included).
struct Leaving<'q>(&'q Queue);

impl Drop for Leaving<'_> {
    fn drop(&mut self) {
        if self.0.alive.fetch_sub(1, Ordering::SeqCst) == 1 {
            lock(&self.0.rx).take();
        }
    }
}

fn sum(a: &Progress, b: &Progress) -> Progress {
    Progress {
        rows_sent: a.rows_sent + b.rows_sent,
        bytes_sent: a.bytes_sent + b.bytes_sent,
        frames_sent: a.frames_sent + b.frames_sent,
        rows_acked: a.rows_acked + b.rows_acked,
    }
}

/// [`QuestDb::ingest`] over `opts.connection_count()` pooled connections.
pub(crate) fn ingest<I>(
    db: &QuestDb,
    table: &str,
    reader: I,
    opts: &IngestOptions,
) -> Result<IngestSummary>
where
    I: IntoIterator<Item = std::result::Result<RecordBatch, ArrowError>>,
{
    let n = opts.connection_count();
    let t0 = Instant::now();
    let mut senders = Vec::with_capacity(n);
    for _ in 0..n {
        senders.push(db.borrow_sender()?);
    }
    let (tx, rx) = mpsc::sync_channel::<RecordBatch>(n);
    let queue = Queue {
        rx: Mutex::new(Some(rx)),
        alive: AtomicUsize::new(n),
        stop: AtomicBool::new(false),
    };
    let per = Arc::new(Mutex::new(vec![Progress::default(); n]));
    let mut tx: Option<SyncSender<RecordBatch>> = Some(tx);
    let (results, input) = std::thread::scope(|s| {
        let mut handles = Vec::with_capacity(n);
        for (i, mut sender) in senders.into_iter().enumerate() {
            let mut one = opts.clone().connections(1);
            if let Some(user) = opts.progress_fn() {
                let per = per.clone();
                one = one.on_progress(move |p| {
                    let total = {
                        let mut v = lock(&per);
                        v[i] = *p;
                        v.iter().fold(Progress::default(), |a, b| sum(&a, b))
                    };
                    user(&total);
                });
            }
            let queue = &queue;
            handles.push(s.spawn(move || {
                let _leaving = Leaving(queue);
                let r = sender.ingest_batches(table, std::iter::from_fn(|| queue.next()), &one);
                if r.is_err() {
                    queue.stop.store(true, Ordering::SeqCst);
                }
                r
            }));
        }
        let mut input = None;
        for (k, b) in reader.into_iter().enumerate() {
            if queue.stop.load(Ordering::SeqCst) {
                break;
            }
            let sent = match b {
                Ok(b) => tx.as_ref().is_some_and(|tx| tx.send(b).is_ok()),
                Err(e) => {
                    input = Some(super::sender::input_error(k, e));
                    false
                }
            };
            if !sent {
                break;
            }
        }
        if input.is_some() {
            queue.stop.store(true, Ordering::SeqCst);
        }
        // The end of the input: the connections drain the queue and stop.
        tx.take();
        let results: Vec<Result<IngestSummary>> = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|p| Err(Error::panicked("an ingest connection thread", &*p)))
            })
            .collect();
        (results, input)
    });
    let mut total = IngestSummary::default();
    let mut first_err = None;
    for r in results {
        match r {
            Ok(s) => {
                total.rows += s.rows;
                total.batches += s.batches;
                total.frames += s.frames;
                total.bytes += s.bytes;
                total.reconnects += s.reconnects;
                total.dropped_rows += s.dropped_rows;
                total.dropped.extend(s.dropped);
            }
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    total.elapsed = t0.elapsed();
    let others = |e: Error| {
        e.context(format!(
            "ingest over {n} connections: {} rows in {} batches committed by the others",
            total.rows, total.batches
        ))
    };
    match (input, first_err) {
        (Some(e), _) | (None, Some(e)) => Err(others(e)),
        (None, None) => Ok(total),
    }
}

/// The stream of [`QuestDb::query_partitioned`]: the batches of every
/// range, in the order they arrive. A `RecordBatchReader`; dropping it
/// cancels what is still running and closes its connections.
pub struct Partitioned {
    schema: SchemaRef,
    rx: Option<Receiver<Result<RecordBatch>>>,
    workers: Vec<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
    /// Connections still sending.
    partitions: usize,
}

impl std::fmt::Debug for Partitioned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Partitioned")
            .field("schema", &self.schema)
            .field("partitions", &self.partitions)
            .finish_non_exhaustive()
    }
}

enum Msg {
    Schema(SchemaRef),
    Batch(RecordBatch),
    Done,
    Failed(Error),
}

impl Partitioned {
    /// The next batch of any range; `None` once every range ended. An
    /// error ends the stream.
    pub fn next_arrow_batch(&mut self) -> Result<Option<RecordBatch>> {
        let Some(rx) = &self.rx else {
            return Ok(None);
        };
        match rx.recv() {
            Ok(Ok(b)) => Ok(Some(b)),
            Ok(Err(e)) => {
                self.finish();
                Err(e)
            }
            // Every range is done.
            Err(_) => {
                self.rx = None;
                Ok(None)
            }
        }
    }

    /// Every remaining batch.
    pub fn fetch_all_arrow(&mut self) -> Result<Vec<RecordBatch>> {
        let mut out = Vec::new();
        while let Some(b) = self.next_arrow_batch()? {
            out.push(b);
        }
        Ok(out)
    }

    /// The result's schema.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// How many ranges (connections) the query was cut into.
    pub fn partitions(&self) -> usize {
        self.partitions
    }

    fn finish(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.rx = None;
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

impl Drop for Partitioned {
    fn drop(&mut self) {
        self.finish();
    }
}

impl Iterator for Partitioned {
    type Item = std::result::Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_arrow_batch()
            .map_err(|e| ArrowError::ExternalError(Box::new(e)))
            .transpose()
    }
}

impl RecordBatchReader for Partitioned {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}

/// A double-quoted SQL identifier.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The bounds of `col` in `sql`'s result, in the column's unit, and
/// whether it is in nanoseconds.
fn bounds(db: &QuestDb, sql: &str, col: &str) -> Result<Option<(i64, i64, bool)>> {
    let c = quoted(col);
    let q = format!("SELECT min({c}) AS lo, max({c}) AS hi FROM ({sql}) qa_part");
    let batches = db.query_arrow(&q)?.fetch_all_arrow()?;
    let Some(b) = batches.iter().find(|b| b.num_rows() > 0) else {
        return Ok(None);
    };
    let value = |i: usize| -> Result<Option<(i64, bool)>> {
        let a = b.column(i);
        if a.is_null(0) {
            return Ok(None);
        }
        Ok(Some(match a.data_type() {
            DataType::Timestamp(TimeUnit::Microsecond, _) => {
                (a.as_primitive::<TimestampMicrosecondType>().value(0), false)
            }
            DataType::Timestamp(TimeUnit::Nanosecond, _) => {
                (a.as_primitive::<TimestampNanosecondType>().value(0), true)
            }
            DataType::Timestamp(TimeUnit::Millisecond, _) => (
                a.as_primitive::<TimestampMillisecondType>()
                    .value(0)
                    .saturating_mul(1000),
                false,
            ),
            other => {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    format!(
                        "query_partitioned: column {col} is {other}; partitions need a TIMESTAMP column"
                    ),
                ));
            }
        }))
    };
    match (value(0)?, value(1)?) {
        (Some((lo, nanos)), Some((hi, _))) => Ok(Some((lo, hi, nanos))),
        _ => Ok(None),
    }
}

/// `n` half-open ranges covering `lo..=hi`, none empty.
fn ranges(lo: i64, hi: i64, n: usize) -> Vec<(i64, i64)> {
    let span = (hi as i128 - lo as i128 + 1).max(1);
    let n = (n as i128).clamp(1, span);
    let step = (span + n - 1) / n;
    let mut out = Vec::new();
    let mut start = lo as i128;
    while start <= hi as i128 {
        let end = (start + step).min(hi as i128 + 1);
        out.push((start as i64, end.min(i64::MAX as i128) as i64));
        if end > hi as i128 {
            break;
        }
        start = end;
    }
    out
}

impl QuestDb {
    /// Runs `sql` as `n` queries over disjoint ranges of the TIMESTAMP
    /// column `ts_col`, each on a connection of its own (outside the pool),
    /// and returns their batches as one stream, in arrival order.
    ///
    /// One `min`/`max` query over `sql` finds the bounds first; range `i`
    /// is then `SELECT * FROM (sql) WHERE ts_col >= lo_i AND ts_col < hi_i`
    /// (with the bounds as binds; the first range also takes the rows where
    /// `ts_col` is NULL), so every row of the result is read exactly once.
    /// Rows committed after the bounds query beyond its maximum are not
    /// read, and the order across ranges is the order of arrival: sort
    /// afterwards if it matters. `n` is lowered to the number of distinct
    /// instants in the range; an empty result is one plain query.
    pub fn query_partitioned(&self, sql: &str, ts_col: &str, n: usize) -> Result<Partitioned> {
        let ranges = match bounds(self, sql, ts_col)? {
            Some((lo, hi, nanos)) => ranges(lo, hi, n.max(1))
                .into_iter()
                .map(|r| Some((r, nanos)))
                .collect(),
            None => vec![None],
        };
        let c = quoted(ts_col);
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::sync_channel::<Msg>(2 * ranges.len());
        let mut workers = Vec::with_capacity(ranges.len());
        for (i, range) in ranges.iter().enumerate() {
            let conf = self.conf().clone();
            let tx = tx.clone();
            let halt = stop.clone();
            let q = match range {
                None => sql.to_string(),
                Some(_) if i == 0 => format!(
                    "SELECT * FROM ({sql}) qa_part WHERE ({c} >= $1 AND {c} < $2) OR {c} IS NULL"
                ),
                Some(_) => format!("SELECT * FROM ({sql}) qa_part WHERE {c} >= $1 AND {c} < $2"),
            };
            let range = *range;
            let spawned = std::thread::Builder::new()
                .name(format!("qa-partition-{i}"))
                .spawn(move || {
                    let run = || -> Result<()> {
                        let mut reader = Reader::connect(&conf)?;
                        let mut query = reader.prepare(&q);
                        if let Some(((lo, hi), nanos)) = range {
                            query = if nanos {
                                query.bind_timestamp_nanos(lo).bind_timestamp_nanos(hi)
                            } else {
                                query.bind_timestamp_micros(lo).bind_timestamp_micros(hi)
                            };
                        }
                        let mut cursor = query.execute()?;
                        if tx.send(Msg::Schema(cursor.schema())).is_err() {
                            return Ok(());
                        }
                        while !halt.load(Ordering::SeqCst) {
                            match cursor.next_arrow_batch()? {
                                Some(b) => {
                                    if tx.send(Msg::Batch(b)).is_err() {
                                        break;
                                    }
                                }
                                None => break,
                            }
                        }
                        Ok(())
                    };
                    let _ = match run() {
                        Ok(()) => tx.send(Msg::Done),
                        Err(e) => tx.send(Msg::Failed(
                            e.context(format!("query_partitioned range {i}")),
                        )),
                    };
                });
            match spawned {
                Ok(h) => workers.push(h),
                Err(e) => {
                    stop.store(true, Ordering::SeqCst);
                    return Err(Error::from(e).context("query_partitioned: starting a thread"));
                }
            }
        }
        drop(tx);
        // Forward the workers' messages as plain results, after the first
        // schema (every range has the same one).
        let partitions = ranges.len();
        let (out_tx, out_rx) = mpsc::sync_channel::<Result<RecordBatch>>(2 * partitions);
        let mut schema = None;
        let mut pending = Vec::new();
        let mut done = 0usize;
        while schema.is_none() {
            match rx.recv() {
                Ok(Msg::Schema(s)) => schema = Some(s),
                Ok(Msg::Batch(b)) => pending.push(b),
                Ok(Msg::Done) => done += 1,
                Ok(Msg::Failed(e)) => {
                    stop.store(true, Ordering::SeqCst);
                    drop(rx);
                    for w in workers {
                        let _ = w.join();
                    }
                    return Err(e);
                }
                Err(_) => {
                    return Err(Error::new(
                        ErrorKind::Internal,
                        "query_partitioned: every range ended before a schema arrived",
                    ));
                }
            }
        }
        let stop2 = stop.clone();
        let forward = std::thread::Builder::new()
            .name("qa-partition-merge".into())
            .spawn(move || {
                for b in pending {
                    if out_tx.send(Ok(b)).is_err() {
                        return;
                    }
                }
                while done < partitions {
                    let msg = match rx.recv() {
                        Ok(m) => m,
                        Err(_) => return,
                    };
                    let item = match msg {
                        Msg::Schema(_) => continue,
                        Msg::Done => {
                            done += 1;
                            continue;
                        }
                        Msg::Batch(b) => Ok(b),
                        Msg::Failed(e) => {
                            stop2.store(true, Ordering::SeqCst);
                            Err(e)
                        }
                    };
                    let failed = item.is_err();
                    if out_tx.send(item).is_err() || failed {
                        return;
                    }
                }
            })
            .map_err(|e| Error::from(e).context("query_partitioned: starting a thread"))?;
        workers.push(forward);
        Ok(Partitioned {
            schema: schema.unwrap_or_else(|| Arc::new(arrow::datatypes::Schema::empty())),
            rx: Some(out_rx),
            workers,
            stop,
            partitions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_the_bounds_once() {
        for (lo, hi, n) in [
            (0i64, 99i64, 4usize),
            (5, 5, 3),
            (0, 2, 8),
            (-10, 10, 3),
            (i64::MAX - 5, i64::MAX - 1, 2),
        ] {
            let r = ranges(lo, hi, n);
            assert!(!r.is_empty() && r.len() <= n);
            assert_eq!(r[0].0, lo);
            for w in r.windows(2) {
                assert_eq!(w[0].1, w[1].0, "{lo} {hi} {n}");
            }
            let last = r.last().unwrap();
            assert!(last.1 as i128 >= hi as i128, "{lo} {hi} {n}: {r:?}");
            assert!(r.iter().all(|(a, b)| a < b));
        }
        assert_eq!(
            ranges(0, 99, 4),
            vec![(0, 25), (25, 50), (50, 75), (75, 100)]
        );
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quoted("ts"), "\"ts\"");
        assert_eq!(quoted("a\"b"), "\"a\"\"b\"");
    }
}
