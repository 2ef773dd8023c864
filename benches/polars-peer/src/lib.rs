//! The polars comparison with questdb-rs 7.2.1 (see `Cargo.toml` for why
//! this is its own package): the same DataFrame built in polars 0.55 (ours)
//! and polars 0.54 (the peer's), from the same plain vectors.

#[path = "../../common/mod.rs"]
pub mod common;

pub use polars054;
pub use questdb_arrow::polars_io::polars as polars055;

use arrow::array::AsArray;
use arrow::datatypes::{Float64Type, Int32Type, Int64Type, TimestampMicrosecondType};

/// Workload W2 (ts, id LONG, price DOUBLE, sym SYMBOL of 8, note VARCHAR)
/// as plain vectors, from the shared seeded generator.
pub struct W2 {
    /// Designated timestamps, µs.
    pub ts: Vec<i64>,
    /// `id`.
    pub id: Vec<i64>,
    /// `price`.
    pub price: Vec<f64>,
    /// `sym` (8 distinct values).
    pub sym: Vec<String>,
    /// `note`.
    pub note: Vec<String>,
}

/// The first `rows` rows of W2.
pub fn w2(rows: usize) -> W2 {
    let b = common::generate("W2", rows);
    let col = |n: &str| b.column_by_name(n).expect("W2 column").clone();
    let sym = col("sym");
    let sym = sym.as_dictionary::<Int32Type>();
    let values = sym.values().as_string::<i32>();
    W2 {
        ts: col("ts")
            .as_primitive::<TimestampMicrosecondType>()
            .values()
            .to_vec(),
        id: col("id").as_primitive::<Int64Type>().values().to_vec(),
        price: col("price").as_primitive::<Float64Type>().values().to_vec(),
        sym: (0..sym.len())
            .map(|i| values.value(sym.keys().value(i) as usize).to_string())
            .collect(),
        note: col("note")
            .as_string::<i32>()
            .iter()
            .map(|s| s.unwrap_or_default().to_string())
            .collect(),
    }
}

/// W2 as a DataFrame of polars version `$pl` (`polars055` or `polars054`):
/// ts Datetime(µs), id Int64, price Float64, sym Categorical, note String.
#[macro_export]
macro_rules! w2_frame {
    ($pl:ident, $w:expr) => {{
        use $crate::$pl::prelude::*;
        let w: &$crate::W2 = $w;
        let cols: Vec<Column> = vec![
            Series::new("ts".into(), &w.ts)
                .cast(&DataType::Datetime(TimeUnit::Microseconds, None))
                .unwrap()
                .into(),
            Series::new("id".into(), &w.id).into(),
            Series::new("price".into(), &w.price).into(),
            Series::new("sym".into(), &w.sym)
                .cast(&DataType::from_categories(Categories::global()))
                .unwrap()
                .into(),
            Series::new("note".into(), &w.note).into(),
        ];
        DataFrame::new(w.ts.len(), cols).unwrap()
    }};
}

/// A frame of every dtype both clients take, nulls included, in polars
/// version `$pl`; `n` rows.
#[macro_export]
macro_rules! rich_frame {
    ($pl:ident, $n:expr) => {{
        use $crate::$pl::prelude::*;
        let n: usize = $n;
        let opt = |i: usize| i % 5 != 2;
        let words = ["red", "green", "blue"];
        let berlin = TimeZone::opt_try_new(Some(PlSmallStr::from("Europe/Berlin"))).unwrap();
        let cols: Vec<Column> = vec![
            Series::new(
                "ts".into(),
                (0..n)
                    .map(|i| 1_700_000_000_000_000i64 + i as i64 * 1_000)
                    .collect::<Vec<_>>(),
            )
            .cast(&DataType::Datetime(TimeUnit::Microseconds, None))
            .unwrap()
            .into(),
            Series::new(
                "b".into(),
                (0..n)
                    .map(|i| opt(i).then_some(i % 2 == 0))
                    .collect::<Vec<_>>(),
            )
            .into(),
            Series::new(
                "i32".into(),
                (0..n)
                    .map(|i| opt(i).then_some(i as i32 * 7))
                    .collect::<Vec<_>>(),
            )
            .into(),
            Series::new(
                "i64".into(),
                (0..n)
                    .map(|i| opt(i).then_some((i as i64) << 33))
                    .collect::<Vec<_>>(),
            )
            .into(),
            Series::new(
                "f64".into(),
                (0..n)
                    .map(|i| opt(i).then_some(i as f64 / 3.0))
                    .collect::<Vec<_>>(),
            )
            .into(),
            Series::new(
                "s".into(),
                (0..n)
                    .map(|i| opt(i).then(|| format!("row {i}")))
                    .collect::<Vec<_>>(),
            )
            .into(),
            Series::new(
                "cat".into(),
                (0..n)
                    .map(|i| opt(i).then_some(words[i % 3]))
                    .collect::<Vec<_>>(),
            )
            .cast(&DataType::from_categories(Categories::global()))
            .unwrap()
            .into(),
            Series::new(
                "dt_ns_tz".into(),
                (0..n)
                    .map(|i| opt(i).then_some(1_700_000_000_123_456_789i64 + i as i64))
                    .collect::<Vec<_>>(),
            )
            .cast(&DataType::Datetime(TimeUnit::Nanoseconds, berlin))
            .unwrap()
            .into(),
            Series::new(
                "dt_ms".into(),
                (0..n)
                    .map(|i| opt(i).then_some(1_600_000_000_000i64 + i as i64 * 60_000))
                    .collect::<Vec<_>>(),
            )
            .cast(&DataType::Datetime(TimeUnit::Milliseconds, None))
            .unwrap()
            .into(),
            Series::new(
                "d".into(),
                (0..n)
                    .map(|i| opt(i).then_some(19_000 + i as i32))
                    .collect::<Vec<_>>(),
            )
            .cast(&DataType::Date)
            .unwrap()
            .into(),
        ];
        DataFrame::new(n, cols).unwrap()
    }};
}
