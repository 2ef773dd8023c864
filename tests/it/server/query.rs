//! Queries: binds, DDL, errors, credit, cancel, zstd, CACHE_RESET and
//! concurrent ingest.

use super::*;

#[test]
fn queries_binds_ddl_errors_and_reuse() {
    let srv = start();
    let mut q = QueryClient::connect(&srv, false);
    assert!(matches!(
        q.sql("CREATE TABLE m (id LONG, name VARCHAR, px DOUBLE, ts TIMESTAMP) TIMESTAMP(ts)"),
        Answer::Done(0)
    ));
    assert!(matches!(
        q.sql("INSERT INTO m VALUES (1, 'one', 1.5, 1000), (2, 'two', 2.5, 2000), (3, NULL, 3.5, 3000)"),
        Answer::Done(3)
    ));
    // A bad statement: PARSE_ERROR with DataFusion's message; connection reused.
    match q.sql("SELEKT nonsense") {
        Answer::Error(Status::ParseError, m) => assert!(!m.is_empty()),
        other => panic!("{other:?}"),
    }
    match q.sql("SELECT * FROM no_such_table") {
        Answer::Error(Status::ParseError, m) => assert!(m.contains("no_such_table"), "{m}"),
        other => panic!("{other:?}"),
    }
    // Binds: $1 LONG, $2 VARCHAR.
    let mut req = QueryRequest::new(
        0,
        "SELECT id, px FROM m WHERE id >= $1 AND name <> $2 ORDER BY id",
    );
    req.binds = vec![
        ColumnData::new(Values::Long(vec![1])),
        ColumnData::new(Values::Varchar(vec!["one".into()])),
    ];
    let Answer::Rows(b, total) = q.run(req) else {
        panic!("rows expected")
    };
    assert_eq!(total, 1);
    assert_eq!(i64s(b[0].column(0)), [2]);
    assert_eq!(b[0].column(1).as_primitive::<Float64Type>().value(0), 2.5);
    // Empty result still carries its schema.
    let Answer::Rows(b, 0) = q.sql("SELECT id, name FROM m WHERE id > 100") else {
        panic!()
    };
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].num_rows(), 0);
    assert_eq!(b[0].schema().field(1).name(), "name");
    // TRUNCATE / DROP answer EXEC_DONE.
    assert!(matches!(q.sql("TRUNCATE TABLE m"), Answer::Done(0)));
    assert_eq!(
        q.rows("SELECT count(*) AS n FROM m")
            .column(0)
            .as_primitive::<Int64Type>()
            .value(0),
        0
    );
    assert!(matches!(q.sql("DROP TABLE m"), Answer::Done(0)));
    assert!(matches!(
        q.sql("DROP TABLE m"),
        Answer::Error(Status::ParseError, _)
    ));
}

fn numbers(srv: &ServerHandle, table: &str, n: usize) {
    let mut c = ingest_conn(srv);
    let mut start = 0usize;
    let mut first = true;
    while start < n {
        let k = (n - start).min(20_000);
        let mut b = block(table, 1_000_000 + start as i64 * 1000, k, &[0]);
        b.data[1] = ColumnData::new(Values::Long((start as i64..(start + k) as i64).collect()));
        let m = if first {
            msg(0, &["s"], vec![b])
        } else {
            msg(1, &[], vec![b])
        };
        first = false;
        ok_seq(&send(&mut c, &m).unwrap());
        start += k;
    }
}

