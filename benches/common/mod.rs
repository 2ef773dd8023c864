//! The seeded workload generator shared by the benches (design.md §5):
//! the same batches for every client in one run; and the run helpers
//! (row count, workload list, criterion measurement, JSON summary). Each
//! bench uses a subset, hence the `dead_code` allowance.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};

use arrow::array::{
    ArrayRef, DictionaryArray, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Int32Type, Schema, TimeUnit};

#[derive(Clone, Copy)]
enum Col {
    Sym(usize),
    F64,
    I64,
    Note,
    /// VARCHAR of `min..=max` bytes.
    Var(usize, usize),
}

/// A workload of design.md §5: a designated `ts` plus these columns, with
/// this fraction of NULLs in every non-ts column.
fn workload(id: &str) -> (Vec<(String, Col)>, f64) {
    fn n(p: &'static str, k: usize, c: Col) -> impl Iterator<Item = (String, Col)> {
        (1..=k).map(move |i| (format!("{p}{i}"), c))
    }
    let w2 = || {
        vec![
            ("id".to_string(), Col::I64),
            ("price".to_string(), Col::F64),
            ("sym".to_string(), Col::Sym(8)),
            ("note".to_string(), Col::Note),
        ]
    };
    let w1 = || {
        let mut v = vec![("sym".to_string(), Col::Sym(64))];
        v.extend(n("d", 4, Col::F64));
        v.extend(n("l", 2, Col::I64));
        v.push(("note".to_string(), Col::Note));
        v
    };
    // The query workloads (issue 16): Q1 mixed, Q2 numeric, Q3 = Q1 with
    // 10 % NULLs, Q4 wide symbols.
    let q1 = || {
        let mut v = vec![("sym".to_string(), Col::Sym(20))];
        v.extend(n("d", 2, Col::F64));
        v.push(("l1".to_string(), Col::I64));
        v.push(("note".to_string(), Col::Var(8, 24)));
        v
    };
    match id {
        "Q1" => (q1(), 0.0),
        "Q2" => (
            n("d", 3, Col::F64).chain(n("l", 3, Col::I64)).collect(),
            0.0,
        ),
        "Q3" => (q1(), 0.1),
        "Q4" => (n("s", 4, Col::Sym(100_000)).collect(), 0.0),
        "W1" => (w1(), 0.0),
        "W2" => (w2(), 0.0),
        "W3" => (n("d", 8, Col::F64).collect(), 0.0),
        "W4" => {
            let mut v = w2();
            v.extend(n("d", 5, Col::F64));
            v.extend(n("s", 5, Col::Sym(100_000)));
            (v, 0.0)
        }
        "W5" => (w1(), 0.1),
        "W6" => (
            vec![
                ("symbol".to_string(), Col::Sym(27)),
                ("side".to_string(), Col::Sym(2)),
                ("price".to_string(), Col::F64),
                ("amount".to_string(), Col::F64),
            ],
            0.0,
        ),
        _ => panic!("unknown workload {id}"),
    }
}

