//! `QuestDb`'s bounded connection pools against the embedded server: caps
//! (fail fast or wait), warm size and idle trimming, lifetimes, dropped
//! connections, close.

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use questdb_arrow::ErrorKind;
use questdb_arrow::client::{AckLevel, PoolOptions, QuestDb};
use questdb_arrow::conf::Conf;
use questdb_arrow::protocol::Status;
use questdb_arrow::server::{Server, ServerHandle};

use crate::support::eventually;

fn server() -> ServerHandle {
    Server::builder().bind("127.0.0.1:0").start().unwrap()
}

/// A handle on `srv` with extra connect-string keys.
fn db(srv: &ServerHandle, keys: &str) -> QuestDb {
    QuestDb::connect(&format!("{}{keys}", srv.conf_string())).unwrap()
}

fn batch(n: i64) -> RecordBatch {
    let v: ArrayRef = Arc::new(Int64Array::from_iter_values(0..n));
    RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, false)])),
        vec![v],
    )
    .unwrap()
}

fn flush(db: &QuestDb, table: &str) {
    db.flush_arrow_batch(table, &batch(3), None, &[], AckLevel::Ok)
        .unwrap();
}

/// Three threads borrow at once from a pool of 2 and hold until all tried;
/// returns the error kinds they got (`None`: borrowed).
fn three_borrowers<T>(
    borrow: impl Fn() -> questdb_arrow::Result<T> + Sync,
) -> Vec<Option<ErrorKind>>
where
    T: Send,
{
    let tried = Barrier::new(3);
    std::thread::scope(|s| {
        let threads: Vec<_> = (0..3)
            .map(|_| {
                s.spawn(|| {
                    let t0 = Instant::now();
                    let got = borrow();
                    let waited = t0.elapsed();
                    tried.wait();
                    let kind = got.as_ref().err().map(|e| {
                        assert!(
                            waited < Duration::from_secs(5),
                            "failed only after {waited:?}"
                        );
                        assert!(e.to_string().contains("pool_max=2"), "{e}");
                        e.kind()
                    });
                    tried.wait();
                    kind
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    })
}

#[test]
fn borrowing_at_the_cap_fails_fast_per_pool() {
    let srv = server();
    let db = db(
        &srv,
        "sender_pool_max=2;query_pool_max=2;acquire_timeout_ms=0;",
    );
    let mut kinds = three_borrowers(|| db.borrow_sender());
    kinds.sort_by_key(|k| k.is_some());
    assert_eq!(kinds, [None, None, Some(ErrorKind::PoolExhausted)]);
    assert_eq!((db.idle_senders(), db.borrowed_senders()), (2, 0));
    // The query pool is separate: two senders held do not starve it.
    let held = (db.borrow_sender().unwrap(), db.borrow_sender().unwrap());
    let mut kinds = three_borrowers(|| db.borrow_reader());
    kinds.sort_by_key(|k| k.is_some());
    assert_eq!(kinds, [None, None, Some(ErrorKind::PoolExhausted)]);
    drop(held);
    assert_eq!(srv.connections_accepted(), 4, "2 senders + 2 readers");
    let e = {
        let _a = db.borrow_reader().unwrap();
        let _b = db.borrow_reader().unwrap();
        db.borrow_reader().unwrap_err()
    };
    assert_eq!(e.kind(), ErrorKind::PoolExhausted);
    assert!(
        e.to_string().contains("query_pool_max=2") && e.to_string().contains("query pool"),
        "{e}"
    );
}

#[test]
fn borrowing_at_the_cap_waits_for_a_returned_connection() {
    let srv = server();
    let db = db(&srv, "sender_pool_max=2;acquire_timeout_ms=30000;");
    let a = db.borrow_sender().unwrap();
    let b = db.borrow_sender().unwrap();
    std::thread::scope(|s| {
        let third = s.spawn(|| {
            let mut got = db.borrow_sender()?;
            got.flush_arrow_batch("waited", &batch(5), None)
        });
        // Give it time to start waiting; then hand one back.
        std::thread::sleep(Duration::from_millis(100));
        assert!(!third.is_finished(), "the third borrow must wait");
        drop(a);
        third.join().unwrap().unwrap();
    });
    drop(b);
    assert_eq!(srv.table_batch("waited").unwrap().num_rows(), 5);
    assert_eq!(srv.connections_accepted(), 2, "the returned one was reused");
    assert_eq!((db.idle_senders(), db.borrowed_senders()), (2, 0));
}

#[test]
fn borrowing_at_the_cap_times_out_when_nothing_comes_back() {
    let srv = server();
    let db = db(&srv, "query_pool_max=2;acquire_timeout_ms=300;");
    let _a = db.borrow_reader().unwrap();
    let _b = db.borrow_reader().unwrap();
    let t0 = Instant::now();
    let e = db.borrow_reader().unwrap_err();
    let waited = t0.elapsed();
    assert_eq!(e.kind(), ErrorKind::PoolExhausted);
    assert!(
        e.to_string().contains("acquire_timeout_ms=300")
            && e.to_string().contains("query_pool_max=2"),
        "{e}"
    );
    assert!(waited >= Duration::from_millis(300), "{waited:?}");
    assert!(waited < Duration::from_secs(10), "{waited:?}");
    assert_eq!(srv.connections_accepted(), 2);
}

#[test]
fn reaper_trims_idle_connections_to_the_warm_size() {
    let srv = server();
    let db = db(
        &srv,
        "sender_pool_min=1;sender_pool_max=3;idle_timeout_ms=200;housekeeper_interval_ms=50;",
    );
    assert!(db.reaper_thread_name().is_some());
    {
        let held: Vec<_> = (0..3).map(|_| db.borrow_sender().unwrap()).collect();
        assert_eq!(db.borrowed_senders(), 3);
        eventually("3 live on the server", || srv.connections_live() == 3);
        drop(held);
    }
    eventually("trimmed to the warm size", || {
        db.idle_senders() == 1 && srv.connections_live() == 1
    });
    // The warm one stays through several more reaper passes.
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(db.idle_senders(), 1);
    assert_eq!(srv.connections_live(), 1);
    flush(&db, "warm");
    assert_eq!(srv.connections_accepted(), 3, "the warm one was reused");
}

#[test]
fn reap_idle_trims_in_manual_mode() {
    let srv = server();
    let db = QuestDb::connect(&format!(
        "{}query_pool_min=1;query_pool_max=3;idle_timeout_ms=100;housekeeper_interval_ms=10;pool_reap=manual;",
        srv.conf_string()
    ))
    .unwrap();
    assert_eq!(db.reaper_thread_name(), None);
    {
        let held: Vec<_> = (0..3).map(|_| db.borrow_reader().unwrap()).collect();
        drop(held);
    }
    // Well past the idle timeout: nothing trims on its own.
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(db.idle_readers(), 3);
    assert_eq!(srv.connections_live(), 3);
    assert_eq!(db.reap_idle(), 2);
    assert_eq!(db.idle_readers(), 1);
    eventually("server sees 2 closed", || srv.connections_live() == 1);
    assert_eq!(db.reap_idle(), 0, "the warm one stays");
    let mut r = db.borrow_reader().unwrap();
    assert_eq!(r.rows("SELECT 1 AS x").unwrap().num_rows(), 1);
    drop(r);
    assert_eq!(srv.connections_accepted(), 3);
}

#[test]
fn max_lifetime_replaces_old_connections() {
    let srv = server();
    let conf = Conf::parse(&format!(
        "{}sender_pool_min=1;max_lifetime_ms=500;idle_timeout_ms=0;",
        srv.conf_string()
    ))
    .unwrap();
    let opts = PoolOptions {
        reap_manual: true,
        ..PoolOptions::from_conf(&conf)
    };
    let db = QuestDb::with_pool_options(conf, &opts).unwrap();
    // An idle one past its lifetime is not handed out again.
    flush(&db, "life");
    assert_eq!(db.idle_senders(), 1);
    std::thread::sleep(Duration::from_millis(600));
    flush(&db, "life");
    assert_eq!(srv.connections_accepted(), 2, "replaced at the borrow");
    eventually("the old one closed", || srv.connections_live() == 1);
    // The reaper closes it too, warm size or not.
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(db.reap_idle(), 1);
    assert_eq!(db.idle_senders(), 0);
    eventually("closed by reap_idle", || srv.connections_live() == 0);
    // And one that comes back too old is closed on return.
    let s = db.borrow_sender().unwrap();
    std::thread::sleep(Duration::from_millis(600));
    drop(s);
    assert_eq!((db.idle_senders(), db.borrowed_senders()), (0, 0));
    assert_eq!(srv.connections_accepted(), 3);
    eventually("closed on return", || srv.connections_live() == 0);
}

#[test]
fn connections_the_server_closed_or_that_failed_are_not_reused() {
    // Long enough that a loaded machine finishes the flush and the query
    // below before the server calls the connections idle (200 ms was not).
    let srv = Server::builder()
        .bind("127.0.0.1:0")
        .idle_timeout(Duration::from_secs(2))
        .start()
        .unwrap();
    let db = db(&srv, "idle_timeout_ms=0;");
    flush(&db, "t");
    let mut r = db.borrow_reader().unwrap();
    assert_eq!(r.rows("SELECT count(*) FROM t").unwrap().num_rows(), 1);
    drop(r);
    assert_eq!((db.idle_senders(), db.idle_readers()), (1, 1));
    // The server closes both idle connections (close 1001).
    eventually("server closed idle connections", || {
        srv.connections_live() == 0
    });
    flush(&db, "t");
    let mut r = db.borrow_reader().unwrap();
    assert_eq!(r.rows("SELECT count(*) FROM t").unwrap().num_rows(), 1);
    drop(r);
    assert_eq!(srv.connections_accepted(), 4, "both reopened");
    assert_eq!(srv.table_batch("t").unwrap().num_rows(), 6);

    // A failed sender (its connection dropped on a rejection) is dropped.
    let srv = server();
    let db = self::db(&srv, "");
    flush(&db, "clash");
    let other = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("v", DataType::Utf8, true)])),
        vec![Arc::new(StringArray::from(vec!["text"])) as ArrayRef],
    )
    .unwrap();
    let e = db
        .flush_arrow_batch("clash", &other, None, &[], AckLevel::Ok)
        .unwrap_err();
    assert_eq!(e.status(), Some(Status::SchemaMismatch), "{e}");
    assert_eq!((db.idle_senders(), db.borrowed_senders()), (0, 0));
    eventually("failed connection closed", || srv.connections_live() == 0);
    flush(&db, "clash");
    assert_eq!(srv.connections_accepted(), 2);
}

