//! Query benchmarks, ours side by side with questdb-rs 7.2.1 in one run:
//!
//! - T0 decode (no socket): RESULT_BATCH frames recorded from the embedded
//!   server → Arrow `RecordBatch`es. Ours: `client::BatchDecoder`; the
//!   peer: its `decode_result_batch` + `bench_batch_to_record_batch`
//!   (`egress::_bench_internals`).
//! - T1 end to end: `SELECT *` against the embedded server over loopback,
//!   every batch received as Arrow. Ours: `QuestDb::query_arrow`; the
//!   peer: `Reader::execute` + `next_arrow_batch`.
//!
//! Workloads (design.md §5): W1 mixed and W6 trades (symbol card 27, side
//! card 2, price, amount, timestamp). Prints rows/s, MB/s of frames, time
//! to first batch and ratios; writes
//! `$CARGO_TARGET_DIR/bench-summary/query.json`. `QA_BENCH_ROWS` sets the
//! rows (default 1 M).

use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use questdb_arrow::client::{BatchDecoder, IngestOptions, QuestDb};
use questdb_arrow::protocol::egress::{
    QueryRequest, ServerControl, ServerMessage, decode_server_message,
};
use questdb_arrow::server::Server;
use questdb_arrow::transport::{ConnectOptions, Connection, Route};

mod common;
use common::generate;

/// The RESULT_BATCH frames of `sql`, as the server sent them.
fn record(port: u16, sql: &str) -> Vec<Vec<u8>> {
    let (mut conn, hs) =
        Connection::connect(&ConnectOptions::new("127.0.0.1", port), Route::Query).unwrap();
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
        if let questdb_arrow::client::Decoded::Batch { batch, .. } = d.decode(f).unwrap() {
            rows += batch.num_rows();
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
        rows += rb.num_rows();
    }
    rows
}

fn best_of(
    c: &mut Criterion,
    group: &str,
    rows: usize,
    routines: &mut [(&str, &mut dyn FnMut() -> usize)],
) -> Vec<f64> {
    let mut g = c.benchmark_group(group);
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(if rows >= 1_000_000 { 8 } else { 1 }));
    g.throughput(Throughput::Elements(rows as u64));
    let mut out = Vec::new();
    for (name, f) in routines.iter_mut() {
        let mut best = Duration::MAX;
        g.bench_function(*name, |b| {
            b.iter_custom(|iters| {
                let t = Instant::now();
                for _ in 0..iters {
                    assert_eq!(std::hint::black_box(f()), rows);
                }
                let e = t.elapsed();
                best = best.min(e / iters as u32);
                e
            })
        });
        out.push(best.as_secs_f64());
    }
    g.finish();
    out
}

fn bench(c: &mut Criterion) {
    let rows = common::rows_from_env();
    let srv = Server::builder().bind("127.0.0.1:0").start().unwrap();
    let port = srv.addr().port();
    let ours = QuestDb::connect(&srv.conf_string()).unwrap();
    let peer = questdb::QuestDb::connect(&srv.conf_string()).unwrap();
    let mut json = Vec::new();
    for w in ["W1", "W6"] {
        let table = w.to_lowercase();
        let batch = generate(w, rows);
        let parts: Vec<RecordBatch> = (0..rows)
            .step_by(100_000)
            .map(|s| batch.slice(s, 100_000.min(rows - s)))
            .collect();
        ours.ingest_batches(&table, parts, &IngestOptions::new().timestamp_column("ts"))
            .unwrap();
        let sql = format!("SELECT * FROM {table}");
        let frames = record(port, &sql);
        let wire: usize = frames.iter().map(Vec::len).sum();

        let t0 = best_of(
            c,
            &format!("query_t0_{table}"),
            rows,
            &mut [
                ("questdb_arrow", &mut || decode_ours(&frames)),
                ("questdb_rs_7_2_1", &mut || decode_peer(&frames)),
            ],
        );
        let first = [
            std::cell::Cell::new(Duration::MAX),
            std::cell::Cell::new(Duration::MAX),
        ];
        let t1 = best_of(
            c,
            &format!("query_t1_{table}"),
            rows,
            &mut [
                ("questdb_arrow", &mut || {
                    let t = Instant::now();
                    let mut cur = ours.query_arrow(&sql).unwrap();
                    let mut n = 0;
                    while let Some(b) = cur.next_arrow_batch().unwrap() {
                        if n == 0 {
                            first[0].set(first[0].get().min(t.elapsed()));
                        }
                        n += b.num_rows();
                    }
                    n
                }),
                ("questdb_rs_7_2_1", &mut || {
                    let t = Instant::now();
                    let mut r = peer.borrow_reader().unwrap();
                    let mut cur = r.execute(&sql).unwrap();
                    let mut n = 0;
                    while let Some(b) = cur.next_arrow_batch().unwrap() {
                        if n == 0 {
                            first[1].set(first[1].get().min(t.elapsed()));
                        }
                        n += b.num_rows();
                    }
                    n
                }),
            ],
        );
        for (tier, times) in [("T0", &t0), ("T1", &t1)] {
            for (k, name) in ["questdb_arrow", "questdb_rs_7_2_1"].iter().enumerate() {
                let s = times[k];
                let ttfb = if tier == "T1" {
                    format!(
                        ", first batch after {:.2} ms",
                        first[k].get().as_secs_f64() * 1e3
                    )
                } else {
                    String::new()
                };
                println!(
                    "query {tier} {w} {name}: {rows} rows in {:.1} ms = {:.2} M rows/s, {:.0} MB/s of frames{ttfb}",
                    s * 1e3,
                    rows as f64 / s / 1e6,
                    wire as f64 / s / 1e6
                );
                json.push(format!(
                    "{{\"bench\":\"query_{}\",\"workload\":\"{w}\",\"client\":\"{name}\",\"rows\":{rows},\"seconds\":{s:.6},\"rows_per_sec\":{:.0},\"wire_bytes\":{wire}{}}}",
                    tier.to_lowercase(),
                    rows as f64 / s,
                    if tier == "T1" {
                        format!(",\"first_batch_seconds\":{:.6}", first[k].get().as_secs_f64())
                    } else {
                        String::new()
                    }
                ));
            }
            println!("query {tier} {w}: ours / peer {:.2}x", times[1] / times[0]);
        }
    }
    common::write_summary("query.json", &json);
}

criterion_group!(benches, bench);
criterion_main!(benches);
