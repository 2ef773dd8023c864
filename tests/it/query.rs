//! SQL into Arrow with `client::QuestDb` / `Reader` / `Cursor` against the
//! embedded server.

use std::net::Ipv4Addr;
use std::sync::Arc;

use arrow::array::*;
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use questdb_arrow::ErrorKind;
use questdb_arrow::client::{AckLevel, IngestOptions, QuestDb, Terminal};
use questdb_arrow::conf::Conf;
use questdb_arrow::protocol::{ColumnType, Status};
use questdb_arrow::server::{Server, ServerBuilder, ServerHandle};

use crate::every_type::{assert_stored, cells, every_type};
use crate::support::eventually;

/// A server built by `b` on a free port and a client of it.
pub(crate) fn start(b: ServerBuilder) -> (ServerHandle, QuestDb) {
    let srv = b.bind("127.0.0.1:0").start().unwrap();
    let db = QuestDb::connect(&srv.conf_string()).unwrap();
    (srv, db)
}

/// `n` rows: ts, id LONG, sym SYMBOL (NULL every 5th), px DOUBLE.
fn fill(db: &QuestDb, table: &str, n: usize) {
    let sym: DictionaryArray<arrow::datatypes::Int32Type> = (0..n)
        .map(|i| (i % 5 != 0).then(|| ["a", "b", "c", "d"][i % 4]))
        .collect();
    let b = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new(
                "ts",
                DataType::Timestamp(TimeUnit::Microsecond, None),
                false,
            ),
            Field::new("id", DataType::Int64, false),
            Field::new("sym", sym.data_type().clone(), true),
            Field::new("px", DataType::Float64, true),
        ])),
        vec![
            Arc::new(TimestampMicrosecondArray::from_iter_values(
                (0..n).map(|i| 1_700_000_000_000_000 + i as i64),
            )),
            Arc::new(Int64Array::from_iter_values(0..n as i64)),
            Arc::new(sym),
            Arc::new(Float64Array::from_iter(
                (0..n).map(|i| (i % 7 != 0).then_some(i as f64 * 0.5)),
            )),
        ],
    )
    .unwrap();
    db.ingest_batches(table, [b], &IngestOptions::new().timestamp_column("ts"))
        .unwrap();
}

fn ids(batches: &[RecordBatch]) -> Vec<i64> {
    batches
        .iter()
        .flat_map(|b| {
            b.column_by_name("id")
                .unwrap()
                .as_primitive::<arrow::datatypes::Int64Type>()
                .values()
                .to_vec()
        })
        .collect()
}

#[test]
fn every_type_round_trips_through_ingest_and_query() {
    let (_srv, db) = start(Server::builder().max_batch_rows(64));
    let (b, types) = every_type(300, 1_700_000_000_000_000);
    db.flush_arrow_batch("q_all", &b, Some("ts"), &[], AckLevel::Ok)
        .unwrap();
    let mut cur = db.query_arrow("SELECT * FROM q_all").unwrap();
    let schema = cur.schema();
    let batches = cur.fetch_all_arrow().unwrap();
    assert!(batches.len() >= 5, "{} batches", batches.len());
    assert!(matches!(
        cur.terminal(),
        Some(Terminal::ResultEnd {
            total_rows: 300,
            ..
        })
    ));
    let all = arrow::compute::concat_batches(&schema, &batches).unwrap();
    assert_stored(&all, &b, &types);
    // SYMBOL comes back as Dictionary(Int32, Utf8) over the connection's
    // dictionary: append-only, so each batch's values start with the
    // previous batch's.
    let dict = batches[0].column_by_name("dict").unwrap();
    assert_eq!(
        dict.data_type(),
        &DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
    );
    for w in batches.windows(2) {
        let values = |b: &RecordBatch| {
            let v = b
                .column_by_name("dict")
                .unwrap()
                .as_any_dictionary()
                .values()
                .clone();
            let s = v.as_string::<i32>();
            s.iter().map(|x| x.unwrap().to_string()).collect::<Vec<_>>()
        };
        let (earlier, later) = (values(&w[0]), values(&w[1]));
        assert!(later.len() >= earlier.len() && later[..earlier.len()] == earlier[..]);
    }
}

