//! Fault injection, every column type stored and served, corrupted
//! frames, sink mode and held-back acknowledgements.

use super::*;

#[test]
fn fault_injection_closes_and_role_rejects() {
    let srv = Server::builder()
        .bind("127.0.0.1:0")
        .faults(Faults {
            close_after_frames: Some(2),
            close_first_connections: Some(1),
            ..Faults::default()
        })
        .start()
        .unwrap();
    let mut c = ingest_conn(&srv);
    ok_seq(&send(&mut c, &msg(0, &["a"], vec![block("f", 1, 1, &[0])])).unwrap());
    let e = send(&mut c, &msg(1, &[], vec![block("f", 2, 1, &[0])])).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Closed | ErrorKind::Io), "{e}");
    // The second connection is not affected.
    let mut c = ingest_conn(&srv);
    ok_seq(&send(&mut c, &msg(0, &["a"], vec![block("f", 3, 1, &[0])])).unwrap());
    ok_seq(&send(&mut c, &msg(1, &[], vec![block("f", 4, 1, &[0])])).unwrap());
    assert_eq!(srv.table_batch("f").unwrap().num_rows(), 3);

    let srv = Server::builder()
        .bind("127.0.0.1:0")
        .faults(Faults {
            reject_role: Some(("REPLICA".into(), Some("eu".into()))),
            ..Faults::default()
        })
        .start()
        .unwrap();
    let e = Connection::connect(&opts(&srv), Route::Ingest)
        .err()
        .unwrap();
    assert_eq!(e.kind(), ErrorKind::RoleReject);
    assert_eq!(questdb_arrow::transport::rejected_role(&e), Some("REPLICA"));
}

#[test]
fn every_column_type_is_stored_and_served() {
    use questdb_arrow::protocol::column::ArrayValue;
    let srv = start();
    let n = 3;
    let nulls = vec![false, true, false];
    let cols: Vec<(ColumnType, ColumnData)> = vec![
        (
            ColumnType::Boolean,
            ColumnData::new(Values::Boolean(vec![true, false, true])),
        ),
        (
            ColumnType::Byte,
            ColumnData::new(Values::Byte(vec![1, -2, 3])),
        ),
        (
            ColumnType::Short,
            ColumnData::new(Values::Short(vec![1, -2, 3])),
        ),
        (
            ColumnType::Int,
            ColumnData::with_nulls(Values::Int(vec![1, 3]), nulls.clone()),
        ),
        (
            ColumnType::Long,
            ColumnData::with_nulls(Values::Long(vec![1, 3]), nulls.clone()),
        ),
        (
            ColumnType::Float,
            ColumnData::with_nulls(Values::Float(vec![1.5, 3.0]), nulls.clone()),
        ),
        (
            ColumnType::Double,
            ColumnData::with_nulls(Values::Double(vec![1.5, 3.0]), nulls.clone()),
        ),
        (
            ColumnType::Symbol,
            ColumnData::with_nulls(Values::Symbol(vec![0, 1]), nulls.clone()),
        ),
        (
            ColumnType::TimestampNanos,
            ColumnData::with_nulls(Values::TimestampNanos(vec![1, 3]), nulls.clone()),
        ),
        (
            ColumnType::Date,
            ColumnData::with_nulls(Values::Date(vec![86_400_000, 3]), nulls.clone()),
        ),
        (
            ColumnType::Uuid,
            ColumnData::with_nulls(Values::Uuid(vec![1, 3 << 70]), nulls.clone()),
        ),
        (
            ColumnType::Long256,
            ColumnData::with_nulls(Values::Long256(vec![[1; 32], [2; 32]]), nulls.clone()),
        ),
        (
            ColumnType::Geohash,
            ColumnData::with_nulls(
                Values::Geohash {
                    precision_bits: 25,
                    values: vec![1, 3],
                },
                nulls.clone(),
            ),
        ),
        (
            ColumnType::Varchar,
            ColumnData::with_nulls(Values::Varchar(vec!["a".into(), "ü".into()]), nulls.clone()),
        ),
        (
            ColumnType::Binary,
            ColumnData::with_nulls(Values::Binary(vec![vec![0, 1], vec![]]), nulls.clone()),
        ),
        (
            ColumnType::DoubleArray,
            ColumnData::with_nulls(
                Values::DoubleArray(vec![
                    ArrayValue {
                        dims: vec![2],
                        data: vec![1.0, 2.0],
                    },
                    ArrayValue {
                        dims: vec![0],
                        data: vec![],
                    },
                ]),
                nulls.clone(),
            ),
        ),
        (
            ColumnType::LongArray,
            ColumnData::with_nulls(
                Values::LongArray(vec![
                    ArrayValue {
                        dims: vec![1],
                        data: vec![7],
                    },
                    ArrayValue {
                        dims: vec![2],
                        data: vec![3, 4],
                    },
                ]),
                nulls.clone(),
            ),
        ),
        (
            ColumnType::Decimal64,
            ColumnData::with_nulls(
                Values::Decimal64 {
                    scale: 2,
                    values: vec![123, -5],
                },
                nulls.clone(),
            ),
        ),
        (
            ColumnType::Decimal128,
            ColumnData::with_nulls(
                Values::Decimal128 {
                    scale: 10,
                    values: vec![123, -5],
                },
                nulls.clone(),
            ),
        ),
        (
            ColumnType::Decimal256,
            ColumnData::with_nulls(
                Values::Decimal256 {
                    scale: 40,
                    values: vec![[1; 32], [0; 32]],
                },
                nulls.clone(),
            ),
        ),
        (
            ColumnType::Char,
            ColumnData::new(Values::Char(vec![65, 0x263A, 66])),
        ),
        (
            ColumnType::Ipv4,
            ColumnData::with_nulls(Values::Ipv4(vec![0xC0A80001, 1]), nulls.clone()),
        ),
        (
            ColumnType::Timestamp,
            ColumnData::new(Values::Timestamp(vec![10, 20, 30])),
        ),
    ];
    let block = TableBlock {
        name: "all_types".into(),
        columns: cols
            .iter()
            .enumerate()
            .map(|(i, (t, _))| {
                col(
                    if *t == ColumnType::Timestamp {
                        ""
                    } else {
                        Box::leak(format!("c{i}").into_boxed_str())
                    },
                    *t,
                )
            })
            .collect(),
        data: cols.iter().map(|(_, d)| d.clone()).collect(),
    };
    let mut c = ingest_conn(&srv);
    ok_seq(&send(&mut c, &msg(0, &["x", "y"], vec![block])).unwrap());
    let stored = srv.table_batch("all_types").unwrap();
    assert_eq!(stored.num_rows(), n);
    let mut q = QueryClient::connect(&srv, false);
    let served = q.rows("SELECT * FROM all_types");
    assert_eq!(served.num_columns(), stored.num_columns());
    for i in 0..stored.num_columns() {
        assert_eq!(
            served.column(i).to_data(),
            stored.column(i).to_data(),
            "column {}",
            stored.schema().field(i).name()
        );
        assert_eq!(
            served.schema().field(i).data_type(),
            stored.schema().field(i).data_type()
        );
    }
    // Spot checks of values against what was sent.
    assert_eq!(stored.column(3).null_count(), 1);
    let f: &Float64Array = stored.column(6).as_primitive();
    assert_eq!(f.value(2), 3.0);
    let s: &StringArray = stored.column(13).as_string();
    assert_eq!(s.value(2), "ü");
    let l: &Int64Array = stored.column(4).as_primitive();
    assert_eq!(l.value(0), 1);
}

