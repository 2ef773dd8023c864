//! Query benchmarks, ours side by side with questdb-rs 7.2.1 in one run:
//!
//! - T0 decode (no socket): RESULT_BATCH frames recorded from the embedded
//!   server (raw and zstd bodies) → Arrow `RecordBatch`es. Ours:
//!   `client::BatchDecoder`; the peer: its `decode_result_batch` +
//!   `bench_batch_to_record_batch` (`egress::_bench_internals`). Both read
//!   the same recorded frames.
//! - T1 end to end: `SELECT *` against the embedded server over loopback
//!   (raw and zstd), every batch received as Arrow. Ours:
//!   `QuestDb::query_arrow`; the peer: `Reader::execute` +
//!   `next_arrow_batch`.
//!
//! Each (tier, workload, encoding) is a criterion routine whose iterations
//! are paired passes, ours and the peer's alternating (which goes first
//! alternates too); it reports the median time of each and the median of
//! the per-pair ratios (peer time ÷ ours, > 1 = we are faster).
//!
//! Workloads (`benches/common`): Q1 mixed, Q2 numeric, Q3 nulls, Q4 wide
//! symbols by default; `QA_BENCH_WORKLOADS` picks others (e.g. `W1,W6`).
//! `QA_BENCH_ROWS` sets the rows (default 1 M), `QA_BENCH_TIERS` the tiers
//! (default `T0,T1`), `QA_BENCH_SECS` the time per paired measurement
//! (default 4). Writes `$CARGO_TARGET_DIR/bench-summary/query.json`.
//!
//! T1 W1 raw is the "embedded scan" figure: `SELECT *` answered by the
//! server's fast scan path. `QA_BENCH_FAST_SCAN=0` sends every query
//! through DataFusion instead; `QA_BENCH_BATCH_ROWS` sets the server's
//! rows per RESULT_BATCH (default 10 000).

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};

use arrow::array::RecordBatch;
use questdb_arrow::client::{BatchDecoder, Decoded, IngestOptions, QuestDb};
use questdb_arrow::protocol::egress::{
    QueryRequest, ServerControl, ServerMessage, decode_server_message,
};
use questdb_arrow::server::Server;
use questdb_arrow::transport::{ConnectOptions, Connection, Route};

mod common;
use common::generate;

/// The RESULT_BATCH frames of `sql`, as the server sent them; with `zstd`
/// the connection asks for zstd bodies.
fn record(port: u16, sql: &str, zstd: bool) -> Vec<Vec<u8>> {
    let mut opts = ConnectOptions::new("127.0.0.1", port);
    if zstd {
        opts.accept_encoding = Some("zstd;level=1".into());
    }
    let (mut conn, hs) = Connection::connect(&opts, Route::Query).unwrap();
    let _info = conn.recv().unwrap();
    conn.send(&QueryRequest::new(1, sql).to_bytes().unwrap())
        .unwrap();
    let mut frames = Vec::new();
    loop {
        let f = conn.recv().unwrap();
        match decode_server_message(&f, hs.version).unwrap() {
            ServerMessage::Batch(_) => frames.push(f),
            ServerMessage::Control(ServerControl::ResultEnd { .. }) => return frames,
            ServerMessage::Control(ServerControl::QueryError { message, .. }) => {
                panic!("{message}")
            }
            ServerMessage::Control(_) => {}
        }
    }
}

fn decode_ours(frames: &[Vec<u8>]) -> usize {
    let mut d = BatchDecoder::new(1);
    let mut rows = 0;
    for f in frames {
        if let Decoded::Batch { batch, .. } = d.decode(f).unwrap() {
            rows += std::hint::black_box(batch).num_rows();
        }
    }
    rows
}