#[test]
fn binds_of_every_type() {
    let (_srv, db) = start(Server::builder());
    let mut r = db.borrow_reader().unwrap();
    let one = |q: questdb_arrow::client::Query<'_>| -> (DataType, Option<String>) {
        let mut cur = q.execute().unwrap();
        let b = cur.fetch_all_arrow().unwrap();
        assert_eq!(b.iter().map(|b| b.num_rows()).sum::<usize>(), 1);
        let c = b[0].column(0).clone();
        (c.data_type().clone(), cells(&c, c.data_type()).remove(0))
    };
    let sql = "SELECT $1 AS v";
    let s = |x: &str| Some(x.to_string());
    assert_eq!(one(r.prepare(sql).bind_bool(true)).1, s("true"));
    assert_eq!(one(r.prepare(sql).bind_i8(-8)).1, s("-8"));
    assert_eq!(one(r.prepare(sql).bind_i16(-16)).1, s("-16"));
    assert_eq!(
        one(r.prepare(sql).bind_i32(-32)),
        (DataType::Int32, s("-32"))
    );
    assert_eq!(
        one(r.prepare(sql).bind_i64(1 << 40)),
        (DataType::Int64, s("1099511627776"))
    );
    assert_eq!(one(r.prepare(sql).bind_f32(1.5)).1, s("1.5"));
    assert_eq!(one(r.prepare(sql).bind_f64(-2.25)).1, s("-2.25"));
    assert_eq!(one(r.prepare(sql).bind_varchar("héllo")).1, s("héllo"));
    assert_eq!(one(r.prepare(sql).bind_binary(&[1, 2, 255])).1, s("0102ff"));
    assert_eq!(
        one(r.prepare(sql).bind_timestamp_micros(1_000_000)).1,
        s("1970-01-01T00:00:01Z")
    );
    assert_eq!(
        one(r.prepare(sql).bind_timestamp_nanos(1_500)).1,
        s("1970-01-01T00:00:00.000001500Z")
    );
    assert!(
        one(r.prepare(sql).bind_date(86_400_000))
            .1
            .unwrap()
            .starts_with("1970-01-02")
    );
    // `SELECT $1` of a UUID / LONG256 comes back as bytes (DataFusion has
    // no UUID type to keep); the value is what matters.
    let (_, v) = one(r
        .prepare(sql)
        .bind_uuid(0x0102_0304_0506_0708_090A_0B0C_0D0E_0F10));
    assert!(v.unwrap().contains("0d0e0f10"));
    let mut l = [0u8; 32];
    l[0] = 7;
    assert!(
        one(r.prepare(sql).bind_long256(l))
            .1
            .unwrap()
            .starts_with("07")
    );
    assert_eq!(one(r.prepare(sql).bind_char(65)).1, s("65"));
    assert_eq!(
        one(r.prepare(sql).bind_ipv4(Ipv4Addr::new(10, 0, 0, 1))).1,
        s(&u32::from(Ipv4Addr::new(10, 0, 0, 1)).to_string())
    );
    assert_eq!(one(r.prepare(sql).bind_decimal64(12345, 2)).1, s("123.45"));
    assert_eq!(one(r.prepare(sql).bind_decimal128(-5, 1)).1, s("-0.5"));
    let mut d = [0u8; 32];
    d[0] = 42;
    assert_eq!(one(r.prepare(sql).bind_decimal256(d, 1)).1, s("4.2"));
    assert_eq!(one(r.prepare(sql).bind_geohash(0b10110, 5)).1, s("22"));
    for ty in [
        ColumnType::Long,
        ColumnType::Double,
        ColumnType::Varchar,
        ColumnType::Timestamp,
        ColumnType::Boolean,
    ] {
        assert_eq!(one(r.prepare(sql).bind_null(ty)).1, None, "{ty}");
    }
    // Binds in a WHERE clause.
    fill(&db, "q_binds", 100);
    let mut cur = r
        .prepare("SELECT id FROM q_binds WHERE id >= $1 AND sym = $2 ORDER BY id")
        .bind_i64(90)
        .bind_varchar("c")
        .execute()
        .unwrap();
    assert_eq!(ids(&cur.fetch_all_arrow().unwrap()), [94, 98]);
}

