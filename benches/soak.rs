//! Soak: mixed ingest (4 connections) and queries (2) against a
//! `questdb-arrow serve --data-dir` child process, which is killed with
//! SIGKILL and restarted on the same directory every `QA_SOAK_KILL_SECS`.
//! After every restart and at the end, each writer's rows present are
//! compared with the rows the server acknowledged to it (present ≥
//! acknowledged, always; a batch whose ack was lost to the kill may be
//! present without an ack).
//!
//! `QA_SOAK_SECS` (default 1800) and `QA_SOAK_KILL_SECS` (default 300) set
//! the run; each writer sends `QA_SOAK_BATCH_ROWS` (default 1000) rows every
//! 200 ms. Reports rows acknowledged vs present, the server's RSS over time,
//! ack latency percentiles, query counts, and writes
//! `$CARGO_TARGET_DIR/bench-summary/soak.json`. Exits non-zero if an
//! acknowledged row is missing.

use std::collections::HashMap;
use std::path::Path;
use std::process::Child;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use arrow::array::{AsArray, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Int64Type, Schema, TimeUnit};
use questdb_arrow::client::{AckLevel, QuestDb};

mod common;

fn env_u64(k: &str, d: u64) -> u64 {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

fn spawn(dir: &Path) -> (Child, String) {
    let bin = common::serve_bin().expect("the questdb-arrow CLI (feature cli)");
    common::spawn_serve(&bin, &["--data-dir".as_ref(), dir.as_os_str()]).expect("server starts")
}

fn rss_mb(pid: u32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let l = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: f64 = l.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn batch(w: i64, seq: i64, rows: i64) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            false,
        ),
        Field::new("w", DataType::Int64, false),
        Field::new("id", DataType::Int64, false),
        Field::new("note", DataType::Utf8, false),
    ]));
    let base = seq * rows;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0);
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(TimestampMicrosecondArray::from_iter_values(
                (0..rows).map(|i| now + i),
            )),
            Arc::new(Int64Array::from_iter_values((0..rows).map(|_| w))),
            Arc::new(Int64Array::from_iter_values((0..rows).map(|i| base + i))),
            Arc::new(StringArray::from_iter_values(
                (0..rows).map(|i| format!("w{w} row {}", base + i)),
            )),
        ],
    )
    .expect("batch")
}

