//! Ingest benchmarks on workloads W1–W5 of design.md, ours side by side
//! with questdb-rs 7.2.1 on the same batches in the same run.
//!
//! - T0 (no socket): encode into a reused buffer, frames of 20 000 rows.
//!   `fast` = `bridge::frame::BlockEncoder` writing masked WebSocket
//!   payloads (zero-copy where layouts agree, columns in parallel);
//!   `reference` = Arrow → owned `ColumnData` → encode; `peer` =
//!   questdb-rs's chunk encoder (`_bench_internals::bench_encode_chunk_into`,
//!   unmasked QWP messages: it does less work than `fast`);
//!   `fast_unmasked` = `fast` into a plain buffer, the like-for-like
//!   comparison with the peer's bench path. `fast` encodes what the
//!   sender sends to a server on this host (`Gorilla::Auto` over loopback:
//!   jittered timestamps raw, as the peer always sends them);
//!   `fast_gorilla` what it sends to a remote server (Gorilla when
//!   smaller).
//! - T1: end to end over loopback into the embedded server in sink mode
//!   (decode + ack, no storage) — a `questdb-arrow serve --sink` child
//!   process when the CLI is built (`cargo bench --features cli --bench
//!   ingest`, or `QA_SERVE_BIN`), so the client's CPU is measured alone;
//!   in process otherwise — batches of 100 000 rows: ours
//!   `QuestDb::ingest` (streaming, pipelined), the same over two pooled
//!   connections (`IngestOptions::connections(2)`), ours `flush_arrow_batch`
//!   per batch, and the peer's `QuestDb::flush_arrow_batch` per batch,
//!   passes alternating; medians, client CPU ns/row, the median of the
//!   paired ratios against the peer, and the process's peak RSS. Before
//!   the peer in each round, `loopback_ceiling`: as many bytes as ours'
//!   `ingest` put on the wire in its last pass, written over a plain TCP
//!   connection (reused) in 1 MiB writes from one reused buffer to a drain
//!   child (this binary re-executed, `common::drain`) that reads them in
//!   plain 1 MiB reads (`common::drain::Discard::eager`: a reader waiting
//!   for a MiB at a time slowed the writer), discards them and answers one byte once it has them
//!   all — the delivery that the socket alone allows, with no encoding.
//!   Its ratio is the largest any client could reach against the peer;
//!   each row with wire bytes also shows its wire MB/s as a % of the
//!   ceiling's.
//!
//! Prints rows/s, MB/s and ratios; writes
//! `$CARGO_TARGET_DIR/bench-summary/ingest_t0.json` and `ingest_t1.json`.
//! `QA_BENCH_ROWS` sets the rows per workload (default 1 M),
//! `QA_BENCH_WORKLOADS` a subset (e.g. `W1,W3`).

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Int32Type};
use criterion::{Criterion, criterion_group};
use questdb_arrow::bridge::column_data::{SymbolDict, encode_array};
use questdb_arrow::bridge::frame::BlockEncoder;
use questdb_arrow::bridge::types::{QwpType, qwp_type_of};
use questdb_arrow::protocol::column::{Layout, TsEncoding};
use questdb_arrow::protocol::ingress::{ColumnDef, TableBlock};
use questdb_arrow::protocol::{HEADER_LEN, Header, Out};

const FRAME_ROWS: usize = 20_000;
const BATCH_ROWS: usize = 100_000;

/// The connection dictionary the client keeps (ids, sent watermark, and
/// the per-dictionary id cache).
type Dict = SymbolDict;

mod common;
use common::{alternate, generate, measure, peak_rss_mb, rows_from_env, workloads, write_summary};

fn plan(batch: &RecordBatch) -> (Vec<String>, Vec<QwpType>) {
    let schema = batch.schema();
    let names = schema
        .fields()
        .iter()
        .map(|f| {
            if f.name() == "ts" {
                String::new()
            } else {
                f.name().clone()
            }
        })
        .collect();
    let types = schema
        .fields()
        .iter()
        .map(|f| qwp_type_of(f).unwrap())
        .collect();
    (names, types)
}

