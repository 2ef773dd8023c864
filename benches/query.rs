//! Query benchmarks, ours side by side with questdb-rs 7.2.1 in one run:
//!
//! - T0 decode (no socket): RESULT_BATCH frames recorded from the embedded
//!   server (raw and zstd bodies) → Arrow `RecordBatch`es. Ours:
//!   `client::BatchDecoder`; the peer: its `decode_result_batch` +
//!   `bench_batch_to_record_batch` (`egress::_bench_internals`). Both read
//!   the same recorded frames.
//! - T1R replay (the T1 figure): the frames the embedded server sent for
//!   the query, recorded once, saved under the target dir and served by a
//!   child process (this binary re-executed, see `benches/replay/`) to
//!   both clients, so both read the same bytes and the CPU measured is the
//!   client's alone. Ours: `QuestDb::query_arrow` + every batch; the peer:
//!   `Reader::execute` + `next_arrow_batch`. Between them in each round,
//!   `loopback_ceiling` (`replay::Ceiling`): a plain `TcpStream` with the
//!   same WebSocket upgrade that sends the same QUERY_REQUEST and reads
//!   exactly the bytes of the result's WebSocket frames into one reused
//!   1 MiB buffer, woken once per MiB by the receive low-water mark as
//!   our frame reader is (`common::drain::Discard`; plain reads, woken
//!   per segment, were slower than the clients), decoding nothing — what
//!   the socket allows, the most any client could reach. It reuses its connection across passes as the
//!   clients do (the child's CACHE_RESET before each later result is
//!   counted); two checked passes first compare every byte it reads with
//!   the recording's frames. Passes alternate (`common::alternate`, the
//!   peer last): medians of rows/s, wire MB/s (the result's QWP bytes for
//!   all three), client CPU ns/row, the median of the paired ratios
//!   against the peer (the ceiling's is the largest any client could
//!   reach), and the process's peak RSS.
//! - T1 embedded scan: the same `SELECT *` against the embedded server in
//!   this process (its scan's CPU counts too), paired passes; the CPU
//!   ns/row is this process's (server and client together).
//!   `QA_BENCH_PEER=0` leaves the peer's passes out (to profile ours).
//!
//! T0 and T1 are criterion routines whose iterations are paired passes,
//! ours and the peer's alternating (which goes first alternates too); they
//! report the median time of each and the median of the per-pair ratios
//! (peer time ÷ ours, > 1 = we are faster).
//!
//! Workloads (`benches/common`): Q1 mixed, Q2 numeric, Q3 nulls, Q4 wide
//! symbols by default; `QA_BENCH_WORKLOADS` picks others (e.g. `W1,W6`).
//! `QA_BENCH_ROWS` sets the rows (default 1 M), `QA_BENCH_ZSTD_ROWS` the
//! rows of the zstd runs (default: the same), `QA_BENCH_ENCODINGS` the
//! encodings (default `raw,zstd`), `QA_BENCH_TIERS` the tiers (default
//! `T0,T1R,T1`), `QA_BENCH_SECS` the time per paired measurement (default
//! 4). Writes `$CARGO_TARGET_DIR/bench-summary/query.json` (benches
//! `query_t0`, `query_t1_replay`, `query_t1_embedded`).
//!
//! The embedded scan answers `SELECT *` by the server's fast scan path;
//! `QA_BENCH_FAST_SCAN=0` sends every query through DataFusion instead;
//! `QA_BENCH_BATCH_ROWS` sets the server's rows per RESULT_BATCH (default
//! 10 000), for the recordings too. `QA_BENCH_SOLO=ours` (or `peer`, or
//! `ceiling`) runs only that client's T1R passes, for profiling.

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};

use arrow::array::RecordBatch;
use questdb_arrow::client::{BatchDecoder, Decoded, IngestOptions, QuestDb};
use questdb_arrow::server::Server;

mod common;
mod replay;
use common::generate;
use replay::{Ceiling, Recording, ReplayServer};

fn decode_ours<'a>(frames: impl Iterator<Item = &'a Vec<u8>>) -> usize {
    let mut d = BatchDecoder::new(1);
    let mut rows = 0;
    for f in frames {
        if let Decoded::Batch { batch, .. } = d.decode(f).unwrap() {
            rows += std::hint::black_box(batch).num_rows();
        }
    }
    rows
}

/// The peer's decoder takes each payload as `Bytes`, which its reader
/// splits off its receive buffer without a copy: the payloads are made
/// once, outside the timed passes (a clone is a reference count), so a
/// pass times the decoding alone, as ours does.
type PeerFrames = Vec<(u8, questdb::egress::_bench_internals::Bytes)>;

