//! The embedded server keeps what it acknowledges: kill -9 during
//! multi-writer ingest, injected write failures, colliding table names, bit
//! flips and truncation in every stored file kind.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use arrow::array::{
    Array, AsArray, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::Int64Type;
use questdb_arrow::client::{AckLevel, QuestDb};
use questdb_arrow::protocol::Status;
use questdb_arrow::server::storage::StorageFaults;
use questdb_arrow::server::{Faults, Server, ServerHandle};

use crate::support::{ids, rows};

fn tmp_dir(name: &str) -> PathBuf {
    crate::support::scratch_dir(&format!("faults-{name}"))
}

/// A server on `dir` that checkpoints only when a test says so.
fn start(dir: &Path) -> ServerHandle {
    Server::builder()
        .bind("127.0.0.1:0")
        .data_dir(dir)
        .checkpoint_idle(None)
        .start()
        .unwrap()
}

/// A server on `dir` whose storage fails as `faults` says.
fn with_faults(dir: &Path, faults: &Arc<StorageFaults>) -> questdb_arrow::server::ServerBuilder {
    Server::builder()
        .bind("127.0.0.1:0")
        .data_dir(dir)
        .faults(Faults {
            storage: Some(faults.clone()),
            ..Faults::default()
        })
}

fn flush(db: &QuestDb, table: &str, b: &RecordBatch) -> questdb_arrow::Result<()> {
    db.flush_arrow_batch(table, b, Some("ts"), &[], AckLevel::Ok)
        .map(|_| ())
}

fn query_err(srv: &ServerHandle, sql: &str) -> questdb_arrow::Error {
    let db = QuestDb::connect(&srv.conf_string()).unwrap();
    let r = db.query_arrow(sql).and_then(|mut c| c.fetch_all_arrow());
    match r {
        Ok(b) => panic!("{sql}: expected an error, got {} batches", b.len()),
        Err(e) => e,
    }
}

