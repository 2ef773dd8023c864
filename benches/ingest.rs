//! T0 ingest encode (no socket): workload W1 of design.md as Arrow batches,
//! encoded into masked ingress frames in a reused buffer, two ways:
//!
//! - `fast`: `bridge::frame::BlockEncoder` (zero-copy where layouts agree,
//!   columns in parallel);
//! - `reference`: Arrow → owned `ColumnData` → encode (one extra copy).
//!
//! Prints rows/s, MB/s and the ratio; writes
//! `$CARGO_TARGET_DIR/bench-summary/ingest_t0.json`. Also T1 (see
//! `bench_t1`): end to end into the embedded server in sink mode, ours vs
//! questdb-rs 7.2.1, written to `ingest_t1.json`. `QA_BENCH_ROWS`
//! overrides the row count (default 2 M).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{
    Array, ArrayRef, DictionaryArray, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Int32Type, Schema, TimeUnit};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use questdb_arrow::bridge::encode::{SymbolIds, encode_array};
use questdb_arrow::bridge::frame::BlockEncoder;
use questdb_arrow::bridge::types::{QwpType, qwp_type_of};
use questdb_arrow::protocol::column::Layout;
use questdb_arrow::protocol::ingress::{ColumnDef, TableBlock};
use questdb_arrow::protocol::{HEADER_LEN, Header, Out};

const FRAME_ROWS: usize = 20_000;

#[derive(Default)]
struct Dict(HashMap<String, u32>);
impl SymbolIds for Dict {
    fn id_of(&mut self, s: &str) -> u32 {
        let n = self.0.len() as u32;
        *self.0.entry(s.to_string()).or_insert(n)
    }
}

fn w1(rows: usize) -> RecordBatch {
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let ts: TimestampMicrosecondArray = (0..rows)
        .map(|i| 1_700_000_000_000_000 + i as i64 * 1000 + (rnd() % 400) as i64 - 200)
        .collect::<Vec<_>>()
        .into();
    let names: Vec<String> = (0..64).map(|i| format!("SYM{i:02}")).collect();
    let sym: DictionaryArray<Int32Type> = (0..rows)
        .map(|_| names[(rnd() % 64) as usize].as_str())
        .collect();
    let mut fields = vec![
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            false,
        ),
        Field::new("sym", sym.data_type().clone(), false),
    ];
    let mut cols: Vec<ArrayRef> = vec![Arc::new(ts), Arc::new(sym)];
    for i in 1..=4 {
        let v: Float64Array = (0..rows)
            .map(|_| (rnd() >> 11) as f64)
            .collect::<Vec<_>>()
            .into();
        fields.push(Field::new(format!("d{i}"), DataType::Float64, false));
        cols.push(Arc::new(v));
    }
    for i in 1..=2 {
        let v: Int64Array = (0..rows).map(|_| rnd() as i64).collect::<Vec<_>>().into();
        fields.push(Field::new(format!("l{i}"), DataType::Int64, false));
        cols.push(Arc::new(v));
    }
    let note: StringArray = (0..rows)
        .map(|_| Some(format!("n{:015}", rnd() % 1_000_000_000_000_000)))
        .collect();
    fields.push(Field::new("note", DataType::Utf8, false));
    cols.push(Arc::new(note));
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap()
}

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

/// Writes one masked frame of `len` bytes into the reused buffer: header,
/// an empty delta dictionary, then the block `write` puts.
fn frame(buf: &mut Vec<u8>, len: usize, write: impl FnOnce(&mut Out<'_>)) {
    if buf.len() < len {
        buf.resize(len, 0);
    }
    let mut out = Out::masked(&mut buf[..len], [7, 8, 9, 10], 0);
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

fn encode_fast(batch: &RecordBatch, buf: &mut Vec<u8>, dict: &mut Dict) -> usize {
    let (names, types) = plan(batch);
    let mut total = 0;
    for start in (0..batch.num_rows()).step_by(FRAME_ROWS) {
        let slice = batch.slice(start, FRAME_ROWS.min(batch.num_rows() - start));
        let block = BlockEncoder::new(&slice, names.clone(), types.clone(), &Layout::INGRESS, dict)
            .unwrap();
        let len = HEADER_LEN + 2 + block.encoded_len("w1", true);
        frame(buf, len, |out| block.write("w1", true, out));
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
            name: "w1".into(),
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
        frame(buf, len, |out| block.encode(&Layout::INGRESS, out));
        total += len;
    }
    total
}

fn bench(c: &mut Criterion) {
    let rows: usize = std::env::var("QA_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000_000);
    let batch = w1(rows);
    let col_bytes: usize = batch
        .columns()
        .iter()
        .map(|a| a.get_buffer_memory_size())
        .sum();
    let mut buf = Vec::new();
    let mut dict = Dict::default();
    let wire = encode_fast(&batch, &mut buf, &mut dict);
    let mut g = c.benchmark_group("ingest_t0_w1");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(if rows >= 1_000_000 { 15 } else { 2 }));
    g.throughput(Throughput::Elements(rows as u64));
    let mut best = [Duration::MAX; 2];
    for (k, name) in ["fast", "reference"].into_iter().enumerate() {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let t = Instant::now();
                for _ in 0..iters {
                    let n = if k == 0 {
                        encode_fast(&batch, &mut buf, &mut dict)
                    } else {
                        encode_reference(&batch, &mut buf, &mut dict)
                    };
                    std::hint::black_box(n);
                }
                let e = t.elapsed();
                best[k] = best[k].min(e / iters as u32);
                e
            })
        });
    }
    g.finish();
    let mut json = Vec::new();
    for (k, name) in ["fast", "reference"].into_iter().enumerate() {
        let s = best[k].as_secs_f64();
        println!(
            "ingest T0 W1 {name}: {rows} rows in {:.1} ms = {:.1} M rows/s, {:.0} MB/s of wire frames",
            s * 1e3,
            rows as f64 / s / 1e6,
            wire as f64 / s / 1e6
        );
        json.push(format!(
            "{{\"bench\":\"ingest_t0_w1_{name}\",\"rows\":{rows},\"seconds\":{s:.6},\"rows_per_sec\":{:.0},\"wire_bytes\":{wire},\"arrow_bytes\":{col_bytes}}}",
            rows as f64 / s
        ));
    }
    println!(
        "ingest T0 W1 fast / reference speed-up: {:.2}x",
        best[1].as_secs_f64() / best[0].as_secs_f64()
    );
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let dir = std::path::Path::new(&target).join("bench-summary");
    if std::fs::create_dir_all(&dir).is_ok() {
        let _ = std::fs::write(
            dir.join("ingest_t0.json"),
            format!("[{}]\n", json.join(",")),
        );
    }
}