#[test]
fn empty_results_ddl_dml_errors_and_reuse() {
    let (_srv, db) = start(Server::builder());
    fill(&db, "q_misc", 10);
    let mut r = db.borrow_reader().unwrap();
    // Empty result: schema known, no rows.
    let mut cur = r
        .execute("SELECT id, sym FROM q_misc WHERE id > 100")
        .unwrap();
    assert_eq!(cur.schema().field(1).name(), "sym");
    let rows: usize = cur
        .fetch_all_arrow()
        .unwrap()
        .iter()
        .map(|b| b.num_rows())
        .sum();
    assert_eq!(rows, 0);
    assert!(matches!(
        cur.terminal(),
        Some(Terminal::ResultEnd { total_rows: 0, .. })
    ));
    drop(cur);
    // DDL / DML: EXEC_DONE with rows_affected.
    let mut cur = r
        .execute("CREATE TABLE q_t (a LONG, ts TIMESTAMP) TIMESTAMP(ts)")
        .unwrap();
    assert!(cur.next_arrow_batch().unwrap().is_none());
    assert!(matches!(
        cur.terminal(),
        Some(Terminal::ExecDone {
            rows_affected: 0,
            ..
        })
    ));
    drop(cur);
    let mut cur = r
        .execute("INSERT INTO q_t VALUES (1, '2024-01-01T00:00:00Z'), (2, '2024-01-02T00:00:00Z')")
        .unwrap();
    cur.fetch_all_arrow().unwrap();
    assert!(matches!(
        cur.terminal(),
        Some(Terminal::ExecDone {
            rows_affected: 2,
            ..
        })
    ));
    drop(cur);
    // A bad statement: typed error with the status; the reader still works.
    let e = r.execute("SELEC nonsense").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Server, "{e}");
    assert_eq!(e.status(), Some(Status::ParseError));
    assert!(e.to_string().contains("SELEC nonsense"), "{e}");
    assert_eq!(
        r.rows("SELECT count(*) AS n FROM q_t").unwrap().num_rows(),
        1
    );
    assert!(r.server_info().node_id.len() < 1000);
    drop(r);
    assert_eq!(db.idle_readers(), 1, "the reader went back to the pool");
}

#[test]
fn cancel_mid_stream_then_reuse() {
    let (_srv, db) = start(Server::builder().max_batch_rows(100));
    fill(&db, "q_cancel", 20_000);
    let mut r = db.borrow_reader().unwrap();
    let mut cur = r
        .prepare("SELECT * FROM q_cancel")
        .initial_credit(4096)
        .execute()
        .unwrap();
    let first = cur.next_arrow_batch().unwrap().unwrap();
    assert_eq!(first.num_rows(), 100);
    cur.cancel().unwrap();
    assert!(cur.next_arrow_batch().unwrap().is_none());
    assert!(cur.terminal().is_some());
    drop(cur);
    // Dropping an unfinished cursor cancels too.
    let mut cur = r.execute("SELECT * FROM q_cancel").unwrap();
    cur.next_arrow_batch().unwrap();
    drop(cur);
    assert_eq!(
        r.rows("SELECT count(*) AS n FROM q_cancel")
            .unwrap()
            .column(0)
            .as_primitive::<arrow::datatypes::Int64Type>()
            .value(0),
        20_000
    );
}

