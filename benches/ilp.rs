//! ILP-over-HTTP ingest benchmark (T1 style) on workloads W1, W3 and W5 of
//! design.md, ours side by side with questdb-rs 7.2.1's ILP HTTP sender on
//! the same batches in the same run.
//!
//! End to end over loopback into the embedded server in sink mode (ILP
//! parsed into batches, nothing stored; QWP decoded and acknowledged) — a
//! `questdb-arrow serve --sink` child process when the CLI is built
//! (`cargo bench --features cli --bench ilp`, or `QA_SERVE_BIN`), so the
//! client's CPU is measured alone; in process otherwise. Batches of 100 000
//! rows sliced from one generated batch:
//!
//! - `questdb_arrow_ilp_http_ingest`: ours over `http::` (protocol version
//!   2), `QuestDb::ingest_batches` (one request per batch);
//! - `questdb_arrow_ilp_http_ingest_2conn`: the same over two pooled
//!   connections (`IngestOptions::connections(2)`): each request is still
//!   one batch, and the server parses two at once;
//! - `questdb_arrow_ilp_http_flush`: ours over `http::`,
//!   `flush_arrow_batch` per batch;
//! - `questdb_arrow_qwp_ingest`: ours over `ws::` (QWP),
//!   `QuestDb::ingest_batches` — the ILP / QWP side by side;
//! - `questdb_rs_7_2_1_ilp_http` (the peer): questdb-rs's `Sender` over
//!   `http::` (protocol version 2). It has no Arrow path over ILP, so its
//!   pass converts each batch row by row into its row `Buffer` (NULLs left
//!   out, as ILP does) and `flush`es it: the conversion is part of its cost.
//!
//! Passes alternate; medians, client CPU ns/row, the median of the paired
//! ratios against the peer, each client's peak RSS. Prints a table per
//! workload; writes `$CARGO_TARGET_DIR/bench-summary/ilp_t1.json`.
//! `QA_BENCH_ROWS` sets the rows per workload (default 1 M),
//! `QA_BENCH_WORKLOADS` the workloads (default `W1,W3,W5`).

use arrow::array::{
    Array, AsArray, DictionaryArray, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Int32Type, TimeUnit, TimestampMicrosecondType};
use criterion::{Criterion, criterion_group, criterion_main};
use questdb::ingress::{Buffer, ColumnName, Sender, TableName, TimestampMicros};

mod common;
use common::{
    alternate, generate, peak_rss_mb, rows_from_env, tracking_peak_rss, workloads_or, write_summary,
};

const BATCH_ROWS: usize = 100_000;

/// One Arrow column as questdb-rs's row `Buffer` takes it.
enum PeerCol<'a> {
    Sym(
        ColumnName<'a>,
        &'a DictionaryArray<Int32Type>,
        &'a StringArray,
    ),
    F64(ColumnName<'a>, &'a Float64Array),
    I64(ColumnName<'a>, &'a Int64Array),
    Str(ColumnName<'a>, &'a StringArray),
    Ts(ColumnName<'a>, &'a TimestampMicrosecondArray),
}

impl PeerCol<'_> {
    /// Appends this column's value at `row`, nothing when it is NULL.
    fn append(&self, buf: &mut Buffer, row: usize) -> questdb::Result<()> {
        match *self {
            PeerCol::Sym(n, d, values) if d.is_valid(row) => {
                buf.symbol(n, values.value(d.keys().value(row) as usize))?;
            }
            PeerCol::F64(n, a) if a.is_valid(row) => {
                buf.column_f64(n, a.value(row))?;
            }
            PeerCol::I64(n, a) if a.is_valid(row) => {
                buf.column_i64(n, a.value(row))?;
            }
            PeerCol::Str(n, a) if a.is_valid(row) => {
                buf.column_str(n, a.value(row))?;
            }
            PeerCol::Ts(n, a) if a.is_valid(row) => {
                buf.column_ts(n, TimestampMicros::new(a.value(row)))?;
            }
            _ => {}
        }
        Ok(())
    }
}

