//! T0 codec benchmark (no socket, no Arrow): workload W3 of design.md — a
//! designated timestamp plus 8 DOUBLE columns, 10 M rows — encoded into
//! ingress frames of the default budget (90 % of 2 MiB), masked as a client
//! frame is, into one reused buffer; and those frames decoded back.
//!
//! Prints rows/s and MB/s and writes a JSON summary to
//! `$CARGO_TARGET_DIR/bench-summary/codec.json` (or `target/...`).
//!
//! `QA_BENCH_ROWS` overrides the row count (CI uses a small value to check
//! the bench builds and runs).

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use questdb_arrow::protocol::column::{
    Layout, fixed_column_len, put_fixed_column, put_fixed_column_bytes, put_timestamp_column,
    timestamp_column_len,
};
use questdb_arrow::protocol::gorilla;
use questdb_arrow::protocol::ingress::{
    SymbolDelta, column_def_len, decode_message, put_column_def, put_table_header, table_header_len,
};
use questdb_arrow::protocol::wire::Reader;
use questdb_arrow::protocol::{
    ColumnType, FLAG_DELTA_SYMBOL_DICT, FLAG_GORILLA, HEADER_LEN, Header, Out, VERSION,
};

const DEFAULT_ROWS: usize = 10_000_000;
/// 90 % of the default X-QWP-Max-Batch-Size (2 MiB − 14).
const FRAME_BUDGET: usize = 2_097_138 * 9 / 10;
const DOUBLES: usize = 8;

struct W3 {
    ts: Vec<i64>,
    cols: Vec<Vec<f64>>,
    /// The same doubles as little-endian bytes, as an Arrow buffer holds them.
    col_bytes: Vec<Vec<u8>>,
    names: Vec<String>,
}

fn w3(rows: usize) -> W3 {
    // Seeded xorshift: 1 ms cadence with ±200 µs jitter, random doubles.
    let mut s: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let t0 = 1_700_000_000_000_000i64;
    let ts = (0..rows as i64)
        .map(|i| t0 + i * 1000 + (next() % 401) as i64 - 200)
        .collect();
    let cols: Vec<Vec<f64>> = (0..DOUBLES)
        .map(|_| {
            (0..rows)
                .map(|_| (next() >> 11) as f64 / (1u64 << 53) as f64 * 1000.0)
                .collect()
        })
        .collect();
    let col_bytes = cols
        .iter()
        .map(|c: &Vec<f64>| c.iter().flat_map(|v| v.to_le_bytes()).collect())
        .collect();
    W3 {
        ts,
        cols,
        col_bytes,
        names: (1..=DOUBLES).map(|i| format!("d{i}")).collect(),
    }
}

/// Rows per frame so that a frame stays within the budget (raw timestamps
/// as the worst case).
fn rows_per_frame(w: &W3) -> usize {
    let fixed = HEADER_LEN
        + 2
        + table_header_len("w3", 1_000_000, DOUBLES + 1)
        + column_def_len("")
        + w.names.iter().map(|n| column_def_len(n)).sum::<usize>()
        + 2
        + DOUBLES;
    (FRAME_BUDGET - fixed) / (8 * (DOUBLES + 1))
}

/// Encodes rows `[a, b)` as one masked frame into `buf`; returns its length.
fn encode_frame(
    w: &W3,
    a: usize,
    b: usize,
    buf: &mut Vec<u8>,
    key: [u8; 4],
    from_bytes: bool,
) -> usize {
    let layout = Layout::INGRESS;
    let n = b - a;
    let (ts_len, plan) = timestamp_column_len(&w.ts[a..b], ColumnType::Timestamp, &layout);
    let delta = SymbolDelta::<String> {
        start: 0,
        entries: vec![],
    };
    let payload = delta.encoded_len()
        + table_header_len("w3", n, DOUBLES + 1)
        + column_def_len("")
        + w.names.iter().map(|n| column_def_len(n)).sum::<usize>()
        + ts_len
        + DOUBLES * fixed_column_len(n, 8);
    let total = HEADER_LEN + payload;
    if buf.len() < total {
        buf.resize(total, 0);
    }
    let mut out = Out::masked(&mut buf[..total], key, 0);
    Header {
        version: VERSION,
        flags: FLAG_GORILLA | FLAG_DELTA_SYMBOL_DICT,
        table_count: 1,
        payload_len: payload as u32,
    }
    .write(&mut out);
    delta.encode(&mut out);
    put_table_header("w3", n, DOUBLES + 1, &mut out);
    put_column_def("", ColumnType::Timestamp, &mut out);
    for name in &w.names {
        put_column_def(name, ColumnType::Double, &mut out);
    }
    put_timestamp_column(&w.ts[a..b], ColumnType::Timestamp, &layout, plan, &mut out);
    if from_bytes {
        for c in &w.col_bytes {
            put_fixed_column_bytes(&c[a * 8..b * 8], &mut out);
        }
    } else {
        for c in &w.cols {
            put_fixed_column(&c[a..b], &mut out);
        }
    }
    debug_assert!(out.is_full());
    total
}

