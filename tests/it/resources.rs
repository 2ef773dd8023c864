//! What one request may cost the embedded server, measured from outside:
//! CANCEL, a disconnect and query time limits stop DataFusion and free the
//! CPU; streaming ingest and query memory is bounded by frames, not rows;
//! floods from one connection keep the RSS bounded.
//!
//! These tests read process-wide figures (CPU time, RSS), so each runs
//! alone in a fresh process of this test binary (see [`isolated`]) and
//! tests running in parallel do not disturb it.

use std::process::Command;
use std::time::{Duration, Instant};

use questdb_arrow::client::{QuestDb, Terminal};
use questdb_arrow::protocol::Status;
use questdb_arrow::protocol::egress::{
    ClientMessage, QUERY_FLAG_TIMEOUT, QueryRequest, ServerControl, ServerMessage,
    decode_server_message,
};
use questdb_arrow::protocol::ingress::SymbolDelta;
use questdb_arrow::server::{Server, ServerHandle};
use questdb_arrow::transport::{Connection, Route};

use crate::budget::{
    IDLE_CPU, SLOW_SQL, conn, frame, is_ok, no_delta, refusal, rows_without_columns, send, start,
    varchar_block,
};

/// Runs the calling test alone in a fresh process of this binary (so the
/// process-wide CPU time and RSS it reads are its own) and checks that it
/// passed there: `true` in that process (run the test's body), `false` in
/// the parent (done).
fn isolated(name: &str) -> bool {
    const CHILD: &str = "QUESTDB_ARROW_BUDGET_ISOLATED";
    if std::env::var_os(CHILD).is_some() {
        return true;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--test-threads=1", "--nocapture"])
        .env("RUST_BACKTRACE", "0")
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    print!("{stdout}");
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "isolated run of {name}:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    false
}

/// This process's CPU time (user + system).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after_comm = &stat[stat.rfind(')').unwrap() + 1..];
    let f: Vec<u64> = after_comm
        .split_whitespace()
        .skip(11)
        .take(2)
        .map(|x| x.parse().unwrap())
        .collect();
    let hz = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse::<u64>()
                .ok()
        })
        .unwrap_or(100);
    Duration::from_millis((f[0] + f[1]) * 1000 / hz)
}

/// CPU time this process uses in the next second.
fn cpu_in_one_second() -> Duration {
    let before = cpu_time();
    std::thread::sleep(Duration::from_secs(1));
    cpu_time() - before
}

/// Whether the process's CPU use falls below [`IDLE_CPU`] per second
/// within ten one-second windows, and the windows measured. A query left
/// running never lets it fall (it keeps a core busy for minutes); a loaded
/// machine may only delay the stop by a window or two.
fn settles_to_idle() -> (bool, Vec<Duration>) {
    let mut seen = Vec::new();
    for _ in 0..10 {
        let cpu = cpu_in_one_second();
        seen.push(cpu);
        if cpu < IDLE_CPU {
            return (true, seen);
        }
    }
    (false, seen)
}

/// A `/proc/self/status` figure in bytes (`VmRSS`, `VmHWM`).
fn status_bytes(key: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(key)).unwrap();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

fn rss_bytes() -> u64 {
    status_bytes("VmRSS:")
}

/// Resets this process's peak RSS (`VmHWM`) to its current RSS (Linux:
/// `5` into `/proc/self/clear_refs`); returns that RSS.
fn reset_peak_rss() -> u64 {
    std::fs::write("/proc/self/clear_refs", "5").expect("peak RSS reset");
    rss_bytes()
}

