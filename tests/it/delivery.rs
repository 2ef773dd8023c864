//! The asynchronous sender (`client::delivery`): publish returns FSNs
//! without waiting, the runner delivers through lost connections and
//! server restarts, the disk queue outlives its sender, rejections follow
//! the policies in the background, a full queue pushes back.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{
    AsArray, DictionaryArray, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Int32Type, Int64Type, Schema, TimeUnit};
use questdb_arrow::ErrorKind;
use questdb_arrow::client::delivery::Applied;
use questdb_arrow::client::{AckLevel, AsyncSender, Category, IngestOptions, Policy};
use questdb_arrow::conf::Conf;
use questdb_arrow::protocol::Status;
use questdb_arrow::server::{Faults, Server, ServerHandle};

use crate::support::{ids, rows, string_ids};

const WAIT: Duration = Duration::from_secs(30);

fn start_at(addr: &str) -> ServerHandle {
    Server::builder().bind(addr).start().unwrap()
}

fn conf(srv: &ServerHandle, extra: &str) -> Conf {
    Conf::parse(&format!(
        "{}reconnect_max_backoff_millis=100;reconnect_initial_backoff_millis=20;{extra}",
        srv.conf_string()
    ))
    .unwrap()
}

fn scratch(name: &str) -> std::path::PathBuf {
    crate::support::scratch_dir(&format!("delivery-{name}"))
}

/// `id` rows with a SYMBOL column `sym` = `s{id % 37}` from one shared
/// dictionary of 37 values.
fn sym_rows(ids: std::ops::Range<i64>) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            false,
        ),
        Field::new("id", DataType::Int64, false),
        Field::new(
            "sym",
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
            false,
        ),
    ]));
    let values = Arc::new(StringArray::from_iter_values(
        (0..37).map(|i| format!("s{i}")),
    ));
    let keys = arrow::array::Int32Array::from_iter_values(ids.clone().map(|i| (i % 37) as i32));
    let sym = DictionaryArray::<Int32Type>::try_new(keys, values).unwrap();
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(TimestampMicrosecondArray::from_iter_values(
                ids.clone().map(|i| 1_700_000_000_000_000 + i),
            )),
            Arc::new(Int64Array::from_iter_values(ids)),
            Arc::new(sym),
        ],
    )
    .unwrap()
}

