//! Arrow ingest with `client::Sender` into the embedded server.

use std::sync::Arc;

use arrow::array::*;
use arrow::datatypes::{DataType, Field, Int32Type, Schema, TimeUnit};
use questdb_arrow::ErrorKind;
use questdb_arrow::client::Sender;
use questdb_arrow::conf::Conf;
use questdb_arrow::protocol::Status;
use questdb_arrow::server::{Server, ServerHandle};

fn start() -> (ServerHandle, Conf) {
    let srv = Server::builder().bind("127.0.0.1:0").start().unwrap();
    let conf = Conf::parse(&srv.conf_string()).unwrap();
    (srv, conf)
}

fn batch(n: usize) -> RecordBatch {
    let valid = |i: usize| i % 4 != 1;
    let words = ["eu", "us", "apac"];
    let sym: DictionaryArray<Int32Type> =
        (0..n).map(|i| valid(i).then_some(words[i % 3])).collect();
    let cols: Vec<(Field, ArrayRef)> = vec![
        (
            Field::new(
                "ts",
                DataType::Timestamp(TimeUnit::Microsecond, None),
                false,
            ),
            Arc::new(TimestampMicrosecondArray::from_iter_values(
                (0..n).map(|i| 1_700_000_000_000_000 + i as i64 * 1000),
            )),
        ),
        (
            Field::new("sym", sym.data_type().clone(), true),
            Arc::new(sym),
        ),
        (
            Field::new("i", DataType::Int32, true),
            Arc::new(Int32Array::from_iter(
                (0..n).map(|i| valid(i).then_some(i as i32)),
            )),
        ),
        (
            Field::new("l", DataType::Int64, true),
            Arc::new(Int64Array::from_iter(
                (0..n).map(|i| valid(i).then_some(i as i64 * 3)),
            )),
        ),
        (
            Field::new("d", DataType::Float64, true),
            Arc::new(Float64Array::from_iter(
                (0..n).map(|i| valid(i).then_some(i as f64 / 2.0)),
            )),
        ),
        (
            Field::new("b", DataType::Boolean, false),
            Arc::new(BooleanArray::from_iter((0..n).map(|i| Some(i % 3 == 0)))),
        ),
        (
            Field::new("s", DataType::Utf8, true),
            Arc::new(StringArray::from_iter(
                (0..n).map(|i| valid(i).then(|| format!("note {i}"))),
            )),
        ),
        (
            Field::new("ls", DataType::LargeUtf8, true),
            Arc::new(LargeStringArray::from_iter(
                (0..n).map(|i| valid(i).then(|| format!("l{i}"))),
            )),
        ),
        (
            Field::new("ns", DataType::Timestamp(TimeUnit::Nanosecond, None), true),
            Arc::new(TimestampNanosecondArray::from_iter(
                (0..n).map(|i| valid(i).then_some(i as i64 * 7)),
            )),
        ),
    ];
    let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) = cols.into_iter().unzip();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap()
}

/// Cell values as text (timestamps as their integer, so time zones differ
/// only where the mapping says: naive in, UTC out).
fn strings(a: &ArrayRef) -> Vec<Option<String>> {
    let a = match a.data_type() {
        DataType::Timestamp(_, _) => arrow::compute::cast(a, &DataType::Int64).unwrap(),
        _ => a.clone(),
    };
    let a = arrow::compute::cast(&a, &DataType::Utf8).unwrap();
    a.as_string::<i32>()
        .iter()
        .map(|s| s.map(str::to_string))
        .collect()
}