/// Batch `i` of a W1-like stream: increasing `ts`, a DOUBLE, a LONG and a
/// 16-byte VARCHAR per row.
fn stream_batch(i: usize, rows: usize) -> arrow::array::RecordBatch {
    use arrow::array::{Float64Array, Int64Array, StringArray, TimestampMicrosecondArray};
    use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
    let base = (i * rows) as i64;
    let schema = std::sync::Arc::new(Schema::new(vec![
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            false,
        ),
        Field::new("x", DataType::Float64, false),
        Field::new("n", DataType::Int64, false),
        Field::new("s", DataType::Utf8, false),
    ]));
    arrow::array::RecordBatch::try_new(
        schema,
        vec![
            std::sync::Arc::new(TimestampMicrosecondArray::from_iter_values(
                (0..rows as i64).map(|r| 1_700_000_000_000_000 + (base + r) * 1000),
            )),
            std::sync::Arc::new(Float64Array::from_iter_values(
                (0..rows).map(|r| r as f64 * 0.5),
            )),
            std::sync::Arc::new(Int64Array::from_iter_values(
                (0..rows as i64).map(|r| base + r),
            )),
            std::sync::Arc::new(StringArray::from_iter_values(
                (0..rows).map(|r| format!("{:016}", base as usize + r)),
            )),
        ],
    )
    .unwrap()
}

/// Extra peak memory of a streaming ingest of `rows` rows (into a sink
/// server, which stores nothing) and of a streaming query of `rows` rows
/// (over a table loaded beforehand), each from a reset peak.
fn stream_peaks(rows: usize) -> (u64, u64) {
    const BATCH: usize = 50_000;
    let opts = questdb_arrow::client::IngestOptions::new().timestamp_column("ts");
    let sink = start(Server::builder().sink(true));
    let db = QuestDb::connect(&sink.conf_string()).unwrap();
    let base = reset_peak_rss();
    db.ingest_batches(
        "t",
        (0..rows / BATCH).map(|i| stream_batch(i, BATCH)),
        &opts,
    )
    .unwrap();
    let ingest = status_bytes("VmHWM:").saturating_sub(base);
    drop(db);
    drop(sink);

    let srv = start(Server::builder());
    let db = QuestDb::connect(&srv.conf_string()).unwrap();
    db.ingest_batches(
        "q",
        (0..rows / BATCH).map(|i| stream_batch(i, BATCH)),
        &opts,
    )
    .unwrap();
    let base = reset_peak_rss();
    let mut seen = 0;
    for b in db.query_arrow("SELECT * FROM q").unwrap() {
        seen += b.unwrap().num_rows();
    }
    assert_eq!(seen, rows);
    let query = status_bytes("VmHWM:").saturating_sub(base);
    (ingest, query)
}

