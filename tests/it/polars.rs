//! polars DataFrames through the embedded server: flush_polars_dataframe,
//! next_polars / iter_polars / fetch_all_polars.

use std::sync::Arc;

use arrow::array::{Array, AsArray, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType as ArrowType, Field, Schema};
use polars::prelude::*;
use questdb_arrow::ErrorKind;
use questdb_arrow::client::{ColumnOverride, QuestDb};
use questdb_arrow::polars_io::{DataFrames, PolarsIngestOptions, dataframe_to_batches};
use questdb_arrow::server::{Server, ServerHandle};

fn start(max_batch_rows: usize) -> (ServerHandle, QuestDb) {
    let srv = Server::builder()
        .max_batch_rows(max_batch_rows)
        .bind("127.0.0.1:0")
        .start()
        .unwrap();
    let db = QuestDb::connect(&srv.conf_string()).unwrap();
    (srv, db)
}

const N: usize = 23;
const T0_US: i64 = 1_700_000_000_000_000;

/// Every 4th value null (but never the timestamp).
fn opt<T>(i: usize, v: T) -> Option<T> {
    (i % 4 != 1).then_some(v)
}

fn col<T: Copy>(name: &str, f: impl Fn(usize) -> T) -> Vec<Option<T>> {
    let _ = name;
    (0..N).map(|i| opt(i, f(i))).collect()
}

fn cast(s: Series, dt: &DataType) -> Series {
    s.cast(dt).unwrap()
}

/// A frame with every dtype the connector maps, nulls in each but `ts`.
fn every_dtype() -> DataFrame {
    let n = |name: &str| PlSmallStr::from(name);
    let words = ["alpha", "beta", "gamma", "delta"];
    let strings: Vec<Option<&str>> = (0..N).map(|i| opt(i, words[i % 4])).collect();
    let berlin = TimeZone::opt_try_new(Some(PlSmallStr::from("Europe/Berlin"))).unwrap();
    let lists: ListChunked = (0..N)
        .map(|i| opt(i, Series::new(n(""), &[i as f64, -(i as f64) / 2.0])))
        .collect();
    let columns = vec![
        cast(
            Series::new(
                n("ts"),
                (0..N).map(|i| T0_US + i as i64 * 1_000).collect::<Vec<_>>(),
            ),
            &DataType::Datetime(TimeUnit::Microseconds, None),
        ),
        Series::new(n("b"), col("b", |i| i % 3 == 0)),
        Series::new(n("i8"), col("i8", |i| i as i8 - 10)),
        Series::new(n("i16"), col("i16", |i| i as i16 * -300)),
        Series::new(n("i32"), col("i32", |i| i as i32 * 100_000)),
        Series::new(n("i64"), col("i64", |i| i as i64 * 10_000_000_000)),
        Series::new(n("u8"), col("u8", |i| 200 + i as u8)),
        Series::new(n("u16"), col("u16", |i| 60_000 + i as u16)),
        Series::new(n("u32"), col("u32", |i| 4_000_000_000 + i as u32)),
        Series::new(n("u64"), col("u64", |i| 1u64 << 40 | i as u64)),
        Series::new(n("f32"), col("f32", |i| i as f32 * 0.25)),
        Series::new(n("f64"), col("f64", |i| i as f64 * -1.5e10)),
        Series::new(n("s"), strings.clone()),
        cast(
            Series::new(n("cat"), strings.clone()),
            &DataType::from_categories(Categories::global()),
        ),
        cast(
            Series::new(n("en"), strings.clone()),
            &DataType::from_frozen_categories(FrozenCategories::new(words).unwrap()),
        ),
        Series::new(
            n("bin"),
            (0..N)
                .map(|i| opt(i, vec![i as u8, 0, 255]))
                .collect::<Vec<_>>(),
        ),
        cast(
            Series::new(
                n("dt_ns_tz"),
                col("", |i| 1_700_000_000_123_456_789 + i as i64),
            ),
            &DataType::Datetime(TimeUnit::Nanoseconds, berlin),
        ),
        cast(
            Series::new(
                n("dt_ms"),
                col("", |i| 1_600_000_000_000 + i as i64 * 61_000),
            ),
            &DataType::Datetime(TimeUnit::Milliseconds, None),
        ),
        cast(
            Series::new(n("d"), col("", |i| 19_000 + i as i32)),
            &DataType::Date,
        ),
        cast(
            Series::new(n("dur"), col("", |i| i as i64 * 1_500)),
            &DataType::Duration(TimeUnit::Milliseconds),
        ),
        cast(
            Series::new(n("dec"), col("", |i| i as f64 * 1.125 - 3.0)),
            &DataType::Decimal(18, 3),
        ),
        lists.with_name(n("arr")).into_series(),
    ];
    DataFrame::new_infer_height(columns.into_iter().map(Column::from).collect()).unwrap()
}

