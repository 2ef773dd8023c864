//! The row API (`client::rows`): every type through the embedded server and
//! back, several tables per flush, auto-flush triggers, rollbacks, errors.

use std::net::Ipv4Addr;
use std::time::Duration;

use arrow::array::{Array, ArrayRef, RecordBatch};
use arrow::datatypes::i256;
use arrow::util::display::array_value_to_string;
use questdb_arrow::ErrorKind;
use questdb_arrow::client::rows::{Buffer, TimestampMicros, TimestampNanos};
use questdb_arrow::client::{QuestDb, Sender};
use questdb_arrow::conf::Conf;
use questdb_arrow::protocol::Status;
use questdb_arrow::server::{Faults, RejectCommits, Server, ServerHandle};

fn start() -> ServerHandle {
    Server::builder().bind("127.0.0.1:0").start().unwrap()
}

fn db(srv: &ServerHandle, extra: &str) -> QuestDb {
    QuestDb::connect(&format!("{}{extra}", srv.conf_string())).unwrap()
}

/// Rows the server holds in `table` (0 when it does not exist).
fn stored(srv: &ServerHandle, table: &str) -> usize {
    srv.table_batch(table).map_or(0, |b| b.num_rows())
}

/// [`stored`] once it reaches `want` (automatic flushes are pipelined: the
/// server commits them a moment later), or what it is after 10 s.
fn eventually(srv: &ServerHandle, table: &str, want: usize) -> usize {
    let until = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let n = stored(srv, table);
        if n == want || std::time::Instant::now() >= until {
            return n;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn col<'a>(b: &'a RecordBatch, name: &str) -> &'a ArrayRef {
    b.column(b.schema().index_of(name).unwrap())
}

fn text(a: &ArrayRef) -> Vec<String> {
    (0..a.len())
        .map(|i| {
            if a.is_null(i) {
                "NULL".to_string()
            } else {
                array_value_to_string(a, i).unwrap()
            }
        })
        .collect()
}

const T0: i64 = 1_700_000_000_000_000;