/// Streaming ingest and streaming query hold a few frames, not the rows:
/// eight times the rows take about the same extra peak memory.
#[test]
fn streaming_memory_is_bounded_by_frames_not_rows() {
    if !isolated("resources::streaming_memory_is_bounded_by_frames_not_rows") {
        return;
    }
    const MIB: u64 = 1 << 20;
    let (ingest1, query1) = stream_peaks(500_000);
    // QA_STREAM_ROWS: a bigger run (e.g. the 10 M rows).
    let big: usize = std::env::var("QA_STREAM_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4_000_000)
        .max(4_000_000);
    let (ingest4, query4) = stream_peaks(big);
    println!(
        "peak RSS growth: ingest {} MiB for 0.5 M rows, {} MiB for {big} rows; query {} MiB, {} MiB",
        ingest1 / MIB,
        ingest4 / MIB,
        query1 / MIB,
        query4 / MIB
    );
    // 4 M rows of this shape are ~180 MB of Arrow data (more on the wire):
    // holding them would show, even where freed memory is reused; a few
    // frames do not.
    for (small, big, what) in [(ingest1, ingest4, "ingest"), (query1, query4, "query")] {
        assert!(big <= small + 24 * MIB, "{what}: {small} then {big} bytes");
        assert!(big <= 64 * MIB, "{what}: {big} bytes");
    }
}

#[test]
fn cancel_answers_promptly_and_frees_the_cpu() {
    if !isolated("resources::cancel_answers_promptly_and_frees_the_cpu") {
        return;
    }
    // One row per batch, so the cursor gets the first row at once.
    let srv = start(Server::builder().max_batch_rows(1));
    let db = QuestDb::connect(&srv.conf_string()).unwrap();
    let mut r = db.borrow_reader().unwrap();
    let sql = format!("SELECT 0 AS s UNION ALL {SLOW_SQL} UNION ALL {SLOW_SQL}");
    let mut cur = r.execute(&sql).unwrap();
    assert!(cur.next_arrow_batch().unwrap().is_some(), "the first row");
    std::thread::sleep(Duration::from_millis(300));
    assert!(cur.terminal().is_none(), "still running");
    let t = Instant::now();
    cur.cancel().unwrap();
    let took = t.elapsed();
    assert_eq!(cur.terminal(), Some(&Terminal::Cancelled));
    assert!(took < Duration::from_secs(1), "cancel took {took:?}");
    drop(cur);
    let (idle, seen) = settles_to_idle();
    println!("cancel took {took:?}; then {seen:?} of CPU in successive seconds");
    assert!(
        idle,
        "still busy after the cancel: {seen:?} of CPU per second"
    );
    // The connection is still usable.
    assert_eq!(r.rows("SELECT 7 AS n").unwrap().num_rows(), 1);
}

fn query_conn(srv: &ServerHandle) -> Connection {
    let mut c = conn(srv, Route::Query);
    let info = c.recv().unwrap();
    assert!(matches!(
        decode_server_message(&info, 1).unwrap(),
        ServerMessage::Control(ServerControl::ServerInfo(_))
    ));
    c
}

/// The next control frame (QUERY_ERROR, RESULT_END, ...), skipping batches.
fn next_control(c: &mut Connection) -> ServerControl {
    loop {
        let f = c.recv().expect("a frame");
        if let ServerMessage::Control(ctl) = decode_server_message(&f, 1).unwrap() {
            return ctl;
        }
    }
}

#[test]
fn cancel_before_the_first_batch_is_answered_promptly() {
    let srv = start(Server::builder());
    let mut c = query_conn(&srv);
    c.send(&ClientMessage::Query(QueryRequest::new(5, SLOW_SQL)).to_bytes())
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    c.send(&ClientMessage::Cancel { request_id: 5 }.to_bytes())
        .unwrap();
    match next_control(&mut c) {
        ServerControl::QueryError {
            request_id, status, ..
        } => assert_eq!((request_id, status), (5, Status::Cancelled)),
        other => panic!("expected QUERY_ERROR, got {other:?}"),
    }
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
}

#[test]
fn disconnect_mid_query_frees_the_cpu() {
    if !isolated("resources::disconnect_mid_query_frees_the_cpu") {
        return;
    }
    let srv = start(Server::builder());
    let mut c = query_conn(&srv);
    let sql = format!("{SLOW_SQL} UNION ALL {SLOW_SQL}");
    c.send(&ClientMessage::Query(QueryRequest::new(1, sql.as_str())).to_bytes())
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    println!("while running: {:?} of CPU in 1 s", cpu_in_one_second());
    drop(c);
    let (idle, seen) = settles_to_idle();
    println!("after the disconnect: {seen:?} of CPU in successive seconds");
    assert!(
        idle,
        "still busy after the disconnect: {seen:?} of CPU per second"
    );
}

fn expect_timeout(c: &mut Connection, id: i64, limit_ms: u64) {
    match next_control(c) {
        ServerControl::QueryError {
            request_id,
            status,
            message,
        } => {
            assert_eq!(
                (request_id, status),
                (id, Status::LimitExceeded),
                "{message}"
            );
            assert!(message.contains("timed out"), "{message}");
            assert!(message.contains(&format!("{limit_ms} ms")), "{message}");
        }
        other => panic!("expected QUERY_ERROR, got {other:?}"),
    }
}

#[test]
fn query_timeouts_stop_the_query() {
    // The server's limit.
    let srv = start(Server::builder().query_timeout(Some(Duration::from_millis(300))));
    let mut c = query_conn(&srv);
    let t = Instant::now();
    c.send(&ClientMessage::Query(QueryRequest::new(1, SLOW_SQL)).to_bytes())
        .unwrap();
    expect_timeout(&mut c, 1, 300);
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    // A quick query on the same connection is unaffected.
    c.send(&ClientMessage::Query(QueryRequest::new(2, "SELECT 1 AS n")).to_bytes())
        .unwrap();
    assert!(matches!(
        next_control(&mut c),
        ServerControl::ResultEnd { request_id: 2, .. }
    ));

    // The request's limit (QUERY_FLAG_TIMEOUT), on a server without one;
    // the shorter of both applies.
    for server_limit in [None, Some(Duration::from_secs(60))] {
        let srv = start(Server::builder().query_timeout(server_limit));
        let mut c = query_conn(&srv);
        let q = QueryRequest {
            query_flags: Some(QUERY_FLAG_TIMEOUT),
            timeout_ms: Some(200),
            ..QueryRequest::new(3, SLOW_SQL)
        };
        let t = Instant::now();
        c.send(&ClientMessage::Query(q).to_bytes()).unwrap();
        expect_timeout(&mut c, 3, 200);
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    }
}

/// A raw WebSocket client on `path` (past SERVER_INFO for `/read/v1`).

#[test]
fn floods_from_one_connection_keep_the_rss_bounded() {
    if !isolated("resources::floods_from_one_connection_keep_the_rss_bounded") {
        return;
    }
    let mib = 1024 * 1024;
    let srv = start(
        Server::builder()
            .max_pending_bytes(16 * mib)
            .max_dict_bytes(16 * mib),
    );
    let mut c = conn(&srv, Route::Ingest);
    // Warm up allocator and buffers with one ordinary frame.
    assert!(is_ok(&send(
        &mut c,
        &frame(false, no_delta(0), vec![varchar_block("w", 100, 1000)])
    )));
    let before = rss_bytes();

    // 60 frames of 1,000,000 rows without columns.
    let f = rows_without_columns();
    for _ in 0..60 {
        assert_eq!(refusal(&send(&mut c, &f)).0, Status::ParseError);
    }
    // Deferred frames of ~1 MB each, 60 MB in all.
    let mut refused = 0;
    for _ in 0..60 {
        let f = frame(true, no_delta(0), vec![varchar_block("flood", 1000, 1000)]);
        let r = send(&mut c, &f);
        if !is_ok(&r) {
            assert_eq!(refusal(&r).0, Status::LimitExceeded);
            refused += 1;
        }
    }
    assert!(refused >= 40, "{refused} of 60 deferred frames refused");
    assert!(!is_ok(&send(&mut c, &frame(false, no_delta(0), vec![]))));
    // Dictionary deltas of ~1 MB each, 60 MB in all.
    let mut next = 0u64;
    let mut refused = 0;
    for k in 0..60 {
        let d = SymbolDelta {
            start: next,
            entries: (0..1000)
                .map(|i| format!("{k}:{i}:{}", "y".repeat(1000)))
                .collect(),
        };
        let r = send(&mut c, &frame(false, d, vec![]));
        if is_ok(&r) {
            next += 1000;
        } else {
            assert_eq!(refusal(&r).0, Status::LimitExceeded);
            refused += 1;
        }
    }
    assert!(refused >= 40, "{refused} of 60 dictionary deltas refused");

    let grown = rss_bytes().saturating_sub(before) as usize;
    println!("RSS grew by {grown} bytes");
    assert!(grown < 64 * mib, "RSS grew by {} MiB", grown / mib);
    assert!(srv.table_batch("t").is_none() && srv.table_batch("flood").is_none());
}