/// What a questdb-rs user writes to send an Arrow batch over ILP: its rows
/// appended to the row `Buffer` one by one — symbols first (ILP puts tags
/// before fields), NULLs left out, `ts_col` (non-null microseconds) as the
/// designated timestamp. Names are validated once per batch.
fn fill_peer_buffer(
    buf: &mut Buffer,
    table: &str,
    batch: &RecordBatch,
    ts_col: &str,
) -> questdb::Result<()> {
    let table = TableName::new(table)?;
    let schema = batch.schema();
    let (mut symbols, mut fields, mut ts) = (Vec::new(), Vec::new(), None);
    for (f, a) in schema.fields().iter().zip(batch.columns()) {
        let name = ColumnName::new(f.name())?;
        match a.data_type() {
            DataType::Timestamp(TimeUnit::Microsecond, _) if f.name() == ts_col => {
                ts = Some(a.as_primitive::<TimestampMicrosecondType>());
            }
            DataType::Timestamp(TimeUnit::Microsecond, _) => {
                fields.push(PeerCol::Ts(name, a.as_primitive()));
            }
            DataType::Dictionary(k, v) if **k == DataType::Int32 && **v == DataType::Utf8 => {
                let d = a.as_dictionary::<Int32Type>();
                symbols.push(PeerCol::Sym(name, d, d.values().as_string()));
            }
            DataType::Float64 => fields.push(PeerCol::F64(name, a.as_primitive())),
            DataType::Int64 => fields.push(PeerCol::I64(name, a.as_primitive())),
            DataType::Utf8 => fields.push(PeerCol::Str(name, a.as_string())),
            other => panic!("peer ILP converter: no column for {:?} ({other})", f.name()),
        }
    }
    let ts = ts.unwrap_or_else(|| panic!("peer ILP converter: no timestamp column {ts_col:?}"));
    for row in 0..batch.num_rows() {
        buf.table(table)?;
        for c in symbols.iter().chain(&fields) {
            c.append(buf, row)?;
        }
        buf.at(TimestampMicros::new(ts.value(row)))?;
    }
    Ok(())
}

fn bench_ilp(c: &mut Criterion) {
    use questdb_arrow::client::{IngestOptions, QuestDb};

    let rows = rows_from_env();
    let (sink, qwp, _) = common::sink_server();
    let ilp_conf = sink.ilp_http_conf();
    let ilp = QuestDb::connect(&ilp_conf).unwrap();
    // Opened once, like the pooled connections of ours: the passes measure
    // rows, not connects. One buffer, cleared by each flush.
    let mut peer = Sender::from_conf(&ilp_conf).unwrap();
    let mut peer_buf = peer.new_buffer();
    let opts = IngestOptions::new().timestamp_column("ts");
    let two = opts.clone().connections(2);
    let mut json = Vec::new();
    let mut process_peak = peak_rss_mb();
    for w in workloads_or("W1,W3,W5") {
        let batch = generate(&w, rows);
        let batches = common::slices(&batch, BATCH_ROWS);
        let table = w.to_lowercase();
        let secs = if rows >= 1_000_000 { 10 } else { 1 };
        let mut peak = [0.0f64; 5];
        let [peak_ingest, peak_two, peak_flush, peak_qwp, peak_peer] = &mut peak;
        let res = alternate(
            c,
            &format!("ilp_t1_{table}"),
            rows,
            secs,
            &mut [
                ("questdb_arrow_ilp_http_ingest", &mut || {
                    tracking_peak_rss(peak_ingest, || {
                        ilp.ingest_batches(&table, batches.iter().cloned(), &opts)
                            .unwrap()
                            .bytes as usize
                    })
                }),
                ("questdb_arrow_ilp_http_ingest_2conn", &mut || {
                    tracking_peak_rss(peak_two, || {
                        ilp.ingest_batches(&table, batches.iter().cloned(), &two)
                            .unwrap()
                            .bytes as usize
                    })
                }),
                ("questdb_arrow_ilp_http_flush", &mut || {
                    tracking_peak_rss(peak_flush, || common::flush_each(&ilp, &table, &batches))
                }),
                ("questdb_arrow_qwp_ingest", &mut || {
                    tracking_peak_rss(peak_qwp, || {
                        qwp.ingest_batches(&table, batches.iter().cloned(), &opts)
                            .unwrap()
                            .bytes as usize
                    })
                }),
                ("questdb_rs_7_2_1_ilp_http", &mut || {
                    tracking_peak_rss(peak_peer, || {
                        let mut bytes = 0;
                        for x in &batches {
                            fill_peer_buffer(&mut peer_buf, &table, x, "ts").unwrap();
                            bytes += peer_buf.len();
                            peer.flush(&mut peer_buf).unwrap();
                        }
                        bytes
                    })
                }),
            ],
        );
        if res.iter().any(|r| r.passes == 0) {
            continue;
        }
        common::print_t1_head(
            &format!("ILP T1 {w}, {rows} rows in batches of {BATCH_ROWS}"),
            &sink,
            res[0].passes,
            "peer",
            &["peak RSS MB"],
        );
        for (r, rss) in res.iter().zip(peak) {
            let transport = if r.name.contains("qwp") {
                "qwp_ws"
            } else {
                "ilp_http"
            };
            println!("{} {rss:.0} |", r.table_row(rows));
            json.push(format!(
                "{{\"bench\":\"ilp_t1\",\"workload\":\"{w}\",\"client\":\"{}\",\"transport\":\"{transport}\",{},\"sink_out_of_process\":{},\"peak_rss_mb\":{rss:.1}}}",
                r.name,
                r.json_figures(rows, "ratio_vs_peer"),
                sink.out_of_process
            ));
        }
        process_peak = peak.iter().fold(process_peak, |a, &b| a.max(b));
    }
    println!("ILP T1: peak RSS of this process {process_peak:.0} MB");
    write_summary("ilp_t1.json", &json);
}

criterion_group!(benches, bench_ilp);
criterion_main!(benches);
