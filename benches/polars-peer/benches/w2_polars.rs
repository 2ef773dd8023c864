//! W2 (ts, id, price, sym, note) as a polars DataFrame through
//! `flush_polars_dataframe`: ours (polars 0.55) vs questdb-rs 7.2.1 (polars
//! 0.54), into the embedded server in sink mode (decode + ack, no storage),
//! the same rows and the same slice size for both.
//!
//! Prints rows/s and the ratio; writes
//! `$CARGO_TARGET_DIR/bench-summary/polars_w2.json`. `QA_BENCH_ROWS` sets
//! the rows (default 1 M).

use criterion::{Criterion, criterion_group, criterion_main};
use polars_peer::common::{measure, rows_from_env, sink_server, write_summary};
use polars_peer::{w2, w2_frame};
use questdb::ingress::ColumnName;
use questdb::ingress::polars::PolarsIngestOptions as PeerOptions;
use questdb_arrow::polars_io::PolarsIngestOptions;

/// Rows per slice, for both clients.
const SLICE_ROWS: usize = 100_000;

fn bench(c: &mut Criterion) {
    let rows = rows_from_env();
    let (_srv, ours, peer) = sink_server();
    let w = w2(rows);
    let (new, old) = (w2_frame!(polars055, &w), w2_frame!(polars054, &w));
    let our_opts = PolarsIngestOptions::new()
        .timestamp_column("ts")
        .max_rows(SLICE_ROWS);
    let ts = ColumnName::new("ts").unwrap();
    let peer_opts = PeerOptions::new().timestamp_column(ts).max_rows(SLICE_ROWS);
    let secs = if rows >= 1_000_000 { 10 } else { 1 };
    let res = measure(
        c,
        "polars_w2",
        rows,
        secs,
        &mut [
            ("questdb_arrow", &mut || {
                ours.flush_polars_dataframe("w2", &new, &our_opts)
                    .unwrap()
                    .bytes as usize
            }),
            ("questdb_rs_7_2_1", &mut || {
                peer.flush_polars_dataframe("w2", &old, &peer_opts).unwrap();
                0
            }),
        ],
    );
    let mut json = Vec::new();
    for (name, s, bytes) in &res {
        println!(
            "polars W2 {name}: {rows} rows in {:.1} ms = {:.2} M rows/s",
            s * 1e3,
            rows as f64 / s / 1e6
        );
        json.push(format!(
            "{{\"bench\":\"polars_w2\",\"workload\":\"W2\",\"client\":\"{name}\",\"rows\":{rows},\"seconds\":{s:.6},\"rows_per_sec\":{:.0},\"wire_bytes\":{bytes}}}",
            rows as f64 / s
        ));
    }
    println!("polars W2: ours / peer {:.2}x", res[1].1 / res[0].1);
    write_summary("polars_w2.json", &json);
}

criterion_group!(benches, bench);
criterion_main!(benches);