/// What each column comes back as, by the documented mapping.
fn expected_dtype(name: &str, sent: &DataType) -> DataType {
    let utc = TimeZone::opt_try_new(Some(PlSmallStr::from("UTC"))).unwrap();
    match name {
        "u8" => DataType::Int16,
        "u16" => DataType::Int32,
        "u32" | "u64" | "dur" => DataType::Int64,
        "ts" | "dt_ms" => DataType::Datetime(TimeUnit::Microseconds, utc),
        "dt_ns_tz" => DataType::Datetime(TimeUnit::Nanoseconds, utc),
        "d" => DataType::Datetime(TimeUnit::Milliseconds, None),
        "dec" => DataType::Decimal(38, 3),
        _ => sent.clone(),
    }
}

/// A comparable form: categories as strings, temporals and decimals as
/// their numbers in the received unit.
fn comparable(s: &Series, unit_of: &DataType) -> Series {
    match (s.dtype(), unit_of) {
        (DataType::Categorical(..) | DataType::Enum(..), _) => cast(s.clone(), &DataType::String),
        (DataType::Decimal(..), _) => cast(s.clone(), &DataType::Float64),
        (DataType::Datetime(_, tz), DataType::Datetime(unit, _)) => {
            let same_tz = DataType::Datetime(*unit, tz.clone());
            cast(
                cast(s.clone(), &same_tz).to_physical_repr().into_owned(),
                &DataType::Int64,
            )
        }
        (DataType::Date, DataType::Datetime(unit, _)) => cast(
            cast(s.clone(), &DataType::Datetime(*unit, None))
                .to_physical_repr()
                .into_owned(),
            &DataType::Int64,
        ),
        (DataType::Datetime(..) | DataType::Duration(_), _) => {
            cast(s.to_physical_repr().into_owned(), &DataType::Int64)
        }
        (_, DataType::Categorical(..)) => s.clone(),
        _ => cast(s.clone(), unit_of),
    }
}

#[test]
fn every_dtype_round_trips_with_nulls() {
    let (_srv, db) = start(10);
    let sent = every_dtype();
    println!("sent:\n{sent}");
    let sum = db
        .flush_polars_dataframe(
            "pl_all",
            &sent,
            &PolarsIngestOptions::new()
                .max_rows(7)
                .timestamp_column("ts"),
        )
        .unwrap();
    assert_eq!(sum.rows, N as u64);
    assert_eq!(sum.batches, 4, "23 rows in slices of 7");

    let got = db
        .query_arrow("SELECT * FROM pl_all")
        .unwrap()
        .fetch_all_polars()
        .unwrap();
    println!("received:\n{got}");
    // The tz-aware and categorical columns, displayed on their own.
    let show = |df: &DataFrame, cols: [&str; 4]| format!("{}", df.select(cols).unwrap());
    let sent_tz = show(&sent, ["ts", "dt_ns_tz", "cat", "en"]);
    let got_tz = show(&got, ["timestamp", "dt_ns_tz", "cat", "en"]);
    println!("{sent_tz}\n{got_tz}");
    let one = |df: &DataFrame| format!("{}", df.select(["dt_ns_tz"]).unwrap());
    let (sent_tz, got_tz) = (one(&sent), one(&got));
    assert!(sent_tz.contains("datetime[ns, Europe/Berlin]"), "{sent_tz}");
    let first = |df: &DataFrame| format!("{}", df.column("dt_ns_tz").unwrap().get(0).unwrap());
    assert_eq!(first(&sent), "2023-11-14 23:13:20.123456789 CET");
    assert!(got_tz.contains("datetime[ns, UTC]"), "{got_tz}");
    assert_eq!(first(&got), "2023-11-14 22:13:20.123456789 UTC");
    assert_eq!(got.height(), N);
    // QWP carries the designated timestamp without a name; a new table
    // calls it `timestamp`, as QuestDB does.
    let timestamp = PlSmallStr::from_static("timestamp");
    let mut names = sent.get_column_names();
    names[0] = &timestamp;
    assert_eq!(got.get_column_names(), names);
    for c in sent.columns() {
        let name = c.name().as_str();
        let s = c.as_materialized_series();
        let g = got
            .column(if name == "ts" { "timestamp" } else { name })
            .unwrap()
            .as_materialized_series();
        let want = expected_dtype(name, s.dtype());
        match (&want, g.dtype()) {
            (DataType::Categorical(..) | DataType::Enum(..), DataType::Categorical(..)) => {}
            (w, g) => assert_eq!(w, g, "column {name}"),
        }
        // QuestDB stores no NULL in BOOLEAN / BYTE / SHORT: those arrive as
        // false / 0.
        let s = &match name {
            "b" => s
                .bool()
                .unwrap()
                .fill_null_with_values(false)
                .unwrap()
                .into_series(),
            "i8" | "i16" | "u8" => s.fill_null(FillNullStrategy::Zero).unwrap(),
            _ => s.clone(),
        };
        assert_eq!(g.null_count(), s.null_count(), "column {name} nulls");
        let (a, b) = (comparable(s, g.dtype()), comparable(g, g.dtype()));
        assert!(a.equals_missing(&b), "column {name}:\nsent {a}\ngot {b}");
    }
}