fn peer_frames<'a>(frames: impl Iterator<Item = &'a Vec<u8>>) -> PeerFrames {
    use questdb::egress::_bench_internals::Bytes;
    frames
        .map(|f| (f[5], Bytes::copy_from_slice(&f[12..])))
        .collect()
}

fn decode_peer(frames: &PeerFrames) -> usize {
    use questdb::egress::_bench_internals::{
        Schema, SymbolDict, ZstdScratch, bench_batch_to_record_batch, decode_result_batch,
    };
    let mut dict = SymbolDict::new();
    let mut schema: Option<Schema> = None;
    let mut z = ZstdScratch::new();
    let mut rows = 0;
    for (flags, payload) in frames {
        let b = decode_result_batch(payload, *flags, &mut dict, &mut schema, &mut z).unwrap();
        let rb = bench_batch_to_record_batch(schema.as_ref().unwrap(), b, &dict).unwrap();
        rows += std::hint::black_box(rb).num_rows();
    }
    rows
}

/// Medians of a paired measurement.
struct Paired {
    ours: f64,
    peer: f64,
    /// This process's CPU seconds per pass (T1: the embedded server's
    /// and the client's together).
    ours_cpu: f64,
    peer_cpu: f64,
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
    ours_cpu: Vec<f64>,
    peer_cpu: Vec<f64>,
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
            let c = common::process_cpu();
            let t = Instant::now();
            assert_eq!(f(), rows);
            (t.elapsed(), common::process_cpu() - c)
        };
        let ((x, xc), (y, yc)) = if self.ours.len().is_multiple_of(2) {
            let x = time(ours);
            (x, time(peer))
        } else {
            let y = time(peer);
            (time(ours), y)
        };
        self.ours.push(x.as_secs_f64());
        self.peer.push(y.as_secs_f64());
        self.ours_cpu.push(xc);
        self.peer_cpu.push(yc);
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
            ours_cpu: median(self.ours_cpu),
            peer_cpu: median(self.peer_cpu),
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

/// Prints and records one client's figures of a paired T0/T1 tier.
fn paired_figures(
    json: &mut Vec<String>,
    bench: &str,
    (w, enc, rows, wire): (&str, &str, usize, usize),
    p: &Paired,
    first: Option<[Duration; 2]>,
) {
    let clients = [
        ("questdb_arrow", p.ours, p.ours_cpu),
        ("questdb_rs_7_2_1", p.peer, p.peer_cpu),
    ];
    for (k, (name, s, cpu)) in clients.into_iter().enumerate() {
        let ttfb = first.map_or(String::new(), |f| {
            format!(",\"first_batch_seconds\":{:.6}", f[k].as_secs_f64())
        });
        let cpu = cpu * 1e9 / rows as f64;
        println!(
            "{bench} {w} {enc} {name}: {rows} rows in {:.1} ms = {:.2} M rows/s, {:.0} ns/row, {:.0} MB/s of frames, {cpu:.0} CPU ns/row (this process)",
            s * 1e3,
            rows as f64 / s / 1e6,
            s * 1e9 / rows as f64,
            wire as f64 / s / 1e6
        );
        json.push(format!(
            "{{\"bench\":\"{bench}\",\"workload\":\"{w}\",\"encoding\":\"{enc}\",\"client\":\"{name}\",\"rows\":{rows},\"seconds\":{s:.6},\"rows_per_sec\":{:.0},\"wire_bytes\":{wire},\"process_cpu_ns_per_row\":{cpu:.1}{ttfb}}}",
            rows as f64 / s,
        ));
    }
    println!(
        "{bench} {w} {enc}: ours / peer {:.2}x (median of {} paired ratios)",
        p.ratio, p.passes
    );
    json.push(format!(
        "{{\"bench\":\"{bench}\",\"workload\":\"{w}\",\"encoding\":\"{enc}\",\"ratio_ours_over_peer\":{:.3},\"pairs\":{}}}",
        p.ratio, p.passes
    ));
}

/// `QA_BENCH_SOLO=ours|peer|ceiling`: one client's T1R passes alone for `secs`
/// (to profile it: `perf stat`/`perf record` see no other client's work);
/// prints the median wall time and the CPU per row over all passes.
fn solo_passes(
    who: &str,
    (w, enc, rows): (&str, &str, usize),
    secs: u64,
    pass: &mut dyn FnMut() -> usize,
) {
    let c0 = common::process_cpu();
    let start = Instant::now();
    let mut wall = Vec::new();
    while wall.is_empty() || start.elapsed() < Duration::from_secs(secs) {
        let t = Instant::now();
        assert_eq!(pass(), rows);
        wall.push(t.elapsed().as_secs_f64());
    }
    let cpu = common::process_cpu() - c0;
    let n = wall.len();
    let med = median(wall);
    println!(
        "query T1 replay solo {who} {w} {enc}: {n} passes, median {:.1} ms = {:.2} M rows/s, CPU {:.1} ns/row",
        med * 1e3,
        rows as f64 / med / 1e6,
        cpu / (n * rows) as f64 * 1e9
    );
}