fn encode_all(w: &W3, buf: &mut Vec<u8>, from_bytes: bool) -> usize {
    let rows = w.ts.len();
    let per = rows_per_frame(w);
    let mut bytes = 0;
    let mut a = 0;
    while a < rows {
        let b = (a + per).min(rows);
        bytes += encode_frame(w, a, b, buf, [0x5A, 0xA5, 0x3C, 0xC3], from_bytes);
        std::hint::black_box(&buf[..16]);
        a = b;
    }
    bytes
}

fn summary_path() -> std::path::PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    std::path::Path::new(&target).join("bench-summary")
}

fn bench(c: &mut Criterion) {
    let rows: usize = std::env::var("QA_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_ROWS);
    let w = w3(rows);
    let mut buf = Vec::new();
    let wire_bytes = encode_all(&w, &mut buf, true);
    let raw_bytes = rows * 8 * (DOUBLES + 1);

    // Unmasked frames for the decode side.
    let per = rows_per_frame(&w);
    let frames: Vec<Vec<u8>> = (0..rows)
        .step_by(per.max(1))
        .map(|a| {
            let mut f = Vec::new();
            let n = encode_frame(&w, a, (a + per).min(rows), &mut f, [0; 4], true);
            f.truncate(n);
            f
        })
        .collect();

    let mut g = c.benchmark_group("codec_w3");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(if rows >= 1_000_000 { 20 } else { 2 }));
    g.throughput(Throughput::Elements(rows as u64));
    let mut enc_best = Duration::MAX;
    g.bench_function("encode_masked", |b| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            for _ in 0..iters {
                std::hint::black_box(encode_all(&w, &mut buf, true));
            }
            let e = t.elapsed();
            enc_best = enc_best.min(e / iters as u32);
            e
        })
    });
    let mut typed_best = Duration::MAX;
    g.bench_function("encode_masked_typed", |b| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            for _ in 0..iters {
                std::hint::black_box(encode_all(&w, &mut buf, false));
            }
            let e = t.elapsed();
            typed_best = typed_best.min(e / iters as u32);
            e
        })
    });
    let mut dec_best = Duration::MAX;
    g.bench_function("decode", |b| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            for _ in 0..iters {
                let mut n = 0;
                for f in &frames {
                    let m = decode_message(f, 1).expect("valid frame");
                    // Materialise the timestamps (Gorilla) like a consumer would.
                    let ts = m.tables[0].columns[0].timestamps().expect("timestamps");
                    n += ts.len();
                }
                std::hint::black_box(n);
            }
            let e = t.elapsed();
            dec_best = dec_best.min(e / iters as u32);
            e
        })
    });
    g.finish();

    let report = |name: &str, d: Duration| {
        let s = d.as_secs_f64();
        let rps = rows as f64 / s;
        let mbps = raw_bytes as f64 / s / 1e6;
        println!(
            "codec W3 {name}: {rows} rows in {:.1} ms = {:.1} M rows/s, {:.0} MB/s of column data ({} wire bytes)",
            s * 1e3,
            rps / 1e6,
            mbps,
            wire_bytes
        );
        format!(
            "{{\"bench\":\"codec_w3_{name}\",\"rows\":{rows},\"seconds\":{s:.6},\"rows_per_sec\":{rps:.0},\"mb_per_sec\":{mbps:.1},\"wire_bytes\":{wire_bytes},\"column_bytes\":{raw_bytes}}}"
        )
    };
    let json = format!(
        "[{},{},{}]\n",
        report("encode_masked", enc_best),
        report("encode_masked_typed", typed_best),
        report("decode", dec_best)
    );
    let dir = summary_path();
    if std::fs::create_dir_all(&dir).is_ok() {
        let _ = std::fs::write(dir.join("codec.json"), json);
    }
}