#[test]
fn small_credit_with_manual_add_credit_streams_everything() {
    let (_srv, db) = start(Server::builder().max_batch_rows(50));
    fill(&db, "q_credit", 5_000);
    let mut r = db.borrow_reader().unwrap();
    let mut cur = r
        .prepare("SELECT * FROM q_credit")
        .initial_credit(1)
        .auto_credit(false)
        .execute()
        .unwrap();
    let mut got = Vec::new();
    while let Some(b) = cur.next_arrow_batch().unwrap() {
        got.push(b);
        cur.add_credit(2000).unwrap();
    }
    assert_eq!(got.len(), 100);
    assert_eq!(ids(&got), (0..5_000).collect::<Vec<i64>>());
    drop(cur);
    // As a RecordBatchReader, with automatic credit.
    let reader = r
        .prepare("SELECT * FROM q_credit")
        .initial_credit(2048)
        .execute()
        .unwrap();
    let schema = RecordBatchReader::schema(&reader);
    let all: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
    assert_eq!(all[0].schema(), schema);
    assert_eq!(ids(&all).len(), 5_000);
}

#[test]
fn zstd_on_and_off_give_identical_batches() {
    let srv = Server::builder()
        .bind("127.0.0.1:0")
        .max_batch_rows(1000)
        .start()
        .unwrap();
    let plain = QuestDb::connect(&srv.conf_string()).unwrap();
    fill(&plain, "q_zstd", 10_000);
    let zstd = QuestDb::from_conf(
        Conf::parse(&format!(
            "{}compression=zstd;compression_level=3;",
            srv.conf_string()
        ))
        .unwrap(),
    )
    .unwrap();
    let sql = "SELECT * FROM q_zstd";
    let a = plain.query_arrow(sql).unwrap().fetch_all_arrow().unwrap();
    let b = zstd.query_arrow(sql).unwrap().fetch_all_arrow().unwrap();
    assert_eq!(a.len(), 10);
    assert_eq!(a, b);
}

#[test]
fn cache_reset_mid_stream_keeps_symbols_right() {
    let (_srv, db) = start(Server::builder().max_batch_rows(10).dict_caps(3, 1 << 20));
    let n = 200;
    let sym = StringArray::from_iter_values((0..n).map(|i| format!("s{}", i % 37)));
    let b = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new(
                "ts",
                DataType::Timestamp(TimeUnit::Microsecond, None),
                false,
            ),
            Field::new("sym", DataType::Utf8, false),
        ])),
        vec![
            Arc::new(TimestampMicrosecondArray::from_iter_values(
                (0..n).map(|i| 1_000 + i as i64),
            )),
            Arc::new(sym.clone()),
        ],
    )
    .unwrap();
    db.flush_arrow_batch(
        "q_reset",
        &b,
        Some("ts"),
        &[("sym", questdb_arrow::client::ColumnOverride::Symbol)],
        AckLevel::Ok,
    )
    .unwrap();
    let got = db
        .query_arrow("SELECT sym FROM q_reset")
        .unwrap()
        .fetch_all_arrow()
        .unwrap();
    let got: Vec<Option<String>> = got
        .iter()
        .flat_map(|b| cells(b.column(0), &DataType::Utf8))
        .collect();
    let want: Vec<Option<String>> = sym.iter().map(|s| s.map(str::to_string)).collect();
    assert_eq!(got, want);
}

