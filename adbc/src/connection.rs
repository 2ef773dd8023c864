//! A connection: statements on the database's pooled handle, autocommit
//! only, driver info, table types, objects (`get_objects`) and table
//! schemas.

use std::collections::HashSet;
use std::sync::Arc;

use adbc_core::error::{Error, Result};
use adbc_core::options::{InfoCode, ObjectDepth, OptionConnection, OptionValue};
use adbc_core::{Connection, Optionable};
use arrow::array::RecordBatchReader;
use arrow::datatypes::Schema;
use questdb_arrow::client::QuestDb;

use crate::error::{OrAdbc, adbc_error, not_implemented, unknown_option};
use crate::ingest::table_schema;
use crate::objects::Filters;
use crate::options::{self, not_found};
use crate::statement::QuestDbStatement;

/// Why there are no transactions.
const AUTOCOMMIT_ONLY: &str = "QuestDB commits every statement: the connection is autocommit \
                               only (no transactions, commit or rollback)";

fn autocommit_only(what: &str) -> Error {
    not_implemented(format!("{what}: {AUTOCOMMIT_ONLY}"))
}

/// A connection of a [`QuestDbDatabase`](crate::QuestDbDatabase). Its
/// statements borrow server connections from the database's pools per
/// execution.
#[derive(Debug)]
pub struct QuestDbConnection {
    db: Arc<QuestDb>,
}

impl QuestDbConnection {
    pub(crate) fn new(db: Arc<QuestDb>) -> Self {
        QuestDbConnection { db }
    }
}

impl Optionable for QuestDbConnection {
    type Option = OptionConnection;

    /// `adbc.connection.autocommit`: `true` is accepted (the only mode);
    /// `false` is refused. Every other option is refused naming it.
    fn set_option(&mut self, key: Self::Option, value: OptionValue) -> Result<()> {
        match key {
            OptionConnection::AutoCommit => {
                if options::boolean(key.as_ref(), &value)? {
                    Ok(())
                } else {
                    Err(autocommit_only("adbc.connection.autocommit=false"))
                }
            }
            OptionConnection::ReadOnly
            | OptionConnection::IsolationLevel
            | OptionConnection::CurrentCatalog
            | OptionConnection::CurrentSchema => Err(not_implemented(format!(
                "connection option {:?} is not supported by QuestDB",
                key.as_ref()
            ))),
            _ => Err(unknown_option("connection", key.as_ref())),
        }
    }

    /// `adbc.connection.autocommit` is `"true"`.
    fn get_option_string(&self, key: Self::Option) -> Result<String> {
        match key {
            OptionConnection::AutoCommit => Ok("true".into()),
            _ => Err(not_found(key.as_ref())),
        }
    }

    crate::options::text_only_getters!();
}

impl Connection for QuestDbConnection {
    type StatementType = QuestDbStatement;

    fn new_statement(&mut self) -> Result<Self::StatementType> {
        Ok(QuestDbStatement::new(self.db.clone()))
    }

    /// Vendor and driver names, versions and capabilities.
    fn get_info(
        &self,
        codes: Option<HashSet<InfoCode>>,
    ) -> Result<Box<dyn RecordBatchReader + Send + 'static>> {
        crate::info::get_info(codes)
    }

    /// Catalog [`CATALOG`](crate::CATALOG), schema
    /// [`DB_SCHEMA`](crate::DB_SCHEMA) and the tables and columns of
    /// QuestDB's `tables()` and `table_columns('t')`, to `depth`; the name
    /// filters are SQL `LIKE` patterns.
    fn get_objects(
        &self,
        depth: ObjectDepth,
        catalog: Option<&str>,
        db_schema: Option<&str>,
        table_name: Option<&str>,
        table_type: Option<Vec<&str>>,
        column_name: Option<&str>,
    ) -> Result<Box<dyn RecordBatchReader + Send + 'static>> {
        let filters = Filters {
            depth,
            catalog,
            db_schema,
            table_name,
            table_type,
            column_name,
        };
        crate::objects::get_objects(&self.db, &filters)
    }

    /// The Arrow schema of `table_name` as a query of it returns it
    /// (catalog and schema `None` or the ones `get_objects` lists).
    fn get_table_schema(
        &self,
        catalog: Option<&str>,
        db_schema: Option<&str>,
        table_name: &str,
    ) -> Result<Schema> {
        if catalog.is_some_and(|c| c != crate::CATALOG)
            || db_schema.is_some_and(|s| s != crate::DB_SCHEMA)
        {
            return Err(not_implemented(format!(
                "QuestDB has one catalog, {:?}, and one database schema, {:?}: pass those \
                 or None",
                crate::CATALOG,
                crate::DB_SCHEMA
            )));
        }
        match table_schema(&self.db, table_name).or_adbc()? {
            Some(s) => Ok(s.as_ref().clone()),
            None => Err(adbc_error(
                adbc_core::error::Status::NotFound,
                "42P01",
                format!("table {table_name:?} does not exist"),
            )),
        }
    }

    /// One type: `TABLE`.
    fn get_table_types(&self) -> Result<Box<dyn RecordBatchReader + Send + 'static>> {
        crate::info::get_table_types()
    }

    fn get_statistic_names(&self) -> Result<Box<dyn RecordBatchReader + Send + 'static>> {
        Err(not_implemented(
            "get_statistic_names is not implemented by the QuestDB ADBC driver",
        ))
    }

    fn get_statistics(
        &self,
        _catalog: Option<&str>,
        _db_schema: Option<&str>,
        _table_name: Option<&str>,
        _approximate: bool,
    ) -> Result<Box<dyn RecordBatchReader + Send + 'static>> {
        Err(not_implemented(
            "get_statistics is not implemented by the QuestDB ADBC driver",
        ))
    }

    /// Refused: autocommit only.
    fn commit(&mut self) -> Result<()> {
        Err(autocommit_only("commit"))
    }

    /// Refused: autocommit only.
    fn rollback(&mut self) -> Result<()> {
        Err(autocommit_only("rollback"))
    }

    fn read_partition(
        &self,
        _partition: impl AsRef<[u8]>,
    ) -> Result<Box<dyn RecordBatchReader + Send + 'static>> {
        Err(not_implemented(
            "partitioned results are not implemented by the QuestDB ADBC driver",
        ))
    }
}