/// Gorilla alone, ns per timestamp: sizing (`worthwhile`), sizing plus
/// encoding (what the encoder does per column), and decoding; on the
/// workloads' timestamps (1 ms cadence with ±200 µs jitter, so
/// delta-of-deltas spread over the 9-, 12- and 16-bit buckets) and on a
/// regular 1 ms cadence. Writes `gorilla.json`.
fn bench_gorilla(c: &mut Criterion) {
    let n: usize = std::env::var("QA_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(|r: usize| r.min(1_000_000))
        .unwrap_or(1_000_000);
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let base = 1_700_000_000_000_000i64;
    let shapes: Vec<(&str, Vec<i64>)> = vec![
        (
            "jittered",
            (0..n)
                .map(|i| base + i as i64 * 1000 + (rnd() % 400) as i64 - 200)
                .collect(),
        ),
        ("regular", (0..n).map(|i| base + i as i64 * 1000).collect()),
    ];
    let mut g = c.benchmark_group("gorilla");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(if n >= 1_000_000 { 5 } else { 1 }));
    g.throughput(Throughput::Elements(n as u64));
    let mut json = Vec::new();
    for (shape, ts) in &shapes {
        let len = gorilla::worthwhile(ts).expect("encodable");
        let mut buf = vec![0u8; len];
        gorilla::encode(ts, len, &mut Out::plain(&mut buf));
        let mut best = [Duration::MAX; 3];
        let mut run = |name: &str, slot: usize, f: &mut dyn FnMut() -> usize| {
            g.bench_function(format!("{shape}_{name}"), |b| {
                b.iter_custom(|iters| {
                    let t = Instant::now();
                    for _ in 0..iters {
                        std::hint::black_box(f());
                    }
                    let e = t.elapsed();
                    best[slot] = best[slot].min(e / iters as u32);
                    e
                })
            });
        };
        run("size", 0, &mut || gorilla::worthwhile(ts).unwrap_or(0));
        let mut out = vec![0u8; len];
        run("size_encode", 1, &mut || {
            let l = gorilla::worthwhile(ts).unwrap_or(0);
            gorilla::encode(ts, l, &mut Out::plain(&mut out[..l]));
            l
        });
        let mut dst = Vec::with_capacity(n);
        run("decode", 2, &mut || {
            dst.clear();
            gorilla::decode_into(&mut Reader::new(&buf), n, &mut dst).expect("valid");
            dst.len()
        });
        // NaN for a routine a name filter left out.
        let ns = |d: Duration| {
            if d == Duration::MAX {
                f64::NAN
            } else {
                d.as_secs_f64() * 1e9 / n as f64
            }
        };
        println!(
            "gorilla {shape}: {n} timestamps, {len} bytes; ns/value: size {:.2}, size+encode {:.2}, decode {:.2}",
            ns(best[0]),
            ns(best[1]),
            ns(best[2])
        );
        // null for a routine a name filter left out.
        let num = |x: f64| {
            if x.is_nan() {
                "null".to_string()
            } else {
                format!("{x:.3}")
            }
        };
        json.push(format!(
            "{{\"bench\":\"gorilla_{shape}\",\"values\":{n},\"bytes\":{len},\"size_ns_per_value\":{},\"size_encode_ns_per_value\":{},\"decode_ns_per_value\":{}}}",
            num(ns(best[0])),
            num(ns(best[1])),
            num(ns(best[2]))
        ));
    }
    g.finish();
    let dir = summary_path();
    if std::fs::create_dir_all(&dir).is_ok() {
        let _ = std::fs::write(
            dir.join("gorilla.json"),
            format!("[{}]\n", json.join(",\n")),
        );
    }
}

criterion_group!(benches, bench, bench_gorilla);
criterion_main!(benches);
