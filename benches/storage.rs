//! What persistence costs: the same W1 load (streaming `ingest` of
//! 100 000-row batches) into an in-memory embedded server and into one with
//! a data directory (write-ahead log before every OK, Parquet checkpoints in
//! the background), passes alternating, medians compared.
//!
//! `QA_BENCH_ROWS` (default 1 M; the figure is 10 M) rows per pass;
//! `QA_CHECKPOINT_BYTES` overrides the server's checkpoint interval.
//! Reports per mode: the load until the last acknowledgement, and the load
//! plus a final checkpoint (everything in Parquet). Summary:
//! `$CARGO_TARGET_DIR/bench-summary/storage.json`.

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};

mod common;
use common::{generate, rows_from_env, write_summary};

use arrow::array::RecordBatch;
use questdb_arrow::client::{IngestOptions, QuestDb};
use questdb_arrow::server::Server;

const BATCH_ROWS: usize = 100_000;

/// One pass: a fresh server, the load, then (with a directory) a final
/// checkpoint. Returns (until acknowledged, until checkpointed).
fn pass(batches: &[RecordBatch], dir: Option<&std::path::Path>) -> (Duration, Duration) {
    let mut b = Server::builder().bind("127.0.0.1:0");
    if let Some(d) = dir {
        let _ = std::fs::remove_dir_all(d);
        b = b.data_dir(d);
        if let Some(n) = std::env::var("QA_CHECKPOINT_BYTES")
            .ok()
            .and_then(|v| v.parse().ok())
        {
            b = b.checkpoint_bytes(n);
        }
    }
    let srv = b.start().unwrap();
    let db = QuestDb::connect(&srv.conf_string()).unwrap();
    let opts = IngestOptions::new().timestamp_column("ts");
    let t = Instant::now();
    db.ingest_batches("w1", batches.iter().cloned(), &opts)
        .unwrap();
    let acked = t.elapsed();
    srv.checkpoint().unwrap();
    let all = t.elapsed();
    drop(db);
    drop(srv);
    if let Some(d) = dir {
        let _ = std::fs::remove_dir_all(d);
        // Let the kernel write back this pass's dirty pages now, untimed,
        // rather than during the next (in-memory) pass.
        let _ = std::process::Command::new("sync").status();
    }
    (acked, all)
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn bench(c: &mut Criterion) {
    let rows = rows_from_env();
    let batch = generate("W1", rows);
    let batches: Vec<RecordBatch> = (0..rows)
        .step_by(BATCH_ROWS)
        .map(|s| batch.slice(s, BATCH_ROWS.min(rows - s)))
        .collect();
    let dir = std::env::temp_dir().join(format!("qa-bench-storage-{}", std::process::id()));
    let (mut mem, mut disk, mut disk_all) = (Vec::new(), Vec::new(), Vec::new());
    let mut g = c.benchmark_group("storage_w1");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(if rows >= 1_000_000 { 30 } else { 1 }));
    g.bench_function("in_memory_then_data_dir", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                // Alternate the two modes in every iteration.
                let (m, _) = pass(&batches, None);
                let (d, da) = pass(&batches, Some(&dir));
                mem.push(m);
                disk.push(d);
                disk_all.push(da);
                total += m + d;
            }
            total
        })
    });
    g.finish();
    let n = mem.len();
    let (m, d, da) = (median(&mut mem), median(&mut disk), median(&mut disk_all));
    let rate = |t: Duration| rows as f64 / t.as_secs_f64() / 1e6;
    println!(
        "storage W1 {rows} rows, median of {n} alternating passes: in memory {:.0} ms ({:.2} M rows/s); \
         --data-dir {:.0} ms until acknowledged ({:.2} M rows/s, {:.2}x the in-memory time), \
         {:.0} ms with the final checkpoint ({:.2}x)",
        m.as_secs_f64() * 1e3,
        rate(m),
        d.as_secs_f64() * 1e3,
        rate(d),
        d.as_secs_f64() / m.as_secs_f64(),
        da.as_secs_f64() * 1e3,
        da.as_secs_f64() / m.as_secs_f64(),
    );
    write_summary(
        "storage.json",
        &[format!(
            "{{\"bench\":\"storage\",\"workload\":\"W1\",\"rows\":{rows},\"passes\":{n},\"in_memory_s\":{:.6},\"data_dir_acked_s\":{:.6},\"data_dir_checkpointed_s\":{:.6},\"ratio_acked\":{:.3},\"ratio_checkpointed\":{:.3}}}",
            m.as_secs_f64(),
            d.as_secs_f64(),
            da.as_secs_f64(),
            d.as_secs_f64() / m.as_secs_f64(),
            da.as_secs_f64() / m.as_secs_f64()
        )],
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
