//! The cdylib through the C ABI: loaded by path with the Rust ADBC driver
//! manager (its entry point found from the file name), as the Python
//! driver manager loads it.

use std::path::PathBuf;
use std::sync::Arc;

use adbc_core::error::Status;
use adbc_core::options::{AdbcVersion, IngestMode, OptionDatabase, OptionStatement};
use adbc_core::{Connection, Database, Driver, Optionable, Statement};
use adbc_driver_manager::{ManagedConnection, ManagedDriver};
use arrow::array::{AsArray, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Int64Type, Schema};

use questdb_arrow_adbc::error::{DETAIL_STATUS, DETAIL_STATUS_CODE};

use crate::support::{Env, start};

/// `libquestdb_arrow_adbc.so` beside the test binary (`target/debug/deps`),
/// where cargo builds the package's library, cdylib included, for its
/// tests.
fn cdylib() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.with_file_name(format!(
        "{}questdb_arrow_adbc{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ))
}

fn managed(env: &Env) -> ManagedConnection {
    let path = cdylib();
    assert!(path.is_file(), "{} was not built", path.display());
    let mut driver =
        ManagedDriver::load_dynamic_from_filename(&path, None, AdbcVersion::V110).unwrap();
    let db = driver
        .new_database_with_opts([(OptionDatabase::Uri, env.srv.conf_string().into())])
        .unwrap();
    db.new_connection().unwrap()
}

#[test]
fn query_ingest_and_errors_across_the_c_abi() {
    let env = start();
    let mut c = managed(&env);

    // Bulk ingest: the bound batch crosses as a C array.
    let batch = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("n", DataType::Int64, false),
            Field::new("s", DataType::Utf8, false),
        ])),
        vec![
            Arc::new(Int64Array::from(vec![1, 2, 3])),
            Arc::new(StringArray::from(vec!["a", "b", "c"])),
        ],
    )
    .unwrap();
    let mut s = c.new_statement().unwrap();
    s.set_option(OptionStatement::TargetTable, "via_c".into())
        .unwrap();
    s.set_option(OptionStatement::IngestMode, IngestMode::Create.into())
        .unwrap();
    s.bind(batch).unwrap();
    assert_eq!(s.execute_update().unwrap(), Some(3));

    // A query: the result crosses as a C stream.
    let mut q = c.new_statement().unwrap();
    q.set_sql_query("SELECT n, s FROM via_c WHERE n >= $1 ORDER BY n")
        .unwrap();
    let p = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("p", DataType::Int64, false)])),
        vec![Arc::new(Int64Array::from(vec![2]))],
    )
    .unwrap();
    q.bind(p).unwrap();
    let batches: Vec<RecordBatch> = q.execute().unwrap().map(Result::unwrap).collect();
    let n: Vec<i64> = batches
        .iter()
        .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
        .collect();
    assert_eq!(n, [2, 3]);
    assert_eq!(batches[0].column(1).as_string::<i32>().value(0), "b");

    // A server error keeps its status, vendor code, SQLSTATE and message.
    let mut bad = c.new_statement().unwrap();
    bad.set_sql_query("SELEKT 1").unwrap();
    let e = bad.execute().err().unwrap();
    assert_eq!(e.status, Status::InvalidArguments, "{e}");
    assert!(e.message.contains("PARSE_ERROR"), "{e}");
    // ADBC 1.1 reserves the vendor code for details: the status is there.
    let details = e.details.clone().unwrap_or_default();
    assert!(
        details.contains(&(DETAIL_STATUS.into(), b"PARSE_ERROR".to_vec())),
        "{details:?}"
    );
    assert!(details.contains(&(DETAIL_STATUS_CODE.into(), b"5".to_vec())));
    let state: String = e.sqlstate.iter().map(|c| *c as u8 as char).collect();
    assert_eq!(state, "42601");

    // Refusals cross too.
    let e = c.commit().unwrap_err();
    assert_eq!(e.status, Status::NotImplemented);
    assert!(e.message.contains("QuestDB commits every statement"), "{e}");
}