#[test]
fn flush_arrow_batch_round_trips_and_keeps_types() {
    let (srv, conf) = start();
    let mut s = Sender::connect(&conf).unwrap();
    let b = batch(1000);
    let sum = s.flush_arrow_batch("arrow_in", &b, Some("ts")).unwrap();
    assert_eq!((sum.rows, sum.frames), (1000, 1));
    let stored = srv.table_batch("arrow_in").unwrap();
    assert_eq!(stored.num_rows(), 1000);
    let schema = stored.schema();
    // Int32 stays INT (no silent widening); the designated column is `timestamp`.
    assert_eq!(
        schema.field_with_name("i").unwrap().data_type(),
        &DataType::Int32
    );
    assert!(schema.field_with_name("timestamp").is_ok());
    for name in ["sym", "i", "l", "d", "b", "s", "ls", "ns"] {
        let want = strings(b.column_by_name(name).unwrap());
        let got = strings(stored.column_by_name(name).unwrap());
        assert_eq!(got, want, "column {name}");
    }
    // A second batch reuses the symbol dictionary (no re-sending).
    let sum2 = s
        .flush_arrow_batch("arrow_in", &b.slice(10, 20), Some("ts"))
        .unwrap();
    assert_eq!(sum2.rows, 20);
    assert_eq!(srv.table_batch("arrow_in").unwrap().num_rows(), 1020);
}

#[test]
fn large_batches_split_into_deferred_frames_and_commit_once() {
    let (srv, conf) = start();
    let mut s = Sender::connect(&conf).unwrap();
    s.set_frame_budget(16 * 1024);
    let b = batch(5000);
    let sum = s.flush_arrow_batch("split", &b, Some("ts")).unwrap();
    assert!(sum.frames > 5, "{sum:?}");
    assert_eq!(sum.rows, 5000);
    assert!(sum.bytes / sum.frames <= 16 * 1024);
    let stored = srv.table_batch("split").unwrap();
    assert_eq!(stored.num_rows(), 5000);
    assert_eq!(
        strings(stored.column_by_name("s").unwrap()),
        strings(b.column_by_name("s").unwrap())
    );
}

#[test]
fn bad_input_is_rejected_before_sending() {
    let (srv, conf) = start();
    let mut s = Sender::connect(&conf).unwrap();
    // Unsupported type: names the column and its type.
    let st = StructArray::from(vec![(
        Arc::new(Field::new("x", DataType::Int8, true)),
        Arc::new(Int8Array::from(vec![1])) as ArrayRef,
    )]);
    let bad = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new(
            "nested",
            st.data_type().clone(),
            true,
        )])),
        vec![Arc::new(st)],
    )
    .unwrap();
    let e = s.flush_arrow_batch("bad", &bad, None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert!(
        e.to_string().contains("nested") && e.to_string().contains("Struct"),
        "{e}"
    );
    // Designated timestamp with a NULL: names the row.
    let ts = TimestampMicrosecondArray::from(vec![Some(1), None]);
    let b = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new(
            "ts",
            ts.data_type().clone(),
            true,
        )])),
        vec![Arc::new(ts)],
    )
    .unwrap();
    let e = s.flush_arrow_batch("bad", &b, Some("ts")).unwrap_err();
    assert!(e.to_string().contains("row 1"), "{e}");
    // A single row larger than the frame budget.
    s.set_frame_budget(1024);
    let big = StringArray::from(vec!["x".repeat(5000)]);
    let b = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("v", DataType::Utf8, true)])),
        vec![Arc::new(big)],
    )
    .unwrap();
    let e = s.flush_arrow_batch("bad", &b, None).unwrap_err();
    assert!(e.to_string().contains("row 0"), "{e}");
    assert!(srv.table_batch("bad").is_none(), "nothing was sent");
}

#[test]
fn server_rejection_names_table_column_and_status() {
    let (srv, conf) = start();
    let mut s = Sender::connect(&conf).unwrap();
    let b = batch(10);
    s.flush_arrow_batch("clash", &b, Some("ts")).unwrap();
    // Same column name, different type.
    let other = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("l", DataType::Utf8, true)])),
        vec![Arc::new(StringArray::from(vec!["text"]))],
    )
    .unwrap();
    let e = s.flush_arrow_batch("clash", &other, None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Server);
    assert_eq!(e.status(), Some(Status::SchemaMismatch));
    assert!(
        e.to_string().contains("clash") && e.to_string().contains('l'),
        "{e}"
    );
    assert_eq!(srv.table_batch("clash").unwrap().num_rows(), 10);
}