/// The ingest handler (the same code the `server_ingest` fuzz target drives)
/// answers every corrupted frame with a status and never panics; good frames
/// after bad ones still commit.
#[test]
fn ingest_handler_survives_corrupted_frames() {
    use questdb_arrow::server::IngestHarness;
    let h = IngestHarness::new(false).unwrap();
    let good = msg(0, &["a", "b"], vec![block("fz", 1_000, 5, &[0, 1])]);
    let mut frames: Vec<Vec<u8>> = Vec::new();
    for cut in (0..good.len()).step_by(3) {
        frames.push(good[..cut].to_vec());
    }
    let mut seed = 0x1234_5678_9ABC_DEF0u64;
    for i in 0..good.len() {
        for _ in 0..3 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut b = good.clone();
            b[i] ^= (seed as u8) | 1;
            frames.push(b);
        }
    }
    let n = frames.len();
    let responses = h.feed(frames.iter().map(|f| f.as_slice()));
    assert_eq!(responses.len(), n);
    // Each corrupted frame was answered (OK or an error status), in sequence.
    for (i, r) in responses.iter().enumerate() {
        let seq = match r {
            Response::Ok { sequence, .. } | Response::Error { sequence, .. } => *sequence,
            Response::DurableAck { .. } => panic!("unexpected durable ack"),
        };
        assert_eq!(seq, i as i64);
    }
    let before = h.rows("fz");
    let r = h.feed([good.as_slice()]);
    assert!(matches!(r[0], Response::Ok { .. }), "{:?}", r[0]);
    assert_eq!(h.rows("fz"), before + 5);
}

#[test]
fn sink_mode_acknowledges_without_storing() {
    let srv = Server::builder()
        .bind("127.0.0.1:0")
        .sink(true)
        .start()
        .unwrap();
    let mut c = ingest_conn(&srv);
    ok_seq(&send(&mut c, &msg(0, &["a"], vec![block("sunk", 1, 100, &[0])])).unwrap());
    // Malformed frames are still rejected: sink mode decodes everything.
    let (st, seq, _) = err_of(&send(&mut c, b"QWP1 not a frame").unwrap());
    assert_eq!((st, seq), (Status::ParseError, 1));
    assert!(srv.table_batch("sunk").is_none());
    assert!(srv.table_names().is_empty());
}

#[test]
fn ack_delay_fault_holds_responses_back() {
    let srv = Server::builder()
        .bind("127.0.0.1:0")
        .faults(Faults {
            ack_delay: Some(Duration::from_millis(300)),
            ..Faults::default()
        })
        .start()
        .unwrap();
    let mut c = ingest_conn(&srv);
    c.send(&msg(0, &["a"], vec![block("slow", 1, 1, &[0])]))
        .unwrap();
    // Nothing within 100 ms; the OK arrives later.
    assert!(
        c.recv_timeout(Some(Duration::from_millis(100)))
            .unwrap()
            .is_none()
    );
    let r = c
        .recv_timeout(Some(Duration::from_secs(10)))
        .unwrap()
        .expect("ack");
    assert_eq!(ok_seq(&Response::decode(&r).unwrap()), 0);
}