/// Rows present per writer.
fn present(conf: &str) -> questdb_arrow::Result<HashMap<i64, u64>> {
    let db = QuestDb::connect(conf)?;
    let mut out = HashMap::new();
    let mut c = db.query_arrow("SELECT w, count(*) AS n FROM soak GROUP BY w")?;
    for b in c.fetch_all_arrow()? {
        let w = b.column(0).as_primitive::<Int64Type>();
        let n = b.column(1).as_primitive::<Int64Type>();
        for i in 0..b.num_rows() {
            out.insert(w.value(i), n.value(i) as u64);
        }
    }
    Ok(out)
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let secs = env_u64("QA_SOAK_SECS", 1800);
    let kill_every = env_u64("QA_SOAK_KILL_SECS", 300).max(1);
    let rows = env_u64("QA_SOAK_BATCH_ROWS", 1000) as i64;
    let dir = std::env::temp_dir().join(format!("qa-soak-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (child, conf) = spawn(&dir);
    let conf = Arc::new(RwLock::new(conf));
    let child = Arc::new(Mutex::new(child));
    let stop = Arc::new(AtomicBool::new(false));
    let acked: Arc<Vec<AtomicU64>> = Arc::new((0..4).map(|_| AtomicU64::new(0)).collect());
    let latencies = Arc::new(Mutex::new(Vec::<f64>::new()));
    let (flush_errors, queries, query_errors) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    let start = Instant::now();
    let mut threads = Vec::new();
    for w in 0..4i64 {
        let (conf, stop, acked, lat, errs) = (
            conf.clone(),
            stop.clone(),
            acked.clone(),
            latencies.clone(),
            flush_errors.clone(),
        );
        threads.push(std::thread::spawn(move || {
            let mut seq = 0i64;
            while !stop.load(Ordering::SeqCst) {
                let c = conf.read().map(|c| c.clone()).unwrap_or_default();
                let db = match QuestDb::connect(&c) {
                    Ok(db) => db,
                    Err(_) => {
                        std::thread::sleep(Duration::from_millis(100));
                        continue;
                    }
                };
                while !stop.load(Ordering::SeqCst) {
                    let b = batch(w, seq, rows);
                    seq += 1;
                    let t = Instant::now();
                    match db.flush_arrow_batch("soak", &b, Some("ts"), &[], AckLevel::Ok) {
                        Ok(_) => {
                            lat.lock()
                                .map(|mut l| l.push(t.elapsed().as_secs_f64() * 1e3))
                                .ok();
                            acked[w as usize].fetch_add(rows as u64, Ordering::SeqCst);
                        }
                        Err(_) => {
                            errs.fetch_add(1, Ordering::SeqCst);
                            break;
                        }
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }));
    }
    for k in 0..2 {
        let (conf, stop, n, errs) = (
            conf.clone(),
            stop.clone(),
            queries.clone(),
            query_errors.clone(),
        );
        threads.push(std::thread::spawn(move || {
            let sql = if k == 0 {
                "SELECT w, count(*), max(id) FROM soak GROUP BY w"
            } else {
                "SELECT * FROM soak WHERE w = 1 LIMIT 1000"
            };
            while !stop.load(Ordering::SeqCst) {
                let c = conf.read().map(|c| c.clone()).unwrap_or_default();
                let r = QuestDb::connect(&c).and_then(|db| {
                    db.query_arrow(sql)
                        .and_then(|mut cur| cur.fetch_all_arrow())
                });
                match r {
                    Ok(_) => n.fetch_add(1, Ordering::SeqCst),
                    Err(_) => errs.fetch_add(1, Ordering::SeqCst),
                };
                std::thread::sleep(Duration::from_millis(500));
            }
        }));
    }

    let mut rss: Vec<(f64, f64)> = Vec::new();
    let mut checks: Vec<String> = Vec::new();
    let mut missing = false;
    let mut kills = 0;
    let mut next_kill = kill_every;
    let mut next_sample = 0;
    let verify = |label: &str, conf: &str, checks: &mut Vec<String>, missing: &mut bool| {
        // Acks counted before the query: every one of them must be there.
        let want: Vec<u64> = acked.iter().map(|a| a.load(Ordering::SeqCst)).collect();
        match present(conf) {
            Ok(have) => {
                for (w, a) in want.iter().enumerate() {
                    let p = have.get(&(w as i64)).copied().unwrap_or(0);
                    if p < *a {
                        *missing = true;
                    }
                    checks.push(format!(
                        "{{\"at\":\"{label}\",\"writer\":{w},\"acknowledged\":{a},\"present\":{p}}}"
                    ));
                    println!("soak {label}: writer {w}: acknowledged {a}, present {p}");
                }
            }
            Err(e) => {
                *missing = true;
                println!("soak {label}: count failed: {e}");
            }
        }
    };
    while start.elapsed().as_secs() < secs {
        std::thread::sleep(Duration::from_millis(250));
        let t = start.elapsed().as_secs();
        if t >= next_sample {
            let pid = child.lock().map(|c| c.id()).unwrap_or(0);
            if let Some(m) = rss_mb(pid) {
                rss.push((start.elapsed().as_secs_f64(), m));
            }
            next_sample = t + 1;
        }
        if t >= next_kill && t + 1 < secs {
            next_kill += kill_every;
            kills += 1;
            {
                let mut c = child.lock().expect("child");
                let _ = c.kill();
                let _ = c.wait();
            }
            // Acks that arrived before the kill are final now.
            let t0 = Instant::now();
            let (c, new_conf) = spawn(&dir);
            let restart_ms = t0.elapsed().as_secs_f64() * 1e3;
            *child.lock().expect("child") = c;
            *conf.write().expect("conf") = new_conf.clone();
            println!("soak: kill -9 #{kills} at {t} s, restarted in {restart_ms:.0} ms");
            verify(
                &format!("restart {kills}"),
                &new_conf,
                &mut checks,
                &mut missing,
            );
        }
    }
    stop.store(true, Ordering::SeqCst);
    for t in threads {
        let _ = t.join();
    }
    let final_conf = conf.read().map(|c| c.clone()).unwrap_or_default();
    verify("end", &final_conf, &mut checks, &mut missing);
    {
        let mut c = child.lock().expect("child");
        let _ = c.kill();
        let _ = c.wait();
    }
    let _ = std::fs::remove_dir_all(&dir);

    let mut lat = latencies.lock().map(|l| l.clone()).unwrap_or_default();
    let n_acks = lat.len();
    let (p50, p99, max) = (pct(&mut lat, 0.5), pct(&mut lat, 0.99), pct(&mut lat, 1.0));
    let total_acked: u64 = acked.iter().map(|a| a.load(Ordering::SeqCst)).sum();
    let peak_rss = rss.iter().map(|r| r.1).fold(0.0, f64::max);
    println!(
        "soak: {secs} s, {kills} kills, {total_acked} rows acknowledged in {n_acks} flushes \
         ({} failed), ack latency p50 {p50:.1} ms p99 {p99:.1} ms max {max:.1} ms; \
         {} queries ({} failed); server peak RSS {peak_rss:.0} MB; acknowledged rows missing: {}",
        flush_errors.load(Ordering::SeqCst),
        queries.load(Ordering::SeqCst),
        query_errors.load(Ordering::SeqCst),
        if missing { "YES" } else { "none" }
    );
    let rss_json: Vec<String> = rss
        .iter()
        .step_by(10.max(rss.len() / 200))
        .map(|(t, m)| format!("[{t:.1},{m:.1}]"))
        .collect();
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let out = Path::new(&target).join("bench-summary");
    let _ = std::fs::create_dir_all(&out);
    let _ = std::fs::write(
        out.join("soak.json"),
        format!(
            "{{\"bench\":\"soak\",\"seconds\":{secs},\"kills\":{kills},\"rows_acknowledged\":{total_acked},\"flushes\":{n_acks},\"flush_errors\":{},\"queries\":{},\"query_errors\":{},\"ack_ms_p50\":{p50:.2},\"ack_ms_p99\":{p99:.2},\"ack_ms_max\":{max:.2},\"peak_rss_mb\":{peak_rss:.1},\"missing\":{missing},\"checks\":[{}],\"rss_mb\":[{}]}}\n",
            flush_errors.load(Ordering::SeqCst),
            queries.load(Ordering::SeqCst),
            query_errors.load(Ordering::SeqCst),
            checks.join(","),
            rss_json.join(",")
        ),
    );
    if missing {
        eprintln!("soak: FAILED: acknowledged rows are missing");
        std::process::exit(1);
    }
}