/// T1R: both clients and the loopback ceiling against a replay child
/// serving `rec`; passes alternate.
fn t1_replay(
    c: &mut Criterion,
    json: &mut Vec<String>,
    (w, enc, rows): (&str, &str, usize),
    rec: &Recording,
    secs: u64,
) {
    let dir = common::target_dir().join("query-replay");
    let file = format!("{w}_{enc}_{rows}_{}.qrec", std::process::id());
    let srv = ReplayServer::start(rec, &dir, &file).unwrap();
    let conf = if rec.zstd {
        format!("{}compression=zstd;compression_level=1;", srv.conf)
    } else {
        srv.conf.clone()
    };
    let ours = QuestDb::connect(&conf).unwrap();
    // The replay serves queries only: the peer opens no ingest connection.
    let peer = questdb::QuestDb::connect(&format!("{conf}sender_pool_min=0;")).unwrap();
    let wire = rec.wire_bytes();
    let mut ceiling = Ceiling::connect(&srv, rec).unwrap();
    // Checked passes first (also under `cargo test`): exactly the child's
    // bytes, on a fresh and on the reused connection.
    ceiling.check().unwrap();
    let mut never = Duration::MAX;
    let mut never_peer = Duration::MAX;
    // Two passes each first (also under `cargo test`): the second runs on
    // the same pooled connection, so the replay's CACHE_RESET and its
    // rewritten request ids are exercised.
    for _ in 0..2 {
        assert_eq!(t1_ours(&ours, &rec.sql, &mut never), rows);
        assert_eq!(t1_peer(&peer, &rec.sql, &mut never_peer), rows);
    }
    // And one of ours within a byte credit of 256 KiB: the replay pauses
    // until the cursor grants each batch's bytes again.
    let mut cur = ours
        .query(&rec.sql)
        .unwrap()
        .initial_credit(256 * 1024)
        .execute()
        .unwrap();
    let mut n = 0;
    while let Some(b) = cur.next_arrow_batch().unwrap() {
        n += b.num_rows();
    }
    assert_eq!(n, rows);
    drop(cur);
    if let Ok(who) = std::env::var("QA_BENCH_SOLO") {
        solo_passes(&who, (w, enc, rows), secs, &mut || match who.as_str() {
            "ours" => t1_ours(&ours, &rec.sql, &mut never),
            "peer" => t1_peer(&peer, &rec.sql, &mut never_peer),
            "ceiling" => {
                ceiling.pass().unwrap();
                rows
            }
            other => panic!("QA_BENCH_SOLO={other}: ours, peer or ceiling"),
        });
        return;
    }
    common::reset_peak_rss();
    let res = common::alternate(
        c,
        &format!("query_t1_replay_{w}_{enc}").to_lowercase(),
        rows,
        secs,
        &mut [
            ("questdb_arrow", &mut || {
                assert_eq!(t1_ours(&ours, &rec.sql, &mut never), rows);
                wire
            }),
            // Between ours and the peer: the peer stays last (`vs_last`).
            ("loopback_ceiling", &mut || {
                ceiling.pass().unwrap();
                wire
            }),
            ("questdb_rs_7_2_1", &mut || {
                assert_eq!(t1_peer(&peer, &rec.sql, &mut never_peer), rows);
                wire
            }),
        ],
    );
    let rss = common::peak_rss_mb();
    println!(
        "query T1 replay {w} {enc}, {rows} rows, {:.1} MB of frames from a child process, medians of {} alternating passes (peak RSS of this process {rss:.0} MB):",
        wire as f64 / 1e6,
        res.first().map_or(0, |r| r.passes)
    );
    println!("| client | M rows/s | wire MB/s | CPU ns/row | ÷ peer (median of paired ratios) |");
    println!("|---|---|---|---|---|");
    for r in &res {
        let cpu = r.cpu_secs / rows as f64 * 1e9;
        println!(
            "| {} | {:.2} | {:.0} | {cpu:.0} | {:.2} |",
            r.name,
            rows as f64 / r.secs / 1e6,
            wire as f64 / r.secs / 1e6,
            r.vs_last
        );
        json.push(format!(
            "{{\"bench\":\"query_t1_replay\",\"workload\":\"{w}\",\"encoding\":\"{enc}\",\"client\":\"{}\",\"rows\":{rows},\"seconds\":{:.6},\"rows_per_sec\":{:.0},\"wire_bytes\":{wire},\"wire_mb_per_sec\":{:.1},\"cpu_ns_per_row\":{cpu:.1},\"peak_rss_mb\":{rss:.0},\"ratio_vs_peer\":{:.3},\"passes\":{}}}",
            r.name,
            r.secs,
            rows as f64 / r.secs,
            wire as f64 / r.secs / 1e6,
            r.vs_last,
            r.passes
        ));
    }
    // Ours against the peer (the ceiling between them is no client).
    if let (Some(ours), Some(peer)) = (res.first(), res.last())
        && res.len() > 1
    {
        json.push(format!(
            "{{\"bench\":\"query_t1_replay\",\"workload\":\"{w}\",\"encoding\":\"{enc}\",\"ratio_ours_over_peer\":{:.3},\"pairs\":{}}}",
            ours.vs_last,
            ours.passes.min(peer.passes)
        ));
    }
}

