//! A result read on the caller's thread (`Query::read_on_caller_thread`,
//! the default for raw bodies) and on a receiving thread give the same
//! batches and behave alike: CACHE_RESET between batches, symbol
//! dictionaries shared across batches, byte credit (also with frames of
//! about a megabyte), cancel and early drop, a server error and a lost
//! connection mid-stream.

use std::sync::Arc;

use arrow::array::*;
use arrow::datatypes::{DataType, Int64Type};
use questdb_arrow::client::{AckLevel, ColumnOverride, QuestDb, Terminal};
use questdb_arrow::protocol::Status;
use questdb_arrow::server::{Faults, Server};
use questdb_arrow::{Error, ErrorKind};

use crate::query::start;
use crate::support::rows_with;

/// The two ways of reading a result: on the caller's thread, on a
/// receiving thread.
const MODES: [bool; 2] = [true, false];

/// Table `t`: `n` rows of ts, id LONG and sym SYMBOL (`s{id % 37}`),
/// stored as `parts` separately flushed batches.
fn fill(db: &QuestDb, n: i64, parts: i64) {
    let per = n / parts;
    for p in 0..parts {
        let b = rows_with(p * per..(p + 1) * per, "sym", |i| format!("s{}", i % 37));
        db.flush_arrow_batch(
            "t",
            &b,
            Some("ts"),
            &[("sym", ColumnOverride::Symbol)],
            AckLevel::Ok,
        )
        .unwrap();
    }
}

/// The (id, sym) rows of `batches`, SYMBOLs read through their
/// dictionaries.
fn rows(batches: &[RecordBatch]) -> Vec<(i64, String)> {
    let mut out = Vec::new();
    for b in batches {
        let ids = b.column_by_name("id").unwrap().as_primitive::<Int64Type>();
        let sym = b.column_by_name("sym").unwrap();
        let sym = arrow::compute::cast(sym, &DataType::Utf8).unwrap();
        let sym = sym.as_string::<i32>();
        for i in 0..b.num_rows() {
            out.push((ids.value(i), sym.value(i).to_string()));
        }
    }
    out
}

fn want(n: i64) -> Vec<(i64, String)> {
    (0..n).map(|i| (i, format!("s{}", i % 37))).collect()
}

/// Every batch, in order, with symbols right across CACHE_RESETs (a
/// dictionary cap of 3 entries forces one every few batches) and
/// dictionaries shared across batches; with and without a byte credit
/// smaller than one frame (the server waits for each grant, given back as
/// the caller takes each batch).
#[test]
fn both_modes_give_every_batch_across_cache_resets_and_credit() {
    let (_srv, db) = start(Server::builder().max_batch_rows(10).dict_caps(3, 1 << 20));
    let n = 1_000;
    fill(&db, n, 1);
    for on_caller in MODES {
        for credit in [0, 256] {
            let how = format!("caller thread {on_caller}, credit {credit}");
            let mut cur = db
                .query("SELECT id, sym FROM t")
                .unwrap()
                .read_on_caller_thread(on_caller)
                .initial_credit(credit)
                .execute()
                .unwrap();
            let mut got = Vec::new();
            while let Some(b) = cur.next_arrow_batch().unwrap() {
                assert_eq!(b.num_rows(), 10, "{how}");
                got.push(b);
            }
            assert_eq!(got.len(), 100, "{how}");
            assert_eq!(rows(&got), want(n), "{how}");
            assert_eq!(cur.batches_decoded(), 100, "{how}");
            assert!(!cur.waits_for_caller(), "{how}");
            assert!(
                matches!(cur.terminal(), Some(Terminal::ResultEnd { total_rows, .. }) if *total_rows == n as u64),
                "{how}: {:?}",
                cur.terminal()
            );
        }
    }
}

/// On the caller's thread nothing is decoded ahead of the caller: each
/// batch is decoded when it is asked for.
#[test]
fn on_the_caller_thread_nothing_is_decoded_ahead() {
    let (_srv, db) = start(Server::builder().max_batch_rows(10));
    fill(&db, 200, 1);
    let mut cur = db
        .query("SELECT id, sym FROM t")
        .unwrap()
        .execute()
        .unwrap();
    // `execute` decoded the first batch (for the schema).
    assert_eq!(cur.batches_decoded(), 1);
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert_eq!(cur.batches_decoded(), 1);
    for taken in 1..=5 {
        cur.next_arrow_batch().unwrap().unwrap();
        assert_eq!(cur.batches_decoded(), taken);
    }
    assert!(!cur.waits_for_caller());
}

/// Cancelling or dropping a cursor mid-stream leaves the connection in a
/// known state: the same reader runs the next query.
#[test]
fn cancel_and_early_drop_leave_the_connection_usable() {
    let (_srv, db) = start(Server::builder().max_batch_rows(100));
    fill(&db, 20_000, 1);
    for on_caller in MODES {
        for credit in [0, 4096] {
            let how = format!("caller thread {on_caller}, credit {credit}");
            let mut r = db.borrow_reader().unwrap();
            for drop_it in [false, true] {
                let mut cur = r
                    .prepare("SELECT id, sym FROM t")
                    .read_on_caller_thread(on_caller)
                    .initial_credit(credit)
                    .execute()
                    .unwrap();
                assert_eq!(cur.next_arrow_batch().unwrap().unwrap().num_rows(), 100);
                if !drop_it {
                    cur.cancel().unwrap();
                    assert!(cur.next_arrow_batch().unwrap().is_none(), "{how}");
                    assert!(cur.terminal().is_some(), "{how}");
                }
                // Dropping an unfinished cursor cancels and drains.
                drop(cur);
            }
            assert!(r.is_connected(), "{how}");
            let all = r
                .prepare("SELECT id, sym FROM t")
                .read_on_caller_thread(on_caller)
                .execute()
                .unwrap()
                .fetch_all_arrow()
                .unwrap();
            assert_eq!(rows(&all), want(20_000), "{how}");
        }
    }
}