/// Every type the row API has, with NULLs (a column missing from a row),
/// through the embedded server and back via a query.
#[test]
fn every_type_round_trips_through_a_query() {
    let srv = start();
    let db = db(&srv, "auto_flush=off;");
    let mut s = db.borrow_row_sender().unwrap();
    let long256 = {
        let mut b = [0u8; 32];
        b[0] = 0xAB;
        b[31] = 0x01;
        b
    };
    s.table("every")
        .unwrap()
        .symbol("sym", "eu")
        .unwrap()
        .column_bool("b", true)
        .unwrap()
        .column_i8("i8", -8)
        .unwrap()
        .column_i16("i16", -16)
        .unwrap()
        .column_i32("i32", -32)
        .unwrap()
        .column_i64("i64", -64)
        .unwrap()
        .column_f32("f32", 1.5)
        .unwrap()
        .column_f64("f64", -2.25)
        .unwrap()
        .column_str("s", "héllo")
        .unwrap()
        .column_binary("bin", &[0, 1, 255])
        .unwrap()
        .column_char("c", u16::from(b'Z'))
        .unwrap()
        .column_ipv4("ip", Ipv4Addr::new(10, 1, 2, 3))
        .unwrap()
        .column_uuid("u", 0x1122_3344_5566_7788, 0x99AA_BBCC_DDEE_FF00)
        .unwrap()
        .column_long256("l256", &long256)
        .unwrap()
        .column_date("d", 86_400_000)
        .unwrap()
        .column_geohash("g", 0b10110, 5)
        .unwrap()
        .column_dec64("d64", -12345, 2)
        .unwrap()
        .column_dec128("d128", 10i128.pow(30) + 7, 9)
        .unwrap()
        .column_dec256("d256", i256::from_i128(-5), 40)
        .unwrap()
        .column_dec("dtxt", "3.14")
        .unwrap()
        .column_arr_f64("af", &[1.5, 2.5])
        .unwrap()
        .column_arr_i64("al", &[7, 8, 9])
        .unwrap()
        .column_ts("tus", TimestampMicros::new(T0 + 5))
        .unwrap()
        .column_ts("tns", TimestampNanos::new(T0 * 1000 + 6))
        .unwrap()
        .at(TimestampMicros::new(T0))
        .unwrap();
    // Only one column: every other one is NULL in this row.
    s.table("every")
        .unwrap()
        .column_i64("i64", 1)
        .unwrap()
        .at(TimestampMicros::new(T0 + 1))
        .unwrap();
    // The decimal text gets the column's scale; a nanosecond value in a
    // microsecond column is converted.
    s.table("every")
        .unwrap()
        .symbol("sym", "us")
        .unwrap()
        .column_dec("dtxt", "-1.5")
        .unwrap()
        .column_ts("tus", TimestampNanos::new((T0 + 9) * 1000))
        .unwrap()
        .at(TimestampNanos::new((T0 + 2) * 1000))
        .unwrap();
    assert_eq!(stored(&srv, "every"), 0, "auto_flush=off");
    let sum = s.flush().unwrap();
    assert_eq!((sum.rows, sum.frames), (3, 1));
    assert!(s.buffer().is_empty());
    drop(s);

    let got = db
        .query_arrow("SELECT * FROM every ORDER BY timestamp")
        .unwrap()
        .fetch_all_arrow()
        .unwrap();
    let b = arrow::compute::concat_batches(&got[0].schema(), &got).unwrap();
    assert_eq!(b.num_rows(), 3);
    let expect: &[(&str, [&str; 3])] = &[
        ("sym", ["eu", "NULL", "us"]),
        // No NULL in BOOLEAN, BYTE, SHORT, CHAR: false / 0.
        ("b", ["true", "false", "false"]),
        ("i8", ["-8", "0", "0"]),
        ("i16", ["-16", "0", "0"]),
        ("i32", ["-32", "NULL", "NULL"]),
        ("i64", ["-64", "1", "NULL"]),
        ("f32", ["1.5", "NULL", "NULL"]),
        ("f64", ["-2.25", "NULL", "NULL"]),
        ("s", ["héllo", "NULL", "NULL"]),
        ("bin", ["0001ff", "NULL", "NULL"]),
        ("c", ["90", "0", "0"]),
        (
            "ip",
            [
                &u32::from(Ipv4Addr::new(10, 1, 2, 3)).to_string(),
                "NULL",
                "NULL",
            ],
        ),
        ("u", ["99aabbccddeeff001122334455667788", "NULL", "NULL"]),
        ("d", ["1970-01-02T00:00:00", "NULL", "NULL"]),
        ("g", ["22", "NULL", "NULL"]),
        ("d64", ["-123.45", "NULL", "NULL"]),
        ("d128", ["1000000000000000000000.000000007", "NULL", "NULL"]),
        (
            "d256",
            [
                "-0.0000000000000000000000000000000000000005",
                "NULL",
                "NULL",
            ],
        ),
        ("dtxt", ["3.14", "NULL", "-1.50"]),
        ("af", ["[1.5, 2.5]", "NULL", "NULL"]),
        ("al", ["[7, 8, 9]", "NULL", "NULL"]),
        (
            "tus",
            [
                "2023-11-14T22:13:20.000005Z",
                "NULL",
                "2023-11-14T22:13:20.000009Z",
            ],
        ),
        ("tns", ["2023-11-14T22:13:20.000000006Z", "NULL", "NULL"]),
        (
            "timestamp",
            [
                "2023-11-14T22:13:20Z",
                "2023-11-14T22:13:20.000001Z",
                "2023-11-14T22:13:20.000002Z",
            ],
        ),
    ];
    for (name, want) in expect {
        assert_eq!(text(col(&b, name)), want.to_vec(), "column {name}");
    }
    let l = text(col(&b, "l256"));
    assert_eq!(l[0], format!("ab{}01", "00".repeat(30)));
    assert_eq!(b.num_columns(), expect.len() + 1, "{:?}", b.schema());
}