#[test]
fn string_override_to_symbol_and_slices_by_max_rows() {
    let (_srv, db) = start(1000);
    let df = df!(
        "sym" => (0..1000).map(|i| format!("k{}", i % 3)).collect::<Vec<_>>(),
        "v" => (0..1000i64).collect::<Vec<_>>()
    )
    .unwrap();
    let sum = db
        .flush_polars_dataframe(
            "pl_sym",
            &df,
            &PolarsIngestOptions::new()
                .max_rows(300)
                .overrides(&[("sym", ColumnOverride::Symbol)]),
        )
        .unwrap();
    assert_eq!((sum.rows, sum.batches), (1000, 4));
    let got = db
        .query_arrow("SELECT sym, count(*) AS n FROM pl_sym GROUP BY sym ORDER BY sym")
        .unwrap()
        .fetch_all_polars()
        .unwrap();
    println!("{got}");
    assert!(matches!(
        got.column("sym").unwrap().dtype(),
        DataType::Categorical(..)
    ));
    let n: Vec<i64> = got
        .column("n")
        .unwrap()
        .i64()
        .unwrap()
        .into_no_null_iter()
        .collect();
    assert_eq!(n, vec![334, 333, 333]);
}

/// Query batches share the connection's symbol dictionary, values no row
/// uses included; polars gets the right strings from every batch.
#[test]
fn shared_symbol_dictionaries_read_into_polars() {
    let (_srv, db) = start(100);
    let name = |i: i64| format!("k{}", (i * 7) % 50);
    let df = df!(
        "sym" => (0..500).map(name).collect::<Vec<_>>(),
        "v" => (0..500i64).collect::<Vec<_>>()
    )
    .unwrap();
    db.flush_polars_dataframe(
        "pl_dict",
        &df,
        &PolarsIngestOptions::new().overrides(&[("sym", ColumnOverride::Symbol)]),
    )
    .unwrap();
    // The first query fills the connection dictionary (5 batches); the
    // second, on the same connection, uses one of its 50 values.
    let all = "SELECT sym, v FROM pl_dict ORDER BY v";
    let few = "SELECT sym, v FROM pl_dict WHERE v % 50 = 3 ORDER BY v";
    let mut r = db.borrow_reader().unwrap();
    let got_all = r.execute(all).unwrap().fetch_all_polars().unwrap();
    let mut cur = r.execute(few).unwrap();
    let b = cur.next_arrow_batch().unwrap().unwrap();
    let dict = b.column_by_name("sym").unwrap().as_any_dictionary();
    assert_eq!(dict.values().len(), 50, "the whole connection dictionary");
    let first = questdb_arrow::polars_io::batch_to_dataframe(&b).unwrap();
    let mut got_few = first.clone();
    for df in cur.iter_polars() {
        got_few.vstack_mut_owned(df.unwrap()).unwrap();
    }
    for (got, rows) in [
        (got_all, (0..500).collect::<Vec<i64>>()),
        (got_few, (0..500).filter(|v| v % 50 == 3).collect()),
    ] {
        let col = got.column("sym").unwrap();
        assert!(matches!(col.dtype(), DataType::Categorical(..)));
        let s = col.cast(&DataType::String).unwrap();
        let s = s.str().unwrap();
        let s: Vec<String> = (0..s.len())
            .map(|i| s.get(i).unwrap().to_string())
            .collect();
        assert_eq!(s, rows.into_iter().map(name).collect::<Vec<_>>());
    }
}