/// T1: end to end over loopback into the embedded server in sink mode
/// (decode and acknowledge, store nothing): our `Sender::flush_arrow_batch`
/// against questdb-rs 7.2.1's `QuestDb::flush_arrow_batch`, same batches,
/// same process, one batch of 100 000 rows acknowledged at a time.
fn bench_t1(c: &mut Criterion) {
    use questdb::QuestDb;
    use questdb::ingress::{AckLevel, ColumnName};
    use questdb_arrow::client::Sender;
    use questdb_arrow::conf::Conf;
    use questdb_arrow::server::Server;

    let rows: usize = std::env::var("QA_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000_000);
    let per = 100_000.min(rows);
    let batch = w1(rows);
    let batches: Vec<RecordBatch> = (0..rows)
        .step_by(per)
        .map(|s| batch.slice(s, per.min(rows - s)))
        .collect();
    let srv = Server::builder()
        .bind("127.0.0.1:0")
        .sink(true)
        .start()
        .unwrap();
    let conf = srv.conf_string();
    let mut ours = Sender::connect(&Conf::parse(&conf).unwrap()).unwrap();
    let peer = QuestDb::connect(&conf).unwrap();
    let mut g = c.benchmark_group("ingest_t1_w1");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(if rows >= 1_000_000 { 20 } else { 2 }));
    g.throughput(Throughput::Elements(rows as u64));
    let mut best = [Duration::MAX; 2];
    let mut wire = 0usize;
    g.bench_function("questdb_arrow", |b| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            for _ in 0..iters {
                wire = 0;
                for x in &batches {
                    wire += ours.flush_arrow_batch("w1", x, Some("ts")).unwrap().bytes as usize;
                }
            }
            let e = t.elapsed();
            best[0] = best[0].min(e / iters as u32);
            e
        })
    });
    g.bench_function("questdb_rs_7_2_1", |b| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            for _ in 0..iters {
                for x in &batches {
                    peer.flush_arrow_batch(
                        "w1",
                        x,
                        Some(ColumnName::new("ts").unwrap()),
                        &[],
                        Some(AckLevel::Ok),
                    )
                    .unwrap();
                }
            }
            let e = t.elapsed();
            best[1] = best[1].min(e / iters as u32);
            e
        })
    });
    g.finish();
    let mut json = Vec::new();
    for (k, name) in ["questdb_arrow", "questdb_rs_7_2_1"]
        .into_iter()
        .enumerate()
    {
        let s = best[k].as_secs_f64();
        println!(
            "ingest T1 W1 {name}: {rows} rows in {:.1} ms = {:.2} M rows/s",
            s * 1e3,
            rows as f64 / s / 1e6
        );
        json.push(format!(
            "{{\"bench\":\"ingest_t1_w1_{name}\",\"rows\":{rows},\"seconds\":{s:.6},\"rows_per_sec\":{:.0}}}",
            rows as f64 / s
        ));
    }
    let s0 = best[0].as_secs_f64();
    println!(
        "ingest T1 W1 ours / peer: {:.2}x; ours {:.0} MB/s of QWP frames",
        best[1].as_secs_f64() / s0,
        wire as f64 / s0 / 1e6
    );
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let dir = std::path::Path::new(&target).join("bench-summary");
    if std::fs::create_dir_all(&dir).is_ok() {
        let _ = std::fs::write(
            dir.join("ingest_t1.json"),
            format!("[{}]\n", json.join(",")),
        );
    }
}

criterion_group!(benches, bench, bench_t1);
criterion_main!(benches);