/// All tables of a flush travel in one frame and commit together: a
/// rejected commit leaves none of them, and the rows stay buffered for
/// the retry.
#[test]
fn several_tables_go_in_one_frame_and_commit_together() {
    let srv = Server::builder()
        .bind("127.0.0.1:0")
        .faults(Faults {
            reject_commits: Some(RejectCommits::new(Status::SchemaMismatch, 1)),
            ..Faults::default()
        })
        .start()
        .unwrap();
    let conf = Conf::parse(&srv.conf_string()).unwrap();
    let mut sender = Sender::connect(&conf).unwrap();
    let mut buf = Buffer::new();
    for i in 0..30i64 {
        let t = ["ta", "tb", "tc"][i as usize % 3];
        buf.table(t).unwrap().column_i64("id", i).unwrap();
        if i % 2 == 0 {
            buf.at(TimestampMicros::new(T0 + i)).unwrap();
        } else {
            buf.at_now().unwrap();
        }
    }
    let e = sender.flush_buffer(&mut buf).unwrap_err();
    assert_eq!(e.status(), Some(Status::SchemaMismatch), "{e}");
    for t in ["ta", "tb", "tc"] {
        assert_eq!(stored(&srv, t), 0, "{t}: nothing committed");
    }
    assert_eq!(buf.row_count(), 30, "rows kept after a failed flush");
    let sum = sender.flush_buffer(&mut buf).unwrap();
    assert_eq!((sum.rows, sum.frames, sum.batches), (30, 1, 1), "{sum:?}");
    assert_eq!(buf.row_count(), 0);
    for (k, t) in ["ta", "tb", "tc"].into_iter().enumerate() {
        let b = srv.table_batch(t).unwrap();
        let mut ids: Vec<i64> = text(col(&b, "id"))
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        ids.sort();
        let want: Vec<i64> = (0..30).filter(|i| i % 3 == k as i64).collect();
        assert_eq!(ids, want, "{t}");
    }
    // The buffer is reused, with a different column type this time.
    buf.table("ta").unwrap().column_str("id2", "x").unwrap();
    buf.at_now().unwrap();
    assert_eq!(sender.flush_buffer(&mut buf).unwrap().rows, 1);
    assert_eq!(stored(&srv, "ta"), 11);
}

fn add(s: &mut questdb_arrow::client::rows::PooledRowSender<'_>, t: &str, i: i64) {
    s.table(t)
        .unwrap()
        .column_i64("id", i)
        .unwrap()
        .at(TimestampMicros::new(T0 + i))
        .unwrap();
}

/// `auto_flush_rows`: a flush exactly when the buffer reaches the count,
/// seen at the server after each row.
#[test]
fn auto_flush_rows_commits_every_n_rows() {
    let srv = start();
    let db = db(&srv, "auto_flush_rows=3;auto_flush_interval=off;");
    let mut s = db.borrow_row_sender().unwrap();
    let want = [0, 0, 3, 3, 3, 6, 6];
    let mut seen = Vec::new();
    for (i, w) in want.into_iter().enumerate() {
        add(&mut s, "af_rows", i as i64);
        seen.push(eventually(&srv, "af_rows", w));
    }
    // Nothing is sent before the count is reached, so a row count below
    // it is exact.
    assert_eq!(seen, want);
    assert_eq!(s.buffer().row_count(), 1);
    s.flush().unwrap();
    assert_eq!(stored(&srv, "af_rows"), 7);
}

/// `auto_flush_bytes`: 16 bytes a row (a LONG and the timestamp); 40
/// bytes flush at the third row.
#[test]
fn auto_flush_bytes_commits_at_the_byte_count() {
    let srv = start();
    let db = db(
        &srv,
        "auto_flush_rows=off;auto_flush_interval=off;auto_flush_bytes=40;",
    );
    let mut s = db.borrow_row_sender().unwrap();
    let want = [0, 0, 3, 3, 3, 6, 6];
    let mut seen = Vec::new();
    for (i, w) in want.into_iter().enumerate() {
        add(&mut s, "af_bytes", i as i64);
        seen.push(eventually(&srv, "af_bytes", w));
    }
    assert_eq!(seen, want);
}

/// `auto_flush_interval`: checked when a row is added (no timer): the
/// rows wait until a row comes after the interval.
#[test]
fn auto_flush_interval_commits_when_a_row_comes_late() {
    let srv = start();
    let db = db(&srv, "auto_flush_rows=off;auto_flush_interval=1000;");
    let mut s = db.borrow_row_sender().unwrap();
    add(&mut s, "af_int", 0);
    add(&mut s, "af_int", 1);
    assert_eq!(stored(&srv, "af_int"), 0);
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(stored(&srv, "af_int"), 0, "no timer");
    add(&mut s, "af_int", 2);
    assert_eq!(eventually(&srv, "af_int", 3), 3);
    assert!(s.buffer().is_empty());
}

