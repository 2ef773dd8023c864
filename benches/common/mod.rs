//! The seeded workload generator shared by the benches (design.md §5):
//! the same batches for every client in one run; and the run helpers
//! (row count, workload list, criterion measurement, JSON summary). Each
//! bench uses a subset, hence the `dead_code` allowance.
#![allow(dead_code)]

pub mod drain;

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

/// `batch` sliced into batches of `rows` rows (zero-copy), the last one
/// shorter when they do not divide it.
pub fn slices(batch: &RecordBatch, rows: usize) -> Vec<RecordBatch> {
    let n = batch.num_rows();
    (0..n)
        .step_by(rows)
        .map(|s| batch.slice(s, rows.min(n - s)))
        .collect()
}

/// Ours `flush_arrow_batch` per batch into `table` (`ts` the designated
/// timestamp, each batch acknowledged before the next); returns the bytes
/// written.
pub fn flush_each(
    db: &questdb_arrow::client::QuestDb,
    table: &str,
    batches: &[RecordBatch],
) -> usize {
    let ok = questdb_arrow::client::AckLevel::Ok;
    batches
        .iter()
        .map(|x| {
            db.flush_arrow_batch(table, x, Some("ts"), &[], ok)
                .unwrap()
                .bytes as usize
        })
        .sum()
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
    workloads_or("W1,W2,W3,W4,W5")
}

/// `QA_BENCH_WORKLOADS`, else `default` (comma-separated ids).
pub fn workloads_or(default: &str) -> Vec<String> {
    std::env::var("QA_BENCH_WORKLOADS")
        .unwrap_or_else(|_| default.into())
        .split(',')
        .map(|s| s.trim().to_uppercase())
        .collect()
}

/// `$CARGO_TARGET_DIR`, else `target`.
pub fn target_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .unwrap_or_else(|| "target".into())
        .into()
}

