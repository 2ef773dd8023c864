//! Statement results as an owned, `'static` `RecordBatchReader` (what ADBC
//! exports as an `ArrowArrayStream`).
//!
//! The client's [`Cursor`](questdb_arrow::client::Cursor) borrows its
//! pooled connection from the [`QuestDb`] handle, so a worker thread owns
//! the handle (an `Arc`) and the cursor, and passes the batches on through
//! a channel of one: the result streams batch by batch with the cursor's
//! bounded read-ahead plus one batch in the channel, never whole. Several
//! bound parameter rows are several executions whose batches follow each
//! other in one stream. Dropping the stream stops the worker at its next
//! batch; dropping its cursor cancels the query and returns the
//! connection to the pool.
//!
//! [`Guarded`] keeps panics from crossing the FFI boundary: the driver
//! exporter catches them in every ADBC entry point, but the exported
//! stream's `get_next` calls the reader outside of those.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use arrow::array::{RecordBatch, RecordBatchReader};
use arrow::datatypes::{Schema, SchemaRef};
use arrow::error::ArrowError;
use questdb_arrow::client::{Cursor, QuestDb, Terminal};
use questdb_arrow::protocol::ColumnData;
use questdb_arrow::{Error, ErrorKind, Result};

use crate::binds::ParamRows;

/// Runs `sql` once with `params` bound (`$1`, `$2`, ...) and returns its
/// streaming cursor.
pub(crate) fn execute_one<'a>(
    db: &'a QuestDb,
    sql: &str,
    params: Vec<ColumnData>,
) -> Result<Cursor<'a>> {
    let mut q = db.query(sql)?;
    for p in params {
        q = q.bind(p);
    }
    q.execute()
}

/// Runs `sql` once per parameter row, reading and dropping any result,
/// and returns the rows affected: the sum of what DDL/DML statements
/// reported, `None` when an execution returned a result set (unknown).
pub(crate) fn execute_update(db: &QuestDb, sql: &str, rows: ParamRows) -> Result<Option<i64>> {
    let mut total = Some(0i64);
    for params in rows {
        let mut cur = execute_one(db, sql, params?)?;
        while cur.next_arrow_batch()?.is_some() {}
        total = match (total, cur.terminal()) {
            (Some(t), Some(Terminal::ExecDone { rows_affected, .. })) => {
                Some(t.saturating_add(i64::try_from(*rows_affected).unwrap_or(i64::MAX)))
            }
            _ => None,
        };
    }
    Ok(total)
}

/// What the worker passes on.
enum Msg {
    /// The result's schema, first (known before any row).
    Schema(SchemaRef),
    Batch(RecordBatch),
    /// The execution failed; nothing follows.
    Failed(Error),
}

/// A running statement's results; see the module docs.
pub(crate) struct ResultStream {
    schema: SchemaRef,
    rx: Receiver<Msg>,
    worker: Option<JoinHandle<()>>,
}

impl ResultStream {
    /// Starts the executions of `sql`, one per parameter row, and waits
    /// for the first one's schema (or its error).
    pub(crate) fn start(db: Arc<QuestDb>, sql: String, rows: ParamRows) -> Result<ResultStream> {
        let (tx, rx) = sync_channel(1);
        let worker = std::thread::Builder::new()
            .name("adbc-result".into())
            .spawn(move || run(&db, &sql, rows, &tx))
            .map_err(|e| Error::wrap(ErrorKind::Io, "spawning the result thread", e))?;
        let mut stream = ResultStream {
            schema: Arc::new(Schema::empty()),
            rx,
            worker: Some(worker),
        };
        match stream.rx.recv() {
            Ok(Msg::Schema(s)) => stream.schema = s,
            Ok(Msg::Failed(e)) => return Err(e),
            Ok(Msg::Batch(_)) => {
                return Err(Error::new(
                    ErrorKind::Internal,
                    "the result thread sent a batch before the schema",
                ));
            }
            Err(_) => return Err(stream.worker_gone()),
        }
        Ok(stream)
    }

    /// The error for a worker that ended without a last message: it
    /// panicked (a bug, reported with the panic's text).
    fn worker_gone(&mut self) -> Error {
        let text = match self.worker.take().map(JoinHandle::join) {
            Some(Err(p)) => panic_text(p.as_ref()),
            _ => "it ended without a result end".into(),
        };
        Error::new(
            ErrorKind::Internal,
            format!("the result thread failed: {text}"),
        )
    }
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a text message".into())
}