/// `auto_flush=off` never flushes by itself, whatever the other triggers.
#[test]
fn auto_flush_off_never_flushes_by_itself() {
    let srv = start();
    let db = db(
        &srv,
        "auto_flush=off;auto_flush_rows=1;auto_flush_bytes=1;auto_flush_interval=1;",
    );
    let mut s = db.borrow_row_sender().unwrap();
    for i in 0..5 {
        add(&mut s, "af_off", i);
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(stored(&srv, "af_off"), 0);
    assert_eq!(s.buffer().row_count(), 5);
    assert_eq!(s.flush().unwrap().rows, 5);
    assert_eq!(stored(&srv, "af_off"), 5);
}

/// Bad rows roll back (also a `Row` dropped unfinished); only good rows
/// reach the server. Name and size errors name their keys.
#[test]
fn bad_rows_roll_back_and_errors_name_their_keys() {
    let srv = start();
    let db = db(
        &srv,
        "auto_flush=off;max_name_len=8;init_buf_size=16;max_buf_size=64;",
    );
    let mut s = db.borrow_row_sender().unwrap();
    add(&mut s, "rb", 1);
    let e = s.table("much_too_long").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidData);
    assert!(e.to_string().contains("max_name_len"), "{e}");
    let e = s
        .table("rb")
        .unwrap()
        .column_i64("a_long_name", 1)
        .unwrap_err();
    assert!(e.to_string().contains("max_name_len"), "{e}");
    let e = s.table("rb").unwrap().column_f64("id", 1.0).unwrap_err();
    assert!(e.to_string().contains("table rb, row 1"), "{e}");
    {
        let mut r = s.table("rb").unwrap();
        r.column_i64("id", 99).unwrap();
        // Dropped without at(): rolled back.
    }
    add(&mut s, "rb", 2);
    add(&mut s, "rb", 3);
    // 3 rows of 16 bytes; a fourth and fifth pass 64 bytes.
    add(&mut s, "rb", 4);
    let e = s
        .table("rb")
        .unwrap()
        .column_i64("id", 5)
        .unwrap()
        .at(TimestampMicros::new(T0 + 5))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.to_string().contains("max_buf_size"), "{e}");
    assert_eq!(s.buffer().row_count(), 4);
    s.flush().unwrap();
    let b = srv.table_batch("rb").unwrap();
    assert_eq!(text(col(&b, "id")), ["1", "2", "3", "4"]);
}

/// The pooled row sender returns its connection; `Sender::row_sender`
/// works on a plain connection.
#[test]
fn row_senders_from_the_pool_and_from_a_sender() {
    let srv = start();
    let db = db(&srv, "");
    {
        let mut s = db.borrow_row_sender().unwrap();
        assert_eq!(db.borrow_row_sender().map(|_| ()).ok(), Some(()));
        add(&mut s, "pooled", 1);
        s.flush().unwrap();
        assert_eq!(db.borrowed_senders(), 1);
    }
    assert_eq!(db.idle_senders(), 2);
    let conf = Conf::parse(&format!("{}auto_flush_rows=2;", srv.conf_string())).unwrap();
    let mut sender = Sender::connect(&conf).unwrap();
    let mut rs = sender.row_sender();
    assert_eq!(rs.auto_flush().rows, Some(2));
    for i in 0..2 {
        rs.table("plain")
            .unwrap()
            .column_i64("id", i)
            .unwrap()
            .at_now()
            .unwrap();
    }
    assert_eq!(eventually(&srv, "plain", 2), 2);
    assert_eq!(stored(&srv, "pooled"), 1);
}

/// A rejection of a pipelined automatic flush is the error of a later call
/// (the `at` that read it, or the flush that waits for it), with its
/// status; the rejected rows are not committed.
#[test]
fn a_rejected_automatic_flush_surfaces_later() {
    let srv = Server::builder()
        .bind("127.0.0.1:0")
        .faults(Faults {
            reject_commits: Some(RejectCommits::new(Status::SchemaMismatch, 1)),
            ..Faults::default()
        })
        .start()
        .unwrap();
    let db = db(&srv, "auto_flush_rows=2;auto_flush_interval=off;");
    let mut s = db.borrow_row_sender().unwrap();
    add(&mut s, "rej", 0);
    let second = s
        .table("rej")
        .unwrap()
        .column_i64("id", 1)
        .unwrap()
        .at(TimestampMicros::new(T0 + 1));
    // Read while the automatic flush polled for answers: that flush failed,
    // and its rows stay buffered. Else they left the buffer with the frame.
    let from_at = second.is_err();
    let e = match second {
        Err(e) => e,
        Ok(()) => s.flush().unwrap_err(),
    };
    assert_eq!(e.status(), Some(Status::SchemaMismatch), "{e}");
    assert!(e.to_string().contains("rej"), "{e}");
    assert_eq!(stored(&srv, "rej"), 0);
    assert_eq!(s.buffer().row_count(), if from_at { 2 } else { 0 });
    // The sender goes on (on a new connection).
    add(&mut s, "rej", 2);
    s.flush().unwrap();
    let b = srv.table_batch("rej").unwrap();
    let want: &[&str] = if from_at { &["0", "1", "2"] } else { &["2"] };
    assert_eq!(text(col(&b, "id")), want);
}