#[cfg(target_os = "linux")]
fn thread_named(name: &str) -> bool {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .any(|comm| comm.trim_end() == name)
}

#[cfg(target_os = "linux")]
#[test]
fn close_and_drop_stop_the_reaper_and_close_fails_later_borrows() {
    let srv = server();
    // A long cadence: only stopping it ends the thread within `support::PATIENCE`.
    let keys = "sender_pool_max=1;acquire_timeout_ms=60000;housekeeper_interval_ms=600000;";
    let db = db(&srv, keys);
    let name = db.reaper_thread_name().unwrap();
    // The thread names itself once it starts.
    eventually("reaper thread runs", || thread_named(&name));
    flush(&db, "c");
    let mut r = db.borrow_reader().unwrap();
    assert_eq!(r.rows("SELECT 1 AS x").unwrap().num_rows(), 1);
    drop(r);
    let held = db.borrow_sender().unwrap();
    std::thread::scope(|s| {
        // Waits at the cap (up to a minute) until close wakes it.
        let waiting = s.spawn(|| db.borrow_sender().map(|_| ()).unwrap_err());
        std::thread::sleep(Duration::from_millis(100));
        db.close();
        let e = waiting.join().unwrap();
        assert_eq!(e.kind(), ErrorKind::Closed, "{e}");
    });
    assert_eq!(db.reaper_thread_name(), None);
    eventually("reaper thread gone", || !thread_named(&name));
    assert_eq!(db.idle_readers(), 0);
    eventually("idle reader closed", || srv.connections_live() == 1);
    drop(held);
    eventually("borrowed sender closed on return", || {
        srv.connections_live() == 0
    });
    assert_eq!(db.idle_senders(), 0);
    for e in [
        db.borrow_sender().map(|_| ()).unwrap_err(),
        db.borrow_reader().map(|_| ()).unwrap_err(),
        db.flush_arrow_batch("c", &batch(1), None, &[], AckLevel::Ok)
            .map(|_| ())
            .unwrap_err(),
    ] {
        assert_eq!(e.kind(), ErrorKind::Closed, "{e}");
    }
    assert_eq!(srv.connections_accepted(), 2);

    // Dropping the handle stops its reaper too.
    let db = Arc::new(self::db(&srv, keys));
    let name = db.reaper_thread_name().unwrap();
    eventually("second reaper thread runs", || thread_named(&name));
    flush(&db, "c");
    drop(db);
    eventually("reaper thread gone after drop", || !thread_named(&name));
    eventually("idle sender closed after drop", || {
        srv.connections_live() == 0
    });
}
