//! The main job on a fresh machine: start the embedded QWP server, ingest a
//! generated W1 stream (timestamp, SYMBOL, 4 DOUBLE, 2 LONG, VARCHAR),
//! export it to Parquet and load that file back into a second table, then
//! query it with SQL (streamed and with binds) and print the first rows.
//!
//! Run: `cargo run --release --features server --example embedded_tour [ROWS]`
//!
//! Ingest streams the batches through `client::QuestDb::ingest` (batches of
//! 100 000 rows, generated lazily, split into frames by exact sizing,
//! pipelined, each batch committed atomically).

use std::sync::Arc;
use std::time::Instant;

use arrow::array::{
    Array, ArrayRef, DictionaryArray, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Int32Type, Schema, TimeUnit};
use questdb_arrow::client::{IngestOptions, QuestDb};
use questdb_arrow::conf::Conf;
use questdb_arrow::server::Server;

const BATCH_ROWS: usize = 100_000;
const SYMBOLS: usize = 64;

/// W1 (design.md): ts, sym (64 values), d1-d4 DOUBLE, l1-l2 LONG, note ~16 B.
fn w1_batch(start: usize, n: usize, seed: &mut u64) -> RecordBatch {
    let mut rnd = || {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    };
    let t0 = 1_700_000_000_000_000i64;
    let ts: TimestampMicrosecondArray = (start..start + n)
        .map(|i| t0 + i as i64 * 1000 + (rnd() % 100) as i64)
        .collect::<Vec<_>>()
        .into();
    let names: Vec<String> = (0..SYMBOLS).map(|i| format!("SYM{i:02}")).collect();
    let sym: DictionaryArray<Int32Type> = (0..n)
        .map(|_| names[(rnd() % SYMBOLS as u64) as usize].as_str())
        .collect();
    let mut fields = vec![
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            false,
        ),
        Field::new("sym", sym.data_type().clone(), false),
    ];
    let mut cols: Vec<ArrayRef> = vec![Arc::new(ts), Arc::new(sym)];
    for i in 1..=4 {
        let v: Float64Array = (0..n)
            .map(|_| (rnd() >> 11) as f64 / (1u64 << 53) as f64 * 100.0)
            .collect::<Vec<_>>()
            .into();
        fields.push(Field::new(format!("d{i}"), DataType::Float64, false));
        cols.push(Arc::new(v));
    }
    for i in 1..=2 {
        let v: Int64Array = (0..n)
            .map(|_| (rnd() % 1_000_000) as i64)
            .collect::<Vec<_>>()
            .into();
        fields.push(Field::new(format!("l{i}"), DataType::Int64, false));
        cols.push(Arc::new(v));
    }
    let note: StringArray = (0..n)
        .map(|_| Some(format!("note-{:011}", rnd() % 100_000_000_000)))
        .collect();
    fields.push(Field::new("note", DataType::Utf8, false));
    cols.push(Arc::new(note));
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).expect("valid batch")
}

fn main() -> questdb_arrow::Result<()> {
    let rows: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let server = Server::builder().bind("127.0.0.1:0").start()?;
    println!(
        "embedded QWP server on {} ({})",
        server.addr(),
        server.conf_string()
    );
    let conf = Conf::parse(&server.conf_string())?;

    let db = QuestDb::from_conf(conf.clone())?;
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    // A lazy stream: each batch is generated when the ingest asks for it.
    let stream = (0..rows)
        .step_by(BATCH_ROWS)
        .map(move |s| w1_batch(s, BATCH_ROWS.min(rows - s), &mut seed));
    let sum = db.ingest_batches("w1", stream, &IngestOptions::new().timestamp_column("ts"))?;
    println!(
        "ingested {} rows in {} batches, {} frames, {:.2} s: {:.0} rows/s, {:.1} MB/s on the wire",
        sum.rows,
        sum.batches,
        sum.frames,
        sum.elapsed.as_secs_f64(),
        sum.rows_per_sec(),
        sum.bytes as f64 / sum.elapsed.as_secs_f64() / 1e6
    );

    // Parquet out and back in: export the table with a streaming query,
    // then load the file into a second table (row groups streamed).
    let dir = std::env::temp_dir().join(format!("qa-tour-{}", std::process::id()));
    std::fs::create_dir_all(&dir)
        .map_err(|e| questdb_arrow::Error::new(questdb_arrow::ErrorKind::Io, e.to_string()))?;
    let file = dir.join("w1.parquet");
    let t = Instant::now();
    let exported = questdb_arrow::parquet_io::export_parquet(&db, "SELECT * FROM w1", &file)?;
    println!(
        "exported {} rows to {} in {:.2} s",
        exported.rows,
        file.display(),
        t.elapsed().as_secs_f64()
    );
    let loaded = questdb_arrow::parquet_io::ingest_parquet(
        &db,
        &file,
        "w1_from_parquet",
        &IngestOptions::new().timestamp_column("timestamp"),
    )?;
    println!(
        "loaded {} rows from Parquet in {:.2} s: {:.0} rows/s",
        loaded.rows,
        loaded.elapsed.as_secs_f64(),
        loaded.rows_per_sec()
    );
    let _ = std::fs::remove_dir_all(&dir);

    // Stream the table back: batches arrive while the previous one is
    // being counted (the cursor reads ahead on its own thread).
    let t = Instant::now();
    let mut cur = db.query_arrow("SELECT * FROM w1")?;
    let mut n = 0;
    while let Some(b) = cur.next_arrow_batch()? {
        n += b.num_rows();
    }
    drop(cur);
    let secs = t.elapsed().as_secs_f64();
    println!(
        "queried {n} rows back in {:.2} s: {:.0} rows/s",
        secs,
        n as f64 / secs
    );
    assert_eq!(n, rows);

    let mut q = db.borrow_reader()?;
    let top = q
        .prepare("SELECT sym, count(*) AS n, round(avg(d1), 3) AS avg_d1 FROM w1 WHERE d1 > $1 GROUP BY sym ORDER BY n DESC LIMIT 5")
        .bind_f64(10.0)
        .execute()?
        .fetch_all_arrow()?;
    println!(
        "{}",
        arrow::util::pretty::pretty_format_batches(&top).map_err(|e| {
            questdb_arrow::Error::new(questdb_arrow::ErrorKind::InvalidData, e.to_string())
        })?
    );
    let first = q.rows("SELECT timestamp, sym, d1, l1, note FROM w1 LIMIT 5")?;
    println!(
        "{}",
        arrow::util::pretty::pretty_format_batches(&[first]).map_err(|e| {
            questdb_arrow::Error::new(questdb_arrow::ErrorKind::InvalidData, e.to_string())
        })?
    );
    Ok(())
}
