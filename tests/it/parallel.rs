//! One logical ingest over several connections, and a query read as
//! disjoint time ranges on several connections.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow::array::{AsArray, Float64Array, Int64Array, RecordBatch, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Int64Type, Schema, TimeUnit};
use arrow::error::ArrowError;
use questdb_arrow::ErrorKind;
use questdb_arrow::client::{IngestOptions, QuestDb};
use questdb_arrow::server::Server;

use crate::support::rows;

fn ids(batches: &[RecordBatch]) -> Vec<i64> {
    let mut v = Vec::new();
    for b in batches {
        let i = b.schema().index_of("id").unwrap();
        v.extend(b.column(i).as_primitive::<Int64Type>().values().iter());
    }
    v.sort();
    v
}

#[test]
fn ingest_over_several_connections_commits_every_batch_once() {
    let srv = Server::builder().bind("127.0.0.1:0").start().unwrap();
    let db = QuestDb::connect(&srv.conf_string()).unwrap();
    let acked = Arc::new(AtomicU64::new(0));
    let a2 = acked.clone();
    let opts = IngestOptions::new()
        .timestamp_column("ts")
        .connections(3)
        .on_progress(move |p| {
            a2.fetch_max(p.rows_acked, Ordering::SeqCst);
        });
    let before = srv.connections_accepted();
    let summary = db
        .ingest_batches("t", (0..60).map(|k| rows(k * 500..(k + 1) * 500)), &opts)
        .unwrap();
    assert_eq!((summary.rows, summary.batches), (30_000, 60));
    // The progress callback sees the sum over the connections.
    assert_eq!(acked.load(Ordering::SeqCst), 30_000);
    assert!(srv.connections_accepted() - before >= 3);
    assert_eq!(db.borrowed_senders(), 0);
    let got = ids(&db
        .query_arrow("SELECT id FROM t")
        .unwrap()
        .fetch_all_arrow()
        .unwrap());
    assert_eq!(got, (0..30_000).collect::<Vec<_>>());
}

#[test]
fn a_failing_connection_stops_the_ingest_with_its_error() {
    let srv = Server::builder().bind("127.0.0.1:0").start().unwrap();
    let db = QuestDb::connect(&srv.conf_string()).unwrap();
    // Batch 20 changes the type of `id`: the server rejects it.
    let bad = {
        let schema = Arc::new(Schema::new(vec![
            Field::new(
                "ts",
                DataType::Timestamp(TimeUnit::Microsecond, None),
                false,
            ),
            Field::new("id", DataType::Float64, false),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(TimestampMicrosecondArray::from_iter_values([
                    1_800_000_000_000_000,
                ])),
                Arc::new(Float64Array::from_iter_values([0.5])),
            ],
        )
        .unwrap()
    };
    let input = (0..200).map(|k| {
        if k == 20 {
            bad.clone()
        } else {
            rows(k * 10..(k + 1) * 10)
        }
    });
    let e = db
        .ingest_batches(
            "t",
            input,
            &IngestOptions::new().timestamp_column("ts").connections(2),
        )
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Server, "{e}");
    assert!(e.to_string().contains("ingest over 2 connections"), "{e}");
    // It stopped early: not all 199 good batches went in.
    let n = db
        .query_arrow("SELECT id FROM t")
        .unwrap()
        .fetch_all_arrow()
        .unwrap()
        .iter()
        .map(|b| b.num_rows())
        .sum::<usize>();
    assert!(n < 1990, "{n} rows");
    // And an input error is the caller's, named as such.
    let input = (0..10).map(|k| {
        if k == 5 {
            Err(ArrowError::ComputeError("bad input".into()))
        } else {
            Ok(rows(100_000 + k * 10..100_000 + (k + 1) * 10))
        }
    });
    let e = db
        .ingest("u", input, &IngestOptions::new().connections(2))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidData, "{e}");
    assert!(e.to_string().contains("reading input batch 5"), "{e}");
    assert_eq!(db.borrowed_senders(), 0);
}

#[test]
fn query_partitioned_reads_every_row_once() {
    let srv = Server::builder()
        .bind("127.0.0.1:0")
        .max_batch_rows(1000)
        .start()
        .unwrap();
    let db = QuestDb::connect(&srv.conf_string()).unwrap();
    // A designated timestamp (stored as `timestamp`), and a second one with
    // NULLs every 7th row.
    let n = 20_000i64;
    let schema = Arc::new(Schema::new(vec![
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            false,
        ),
        Field::new("id", DataType::Int64, false),
        Field::new("t2", DataType::Timestamp(TimeUnit::Microsecond, None), true),
    ]));
    let b = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(TimestampMicrosecondArray::from_iter_values(
                (0..n).map(|i| 1_700_000_000_000_000 + i * 1000),
            )),
            Arc::new(Int64Array::from_iter_values(0..n)),
            Arc::new(TimestampMicrosecondArray::from_iter((0..n).map(|i| {
                (i % 7 != 0).then_some(1_600_000_000_000_000 + (n - i))
            }))),
        ],
    )
    .unwrap();
    db.ingest_batches("p", [b], &IngestOptions::new().timestamp_column("ts"))
        .unwrap();
    let all: Vec<i64> = (0..n).collect();
    for (col, parts) in [("timestamp", 4usize), ("t2", 3)] {
        let before = srv.connections_accepted();
        let mut p = db.query_partitioned("SELECT * FROM p", col, parts).unwrap();
        assert_eq!(p.partitions(), parts);
        assert_eq!(p.schema().fields().len(), 3);
        let got = p.fetch_all_arrow().unwrap();
        assert_eq!(ids(&got), all, "partitioned on {col}");
        assert!(srv.connections_accepted() - before >= parts);
    }
    // A filtered query, an empty result, a column that is not a timestamp.
    let mut p = db
        .query_partitioned("SELECT * FROM p WHERE id < 100", "timestamp", 8)
        .unwrap();
    assert_eq!(
        ids(&p.fetch_all_arrow().unwrap()),
        (0..100).collect::<Vec<_>>()
    );
    let mut p = db
        .query_partitioned("SELECT * FROM p WHERE id < 0", "timestamp", 8)
        .unwrap();
    assert_eq!(p.partitions(), 1);
    assert!(ids(&p.fetch_all_arrow().unwrap()).is_empty());
    let e = db
        .query_partitioned("SELECT * FROM p", "id", 2)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
    // Dropped half-way: the connections close, nothing hangs.
    let mut p = db
        .query_partitioned("SELECT * FROM p", "timestamp", 4)
        .unwrap();
    assert!(p.next_arrow_batch().unwrap().is_some());
    drop(p);
    // As a RecordBatchReader.
    let p = db.query_partitioned("SELECT id FROM p", "id", 1);
    assert!(p.is_err(), "id is not a timestamp");
    let reader = db
        .query_partitioned("SELECT * FROM p", "timestamp", 2)
        .unwrap();
    let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
    let unique: BTreeSet<i64> = ids(&batches).into_iter().collect();
    assert_eq!(unique.len(), n as usize);
}
