//! The official reader: queries, DDL, errors, credit, zstd, Arrow.

use super::*;

// ---------------------------------------------------------------------------

/// Writes the 10-row `interop_q` table: id 1..=10, name `n{id}` (NULL for
/// 5), sym a/b/c by id % 3, price id * 1.5 (NULL for 7), ts T0 + id s (also
/// the designated timestamp).
pub(super) fn write_q(db: &QuestDb, table: &str) {
    let mut sender = db.borrow_sender().expect("borrow_sender");
    let mut buf = sender.new_buffer();
    for id in 1..=10i64 {
        let ts = T0_US + id * 1_000_000;
        buf.table(table).unwrap();
        buf.symbol("sym", ["a", "b", "c"][(id % 3) as usize])
            .unwrap();
        buf.column_i64("id", id).unwrap();
        if id != 5 {
            buf.column_str("name", format!("n{id}")).unwrap();
        }
        if id != 7 {
            buf.column_f64("price", id as f64 * 1.5).unwrap();
        }
        buf.column_ts("ts", TimestampMicros::new(ts)).unwrap();
        buf.at(TimestampMicros::new(ts)).unwrap();
    }
    sender.flush_buffer(&mut buf).expect("flush_buffer");
    sender
        .wait(AckLevel::Ok, ACK_TIMEOUT)
        .unwrap_or_else(|e| panic!("wait: {:?}: {}", e.code(), e.msg()));
}

fn name_of(id: i64) -> V {
    if id == 5 {
        V::Null
    } else {
        V::S(format!("n{id}"))
    }
}

#[test]
fn official_reader_queries() {
    let srv = start(Server::builder());
    let db = connect(&srv, "");
    write_q(&db, "interop_q");
    let mut reader = db.borrow_reader().expect("borrow_reader");

    // WHERE + ORDER BY.
    let r = must(
        &mut reader,
        "SELECT id, name, sym, price FROM interop_q WHERE price > 6.0 ORDER BY id DESC",
    );
    assert_eq!(r.names, ["id", "name", "sym", "price"]);
    assert_eq!(
        r.kinds,
        [
            ColumnKind::Long,
            ColumnKind::Varchar,
            ColumnKind::Symbol,
            ColumnKind::Double
        ]
    );
    let want: Vec<Vec<V>> = [10i64, 9, 8, 6, 5]
        .iter()
        .map(|&id| {
            vec![
                V::I(id),
                name_of(id),
                s(["a", "b", "c"][(id % 3) as usize]),
                V::F(id as f64 * 1.5),
            ]
        })
        .collect();
    assert_eq!(r.rows, want);
    assert!(
        matches!(r.terminal, Some(Terminal::End { total_rows: 5, .. })),
        "terminal {:?}",
        r.terminal
    );

    // Binds: $1 LONG, $2 VARCHAR, $3 TIMESTAMP, $4 typed NULL.
    let sql = "SELECT id, name, ts FROM interop_q \
               WHERE id >= $1 AND name <> $2 AND ts < $3 AND ($4 IS NULL OR id = $4) \
               ORDER BY id";
    let cur = reader
        .prepare(sql)
        .bind_i64(3)
        .bind_varchar("n4")
        .bind_timestamp_micros(T0_US + 9_000_000)
        .bind_null(SimpleNullKind::Long)
        .execute()
        .expect("execute with binds");
    let r = drain(cur).unwrap_or_else(|e| panic!("binds query: {:?}: {}", e.code(), e.msg()));
    assert_eq!(
        r.kinds,
        [ColumnKind::Long, ColumnKind::Varchar, ColumnKind::Timestamp]
    );
    let want: Vec<Vec<V>> = [3i64, 6, 7, 8]
        .iter()
        .map(|&id| vec![V::I(id), name_of(id), V::I(T0_US + id * 1_000_000)])
        .collect();
    assert_eq!(r.rows, want, "binds with a NULL $4");
    let cur = reader
        .prepare(sql)
        .bind_i64(3)
        .bind_varchar("n4")
        .bind_timestamp_micros(T0_US + 9_000_000)
        .bind_i64(7)
        .execute()
        .expect("execute with binds");
    let r = drain(cur).unwrap_or_else(|e| panic!("binds query: {:?}: {}", e.code(), e.msg()));
    assert_eq!(
        r.rows,
        vec![vec![V::I(7), s("n7"), V::I(T0_US + 7_000_000)]],
        "binds with $4 = 7"
    );

    // A NULL bind projected back, and a VARCHAR NULL bind.
    let cur = reader
        .prepare("SELECT count(*) AS n FROM interop_q WHERE $1 IS NULL AND name IS NOT NULL")
        .bind_null_varchar()
        .execute()
        .expect("execute");
    let r = drain(cur).unwrap_or_else(|e| panic!("null varchar bind: {:?}: {}", e.code(), e.msg()));
    assert_eq!(r.rows, vec![vec![V::I(9)]]);

    // GROUP BY.
    let r = must(
        &mut reader,
        "SELECT sym, count(*) AS n, sum(id) AS total FROM interop_q GROUP BY sym ORDER BY sym",
    );
    assert_eq!(
        r.rows,
        vec![
            vec![s("a"), V::I(3), V::I(18)],
            vec![s("b"), V::I(4), V::I(22)],
            vec![s("c"), V::I(3), V::I(15)],
        ]
    );

    // LIMIT on the designated timestamp order.
    let r = must(&mut reader, "SELECT id FROM interop_q LIMIT 3");
    assert_eq!(r.rows, vec![vec![V::I(1)], vec![V::I(2)], vec![V::I(3)]]);
}