#[test]
fn same_query_read_by_questdb_rs_gives_equal_data() {
    let (srv, db) = start(Server::builder().max_batch_rows(333));
    fill(&db, "q_peer", 2_000);
    let sql = "SELECT * FROM q_peer ORDER BY id";
    let mut cur = db.query_arrow(sql).unwrap();
    let schema = cur.schema();
    let ours = arrow::compute::concat_batches(&schema, &cur.fetch_all_arrow().unwrap()).unwrap();
    drop(cur);
    let peer_db = questdb::QuestDb::connect(&srv.conf_string()).unwrap();
    let mut reader = peer_db.borrow_reader().unwrap();
    let mut pc = reader.execute(sql).unwrap();
    let (ps, pb) = pc.fetch_all_arrow().unwrap();
    let theirs = arrow::compute::concat_batches(&ps, &pb).unwrap();
    assert_eq!(ours.num_rows(), 2_000);
    assert_eq!(ours.num_columns(), theirs.num_columns());
    for (i, f) in schema.fields().iter().enumerate() {
        assert_eq!(f.name(), ps.field(i).name());
        let a = cells(ours.column(i), ours.column(i).data_type());
        let b = cells(theirs.column(i), theirs.column(i).data_type());
        assert_eq!(a, b, "column {}", f.name());
    }
}

#[test]
fn parquet_load_streams_row_groups_and_export_round_trips() {
    use questdb_arrow::parquet_io::{ParquetOptions, export_parquet, ingest_parquet_with};
    let (_srv, db) = start(Server::builder());
    let d = std::env::temp_dir().join(format!("qa-parquet-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    let n = 10_000;
    let b = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("ts", DataType::Timestamp(TimeUnit::Nanosecond, None), false),
            Field::new("name", DataType::Utf8, true),
            Field::new("v", DataType::Float64, true),
        ])),
        vec![
            Arc::new(TimestampNanosecondArray::from_iter_values(
                (0..n).map(|i| 1_700_000_000_000_000_000 + i as i64 * 1000),
            )),
            Arc::new(StringArray::from_iter(
                (0..n).map(|i| (i % 9 != 0).then(|| format!("name {i}"))),
            )),
            Arc::new(Float64Array::from_iter(
                (0..n).map(|i| (i % 4 != 0).then_some(i as f64)),
            )),
        ],
    )
    .unwrap();
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(1000))
        .build();
    let f = std::fs::File::create(d.join("in.parquet")).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(f, b.schema(), Some(props)).unwrap();
    w.write(&b).unwrap();
    w.close().unwrap();

    let sum = ingest_parquet_with(
        &db,
        d.join("in.parquet"),
        "pq_in",
        &IngestOptions::new().timestamp_column("ts"),
        ParquetOptions { batch_rows: 700 },
    )
    .unwrap();
    assert_eq!(sum.rows, 10_000);
    assert!(sum.batches >= 15, "{sum:?}");

    let out = d.join("out.parquet");
    let e = export_parquet(&db, "SELECT name, v FROM pq_in", &out).unwrap();
    assert_eq!(e.rows, 10_000);
    let back: Vec<RecordBatch> =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            std::fs::File::open(&out).unwrap(),
        )
        .unwrap()
        .build()
        .unwrap()
        .map(|b| b.unwrap())
        .collect();
    let back = arrow::compute::concat_batches(&back[0].schema(), &back).unwrap();
    for c in ["name", "v"] {
        let got = cells(
            back.column_by_name(c).unwrap(),
            back.column_by_name(c).unwrap().data_type(),
        );
        let want = cells(
            b.column_by_name(c).unwrap(),
            b.column_by_name(c).unwrap().data_type(),
        );
        assert_eq!(got, want, "{c}");
    }
    // A missing file and a failing query name what is wrong.
    let e = ingest_parquet_with(
        &db,
        d.join("nope.parquet"),
        "pq_in",
        &IngestOptions::new(),
        ParquetOptions::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("nope.parquet"), "{e}");
    assert!(export_parquet(&db, "SELEC", d.join("bad.parquet")).is_err());
    assert!(!d.join("bad.parquet").exists());
    let _ = std::fs::remove_dir_all(&d);
}