#[test]
fn credit_flow_control_cancel_and_zstd() {
    let srv = Server::builder()
        .bind("127.0.0.1:0")
        .max_batch_rows(1000)
        .start()
        .unwrap();
    numbers(&srv, "big", 50_000);

    // Small initial credit: the server pauses; CREDIT after each batch keeps it going.
    let mut q = QueryClient::connect(&srv, false);
    let mut req = QueryRequest::new(0, "SELECT x, d FROM big");
    req.initial_credit = 4096;
    let mut granted = 0;
    let answer = q.run_with(req, |conn, _seq| {
        granted += 1;
        let credit = ClientMessage::Credit {
            request_id: 1,
            additional_bytes: 64 * 1024,
        };
        conn.send(&credit.to_bytes()).unwrap();
    });
    let Answer::Rows(b, total) = answer else {
        panic!("{answer:?}")
    };
    assert_eq!(total, 50_000);
    assert_eq!(b.len(), 50);
    let xs: Vec<i64> = b.iter().flat_map(|x| i64s(x.column(0))).collect();
    let first_bad = xs.iter().enumerate().position(|(i, &x)| x != i as i64);
    assert!(
        xs.len() == 50_000 && first_bad.is_none(),
        "rows missing or out of order at {first_bad:?}"
    );

    // Without CREDIT the stream stalls after the first batch (the row floor);
    // CANCEL then ends it with CANCELLED, and the connection is reusable.
    let mut req = QueryRequest::new(0, "SELECT x FROM big");
    req.initial_credit = 1;
    let answer = q.run_with(req, |conn, seq| {
        if seq == 0 {
            conn.send(&ClientMessage::Cancel { request_id: 2 }.to_bytes())
                .unwrap();
        }
    });
    assert!(
        matches!(answer, Answer::Error(Status::Cancelled, _)),
        "{answer:?}"
    );
    assert_eq!(q.rows("SELECT count(*) FROM big").num_rows(), 1);

    // zstd gives the same batches as raw.
    let raw =
        QueryClient::connect(&srv, false).rows("SELECT sym, x, d, note FROM big WHERE x < 5000");
    let z = QueryClient::connect(&srv, true).rows("SELECT sym, x, d, note FROM big WHERE x < 5000");
    assert_eq!(raw, z);
}

#[test]
fn cancel_stops_a_fast_scan_streaming_without_a_credit_limit() {
    // One row a frame and no byte credit: the server never waits on the
    // client, and looks at the socket between frames only every
    // millisecond; CANCEL sent on the first batch must still stop the
    // scan long before its 50 000 frames are out.
    let srv = Server::builder()
        .bind("127.0.0.1:0")
        .max_batch_rows(1)
        .start()
        .unwrap();
    numbers(&srv, "big", 50_000);
    let mut q = QueryClient::connect(&srv, false);
    let mut batches = 0;
    let answer = q.run_with(QueryRequest::new(0, "SELECT x, d FROM big"), |conn, seq| {
        batches += 1;
        if seq == 0 {
            conn.send(&ClientMessage::Cancel { request_id: 1 }.to_bytes())
                .unwrap();
        }
    });
    assert!(
        matches!(answer, Answer::Error(Status::Cancelled, _)),
        "{answer:?}"
    );
    assert!(batches < 50_000, "all {batches} batches came before CANCEL");
    // The connection is reusable.
    assert_eq!(q.rows("SELECT x FROM big LIMIT 3").num_rows(), 3);
}

#[test]
fn cache_reset_when_the_dictionary_cap_is_reached() {
    let srv = Server::builder()
        .bind("127.0.0.1:0")
        .dict_caps(3, 1 << 20)
        .start()
        .unwrap();
    let mut c = ingest_conn(&srv);
    let syms = ["a", "b", "c", "d", "e"];
    ok_seq(
        &send(
            &mut c,
            &msg(0, &syms, vec![block("sy", 1_000, 10, &[0, 1, 2, 3, 4])]),
        )
        .unwrap(),
    );
    let mut q = QueryClient::connect(&srv, false);
    let first = q.rows("SELECT sym FROM sy");
    // The dictionary now holds 5 > 3 entries: the next query starts with a
    // CACHE_RESET and ids from 0 again; results must be unchanged.
    let second = q.rows("SELECT sym FROM sy");
    assert_eq!(first, second);
    assert_eq!(q.dict.len(), 5);
}

#[test]
fn concurrent_ingest_and_queries() {
    let srv = Arc::new(start());
    let mut handles = Vec::new();
    for t in 0..4 {
        let srv = srv.clone();
        handles.push(std::thread::spawn(move || {
            let mut c = ingest_conn(&srv);
            for i in 0..5 {
                let start = (t * 1000 + i * 100) as i64 * 1_000;
                let m = if i == 0 {
                    msg(0, &["s"], vec![block("shared", start, 50, &[0])])
                } else {
                    msg(1, &[], vec![block("shared", start, 50, &[0])])
                };
                ok_seq(&send(&mut c, &m).unwrap());
            }
        }));
    }
    let srv2 = srv.clone();
    let reader = std::thread::spawn(move || {
        let mut q = QueryClient::connect(&srv2, false);
        for _ in 0..5 {
            let _ = q.sql("SELECT count(*) FROM shared");
        }
    });
    for h in handles {
        h.join().unwrap();
    }
    reader.join().unwrap();
    let mut q = QueryClient::connect(&srv, false);
    let n = q.rows("SELECT count(*) AS n FROM shared");
    assert_eq!(n.column(0).as_primitive::<Int64Type>().value(0), 1000);
}