#[test]
fn official_reader_ddl() {
    let srv = start(Server::builder());
    let db = connect(&srv, "");
    let mut reader = db.borrow_reader().expect("borrow_reader");

    exec_done(
        &mut reader,
        "CREATE TABLE interop_ddl (a INT, s VARCHAR, ts TIMESTAMP) TIMESTAMP(ts) PARTITION BY DAY",
    );
    assert!(
        srv.table_names().iter().any(|t| t == "interop_ddl"),
        "{:?}",
        srv.table_names()
    );

    let n = exec_done(
        &mut reader,
        "INSERT INTO interop_ddl VALUES \
         (1, 'one', '2024-01-01T00:00:00.000000Z'), \
         (2, NULL, '2024-01-01T00:00:01.000000Z'), \
         (3, 'three', '2024-01-01T00:00:02.000000Z')",
    );
    assert_eq!(n, 3, "rows_affected of INSERT ... VALUES (3 rows)");

    let t24 = 1_704_067_200_000_000i64;
    let r = must(&mut reader, "SELECT a, s, ts FROM interop_ddl ORDER BY ts");
    assert_eq!(
        r.kinds,
        [ColumnKind::Int, ColumnKind::Varchar, ColumnKind::Timestamp]
    );
    assert_eq!(
        r.rows,
        vec![
            vec![V::I(1), s("one"), V::I(t24)],
            vec![V::I(2), V::Null, V::I(t24 + 1_000_000)],
            vec![V::I(3), s("three"), V::I(t24 + 2_000_000)],
        ]
    );

    // The official sender appends to the DDL-created table: its designated
    // timestamp lands in `ts`.
    {
        let mut sender = db.borrow_sender().expect("borrow_sender");
        let mut buf = sender.new_buffer();
        buf.table("interop_ddl").unwrap();
        buf.column_i32("a", 4).unwrap();
        buf.column_str("s", "four").unwrap();
        buf.at(TimestampMicros::new(t24 + 3_000_000)).unwrap();
        sender.flush_buffer(&mut buf).expect("flush_buffer");
        sender
            .wait(AckLevel::Ok, ACK_TIMEOUT)
            .unwrap_or_else(|e| panic!("wait: {:?}: {}", e.code(), e.msg()));
    }
    let t = stored(&srv, "interop_ddl");
    assert_eq!(t.num_rows(), 4);
    assert!(
        t.schema().column_with_name("timestamp").is_none(),
        "designated timestamp must go to `ts`: {:?}",
        t.schema().fields()
    );
    let r = must(&mut reader, "SELECT a, s, ts FROM interop_ddl WHERE a = 4");
    assert_eq!(
        r.rows,
        vec![vec![V::I(4), s("four"), V::I(t24 + 3_000_000)]]
    );

    exec_done(&mut reader, "TRUNCATE TABLE interop_ddl");
    let r = must(&mut reader, "SELECT count(*) FROM interop_ddl");
    assert_eq!(r.rows, vec![vec![V::I(0)]]);

    exec_done(&mut reader, "DROP TABLE interop_ddl");
    assert!(
        !srv.table_names().iter().any(|t| t == "interop_ddl"),
        "{:?}",
        srv.table_names()
    );
    let e =
        query(&mut reader, "SELECT * FROM interop_ddl").expect_err("select from a dropped table");
    println!("select from dropped table: {:?}: {}", e.code(), e.msg());
}