/// Frames above `PARALLEL_DECODE_MIN_BYTES` have their columns decoded in
/// parallel; the result is the same as what was written.
#[test]
fn large_frames_decode_in_parallel_to_the_same_data() {
    let (_srv, db) = start(Server::builder().max_batch_rows(50_000));
    fill(&db, "q_par", 100_000);
    let mut r = db.borrow_reader().unwrap();
    // Observe the frame sizes on the wire first: they must reach the
    // parallel path.
    let mut cur = r.execute("SELECT * FROM q_par").unwrap();
    let batches = cur.fetch_all_arrow().unwrap();
    drop(cur);
    assert_eq!(batches.len(), 2);
    let bytes: usize = batches[0]
        .columns()
        .iter()
        .map(|c| c.get_buffer_memory_size())
        .sum();
    assert!(
        bytes >= questdb_arrow::client::query::PARALLEL_DECODE_MIN_BYTES,
        "{bytes}"
    );
    assert_eq!(ids(&batches), (0..100_000).collect::<Vec<i64>>());
    let px: Vec<Option<String>> = batches
        .iter()
        .flat_map(|b| cells(b.column_by_name("px").unwrap(), &DataType::Float64))
        .collect();
    let want_arr: ArrayRef = Arc::new(Float64Array::from_iter(
        (0..100_000).map(|i| (i % 7 != 0).then_some(i as f64 * 0.5)),
    ));
    let want = cells(&want_arr, &DataType::Float64);
    assert_eq!(px, want);
}

/// `initial_credit` in the connect string is every query's byte credit
/// (what a request's credit does is tested by the credit tests above).
#[test]
fn initial_credit_from_the_connect_string_is_each_querys_credit() {
    let srv = Server::builder().bind("127.0.0.1:0").start().unwrap();
    for (extra, want) in [("", 0u64), ("initial_credit=4k;", 4096)] {
        let conf = Conf::parse(&format!("{}{extra}", srv.conf_string())).unwrap();
        let mut reader = questdb_arrow::client::Reader::connect(&conf).unwrap();
        let q = format!("{:?}", reader.prepare("SELECT 1"));
        assert!(
            q.contains(&format!("initial_credit: {want},")),
            "{extra}: {q}"
        );
    }
}

/// Raw results are decoded on the receiving thread, zstd ones on a
/// decoding thread behind it: both give the same rows, with NULLs,
/// symbols shared across batches and CACHE_RESET between batches; so do
/// a small byte credit, a cancel mid-stream and the reuse after it.
#[test]
fn raw_and_zstd_read_ahead_agree_across_cache_resets() {
    let srv = Server::builder()
        .bind("127.0.0.1:0")
        .max_batch_rows(37)
        .dict_caps(3, 1 << 20)
        .start()
        .unwrap();
    let plain = QuestDb::connect(&srv.conf_string()).unwrap();
    let n = 3_000;
    fill(&plain, "q_stages", n);
    let zstd = QuestDb::connect(&format!(
        "{}compression=zstd;compression_level=1;",
        srv.conf_string()
    ))
    .unwrap();
    let sql = "SELECT * FROM q_stages";
    let rows = |batches: &[RecordBatch]| -> Vec<Vec<Option<String>>> {
        ["sym", "px"]
            .iter()
            .map(|c| {
                batches
                    .iter()
                    .flat_map(|b| {
                        let a = b.column_by_name(c).unwrap();
                        let t = if *c == "sym" {
                            DataType::Utf8
                        } else {
                            DataType::Float64
                        };
                        cells(a, &t)
                    })
                    .collect()
            })
            .collect()
    };
    let want = vec![
        (0..n)
            .map(|i| (i % 5 != 0).then(|| ["a", "b", "c", "d"][i % 4].to_string()))
            .collect::<Vec<_>>(),
        cells(
            &(Arc::new(Float64Array::from_iter(
                (0..n).map(|i| (i % 7 != 0).then_some(i as f64 * 0.5)),
            )) as ArrayRef),
            &DataType::Float64,
        ),
    ];
    let raw = plain.query_arrow(sql).unwrap().fetch_all_arrow().unwrap();
    assert_eq!(raw.len(), n.div_ceil(37));
    assert_eq!(ids(&raw), (0..n as i64).collect::<Vec<_>>());
    assert_eq!(rows(&raw), want);
    let z = zstd.query_arrow(sql).unwrap().fetch_all_arrow().unwrap();
    assert_eq!(ids(&z), ids(&raw));
    assert_eq!(rows(&z), want);
    for db in [&plain, &zstd] {
        let mut r = db.borrow_reader().unwrap();
        // A credit smaller than one frame: the server waits for each grant.
        let credited = r
            .prepare(sql)
            .initial_credit(256)
            .execute()
            .unwrap()
            .fetch_all_arrow()
            .unwrap();
        assert_eq!(rows(&credited), want);
        let mut cur = r.prepare(sql).initial_credit(1024).execute().unwrap();
        assert_eq!(cur.next_arrow_batch().unwrap().unwrap().num_rows(), 37);
        cur.cancel().unwrap();
        assert!(cur.next_arrow_batch().unwrap().is_none());
        drop(cur);
        // The same connection, in a known state after the cancel.
        let again = r.execute(sql).unwrap().fetch_all_arrow().unwrap();
        assert_eq!(rows(&again), want);
    }
}