pub(crate) mod handle {
    use std::sync::atomic::{AtomicU64, Ordering};

    use arrow::record_batch::RecordBatchIterator;
    use questdb_arrow::bridge::meta;
    use questdb_arrow::client::{AckLevel, ColumnOverride, Gorilla, IngestOptions, QuestDb};
    use questdb_arrow::server::Faults;

    use super::*;
    use crate::every_type::{assert_stored, every_type};

    #[test]
    fn every_mapping_row_round_trips_whole_sliced_and_split() {
        let (srv, conf) = start();
        let db = QuestDb::from_conf(conf).unwrap();
        let (b, types) = every_type(300, 1_700_000_000_000_000);
        // Whole, one frame.
        db.flush_arrow_batch("all_whole", &b, Some("ts"), &[], AckLevel::Ok)
            .unwrap();
        assert_stored(&srv.table_batch("all_whole").unwrap(), &b, &types);
        // Sliced: bit offsets, offsets not starting at 0, view slices.
        let sl = b.slice(7, 251);
        db.flush_arrow_batch("all_sliced", &sl, Some("ts"), &[], AckLevel::Ok)
            .unwrap();
        assert_stored(&srv.table_batch("all_sliced").unwrap(), &sl, &types);
        // Split across many deferred frames, Gorilla forced on and off.
        for (t, g) in [
            ("all_split_on", Gorilla::On),
            ("all_split_off", Gorilla::Off),
        ] {
            let opts = IngestOptions::new()
                .timestamp_column("ts")
                .max_bytes_per_frame(4096)
                .gorilla(g);
            let sum = db
                .borrow_sender()
                .unwrap()
                .flush_arrow_batch_with(t, &sl, &opts)
                .unwrap();
            assert!(sum.frames > 5, "{sum:?}");
            assert_stored(&srv.table_batch(t).unwrap(), &sl, &types);
        }
    }

    /// `Gorilla::Auto` to a server on this host: a jittered series goes
    /// raw (same wire bytes as `Off`), a regular cadence goes Gorilla (same
    /// bytes as `On`); both read back equal.
    #[test]
    fn gorilla_auto_over_loopback_sends_jitter_raw_and_cadence_compressed() {
        let (srv, conf) = start();
        let db = QuestDb::from_conf(conf).unwrap();
        let n = 5_000usize;
        for (shape, jitter) in [("jittered", 37i64), ("regular", 0)] {
            let ts = TimestampMicrosecondArray::from_iter_values(
                (0..n as i64).map(|i| 1_700_000_000_000_000 + i * 1000 + (i * 7919) % (jitter + 1)),
            );
            let schema = Arc::new(Schema::new(vec![Field::new(
                "ts",
                DataType::Timestamp(TimeUnit::Microsecond, None),
                false,
            )]));
            let b = RecordBatch::try_new(schema, vec![Arc::new(ts)]).unwrap();
            let mut bytes = Vec::new();
            // Table names of one length: the byte counts compare.
            for (k, g) in [Gorilla::Auto, Gorilla::Off, Gorilla::On]
                .into_iter()
                .enumerate()
            {
                let t = format!("{shape}_{k}");
                let opts = IngestOptions::new().timestamp_column("ts").gorilla(g);
                let sum = db
                    .borrow_sender()
                    .unwrap()
                    .flush_arrow_batch_with(&t, &b, &opts)
                    .unwrap();
                bytes.push(sum.bytes);
                let stored = srv.table_batch(&t).unwrap();
                let got = stored.column_by_name("timestamp").unwrap();
                let got = got.as_primitive::<arrow::datatypes::TimestampMicrosecondType>();
                let sent = b
                    .column(0)
                    .as_primitive::<arrow::datatypes::TimestampMicrosecondType>();
                assert_eq!(got.values(), sent.values(), "{t}");
            }
            let (auto, off, on) = (bytes[0], bytes[1], bytes[2]);
            assert!(on < off, "{shape}: Gorilla saves bytes ({on} vs {off})");
            let want = if jitter > 0 { off } else { on };
            assert_eq!(auto, want, "{shape}: auto {auto}, off {off}, on {on}");
        }
    }