#[test]
fn official_reader_bad_sql_recovers() {
    let srv = start(Server::builder());
    let db = connect(&srv, "");
    write_q(&db, "interop_bad");
    let mut reader = db.borrow_reader().expect("borrow_reader");

    let e = query(&mut reader, "SELEC id FRM interop_bad").expect_err("bad SQL must fail");
    println!("bad SQL: {:?}: {}", e.code(), e.msg());
    assert_eq!(e.code(), ErrorCode::ServerParseError, "{}", e.msg());
    assert!(
        !reader.transport_torn_down(),
        "QUERY_ERROR must not tear the connection down"
    );

    let r = must(&mut reader, "SELECT count(*) AS n FROM interop_bad");
    assert_eq!(r.rows, vec![vec![V::I(10)]], "reader usable after an error");

    let e = query(&mut reader, "SELECT * FROM no_such_table_here").expect_err("unknown table");
    println!("unknown table: {:?}: {}", e.code(), e.msg());
    assert!(
        matches!(
            e.code(),
            ErrorCode::ServerParseError | ErrorCode::ServerInternalError
        ),
        "unknown table: {:?}: {}",
        e.code(),
        e.msg()
    );
    assert!(
        e.msg().contains("no_such_table_here"),
        "message names the table: {}",
        e.msg()
    );

    // Binds that do not fit the SQL: an error, not a hang or a dead connection.
    let cur = reader
        .prepare("SELECT id FROM interop_bad WHERE id = $1 AND id = $2")
        .bind_i64(1)
        .execute()
        .expect("execute");
    let e = drain(cur).expect_err("missing bind must fail");
    println!("missing bind: {:?}: {}", e.code(), e.msg());

    let r = must(&mut reader, "SELECT id FROM interop_bad WHERE id = 2");
    assert_eq!(r.rows, vec![vec![V::I(2)]], "reader usable after errors");
    drop(reader);
    // Another borrow from the pool (likely the same connection) also works.
    let mut reader = db.borrow_reader().expect("borrow_reader again");
    let r = must(&mut reader, "SELECT max(id) FROM interop_bad");
    assert_eq!(r.rows, vec![vec![V::I(10)]]);
}

