//! What persistence costs: the same W1 load (streaming `ingest` of
//! 100 000-row batches) into an in-memory embedded server and into one with
//! a data directory (write-ahead log before every OK, Parquet checkpoints in
//! the background), passes alternating, medians compared.
//!
//! `QA_BENCH_ROWS` (default 1 M; the figure is 10 M) rows per pass;
//! `QA_CHECKPOINT_BYTES` overrides the server's checkpoint interval.
//! Reports per mode: the load until the last acknowledgement, and the load
//! plus a final checkpoint (everything in Parquet).
//!
//! Then small commits: `QA_SMALL_COMMITS` (default 8000) commits of 1000
//! rows straight into a `Catalog` with a data directory, comparing the time
//! of the last 1000 commits with the first 1000 (a commit must cost what
//! it adds, so the ratio stays near 1 however many batches the table
//! holds), and the time to reopen the directory (replaying the log).
//!
//! Summary: `$CARGO_TARGET_DIR/bench-summary/storage.json`.

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};

mod common;
use common::{generate, process_cpu, rows_from_env, write_summary};

use arrow::array::{AsArray, RecordBatch, TimestampMicrosecondArray};
use arrow::datatypes::TimestampMicrosecondType;
use questdb_arrow::client::{IngestOptions, QuestDb};
use questdb_arrow::server::Server;
use questdb_arrow::server::storage::{Catalog, StorageOptions};

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
    let batches = common::slices(&batch, BATCH_ROWS);
    let dir = std::env::temp_dir().join(format!("qa-bench-storage-{}", std::process::id()));
    if let Ok(mode) = std::env::var("QA_STORAGE_PROFILE") {
        profile(&batches, (mode == "disk").then_some(dir.as_path()));
        return;
    }
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
    let small = small_commits(&batch, &dir);
    write_summary(
        "storage.json",
        &[
            small,
            format!(
                "{{\"bench\":\"storage\",\"workload\":\"W1\",\"rows\":{rows},\"passes\":{n},\"in_memory_s\":{:.6},\"data_dir_acked_s\":{:.6},\"data_dir_checkpointed_s\":{:.6},\"ratio_acked\":{:.3},\"ratio_checkpointed\":{:.3}}}",
                m.as_secs_f64(),
                d.as_secs_f64(),
                da.as_secs_f64(),
                d.as_secs_f64() / m.as_secs_f64(),
                da.as_secs_f64() / m.as_secs_f64()
            ),
        ],
    );
}

/// `QA_STORAGE_PROFILE=mem|disk`: five passes of one mode only (to run
/// under a profiler), printing wall time and the CPU time of the threads
/// the process used.
fn profile(batches: &[RecordBatch], dir: Option<&std::path::Path>) {
    for _ in 0..5 {
        let cpu0 = process_cpu();
        let t = Instant::now();
        let (acked, all) = pass(batches, dir);
        let wall = t.elapsed();
        let cpu = process_cpu() - cpu0;
        println!(
            "acked {:.0} ms, checkpointed {:.0} ms; pass {:.0} ms, process CPU {cpu:.2} s",
            acked.as_secs_f64() * 1e3,
            all.as_secs_f64() * 1e3,
            wall.as_secs_f64() * 1e3
        );
    }
}

/// `QA_SMALL_COMMITS` commits of 1000 rows into a catalogue with a data
/// directory (no checkpoint during the run), then a reopen; returns the
/// JSON line.
fn small_commits(batch: &RecordBatch, dir: &std::path::Path) -> String {
    const ROWS: usize = 1000;
    const WINDOW: usize = 1000;
    let n: usize = std::env::var("QA_SMALL_COMMITS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8000)
        .max(2 * WINDOW);
    let _ = std::fs::remove_dir_all(dir);
    let opts = StorageOptions {
        checkpoint_bytes: u64::MAX / 8,
        checkpoint_idle: None,
        ..StorageOptions::default()
    };
    let cat = Catalog::open_with(Some(dir.to_path_buf()), opts.clone()).unwrap();
    let slice = batch.slice(0, ROWS.min(batch.num_rows()));
    let ts_at = slice.schema().index_of("ts").unwrap();
    let ts = slice
        .column(ts_at)
        .as_primitive::<TimestampMicrosecondType>();
    let span = ts.value(ts.len() - 1) - ts.value(0) + 1;
    let mut marks = Vec::with_capacity(n + 1);
    marks.push(Instant::now());
    for i in 0..n {
        // The same rows, later in time: every commit appends in order.
        let off = span * i as i64;
        let shifted =
            TimestampMicrosecondArray::from_iter_values(ts.values().iter().map(|v| v + off))
                .with_timezone_opt(ts.timezone());
        let mut cols = slice.columns().to_vec();
        cols[ts_at] = std::sync::Arc::new(shifted);
        let b = RecordBatch::try_new(slice.schema(), cols).unwrap();
        cat.commit(vec![("small".into(), b, Some("ts".into()))])
            .unwrap();
        marks.push(Instant::now());
    }
    let first = marks[WINDOW] - marks[0];
    let last = marks[n] - marks[n - WINDOW];
    drop(cat);
    let t = Instant::now();
    let cat = Catalog::open_with(Some(dir.to_path_buf()), opts).unwrap();
    let reopen = t.elapsed();
    let rows = cat.table("small").map_or(0, |t| t.rows());
    assert_eq!(rows, n * slice.num_rows(), "every commit is back");
    drop(cat);
    let _ = std::fs::remove_dir_all(dir);
    let ratio = last.as_secs_f64() / first.as_secs_f64();
    println!(
        "small commits: {n} x {} rows; first {WINDOW} commits {:.1} ms, last {WINDOW} {:.1} ms ({ratio:.2}x); reopen {:.0} ms",
        slice.num_rows(),
        first.as_secs_f64() * 1e3,
        last.as_secs_f64() * 1e3,
        reopen.as_secs_f64() * 1e3,
    );
    format!(
        "{{\"bench\":\"storage_small_commits\",\"commits\":{n},\"rows_per_commit\":{},\"first_window_s\":{:.6},\"last_window_s\":{:.6},\"last_over_first\":{ratio:.3},\"reopen_s\":{:.6}}}",
        slice.num_rows(),
        first.as_secs_f64(),
        last.as_secs_f64(),
        reopen.as_secs_f64()
    )
}

criterion_group!(benches, bench);
criterion_main!(benches);
