//! Row sender benchmark (T1 style): workload W2 of design.md (ts, id LONG,
//! price DOUBLE, sym SYMBOL of 8, note VARCHAR 16 B) written row by row —
//! ours `client::rows` (`borrow_row_sender`, auto-flush every
//! `FLUSH_ROWS` rows, each flush acknowledged before the next rows); ours
//! asynchronous (`AsyncSender::row_sender`, memory queue, auto-flush every
//! `FLUSH_ROWS` rows publishing into the queue, then `wait` for every
//! acknowledgement); against questdb-rs 7.2.1's row `Buffer` on a borrowed
//! sender (`flush_buffer` every `FLUSH_ROWS` rows, then `wait` for every
//! acknowledgement) — into the same sink server (`questdb-arrow serve
//! --sink` child when the CLI is built, else in process), passes
//! alternating; medians, client CPU ns/row (the async sender's runner
//! thread included), the median of the paired ratios against the peer, and
//! each client's peak RSS.
//!
//! Prints a table; writes `$CARGO_TARGET_DIR/bench-summary/rows_t1.json`.
//! `QA_BENCH_ROWS` sets the rows (default 1 M).

use std::time::Duration;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{Float64Type, Int32Type, Int64Type, TimestampMicrosecondType};
use criterion::{Criterion, criterion_group, criterion_main};

mod common;
use common::{alternate, generate, peak_rss_mb, rows_from_env, tracking_peak_rss, write_summary};

/// Rows per flush, both clients.
const FLUSH_ROWS: usize = 10_000;

/// W2 as plain row values.
struct Rows {
    ts: Vec<i64>,
    id: Vec<i64>,
    price: Vec<f64>,
    sym: Vec<String>,
    note: Vec<String>,
}

fn w2_rows(n: usize) -> Rows {
    let b = generate("W2", n);
    let col = |name: &str| b.column(b.schema().index_of(name).unwrap()).clone();
    let sym = col("sym");
    let dict = sym.as_dictionary::<Int32Type>();
    let values = dict.values().as_string::<i32>();
    Rows {
        ts: col("ts")
            .as_primitive::<TimestampMicrosecondType>()
            .values()
            .to_vec(),
        id: col("id").as_primitive::<Int64Type>().values().to_vec(),
        price: col("price").as_primitive::<Float64Type>().values().to_vec(),
        sym: dict
            .keys()
            .values()
            .iter()
            .map(|&k| values.value(k as usize).to_string())
            .collect(),
        note: {
            let a = col("note");
            let s = a.as_string::<i32>();
            (0..s.len()).map(|i| s.value(i).to_string()).collect()
        },
    }
}

