//! More: every type back out, symbols, cancel, empty results, auth, binds,
//! acknowledgements and schema mismatches.

use super::reader::write_q;
use super::rows::write_every_type;
use super::*;

// ---------------------------------------------------------------------------

/// Every column type written by the row API comes back through the
/// official Arrow reader with the values the server stored.
#[test]
fn official_reader_every_type_roundtrip() {
    let srv = start(Server::builder().max_batch_rows(4));
    let db = connect(&srv, "");
    write_every_type(&srv, &db, "interop_rt");
    let t = stored(&srv, "interop_rt");
    let mut reader = db.borrow_reader().expect("borrow_reader");
    let mut cur = reader
        .execute("SELECT * FROM interop_rt ORDER BY \"timestamp\"")
        .expect("execute");
    let (schema, batches) = cur
        .fetch_all_arrow()
        .unwrap_or_else(|e| panic!("fetch_all_arrow: {:?}: {}", e.code(), e.msg()));
    drop(cur);
    assert_eq!(batches.len(), 2, "6 rows at 4 per batch");
    let got = arrow::compute::concat_batches(&schema, &batches).unwrap();
    assert_eq!(got.num_rows(), t.num_rows());
    let names = |s: &Schema| {
        s.fields()
            .iter()
            .map(|f| f.name().clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&schema), names(&t.schema()), "column order");
    for (i, f) in t.schema().fields().iter().enumerate() {
        let name = f.name();
        let gf = schema.field_with_name(name).unwrap();
        for key in ["questdb.column_type", "questdb.geohash_bits"] {
            assert_eq!(
                gf.metadata().get(key),
                f.metadata().get(key),
                "{name}: {key}"
            );
        }
        let want = t.column(i).clone();
        let got_a = got.column_by_name(name).unwrap().clone();
        let (got_a, want) = match (gf.data_type(), want.data_type()) {
            (DataType::Dictionary(..), _) => (as_utf8(&got_a), as_utf8(&want)),
            (g, w) if g != w => {
                // The client's own mapping: DATE → Timestamp(ms), narrow
                // GEOHASH → the smallest signed integer.
                println!("{name}: stored {w}, official reader {g}");
                let c = arrow::compute::cast(&want, g)
                    .unwrap_or_else(|e| panic!("{name}: cast {w} -> {g}: {e}"));
                (got_a, c)
            }
            _ => (got_a, want),
        };
        same(name, &got_a, want.as_ref());
    }

    // The row cursor sees the same NULLs for the nullable scalar columns.
    let r = must(
        &mut reader,
        "SELECT i32, i64, f64, s, sym FROM interop_rt ORDER BY \"timestamp\"",
    );
    assert_eq!(r.rows[2][0], V::Null, "i32 row 2");
    assert_eq!(r.rows[1][1], V::Null, "i64 row 1");
    assert_eq!(r.rows[3][2], V::Null, "f64 row 3");
    assert_eq!(r.rows[2][3], V::Null, "s row 2");
    assert_eq!(r.rows[3][4], V::Null, "sym row 3");
    assert_eq!(
        r.rows[0],
        vec![V::I(70_000), V::I(1), V::F(1.5), s("hello"), s("AAPL")]
    );
}

