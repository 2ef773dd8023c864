//! Bulk ingest (`adbc.ingest.target_table`): the bound batches streamed
//! into a table by the client's [`QuestDb::ingest`] (pipelined frames,
//! bounded memory: the batches not yet acknowledged, never the whole
//! input), after the check or the drop the mode asks for.
//!
//! QuestDB creates a table on the first rows sent to it, with the column
//! types of the Arrow → QuestDB mapping, so `create` and `create_append`
//! need no DDL; an input without rows creates no table.
//!
//! Each bound batch is committed in slices of at most [`COMMIT_BYTES`] of
//! Arrow data (zero-copy slices of the batch): the server holds the
//! uncommitted rows of a transaction in memory under a budget, which one
//! large batch (a pyarrow table of millions of rows is one) would exceed.
//! A failed ingest reports the rows committed before it.

use adbc_core::error::{Result, Status};
use adbc_core::options::IngestMode;
use arrow::array::{Array, RecordBatch};
use arrow::datatypes::SchemaRef;
use questdb_arrow::client::{IngestOptions, QuestDb};
use questdb_arrow::error::Status as Qwp;
use questdb_arrow::{ErrorKind, Result as QdbResult};

use crate::binds::Batches;
use crate::error::{OrAdbc, adbc_error};

/// Where and how a statement ingests.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// `adbc.ingest.target_table`.
    pub(crate) table: String,
    /// `adbc.ingest.mode` (ADBC's default: create).
    pub(crate) mode: IngestMode,
    /// `questdb.ingest.timestamp_column`: the designated timestamp of a
    /// table the ingest creates (none: the server stamps each row).
    pub(crate) timestamp_column: Option<String>,
}

/// `name` as a SQL identifier: as it is when it is a plain one (QuestDB
/// compares names case-insensitively), else double-quoted.
pub(crate) fn sql_ident(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// The schema of `table` (the result schema of an empty `SELECT *`), or
/// `None` when the server answers that it does not exist (a PARSE_ERROR
/// for a well-formed query that names one table). Any other error is
/// returned.
pub(crate) fn table_schema(db: &QuestDb, table: &str) -> QdbResult<Option<SchemaRef>> {
    let sql = format!("SELECT * FROM {} LIMIT 0", sql_ident(table));
    match db.query_arrow(&sql) {
        Ok(mut cur) => {
            while cur.next_arrow_batch()?.is_some() {}
            Ok(Some(cur.schema()))
        }
        Err(e) if e.kind() == ErrorKind::Server && e.status() == Some(Qwp::ParseError) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The most Arrow bytes committed at once: far below the server's budget
/// of uncommitted rows (64 MiB on the embedded server), large enough that
/// commits cost little.
pub(crate) const COMMIT_BYTES: usize = 16 << 20;

/// The bytes of `b`'s rows (of a slice: of the slice, not of the buffers
/// it shares).
fn slice_bytes(b: &RecordBatch) -> usize {
    b.columns()
        .iter()
        .map(|c| {
            c.to_data()
                .get_slice_memory_size()
                .unwrap_or_else(|_| c.get_array_memory_size())
        })
        .sum()
}

/// `batches` with every batch over `limit` bytes cut into row slices of
/// at most about `limit` bytes each.
pub(crate) fn commit_sized(batches: Batches, limit: usize) -> Batches {
    Box::new(batches.flat_map(move |item| {
        let slices: Vec<_> = match item {
            Ok(b) => {
                let bytes = slice_bytes(&b);
                let rows = b.num_rows();
                let parts = bytes.div_ceil(limit.max(1)).clamp(1, rows.max(1));
                let per = rows.div_ceil(parts).max(1);
                (0..rows)
                    .step_by(per)
                    .map(|start| Ok(b.slice(start, per.min(rows - start))))
                    .collect()
            }
            Err(e) => vec![Err(e)],
        };
        slices
    }))
}

/// Ingests `batches` into the target; returns the rows committed.
pub(crate) fn ingest(db: &QuestDb, target: &Target, batches: Batches) -> Result<i64> {
    let table = &target.table;
    match target.mode {
        IngestMode::Create => {
            if table_schema(db, table).or_adbc()?.is_some() {
                return Err(adbc_error(
                    Status::AlreadyExists,
                    "42P07",
                    format!("ingest mode create: table {table:?} already exists"),
                ));
            }
        }
        IngestMode::Append => {
            if table_schema(db, table).or_adbc()?.is_none() {
                return Err(adbc_error(
                    Status::NotFound,
                    "42P01",
                    format!("ingest mode append: table {table:?} does not exist"),
                ));
            }
        }
        IngestMode::Replace => {
            let drop = format!("DROP TABLE IF EXISTS {}", sql_ident(table));
            let mut cur = db.query_arrow(&drop).or_adbc()?;
            while cur.next_arrow_batch().or_adbc()?.is_some() {}
        }
        IngestMode::CreateAppend => {}
    }
    let mut opts = IngestOptions::new();
    if let Some(ts) = &target.timestamp_column {
        opts = opts.timestamp_column(ts.as_str());
    }
    let summary = db
        .ingest(table, commit_sized(batches, COMMIT_BYTES), &opts)
        .or_adbc()?;
    Ok(i64::try_from(summary.rows).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, RecordBatch};
    use arrow::datatypes::{DataType, Field, Schema};

    use super::{commit_sized, sql_ident};

    fn longs(n: i64) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, false)]));
        RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from_iter_values(0..n))]).unwrap()
    }

    #[test]
    fn large_batches_are_cut_into_commit_sized_slices() {
        // 100 000 LONGs: 800 000 bytes; at most 100 000 bytes a slice.
        let input: super::Batches = Box::new(vec![Ok(longs(100_000)), Ok(longs(10))].into_iter());
        let out: Vec<RecordBatch> = commit_sized(input, 100_000).map(Result::unwrap).collect();
        assert!(out.len() >= 9, "{} slices", out.len());
        assert!(
            out[..out.len() - 1]
                .iter()
                .all(|b| super::slice_bytes(b) <= 100_000)
        );
        let rows: Vec<i64> = out
            .iter()
            .flat_map(|b| {
                let a = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
                a.values().to_vec()
            })
            .collect();
        let mut want: Vec<i64> = (0..100_000).collect();
        want.extend(0..10);
        assert_eq!(rows, want, "every row once, in order");
        assert_eq!(
            out.last().unwrap().num_rows(),
            10,
            "a small batch stays whole"
        );
    }

    #[test]
    fn identifiers_are_quoted_only_when_needed() {
        assert_eq!(sql_ident("trades_2024"), "trades_2024");
        assert_eq!(sql_ident("Trades"), "Trades");
        assert_eq!(sql_ident("my table"), "\"my table\"");
        assert_eq!(sql_ident("9lives"), "\"9lives\"");
        assert_eq!(sql_ident("a\"b"), "\"a\"\"b\"");
    }
}