/// Writes one frame of `len` bytes into the reused buffer (masked as a
/// WebSocket client must, or plain as the peer's encoder bench measures):
/// header, an empty delta dictionary, then the block `write` puts.
fn frame(buf: &mut Vec<u8>, len: usize, masked: bool, write: impl FnOnce(&mut Out<'_>)) {
    if buf.len() < len {
        buf.resize(len, 0);
    }
    let mut out = if masked {
        Out::masked(&mut buf[..len], [7, 8, 9, 10], 0)
    } else {
        Out::plain(&mut buf[..len])
    };
    Header {
        version: 1,
        flags: 0x0C,
        table_count: 1,
        payload_len: (len - HEADER_LEN) as u32,
    }
    .write(&mut out);
    out.varint(0);
    out.varint(0);
    write(&mut out);
}

fn encode_fast(
    batch: &RecordBatch,
    buf: &mut Vec<u8>,
    dict: &mut Dict,
    masked: bool,
    layout: &Layout,
) -> usize {
    let (names, types) = plan(batch);
    let mut total = 0;
    for start in (0..batch.num_rows()).step_by(FRAME_ROWS) {
        let slice = batch.slice(start, FRAME_ROWS.min(batch.num_rows() - start));
        let block = BlockEncoder::new(&slice, names.clone(), types.clone(), layout, dict).unwrap();
        let len = HEADER_LEN + 2 + block.encoded_len("w", true);
        frame(buf, len, masked, |out| block.write("w", true, out));
        total += len;
    }
    total
}

fn encode_reference(batch: &RecordBatch, buf: &mut Vec<u8>, dict: &mut Dict) -> usize {
    let (names, types) = plan(batch);
    let schema = batch.schema();
    let mut total = 0;
    for start in (0..batch.num_rows()).step_by(FRAME_ROWS) {
        let slice = batch.slice(start, FRAME_ROWS.min(batch.num_rows() - start));
        let data = schema
            .fields()
            .iter()
            .zip(slice.columns())
            .zip(&types)
            .map(|((f, a), t)| encode_array(f, a, *t, dict).unwrap())
            .collect();
        let block = TableBlock {
            name: "w".into(),
            columns: names
                .iter()
                .zip(&types)
                .map(|(n, t)| ColumnDef {
                    name: n.clone(),
                    ty: t.ty,
                })
                .collect(),
            data,
        };
        let len = HEADER_LEN + 2 + block.encoded_len(&Layout::INGRESS);
        frame(buf, len, true, |out| block.encode(&Layout::INGRESS, out));
        total += len;
    }
    total
}

/// The peer's encoder on the same frames: a `Chunk` over the Arrow buffers
/// (no copy), encoded into a reused buffer.
fn encode_peer(
    batch: &RecordBatch,
    buf: &mut Vec<u8>,
    state: &mut questdb::ingress::column_sender::_bench_internals::BenchEncoderState,
) -> usize {
    use questdb::ingress::column_sender::{_bench_internals, Chunk, Validity};
    let mut total = 0;
    let schema = batch.schema();
    for start in (0..batch.num_rows()).step_by(FRAME_ROWS) {
        let slice = batch.slice(start, FRAME_ROWS.min(batch.num_rows() - start));
        let rows = slice.num_rows();
        // Frames start on multiples of 8 rows: validity bytes line up.
        let validity: Vec<Option<Validity<'_>>> = slice
            .columns()
            .iter()
            .map(|a| {
                a.nulls().map(|n| {
                    let bytes = &n.buffer().as_slice()[n.offset() / 8..];
                    Validity::from_bitmap(bytes, rows).unwrap()
                })
            })
            .collect();
        let mut chunk = Chunk::new("w");
        for (k, (f, a)) in schema.fields().iter().zip(slice.columns()).enumerate() {
            let v = validity[k].as_ref();
            match a.data_type() {
                DataType::Timestamp(_, _) => {
                    let ts = a.as_primitive::<arrow::datatypes::TimestampMicrosecondType>();
                    chunk.at_micros(ts.values()).unwrap();
                }
                DataType::Float64 => {
                    let x = a.as_primitive::<arrow::datatypes::Float64Type>();
                    chunk.column_f64(f.name(), x.values(), v).unwrap();
                }
                DataType::Int64 => {
                    let x = a.as_primitive::<arrow::datatypes::Int64Type>();
                    chunk.column_i64(f.name(), x.values(), v).unwrap();
                }
                DataType::Utf8 => {
                    let s = a.as_string::<i32>();
                    chunk
                        .column_str(f.name(), s.value_offsets(), s.value_data(), v)
                        .unwrap();
                }
                DataType::Dictionary(_, _) => {
                    let d = a.as_dictionary::<Int32Type>();
                    let values = d.values().as_string::<i32>();
                    chunk
                        .symbol_i32(
                            f.name(),
                            d.keys().values(),
                            values.value_offsets(),
                            values.value_data(),
                            v,
                        )
                        .unwrap();
                }
                other => panic!("peer T0: no column for {other}"),
            }
        }
        buf.clear();
        _bench_internals::bench_encode_chunk_into(buf, &chunk, state).unwrap();
        total += buf.len();
    }
    total
}

fn bench_t0(c: &mut Criterion) {
    let rows = rows_from_env();
    let mut json = Vec::new();
    for w in workloads() {
        let batch = generate(&w, rows);
        let arrow_bytes: usize = batch
            .columns()
            .iter()
            .map(|a| a.get_buffer_memory_size())
            .sum();
        let (mut b1, mut b2, mut b3, mut b4, mut b5) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut d1, mut d2, mut d4, mut d5) = (
            Dict::default(),
            Dict::default(),
            Dict::default(),
            Dict::default(),
        );
        // What the sender writes to a server on this host: Gorilla only
        // for a regular cadence (`Gorilla::Auto` over loopback).
        let loopback = Layout {
            ts_encoding: TsEncoding::Cadence,
            ..Layout::INGRESS
        };
        let mut st = questdb::ingress::column_sender::_bench_internals::BenchEncoderState::new();
        let secs = if rows >= 1_000_000 { 8 } else { 1 };
        let res = measure(
            c,
            &format!("ingest_t0_{}", w.to_lowercase()),
            rows,
            secs,
            &mut [
                ("fast", &mut || {
                    encode_fast(&batch, &mut b1, &mut d1, true, &loopback)
                }),
                ("reference", &mut || {
                    encode_reference(&batch, &mut b2, &mut d2)
                }),
                ("questdb_rs_7_2_1", &mut || {
                    encode_peer(&batch, &mut b3, &mut st)
                }),
                ("fast_unmasked", &mut || {
                    encode_fast(&batch, &mut b4, &mut d4, false, &loopback)
                }),
                ("fast_gorilla", &mut || {
                    encode_fast(&batch, &mut b5, &mut d5, true, &Layout::INGRESS)
                }),
            ],
        );
        // Routines filtered out by the command line were not measured.
        if res.iter().any(|r| r.1 >= 1e3 || r.1.is_nan()) {
            continue;
        }
        for (name, s, bytes) in &res {
            println!(
                "ingest T0 {w} {name}: {rows} rows in {:.1} ms = {:.1} M rows/s, {:.0} MB/s of frames",
                s * 1e3,
                rows as f64 / s / 1e6,
                *bytes as f64 / s / 1e6
            );
            json.push(format!(
                "{{\"bench\":\"ingest_t0\",\"workload\":\"{w}\",\"client\":\"{name}\",\"rows\":{rows},\"seconds\":{s:.6},\"rows_per_sec\":{:.0},\"wire_bytes\":{bytes},\"arrow_bytes\":{arrow_bytes}}}",
                rows as f64 / s
            ));
        }
        println!(
            "ingest T0 {w}: fast / peer {:.2}x (unmasked, like the peer's bench: {:.2}x; with Gorilla, as to a remote server: {:.2}x), fast / reference {:.2}x",
            res[2].1 / res[0].1,
            res[2].1 / res[3].1,
            res[2].1 / res[4].1,
            res[1].1 / res[0].1
        );
    }
    write_summary("ingest_t0.json", &json);
}