/// Symbols repeat across flushes of one connection (delta dictionary) and
/// across connections; a column added later is NULL in earlier rows.
#[test]
fn official_sender_symbols_across_flushes() {
    let srv = start(Server::builder());
    let db = connect(&srv, "");
    let mut s1 = db.borrow_sender().expect("borrow_sender");
    let mut buf = s1.new_buffer();
    let mut ts = T0_US;
    let mut row = |buf: &mut questdb::ingress::Buffer, sym: &str, extra: Option<i64>| {
        ts += 1;
        buf.table("interop_syms").unwrap();
        buf.symbol("sym", sym).unwrap();
        buf.column_i64_opt("extra", extra).unwrap();
        buf.at(TimestampMicros::new(ts)).unwrap();
    };
    row(&mut buf, "a", None);
    row(&mut buf, "b", None);
    row(&mut buf, "a", None);
    s1.flush_buffer_and_wait(&mut buf, AckLevel::Ok)
        .expect("flush 1");
    row(&mut buf, "b", Some(1));
    row(&mut buf, "c", Some(2));
    row(&mut buf, "a", None);
    s1.flush_buffer_and_wait(&mut buf, AckLevel::Ok)
        .expect("flush 2");
    // A second connection with its own dictionary.
    let mut s2 = db.borrow_sender().expect("second borrow_sender");
    let mut buf2 = s2.new_buffer();
    row(&mut buf2, "c", Some(3));
    row(&mut buf2, "d", None);
    row(&mut buf2, "a", Some(4));
    s2.flush_buffer_and_wait(&mut buf2, AckLevel::Ok)
        .expect("flush 3");
    row(&mut buf, "d", Some(5));
    s1.flush_buffer_and_wait(&mut buf, AckLevel::Ok)
        .expect("flush 4");
    drop((s1, s2));

    let t = stored(&srv, "interop_syms");
    let dict = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
    let a = column(&t, "sym", &dict, "symbol");
    same(
        "sym",
        &as_utf8(&a),
        &StringArray::from(vec!["a", "b", "a", "b", "c", "a", "c", "d", "a", "d"]),
    );
    let a = column(&t, "extra", &DataType::Int64, "long");
    same(
        "extra",
        &a,
        &Int64Array::from(vec![
            None,
            None,
            None,
            Some(1),
            Some(2),
            None,
            Some(3),
            None,
            Some(4),
            Some(5),
        ]),
    );
}

/// The reader's connection dictionary: symbols across batches and queries,
/// a query-scoped reset, and a server CACHE_RESET when the dictionary
/// passes its cap.
#[test]
fn official_reader_symbol_dictionary() {
    let srv = start(Server::builder().max_batch_rows(3).dict_caps(4, 1 << 20));
    let db = connect(&srv, "");
    {
        let mut sender = db.borrow_sender().expect("borrow_sender");
        let mut buf = sender.new_buffer();
        for i in 0..12i64 {
            buf.table("interop_dict").unwrap();
            buf.symbol("sym", format!("s{}", i % 6)).unwrap();
            buf.column_i64("id", i).unwrap();
            buf.at(TimestampMicros::new(T0_US + i)).unwrap();
        }
        sender.flush_buffer(&mut buf).expect("flush_buffer");
        sender.wait(AckLevel::Ok, ACK_TIMEOUT).expect("wait");
    }
    let want: Vec<Vec<V>> = (0..12i64)
        .map(|i| vec![V::I(i), V::S(format!("s{}", i % 6))])
        .collect();
    let mut reader = db.borrow_reader().expect("borrow_reader");
    let sql = "SELECT id, sym FROM interop_dict ORDER BY id";
    for round in 0..3 {
        let r = must(&mut reader, sql);
        assert_eq!(r.rows, want, "round {round}");
        assert_eq!(r.batch_rows, [3, 3, 3, 3], "round {round}");
    }
    let cur = reader
        .prepare(sql)
        .reset_symbol_dict(true)
        .execute()
        .expect("execute");
    let r = drain(cur).unwrap_or_else(|e| panic!("reset_symbol_dict: {:?}: {}", e.code(), e.msg()));
    assert_eq!(r.rows, want, "with reset_symbol_dict");
    // Other symbols after a reset.
    let r = must(
        &mut reader,
        "SELECT DISTINCT sym FROM interop_dict WHERE id < 2 ORDER BY sym",
    );
    assert_eq!(r.rows, vec![vec![s("s0")], vec![s("s1")]]);
    // Arrow path over the same connection.
    let mut cur = reader.execute(sql).expect("execute");
    let (schema, batches) = cur.fetch_all_arrow().expect("fetch_all_arrow");
    drop(cur);
    let all = arrow::compute::concat_batches(&schema, &batches).unwrap();
    let a = as_utf8(all.column_by_name("sym").unwrap());
    same(
        "sym (arrow)",
        &a,
        &StringArray::from((0..12).map(|i| format!("s{}", i % 6)).collect::<Vec<_>>()),
    );
}