/// `Query::read_ahead(n)`: once the receiving thread waits with a batch it
/// cannot hand over, it has decoded the batches the cursor took off the
/// queue, the `n` queued and the one it holds, and no more (it reads
/// nothing further until a slot frees). `decode_on_demand(true)`: once it
/// waits, it has decoded only the batches taken. Raw and zstd results
/// alike, on owned cursors (`query_owned`) too; the rows all arrive, in
/// order.
#[test]
fn read_ahead_decodes_no_further_than_asked() {
    let srv = Server::builder()
        .bind("127.0.0.1:0")
        .max_batch_rows(10)
        .start()
        .unwrap();
    let plain = QuestDb::connect(&srv.conf_string()).unwrap();
    fill(&plain, "q_ahead", 200);
    let zstd = QuestDb::connect(&format!(
        "{}compression=zstd;compression_level=1;",
        srv.conf_string()
    ))
    .unwrap();
    for (what, db) in [("raw", &plain), ("zstd", &zstd)] {
        for (n, on_demand) in [(0, false), (1, false), (3, false), (0, true), (2, true)] {
            let how = format!("{what} read_ahead({n}) on_demand={on_demand}");
            let mut cur = db
                .query_owned("SELECT * FROM q_ahead")
                .unwrap()
                .read_ahead(n)
                .decode_on_demand(on_demand)
                .execute()
                .unwrap();
            // `execute` took the first batch off the queue (for the
            // schema); this hands it out.
            let mut batches = vec![cur.next_arrow_batch().unwrap().unwrap()];
            for taken in 1..=3u64 {
                let want = if on_demand {
                    taken
                } else {
                    taken + n as u64 + 1
                };
                // Read the count first: a later `waits_for_caller` is not
                // the flag of the hand-off before it.
                eventually(&format!("{how}: waits with {want} decoded"), || {
                    cur.batches_decoded() >= want && cur.waits_for_caller()
                });
                assert_eq!(cur.batches_decoded(), want, "{how} with {taken} taken");
                batches.push(cur.next_arrow_batch().unwrap().unwrap());
            }
            batches.extend(cur.fetch_all_arrow().unwrap());
            assert_eq!(batches.len(), 20, "{how}");
            assert_eq!(ids(&batches), (0..200).collect::<Vec<_>>(), "{how}");
            assert_eq!(cur.batches_decoded(), 20, "{how}");
            assert!(!cur.waits_for_caller(), "{how}");
        }
    }
    drop(plain);
    drop(zstd);
}