    #[test]
    fn handle_is_lazy_pooled_and_shared_across_threads() {
        // Nothing listens here: creating the handle works, the first use fails.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let db = QuestDb::connect(&format!("ws::addr=127.0.0.1:{port};")).unwrap();
        let e = db
            .flush_arrow_batch("t", &batch(3), Some("ts"), &[], AckLevel::Ok)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Io, "{e}");
        assert!(QuestDb::connect("ws::addr=localhost:9000;bogus=1;").is_err());

        let (srv, conf) = start();
        let db = Arc::new(QuestDb::from_conf(conf).unwrap());
        assert_eq!(srv.connections_accepted(), 0, "lazy");
        for _ in 0..3 {
            db.flush_arrow_batch("pool", &batch(10), Some("ts"), &[], AckLevel::Ok)
                .unwrap();
        }
        assert_eq!(db.idle_senders(), 1);
        let threads: Vec<_> = (0..4)
            .map(|k| {
                let db = db.clone();
                std::thread::spawn(move || {
                    for _ in 0..5 {
                        db.flush_arrow_batch(
                            &format!("pool{k}"),
                            &batch(50),
                            Some("ts"),
                            &[],
                            AckLevel::Ok,
                        )
                        .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        for k in 0..4 {
            assert_eq!(
                srv.table_batch(&format!("pool{k}")).unwrap().num_rows(),
                250
            );
        }
        assert!(
            srv.connections_accepted() <= 5,
            "{}",
            srv.connections_accepted()
        );
        db.close();
        assert_eq!(db.idle_senders(), 0);
        let e = db
            .flush_arrow_batch("pool", &batch(1), Some("ts"), &[], AckLevel::Ok)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Closed);
    }

    fn stream(batches: usize, rows: usize) -> Vec<RecordBatch> {
        (0..batches)
            .map(|k| {
                let b = batch(rows * batches);
                b.slice(k * rows, rows)
            })
            .collect()
    }

    #[test]
    fn ingest_streams_a_reader_with_progress_and_overrides() {
        let (srv, conf) = start();
        let db = QuestDb::from_conf(conf).unwrap();
        let parts = stream(20, 500);
        let schema = parts[0].schema();
        let acked = Arc::new(AtomicU64::new(0));
        let calls = Arc::new(AtomicU64::new(0));
        let (a2, c2) = (acked.clone(), calls.clone());
        let opts = IngestOptions::new()
            .timestamp_column("ts")
            .column_override("s", ColumnOverride::Symbol)
            .max_bytes_per_frame(8 * 1024)
            .in_flight_frames(3)
            .on_progress(move |p| {
                a2.store(p.rows_acked, Ordering::SeqCst);
                c2.fetch_add(1, Ordering::SeqCst);
            });
        let reader = RecordBatchIterator::new(parts.clone().into_iter().map(Ok), schema);
        let sum = db.ingest("streamed", reader, &opts).unwrap();
        assert_eq!((sum.rows, sum.batches), (10_000, 20), "{sum:?}");
        assert!(sum.frames >= 20 * 2, "{sum:?}");
        assert_eq!(sum.reconnects, 0);
        assert_eq!(acked.load(Ordering::SeqCst), 10_000);
        assert!(calls.load(Ordering::SeqCst) >= sum.frames);
        let stored = srv.table_batch("streamed").unwrap();
        let all = arrow::compute::concat_batches(&parts[0].schema(), &parts).unwrap();
        assert_eq!(
            strings(stored.column_by_name("l").unwrap()),
            strings(all.column_by_name("l").unwrap())
        );
        assert_eq!(
            strings(stored.column_by_name("s").unwrap()),
            strings(all.column_by_name("s").unwrap())
        );
        let s_field = stored.schema().field_with_name("s").unwrap().clone();
        assert_eq!(
            s_field
                .metadata()
                .get(meta::COLUMN_TYPE)
                .map(String::as_str),
            Some("symbol")
        );
    }

    #[test]
    fn dropped_connections_mid_stream_lose_nothing() {
        let srv = Server::builder()
            .bind("127.0.0.1:0")
            .faults(Faults {
                close_after_frames: Some(7),
                close_first_connections: Some(3),
                ..Faults::default()
            })
            .start()
            .unwrap();
        let conf = Conf::parse(&format!(
            "{}reconnect_initial_backoff_millis=10;reconnect_max_backoff_millis=50;reconnect_max_duration_millis=20000;",
            srv.conf_string()
        ))
        .unwrap();
        let db = QuestDb::from_conf(conf).unwrap();
        let parts = stream(12, 400);
        let opts = IngestOptions::new()
            .timestamp_column("ts")
            .max_bytes_per_frame(6 * 1024)
            .in_flight_frames(4);
        let sum = db.ingest_batches("dropped", parts.clone(), &opts).unwrap();
        assert!(sum.reconnects >= 1, "{sum:?}");
        assert_eq!((sum.rows, sum.batches), (4800, 12), "{sum:?}");
        assert!(srv.connections_accepted() >= 4);
        let stored = srv.table_batch("dropped").unwrap();
        let all = arrow::compute::concat_batches(&parts[0].schema(), &parts).unwrap();
        // Every row exactly once (acknowledged commits are not replayed) and
        // symbols intact after the dictionary catch-up.
        assert_eq!(stored.num_rows(), 4800);
        for c in ["sym", "l", "s"] {
            assert_eq!(
                strings(stored.column_by_name(c).unwrap()),
                strings(all.column_by_name(c).unwrap()),
                "{c}"
            );
        }
    }

    #[test]
    fn rejection_mid_stream_is_terminal_and_keeps_what_was_committed() {
        let (srv, conf) = start();
        let db = QuestDb::from_conf(conf).unwrap();
        let mut parts = stream(4, 300);
        // Batch 4 changes the type of `l`, over several deferred frames.
        let n = 2000;
        let bad = RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new(
                    "ts",
                    DataType::Timestamp(TimeUnit::Microsecond, None),
                    false,
                ),
                Field::new("l", DataType::Utf8, true),
            ])),
            vec![
                Arc::new(TimestampMicrosecondArray::from_iter_values(
                    (0..n).map(|i| 1_800_000_000_000_000 + i as i64),
                )),
                Arc::new(StringArray::from_iter_values(
                    (0..n).map(|i| format!("text {i}")),
                )),
            ],
        )
        .unwrap();
        parts.push(bad);
        let opts = IngestOptions::new()
            .timestamp_column("ts")
            .max_bytes_per_frame(4 * 1024);
        let e = db.ingest_batches("rejected", parts, &opts).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Server, "{e}");
        assert_eq!(e.status(), Some(Status::SchemaMismatch), "{e}");
        let msg = e.to_string();
        assert!(
            msg.contains("rejected") && msg.contains("1200 rows in 4 batches"),
            "{msg}"
        );
        // The four good batches are there; nothing of the split bad one.
        assert_eq!(srv.table_batch("rejected").unwrap().num_rows(), 1200);
        // The handle still works.
        db.flush_arrow_batch("rejected", &batch(5), Some("ts"), &[], AckLevel::Ok)
            .unwrap();
        assert_eq!(srv.table_batch("rejected").unwrap().num_rows(), 1205);
    }

    #[test]
    fn durable_ack_level_waits_for_durable_acks() {
        let srv = Server::builder()
            .bind("127.0.0.1:0")
            .durable_ack(true)
            .start()
            .unwrap();
        let db =
            QuestDb::connect(&format!("{}request_durable_ack=on;", srv.conf_string())).unwrap();
        let sum = db
            .flush_arrow_batch("durable", &batch(100), Some("ts"), &[], AckLevel::Durable)
            .unwrap();
        assert_eq!(sum.rows, 100);
        // Without request_durable_ack the level is a config error.
        let db = QuestDb::connect(&srv.conf_string()).unwrap();
        let e = db
            .flush_arrow_batch("durable", &batch(1), Some("ts"), &[], AckLevel::Durable)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config, "{e}");
    }
}

