//! A server, a database on it, and short forms of the ADBC calls.

use adbc_core::error::Error;
use adbc_core::options::{OptionDatabase, OptionValue};
use adbc_core::{Connection, Database, Driver, Statement};
use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::{Int64Type, SchemaRef};
use questdb_arrow::server::{Server, ServerBuilder, ServerHandle};
use questdb_arrow_adbc::{QuestDbConnection, QuestDbDatabase, QuestDbDriver, QuestDbStatement};

/// An embedded server and an ADBC database for it.
pub struct Env {
    pub srv: ServerHandle,
    pub db: QuestDbDatabase,
}

/// A server with default settings.
pub fn start() -> Env {
    start_with(Server::builder())
}

/// A server from `b`, on a free port.
pub fn start_with(b: ServerBuilder) -> Env {
    start_with_keys(b, "")
}

/// A server from `b`, on a free port, and a database whose connect string
/// has the `keys` (`key=value;...`) added.
pub fn start_with_keys(b: ServerBuilder, keys: &str) -> Env {
    let srv = b.bind("127.0.0.1:0").start().unwrap();
    let uri = format!("{}{keys}", srv.conf_string());
    let db = QuestDbDriver
        .new_database_with_opts([(OptionDatabase::Uri, OptionValue::from(uri))])
        .unwrap();
    Env { srv, db }
}

impl Env {
    /// A new connection.
    pub fn conn(&self) -> QuestDbConnection {
        self.db.new_connection().unwrap()
    }
}

/// A statement with `sql` set.
pub fn sql_stmt(c: &mut QuestDbConnection, sql: &str) -> QuestDbStatement {
    let mut s = c.new_statement().unwrap();
    s.set_sql_query(sql).unwrap();
    s
}

/// Runs a query; its schema and batches.
pub fn query(c: &mut QuestDbConnection, sql: &str) -> Result<(SchemaRef, Vec<RecordBatch>), Error> {
    let reader = sql_stmt(c, sql).execute()?;
    let schema = reader.schema();
    let batches = reader.collect::<Result<Vec<_>, _>>()?;
    Ok((schema, batches))
}

/// Runs a statement for its rows affected.
pub fn update(c: &mut QuestDbConnection, sql: &str) -> Result<Option<i64>, Error> {
    sql_stmt(c, sql).execute_update()
}

/// Column `col` of every batch, as LONGs.
pub fn i64s(batches: &[RecordBatch], col: usize) -> Vec<i64> {
    batches
        .iter()
        .flat_map(|b| b.column(col).as_primitive::<Int64Type>().values().to_vec())
        .collect()
}

/// `SELECT count(*)` of `table`.
pub fn count(c: &mut QuestDbConnection, table: &str) -> i64 {
    let (_, b) = query(c, &format!("SELECT count(*) AS n FROM {table}")).unwrap();
    i64s(&b, 0)[0]
}