/// CANCEL in the middle of a credit-limited stream, then the connection
/// runs the next query.
#[test]
fn official_reader_cancel() {
    let srv = start(Server::builder().max_batch_rows(1000));
    let db = connect(&srv, "");
    {
        let mut sender = db.borrow_sender().expect("borrow_sender");
        let mut buf = sender.new_buffer();
        for i in 0..20_000i64 {
            buf.table("interop_cancel").unwrap();
            buf.column_i64("id", i).unwrap();
            buf.at(TimestampMicros::new(T0_US + i)).unwrap();
        }
        sender.flush_buffer(&mut buf).expect("flush_buffer");
        sender.wait(AckLevel::Ok, ACK_TIMEOUT).expect("wait");
    }
    let mut reader = db.borrow_reader().expect("borrow_reader");
    let mut cur = reader
        .prepare("SELECT id FROM interop_cancel ORDER BY id")
        .initial_credit(16_384)
        .execute()
        .expect("execute");
    for _ in 0..2 {
        let b = cur.next_batch().expect("next_batch").expect("a batch");
        assert!(b.row_count() > 0);
    }
    cur.cancel()
        .unwrap_or_else(|e| panic!("cancel: {:?}: {}", e.code(), e.msg()));
    println!(
        "after cancel: terminal {:?}, reusable {}",
        cur.terminal(),
        cur.connection_reusable()
    );
    drop(cur);
    let r = must(&mut reader, "SELECT count(*) FROM interop_cancel");
    assert_eq!(r.rows, vec![vec![V::I(20_000)]], "next query after CANCEL");
}

/// A query with no rows still ends cleanly (schema, RESULT_END 0).
#[test]
fn official_reader_empty_result() {
    let srv = start(Server::builder());
    let db = connect(&srv, "");
    write_q(&db, "interop_empty");
    let mut reader = db.borrow_reader().expect("borrow_reader");
    let r = must(
        &mut reader,
        "SELECT id, name FROM interop_empty WHERE id < 0",
    );
    assert!(r.rows.is_empty());
    assert!(
        matches!(r.terminal, Some(Terminal::End { total_rows: 0, .. })),
        "terminal {:?}",
        r.terminal
    );
    println!(
        "empty result: names {:?}, batches {:?}",
        r.names, r.batch_rows
    );
    let mut cur = reader
        .execute("SELECT id, name FROM interop_empty WHERE id < 0")
        .expect("execute");
    match cur.fetch_all_arrow() {
        Ok((schema, batches)) => {
            assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 0);
            assert_eq!(schema.fields().len(), 2, "{schema:?}");
        }
        Err(e) => panic!(
            "fetch_all_arrow on an empty result: {:?}: {}",
            e.code(),
            e.msg()
        ),
    }
    drop(cur);
    let r = must(&mut reader, "SELECT count(*) FROM interop_empty");
    assert_eq!(r.rows, vec![vec![V::I(10)]]);
}

/// Basic and token authentication with the official client's keys.
#[test]
fn official_client_auth() {
    let srv = start(Server::builder().basic_auth("admin", "quest"));
    let db = connect(&srv, "username=admin;password=quest;");
    write_q(&db, "interop_auth");
    let mut reader = db.borrow_reader().expect("borrow_reader");
    let r = must(&mut reader, "SELECT count(*) FROM interop_auth");
    assert_eq!(r.rows, vec![vec![V::I(10)]]);
    drop(reader);
    drop(db);
    let conf = format!("{}username=admin;password=wrong;", srv.conf_string());
    let e = QuestDb::connect(&conf).expect_err("wrong password must fail");
    println!("wrong password: {:?}: {}", e.code(), e.msg());
    let Err(e) = Reader::from_conf(&conf) else {
        panic!("reader with wrong password must fail");
    };
    println!("reader, wrong password: {:?}: {}", e.code(), e.msg());

    let srv = start(Server::builder().token_auth("s3cr3t"));
    let db = connect(&srv, "token=s3cr3t;");
    write_q(&db, "interop_auth_t");
    let mut reader = db.borrow_reader().expect("borrow_reader");
    let r = must(&mut reader, "SELECT count(*) FROM interop_auth_t");
    assert_eq!(r.rows, vec![vec![V::I(10)]]);
}