#[test]
fn official_reader_many_batches_small_credit() {
    let srv = start(Server::builder().max_batch_rows(1000));
    let db = connect(&srv, "");
    const ROWS: i64 = 50_000;
    {
        let mut sender = db.borrow_sender().expect("borrow_sender");
        let mut buf = sender.new_buffer();
        for i in 0..ROWS {
            buf.table("interop_big").unwrap();
            buf.column_i64("id", i).unwrap();
            buf.column_f64("v", i as f64 * 0.5).unwrap();
            buf.at(TimestampMicros::new(T0_US + i)).unwrap();
        }
        sender.flush_buffer(&mut buf).expect("flush_buffer");
        sender
            .wait(AckLevel::Ok, ACK_TIMEOUT)
            .unwrap_or_else(|e| panic!("wait: {:?}: {}", e.code(), e.msg()));
    }
    assert_eq!(stored(&srv, "interop_big").num_rows(), ROWS as usize);

    let mut reader = db.borrow_reader().expect("borrow_reader");
    let credit_before = reader.credit_granted_total();
    let cur = reader
        .prepare("SELECT id, v FROM interop_big ORDER BY id")
        .initial_credit(65_536)
        .execute()
        .expect("execute");
    let r = drain(cur).unwrap_or_else(|e| panic!("big query: {:?}: {}", e.code(), e.msg()));
    assert_eq!(r.rows.len(), ROWS as usize, "all rows arrive");
    for (i, row) in r.rows.iter().enumerate() {
        assert_eq!(row, &vec![V::I(i as i64), V::F(i as f64 * 0.5)], "row {i}");
    }
    assert!(r.batch_rows.len() >= 50, "{} batches", r.batch_rows.len());
    assert!(
        r.batch_rows.iter().all(|&n| n <= 1000),
        "batch sizes {:?}",
        r.batch_rows
    );
    assert!(
        matches!(r.terminal, Some(Terminal::End { total_rows, .. }) if total_rows == ROWS as u64),
        "terminal {:?}",
        r.terminal
    );
    assert!(
        reader.credit_granted_total() > credit_before,
        "the client had to grant credit"
    );

    // The same connection then runs a small query normally.
    let r = must(&mut reader, "SELECT count(*) FROM interop_big");
    assert_eq!(r.rows, vec![vec![V::I(ROWS)]]);
}

#[test]
fn official_reader_zstd() {
    let srv = start(Server::builder().max_batch_rows(500));
    let db = connect(&srv, "");
    {
        let mut sender = db.borrow_sender().expect("borrow_sender");
        let mut buf = sender.new_buffer();
        for i in 0..3000i64 {
            buf.table("interop_zstd").unwrap();
            buf.symbol("sym", ["alpha", "beta", "gamma"][(i % 3) as usize])
                .unwrap();
            buf.column_i64("id", i).unwrap();
            buf.column_str("note", format!("repetitive note text {}", i % 10))
                .unwrap();
            buf.column_f64("x", (i % 7) as f64).unwrap();
            buf.at(TimestampMicros::new(T0_US + i * 1000)).unwrap();
        }
        sender.flush_buffer(&mut buf).expect("flush_buffer");
        sender
            .wait(AckLevel::Ok, ACK_TIMEOUT)
            .unwrap_or_else(|e| panic!("wait: {:?}: {}", e.code(), e.msg()));
    }
    let sql = "SELECT id, sym, note, x FROM interop_zstd ORDER BY id";
    let mut raw =
        Reader::from_conf(format!("{}compression=raw;", srv.conf_string())).expect("raw reader");
    let raw_rows = must(&mut raw, sql);
    let mut z =
        Reader::from_conf(format!("{}compression=zstd;", srv.conf_string())).expect("zstd reader");
    let z_rows = must(&mut z, sql);
    assert_eq!(raw_rows.rows.len(), 3000);
    assert_eq!(z_rows.names, raw_rows.names);
    assert_eq!(z_rows.kinds, raw_rows.kinds);
    assert!(
        z_rows.rows == raw_rows.rows,
        "zstd rows differ from raw rows"
    );
    assert!(
        raw_rows.flags.iter().all(|f| f & 0x10 == 0),
        "raw flags {:?}",
        raw_rows.flags
    );
    assert!(
        z_rows.flags.iter().any(|f| f & 0x10 != 0),
        "no zstd-flagged batch: {:?}",
        z_rows.flags
    );
    // Via the pool too.
    let zdb = connect(&srv, "compression=zstd;compression_level=3;");
    let mut r = zdb.borrow_reader().expect("borrow_reader");
    let p_rows = must(&mut r, sql);
    assert!(p_rows.rows == raw_rows.rows, "pooled zstd rows differ");
}

