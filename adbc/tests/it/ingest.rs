//! Bulk ingest of every mapped type, in each mode.

use adbc_core::error::Status;
use adbc_core::options::{IngestMode, OptionStatement, OptionValue};
use adbc_core::{Connection, Optionable, Statement};
use arrow::array::{RecordBatch, RecordBatchIterator};
use questdb_arrow_adbc::{OPTION_INGEST_TIMESTAMP_COLUMN, QuestDbConnection, QuestDbStatement};

use crate::every_type::{assert_stored, every_type};
use crate::support::{count, start};

const T0: i64 = 1_700_000_000_000_000;

/// A bulk-ingest statement into `table` in `mode`, `ts` designated.
fn ingest_stmt(c: &mut QuestDbConnection, table: &str, mode: IngestMode) -> QuestDbStatement {
    let mut s = c.new_statement().unwrap();
    s.set_option(OptionStatement::TargetTable, table.into())
        .unwrap();
    s.set_option(OptionStatement::IngestMode, mode.into())
        .unwrap();
    s.set_option(
        OptionStatement::Other(OPTION_INGEST_TIMESTAMP_COLUMN.into()),
        "ts".into(),
    )
    .unwrap();
    s
}

fn ingest(
    c: &mut QuestDbConnection,
    table: &str,
    mode: IngestMode,
    b: &RecordBatch,
) -> adbc_core::error::Result<Option<i64>> {
    let mut s = ingest_stmt(c, table, mode);
    s.bind(b.clone())?;
    s.execute_update()
}

#[test]
fn every_type_in_each_mode() {
    let env = start();
    let mut c = env.conn();
    let (b, types) = every_type(300, T0);
    let stored = |t: &str| env.srv.table_batch(t).unwrap();

    // create: a new table holding the batch; an existing one is refused.
    assert_eq!(
        ingest(&mut c, "all_c", IngestMode::Create, &b).unwrap(),
        Some(300)
    );
    assert_stored(&stored("all_c"), &b, &types);
    let e = ingest(&mut c, "all_c", IngestMode::Create, &b).unwrap_err();
    assert_eq!(e.status, Status::AlreadyExists, "{e}");
    assert!(e.message.contains("all_c"), "{e}");
    assert_eq!(count(&mut c, "all_c"), 300);

    // append: onto the existing table; a missing one is refused.
    let later = every_type(300, T0 + 1_000_000).0;
    assert_eq!(
        ingest(&mut c, "all_c", IngestMode::Append, &later).unwrap(),
        Some(300)
    );
    assert_eq!(count(&mut c, "all_c"), 600);
    assert_stored(&stored("all_c").slice(300, 300), &later, &types);
    let e = ingest(&mut c, "all_missing", IngestMode::Append, &b).unwrap_err();
    assert_eq!(e.status, Status::NotFound, "{e}");
    assert!(e.message.contains("all_missing"), "{e}");

    // replace: the table holds only the new rows.
    let part = b.slice(10, 100);
    assert_eq!(
        ingest(&mut c, "all_c", IngestMode::Replace, &part).unwrap(),
        Some(100)
    );
    assert_stored(&stored("all_c"), &part, &types);
    assert_eq!(
        ingest(&mut c, "all_r", IngestMode::Replace, &part).unwrap(),
        Some(100)
    );
    assert_stored(&stored("all_r"), &part, &types);

    // create_append: creates, then appends.
    let ca = IngestMode::CreateAppend;
    assert_eq!(ingest(&mut c, "all_ca", ca, &b).unwrap(), Some(300));
    assert_stored(&stored("all_ca"), &b, &types);
    assert_eq!(ingest(&mut c, "all_ca", ca, &later).unwrap(), Some(300));
    assert_stored(&stored("all_ca").slice(300, 300), &later, &types);
}

/// A bound stream is read batch by batch into one table; `execute` (as
/// well as `execute_update`) runs the ingest and returns no rows.
#[test]
fn a_bound_stream_ingests_all_its_batches() {
    let env = start();
    let mut c = env.conn();
    let (b, types) = every_type(400, T0);
    let parts: Vec<_> = (0..4).map(|k| Ok(b.slice(k * 100, 100))).collect();
    let mut s = ingest_stmt(&mut c, "streamed", IngestMode::CreateAppend);
    s.bind_stream(Box::new(RecordBatchIterator::new(parts, b.schema())))
        .unwrap();
    let out: Vec<RecordBatch> = s.execute().unwrap().map(Result::unwrap).collect();
    assert!(out.is_empty());
    assert_stored(&env.srv.table_batch("streamed").unwrap(), &b, &types);
    // The stream was read: nothing is bound any more.
    let e = s.execute_update().unwrap_err();
    assert_eq!(e.status, Status::InvalidState, "{e}");
}

#[test]
fn ingest_options_are_checked() {
    let env = start();
    let mut c = env.conn();
    let mut s = c.new_statement().unwrap();
    let e = s
        .set_option(OptionStatement::Temporary, true.into())
        .unwrap_err();
    assert_eq!(e.status, Status::NotImplemented);
    assert!(e.message.contains("temporary"), "{e}");
    s.set_option(OptionStatement::Temporary, false.into())
        .unwrap();
    let e = s
        .set_option(OptionStatement::TargetDbSchema, "public".into())
        .unwrap_err();
    assert!(e.message.contains("adbc.ingest.target_db_schema"), "{e}");
    let e = s
        .set_option(
            OptionStatement::IngestMode,
            "adbc.ingest.mode.upsert".into(),
        )
        .unwrap_err();
    assert_eq!(e.status, Status::InvalidArguments, "{e}");
    let e = s
        .set_option(
            OptionStatement::Other("questdb.bogus".into()),
            OptionValue::from("1"),
        )
        .unwrap_err();
    assert!(e.message.contains("questdb.bogus"), "{e}");
    // A target without bound data.
    s.set_option(OptionStatement::TargetTable, "t".into())
        .unwrap();
    assert_eq!(
        s.get_option_string(OptionStatement::IngestMode).unwrap(),
        "adbc.ingest.mode.create"
    );
    let e = s.execute_update().unwrap_err();
    assert_eq!(e.status, Status::InvalidState, "{e}");
    assert!(e.message.contains("bind"), "{e}");
}