/// Each (tier, workload, encoding) is one criterion routine whose every
/// iteration is a pair of passes (criterion times ours); the pairs give the
/// medians and the median of the per-pair ratios. Under `cargo test` each
/// runs one pair (T1R: one pass each).
fn bench(c: &mut Criterion) {
    let raw_rows = common::rows_from_env();
    let zstd_rows = std::env::var("QA_BENCH_ZSTD_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(raw_rows);
    let tiers = env_list("QA_BENCH_TIERS", "T0,T1R,T1");
    let with_peer = std::env::var("QA_BENCH_PEER").as_deref() != Ok("0");
    let encodings = env_list("QA_BENCH_ENCODINGS", "RAW,ZSTD");
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
    let mut replays = Vec::new();
    for w in env_list("QA_BENCH_WORKLOADS", "Q1,Q2,Q3,Q4") {
        for enc in encodings.iter().map(|e| e.to_lowercase()) {
            let enc = enc.as_str();
            let zstd = match enc {
                "raw" => false,
                "zstd" => true,
                e => panic!("unknown encoding {e}"),
            };
            let rows = if zstd { zstd_rows } else { raw_rows };
            // One table per row count (the zstd runs may be smaller).
            let table = format!("{}_{rows}", w.to_lowercase());
            if !srv.table_names().contains(&table) {
                let batch = generate(&w, rows);
                let parts: Vec<RecordBatch> = (0..rows)
                    .step_by(100_000)
                    .map(|s| batch.slice(s, 100_000.min(rows - s)))
                    .collect();
                ours_db
                    .ingest_batches(&table, parts, &IngestOptions::new().timestamp_column("ts"))
                    .unwrap();
            }
            let sql = format!("SELECT * FROM {table}");
            let rec = Recording::record(port, &sql, zstd).unwrap();
            let wire = rec.wire_bytes();
            let conf = if zstd { &with_zstd } else { &conf };
            let mut replay = false;
            for tier in &tiers {
                let mut first = [Duration::MAX, Duration::MAX];
                let mut pairs = Pairs::default();
                let id = format!("{tier}_{w}_{enc}");
                match tier.as_str() {
                    "T0" => {
                        let peer_in = peer_frames(rec.batches());
                        g.bench_function(&id, |b| {
                            b.iter_custom(|iters| {
                                (0..iters)
                                    .map(|_| {
                                        pairs.run(
                                            rows,
                                            &mut || decode_ours(rec.batches()),
                                            &mut || decode_peer(&peer_in),
                                        )
                                    })
                                    .sum()
                            })
                        });
                        let p = pairs.summary();
                        paired_figures(&mut json, "query_t0", (&w, enc, rows, wire), &p, None);
                    }
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
                                            &mut || {
                                                if with_peer {
                                                    t1_peer(&peer, &sql, f1)
                                                } else {
                                                    rows
                                                }
                                            },
                                        )
                                    })
                                    .sum()
                            })
                        });
                        let p = pairs.summary();
                        paired_figures(
                            &mut json,
                            "query_t1_embedded",
                            (&w, enc, rows, wire),
                            &p,
                            Some(first),
                        );
                    }
                    // Run after the group (criterion groups do not nest).
                    "T1R" => replay = true,
                    t => panic!("unknown tier {t}"),
                }
            }
            if replay {
                replays.push((w.clone(), enc.to_string(), rows, rec));
            }
        }
    }
    g.finish();
    drop(ours_db);
    drop(srv);
    let secs = budget.as_secs().max(1);
    for (w, enc, rows, rec) in replays {
        t1_replay(c, &mut json, (&w, &enc, rows), &rec, secs);
    }
    common::write_summary("query.json", &json);
}

criterion_group!(benches, bench);

fn main() {
    // The replay child: this binary re-executed by `ReplayServer`.
    if let Some(path) = std::env::var_os(replay::SERVE_ENV) {
        if let Err(e) = replay::serve(std::path::Path::new(&path)) {
            eprintln!("query replay: {e}");
            std::process::exit(1);
        }
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