/// Every bind type the official reader has, against the every-type table.
#[test]
fn official_reader_typed_binds() {
    use questdb::egress::ReaderQuery;
    let srv = start(Server::builder());
    let db = connect(&srv, "");
    write_every_type(&srv, &db, "interop_tb");
    let mut reader = db.borrow_reader().expect("borrow_reader");
    // Not covered: `bind_ipv4` and `bind_binary`, which questdb-rs 7.2.1
    // refuses client-side ("bind not supported for type ipv4/binary").
    type Binder = Box<dyn for<'r> FnOnce(ReaderQuery<'r>) -> ReaderQuery<'r>>;
    let cases: Vec<(&str, i64, Binder)> = vec![
        ("b", 3, Box::new(|q| q.bind_bool(true))),
        ("i8", 1, Box::new(|q| q.bind_i8(1))),
        ("i16", 1, Box::new(|q| q.bind_i16(300))),
        ("i32", 1, Box::new(|q| q.bind_i32(70_000))),
        ("i64", 1, Box::new(|q| q.bind_i64(-42))),
        ("f32", 1, Box::new(|q| q.bind_f32(1.5))),
        ("f64", 1, Box::new(|q| q.bind_f64(1e300))),
        ("s", 1, Box::new(|q| q.bind_varchar("hello"))),
        ("sym", 3, Box::new(|q| q.bind_varchar("AAPL"))),
        ("ts_us", 1, Box::new(|q| q.bind_timestamp_micros(T0_US))),
        (
            "ts_ns",
            1,
            Box::new(|q| q.bind_timestamp_nanos(1_600_000_000_123_456_789)),
        ),
        ("d", 1, Box::new(|q| q.bind_date_millis(86_400_000))),
        (
            "u",
            1,
            Box::new(|q| q.bind_uuid(uuid_bytes(0xa716_4466_5544_0000, 0x550e_8400_e29b_41d4))),
        ),
        ("l256", 1, Box::new(|q| q.bind_long256(l256(3)))),
        ("ch", 1, Box::new(|q| q.bind_char(0x263a))),
        ("geo", 1, Box::new(|q| q.bind_geohash(0xabcde, 20))),
        ("dec64", 1, Box::new(|q| q.bind_decimal64(12_345, 2))),
        ("dec128", 1, Box::new(|q| q.bind_decimal128(-1_000, 3))),
        (
            "dec256",
            1,
            Box::new(|q| q.bind_decimal256(i256::from_i128(31).to_le_bytes(), 1)),
        ),
    ];
    let mut failures = Vec::new();
    for (col, want, bind) in cases {
        let sql = format!("SELECT count(*) FROM interop_tb WHERE {col} = $1");
        let res = bind(reader.prepare(sql.as_str())).execute().and_then(drain);
        match res {
            Ok(r) if r.rows == vec![vec![V::I(want)]] => {}
            Ok(r) => failures.push(format!("{col}: got {:?}, want {want}", r.rows)),
            Err(e) => failures.push(format!("{col}: {:?}: {}", e.code(), e.msg())),
        }
    }
    // Typed NULL binds of several kinds, projected back.
    let cur = reader
        .prepare("SELECT $1 IS NULL AS a, $2 IS NULL AS b, $3 IS NULL AS c FROM interop_tb LIMIT 1")
        .bind_null(SimpleNullKind::Timestamp)
        .bind_null_decimal64(2)
        .bind_null_geohash(20)
        .execute()
        .expect("execute");
    match drain(cur) {
        Ok(r) if r.rows == vec![vec![V::B(true), V::B(true), V::B(true)]] => {}
        Ok(r) => failures.push(format!("NULL binds: got {:?}", r.rows)),
        Err(e) => failures.push(format!("NULL binds: {:?}: {}", e.code(), e.msg())),
    }
    // The connection survives whatever failed above.
    let r = must(&mut reader, "SELECT count(*) FROM interop_tb");
    assert_eq!(r.rows, vec![vec![V::I(6)]]);
    assert!(
        failures.is_empty(),
        "bind failures:\n  {}",
        failures.join("\n  ")
    );
}

