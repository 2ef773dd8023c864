//! A statement: a SQL query (with bound parameter rows) or a bulk ingest
//! (`adbc.ingest.target_table` with bound data). Setting one clears the
//! other and the bound data (bind after setting the query or target; the
//! same statement runs again with what stays bound).

use std::sync::Arc;

use adbc_core::error::Result;
use adbc_core::options::{IngestMode, OptionStatement, OptionValue};
use adbc_core::{Optionable, PartitionedResult, Statement};
use arrow::array::{RecordBatch, RecordBatchIterator, RecordBatchReader};
use arrow::datatypes::Schema;
use questdb_arrow::client::QuestDb;

use crate::binds::{Bound, param_rows, row_binds};
use crate::error::{OrAdbc, invalid_state, not_implemented, unknown_option};
use crate::ingest::{self, Target};
use crate::options::{self, not_found};
use crate::stream::{self, Guarded, ResultStream};

/// The driver's own statement option: the designated timestamp column of
/// a table a bulk ingest creates.
pub const OPTION_INGEST_TIMESTAMP_COLUMN: &str = "questdb.ingest.timestamp_column";

/// A statement of a [`QuestDbConnection`](crate::QuestDbConnection).
pub struct QuestDbStatement {
    db: Arc<QuestDb>,
    sql: Option<String>,
    bound: Option<Bound>,
    table: Option<String>,
    mode: IngestMode,
    timestamp_column: Option<String>,
}

impl std::fmt::Debug for QuestDbStatement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuestDbStatement")
            .field("sql", &self.sql)
            .field("table", &self.table)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl QuestDbStatement {
    pub(crate) fn new(db: Arc<QuestDb>) -> Self {
        QuestDbStatement {
            db,
            sql: None,
            bound: None,
            table: None,
            mode: IngestMode::Create,
            timestamp_column: None,
        }
    }

    fn target(&self) -> Option<Target> {
        Some(Target {
            table: self.table.clone()?,
            mode: self.mode,
            timestamp_column: self.timestamp_column.clone(),
        })
    }

    fn sql(&self) -> Result<String> {
        self.sql.clone().ok_or_else(|| {
            invalid_state("no SQL query and no ingest target table set on the statement")
        })
    }

    /// Runs the bulk ingest of the bound data into `target`.
    fn ingest(&mut self, target: &Target) -> Result<i64> {
        let batches = Bound::take_batches(&mut self.bound).ok_or_else(|| {
            invalid_state(format!(
                "bulk ingest into {:?}: bind data first (bind or bind_stream)",
                target.table
            ))
        })?;
        ingest::ingest(&self.db, target, batches)
    }
}

impl Optionable for QuestDbStatement {
    type Option = OptionStatement;

    /// `adbc.ingest.target_table`, `adbc.ingest.mode` (create, append,
    /// replace, create_append), `adbc.ingest.temporary` (only `false`:
    /// QuestDB has no temporary tables) and
    /// [`OPTION_INGEST_TIMESTAMP_COLUMN`]; anything else is refused naming
    /// the key.
    fn set_option(&mut self, key: Self::Option, value: OptionValue) -> Result<()> {
        let name = key.as_ref().to_string();
        match key {
            OptionStatement::TargetTable => {
                self.table = Some(options::text(&name, value)?);
                self.sql = None;
                self.bound = None;
            }
            OptionStatement::IngestMode => self.mode = IngestMode::try_from(&value)?,
            OptionStatement::Temporary => {
                if options::boolean(&name, &value)? {
                    return Err(not_implemented(
                        "adbc.ingest.temporary=true: QuestDB has no temporary tables",
                    ));
                }
            }
            OptionStatement::TargetCatalog | OptionStatement::TargetDbSchema => {
                return Err(not_implemented(format!(
                    "{name}: QuestDB has no catalogs or database schemas"
                )));
            }
            OptionStatement::Other(k) if k == OPTION_INGEST_TIMESTAMP_COLUMN => {
                self.timestamp_column = Some(options::text(&name, value)?);
            }
            _ => return Err(unknown_option("statement", &name)),
        }
        Ok(())
    }

