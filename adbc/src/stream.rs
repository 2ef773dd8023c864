//! Statement results as an owned, `'static` `RecordBatchReader` (what ADBC
//! exports as an `ArrowArrayStream`).
//!
//! [`ResultStream`] holds the running execution's cursor itself (an owned
//! one, [`QuestDb::query_owned`]), so the consumer's `get_next` takes the
//! next batch straight from the cursor's read-ahead: no thread or channel
//! in between. The driver decodes on demand ([`Query::decode_on_demand`]):
//! while the consumer works on a batch the client's receiving thread reads
//! the next frame, and decodes it when the consumer asks; so a streamed
//! result holds the batches the consumer keeps, the one it is handed and
//! the frame, never the whole result. Several bound
//! parameter rows are several executions whose batches follow each other
//! in one stream; each runs when the one before has ended, on a
//! connection from the pool. Dropping the stream drops its cursor, which
//! cancels the query and returns the connection to the pool.
//!
//! [`Guarded`] keeps panics from crossing the FFI boundary: the driver
//! exporter catches them in every ADBC entry point, but the exported
//! stream's `get_next` calls the reader outside of those.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use arrow::array::{RecordBatch, RecordBatchReader};
use arrow::datatypes::{Schema, SchemaRef};
use arrow::error::ArrowError;
use questdb_arrow::client::{Cursor, Query, QuestDb, Terminal};
use questdb_arrow::protocol::ColumnData;
use questdb_arrow::{Error, ErrorKind, Result};

use crate::binds::ParamRows;

/// `q` with `params` bound (`$1`, `$2`, ...).
fn with_params<'a>(q: Query<'a>, params: Vec<ColumnData>) -> Query<'a> {
    params.into_iter().fold(q, Query::bind)
}

/// Runs `q` once with `params` bound and returns its streaming cursor,
/// which decodes each batch only when the consumer asks for it
/// ([`Query::decode_on_demand`]: no batch waits decoded, whatever the
/// read-ahead). The network still overlaps the consumer's work (the next
/// frame is read meanwhile); the decoding, a copy of the frame's columns
/// into Arrow buffers, does not. What decoding ahead would buy (riding
/// out a consumer's stalls) is not worth a batch of memory in a driver
/// whose consumers (pandas, polars, DuckDB, ...) convert batch by batch.
pub(crate) fn execute_one<'a>(q: Query<'a>, params: Vec<ColumnData>) -> Result<Cursor<'a>> {
    with_params(q, params).decode_on_demand(true).execute()
}

/// The schema of `sql`'s result with `params` bound, without its rows
/// ([`Query::execute_schema`]).
pub(crate) fn describe(db: &QuestDb, sql: &str, params: Vec<ColumnData>) -> Result<SchemaRef> {
    with_params(db.query(sql)?, params).execute_schema()
}

/// Runs `sql` once per parameter row, reading and dropping any result,
/// and returns the rows affected: the sum of what DDL/DML statements
/// reported, `None` when an execution returned a result set (unknown).
pub(crate) fn execute_update(db: &QuestDb, sql: &str, rows: ParamRows) -> Result<Option<i64>> {
    let mut total = Some(0i64);
    for params in rows {
        let mut cur = execute_one(db.query(sql)?, params?)?;
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

/// A running statement's results; see the module docs.
pub(crate) struct ResultStream {
    db: Arc<QuestDb>,
    sql: String,
    /// The parameter rows not yet executed, numbered.
    rows: std::iter::Enumerate<ParamRows>,
    /// The first execution's schema (empty without parameter rows).
    schema: SchemaRef,
    /// The execution being read; `None` between executions.
    cursor: Option<Cursor<'static>>,
    /// The last execution ended, or one failed: nothing follows.
    done: bool,
}

impl ResultStream {
    /// Starts the first execution of `sql` (of its first parameter row)
    /// and waits for its schema (or its error).
    pub(crate) fn start(db: Arc<QuestDb>, sql: String, rows: ParamRows) -> Result<ResultStream> {
        let mut stream = ResultStream {
            db,
            sql,
            rows: rows.enumerate(),
            schema: Arc::new(Schema::empty()),
            cursor: None,
            done: false,
        };
        match stream.next_execution()? {
            Some(cur) => {
                stream.schema = cur.schema();
                stream.cursor = Some(cur);
            }
            // No parameter rows: no execution, an empty result.
            None => stream.done = true,
        }
        Ok(stream)
    }

    /// Runs the next parameter row's execution; `None` after the last.
    /// Its columns must be the first execution's.
    fn next_execution(&mut self) -> Result<Option<Cursor<'static>>> {
        let Some((n, params)) = self.rows.next() else {
            return Ok(None);
        };
        let cur = execute_one(self.db.query_owned(&self.sql)?, params?)?;
        let s = cur.schema();
        if n > 0 && self.schema.fields() != s.fields() {
            return Err(Error::new(
                ErrorKind::InvalidData,
                format!(
                    "parameter row {n} returned columns {:?}, the first row {:?}: \
                     one result stream needs one schema",
                    s.fields(),
                    self.schema.fields()
                ),
            ));
        }
        Ok(Some(cur))
    }

    /// The next batch of the running execution, or of those after it.
    fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        loop {
            if let Some(cur) = &mut self.cursor {
                if let Some(b) = cur.next_arrow_batch()? {
                    return Ok(Some(b));
                }
                // Ended: its connection goes back before the next runs.
                self.cursor = None;
            }
            match self.next_execution()? {
                Some(cur) => self.cursor = Some(cur),
                None => return Ok(None),
            }
        }
    }
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a text message".into())
}

impl Iterator for ResultStream {
    type Item = std::result::Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = self.next_batch();
        if !matches!(next, Ok(Some(_))) {
            // The end, or an error: nothing follows (an execution that
            // failed was the last; its cursor goes now).
            self.done = true;
            self.cursor = None;
        }
        next.map_err(|e| ArrowError::ExternalError(Box::new(e)))
            .transpose()
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