/// INSERT with binds and a client-side `max_batch_rows`.
#[test]
fn official_reader_insert_binds_and_client_batch_rows() {
    let srv = start(Server::builder());
    let db = connect(&srv, "max_batch_rows=5;");
    let mut reader = db.borrow_reader().expect("borrow_reader");
    exec_done(
        &mut reader,
        "CREATE TABLE interop_ins (id LONG, name VARCHAR, ts TIMESTAMP) TIMESTAMP(ts)",
    );
    for id in 0..12i64 {
        let cur = reader
            .prepare("INSERT INTO interop_ins VALUES ($1, $2, $3)")
            .bind_i64(id)
            .bind_varchar(format!("v{id}"))
            .bind_timestamp_micros(T0_US + id)
            .execute()
            .expect("execute");
        let r =
            drain(cur).unwrap_or_else(|e| panic!("INSERT with binds: {:?}: {}", e.code(), e.msg()));
        assert!(
            matches!(
                r.terminal,
                Some(Terminal::ExecDone {
                    rows_affected: 1,
                    ..
                })
            ),
            "terminal {:?}",
            r.terminal
        );
    }
    let r = must(
        &mut reader,
        "SELECT id, name, ts FROM interop_ins ORDER BY id",
    );
    let want: Vec<Vec<V>> = (0..12i64)
        .map(|i| vec![V::I(i), V::S(format!("v{i}")), V::I(T0_US + i)])
        .collect();
    assert_eq!(r.rows, want);
    assert_eq!(r.batch_rows, [5, 5, 2], "client max_batch_rows=5");
}

/// Rows without a designated timestamp get the server's time; a durable
/// ACK is awaited when the server offers it.
#[test]
fn official_sender_at_now_and_durable_ack() {
    let srv = start(Server::builder().durable_ack(true));
    let db = connect(&srv, "request_durable_ack=on;");
    let mut sender = db.borrow_sender().expect("borrow_sender");
    let mut buf = sender.new_buffer();
    for i in 0..3i64 {
        buf.table("interop_now").unwrap();
        buf.column_i64("v", i).unwrap();
        buf.at_now().unwrap();
    }
    sender.flush_buffer(&mut buf).expect("flush_buffer");
    sender
        .wait(AckLevel::Durable, ACK_TIMEOUT)
        .unwrap_or_else(|e| panic!("wait(Durable): {:?}: {}", e.code(), e.msg()));
    drop(sender);
    let t = stored(&srv, "interop_now");
    assert_eq!(t.num_rows(), 3);
    let ts = column(
        &t,
        "timestamp",
        &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        "timestamp",
    );
    assert_eq!(ts.null_count(), 0);
    let ts = ts
        .as_any()
        .downcast_ref::<TimestampMicrosecondArray>()
        .unwrap();
    assert!(
        ts.values().iter().all(|&v| v > T0_US),
        "server time: {ts:?}"
    );
}