/// The worker: every execution in turn, its batches into `tx`. Stops when
/// the stream was dropped (a send fails).
fn run(db: &QuestDb, sql: &str, rows: ParamRows, tx: &SyncSender<Msg>) {
    let mut schema: Option<SchemaRef> = None;
    for (n, params) in rows.enumerate() {
        let outcome = (|| -> Result<bool> {
            let mut cur = execute_one(db, sql, params?)?;
            let s = cur.schema();
            match &schema {
                None => {
                    schema = Some(s.clone());
                    if tx.send(Msg::Schema(s)).is_err() {
                        return Ok(false);
                    }
                }
                Some(first) if first.fields() != s.fields() => {
                    return Err(Error::new(
                        ErrorKind::InvalidData,
                        format!(
                            "parameter row {n} returned columns {:?}, the first row {:?}: \
                             one result stream needs one schema",
                            s.fields(),
                            first.fields()
                        ),
                    ));
                }
                Some(_) => {}
            }
            while let Some(b) = cur.next_arrow_batch()? {
                if tx.send(Msg::Batch(b)).is_err() {
                    return Ok(false);
                }
            }
            Ok(true)
        })();
        match outcome {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                // The stream may be gone; then nobody needs the error.
                let _ = tx.send(Msg::Failed(e));
                return;
            }
        }
    }
    if schema.is_none() {
        // No parameter rows: no execution, an empty result.
        let _ = tx.send(Msg::Schema(Arc::new(Schema::empty())));
    }
}

impl Iterator for ResultStream {
    type Item = std::result::Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.worker.as_ref()?;
        match self.rx.recv() {
            Ok(Msg::Batch(b)) => Some(Ok(b)),
            Ok(Msg::Failed(e)) => {
                self.worker = None;
                Some(Err(ArrowError::ExternalError(Box::new(e))))
            }
            Ok(Msg::Schema(_)) => {
                self.worker = None;
                Some(Err(ArrowError::ExternalError(Box::new(Error::new(
                    ErrorKind::Internal,
                    "the result thread sent a second schema",
                )))))
            }
            Err(_) => {
                // The sender is gone: the worker returned (the end) or
                // panicked.
                let worker = self.worker.take()?;
                match worker.join() {
                    Ok(()) => None,
                    Err(p) => Some(Err(ArrowError::ExternalError(Box::new(Error::new(
                        ErrorKind::Internal,
                        format!("the result thread panicked: {}", panic_text(p.as_ref())),
                    ))))),
                }
            }
        }
    }
}

impl RecordBatchReader for ResultStream {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}

/// A reader whose panics become errors (see the module docs); after one
/// it ends.
pub(crate) struct Guarded<R> {
    inner: R,
    schema: SchemaRef,
    done: bool,
}

impl<R: RecordBatchReader> Guarded<R> {
    /// Guards `inner`.
    pub(crate) fn new(inner: R) -> Self {
        let schema = inner.schema();
        Guarded {
            inner,
            schema,
            done: false,
        }
    }
}

impl<R: RecordBatchReader> Iterator for Guarded<R> {
    type Item = std::result::Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match catch_unwind(AssertUnwindSafe(|| self.inner.next())) {
            Ok(item) => item,
            Err(p) => {
                self.done = true;
                Some(Err(ArrowError::ExternalError(Box::new(Error::new(
                    ErrorKind::Internal,
                    format!("reading the result panicked: {}", panic_text(p.as_ref())),
                )))))
            }
        }
    }
}

impl<R: RecordBatchReader> RecordBatchReader for Guarded<R> {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}

#[cfg(test)]
mod tests {
    use arrow::datatypes::{DataType, Field};
    use arrow::ffi_stream::{ArrowArrayStreamReader, FFI_ArrowArrayStream};

    use super::*;

    /// A reader that panics on its first batch.
    struct Panics(SchemaRef);

    impl Iterator for Panics {
        type Item = std::result::Result<RecordBatch, ArrowError>;
        fn next(&mut self) -> Option<Self::Item> {
            panic!("boom in next");
        }
    }

    impl RecordBatchReader for Panics {
        fn schema(&self) -> SchemaRef {
            self.0.clone()
        }
    }

    /// Through the C stream interface (as ADBC exports results): without
    /// the guard the panic would unwind out of an `extern "C"` function and
    /// abort the process; with it the consumer reads an error.
    #[test]
    fn a_panicking_reader_is_an_error_across_the_c_stream() {
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, true)]));
        let guarded = Guarded::new(Panics(schema.clone()));
        let ffi = FFI_ArrowArrayStream::new(Box::new(guarded));
        let mut reader = ArrowArrayStreamReader::try_new(ffi).unwrap();
        assert_eq!(reader.schema(), schema);
        let err = reader.next().unwrap().unwrap_err();
        assert!(err.to_string().contains("boom in next"), "{err}");
        assert!(reader.next().is_none());
    }
}
