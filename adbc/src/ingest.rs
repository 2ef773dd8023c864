//! Bulk ingest (`adbc.ingest.target_table`): the bound batches streamed
//! into a table by the client's [`QuestDb::ingest`] (pipelined frames,
//! bounded memory: the batches not yet acknowledged, never the whole
//! input), after the check or the drop the mode asks for.
//!
//! QuestDB creates a table on the first rows sent to it, with the column
//! types of the Arrow → QuestDB mapping, so `create` and `create_append`
//! need no DDL; an input without rows creates no table.

use adbc_core::error::{Result, Status};
use adbc_core::options::IngestMode;
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
    let summary = db.ingest(table, batches, &opts).or_adbc()?;
    Ok(i64::try_from(summary.rows).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::sql_ident;

    #[test]
    fn identifiers_are_quoted_only_when_needed() {
        assert_eq!(sql_ident("trades_2024"), "trades_2024");
        assert_eq!(sql_ident("Trades"), "Trades");
        assert_eq!(sql_ident("my table"), "\"my table\"");
        assert_eq!(sql_ident("9lives"), "\"9lives\"");
        assert_eq!(sql_ident("a\"b"), "\"a\"\"b\"");
    }
}
