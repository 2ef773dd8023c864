//! Write with Arrow, then query back into Arrow: binds, a streaming cursor
//! (a `RecordBatchReader`), DDL, and the pretty printer.
//!
//! Run: `cargo run --features server --example query_arrow`

use std::sync::Arc;

use arrow::array::{
    ArrayRef, DictionaryArray, Float64Array, RecordBatch, RecordBatchReader,
    TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Int32Type, Schema, TimeUnit};
use arrow::util::pretty::pretty_format_batches;
use questdb_arrow::client::{AckLevel, QuestDb, Terminal};
use questdb_arrow::server::Server;
use questdb_arrow::{Error, ErrorKind};

fn pretty(b: &[RecordBatch]) -> questdb_arrow::Result<String> {
    pretty_format_batches(b)
        .map(|t| t.to_string())
        .map_err(|e| Error::new(ErrorKind::InvalidData, e.to_string()))
}

fn main() -> questdb_arrow::Result<()> {
    let server = Server::builder()
        .bind("127.0.0.1:0")
        .max_batch_rows(250)
        .start()?;
    let db = QuestDb::connect(&server.conf_string())?;

    let n = 1000;
    let sym: DictionaryArray<Int32Type> = (0..n)
        .map(|i| ["BTC-USD", "ETH-USD", "SOL-USD"][i % 3])
        .collect();
    let cols: Vec<ArrayRef> = vec![
        Arc::new(TimestampMicrosecondArray::from_iter_values(
            (0..n).map(|i| 1_700_000_000_000_000 + i as i64 * 1_000_000),
        )),
        Arc::new(sym),
        Arc::new(Float64Array::from_iter_values(
            (0..n).map(|i| 100.0 + (i % 50) as f64 / 4.0),
        )),
    ];
    let schema = Arc::new(Schema::new(vec![
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            false,
        ),
        Field::new("symbol", cols[1].data_type().clone(), false),
        Field::new("price", DataType::Float64, false),
    ]));
    let batch = RecordBatch::try_new(schema, cols)
        .map_err(|e| Error::new(ErrorKind::InvalidData, e.to_string()))?;
    db.flush_arrow_batch("trades", &batch, Some("ts"), &[], AckLevel::Ok)?;

    // Binds, streamed batch by batch; the schema is known before the first.
    let mut reader = db.borrow_reader()?;
    let mut cur = reader
        .prepare("SELECT symbol, price, timestamp FROM trades WHERE symbol = $1 AND price > $2")
        .bind_varchar("ETH-USD")
        .bind_f64(110.0)
        .execute()?;
    println!(
        "schema: {:?}",
        cur.schema()
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect::<Vec<_>>()
    );
    let mut rows = 0;
    let mut first = None;
    while let Some(b) = cur.next_arrow_batch()? {
        rows += b.num_rows();
        first.get_or_insert(b);
    }
    println!("{rows} matching rows; terminal: {:?}", cur.terminal());
    drop(cur);
    if let Some(b) = first {
        println!("{}", pretty(&[b.slice(0, b.num_rows().min(5))])?);
    }

    // An aggregate through the RecordBatchReader interface.
    let cur = db.query_arrow("SELECT symbol, count(*) AS n, round(avg(price), 2) AS avg_price FROM trades GROUP BY symbol ORDER BY symbol")?;
    let schema = RecordBatchReader::schema(&cur);
    let batches: Vec<RecordBatch> = cur
        .collect::<Result<_, _>>()
        .map_err(|e| Error::new(ErrorKind::InvalidData, e.to_string()))?;
    assert_eq!(batches[0].schema(), schema);
    println!("{}", pretty(&batches)?);

    // DDL and DML report through the terminal.
    let mut cur = reader.execute("INSERT INTO trades SELECT * FROM trades WHERE price > 112")?;
    cur.fetch_all_arrow()?;
    if let Some(Terminal::ExecDone { rows_affected, .. }) = cur.terminal() {
        println!("INSERT ... SELECT copied {rows_affected} rows");
    }
    Ok(())
}