#[test]
fn unsupported_column_fails_before_anything_is_sent() {
    let (_srv, db) = start(1000);
    let df = df!(
        "ok" => [1i64, 2, 3],
        "t" => [1i64, 2, 3]
    )
    .unwrap();
    let mut df = df;
    df.apply("t", |c| c.cast(&DataType::Time).unwrap()).unwrap();
    let err = db
        .flush_polars_dataframe("pl_bad", &df, &PolarsIngestOptions::new().max_rows(1))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
    assert!(err.to_string().contains("\"t\""), "{err}");
    let err = db.query_arrow("SELECT * FROM pl_bad").unwrap_err();
    assert!(
        err.to_string().contains("pl_bad"),
        "nothing was created: {err}"
    );
    let empty = DataFrame::empty();
    let err = db
        .flush_polars_dataframe("pl_bad", &empty, &PolarsIngestOptions::new())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
}

#[test]
fn cursor_streams_dataframes_and_fetch_all_handles_empty_results() {
    let (_srv, db) = start(100);
    let df = df!("id" => (0..1000i64).collect::<Vec<_>>(), "x" => (0..1000).map(|i| i as f64).collect::<Vec<_>>()).unwrap();
    db.flush_polars_dataframe("pl_stream", &df, &PolarsIngestOptions::new())
        .unwrap();

    let mut cur = db.query_arrow("SELECT * FROM pl_stream").unwrap();
    let first = cur.next_polars().unwrap().unwrap();
    assert_eq!(first.height(), 100);
    let mut rows = first.height();
    let mut frames = 1;
    for f in cur.iter_polars() {
        let f = f.unwrap();
        assert_eq!(f.get_column_names(), first.get_column_names());
        rows += f.height();
        frames += 1;
    }
    assert_eq!((rows, frames), (1000, 10));

    let all = db
        .query_arrow("SELECT id, x FROM pl_stream")
        .unwrap()
        .fetch_all_polars()
        .unwrap();
    assert!(all.equals_missing(&df), "{all}");

    let none = db
        .query_arrow("SELECT id, x FROM pl_stream WHERE id < 0")
        .unwrap()
        .fetch_all_polars()
        .unwrap();
    assert_eq!(none.height(), 0);
    assert_eq!(none.get_column_names(), df.get_column_names());
    assert_eq!(none.column("x").unwrap().dtype(), &DataType::Float64);
}

#[test]
fn schema_drift_between_batches_is_an_error() {
    let one = |name: &str, ty: ArrowType| {
        let field = Field::new(name, ty.clone(), true);
        let array: Arc<dyn arrow::array::Array> = match ty {
            ArrowType::Int64 => Arc::new(Int64Array::from(vec![1, 2])),
            _ => Arc::new(StringArray::from(vec!["a", "b"])),
        };
        RecordBatch::try_new(Arc::new(Schema::new(vec![field])), vec![array]).unwrap()
    };
    let batches = vec![
        Ok(one("a", ArrowType::Int64)),
        Ok(one("a", ArrowType::Int64)),
        Ok(one("a", ArrowType::Utf8)),
        Ok(one("a", ArrowType::Int64)),
    ];
    let mut it = DataFrames::new(batches.into_iter());
    assert_eq!(it.next().unwrap().unwrap().height(), 2);
    assert!(it.next().unwrap().is_ok());
    let err = it.next().unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidData);
    let msg = err.to_string();
    assert!(
        msg.contains("schema drift") && msg.contains("batch 2"),
        "{msg}"
    );
    assert!(msg.contains("a: Utf8") && msg.contains("a: Int64"), "{msg}");
    assert!(it.next().is_none(), "iteration stops at the drift");

    let renamed = vec![
        Ok(one("a", ArrowType::Int64)),
        Ok(one("b", ArrowType::Int64)),
    ];
    let mut it = DataFrames::new(renamed.into_iter());
    assert!(it.next().unwrap().is_ok());
    assert!(it.next().unwrap().is_err());
}