/// A server error after some batches reaches the caller as that error,
/// after the batches sent before it; the connection stays usable.
#[test]
fn a_server_error_mid_stream_reaches_the_caller() {
    let (_srv, db) = start(Server::builder().max_batch_rows(50).faults(Faults {
        panic_udf: true,
        ..Faults::default()
    }));
    fill(&db, 1_000, 10);
    let sql = "SELECT id, CASE WHEN id >= 600 THEN qa_panic() ELSE 0 END AS p FROM t";
    for on_caller in MODES {
        let mut r = db.borrow_reader().unwrap();
        let mut taken = 0;
        let e = (|| -> Result<(), Error> {
            let mut cur = r.prepare(sql).read_on_caller_thread(on_caller).execute()?;
            while let Some(b) = cur.next_arrow_batch()? {
                taken += b.num_rows();
            }
            Ok(())
        })()
        .unwrap_err();
        assert_eq!(e.status(), Some(Status::InternalError), "{e}");
        assert!(
            taken > 0 && taken <= 600,
            "caller thread {on_caller}: {taken} rows"
        );
        assert!(r.is_connected(), "caller thread {on_caller}");
        assert_eq!(r.rows("SELECT 1 AS x").unwrap().num_rows(), 1);
    }
}

/// A connection lost mid-stream (the server shuts down) is a transport
/// error for the caller, after the batches it took; the reader drops the
/// connection.
#[test]
fn a_lost_connection_mid_stream_reaches_the_caller() {
    for on_caller in MODES {
        let (srv, db) = start(Server::builder().max_batch_rows(50));
        fill(&db, 10_000, 1);
        let mut r = db.borrow_reader().unwrap();
        let mut cur = r
            .prepare("SELECT id, sym FROM t")
            .read_on_caller_thread(on_caller)
            .initial_credit(2048)
            .execute()
            .unwrap();
        let mut got = vec![cur.next_arrow_batch().unwrap().unwrap()];
        let killer = std::thread::spawn(move || srv.shutdown());
        let e = loop {
            match cur.next_arrow_batch() {
                Ok(Some(b)) => got.push(b),
                Ok(None) => panic!("caller thread {on_caller}: the result ended"),
                Err(e) => break e,
            }
        };
        killer.join().unwrap();
        assert!(
            matches!(e.kind(), ErrorKind::Closed | ErrorKind::Io),
            "caller thread {on_caller}: {:?}: {e}",
            e.kind()
        );
        assert!(got.len() < 200, "caller thread {on_caller}");
        // What was taken is the start of the result, in order.
        assert_eq!(rows(&got), want(got.len() as i64 * 50));
        drop(cur);
        assert!(!r.is_connected(), "caller thread {on_caller}");
    }
}

/// Frames of about 1 MB (10 000 rows of a LONG and a 100-byte VARCHAR)
/// read whole in both modes, with and without a byte credit smaller than
/// one frame. With credit the server sends one frame and then waits: the
/// client must not wait for more bytes than the rest of that frame (a
/// read that did, once copied part of it, would never wake). Each read
/// runs on a thread of its own and must finish within a minute.
#[test]
fn large_frames_are_read_whole_when_the_server_waits_after_each() {
    let (_srv, db) = start(Server::builder());
    let n = 40_000i64;
    let note = |i: i64| format!("{i:0>100}");
    let b = rows_with(0..n, "note", note);
    db.flush_arrow_batch("big", &b, Some("ts"), &[], AckLevel::Ok)
        .unwrap();
    let db = Arc::new(db);
    for on_caller in MODES {
        for credit in [0, 64 * 1024] {
            let how = format!("caller thread {on_caller}, credit {credit}");
            let (tx, rx) = std::sync::mpsc::channel();
            let reader = db.clone();
            std::thread::spawn(move || {
                // The rows of the largest batch, and every row.
                let res = (|| -> questdb_arrow::Result<(usize, Vec<(i64, String)>)> {
                    let mut cur = reader
                        .query("SELECT id, note FROM big")?
                        .read_on_caller_thread(on_caller)
                        .initial_credit(credit)
                        .execute()?;
                    let (mut largest, mut got) = (0, Vec::new());
                    while let Some(b) = cur.next_arrow_batch()? {
                        largest = largest.max(b.num_rows());
                        let ids = b.column(0).as_primitive::<Int64Type>();
                        let notes = b.column(1).as_string::<i32>();
                        for i in 0..b.num_rows() {
                            got.push((ids.value(i), notes.value(i).to_string()));
                        }
                    }
                    Ok((largest, got))
                })();
                let _ = tx.send(res);
            });
            let (largest, got) = rx
                .recv_timeout(std::time::Duration::from_secs(60))
                .unwrap_or_else(|_| panic!("{how}: the read did not finish within a minute"))
                .unwrap();
            // The largest batch is a frame of over half a megabyte.
            assert!(largest >= 5_000, "{how}: {largest} rows");
            assert_eq!(got.len(), n as usize, "{how}");
            assert!(
                got.iter()
                    .enumerate()
                    .all(|(k, (id, s))| *id == k as i64 && *s == note(k as i64)),
                "{how}"
            );
        }
    }
}
