//! Ingest error policies (`on_*_error`, `IngestOptions::on_error`)
//! against the embedded server: halt, drop-and-continue, retry on the same
//! endpoint or the next one, and which setting wins.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use arrow::array::RecordBatch;
use arrow::datatypes::{Field, Schema};
use questdb_arrow::ErrorKind;
use questdb_arrow::client::{AckLevel, Category, IngestOptions, IngestSummary, Policy, QuestDb};
use questdb_arrow::protocol::Status;
use questdb_arrow::server::storage::StorageFaults;
use questdb_arrow::server::{Faults, RejectCommits, Server, ServerHandle};

use crate::support::{ids, rows, string_ids};

fn server() -> ServerHandle {
    Server::builder().bind("127.0.0.1:0").start().unwrap()
}

/// A server whose log writes fail while `faults.writes` is set.
fn faulty(name: &str) -> (ServerHandle, Arc<StorageFaults>, PathBuf) {
    let dir = std::env::temp_dir().join(format!("qa-policy-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let faults = Arc::new(StorageFaults::default());
    let srv = Server::builder()
        .bind("127.0.0.1:0")
        .data_dir(&dir)
        .checkpoint_idle(None)
        .faults(Faults {
            storage: Some(faults.clone()),
            ..Faults::default()
        })
        .start()
        .unwrap();
    (srv, faults, dir)
}

/// Rows with a column name the server refuses (PARSE_ERROR).
fn bad_column_name(ids: std::ops::Range<i64>) -> RecordBatch {
    let b = rows(ids);
    let mut fields: Vec<Field> = b.schema().fields().iter().map(|f| (**f).clone()).collect();
    fields[2] = fields[2].clone().with_name("no\u{1}te");
    RecordBatch::try_new(Arc::new(Schema::new(fields)), b.columns().to_vec()).unwrap()
}

/// Four batches of 100 rows; the third is `bad`.
fn stream(bad: RecordBatch) -> Vec<RecordBatch> {
    vec![rows(0..100), rows(100..200), bad, rows(300..400)]
}

fn opts() -> IngestOptions {
    IngestOptions::new().timestamp_column("ts")
}

fn ingest(
    srv: &ServerHandle,
    extra: &str,
    batches: Vec<RecordBatch>,
    opts: &IngestOptions,
) -> questdb_arrow::Result<IngestSummary> {
    let db = QuestDb::connect(&format!("{}{extra}", srv.conf_string())).unwrap();
    db.ingest_batches("t", batches, opts)
}

fn expect_dropped(s: &IngestSummary, status: Status) {
    assert_eq!(s.rows, 300, "{s:?}");
    assert_eq!(s.batches, 3, "{s:?}");
    assert_eq!(s.dropped_rows, 100, "{s:?}");
    assert_eq!(s.dropped.len(), 1, "{s:?}");
    let d = &s.dropped[0];
    assert_eq!((d.table.as_str(), d.batch, d.rows), ("t", 2, 100), "{d:?}");
    assert_eq!(d.status, status, "{d:?}");
    assert!(!d.message.is_empty(), "{d:?}");
}

#[test]
fn a_schema_mismatch_halts_by_default_after_the_earlier_batches_committed() {
    for extra in ["", "on_schema_error=terminal;"] {
        let srv = server();
        // Two good batches, the bad one, then 20 more: the stream stops at
        // the rejection (batches already in flight may still commit).
        let mut batches = stream(string_ids(200..300));
        batches.extend((4..24).map(|k| rows(k * 100..k * 100 + 100)));
        let e = ingest(&srv, extra, batches, &opts()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Server, "{e}");
        assert_eq!(e.status(), Some(Status::SchemaMismatch), "{e}");
        let stored = ids(&srv, "t");
        assert_eq!(stored[..200], (0..200).collect::<Vec<_>>(), "{extra:?}");
        assert!(!stored.contains(&250), "{extra:?}");
        assert!(!stored.contains(&2399), "{extra:?}: the stream went on");
        let n = stored.len();
        let msg = e.to_string();
        let committed = format!("{n} rows in {} batches committed", n / 100);
        for part in ["table t", "batch 2 (100 rows)", committed.as_str()] {
            assert!(msg.contains(part), "{extra:?}: {part:?} not in {msg}");
        }
        assert!(!msg.contains("times in a row"), "{msg}");
    }
}

#[test]
fn drop_and_continue_commits_the_other_batches_and_lists_the_dropped_one() {
    let srv = server();
    let o = opts().on_error(Category::SchemaMismatch, Policy::DropAndContinue);
    let s = ingest(&srv, "", stream(string_ids(200..300)), &o).unwrap();
    expect_dropped(&s, Status::SchemaMismatch);
    let want: Vec<i64> = (0..200).chain(300..400).collect();
    assert_eq!(ids(&srv, "t"), want);
}

#[test]
fn a_dropped_batch_split_across_frames_commits_nothing() {
    let srv = server();
    // 20 rows a frame: the bad batch spans five frames, all refused.
    let o = opts()
        .max_rows_per_frame(20)
        .in_flight_frames(3)
        .on_error(Category::SchemaMismatch, Policy::DropAndContinue);
    let s = ingest(&srv, "", stream(string_ids(200..300)), &o).unwrap();
    expect_dropped(&s, Status::SchemaMismatch);
    let want: Vec<i64> = (0..200).chain(300..400).collect();
    assert_eq!(ids(&srv, "t"), want);
}

#[test]
fn code_beats_the_connect_string() {
    let srv = server();
    let o = opts().on_error(Category::SchemaMismatch, Policy::DropAndContinue);
    let s = ingest(
        &srv,
        "on_schema_error=terminal;on_server_error=terminal;",
        stream(string_ids(200..300)),
        &o,
    )
    .unwrap();
    expect_dropped(&s, Status::SchemaMismatch);

    // And the other way round: a halt in code beats retriable in the
    // connect string (the write would succeed on a retry).
    let (srv, faults, dir) = faulty("code-halt");
    faults.writes.store(true, Ordering::SeqCst);
    let clear = clear_later(&faults);
    let o = opts().on_error(Category::WriteError, Policy::Halt);
    let e = ingest(
        &srv,
        "on_write_error=retriable;max_frame_rejections=100000;",
        vec![rows(0..100)],
        &o,
    )
    .unwrap_err();
    assert_eq!(e.status(), Some(Status::WriteError), "{e}");
    assert!(!e.to_string().contains("times in a row"), "{e}");
    clear.join().unwrap();
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Clears the write fault after 300 ms.
fn clear_later(faults: &Arc<StorageFaults>) -> std::thread::JoinHandle<()> {
    let f = faults.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        f.writes.store(false, Ordering::SeqCst);
    })
}

#[test]
fn a_write_error_is_retried_by_default_and_halts_with_on_write_error_terminal() {
    let (srv, faults, dir) = faulty("write");
    faults.writes.store(true, Ordering::SeqCst);
    let clear = clear_later(&faults);
    let s = ingest(
        &srv,
        "max_frame_rejections=100000;",
        vec![rows(0..100), rows(100..200)],
        &opts(),
    )
    .unwrap();
    clear.join().unwrap();
    assert_eq!((s.rows, s.batches), (200, 2), "{s:?}");
    assert!(s.reconnects >= 1, "{s:?}");
    assert_eq!(ids(&srv, "t"), (0..200).collect::<Vec<_>>());

    faults.writes.store(true, Ordering::SeqCst);
    let clear = clear_later(&faults);
    let e = ingest(
        &srv,
        "on_write_error=terminal;max_frame_rejections=100000;",
        vec![rows(200..300)],
        &opts(),
    )
    .unwrap_err();
    clear.join().unwrap();
    assert_eq!(e.status(), Some(Status::WriteError), "{e}");
    assert!(e.to_string().contains("injected write failure"), "{e}");
    assert!(!e.to_string().contains("times in a row"), "{e}");
    assert_eq!(ids(&srv, "t"), (0..200).collect::<Vec<_>>());
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn retries_stop_at_max_frame_rejections() {
    let (srv, faults, dir) = faulty("poison");
    faults.writes.store(true, Ordering::SeqCst);
    let e = ingest(&srv, "max_frame_rejections=3;", vec![rows(0..10)], &opts()).unwrap_err();
    assert_eq!(e.status(), Some(Status::WriteError), "{e}");
    assert!(
        e.to_string()
            .contains("rejected 3 times in a row without a commit"),
        "{e}"
    );
    assert!(ids(&srv, "t").is_empty());
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn on_schema_error_retriable_resends_the_batch() {
    let srv = server();
    let e = ingest(
        &srv,
        "on_schema_error=retriable;max_frame_rejections=3;",
        stream(string_ids(200..300)),
        &opts(),
    )
    .unwrap_err();
    assert_eq!(e.status(), Some(Status::SchemaMismatch), "{e}");
    assert!(e.to_string().contains("rejected 3 times in a row"), "{e}");
    // The batch after it was in flight and may have committed.
    let stored = ids(&srv, "t");
    assert_eq!(stored[..200], (0..200).collect::<Vec<_>>());
    assert!(!stored.contains(&250));
}

#[test]
fn on_parse_error_decides_for_parse_errors() {
    let srv = server();
    let e = ingest(&srv, "", stream(bad_column_name(200..300)), &opts()).unwrap_err();
    assert_eq!(e.status(), Some(Status::ParseError), "{e}");
    assert!(!e.to_string().contains("times in a row"), "{e}");
    let e = ingest(
        &srv,
        "on_parse_error=retriable;max_frame_rejections=2;",
        stream(bad_column_name(200..300)),
        &opts(),
    )
    .unwrap_err();
    assert_eq!(e.status(), Some(Status::ParseError), "{e}");
    assert!(e.to_string().contains("rejected 2 times in a row"), "{e}");
    let o = opts().on_error(Category::ParseError, Policy::DropAndContinue);
    let srv = server();
    let s = ingest(&srv, "", stream(bad_column_name(200..300)), &o).unwrap();
    expect_dropped(&s, Status::ParseError);
}

#[test]
fn on_server_error_applies_to_categories_left_on_auto() {
    let srv = server();
    // Schema errors halt by default; on_server_error=retriable retries
    // them, unless on_schema_error says otherwise.
    let e = ingest(
        &srv,
        "on_server_error=retriable;max_frame_rejections=2;",
        stream(string_ids(200..300)),
        &opts(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("rejected 2 times in a row"), "{e}");
    let e = ingest(
        &srv,
        "on_server_error=retriable;on_schema_error=terminal;max_frame_rejections=2;",
        vec![string_ids(200..300)],
        &opts(),
    )
    .unwrap_err();
    assert_eq!(e.status(), Some(Status::SchemaMismatch), "{e}");
    assert!(!e.to_string().contains("times in a row"), "{e}");

    // Write errors are retried by default; on_server_error=terminal halts.
    let (srv, faults, dir) = faulty("server");
    faults.writes.store(true, Ordering::SeqCst);
    let clear = clear_later(&faults);
    let e = ingest(
        &srv,
        "on_server_error=terminal;max_frame_rejections=100000;",
        vec![rows(0..100)],
        &opts(),
    )
    .unwrap_err();
    clear.join().unwrap();
    assert_eq!(e.status(), Some(Status::WriteError), "{e}");
    assert!(!e.to_string().contains("times in a row"), "{e}");
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn retriable_stays_on_the_endpoint_and_retriable_other_moves_on() {
    let (bad, faults, dir) = faulty("other");
    faults.writes.store(true, Ordering::SeqCst);
    let good = server();
    let conf = |policy: &str| {
        format!(
            "ws::addr={},{};on_write_error={policy};max_frame_rejections=3;",
            bad.addr(),
            good.addr()
        )
    };
    let db = QuestDb::connect(&conf("retriable")).unwrap();
    let e = db
        .ingest_batches("t", vec![rows(0..100)], &opts())
        .unwrap_err();
    assert_eq!(e.status(), Some(Status::WriteError), "{e}");
    assert!(e.to_string().contains("rejected 3 times in a row"), "{e}");
    assert!(ids(&good, "t").is_empty());

    let db = QuestDb::connect(&conf("retriable_other")).unwrap();
    let s = db.ingest_batches("t", vec![rows(0..100)], &opts()).unwrap();
    assert_eq!((s.rows, s.reconnects), (100, 1), "{s:?}");
    assert_eq!(ids(&good, "t"), (0..100).collect::<Vec<_>>());
    drop(bad);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn flush_arrow_batch_reports_a_dropped_batch_in_its_summary() {
    let srv = server();
    let db = QuestDb::connect(&srv.conf_string()).unwrap();
    db.flush_arrow_batch("t", &rows(0..100), Some("ts"), &[], AckLevel::Ok)
        .unwrap();
    let mut sender = db.borrow_sender().unwrap();
    let o = opts().on_error(Category::SchemaMismatch, Policy::DropAndContinue);
    let s = sender
        .flush_arrow_batch_with("t", &string_ids(100..150), &o)
        .unwrap();
    assert_eq!((s.rows, s.batches, s.dropped_rows), (0, 0, 50), "{s:?}");
    assert_eq!(s.dropped.len(), 1, "{s:?}");
    assert_eq!(s.dropped[0].status, Status::SchemaMismatch);
    assert_eq!((s.dropped[0].table.as_str(), s.dropped[0].batch), ("t", 0));
    // The connection goes on: the next flush commits.
    let s = sender
        .flush_arrow_batch_with("t", &rows(150..160), &o)
        .unwrap();
    assert_eq!((s.rows, s.reconnects), (10, 0), "{s:?}");
    assert!(s.dropped.is_empty());
    let want: Vec<i64> = (0..100).chain(150..160).collect();
    assert_eq!(ids(&srv, "t"), want);
    // Without a drop policy the rejection is the flush's error.
    let e = sender
        .flush_arrow_batch_with("t", &string_ids(160..170), &opts())
        .unwrap_err();
    assert_eq!(e.status(), Some(Status::SchemaMismatch), "{e}");
}

/// A server that answers its next `n` commits with `status`.
fn rejecting(status: Status, n: usize) -> ServerHandle {
    Server::builder()
        .bind("127.0.0.1:0")
        .faults(Faults {
            reject_commits: Some(RejectCommits::new(status, n)),
            ..Faults::default()
        })
        .start()
        .unwrap()
}

fn three_batches() -> Vec<RecordBatch> {
    vec![rows(0..100), rows(100..200), rows(200..300)]
}

/// `on_internal_error` (default retriable) and `on_security_error`
/// (default terminal), each both ways, against statuses the fault hook
/// injects.
#[test]
fn on_internal_error_and_on_security_error_decide_for_their_statuses() {
    let quick = "reconnect_initial_backoff_millis=10;initial_connect_retry=off;";
    for (status, key, default_retries) in [
        (Status::InternalError, "on_internal_error", true),
        (Status::SecurityError, "on_security_error", false),
    ] {
        for setting in [None, Some("terminal"), Some("retriable")] {
            let retries = match setting {
                None => default_retries,
                Some(v) => v == "retriable",
            };
            let srv = rejecting(status, 1);
            let extra = match setting {
                None => quick.to_string(),
                Some(v) => format!("{quick}{key}={v};"),
            };
            let r = ingest(&srv, &extra, three_batches(), &opts());
            if retries {
                let s = r.unwrap_or_else(|e| panic!("{key}={setting:?}: {e}"));
                assert_eq!(s.rows, 300, "{key}={setting:?}");
                assert!(s.reconnects >= 1, "{key}={setting:?}: {s:?}");
                assert_eq!(ids(&srv, "t"), (0..300).collect::<Vec<_>>());
            } else {
                let e = r.unwrap_err();
                assert_eq!(e.status(), Some(status), "{key}={setting:?}: {e}");
                // The rejected first batch is not stored (batches already in
                // flight behind it may be).
                let stored = ids(&srv, "t");
                assert!(stored.iter().all(|&i| i >= 100), "{key}={setting:?}");
            }
        }
    }
}
