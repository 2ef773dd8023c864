//! Arrow ingest against the embedded server: one batch with
//! `flush_arrow_batch` (with column overrides), then a `RecordBatchReader`
//! streamed with `ingest` and a progress callback.
//!
//! Run: `cargo run --release --features server --example ingest_arrow [ROWS]`

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow::array::{
    ArrayRef, Float64Array, RecordBatch, RecordBatchIterator, StringArray,
    TimestampMicrosecondArray, UInt32Array,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use questdb_arrow::client::{AckLevel, ColumnOverride, IngestOptions, QuestDb};
use questdb_arrow::server::Server;

const BATCH_ROWS: usize = 50_000;

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            false,
        ),
        Field::new("host", DataType::Utf8, false),
        Field::new("ip", DataType::UInt32, false),
        Field::new("load", DataType::Float64, true),
    ]))
}

fn batch(start: usize, n: usize) -> RecordBatch {
    let cols: Vec<ArrayRef> = vec![
        Arc::new(TimestampMicrosecondArray::from_iter_values(
            (start..start + n).map(|i| 1_700_000_000_000_000 + i as i64 * 250),
        )),
        Arc::new(StringArray::from_iter_values(
            (start..start + n).map(|i| format!("host-{}", i % 16)),
        )),
        Arc::new(UInt32Array::from_iter_values(
            (start..start + n).map(|i| 0x0A00_0000 | (i % 16) as u32),
        )),
        Arc::new(Float64Array::from_iter(
            (start..start + n).map(|i| (i % 10 != 0).then_some((i % 100) as f64 / 100.0)),
        )),
    ];
    RecordBatch::try_new(schema(), cols).expect("valid batch")
}

fn main() -> questdb_arrow::Result<()> {
    let rows: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(500_000);
    let server = Server::builder().bind("127.0.0.1:0").start()?;
    // One handle per process: lazy (this does not connect) and pooled.
    let db = QuestDb::connect(&server.conf_string())?;

    // Plain strings become SYMBOL and a UInt32 becomes IPv4 by override.
    let overrides = [
        ("host", ColumnOverride::Symbol),
        ("ip", ColumnOverride::Ipv4),
    ];
    let one = db.flush_arrow_batch(
        "metrics",
        &batch(0, 1000),
        Some("ts"),
        &overrides,
        AckLevel::Ok,
    )?;
    println!(
        "flush_arrow_batch: {} rows in {} frame(s)",
        one.rows, one.frames
    );

    // A RecordBatchReader streamed with pipelined frames and bounded memory.
    let reader = RecordBatchIterator::new(
        (1000..rows)
            .step_by(BATCH_ROWS)
            .map(move |s| Ok(batch(s, BATCH_ROWS.min(rows - s)))),
        schema(),
    );
    let acked = Arc::new(AtomicU64::new(0));
    let seen = acked.clone();
    let opts = IngestOptions::new()
        .timestamp_column("ts")
        .column_override("host", ColumnOverride::Symbol)
        .column_override("ip", ColumnOverride::Ipv4)
        .on_progress(move |p| seen.store(p.rows_acked, Ordering::Relaxed));
    let sum = db.ingest("metrics", reader, &opts)?;
    println!(
        "ingest: {} rows in {} batches, {} frames, {:.1} MB, {:.3} s = {:.0} rows/s (progress saw {} rows acknowledged)",
        sum.rows,
        sum.batches,
        sum.frames,
        sum.bytes as f64 / 1e6,
        sum.elapsed.as_secs_f64(),
        sum.rows_per_sec(),
        acked.load(Ordering::Relaxed)
    );
    let stored = server.table_batch("metrics").map_or(0, |b| b.num_rows());
    println!("the server's table `metrics` holds {stored} rows");
    assert_eq!(stored, rows);
    Ok(())
}