fn bench_t1(c: &mut Criterion) {
    use questdb::ingress::{AckLevel as PeerAck, ColumnName};
    use questdb_arrow::client::IngestOptions;

    let rows = rows_from_env();
    let (sink, ours, peer) = common::sink_server();
    let opts = IngestOptions::new().timestamp_column("ts");
    // The same stream over two pooled connections (issue: scaling 1 → 2).
    let opts2 = opts.clone().connections(2);
    let drain = common::drain::DrainServer::start().unwrap();
    let mut ceiling = drain.connect().unwrap();
    let mut json = Vec::new();
    for w in workloads() {
        let batch = generate(&w, rows);
        let batches = common::slices(&batch, BATCH_ROWS);
        let table = w.to_lowercase();
        let secs = if rows >= 1_000_000 { 10 } else { 1 };
        // The ceiling writes as many bytes as ours' `ingest` put on the
        // wire in its last pass (a later pass may send fewer symbol
        // dictionary entries); one pass of each first (also under `cargo
        // test`), the ceiling's delivery confirmed by the child.
        let ours_bytes = std::cell::Cell::new(
            ours.ingest_batches(&table, batches.iter().cloned(), &opts)
                .unwrap()
                .bytes as usize,
        );
        assert!(ours_bytes.get() > 0);
        ceiling.pass(ours_bytes.get()).unwrap();
        let res = alternate(
            c,
            &format!("ingest_t1_{table}"),
            rows,
            secs,
            &mut [
                ("questdb_arrow_ingest", &mut || {
                    let s = ours
                        .ingest_batches(&table, batches.iter().cloned(), &opts)
                        .unwrap();
                    ours_bytes.set(s.bytes as usize);
                    s.bytes as usize
                }),
                ("questdb_arrow_ingest_2_connections", &mut || {
                    let s = ours
                        .ingest_batches(&table, batches.iter().cloned(), &opts2)
                        .unwrap();
                    s.bytes as usize
                }),
                ("questdb_arrow_flush", &mut || {
                    common::flush_each(&ours, &table, &batches)
                }),
                // Before the peer: the peer stays last (`vs_last`).
                ("loopback_ceiling", &mut || {
                    let n = ours_bytes.get();
                    ceiling.pass(n).unwrap();
                    n
                }),
                ("questdb_rs_7_2_1", &mut || {
                    for x in &batches {
                        peer.flush_arrow_batch(
                            table.as_str(),
                            x,
                            Some(ColumnName::new("ts").unwrap()),
                            &[],
                            Some(PeerAck::Ok),
                        )
                        .unwrap();
                    }
                    0
                }),
            ],
        );
        if res.iter().any(|r| r.passes == 0) {
            continue;
        }
        common::print_t1_head(
            &format!("ingest T1 {w}, {rows} rows"),
            &sink,
            res[0].passes,
            "peer",
            &["wire MB/s % of ceiling"],
        );
        let ceiling_mbs = res
            .iter()
            .find(|r| r.name == "loopback_ceiling")
            .map_or(f64::NAN, |c| c.bytes as f64 / c.secs);
        for r in &res {
            // The peer does not report its bytes (wire `—`).
            let pct = if r.bytes > 0 {
                format!("{:.0} %", r.bytes as f64 / r.secs / ceiling_mbs * 100.0)
            } else {
                "—".into()
            };
            println!("{} {pct} |", r.table_row(rows));
            json.push(format!(
                "{{\"bench\":\"ingest_t1\",\"workload\":\"{w}\",\"client\":\"{}\",{},\"sink_out_of_process\":{}}}",
                r.name,
                r.json_figures(rows, "ratio_vs_peer"),
                sink.out_of_process
            ));
        }
    }
    println!(
        "ingest T1: peak RSS of this process {:.0} MB",
        peak_rss_mb()
    );
    write_summary("ingest_t1.json", &json);
}

criterion_group!(benches, bench_t0, bench_t1);

fn main() {
    // The T1 ceiling's drain child: this binary re-executed.
    common::drain::serve_if_child();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
