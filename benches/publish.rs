//! Asynchronous publish benchmark (T1 style): workload W1 of design.md
//! (ts, sym SYMBOL of 64, 4 DOUBLE, 2 LONG, note VARCHAR 16 B) in batches
//! of 100 000 rows, into the same sink server (`questdb-arrow serve
//! --sink` child when the CLI is built, else in process), passes
//! alternating:
//!
//! - (a) `questdb_arrow_ingest`: `QuestDb::ingest_batches` (streaming,
//!   pipelined, returns when everything is acknowledged) — the baseline;
//! - (b) `async_publish_memory`: `AsyncSender` with the memory queue,
//!   `publish` of each batch, then one `wait(AckLevel::Ok)`;
//! - (c) `async_publish_disk`: the same with the queue on disk (`sf_dir`
//!   in a fresh temporary directory, `sf_durability=memory`: no `fsync`);
//! - (d) `async_publish_disk_periodic`: on disk with
//!   `sf_durability=periodic` (`fsync` on every segment rotation and every
//!   `sf_sync_interval_millis`).
//!
//! Each async sender is opened once (like the pooled connection of (a)),
//! so the passes measure publishing, not connects. Reports medians of
//! rows/s, client CPU ns/row (the runner thread included), the median of
//! the paired ratios against (a), and each client's peak RSS; the issue's
//! goal is that the disk queue costs less than 25 % of (a)'s throughput
//! (ratio (c) ≥ 0.75).
//!
//! Prints a table; writes `$CARGO_TARGET_DIR/bench-summary/publish_t1.json`.
//! `QA_BENCH_ROWS` sets the rows (default 2 M). For profiling,
//! `QA_PUBLISH_ONLY=memory|disk|periodic` runs only that async client
//! besides (a): the others' passes do nothing (their figures are void).

use std::time::Duration;

use arrow::array::RecordBatch;
use criterion::{Criterion, criterion_group, criterion_main};
use questdb_arrow::client::{AckLevel, AsyncSender, IngestOptions};
use questdb_arrow::conf::Conf;

mod common;
use common::{alternate, generate, peak_rss_mb, tracking_peak_rss, write_summary};

const BATCH_ROWS: usize = 100_000;

/// The disk queue must cost less than this fraction of (a)'s throughput.
const DISK_GOAL: f64 = 0.25;

/// `QA_BENCH_ROWS`, default 2 M.
fn rows() -> usize {
    std::env::var("QA_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000_000)
}

/// Publishes every batch, then waits until all of it is acknowledged;
/// returns the bytes the runner sent meanwhile.
fn publish_all(s: &mut AsyncSender, table: &str, batches: &[RecordBatch]) -> usize {
    let before = s.counters().bytes_sent;
    for b in batches {
        s.publish(table, b, Some("ts")).unwrap();
    }
    s.wait(AckLevel::Ok, Duration::from_secs(60)).unwrap();
    (s.counters().bytes_sent - before) as usize
}

/// Closes `s` and checks that what it published was sent once and
/// acknowledged: no replay, no rejection.
fn close_clean(name: &str, s: AsyncSender) {
    let c = s.counters();
    s.close().unwrap();
    assert_eq!(c.frames_acked, c.frames_published, "{name}: {c:?}");
    assert_eq!(c.frames_replayed, 0, "{name}: {c:?}");
    assert_eq!(c.server_errors, 0, "{name}: {c:?}");
}

fn bench_publish(c: &mut Criterion) {
    let n = rows();
    let (sink, ours, _) = common::sink_server();
    let dir = std::env::temp_dir().join(format!("qa-bench-publish-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let open = |extra: &str| {
        AsyncSender::open(&Conf::parse(&format!("{}{extra}", sink.conf)).unwrap()).unwrap()
    };
    let mut memory = open("");
    let mut disk = open(&format!(
        "sf_dir={};sender_id=disk;sf_durability=memory;",
        dir.display()
    ));
    let mut periodic = open(&format!(
        "sf_dir={};sender_id=disk_periodic;sf_durability=periodic;",
        dir.display()
    ));
    // `QA_PUBLISH_ONLY`: the async client to run (all when unset).
    let only = std::env::var("QA_PUBLISH_ONLY").ok();
    let skip = |name: &str| only.as_deref().is_some_and(|o| o != name);
    let batch = generate("W1", n);
    let batches = common::slices(&batch, BATCH_ROWS);
    let opts = IngestOptions::new().timestamp_column("ts");
    let table = "w1";
    let secs = if n >= 1_000_000 { 10 } else { 1 };
    // The peak so far (the batches generated); each pass starts it afresh.
    let setup_peak = peak_rss_mb();
    let mut peak = [0.0f64; 4];
    let [p_mem, p_disk, p_periodic, p_ingest] = &mut peak;
    // (a) last: `alternate` pairs every routine's passes with the last's.
    let res = alternate(
        c,
        "publish_t1_w1",
        n,
        secs,
        &mut [
            ("async_publish_memory", &mut || {
                if skip("memory") {
                    return 0;
                }
                tracking_peak_rss(p_mem, || publish_all(&mut memory, table, &batches))
            }),
            ("async_publish_disk", &mut || {
                if skip("disk") {
                    return 0;
                }
                tracking_peak_rss(p_disk, || publish_all(&mut disk, table, &batches))
            }),
            ("async_publish_disk_periodic", &mut || {
                if skip("periodic") {
                    return 0;
                }
                tracking_peak_rss(p_periodic, || publish_all(&mut periodic, table, &batches))
            }),
            ("questdb_arrow_ingest", &mut || {
                tracking_peak_rss(p_ingest, || {
                    ours.ingest_batches(table, batches.iter().cloned(), &opts)
                        .unwrap()
                        .bytes as usize
                })
            }),
        ],
    );
    close_clean("memory", memory);
    close_clean("disk", disk);
    close_clean("disk_periodic", periodic);
    let _ = std::fs::remove_dir_all(&dir);
    if res.iter().any(|r| r.passes == 0) {
        return;
    }
    common::print_t1_head(
        &format!("publish T1 W1, {n} rows in batches of {BATCH_ROWS}"),
        &sink,
        res[0].passes,
        "ingest",
        &["peak RSS MB"],
    );
    let mut json = Vec::new();
    // (a) first in the table.
    let order = [3, 0, 1, 2];
    for &i in &order {
        let (x, rss) = (&res[i], peak[i]);
        println!("{} {rss:.0} |", x.table_row(n));
        json.push(format!(
            "{{\"bench\":\"publish_t1\",\"workload\":\"W1\",\"client\":\"{}\",\"batch_rows\":{BATCH_ROWS},{},\"peak_rss_mb\":{rss:.1},\"sink_out_of_process\":{}}}",
            x.name,
            x.json_figures(n, "ratio_vs_ingest"),
            sink.out_of_process
        ));
    }
    for (i, what) in [(1, "disk queue"), (2, "disk queue, sf_durability=periodic")] {
        let cost = 1.0 - res[i].vs_last;
        println!(
            "publish T1: {what} costs {:.0} % of ingest's throughput (goal < {:.0} %: {})",
            cost * 100.0,
            DISK_GOAL * 100.0,
            if cost < DISK_GOAL { "met" } else { "NOT met" }
        );
    }
    println!(
        "publish T1: peak RSS of this process {:.0} MB",
        peak.iter().fold(setup_peak, |a, &b| a.max(b))
    );
    write_summary("publish_t1.json", &json);
}

criterion_group!(benches, bench_publish);
criterion_main!(benches);