fn bench_rows(c: &mut Criterion) {
    use questdb::ingress::{AckLevel as PeerAck, TimestampMicros as PeerTs};
    use questdb_arrow::client::rows::TimestampMicros;
    use questdb_arrow::client::{AckLevel, AsyncSender, QuestDb};
    use questdb_arrow::conf::Conf;

    let n = rows_from_env();
    let (sink, _, peer) = common::sink_server();
    let conf = format!(
        "{}auto_flush_rows={FLUSH_ROWS};auto_flush_interval=off;",
        sink.conf
    );
    let ours = QuestDb::connect(&conf).unwrap();
    // Opened once, like the pooled connections of the other two: the
    // passes measure rows, not connects. Memory queue (no `sf_dir`).
    let mut async_sender = AsyncSender::open(&Conf::parse(&conf).unwrap()).unwrap();
    let r = w2_rows(n);
    let table = "w2_rows";
    let secs = if n >= 1_000_000 { 10 } else { 1 };
    // The peak so far (the rows generated); each pass starts it afresh.
    let setup_peak = peak_rss_mb();
    let mut peak = [0.0f64; 3];
    let [peak_sync, peak_async, peak_peer] = &mut peak;
    let res = alternate(
        c,
        "rows_t1_w2",
        n,
        secs,
        &mut [
            ("questdb_arrow_row_sender", &mut || {
                tracking_peak_rss(peak_sync, || {
                    let mut s = ours.borrow_row_sender().unwrap();
                    for i in 0..n {
                        s.table(table)
                            .unwrap()
                            .symbol("sym", &r.sym[i])
                            .unwrap()
                            .column_i64("id", r.id[i])
                            .unwrap()
                            .column_f64("price", r.price[i])
                            .unwrap()
                            .column_str("note", &r.note[i])
                            .unwrap()
                            .at(TimestampMicros::new(r.ts[i]))
                            .unwrap();
                    }
                    s.flush().unwrap().bytes as usize
                })
            }),
            ("questdb_arrow_async_row_sender", &mut || {
                tracking_peak_rss(peak_async, || {
                    let before = async_sender.counters().bytes_sent;
                    {
                        let mut s = async_sender.row_sender().unwrap();
                        for i in 0..n {
                            s.table(table)
                                .unwrap()
                                .symbol("sym", &r.sym[i])
                                .unwrap()
                                .column_i64("id", r.id[i])
                                .unwrap()
                                .column_f64("price", r.price[i])
                                .unwrap()
                                .column_str("note", &r.note[i])
                                .unwrap()
                                .at(TimestampMicros::new(r.ts[i]))
                                .unwrap();
                        }
                        s.flush().unwrap();
                    }
                    // Every row acknowledged, as the peer's pass ends.
                    async_sender
                        .wait(AckLevel::Ok, Duration::from_secs(60))
                        .unwrap();
                    (async_sender.counters().bytes_sent - before) as usize
                })
            }),
            ("questdb_rs_7_2_1", &mut || {
                tracking_peak_rss(peak_peer, || {
                    let mut s = peer.borrow_sender().unwrap();
                    let mut buf = s.new_buffer();
                    for i in 0..n {
                        buf.table(table)
                            .unwrap()
                            .symbol("sym", &r.sym[i])
                            .unwrap()
                            .column_i64("id", r.id[i])
                            .unwrap()
                            .column_f64("price", r.price[i])
                            .unwrap()
                            .column_str("note", &r.note[i])
                            .unwrap()
                            .at(PeerTs::new(r.ts[i]))
                            .unwrap();
                        if buf.row_count() >= FLUSH_ROWS {
                            s.flush_buffer(&mut buf).unwrap();
                        }
                    }
                    s.flush_buffer(&mut buf).unwrap();
                    s.wait(PeerAck::Ok, Duration::ZERO).unwrap();
                    0
                })
            }),
        ],
    );
    let counters = async_sender.counters();
    async_sender.close().unwrap();
    // Everything the async row sender queued was sent once and
    // acknowledged: no replays, no rejections.
    assert_eq!(counters.frames_acked, counters.frames_published);
    assert_eq!(counters.frames_replayed, 0);
    assert_eq!(counters.server_errors, 0);
    common::print_t1_head(
        &format!("rows T1 W2, {n} rows row by row, flush every {FLUSH_ROWS} rows"),
        &sink,
        res[0].passes,
        "peer",
        &["peak RSS MB"],
    );
    let mut json = Vec::new();
    for (x, rss) in res.iter().zip(peak) {
        println!("{} {rss:.0} |", x.table_row(n));
        json.push(format!(
            "{{\"bench\":\"rows_t1\",\"workload\":\"W2\",\"client\":\"{}\",\"flush_rows\":{FLUSH_ROWS},{},\"sink_out_of_process\":{},\"peak_rss_mb\":{rss:.1}}}",
            x.name,
            x.json_figures(n, "ratio_vs_peer"),
            sink.out_of_process
        ));
    }
    println!(
        "rows T1: peak RSS of this process {:.0} MB",
        peak.iter().fold(setup_peak, |a, &b| a.max(b))
    );
    write_summary("rows_t1.json", &json);
}

criterion_group!(benches, bench_rows);
criterion_main!(benches);
