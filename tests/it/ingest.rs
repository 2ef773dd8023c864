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
