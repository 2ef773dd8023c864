//! # questdb-arrow-adbc
//!
//! An [ADBC](https://arrow.apache.org/adbc/) driver for QuestDB on
//! questdb-arrow: queries stream over QWP (`/read/v1`) as Arrow batches,
//! bulk ingest streams Arrow batches over QWP (`/write/v4`). Built as a
//! `cdylib`, any ADBC driver manager loads it by path (entry point
//! `AdbcQuestdbArrowAdbcInit`, and the generic `AdbcDriverInit`); Rust
//! code can use [`QuestDbDriver`] directly through the `adbc_core` traits.
//!
//! | ADBC | here |
//! |---|---|
//! | database `uri` | the connect string (`ws::addr=host:9000;`, `wss::…`); `username` / `password` are set into it; other options are refused naming them |
//! | connection | autocommit only: `autocommit=false`, commit and rollback are refused (QuestDB commits every statement); `get_info`, `get_table_types` (`TABLE`), `get_table_schema`; `get_objects` at every depth from QuestDB's `tables()` and `table_columns('t')` (catalog [`CATALOG`], schema [`DB_SCHEMA`], `LIKE` filters, `xdbc_*` column fields) |
//! | `set_sql_query` + `execute` | a streaming result (the client's cursor, never buffered whole) |
//! | `execute_update` | rows affected of DDL/DML |
//! | `execute_schema` | a query's schema without its rows (run to its first batch, then cancelled; statements that may write are refused) |
//! | `bind` / `bind_stream` + a query | typed binds `$1`, `$2`, … — one execution per row |
//! | `adbc.ingest.target_table` + `bind` / `bind_stream` | the client's streaming ingest, modes create / append / replace / create_append; `adbc.ingest.temporary=true` is refused; [`OPTION_INGEST_TIMESTAMP_COLUMN`] names the designated timestamp of a created table |
//!
//! Errors carry the QuestDB status (as the error details
//! [`error::DETAIL_STATUS`] and [`error::DETAIL_STATUS_CODE`], and as the
//! vendor code where ADBC 1.1 does not reserve it), the message and a
//! SQLSTATE where one fits. Panics do not cross the FFI
//! boundary: the driver exporter of `adbc_ffi` catches them in every entry
//! point, and result streams are read through a guard that turns a panic
//! into an error.

#![deny(unsafe_code)]
#![warn(missing_docs)]

mod binds;
mod connection;
mod database;
pub mod error;
mod ffi;
mod info;
mod ingest;
mod objects;
mod options;
mod statement;
mod stream;
mod xdbc;

pub use connection::QuestDbConnection;
pub use database::{QuestDbDatabase, QuestDbDriver};
pub use info::TABLE_TYPE;
pub use objects::{CATALOG, DB_SCHEMA};
pub use statement::{OPTION_INGEST_TIMESTAMP_COLUMN, QuestDbStatement};