#[test]
fn official_reader_arrow() {
    let srv = start(Server::builder().max_batch_rows(4));
    let db = connect(&srv, "");
    write_q(&db, "interop_arrow_out");
    let mut reader = db.borrow_reader().expect("borrow_reader");

    let sql = "SELECT id, name, sym, price, ts FROM interop_arrow_out ORDER BY id";
    let mut cur = reader.execute(sql).expect("execute");
    let (schema, batches) = cur
        .fetch_all_arrow()
        .unwrap_or_else(|e| panic!("fetch_all_arrow: {:?}: {}", e.code(), e.msg()));
    drop(cur);
    assert_eq!(batches.len(), 3, "10 rows at 4 per batch");
    let all = arrow::compute::concat_batches(&schema, &batches).unwrap();
    assert_eq!(all.num_rows(), 10);
    let utc = Some(Arc::<str>::from("UTC"));
    let udict = DataType::Dictionary(Box::new(DataType::UInt32), Box::new(DataType::Utf8));
    let ids: Vec<i64> = (1..=10).collect();
    let a = column(&all, "id", &DataType::Int64, "long");
    same("id", &a, &Int64Array::from(ids.clone()));
    let a = column(&all, "name", &DataType::Utf8, "varchar");
    same(
        "name",
        &a,
        &StringArray::from(
            ids.iter()
                .map(|&i| (i != 5).then(|| format!("n{i}")))
                .collect::<Vec<_>>(),
        ),
    );
    let a = column(&all, "sym", &udict, "symbol");
    same(
        "sym",
        &as_utf8(&a),
        &StringArray::from(
            ids.iter()
                .map(|&i| Some(["a", "b", "c"][(i % 3) as usize]))
                .collect::<Vec<_>>(),
        ),
    );
    let a = column(&all, "price", &DataType::Float64, "double");
    same(
        "price",
        &a,
        &Float64Array::from(
            ids.iter()
                .map(|&i| (i != 7).then_some(i as f64 * 1.5))
                .collect::<Vec<_>>(),
        ),
    );
    let a = column(
        &all,
        "ts",
        &DataType::Timestamp(TimeUnit::Microsecond, utc),
        "timestamp",
    );
    same(
        "ts",
        &a,
        &TimestampMicrosecondArray::from(
            ids.iter()
                .map(|&i| T0_US + i * 1_000_000)
                .collect::<Vec<_>>(),
        )
        .with_timezone("UTC"),
    );

    // Batch by batch, with binds.
    let mut cur = reader
        .prepare("SELECT id, price FROM interop_arrow_out WHERE id > $1 ORDER BY id")
        .bind_i64(2)
        .execute()
        .expect("execute");
    let mut got: Vec<RecordBatch> = Vec::new();
    while let Some(b) = cur
        .next_arrow_batch()
        .unwrap_or_else(|e| panic!("next_arrow_batch: {:?}: {}", e.code(), e.msg()))
    {
        got.push(b);
    }
    drop(cur);
    assert_eq!(got.iter().map(|b| b.num_rows()).collect::<Vec<_>>(), [4, 4]);
    let all = arrow::compute::concat_batches(&got[0].schema(), &got).unwrap();
    let a = column(&all, "id", &DataType::Int64, "long");
    same(
        "id (binds)",
        &a,
        &Int64Array::from((3..=10).collect::<Vec<i64>>()),
    );

    // RecordBatchReader adapter.
    let mut cur = reader
        .execute("SELECT sym, count(*) AS n FROM interop_arrow_out GROUP BY sym ORDER BY sym")
        .expect("execute");
    let rdr = cur
        .as_arrow_reader()
        .unwrap_or_else(|e| panic!("as_arrow_reader: {:?}: {}", e.code(), e.msg()));
    let rbs: Vec<RecordBatch> = rdr.map(|b| b.expect("arrow batch")).collect();
    let all = arrow::compute::concat_batches(&rbs[0].schema(), &rbs).unwrap();
    let a = column(&all, "n", &DataType::Int64, "long");
    same("n", &a, &Int64Array::from(vec![3i64, 4, 3]));
}