#[test]
fn a_failed_log_write_is_a_write_error_and_loses_nothing() {
    let dir = tmp_dir("fail");
    let faults = Arc::new(StorageFaults::default());
    let flag = &faults.writes;
    {
        let srv = with_faults(&dir, &faults).start().unwrap();
        let db = QuestDb::connect(&srv.conf_string()).unwrap();
        flush(&db, "t", &rows(0..100)).unwrap();
        flag.store(true, Ordering::SeqCst);
        let e = flush(&db, "t", &rows(100..200)).unwrap_err();
        assert_eq!(e.status(), Some(Status::WriteError), "{e}");
        assert!(e.to_string().contains("injected write failure"), "{e}");
        // Nothing of the refused batch is visible, before or after restart.
        assert_eq!(ids(&srv, "t"), (0..100).collect::<Vec<_>>());
        flag.store(false, Ordering::SeqCst);
        flush(&db, "t", &rows(200..300)).unwrap();
        // DDL goes through the same log.
        flag.store(true, Ordering::SeqCst);
        let e = query_err(&srv, "TRUNCATE TABLE t");
        assert!(
            e.to_string().contains("WRITE_ERROR") || e.status() == Some(Status::WriteError),
            "{e}"
        );
        flag.store(false, Ordering::SeqCst);
    }
    let srv = start(&dir);
    let want: Vec<i64> = (0..100).chain(200..300).collect();
    assert_eq!(ids(&srv, "t"), want);
    assert!(
        srv.storage_warnings().is_empty(),
        "{:?}",
        srv.storage_warnings()
    );
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn durable_acks_follow_the_log_fsync_and_survive_a_restart() {
    let dir = tmp_dir("durable");
    {
        let srv = Server::builder()
            .bind("127.0.0.1:0")
            .data_dir(&dir)
            .durable_ack(true)
            .start()
            .unwrap();
        let db =
            QuestDb::connect(&format!("{}request_durable_ack=on;", srv.conf_string())).unwrap();
        for k in 0..5 {
            db.flush_arrow_batch(
                "d",
                &rows(k * 10..k * 10 + 10),
                Some("ts"),
                &[],
                AckLevel::Durable,
            )
            .unwrap();
        }
    }
    let srv = start(&dir);
    assert_eq!(ids(&srv, "d"), (0..50).collect::<Vec<_>>());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_failed_fsync_refuses_the_durable_ack_and_every_later_write() {
    let dir = tmp_dir("fsync");
    let faults = Arc::new(StorageFaults::default());
    {
        let srv = with_faults(&dir, &faults)
            .durable_ack(true)
            .start()
            .unwrap();
        let db =
            QuestDb::connect(&format!("{}request_durable_ack=on;", srv.conf_string())).unwrap();
        let durable = |b: &RecordBatch| {
            db.flush_arrow_batch("f", b, Some("ts"), &[], AckLevel::Durable)
                .map(|_| ())
        };
        durable(&rows(0..100)).unwrap();
        faults.syncs.store(true, Ordering::SeqCst);
        let e = durable(&rows(100..200)).unwrap_err();
        assert_eq!(e.status(), Some(Status::WriteError), "{e}");
        assert!(e.to_string().contains("injected fsync failure"), "{e}");
        // Once an fsync failed, what reached the disk is unknowable: the
        // log refuses every later write even after the fault is gone.
        faults.syncs.store(false, Ordering::SeqCst);
        let db2 = QuestDb::connect(&srv.conf_string()).unwrap();
        let e = flush(&db2, "other", &rows(0..10)).unwrap_err();
        assert_eq!(e.status(), Some(Status::WriteError), "{e}");
        assert!(e.to_string().contains("unusable"), "{e}");
    }
    // After a restart the durably acknowledged rows are there; the batch
    // whose durable ack failed may or may not be (it was refused, so the
    // client cannot count on either), but nothing else appears.
    let srv = start(&dir);
    let got = ids(&srv, "f");
    assert!(
        got == (0..100).collect::<Vec<_>>() || got == (0..200).collect::<Vec<_>>(),
        "{} rows",
        got.len()
    );
    assert!(srv.table_batch("other").is_none());
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_failed_fsync_at_a_checkpoint_poisons_the_log() {
    let dir = tmp_dir("ckfsync");
    let faults = Arc::new(StorageFaults::default());
    {
        let srv = with_faults(&dir, &faults)
            .checkpoint_idle(None)
            .start()
            .unwrap();
        let db = QuestDb::connect(&srv.conf_string()).unwrap();
        flush(&db, "p", &rows(0..100)).unwrap();
        faults.syncs.store(true, Ordering::SeqCst);
        let e = srv.checkpoint().unwrap_err();
        assert!(e.to_string().contains("injected fsync failure"), "{e}");
        // A retried fsync could report success for pages that were lost:
        // the log stays refused once the fault is gone.
        faults.syncs.store(false, Ordering::SeqCst);
        let e = flush(&db, "p", &rows(100..200)).unwrap_err();
        assert_eq!(e.status(), Some(Status::WriteError), "{e}");
        assert!(srv.checkpoint().is_err());
    }
    let srv = start(&dir);
    assert_eq!(ids(&srv, "p"), (0..100).collect::<Vec<_>>());
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum()
}

#[test]
fn commits_wait_for_lagging_checkpoints_so_the_log_stays_bounded() {
    let dir = tmp_dir("backlog");
    let cb = 64 * 1024;
    let faults = Arc::new(StorageFaults::default());
    let srv = with_faults(&dir, &faults)
        .checkpoint_bytes(cb)
        .checkpoint_idle(None)
        .start()
        .unwrap();
    let wal = dir.join("wal");
    let empty = dir_bytes(&wal);
    faults.hold_checkpoints.store(true, Ordering::SeqCst);
    let acked = Arc::new(std::sync::atomic::AtomicI64::new(0));
    let writer = {
        let (conf, acked) = (srv.conf_string(), acked.clone());
        std::thread::spawn(move || {
            let db = QuestDb::connect(&conf).unwrap();
            for k in 0..40 {
                flush(&db, "b", &rows(k * 2000..(k + 1) * 2000)).unwrap();
                acked.store(k + 1, Ordering::SeqCst);
            }
        })
    };
    // With checkpoints held up, commits go on until 4 x checkpoint_bytes
    // are logged, then wait: the count of acknowledged batches stops.
    let mut last = -1;
    let mut same_for = 0;
    while same_for < 10 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        let now = acked.load(Ordering::SeqCst);
        assert!(
            now < 40,
            "every commit went through while checkpoints were held"
        );
        same_for = if now == last { same_for + 1 } else { 0 };
        last = now;
    }
    let logged = dir_bytes(&wal) - empty;
    let record = logged / (last as u64 + 1).max(1);
    assert!(
        logged >= 4 * cb && logged <= 4 * cb + 2 * record,
        "held at {logged} bytes of log after {last} batches (bound {} + one commit)",
        4 * cb
    );
    // The checkpoint catches up; the waiting commits go through.
    faults.hold_checkpoints.store(false, Ordering::SeqCst);
    writer.join().unwrap();
    assert_eq!(acked.load(Ordering::SeqCst), 40);
    drop(srv);
    let srv = start(&dir);
    assert_eq!(ids(&srv, "b"), (0..80_000).collect::<Vec<_>>());
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_failing_checkpoint_refuses_commits_until_one_succeeds() {
    let dir = tmp_dir("ckfail");
    let faults = Arc::new(StorageFaults::default());
    {
        let srv = with_faults(&dir, &faults)
            .checkpoint_idle(Some(std::time::Duration::from_millis(100)))
            .start()
            .unwrap();
        let db = QuestDb::connect(&srv.conf_string()).unwrap();
        faults.checkpoints.store(true, Ordering::SeqCst);
        flush(&db, "c", &rows(0..100)).unwrap();
        let mut acked: Vec<i64> = (0..100).collect();
        // The background checkpoint after 100 ms of quiet fails; from then
        // on commits are refused, so the log cannot grow unchecked.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !srv
            .storage_warnings()
            .iter()
            .any(|w| w.contains("injected checkpoint failure"))
        {
            assert!(
                std::time::Instant::now() < deadline,
                "no failed background checkpoint after 10 s"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let refused = flush(&db, "c", &rows(1000..1010)).unwrap_err();
        assert_eq!(refused.status(), Some(Status::WriteError), "{refused}");
        assert!(
            refused.to_string().contains("checkpoint failed"),
            "{refused}"
        );
        let e = srv.checkpoint().unwrap_err();
        assert!(e.to_string().contains("injected checkpoint failure"), "{e}");
        // Fixed: the next background checkpoint succeeds and commits flow.
        faults.checkpoints.store(false, Ordering::SeqCst);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        // Refused commits were never logged, so retrying is safe.
        while flush(&db, "c", &rows(200..300)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "commits still refused 10 s after checkpoints recovered"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        drop(db);
        drop(srv);
        acked.extend(200..300);
        acked.sort();
        let srv = start(&dir);
        assert_eq!(ids(&srv, "c"), acked, "exactly the acknowledged rows");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn colliding_names_stay_distinct_after_restart() {
    let dir = tmp_dir("names");
    let names = ["a.b", "a~b", "a b", "a_b", "表一", "表二", "A-B"];
    for checkpoint in [false, true] {
        let _ = std::fs::remove_dir_all(&dir);
        {
            let srv = start(&dir);
            let db = QuestDb::connect(&srv.conf_string()).unwrap();
            for (k, n) in names.iter().enumerate() {
                let k = k as i64;
                flush(&db, n, &rows(k * 100..k * 100 + k + 1)).unwrap();
            }
            if checkpoint {
                srv.checkpoint().unwrap();
            }
        }
        let srv = start(&dir);
        let mut got = srv.table_names();
        got.sort();
        let mut want: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(got, want, "checkpoint={checkpoint}");
        for (k, n) in names.iter().enumerate() {
            let k = k as i64;
            assert_eq!(
                ids(&srv, n),
                (k * 100..k * 100 + k + 1).collect::<Vec<_>>(),
                "table {n}, checkpoint={checkpoint}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn copy_dir(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let dest = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).unwrap();
        }
    }
}

fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(ext))
        .collect();
    v.sort();
    v
}

/// Two tables, two checkpoints (so a previous manifest exists), more rows
/// in the log after them.
fn stored_fixture(dir: &Path) {
    let srv = start(dir);
    let db = QuestDb::connect(&srv.conf_string()).unwrap();
    flush(&db, "good", &rows(0..1000)).unwrap();
    flush(&db, "bad", &rows(0..1000)).unwrap();
    srv.checkpoint().unwrap();
    flush(&db, "good", &rows(1000..2000)).unwrap();
    srv.checkpoint().unwrap();
    flush(&db, "good", &rows(2000..2500)).unwrap();
}

#[test]
fn bit_flips_and_truncation_in_stored_files_are_detected() {
    let base = tmp_dir("rot-base");
    stored_fixture(&base);
    let work = tmp_dir("rot");
    let good: Vec<i64> = (0..2500).collect();

    // 1. Part files of table `bad`: 30 single-byte flips spread over the
    // file, and truncations. Each is detected; `bad` is quarantined and
    // `good` served whole.
    let bad_parts = files(&base.join("tables"), ".parquet")
        .into_iter()
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("bad-"))
        .collect::<Vec<_>>();
    assert_eq!(bad_parts.len(), 1, "{bad_parts:?}");
    let len = std::fs::metadata(&bad_parts[0]).unwrap().len() as usize;
    type Damage = Box<dyn Fn(&mut Vec<u8>)>;
    let mut damages: Vec<Damage> = Vec::new();
    for k in 0..30 {
        let at = (k * 7919 + 3) % len;
        damages.push(Box::new(move |b: &mut Vec<u8>| b[at] ^= 1 << (k % 8)));
    }
    for cut in [1, len / 2, len - 1] {
        damages.push(Box::new(move |b: &mut Vec<u8>| b.truncate(cut)));
    }
    for (k, damage) in damages.iter().enumerate() {
        copy_dir(&base, &work);
        let part = work.join("tables").join(bad_parts[0].file_name().unwrap());
        let mut bytes = std::fs::read(&part).unwrap();
        damage(&mut bytes);
        std::fs::write(&part, &bytes).unwrap();
        let srv = start(&work);
        let q = srv.quarantined_tables();
        assert_eq!(q.len(), 1, "damage {k}: {q:?}");
        assert_eq!(q[0].0, "bad");
        assert_eq!(ids(&srv, "good"), good, "damage {k}");
        if k == 0 {
            // Queries and writes naming it say why; DROP discards it.
            let e = query_err(&srv, "SELECT count(*) FROM bad");
            assert!(e.to_string().contains("quarantined"), "{e}");
            let db = QuestDb::connect(&srv.conf_string()).unwrap();
            let e = flush(&db, "bad", &rows(0..1)).unwrap_err();
            assert_eq!(e.status(), Some(Status::WriteError), "{e}");
            assert!(e.to_string().contains("quarantined"), "{e}");
            let r = db
                .query_arrow("DROP TABLE bad")
                .and_then(|mut c| c.fetch_all_arrow());
            assert!(r.is_ok(), "{r:?}");
            flush(&db, "bad", &rows(5..6)).unwrap();
            drop(db);
            drop(srv);
            let srv = start(&work);
            assert!(srv.quarantined_tables().is_empty());
            assert_eq!(ids(&srv, "bad"), vec![5]);
        }
    }

    // 2. The newest manifest: a flip or a cut falls back to the previous
    // one and the log replays from there; nothing is lost.
    let manifests = files(&base, "");
    let manifests: Vec<&PathBuf> = manifests
        .iter()
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("MANIFEST-")
        })
        .collect();
    assert_eq!(manifests.len(), 2, "{manifests:?}");
    let newest = manifests[1].file_name().unwrap().to_owned();
    let mlen = std::fs::metadata(manifests[1]).unwrap().len() as usize;
    for k in [0, mlen / 3, mlen / 2, mlen - 2, usize::MAX] {
        copy_dir(&base, &work);
        let m = work.join(&newest);
        let mut bytes = std::fs::read(&m).unwrap();
        if k == usize::MAX {
            bytes.truncate(mlen / 2);
        } else {
            bytes[k] ^= 0x04;
        }
        std::fs::write(&m, &bytes).unwrap();
        let srv = start(&work);
        assert!(srv.quarantined_tables().is_empty(), "manifest damage {k}");
        assert_eq!(ids(&srv, "good"), good, "manifest damage {k}");
        assert_eq!(ids(&srv, "bad"), (0..1000).collect::<Vec<_>>());
        assert!(
            srv.storage_warnings()
                .iter()
                .any(|w| w.contains("MANIFEST")),
            "{:?}",
            srv.storage_warnings()
        );
    }

    // 3. The write-ahead log: a flip in, or a cut through, its last record
    // loses that record only, with a warning; the server starts.
    let wal = files(&base.join("wal"), ".log");
    let with_records: Vec<&PathBuf> = wal
        .iter()
        .filter(|p| std::fs::metadata(p).unwrap().len() > 16)
        .collect();
    // The newest segment holds the commit made after the last checkpoint
    // (older ones are kept for the previous manifest).
    let last = with_records.last().expect("a segment with records");
    let seg = last.file_name().unwrap().to_owned();
    let wlen = std::fs::metadata(last).unwrap().len() as usize;
    for k in 0..3 {
        copy_dir(&base, &work);
        let p = work.join("wal").join(&seg);
        let mut bytes = std::fs::read(&p).unwrap();
        match k {
            0 => bytes[wlen - 10] ^= 0x80,
            1 => bytes.truncate(wlen - 3),
            _ => bytes[40] ^= 0x01,
        }
        std::fs::write(&p, &bytes).unwrap();
        let srv = start(&work);
        assert_eq!(
            ids(&srv, "good"),
            (0..2000).collect::<Vec<_>>(),
            "wal damage {k}: the last commit is cut off, the checkpointed rows stay"
        );
        assert!(
            srv.storage_warnings()
                .iter()
                .any(|w| w.contains("write-ahead log")),
            "{:?}",
            srv.storage_warnings()
        );
        // New commits land after the cut and survive another restart.
        let db = QuestDb::connect(&srv.conf_string()).unwrap();
        flush(&db, "good", &rows(9000..9001)).unwrap();
        drop(db);
        drop(srv);
        let srv = start(&work);
        assert_eq!(ids(&srv, "good").last(), Some(&9000));
        assert!(
            srv.storage_warnings().is_empty(),
            "{:?}",
            srv.storage_warnings()
        );
    }
    let _ = std::fs::remove_dir_all(&base);
    let _ = std::fs::remove_dir_all(&work);
}

#[test]
fn a_checkpoint_writes_only_what_was_added() {
    let dir = tmp_dir("incr");
    let srv = start(&dir);
    let db = QuestDb::connect(&srv.conf_string()).unwrap();
    flush(&db, "t", &rows(0..5000)).unwrap();
    srv.checkpoint().unwrap();
    let first = files(&dir.join("tables"), ".parquet");
    assert_eq!(first.len(), 1);
    let first_bytes = std::fs::read(&first[0]).unwrap();
    flush(&db, "t", &rows(5000..5010)).unwrap();
    srv.checkpoint().unwrap();
    let second = files(&dir.join("tables"), ".parquet");
    assert_eq!(second.len(), 2, "a new part for the new rows: {second:?}");
    assert!(
        second.contains(&first[0]),
        "the first part is kept as it was"
    );
    assert_eq!(std::fs::read(&first[0]).unwrap(), first_bytes);
    let new_part = second.iter().find(|p| **p != first[0]).unwrap();
    assert!(
        std::fs::metadata(new_part).unwrap().len() < first_bytes.len() as u64 / 10,
        "the new part holds the 10 new rows only"
    );
    // An out-of-order row inside the second part's range: only that part
    // is rewritten; the first stays as it was.
    let mid = RecordBatch::try_new(
        rows(0..1).schema(),
        vec![
            Arc::new(TimestampMicrosecondArray::from(vec![
                1_700_000_000_000_000 + 5004,
            ])),
            Arc::new(Int64Array::from(vec![-7])),
            Arc::new(StringArray::from(vec!["mid"])),
        ],
    )
    .unwrap();
    flush(&db, "t", &mid).unwrap();
    srv.checkpoint().unwrap();
    let third = files(&dir.join("tables"), ".parquet");
    assert!(
        third.contains(&first[0]),
        "the first part is kept: {third:?}"
    );
    assert_eq!(std::fs::read(&first[0]).unwrap(), first_bytes);
    let newest = third
        .iter()
        .filter(|p| !second.contains(p))
        .collect::<Vec<_>>();
    assert_eq!(newest.len(), 1, "one rewritten tail part: {third:?}");
    assert!(
        std::fs::metadata(newest[0]).unwrap().len() < first_bytes.len() as u64 / 10,
        "the rewritten part holds the 11 tail rows only"
    );
    // A row before everything rewrites the table (it is re-sorted).
    let early = rows(-5..-4);
    flush(&db, "t", &early).unwrap();
    srv.checkpoint().unwrap();
    let fourth = files(&dir.join("tables"), ".parquet");
    let whole: Vec<_> = fourth.iter().filter(|p| !third.contains(p)).collect();
    assert_eq!(whole.len(), 1, "{fourth:?}");
    assert!(
        std::fs::metadata(whole[0]).unwrap().len() >= first_bytes.len() as u64,
        "one new part holding the whole table"
    );
    drop(db);
    drop(srv);
    let srv = start(&dir);
    let mut want: Vec<i64> = [-5, -7].into_iter().chain(0..5010).collect();
    want.sort();
    assert_eq!(ids(&srv, "t"), want);
    let b = srv.table_batch("t").unwrap();
    let id = b.column(b.schema().index_of("id").unwrap()).clone();
    assert_eq!(
        id.as_primitive::<Int64Type>().value(0),
        -5,
        "designated-timestamp order kept"
    );
    assert_eq!(id.null_count(), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_quiet_log_is_checkpointed_by_itself() {
    let dir = tmp_dir("idle");
    let srv = Server::builder()
        .bind("127.0.0.1:0")
        .data_dir(&dir)
        .checkpoint_idle(Some(std::time::Duration::from_millis(200)))
        .start()
        .unwrap();
    let db = QuestDb::connect(&srv.conf_string()).unwrap();
    flush(&db, "q", &rows(0..100)).unwrap();
    // The background thread looks every 500 ms; allow a generous 10 s.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while files(&dir.join("tables"), ".parquet").is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "no checkpoint after 10 s of quiet"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    drop(db);
    drop(srv);
    let srv = start(&dir);
    assert_eq!(ids(&srv, "q"), (0..100).collect::<Vec<_>>());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn concurrent_writers_and_checkpoints_keep_every_acknowledged_row() {
    let dir = tmp_dir("conc");
    {
        let srv = Server::builder()
            .bind("127.0.0.1:0")
            .data_dir(&dir)
            .checkpoint_bytes(32 * 1024)
            .start()
            .unwrap();
        let conf = srv.conf_string();
        std::thread::scope(|s| {
            for w in 0..4i64 {
                let conf = conf.clone();
                s.spawn(move || {
                    let db = QuestDb::connect(&conf).unwrap();
                    for k in 0..50 {
                        let start = w * 1_000_000 + k * 100;
                        flush(&db, "shared", &rows(start..start + 100)).unwrap();
                    }
                });
            }
        });
    }
    let srv = start(&dir);
    let got: BTreeSet<i64> = ids(&srv, "shared").into_iter().collect();
    assert_eq!(got.len(), 4 * 50 * 100);
    for w in 0..4i64 {
        assert!(got.contains(&(w * 1_000_000 + 4999)));
    }
    assert!(
        srv.storage_warnings().is_empty(),
        "{:?}",
        srv.storage_warnings()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(feature = "cli")]
mod kill9 {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::process::{Child, Command, Stdio};
    use std::sync::Mutex;
    use std::time::Duration;

    /// A `questdb-arrow serve --data-dir` child and its connect string.
    fn spawn(dir: &Path) -> (Child, String) {
        // QA_SERVE_BIN: run another build of the CLI (e.g. when several
        // checkouts share one target directory).
        let bin = std::env::var("QA_SERVE_BIN")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_questdb-arrow").to_string());
        let mut child = Command::new(bin)
            .args([
                "serve",
                "--bind",
                "127.0.0.1:0",
                "--checkpoint-bytes",
                "65536",
            ])
            .arg("--data-dir")
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let conf = line
            .split("connect string: ")
            .nth(1)
            .and_then(|s| s.strip_suffix(")\n"))
            .unwrap_or_else(|| panic!("no connect string in {line:?}"))
            .to_string();
        (child, conf)
    }

    #[test]
    fn kill_9_during_multi_writer_ingest_keeps_every_acknowledged_row() {
        let dir = tmp_dir("kill9");
        for round in 0..20u64 {
            let (mut child, conf) = spawn(&dir);
            let acked: Mutex<Vec<(i64, i64)>> = Mutex::new(Vec::new());
            let stop = std::sync::atomic::AtomicBool::new(false);
            std::thread::scope(|s| {
                for w in 0..3i64 {
                    let (conf, acked, stop) = (&conf, &acked, &stop);
                    s.spawn(move || {
                        let Ok(db) = QuestDb::connect(conf) else {
                            return;
                        };
                        let mut k = 0i64;
                        while !stop.load(Ordering::SeqCst) {
                            let start = (round as i64 * 10 + w) * 10_000_000 + k * 500;
                            if flush(&db, "t", &rows(start..start + 500)).is_err() {
                                return;
                            }
                            acked.lock().unwrap().push((start, start + 500));
                            k += 1;
                        }
                    });
                }
                // Let them write (from the first acknowledgement on, so a
                // slow start on a loaded machine still gets a real round),
                // then kill without warning.
                let t = std::time::Instant::now();
                while acked.lock().unwrap().is_empty() && t.elapsed() < Duration::from_secs(30) {
                    std::thread::sleep(Duration::from_millis(5));
                }
                std::thread::sleep(Duration::from_millis(150 + 37 * (round % 7)));
                child.kill().unwrap();
                child.wait().unwrap();
                stop.store(true, Ordering::SeqCst);
            });
            let acked = acked.into_inner().unwrap();
            assert!(!acked.is_empty(), "round {round}: nothing was acknowledged");
            // Restart and check every acknowledged row is there.
            let (mut child, conf) = spawn(&dir);
            let db = QuestDb::connect(&conf).unwrap();
            let batches = db
                .query_arrow("SELECT id FROM t")
                .and_then(|mut c| c.fetch_all_arrow())
                .unwrap();
            let mut got = BTreeSet::new();
            for b in &batches {
                got.extend(
                    b.column(0)
                        .as_primitive::<Int64Type>()
                        .values()
                        .iter()
                        .copied(),
                );
            }
            for (a, b) in &acked {
                for id in *a..*b {
                    assert!(
                        got.contains(&id),
                        "round {round}: acknowledged row {id} missing after kill -9 ({} acked batches, {} rows stored)",
                        acked.len(),
                        got.len()
                    );
                }
            }
            let acked_rows: usize = acked.iter().map(|(a, b)| (b - a) as usize).sum();
            assert!(got.len() >= acked_rows, "round {round}");
            drop(db);
            child.kill().unwrap();
            child.wait().unwrap();
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