/// Writes `$CARGO_TARGET_DIR/bench-summary/<file>` (a JSON array).
pub fn write_summary(file: &str, json: &[String]) {
    // A run filtered to other benches measured nothing here: keep the
    // summary of the last run that did.
    if json.is_empty() {
        return;
    }
    let dir = target_dir().join("bench-summary");
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
/// Where the T1 benches send: a `questdb-arrow serve --sink` child process
/// when the CLI is built (`--features cli`; `QA_SERVE_BIN` names another
/// build), so the client's CPU is measured alone; else an in-process
/// server. Dropping it stops the server.
pub struct Sink {
    child: Option<std::process::Child>,
    _in_process: Option<questdb_arrow::server::ServerHandle>,
    /// The connect string.
    pub conf: String,
    /// Whether the server runs in another process.
    pub out_of_process: bool,
}

impl Sink {
    /// The ILP-over-HTTP connect string of the same server (its HTTP port
    /// serves QWP and ILP), protocol version 2.
    pub fn ilp_http_conf(&self) -> String {
        let conf = questdb_arrow::conf::Conf::parse(&self.conf).unwrap();
        format!("http::addr={};protocol_version=2;", conf.addrs()[0])
    }

    /// Where the server runs, as the T1 tables' headings say it.
    pub fn whereabouts(&self) -> &'static str {
        if self.out_of_process {
            "in another process (client CPU alone)"
        } else {
            "in this process (CPU includes the server)"
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The `questdb-arrow` CLI to run as a server child: `QA_SERVE_BIN` (e.g.
/// a release build), else the one built with this bench (feature `cli`).
pub fn serve_bin() -> Option<String> {
    std::env::var("QA_SERVE_BIN")
        .ok()
        .or(option_env!("CARGO_BIN_EXE_questdb-arrow").map(String::from))
}

/// Starts `bin serve --bind 127.0.0.1:0 <args>` and reads its connect
/// string from the first line it prints.
pub fn spawn_serve(
    bin: &str,
    args: &[&std::ffi::OsStr],
) -> std::io::Result<(std::process::Child, String)> {
    use std::io::BufRead;
    let mut child = std::process::Command::new(bin)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .args(args)
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| std::io::Error::other("no stdout"))?;
    let mut line = String::new();
    std::io::BufReader::new(stdout).read_line(&mut line)?;
    let conf = line
        .split("connect string: ")
        .nth(1)
        .and_then(|s| s.trim_end().strip_suffix(')'))
        .ok_or_else(|| std::io::Error::other(format!("no connect string in {line:?}")))?
        .to_string();
    Ok((child, conf))
}

pub fn sink_server() -> (Sink, questdb_arrow::client::QuestDb, questdb::QuestDb) {
    let child = serve_bin().and_then(|bin| spawn_serve(&bin, &["--sink".as_ref()]).ok());
    let sink = match child {
        Some((child, conf)) => Sink {
            child: Some(child),
            _in_process: None,
            conf,
            out_of_process: true,
        },
        None => {
            let srv = questdb_arrow::server::Server::builder()
                .bind("127.0.0.1:0")
                .sink(true)
                .start()
                .unwrap();
            Sink {
                conf: srv.conf_string(),
                _in_process: Some(srv),
                child: None,
                out_of_process: false,
            }
        }
    };
    let ours = questdb_arrow::client::QuestDb::connect(&sink.conf).unwrap();
    let peer = questdb::QuestDb::connect(&sink.conf).unwrap();
    (sink, ours, peer)
}

/// CPU seconds (user + system) this process used so far (Linux; 0
/// elsewhere).
pub fn process_cpu() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    let Some(close) = stat.rfind(')') else {
        return 0.0;
    };
    let f: Vec<&str> = stat[close + 2..].split(' ').collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime, in USER_HZ (100 per second on Linux).
    (ticks(11) + ticks(12)) / 100.0
}

/// This process's peak RSS in MB (`VmHWM`; 0 elsewhere than Linux).
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Starts this process's peak RSS afresh (`VmHWM` from now on; Linux,
/// a no-op elsewhere).
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// One routine's figures from [`alternate`]: median wall seconds, median
/// process CPU seconds, bytes its last pass reported, and the median of
/// its per-round time ratio against the last routine (the peer; > 1 means
/// faster than the peer).
pub struct Alternated {
    pub name: String,
    pub secs: f64,
    pub cpu_secs: f64,
    pub bytes: usize,
    pub vs_last: f64,
    /// Passes measured (the medians' sample size).
    pub passes: usize,
}

/// Prints the heading of a T1 table — `title`, where the sink runs, the
/// passes — and its header: the columns of [`Alternated::table_row`] (the
/// ratio against `peer`), then `extra` columns.
pub fn print_t1_head(title: &str, sink: &Sink, passes: usize, peer: &str, extra: &[&str]) {
    println!(
        "{title}, sink {}, medians of {passes} alternating passes:",
        sink.whereabouts()
    );
    let mut cols = vec![
        "client".to_string(),
        "M rows/s".into(),
        "wire MB/s".into(),
        "CPU ns/row".into(),
        format!("÷ {peer} (median of paired ratios)"),
    ];
    cols.extend(extra.iter().map(|c| c.to_string()));
    println!("| {} |", cols.join(" | "));
    println!("|{}", "---|".repeat(cols.len()));
}

impl Alternated {
    /// Its row of a T1 table over `rows` rows: `| client | M rows/s | wire
    /// MB/s | CPU ns/row | ratio |` (wire `—` when it reported no bytes).
    pub fn table_row(&self, rows: usize) -> String {
        let mbs = if self.bytes > 0 {
            format!("{:.0}", self.bytes as f64 / self.secs / 1e6)
        } else {
            "—".into()
        };
        format!(
            "| {} | {:.2} | {mbs} | {:.0} | {:.2} |",
            self.name,
            rows as f64 / self.secs / 1e6,
            self.cpu_secs / rows as f64 * 1e9,
            self.vs_last
        )
    }

    /// Its figures over `rows` rows as the members of a JSON summary
    /// record: rows, seconds, rows/s, wire bytes (and MB/s when it
    /// reported any), CPU ns/row, the ratio against the last routine
    /// (named `ratio_key`) and the passes.
    pub fn json_figures(&self, rows: usize, ratio_key: &str) -> String {
        let mbs = if self.bytes > 0 {
            format!(
                ",\"wire_mb_per_sec\":{:.1}",
                self.bytes as f64 / self.secs / 1e6
            )
        } else {
            String::new()
        };
        format!(
            "\"rows\":{rows},\"seconds\":{:.6},\"rows_per_sec\":{:.0},\"wire_bytes\":{}{mbs},\"cpu_ns_per_row\":{:.1},\"{ratio_key}\":{:.3},\"passes\":{}",
            self.secs,
            rows as f64 / self.secs,
            self.bytes,
            self.cpu_secs / rows as f64 * 1e9,
            self.vs_last,
            self.passes
        )
    }
}

/// Runs the routines in rounds under criterion, each once per round in
/// turn (so a noisy moment hits all of them), and reports medians.
pub fn alternate(
    c: &mut Criterion,
    group: &str,
    rows: usize,
    secs: u64,
    routines: &mut [(&str, &mut dyn FnMut() -> usize)],
) -> Vec<Alternated> {
    let n = routines.len();
    let mut wall: Vec<Vec<f64>> = vec![Vec::new(); n];
    let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); n];
    let mut bytes = vec![0usize; n];
    let mut g = c.benchmark_group(group);
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(secs));
    g.throughput(Throughput::Elements((rows * n) as u64));
    g.bench_function("alternating", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                for (i, (_, f)) in routines.iter_mut().enumerate() {
                    let c0 = process_cpu();
                    let t = Instant::now();
                    bytes[i] = std::hint::black_box(f());
                    let e = t.elapsed();
                    cpu[i].push(process_cpu() - c0);
                    wall[i].push(e.as_secs_f64());
                    total += e;
                }
            }
            total
        })
    });
    g.finish();
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(|a, b| a.total_cmp(b));
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    };
    (0..n)
        .map(|i| {
            let ratios: Vec<f64> = wall[i]
                .iter()
                .zip(&wall[n - 1])
                .map(|(a, peer)| peer / a)
                .collect();
            Alternated {
                name: routines[i].0.to_string(),
                secs: median(&wall[i]),
                cpu_secs: median(&cpu[i]),
                bytes: bytes[i],
                vs_last: median(&ratios),
                passes: wall[i].len(),
            }
        })
        .collect()
}

/// Runs `f` with this process's peak RSS started afresh and raises `peak`
/// to the peak RSS (MB) seen while it ran; returns what `f` returns. The
/// peak includes what was resident before (the workload's batches).
pub fn tracking_peak_rss(peak: &mut f64, f: impl FnOnce() -> usize) -> usize {
    reset_peak_rss();
    let out = f();
    *peak = peak.max(peak_rss_mb());
    out
}
