//! What a statement gives back: how it ended ([`Terminal`]) and, read
//! whole, its result ([`QueryResult`]).

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;

/// How a statement ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Terminal {
    /// RESULT_END of a result set.
    ResultEnd {
        /// Rows the server produced (0 if it does not count).
        total_rows: u64,
        /// Sequence of the last batch.
        final_seq: u64,
    },
    /// EXEC_DONE of a statement without a result set (DDL, INSERT, ...).
    ExecDone {
        /// Rows inserted or updated; 0 for DDL.
        rows_affected: u64,
        /// The server's statement-type code.
        op_type: u8,
    },
    /// The query was cancelled ([`Cursor::cancel`](super::Cursor::cancel)).
    Cancelled,
}

/// What a statement returned, whole (see [`Reader::sql`](super::Reader::sql)).
#[derive(Debug)]
pub enum QueryResult {
    /// A result set: its schema (known even when there are no rows) and
    /// batches.
    Rows {
        /// Arrow schema with `questdb.*` field metadata.
        schema: SchemaRef,
        /// The batches, in server order.
        batches: Vec<RecordBatch>,
    },
    /// A statement without a result set (DDL, INSERT, ...).
    Done {
        /// Rows inserted or updated; 0 for DDL.
        rows_affected: u64,
    },
}