fn decode_peer(frames: &[Vec<u8>]) -> usize {
    use questdb::egress::_bench_internals::{
        Bytes, Schema, SymbolDict, ZstdScratch, bench_batch_to_record_batch, decode_result_batch,
    };
    let mut dict = SymbolDict::new();
    let mut schema: Option<Schema> = None;
    let mut z = ZstdScratch::new();
    let mut rows = 0;
    for f in frames {
        let payload = Bytes::copy_from_slice(&f[12..]);
        let b = decode_result_batch(&payload, f[5], &mut dict, &mut schema, &mut z).unwrap();
        let rb = bench_batch_to_record_batch(schema.as_ref().unwrap(), b, &dict).unwrap();
        rows += std::hint::black_box(rb).num_rows();
    }
    rows
}

/// Medians of a paired measurement.
struct Paired {
    ours: f64,
    peer: f64,
    /// Median of peer ÷ ours over the pairs.
    ratio: f64,
    passes: usize,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Pairs of passes, ours and the peer's alternating (which goes first
/// alternates too).
#[derive(Default)]
struct Pairs {
    ours: Vec<f64>,
    peer: Vec<f64>,
}

impl Pairs {
    /// Runs one pair; returns our time.
    fn run(
        &mut self,
        rows: usize,
        ours: &mut dyn FnMut() -> usize,
        peer: &mut dyn FnMut() -> usize,
    ) -> Duration {
        let time = |f: &mut dyn FnMut() -> usize| {
            let t = Instant::now();
            assert_eq!(f(), rows);
            t.elapsed()
        };
        let (x, y) = if self.ours.len().is_multiple_of(2) {
            let x = time(ours);
            (x, time(peer))
        } else {
            let y = time(peer);
            (time(ours), y)
        };
        self.ours.push(x.as_secs_f64());
        self.peer.push(y.as_secs_f64());
        x
    }