    fn get_option_string(&self, key: Self::Option) -> Result<String> {
        let value = match &key {
            OptionStatement::TargetTable => self.table.clone(),
            OptionStatement::IngestMode => Some(String::from(self.mode)),
            OptionStatement::Temporary => Some("false".into()),
            OptionStatement::Other(k) if k == OPTION_INGEST_TIMESTAMP_COLUMN => {
                self.timestamp_column.clone()
            }
            _ => None,
        };
        value.ok_or_else(|| not_found(key.as_ref()))
    }

    crate::options::text_only_getters!();
}

impl Statement for QuestDbStatement {
    /// Parameters (one execution per row) or the data of a bulk ingest.
    /// The batch stays bound for later executions.
    fn bind(&mut self, batch: RecordBatch) -> Result<()> {
        self.bound = Some(Bound::Batch(batch));
        Ok(())
    }

    /// Like [`Statement::bind`] with a stream, which the next execution
    /// reads (once, batch by batch).
    fn bind_stream(&mut self, reader: Box<dyn RecordBatchReader + Send>) -> Result<()> {
        self.bound = Some(Bound::Stream(reader));
        Ok(())
    }

    /// A query's result, streaming. With bound parameters, one execution
    /// per row, their results one after the other. For a bulk ingest: the
    /// ingest, and an empty result.
    fn execute(&mut self) -> Result<Box<dyn RecordBatchReader + Send + 'static>> {
        if let Some(target) = self.target() {
            self.ingest(&target)?;
            let empty = Arc::new(Schema::empty());
            return Ok(Box::new(RecordBatchIterator::new(Vec::new(), empty)));
        }
        let sql = self.sql()?;
        let rows = param_rows(Bound::take_batches(&mut self.bound));
        let stream = ResultStream::start(self.db.clone(), sql, rows).or_adbc()?;
        Ok(Box::new(Guarded::new(stream)))
    }

    /// Rows affected: DDL/DML (summed over the parameter rows; `None` when
    /// a statement returned a result set), or the rows a bulk ingest
    /// committed.
    fn execute_update(&mut self) -> Result<Option<i64>> {
        if let Some(target) = self.target() {
            return self.ingest(&target).map(Some);
        }
        let sql = self.sql()?;
        let rows = param_rows(Bound::take_batches(&mut self.bound));
        stream::execute_update(&self.db, &sql, rows).or_adbc()
    }

    /// A query's result schema without its rows (the first bound
    /// parameter row's execution runs until its first batch and is
    /// cancelled). Statements that may write are refused rather than run,
    /// as are a bulk ingest (no result) and a bound stream (describing
    /// would consume it).
    fn execute_schema(&mut self) -> Result<Schema> {
        if self.target().is_some() {
            return Err(not_implemented(
                "execute_schema of a bulk ingest: it returns no result set",
            ));
        }
        let sql = self.sql()?;
        let params = match &self.bound {
            None => Vec::new(),
            Some(Bound::Batch(b)) if b.num_rows() == 0 => {
                // No parameter rows: no execution, an empty result.
                return Ok(Schema::empty());
            }
            Some(Bound::Batch(b)) => row_binds(b, 0).or_adbc()?,
            Some(Bound::Stream(_)) => {
                return Err(not_implemented(
                    "execute_schema with a bound stream: describing would consume it; \
                     bind a batch of parameters instead",
                ));
            }
        };
        let schema = stream::describe(&self.db, &sql, params).or_adbc()?;
        Ok(schema.as_ref().clone())
    }

    fn execute_partitions(&mut self) -> Result<PartitionedResult> {
        Err(not_implemented(
            "partitioned results are not implemented by the QuestDB ADBC driver",
        ))
    }

    fn get_parameter_schema(&self) -> Result<Schema> {
        Err(not_implemented(
            "QuestDB does not describe parameters: bind them by position ($1, $2, ...)",
        ))
    }

    /// A no-op: statements are sent as text at each execution, so any
    /// statement can run again.
    fn prepare(&mut self) -> Result<()> {
        self.sql()?;
        Ok(())
    }

    fn set_sql_query(&mut self, query: impl AsRef<str>) -> Result<()> {
        self.sql = Some(query.as_ref().to_string());
        self.table = None;
        self.bound = None;
        Ok(())
    }

    fn set_substrait_plan(&mut self, _plan: impl AsRef<[u8]>) -> Result<()> {
        Err(not_implemented("QuestDB takes SQL, not Substrait plans"))
    }
}