pub fn generate(id: &str, rows: usize) -> RecordBatch {
    let (cols, nulls) = workload(id);
    let seed = std::cell::Cell::new(0x9E37_79B9_7F4A_7C15u64);
    let rnd = || {
        let mut x = seed.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        seed.set(x);
        x
    };
    let threshold = (nulls * u32::MAX as f64) as u64;
    let ts: TimestampMicrosecondArray = (0..rows)
        .map(|i| 1_700_000_000_000_000 + i as i64 * 1000 + (rnd() % 400) as i64 - 200)
        .collect::<Vec<_>>()
        .into();
    let mut fields = vec![Field::new(
        "ts",
        DataType::Timestamp(TimeUnit::Microsecond, None),
        false,
    )];
    let mut arrays: Vec<ArrayRef> = vec![Arc::new(ts)];
    for (name, c) in cols {
        let valid = || (rnd() & 0xFFFF_FFFF) >= threshold;
        let a: ArrayRef = match c {
            Col::Sym(card) => {
                let names: Vec<String> = (0..card).map(|i| format!("SYM{i:05}")).collect();
                let d: DictionaryArray<Int32Type> = (0..rows)
                    .map(|_| valid().then(|| names[(rnd() % card as u64) as usize].as_str()))
                    .collect();
                Arc::new(d)
            }
            Col::F64 => Arc::new(Float64Array::from_iter(
                (0..rows).map(|_| valid().then(|| (rnd() >> 11) as f64)),
            )),
            Col::I64 => Arc::new(Int64Array::from_iter(
                (0..rows).map(|_| valid().then(|| rnd() as i64)),
            )),
            Col::Var(min, max) => Arc::new(StringArray::from_iter((0..rows).map(|_| {
                valid().then(|| {
                    let len = min + (rnd() % (max - min + 1) as u64) as usize;
                    let mut s = format!("v{:023}", rnd());
                    s.truncate(len);
                    s
                })
            }))),
            Col::Note => {
                Arc::new(StringArray::from_iter((0..rows).map(|_| {
                    valid().then(|| format!("n{:015}", rnd() % 1_000_000_000_000_000))
                })))
            }
        };
        fields.push(Field::new(name, a.data_type().clone(), nulls > 0.0));
        arrays.push(a);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap()
}

/// `QA_BENCH_ROWS`, default 1 M.
pub fn rows_from_env() -> usize {
    std::env::var("QA_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

/// `QA_BENCH_WORKLOADS` (default W1–W5).
pub fn workloads() -> Vec<String> {
    std::env::var("QA_BENCH_WORKLOADS")
        .unwrap_or_else(|_| "W1,W2,W3,W4,W5".into())
        .split(',')
        .map(|s| s.trim().to_uppercase())
        .collect()
}

/// Writes `$CARGO_TARGET_DIR/bench-summary/<file>` (a JSON array).
pub fn write_summary(file: &str, json: &[String]) {
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let dir = std::path::Path::new(&target).join("bench-summary");
    if std::fs::create_dir_all(&dir).is_ok() {
        let _ = std::fs::write(dir.join(file), format!("[{}]\n", json.join(",\n")));
    }
}

/// Runs each named routine under criterion and keeps its best time per
/// iteration.
pub fn measure(
    c: &mut Criterion,
    group: &str,
    rows: usize,
    secs: u64,
    routines: &mut [(&str, &mut dyn FnMut() -> usize)],
) -> Vec<(String, f64, usize)> {
    let mut g = c.benchmark_group(group);
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(secs));
    g.throughput(Throughput::Elements(rows as u64));
    let mut out = Vec::new();
    for (name, f) in routines.iter_mut() {
        let mut best = Duration::MAX;
        let mut bytes = 0;
        g.bench_function(*name, |b| {
            b.iter_custom(|iters| {
                let t = Instant::now();
                for _ in 0..iters {
                    bytes = std::hint::black_box(f());
                }
                let e = t.elapsed();
                best = best.min(e / iters as u32);
                e
            })
        });
        out.push((name.to_string(), best.as_secs_f64(), bytes));
    }
    g.finish();
    out
}

/// An embedded server in sink mode (decode + ack, no storage) and a handle
/// of each client on it.
pub fn sink_server() -> (
    questdb_arrow::server::ServerHandle,
    questdb_arrow::client::QuestDb,
    questdb::QuestDb,
) {
    let srv = questdb_arrow::server::Server::builder()
        .bind("127.0.0.1:0")
        .sink(true)
        .start()
        .unwrap();
    let conf = srv.conf_string();
    let ours = questdb_arrow::client::QuestDb::connect(&conf).unwrap();
    let peer = questdb::QuestDb::connect(&conf).unwrap();
    (srv, ours, peer)
}