#[test]
fn conversion_shares_buffers_and_slices() {
    let df = df!("v" => (0..10i64).collect::<Vec<_>>()).unwrap();
    let batches = dataframe_to_batches(&df, 4).unwrap();
    let lens: Vec<usize> = batches.iter().map(|b| b.num_rows()).collect();
    assert_eq!(lens, vec![4, 4, 2]);
    let values = df
        .column("v")
        .unwrap()
        .i64()
        .unwrap()
        .cont_slice()
        .unwrap()
        .as_ptr();
    let first = batches[0]
        .column(0)
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap();
    assert_eq!(first.values().as_ptr(), values, "no copy");
    let last = batches[2]
        .column(0)
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap();
    assert_eq!(last.values().to_vec(), vec![8, 9]);
}

#[test]
fn every_questdb_column_type_reads_into_polars() {
    let (_srv, db) = start(64);
    let (batch, _) = crate::every_type::every_type(300, T0_US);
    db.flush_arrow_batch(
        "pl_every",
        &batch,
        Some("ts"),
        &[],
        questdb_arrow::client::AckLevel::Ok,
    )
    .unwrap();
    let df = db
        .query_arrow("SELECT * FROM pl_every")
        .unwrap()
        .fetch_all_polars()
        .unwrap();
    println!("{df}");
    assert_eq!(df.height(), 300);
    let stored = db.query_arrow("SELECT * FROM pl_every").unwrap().schema();
    assert_eq!(df.width(), stored.fields().len());
    for (name, want) in [
        ("uuid", DataType::String),
        ("long256", DataType::String),
        ("binary", DataType::Binary),
        ("char", DataType::UInt16),
        ("geohash", DataType::Int64),
        ("list_i64", DataType::List(Box::new(DataType::Int64))),
    ] {
        assert_eq!(df.column(name).unwrap().dtype(), &want, "column {name}");
    }
    // The text forms of UUID and LONG256 match the Arrow bytes.
    let arrow = db
        .query_arrow("SELECT uuid, long256 FROM pl_every")
        .unwrap()
        .fetch_all_arrow()
        .unwrap();
    use arrow::array::Array as _;
    let u = arrow[0]
        .column(0)
        .as_any()
        .downcast_ref::<arrow::array::FixedSizeBinaryArray>()
        .unwrap();
    let text = df.column("uuid").unwrap().str().unwrap();
    for i in 0..u.len().min(20) {
        match text.get(i) {
            None => assert!(u.is_null(i)),
            Some(t) => {
                let hex: String = t.chars().filter(|c| *c != '-').collect();
                let bytes: Vec<u8> = (0..16)
                    .map(|k| u8::from_str_radix(&hex[2 * k..2 * k + 2], 16).unwrap())
                    .collect();
                assert_eq!(bytes, u.value(i), "row {i}");
            }
        }
    }
}

#[test]
fn an_async_sender_publishes_a_dataframe_as_one_transaction() {
    let (srv, db) = start(1000);
    let df = df!(
        "k" => (0..5000).map(|i| format!("k{}", i % 7)).collect::<Vec<_>>(),
        "v" => (0..5000i64).collect::<Vec<_>>()
    )
    .unwrap();
    let mut s = db.async_sender().unwrap();
    let fsn = s.publish_polars("pl_async", &df, None).unwrap();
    assert_eq!(fsn, s.published_fsn());
    s.wait(
        questdb_arrow::client::AckLevel::Ok,
        std::time::Duration::from_secs(30),
    )
    .unwrap();
    s.close().unwrap();
    let b = srv.table_batch("pl_async").unwrap();
    assert_eq!(b.num_rows(), 5000);
    let v = b
        .column(b.schema().index_of("v").unwrap())
        .as_primitive::<arrow::datatypes::Int64Type>();
    assert_eq!(v.values().iter().sum::<i64>(), (0..5000i64).sum::<i64>());
}