/// The stored ids once there are at least `n` (deliveries land a moment
/// after their acknowledgement is read), or what there is after 10 s.
fn ids_at_least(srv: &ServerHandle, table: &str, n: usize) -> Vec<i64> {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let v = ids(srv, table);
        if v.len() >= n || Instant::now() >= until {
            return v;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn dedup(mut v: Vec<i64>) -> Vec<i64> {
    v.sort();
    v.dedup();
    v
}

#[test]
fn publish_returns_fsns_at_once_and_wait_confirms_every_row() {
    let srv = start_at("127.0.0.1:0");
    let mut s = AsyncSender::open(&conf(&srv, "")).unwrap();
    let mut fsns = Vec::new();
    for k in 0..5 {
        fsns.push(
            s.publish("t", &rows(k * 1000..(k + 1) * 1000), Some("ts"))
                .unwrap(),
        );
    }
    assert!(fsns.windows(2).all(|w| w[0] < w[1]), "{fsns:?}");
    assert_eq!(s.published_fsn(), fsns[4]);
    s.wait(AckLevel::Ok, WAIT).unwrap();
    assert_eq!(s.acked_fsn().unwrap(), fsns[4]);
    assert_eq!(ids(&srv, "t"), (0..5000).collect::<Vec<_>>());
    let c = s.counters();
    assert_eq!(c.frames_published, 5, "{c:?}");
    assert_eq!((c.frames_sent, c.frames_acked), (5, 5), "{c:?}");
    assert_eq!(
        (c.reconnects, c.server_errors, c.frames_replayed),
        (0, 0, 0),
        "{c:?}"
    );
    assert!(s.poll_error().is_none());
    assert!(!s.must_close());
    // Durable needs request_durable_ack=on.
    let e = s.wait(AckLevel::Durable, WAIT).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
    assert!(e.to_string().contains("request_durable_ack"), "{e}");
    s.close().unwrap();
}

#[test]
fn wait_durable_follows_the_durable_acknowledgements() {
    let srv = Server::builder()
        .bind("127.0.0.1:0")
        .durable_ack(true)
        .start()
        .unwrap();
    let mut s = AsyncSender::open(&conf(&srv, "request_durable_ack=on;")).unwrap();
    for k in 0..3 {
        s.publish("t", &rows(k * 100..(k + 1) * 100), Some("ts"))
            .unwrap();
    }
    s.publish("u", &rows(0..10), Some("ts")).unwrap();
    s.wait(AckLevel::Durable, WAIT).unwrap();
    assert_eq!(ids(&srv, "t").len(), 300);
    s.close().unwrap();
    // Asked for, not granted: the connection is refused, saying so.
    let plain = start_at("127.0.0.1:0");
    let e = AsyncSender::open(&conf(&plain, "request_durable_ack=on;")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Incompatible, "{e}");
}

#[test]
fn multi_frame_transactions_and_symbols_survive_dropped_connections() {
    // The first two connections are cut after 7 frames each.
    let srv = Server::builder()
        .bind("127.0.0.1:0")
        .faults(Faults {
            close_after_frames: Some(7),
            close_first_connections: Some(2),
            ..Faults::default()
        })
        .start()
        .unwrap();
    let mut s = AsyncSender::open(&conf(&srv, "")).unwrap();
    s.set_frame_budget(8 * 1024);
    for k in 0..6 {
        s.publish("t", &sym_rows(k * 2000..(k + 1) * 2000), Some("ts"))
            .unwrap();
    }
    s.wait(AckLevel::Ok, WAIT).unwrap();
    let c = s.counters();
    assert!(c.frames_published > 6, "several frames per batch: {c:?}");
    assert!(c.reconnects >= 2, "{c:?}");
    assert!(c.frames_replayed > 0, "{c:?}");
    // At-least-once: every row is there (a transaction whose answer was
    // lost may be there twice), each with its own symbol.
    let b = srv.table_batch("t").unwrap();
    let id = b
        .column(b.schema().index_of("id").unwrap())
        .as_primitive::<Int64Type>()
        .clone();
    let sym = arrow::compute::cast(
        b.column(b.schema().index_of("sym").unwrap()),
        &DataType::Utf8,
    )
    .unwrap();
    let sym = sym.as_string::<i32>();
    for i in 0..b.num_rows() {
        assert_eq!(sym.value(i), format!("s{}", id.value(i) % 37), "row {i}");
    }
    assert_eq!(dedup(id.values().to_vec()), (0..12_000).collect::<Vec<_>>());
    s.close().unwrap();
}

#[test]
fn the_memory_queue_rides_out_a_server_restart() {
    let a = start_at("127.0.0.1:0");
    let addr = a.addr().to_string();
    let mut s = AsyncSender::open(&conf(&a, "")).unwrap();
    s.publish("t", &rows(0..100), Some("ts")).unwrap();
    s.wait(AckLevel::Ok, WAIT).unwrap();
    a.shutdown();
    // The server is gone: publishing still returns at once.
    let t0 = Instant::now();
    s.publish("t", &rows(100..200), Some("ts")).unwrap();
    let last = s.publish("t", &rows(200..300), Some("ts")).unwrap();
    assert!(t0.elapsed() < Duration::from_secs(5));
    assert!(s.acked_fsn().unwrap() < last);
    let b = start_at(&addr);
    s.wait(AckLevel::Ok, WAIT).unwrap();
    assert_eq!(ids_at_least(&b, "t", 200), (100..300).collect::<Vec<_>>());
    assert!(s.counters().reconnects >= 1);
    s.close().unwrap();
}

#[test]
fn the_disk_queue_outlives_its_sender_and_the_slot_is_exclusive() {
    let dir = scratch("slot");
    let a = start_at("127.0.0.1:0");
    let addr = a.addr().to_string();
    let extra = format!(
        "sf_dir={};sender_id=s1;close_flush_timeout_millis=0;",
        dir.display()
    );
    let c = conf(&a, &extra);
    let mut s = AsyncSender::open(&c).unwrap();
    assert_eq!(s.recovered().frames, 0);
    // A second sender on the slot is refused, naming it.
    let e = AsyncSender::open(&c).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
    assert!(e.to_string().contains("sender_id"), "{e}");
    a.shutdown();
    for k in 0..3 {
        s.publish("t", &sym_rows(k * 100..(k + 1) * 100), Some("ts"))
            .unwrap();
    }
    // Closing without the server: the frames stay on disk, and it says so.
    let e = s.close().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(e.to_string().contains("stay in sf_dir"), "{e}");
    let b = start_at(&addr);
    let s = AsyncSender::open(&c).unwrap();
    assert_eq!(s.recovered().frames, 3, "{:?}", s.recovered());
    assert!(s.recovered().truncated.is_none());
    // Nothing published by this sender: wait for what it recovered.
    s.wait_for(3, AckLevel::Ok, WAIT).unwrap();
    assert_eq!(ids_at_least(&b, "t", 300), (0..300).collect::<Vec<_>>());
    s.close().unwrap();
    // Everything acknowledged: no segment is left.
    let segs = std::fs::read_dir(dir.join("s1"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".sfa")
        })
        .count();
    assert_eq!(segs, 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn rejections_follow_the_policies_in_the_background() {
    let srv = start_at("127.0.0.1:0");
    // Drop and continue: the bad batch is reported, the rest lands.
    let opts = IngestOptions::new().on_error(Category::SchemaMismatch, Policy::DropAndContinue);
    let mut s = AsyncSender::open_with(&conf(&srv, ""), &opts).unwrap();
    s.publish("t", &rows(0..100), Some("ts")).unwrap();
    let bad = s.publish("t", &string_ids(100..200), Some("ts")).unwrap();
    s.publish("t", &rows(200..300), Some("ts")).unwrap();
    s.wait(AckLevel::Ok, WAIT).unwrap();
    let stored = ids_at_least(&srv, "t", 200);
    assert_eq!(stored, (0..100).chain(200..300).collect::<Vec<_>>());
    let e = s.poll_error().expect("the rejection is in the inbox");
    assert_eq!(e.status, Some(Status::SchemaMismatch), "{e:?}");
    assert_eq!(e.category, Some(Category::SchemaMismatch), "{e:?}");
    assert_eq!(e.applied, Applied::Dropped, "{e:?}");
    assert_eq!((e.from_fsn, e.to_fsn), (bad, bad), "{e:?}");
    assert_eq!(e.table.as_deref(), Some("t"), "{e:?}");
    assert!(s.poll_error().is_none());
    assert!(!s.must_close());
    assert_eq!(s.counters().server_errors, 1);
    s.close().unwrap();

    // Halt (the default for SCHEMA_MISMATCH): the sender turns terminal.
    let mut s = AsyncSender::open(&conf(&srv, "")).unwrap();
    s.publish("t", &string_ids(300..310), Some("ts")).unwrap();
    let e = s.wait(AckLevel::Ok, WAIT).unwrap_err();
    assert_eq!(e.status(), Some(Status::SchemaMismatch), "{e}");
    assert!(s.must_close());
    let e = s.publish("t", &rows(310..320), Some("ts")).unwrap_err();
    assert_eq!(e.status(), Some(Status::SchemaMismatch), "{e}");
    assert!(e.to_string().contains("terminal"), "{e}");
    let inbox = s.poll_error().unwrap();
    assert_eq!(inbox.applied, Applied::Halted);
    assert_eq!(s.terminal_error(), Some(inbox.clone()));
    fn sendable<T: Send>(_: &T) {}
    sendable(&s);
    assert!(
        inbox.message.contains("removed from the queue"),
        "{inbox:?}"
    );
    assert!(s.close().is_err());
    assert_eq!(ids(&srv, "t").len(), 200);
}

#[test]
fn a_halting_rejection_leaves_the_disk_queue_without_the_poison_and_a_drainer_never_halts_its_owner()
 {
    let dir = scratch("poison");
    let srv = start_at("127.0.0.1:0");
    let c = conf(&srv, &format!("sf_dir={};sender_id=p;", dir.display()));
    let mut s = AsyncSender::open(&c).unwrap();
    s.publish("t", &rows(0..10), Some("ts")).unwrap();
    s.wait(AckLevel::Ok, WAIT).unwrap();
    // A type change halts delivery; the frames behind it stay queued.
    let bad = s.publish("t", &string_ids(10..20), Some("ts")).unwrap();
    let after = s.publish("t", &rows(20..30), Some("ts")).unwrap();
    assert!(s.wait(AckLevel::Ok, WAIT).is_err());
    assert!(s.must_close());
    assert!(s.acked_fsn().unwrap() >= bad);
    assert!(s.close().is_err());
    // The next sender on the slot replays what followed (unless its
    // answer was read before the halt finished), never the poison; what
    // the server committed behind the poison is not sent twice.
    let s = AsyncSender::open(&c).unwrap();
    assert!(s.recovered().frames <= after - bad, "{:?}", s.recovered());
    s.wait(AckLevel::Ok, WAIT).unwrap();
    assert_eq!(
        ids_at_least(&srv, "t", 20),
        (0..10).chain(20..30).collect::<Vec<_>>()
    );
    s.close().unwrap();
    // An orphaned slot (no live sender) holding a good batch and then a
    // poison: `drain_orphans=on` sends the good one; the poison halts the
    // drainer, which tells the owner in its inbox without halting it.
    let x = start_at("127.0.0.1:0");
    let orphan = conf(
        &x,
        &format!(
            "sf_dir={};sender_id=orphan;close_flush_timeout_millis=0;",
            dir.display()
        ),
    );
    let mut o = AsyncSender::open(&orphan).unwrap();
    x.shutdown();
    o.publish("t", &rows(40..50), Some("ts")).unwrap();
    o.publish("t", &string_ids(50..60), Some("ts")).unwrap();
    assert!(o.close().is_err());
    let mut owner = AsyncSender::open(&conf(
        &srv,
        &format!("sf_dir={};sender_id=owner;drain_orphans=on;", dir.display()),
    ))
    .unwrap();
    owner.publish("t", &rows(60..70), Some("ts")).unwrap();
    owner.wait(AckLevel::Ok, WAIT).unwrap();
    let until = Instant::now() + WAIT;
    let e = loop {
        if let Some(e) = owner.poll_error() {
            break e;
        }
        assert!(Instant::now() < until, "no word from the drainer");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(e.status, Some(Status::SchemaMismatch), "{e:?}");
    assert!(!owner.must_close());
    assert_eq!(
        ids_at_least(&srv, "t", 40),
        (0..10)
            .chain(20..30)
            .chain(40..50)
            .chain(60..70)
            .collect::<Vec<_>>()
    );
    owner.close().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_full_queue_blocks_until_its_deadline_and_loses_nothing() {
    full_queue("");
}

#[test]
fn a_full_disk_queue_blocks_until_its_deadline_and_loses_nothing() {
    let dir = scratch("full");
    full_queue(&format!(
        "sf_dir={};sender_id=full;sf_max_segment_bytes=16k;",
        dir.display()
    ));
    let _ = std::fs::remove_dir_all(&dir);
}

/// With `extra` (the queue's mode), the server down and the queue full:
/// publish blocks to the deadline, then a timeout naming both keys; what
/// was queued is all delivered once the server is back.
fn full_queue(extra: &str) {
    let a = start_at("127.0.0.1:0");
    let addr = a.addr().to_string();
    let c = conf(
        &a,
        &format!(
            "sf_max_total_bytes=64k;sf_append_deadline_millis=300;close_flush_timeout_millis=20000;{extra}"
        ),
    );
    let mut s = AsyncSender::open(&c).unwrap();
    a.shutdown();
    let mut published = 0;
    let err = loop {
        let t0 = Instant::now();
        match s.publish(
            "t",
            &rows(published * 200..(published + 1) * 200),
            Some("ts"),
        ) {
            Ok(_) => published += 1,
            Err(e) => {
                assert!(t0.elapsed() >= Duration::from_millis(250));
                break e;
            }
        }
        assert!(published < 1000, "the queue never filled");
    };
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("sf_max_total_bytes") && msg.contains("sf_append_deadline_millis"),
        "{msg}"
    );
    assert!(s.counters().backpressure_stalls >= 1);
    assert!(published >= 1);
    let b = start_at(&addr);
    s.wait(AckLevel::Ok, WAIT).unwrap();
    let n = (published * 200) as usize;
    assert_eq!(ids_at_least(&b, "t", n), (0..n as i64).collect::<Vec<_>>());
    // And the refused batch can be published now.
    s.publish(
        "t",
        &rows(published * 200..(published + 1) * 200),
        Some("ts"),
    )
    .unwrap();
    s.close().unwrap();
}

#[test]
fn the_row_sender_of_an_async_sender_publishes_without_waiting() {
    let srv = start_at("127.0.0.1:0");
    let mut s = AsyncSender::open(&conf(&srv, "auto_flush=off;")).unwrap();
    {
        let mut rs = s.row_sender().unwrap();
        for i in 0..10 {
            rs.table("a")
                .unwrap()
                .symbol("k", if i % 2 == 0 { "even" } else { "odd" })
                .unwrap()
                .column_i64("id", i)
                .unwrap()
                .at(questdb_arrow::client::rows::TimestampMicros::new(
                    1_700_000_000_000_000 + i,
                ))
                .unwrap();
            rs.table("b")
                .unwrap()
                .column_i64("id", 100 + i)
                .unwrap()
                .at(questdb_arrow::client::rows::TimestampMicros::new(
                    1_700_000_000_000_000 + i,
                ))
                .unwrap();
        }
        rs.flush().unwrap();
    }
    assert!(s.published_fsn() >= 1);
    s.wait(AckLevel::Ok, WAIT).unwrap();
    assert_eq!(ids_at_least(&srv, "a", 10), (0..10).collect::<Vec<_>>());
    assert_eq!(ids_at_least(&srv, "b", 10), (100..110).collect::<Vec<_>>());
    s.close().unwrap();
}

#[test]
fn a_transaction_cut_by_a_crash_is_dropped_when_the_slot_reopens() {
    use questdb_arrow::client::sf::{SfOptions, SfQueue};

    let dir = scratch("cut");
    let a = start_at("127.0.0.1:0");
    let addr = a.addr().to_string();
    let base = a.conf_string();
    let slot = |id: &str| {
        Conf::parse(&format!(
            "{base}reconnect_max_backoff_millis=100;sf_dir={};sender_id={id};close_flush_timeout_millis=0;",
            dir.display()
        ))
        .unwrap()
    };
    // A whole one-frame transaction for `v`, then a many-frame one for `t`.
    let mut s = AsyncSender::open(&slot("src")).unwrap();
    a.shutdown();
    s.publish("v", &rows(0..10), Some("ts")).unwrap();
    s.set_frame_budget(4 * 1024);
    let last = s.publish("t", &sym_rows(0..2000), Some("ts")).unwrap();
    assert!(last > 3, "several frames: {last}");
    assert!(s.close().is_err());
    // What a crash after all but the committing frame would leave: the
    // same frames and dictionary in slot `cut`, the last frame missing.
    {
        let (src, _) = SfQueue::open(SfOptions::disk(&dir, "src")).unwrap();
        let (cut, _) = SfQueue::open(SfOptions::disk(&dir, "cut")).unwrap();
        let frames: Vec<Vec<u8>> = src.unacked().unwrap().map(|f| f.unwrap().1).collect();
        assert_eq!(frames.len() as u64, last);
        let dict = src.dictionary().unwrap();
        assert_eq!(dict.len(), 37);
        cut.append_group(&[&frames[0]], &dict).unwrap();
        let partial: Vec<&[u8]> = frames[1..frames.len() - 1]
            .iter()
            .map(Vec::as_slice)
            .collect();
        cut.append_group(&partial, &dict).unwrap();
    }
    let b = start_at(&addr);
    let mut s = AsyncSender::open(&slot("cut")).unwrap();
    let rec = s.recovered().clone();
    assert_eq!(rec.frames, last - 1, "{rec:?}");
    assert!(
        rec.warnings
            .iter()
            .any(|w| w.contains("without its commit")),
        "{rec:?}"
    );
    s.publish("u", &rows(0..5), Some("ts")).unwrap();
    s.wait(AckLevel::Ok, WAIT).unwrap();
    assert_eq!(ids_at_least(&b, "v", 10), (0..10).collect::<Vec<_>>());
    assert_eq!(ids_at_least(&b, "u", 5), (0..5).collect::<Vec<_>>());
    // Nothing of the cut transaction was sent.
    assert!(b.table_batch("t").is_none());
    assert_eq!(s.counters().frames_sent, 2);
    s.close().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn with_initial_connect_retry_async_it_opens_and_publishes_before_the_server_is_up() {
    // A free address: bind, note it, let it go.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let c = Conf::parse(&format!(
        "ws::addr={addr};initial_connect_retry=async;reconnect_max_backoff_millis=50;"
    ))
    .unwrap();
    let mut s = AsyncSender::open(&c).unwrap();
    let fsn = s.publish("t", &rows(0..50), Some("ts")).unwrap();
    assert_eq!(fsn, 1);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(s.acked_fsn().unwrap(), 0);
    let srv = start_at(&addr);
    s.wait(AckLevel::Ok, WAIT).unwrap();
    assert_eq!(ids_at_least(&srv, "t", 50), (0..50).collect::<Vec<_>>());
    assert!(s.counters().reconnect_attempts >= 2);
    s.close().unwrap();
}