/// A frame above the server's advertised `X-QWP-Max-Batch-Size` is refused
/// by the client for row buffers, and split by it for Arrow batches.
#[test]
fn official_sender_small_recv_buffer() {
    let srv = start(Server::builder().recv_buffer(64 * 1024));
    let db = connect(&srv, "");
    let mut sender = db.borrow_sender().expect("borrow_sender");
    let mut buf = sender.new_buffer();
    for i in 0..20_000i64 {
        buf.table("interop_small_rb").unwrap();
        buf.column_i64("v", i).unwrap();
        buf.at(TimestampMicros::new(T0_US + i)).unwrap();
    }
    let e = sender
        .flush_buffer(&mut buf)
        .expect_err("an oversize row buffer is refused");
    println!("oversize row buffer: {:?}: {}", e.code(), e.msg());
    assert!(
        e.msg().contains(&(64 * 1024 - 14).to_string()),
        "cap in message: {}",
        e.msg()
    );
    drop(sender);

    let n = 20_000i64;
    let ts = TimestampMicrosecondArray::from((0..n).map(|i| T0_US + i).collect::<Vec<_>>())
        .with_timezone("UTC");
    let batch = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("ts", ts.data_type().clone(), false),
            Field::new("v", DataType::Int64, true),
            Field::new("name", DataType::Utf8, true),
        ])),
        vec![
            Arc::new(ts),
            Arc::new(Int64Array::from((0..n).collect::<Vec<_>>())),
            Arc::new(StringArray::from(
                (0..n).map(|i| format!("name-{i}")).collect::<Vec<_>>(),
            )),
        ],
    )
    .unwrap();
    db.flush_arrow_batch(
        "interop_small_rb",
        &batch,
        Some(ColumnName::new("ts").unwrap()),
        &[],
        None,
    )
    .unwrap_or_else(|e| panic!("flush_arrow_batch (split): {:?}: {}", e.code(), e.msg()));
    let t = stored(&srv, "interop_small_rb");
    assert_eq!(t.num_rows(), n as usize, "all rows of the split batch");
    let v = column(&t, "v", &DataType::Int64, "long");
    same("v", &v, &Int64Array::from((0..n).collect::<Vec<_>>()));
}

/// A type clash is rejected with SCHEMA_MISMATCH and reported to the
/// pool's error handler; the table keeps only the good rows.
#[test]
fn official_sender_schema_mismatch_reported() {
    use questdb::ConnectHandlers;
    use questdb::ingress::{QwpWsErrorHandler, QwpWsSenderError};
    use std::sync::Mutex;
    let srv = start(Server::builder());
    let seen: Arc<Mutex<Vec<QwpWsSenderError>>> = Arc::default();
    let mut handlers = ConnectHandlers::default();
    let s2 = seen.clone();
    handlers.error_handler = Some(QwpWsErrorHandler::new(move |e| {
        s2.lock().unwrap().push(e.clone())
    }));
    let db = QuestDb::connect_with_handlers(&srv.conf_string(), handlers)
        .expect("connect_with_handlers");
    {
        let mut sender = db.borrow_sender().expect("borrow_sender");
        let mut buf = sender.new_buffer();
        buf.table("interop_clash").unwrap();
        buf.column_i64("x", 1).unwrap();
        buf.at(TimestampMicros::new(T0_US)).unwrap();
        sender
            .flush_buffer_and_wait(&mut buf, AckLevel::Ok)
            .expect("good row");
        // A fresh buffer: one buffer refuses a column changing type.
        let mut buf = sender.new_buffer();
        buf.table("interop_clash").unwrap();
        buf.column_str("x", "not a number").unwrap();
        buf.at(TimestampMicros::new(T0_US + 1)).unwrap();
        sender.flush_buffer(&mut buf).expect("flush_buffer");
        let w = sender.wait(AckLevel::Ok, Duration::from_secs(10));
        println!(
            "wait after a clash: {:?}",
            w.as_ref().map_err(|e| (e.code(), e.msg().to_string()))
        );
        sender.drop_on_return();
    }
    let deadline = std::time::Instant::now() + ACK_TIMEOUT;
    while seen.lock().unwrap().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let events = seen.lock().unwrap().clone();
    println!("rejections: {events:?}");
    let e = events
        .first()
        .expect("a rejection reaches the error handler");
    assert_eq!(e.status, Some(0x03), "SCHEMA_MISMATCH status: {e:?}");
    assert!(
        e.message.as_deref().unwrap_or("").contains('x'),
        "message names the column: {e:?}"
    );
    let t = stored(&srv, "interop_clash");
    assert_eq!(t.num_rows(), 1, "only the good row");
}
