//! Writes the Parquet sample the README's main job loads:
//! `samples/trades.parquet`, 100 000 deterministic trades
//! (ts, symbol, side, price, amount, trade_id).
//!
//! `cargo run --features parquet --example make_sample [PATH] [ROWS]`

use std::sync::Arc;

use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use questdb_arrow::arrow::array::{
    Array, ArrayRef, DictionaryArray, Float64Array, Int64Array, RecordBatch,
    TimestampMicrosecondArray,
};
use questdb_arrow::arrow::datatypes::{DataType, Field, Int8Type, Schema, TimeUnit};

const SYMBOLS: [&str; 8] = [
    "BTC-USD", "ETH-USD", "SOL-USD", "XRP-USD", "ADA-USD", "DOGE-USD", "DOT-USD", "LTC-USD",
];
const START: [f64; 8] = [95_000.0, 3_400.0, 180.0, 2.3, 0.9, 0.35, 7.5, 110.0];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .unwrap_or_else(|| "samples/trades.parquet".into());
    let rows: usize = match args.next() {
        Some(n) => n.parse()?,
        None => 100_000,
    };
    // A fixed linear congruential generator: the same file on every machine.
    let mut state: u64 = 0x5eed;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut price = START;
    let (mut sym, mut side, mut px, mut amount) = (
        Vec::with_capacity(rows),
        Vec::with_capacity(rows),
        Vec::with_capacity(rows),
        Vec::with_capacity(rows),
    );
    for _ in 0..rows {
        let s = (next() * 8.0) as usize % 8;
        price[s] *= 1.0 + (next() - 0.5) * 0.002;
        sym.push(SYMBOLS[s]);
        side.push(if next() < 0.5 { "buy" } else { "sell" });
        px.push((price[s] * 100.0).round() / 100.0);
        amount.push((next() * 10_000.0).round() / 1_000.0);
    }
    let t0 = 1_767_225_600_000_000i64; // 2026-01-01T00:00:00Z
    let sym: DictionaryArray<Int8Type> = sym.into_iter().collect();
    let side: DictionaryArray<Int8Type> = side.into_iter().collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        Field::new("symbol", sym.data_type().clone(), false),
        Field::new("side", side.data_type().clone(), false),
        Field::new("price", DataType::Float64, false),
        Field::new("amount", DataType::Float64, false),
        Field::new("trade_id", DataType::Int64, false),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(
            TimestampMicrosecondArray::from_iter_values((0..rows as i64).map(|i| t0 + i * 10_000))
                .with_timezone("UTC"),
        ),
        Arc::new(sym),
        Arc::new(side),
        Arc::new(Float64Array::from(px)),
        Arc::new(Float64Array::from(amount)),
        Arc::new(Int64Array::from_iter_values(1..=rows as i64)),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns)?;
    if let Some(dir) = std::path::Path::new(&path).parent() {
        std::fs::create_dir_all(dir)?;
    }
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(9)?))
        .set_max_row_group_row_count(Some(25_000))
        .build();
    let mut w = ArrowWriter::try_new(std::fs::File::create(&path)?, schema, Some(props))?;
    w.write(&batch)?;
    w.close()?;
    println!("wrote {rows} rows to {path}");
    Ok(())
}
