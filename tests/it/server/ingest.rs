//! Ingest: round trips, designated timestamps, rejections, auth, deferred
//! commits and restarts with a data dir.

use super::*;

#[test]
fn ingest_then_query_round_trip() {
    let srv = start();
    let mut c = ingest_conn(&srv);
    let r = send(
        &mut c,
        &msg(
            0,
            &["a", "b"],
            vec![block("trades", 1_000_000, 10, &[0, 1])],
        ),
    )
    .unwrap();
    assert_eq!(ok_seq(&r), 0);
    // The second frame reuses ids 0..1 and adds "c" at id 2.
    let r = send(
        &mut c,
        &msg(2, &["c"], vec![block("trades", 2_000_000, 5, &[2, 0])]),
    )
    .unwrap();
    assert_eq!(ok_seq(&r), 1);

    let stored = srv.table_batch("trades").expect("table exists");
    assert_eq!(stored.num_rows(), 15);
    let names: Vec<_> = stored
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, ["sym", "x", "d", "note", "timestamp"]);

    let mut q = QueryClient::connect(&srv, false);
    let b = q.rows("SELECT sym, x, note FROM trades WHERE x < 3 ORDER BY timestamp");
    assert_eq!(b.num_rows(), 6);
    let syms: Vec<String> = (0..6)
        .map(|i| {
            let d = b.column(0).as_dictionary::<arrow::datatypes::Int32Type>();
            let v = d.values().as_string::<i32>();
            v.value(d.keys().value(i) as usize).to_string()
        })
        .collect();
    assert_eq!(syms, ["a", "b", "a", "c", "a", "c"]);
    assert_eq!(i64s(b.column(1)), [0, 1, 2, 0, 1, 2]);
    let notes = b.column(2).as_string::<i32>();
    assert!(notes.is_null(2) && notes.is_null(5));
    assert_eq!(notes.value(1), "n1");
}

#[test]
fn designated_timestamp_order_and_server_time() {
    let srv = start();
    let mut c = ingest_conn(&srv);
    ok_seq(
        &send(
            &mut c,
            &msg(0, &["s"], vec![block("ordered", 5_000_000, 3, &[0])]),
        )
        .unwrap(),
    );
    ok_seq(
        &send(
            &mut c,
            &msg(1, &[], vec![block("ordered", 1_000_000, 3, &[0])]),
        )
        .unwrap(),
    );
    let b = srv.table_batch("ordered").unwrap();
    let ts: Vec<i64> = b
        .column(4)
        .as_primitive::<arrow::datatypes::TimestampMicrosecondType>()
        .values()
        .to_vec();
    assert_eq!(
        ts,
        [
            1_000_000, 1_001_000, 1_002_000, 5_000_000, 5_001_000, 5_002_000
        ]
    );

    // No designated timestamp in the block: the server assigns one.
    let mut nots = block("nots", 0, 2, &[0]);
    nots.columns.pop();
    nots.data.pop();
    ok_seq(&send(&mut c, &msg(1, &[], vec![nots])).unwrap());
    let b = srv.table_batch("nots").unwrap();
    let ts = b
        .column_by_name("timestamp")
        .expect("server-assigned timestamp");
    assert_eq!(ts.null_count(), 0);
}

#[test]
fn rejections_get_the_spec_status_and_the_server_keeps_serving() {
    let srv = Server::builder()
        .bind("127.0.0.1:0")
        .recv_buffer(64 * 1024)
        .start()
        .unwrap();
    let good = msg(0, &["a"], vec![block("rej", 1_000, 3, &[0])]);

    // Bad magic, wrong version, truncated: PARSE_ERROR naming the problem,
    // with the frame's sequence.
    let mut c = ingest_conn(&srv);
    let mut bad = good.clone();
    bad[0] = b'X';
    let (st, seq, m) = err_of(&send(&mut c, &bad).unwrap());
    assert_eq!((st, seq), (Status::ParseError, 0));
    assert!(m.contains("magic"), "{m}");
    let mut bad = good.clone();
    bad[4] = 2;
    let (st, seq, m) = err_of(&send(&mut c, &bad).unwrap());
    assert_eq!((st, seq), (Status::ParseError, 1));
    assert!(m.contains("version"), "{m}");
    let (st, seq, _) = err_of(&send(&mut c, &good[..good.len() - 3]).unwrap());
    assert_eq!((st, seq), (Status::ParseError, 2));
    // The same connection still accepts good frames.
    assert_eq!(ok_seq(&send(&mut c, &good).unwrap()), 3);

    // Type conflict: x was LONG, now DOUBLE.
    let mut conflict = block("rej", 9_000, 1, &[0]);
    conflict.columns[1].ty = ColumnType::Double;
    conflict.data[1] = ColumnData::new(Values::Double(vec![1.0]));
    let (st, _, m) = err_of(&send(&mut c, &msg(1, &[], vec![conflict])).unwrap());
    assert_eq!(st, Status::SchemaMismatch);
    assert!(m.contains("rej") && m.contains('x'), "{m}");

    // Dictionary gap: delta starts at 5 while the dictionary holds 1 entry.
    let (st, _, m) = err_of(&send(&mut c, &msg(5, &["z"], vec![])).unwrap());
    assert_eq!(st, Status::DictionaryGap, "{m}");

    // Oversized frame: closed with 1009.
    let big = msg(
        1,
        &[],
        vec![TableBlock {
            name: "big".into(),
            columns: vec![col("v", ColumnType::Varchar)],
            data: vec![ColumnData::new(Values::Varchar(vec!["x".repeat(100_000)]))],
        }],
    );
    c.send(&big).unwrap();
    let e = c.recv().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Closed, "{e}");
    assert!(e.to_string().contains("1009"), "{e}");

    // A fresh connection is served normally, and the rejected rows are absent.
    let mut c2 = ingest_conn(&srv);
    ok_seq(&send(&mut c2, &good).unwrap());
    assert_eq!(srv.table_batch("rej").unwrap().num_rows(), 6);
}