    fn summary(self) -> Paired {
        let r = self
            .ours
            .iter()
            .zip(&self.peer)
            .map(|(x, y)| y / x)
            .collect();
        Paired {
            passes: self.ours.len(),
            ours: median(self.ours),
            peer: median(self.peer),
            ratio: median(r),
        }
    }
}

fn env_list(name: &str, default: &str) -> Vec<String> {
    std::env::var(name)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .map(|s| s.trim().to_uppercase())
        .filter(|s| !s.is_empty())
        .collect()
}

/// One T1 pass of ours: rows received and the time to the first batch.
fn t1_ours(db: &QuestDb, sql: &str, first: &mut Duration) -> usize {
    let t = Instant::now();
    let mut cur = db.query_arrow(sql).unwrap();
    let mut n = 0;
    while let Some(b) = cur.next_arrow_batch().unwrap() {
        if n == 0 {
            *first = (*first).min(t.elapsed());
        }
        n += b.num_rows();
    }
    n
}

fn t1_peer(db: &questdb::QuestDb, sql: &str, first: &mut Duration) -> usize {
    let t = Instant::now();
    let mut r = db.borrow_reader().unwrap();
    let mut cur = r.execute(sql).unwrap();
    let mut n = 0;
    while let Some(b) = cur.next_arrow_batch().unwrap() {
        if n == 0 {
            *first = (*first).min(t.elapsed());
        }
        n += b.num_rows();
    }
    n
}

/// Each (tier, workload, encoding) is one criterion routine whose every
/// iteration is a pair of passes (criterion times ours); the pairs give the
/// medians and the median of the per-pair ratios. Under `cargo test` each
/// runs one pair.
fn bench(c: &mut Criterion) {
    let rows = common::rows_from_env();
    let tiers = env_list("QA_BENCH_TIERS", "T0,T1");
    let budget = Duration::from_secs_f64(
        std::env::var("QA_BENCH_SECS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(4.0),
    );
    let mut g = c.benchmark_group("query");
    g.sample_size(10);
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(budget);
    let mut builder = Server::builder()
        .bind("127.0.0.1:0")
        .fast_scan(std::env::var("QA_BENCH_FAST_SCAN").as_deref() != Ok("0"));
    if let Some(n) = std::env::var("QA_BENCH_BATCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        builder = builder.max_batch_rows(n);
    }
    let srv = builder.start().unwrap();
    let port = srv.addr().port();
    let conf = srv.conf_string();
    let ours_db = QuestDb::connect(&conf).unwrap();
    let with_zstd = format!("{conf}compression=zstd;compression_level=1;");
    let mut json = Vec::new();
    for w in env_list("QA_BENCH_WORKLOADS", "Q1,Q2,Q3,Q4") {
        let table = w.to_lowercase();
        let batch = generate(&w, rows);
        let parts: Vec<RecordBatch> = (0..rows)
            .step_by(100_000)
            .map(|s| batch.slice(s, 100_000.min(rows - s)))
            .collect();
        ours_db
            .ingest_batches(&table, parts, &IngestOptions::new().timestamp_column("ts"))
            .unwrap();
        let sql = format!("SELECT * FROM {table}");
        for enc in ["raw", "zstd"] {
            let conf = if enc == "raw" { &conf } else { &with_zstd };
            let frames = record(port, &sql, enc == "zstd");
            let wire: usize = frames.iter().map(Vec::len).sum();
            for tier in &tiers {
                let mut first = [Duration::MAX, Duration::MAX];
                let mut pairs = Pairs::default();
                let id = format!("{tier}_{w}_{enc}");
                match tier.as_str() {
                    "T0" => g.bench_function(&id, |b| {
                        b.iter_custom(|iters| {
                            (0..iters)
                                .map(|_| {
                                    pairs.run(rows, &mut || decode_ours(&frames), &mut || {
                                        decode_peer(&frames)
                                    })
                                })
                                .sum()
                        })
                    }),
                    "T1" => {
                        let ours = QuestDb::connect(conf).unwrap();
                        let peer = questdb::QuestDb::connect(conf).unwrap();
                        let [f0, f1] = &mut first;
                        g.bench_function(&id, |b| {
                            b.iter_custom(|iters| {
                                (0..iters)
                                    .map(|_| {
                                        pairs.run(
                                            rows,
                                            &mut || t1_ours(&ours, &sql, f0),
                                            &mut || t1_peer(&peer, &sql, f1),
                                        )
                                    })
                                    .sum()
                            })
                        })
                    }
                    t => panic!("unknown tier {t}"),
                };
                let p = pairs.summary();
                for (k, (name, s)) in [("questdb_arrow", p.ours), ("questdb_rs_7_2_1", p.peer)]
                    .into_iter()
                    .enumerate()
                {
                    let ttfb = (*tier == "T1")
                        .then(|| first[k].as_secs_f64())
                        .map_or(String::new(), |f| {
                            format!(",\"first_batch_seconds\":{f:.6}")
                        });
                    println!(
                        "query {tier} {w} {enc} {name}: {rows} rows in {:.1} ms = {:.2} M rows/s, {:.0} ns/row, {:.0} MB/s of frames",
                        s * 1e3,
                        rows as f64 / s / 1e6,
                        s * 1e9 / rows as f64,
                        wire as f64 / s / 1e6
                    );
                    json.push(format!(
                        "{{\"bench\":\"query_{}\",\"workload\":\"{w}\",\"encoding\":\"{enc}\",\"client\":\"{name}\",\"rows\":{rows},\"seconds\":{s:.6},\"rows_per_sec\":{:.0},\"wire_bytes\":{wire}{ttfb}}}",
                        tier.to_lowercase(),
                        rows as f64 / s,
                    ));
                }
                println!(
                    "query {tier} {w} {enc}: ours / peer {:.2}x (median of {} paired ratios)",
                    p.ratio, p.passes
                );
                json.push(format!(
                    "{{\"bench\":\"query_{}\",\"workload\":\"{w}\",\"encoding\":\"{enc}\",\"ratio_ours_over_peer\":{:.3},\"pairs\":{}}}",
                    tier.to_lowercase(),
                    p.ratio,
                    p.passes
                ));
            }
        }
    }
    g.finish();
    common::write_summary("query.json", &json);
}

criterion_group!(benches, bench);
criterion_main!(benches);