/// The same batches sent by questdb-rs 7.2.1's `flush_arrow_batch` and by
/// ours give the same stored table: same columns, same cells, same QuestDB
/// types except where the design maps more precisely.
#[test]
fn same_batches_from_questdb_rs_and_ours_store_the_same_table() {
    use questdb::ingress::{AckLevel as PeerAck, ColumnName};
    use questdb_arrow::client::{AckLevel, QuestDb};
    let (srv, conf) = start();
    let ours = QuestDb::from_conf(conf).unwrap();
    let peer = questdb::QuestDb::connect(&srv.conf_string()).unwrap();
    let b = batch(3000);
    // Two batches each, the second sliced (offsets not starting at 0).
    for part in [b.slice(0, 1000), b.slice(1000, 2000)] {
        ours.flush_arrow_batch("same_ours", &part, Some("ts"), &[], AckLevel::Ok)
            .unwrap();
        peer.flush_arrow_batch(
            "same_peer",
            &part,
            Some(ColumnName::new("ts").unwrap()),
            &[],
            Some(PeerAck::Ok),
        )
        .unwrap();
    }
    let a = srv.table_batch("same_ours").unwrap();
    let p = srv.table_batch("same_peer").unwrap();
    assert_eq!(a.num_rows(), 3000);
    assert_eq!(p.num_rows(), 3000);
    let names = |x: &RecordBatch| -> Vec<String> {
        let mut v: Vec<String> = x
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        v.sort();
        v
    };
    assert_eq!(names(&a), names(&p));
    let ty = |x: &RecordBatch, c: &str| {
        x.schema()
            .field_with_name(c)
            .unwrap()
            .metadata()
            .get(questdb_arrow::bridge::meta::COLUMN_TYPE)
            .cloned()
    };
    for c in names(&a) {
        assert_eq!(
            strings(a.column_by_name(&c).unwrap()),
            strings(p.column_by_name(&c).unwrap()),
            "column {c}"
        );
        let (ta, tp) = (ty(&a, &c), ty(&p, &c));
        // design.md §4: Int32 stays INT here (no silent widening).
        let allowed = c == "i" && ta.as_deref() == Some("int");
        assert!(ta == tp || allowed, "column {c}: ours {ta:?}, peer {tp:?}");
    }
}

#[test]
fn max_rows_per_frame_caps_every_frame() {
    use questdb_arrow::client::{IngestOptions, QuestDb};
    let (srv, conf) = start();
    let db = QuestDb::from_conf(conf).unwrap();
    let opts = IngestOptions::new()
        .timestamp_column("ts")
        .max_rows_per_frame(100);
    let sum = db.ingest_batches("capped", [batch(1000)], &opts).unwrap();
    // 1000 rows at most 100 per frame: at least 10 frames, one commit.
    assert!(sum.frames >= 10, "{sum:?}");
    assert_eq!((sum.rows, sum.batches), (1000, 1));
    assert_eq!(srv.table_batch("capped").unwrap().num_rows(), 1000);
}