#[test]
fn bad_auth_is_refused_before_the_upgrade() {
    let srv = Server::builder()
        .bind("127.0.0.1:0")
        .basic_auth("admin", "quest")
        .start()
        .unwrap();
    let mut o = opts(&srv);
    o.auth = Auth::Basic {
        username: "admin".into(),
        password: "wrong".into(),
    };
    let e = Connection::connect(&o, Route::Ingest).expect_err("refused");
    assert_eq!(e.kind(), ErrorKind::Auth);
    let e = Connection::connect(&o, Route::Query).expect_err("refused");
    assert_eq!(e.kind(), ErrorKind::Auth);
    o.auth = Auth::Basic {
        username: "admin".into(),
        password: "quest".into(),
    };
    assert!(Connection::connect(&o, Route::Ingest).is_ok());
}

#[test]
fn deferred_frames_commit_together_and_roll_back_on_disconnect() {
    let srv = start();
    let mut c = ingest_conn(&srv);
    let mut m = IngressMessage::new(
        SymbolDelta {
            start: 0,
            entries: vec!["a".into()],
        },
        vec![block("tx", 1_000, 4, &[0])],
    );
    m.flags |= FLAG_DEFER_COMMIT;
    assert_eq!(ok_seq(&send(&mut c, &m.to_bytes().unwrap()).unwrap()), 0);
    assert!(
        srv.table_batch("tx").is_none(),
        "deferred rows are invisible"
    );
    // The committing frame: an empty message without the flag.
    assert_eq!(ok_seq(&send(&mut c, &msg(1, &[], vec![])).unwrap()), 1);
    assert_eq!(srv.table_batch("tx").unwrap().num_rows(), 4);

    // Deferred, then disconnect: rolled back.
    let mut m2 = IngressMessage::new(
        SymbolDelta {
            start: 1,
            entries: vec![],
        },
        vec![block("tx", 9_000, 2, &[0])],
    );
    m2.flags |= FLAG_DEFER_COMMIT;
    ok_seq(&send(&mut c, &m2.to_bytes().unwrap()).unwrap());
    drop(c);
    let mut c = ingest_conn(&srv);
    // New connection: dictionary reset, so a delta at 0 is right again.
    ok_seq(&send(&mut c, &msg(0, &["a"], vec![])).unwrap());
    assert_eq!(srv.table_batch("tx").unwrap().num_rows(), 4);
}

#[test]
fn restart_with_data_dir_keeps_rows() {
    let dir = std::env::temp_dir().join(format!("qa-restart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    {
        let srv = Server::builder()
            .bind("127.0.0.1:0")
            .data_dir(&dir)
            .start()
            .unwrap();
        let mut c = ingest_conn(&srv);
        ok_seq(
            &send(
                &mut c,
                &msg(0, &["p", "q"], vec![block("kept", 1_000, 7, &[0, 1])]),
            )
            .unwrap(),
        );
        let mut q = QueryClient::connect(&srv, false);
        assert!(matches!(
            q.sql("CREATE TABLE made (a INT, ts TIMESTAMP) TIMESTAMP(ts) PARTITION BY DAY WAL"),
            Answer::Done(0)
        ));
        assert!(matches!(
            q.sql("INSERT INTO made VALUES (1, 10), (2, 20)"),
            Answer::Done(2)
        ));
    }
    let srv = Server::builder()
        .bind("127.0.0.1:0")
        .data_dir(&dir)
        .start()
        .unwrap();
    let mut q = QueryClient::connect(&srv, false);
    let b = q.rows("SELECT x, sym FROM kept ORDER BY x");
    assert_eq!(i64s(b.column(0)), (0..7).collect::<Vec<_>>());
    let b = q.rows("SELECT a FROM made ORDER BY a");
    assert_eq!(
        b.column(0)
            .as_primitive::<arrow::datatypes::Int32Type>()
            .values()
            .to_vec(),
        [1, 2]
    );
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}
