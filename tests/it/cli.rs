//! The `questdb-arrow` binary.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use questdb_arrow::protocol::ingress::Response;
use questdb_arrow::transport::{Auth, ConnectOptions, Connection, Route};

/// Starts `questdb-arrow <args>` (a `serve`), returning it with the
/// address from its first line.
fn serve(args: &[&std::ffi::OsStr]) -> (Child, String) {
    let mut child = Child(
        Command::new(env!("CARGO_BIN_EXE_questdb-arrow"))
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("binary runs"),
    );
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split_whitespace()
        .nth(4)
        .expect("listening line names the address")
        .to_string();
    (child, addr)
}

struct Child(std::process::Child);
impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn serve_listens_authenticates_and_stores() {
    let dir = std::env::temp_dir().join(format!("qa-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (child, addr) = serve(&[
        "serve".as_ref(),
        "--bind".as_ref(),
        "127.0.0.1:0".as_ref(),
        "--username".as_ref(),
        "u".as_ref(),
        "--password".as_ref(),
        "p".as_ref(),
        "--data-dir".as_ref(),
        dir.as_os_str(),
    ]);
    let addr = addr.as_str();
    let port: u16 = addr.rsplit(':').next().unwrap().parse().unwrap();
    let mut o = ConnectOptions::new("127.0.0.1", port);
    assert_eq!(
        Connection::connect(&o, Route::Ingest)
            .err()
            .map(|e| e.kind()),
        Some(questdb_arrow::ErrorKind::Auth)
    );
    o.auth = Auth::Basic {
        username: "u".into(),
        password: "p".into(),
    };
    let (mut c, _) = Connection::connect(&o, Route::Ingest).unwrap();
    // T1 of the spec: table `sensors`, 2 rows.
    let frame = [
        0x51, 0x57, 0x50, 0x31, 1, 0, 1, 0, 0x4A, 0, 0, 0, 7, b's', b'e', b'n', b's', b'o', b'r',
        b's', 2, 3, 2, b'i', b'd', 5, 5, b'v', b'a', b'l', b'u', b'e', 7, 0, 0x0A, 0, 1, 0, 0, 0,
        0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0xCD, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC, 0xF4, 0x3F,
        0x9A, 0x99, 0x99, 0x99, 0x99, 0x99, 0x01, 0x40, 0, 0, 0xE4, 0x0B, 0x54, 2, 0, 0, 0, 0x80,
        0x1A, 6, 0, 0, 0, 0, 0,
    ];
    c.send(&frame).unwrap();
    match Response::decode(&c.recv().unwrap()).unwrap() {
        Response::Ok { sequence: 0, .. } => {}
        other => panic!("{other:?}"),
    }
    // Logged before the OK: a write-ahead log segment holds the commit.
    let logged: u64 = std::fs::read_dir(dir.join("wal"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len().saturating_sub(16))
        .sum();
    assert!(logged > 0, "the commit is in the write-ahead log");
    drop(child);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_arguments_fail_with_a_clear_line() {
    let out = Command::new(env!("CARGO_BIN_EXE_questdb-arrow"))
        .args(["serve", "--username", "u"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--password"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_questdb-arrow"))
        .args(["serve", "--bind", "not-an-address"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not-an-address"));
}

mod files {
    use std::path::{Path, PathBuf};
    use std::process::Output;
    use std::sync::Arc;

    use arrow::array::{Float64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
    use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
    use questdb_arrow::server::Server;

    /// The CLI with `args`, without the caller's `QDB_CLIENT_CONF`.
    fn cmd(args: &[&str]) -> assert_cmd::Command {
        let mut c = assert_cmd::Command::new(env!("CARGO_BIN_EXE_questdb-arrow"));
        c.args(args).env_remove("QDB_CLIENT_CONF");
        c
    }

    fn cli(args: &[&str]) -> Output {
        cmd(args).output().expect("binary runs")
    }

    fn text(b: &[u8]) -> String {
        String::from_utf8_lossy(b).into_owned()
    }

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("qa-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn batch(n: usize) -> RecordBatch {
        RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new(
                    "ts",
                    DataType::Timestamp(TimeUnit::Microsecond, None),
                    false,
                ),
                Field::new("sym", DataType::Utf8, false),
                Field::new("v", DataType::Float64, true),
            ])),
            vec![
                Arc::new(TimestampMicrosecondArray::from_iter_values(
                    (0..n).map(|i| 1_700_000_000_000_000 + i as i64),
                )),
                Arc::new(StringArray::from_iter_values(
                    (0..n).map(|i| format!("s{}", i % 3)),
                )),
                Arc::new(Float64Array::from_iter(
                    (0..n).map(|i| (i % 10 != 0).then_some(i as f64)),
                )),
            ],
        )
        .unwrap()
    }

    fn write_inputs(d: &Path, b: &RecordBatch) {
        let f = std::fs::File::create(d.join("in.parquet")).unwrap();
        let mut w = parquet::arrow::ArrowWriter::try_new(f, b.schema(), None).unwrap();
        w.write(b).unwrap();
        w.close().unwrap();
        let f = std::fs::File::create(d.join("in.arrow")).unwrap();
        let mut w = arrow::ipc::writer::FileWriter::try_new(f, &b.schema()).unwrap();
        w.write(b).unwrap();
        w.finish().unwrap();
        let mut csv = String::from("id,name,x\n");
        for i in 0..b.num_rows() {
            csv.push_str(&format!("{i},n{i},{}.5\n", i * 2));
        }
        std::fs::write(d.join("in.csv"), csv).unwrap();
    }

    #[test]
    fn main_job_loads_the_shipped_sample_and_queries_it_back() {
        let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/samples/trades.parquet");
        let o = cli(&[
            "load",
            sample,
            "--table",
            "trades",
            "--timestamp",
            "ts",
            "--embedded",
            "--query",
            "SELECT * FROM trades LIMIT 5",
            "--query",
            "SELECT symbol, count(*) AS n FROM trades GROUP BY symbol ORDER BY symbol",
            "--max-rows",
            "3",
        ]);
        let out = text(&o.stdout);
        assert!(o.status.success(), "{}", text(&o.stderr));
        assert!(out.contains("loaded 100000 rows into trades"), "{out}");
        assert!(out.contains("rows/s"), "{out}");
        // The first query: five rows, three shown, in timestamp order.
        assert!(
            out.contains("5 rows in") && out.contains("(first 3 shown)"),
            "{out}"
        );
        assert!(out.contains("| 2026-01-01T00:00:00Z "), "{out}");
        assert!(out.contains("| 1        |"), "trade_id 1 first: {out}");
        // The second: eight symbols, ADA-USD first.
        assert!(
            out.contains("8 rows in") && out.contains("| ADA-USD "),
            "{out}"
        );

        // A failing query after a good load is one line and exit 1.
        let o = cli(&[
            "load",
            sample,
            "--table",
            "t",
            "--embedded",
            "--query",
            "SELECT * FROM nope",
        ]);
        assert!(!o.status.success());
        let err = text(&o.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("nope"), "{err}");
    }

    #[test]
    fn load_and_query_every_file_type() {
        let d = dir("files");
        let b = batch(1000);
        write_inputs(&d, &b);
        let srv = Server::builder().bind("127.0.0.1:0").start().unwrap();
        let conf = srv.conf_string();
        let p = |f: &str| d.join(f).to_string_lossy().into_owned();

        let o = cli(&[
            "load",
            &p("in.parquet"),
            "--table",
            "t_pq",
            "--timestamp",
            "ts",
            "--symbol",
            "sym",
            "--conf",
            &conf,
        ]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        assert!(
            text(&o.stdout).contains("loaded 1000 rows into t_pq"),
            "{}",
            text(&o.stdout)
        );
        let t = srv.table_batch("t_pq").unwrap();
        assert_eq!(t.num_rows(), 1000);
        let sym = t.schema().field_with_name("sym").unwrap().clone();
        assert_eq!(
            sym.metadata()
                .get("questdb.column_type")
                .map(String::as_str),
            Some("symbol")
        );

        let o = cli(&[
            "load",
            &p("in.arrow"),
            "--table",
            "t_ipc",
            "--timestamp",
            "ts",
            "--conf",
            &conf,
        ]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        assert_eq!(srv.table_batch("t_ipc").unwrap().num_rows(), 1000);
        let o = cli(&["load", &p("in.csv"), "--table", "t_csv", "--conf", &conf]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        assert_eq!(srv.table_batch("t_csv").unwrap().num_rows(), 1000);

        // To the terminal.
        let o = cli(&["query", "SELECT count(*) AS n FROM t_pq", "--conf", &conf]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        assert!(text(&o.stdout).contains("1000"), "{}", text(&o.stdout));
        // Into files.
        let o = cli(&[
            "query",
            "SELECT * FROM t_pq",
            "--out",
            &p("out.parquet"),
            "--conf",
            &conf,
        ]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        let r = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            std::fs::File::open(d.join("out.parquet")).unwrap(),
        )
        .unwrap()
        .build()
        .unwrap();
        assert_eq!(r.map(|b| b.unwrap().num_rows()).sum::<usize>(), 1000);
        let o = cli(&[
            "query",
            "SELECT * FROM t_ipc",
            "--out",
            &p("out.arrow"),
            "--conf",
            &conf,
        ]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        let r = arrow::ipc::reader::FileReader::try_new(
            std::fs::File::open(d.join("out.arrow")).unwrap(),
            None,
        )
        .unwrap();
        assert_eq!(r.map(|b| b.unwrap().num_rows()).sum::<usize>(), 1000);
        let o = cli(&[
            "query",
            "SELECT id, name FROM t_csv ORDER BY id",
            "--out",
            &p("out.csv"),
            "--conf",
            &conf,
        ]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        let csv = std::fs::read_to_string(d.join("out.csv")).unwrap();
        assert_eq!(csv.lines().count(), 1001);
        assert!(csv.lines().nth(1).unwrap().starts_with("0,n0"), "{csv:.60}");
        // Embedded: no server needed.
        let o = cli(&["query", "SELECT 41 + 1 AS answer", "--embedded"]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        assert!(text(&o.stdout).contains("42"), "{}", text(&o.stdout));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn bad_file_conf_and_unreachable_server_fail_with_one_line() {
        let d = dir("bad");
        let missing = d.join("missing.parquet").to_string_lossy().into_owned();
        let check = |args: &[&str], needle: &str| {
            let a = cmd(args).assert().failure().code(1);
            let e = text(&a.get_output().stderr);
            assert_eq!(e.trim_end().lines().count(), 1, "{e}");
            assert!(e.contains(needle), "{e}");
        };
        check(
            &["load", &missing, "--table", "t", "--embedded"],
            "missing.parquet",
        );
        check(
            &["load", &missing, "--table", "t", "--embedded"],
            "i/o error: ",
        );
        // A file that cannot be read is an I/O error, not invalid data
        // (the parquet crate wraps the OS error; a directory opens as a
        // file on Linux, reading it fails).
        let unreadable = d.join("dir.parquet");
        std::fs::create_dir_all(&unreadable).unwrap();
        check(
            &[
                "load",
                &unreadable.to_string_lossy(),
                "--table",
                "t",
                "--embedded",
            ],
            "i/o error: ",
        );
        let junk = d.join("junk.parquet");
        std::fs::write(&junk, b"not parquet").unwrap();
        check(
            &[
                "load",
                &junk.to_string_lossy(),
                "--table",
                "t",
                "--embedded",
            ],
            "junk.parquet",
        );
        check(
            &[
                "load",
                &junk.to_string_lossy(),
                "--table",
                "t",
                "--embedded",
            ],
            "invalid data: ",
        );
        check(&["load", "data.xlsx", "--table", "t", "--embedded"], "xlsx");
        check(
            &[
                "query",
                "SELECT 1",
                "--conf",
                "ws::addr=localhost:9000;bogus=1;",
            ],
            "bogus",
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        check(
            &[
                "query",
                "SELECT 1",
                "--conf",
                &format!("ws::addr=127.0.0.1:{port};"),
            ],
            &port.to_string(),
        );
        let _ = std::fs::remove_dir_all(&d);
    }
}

/// Loading a Parquet file whose decoded data is several times the
/// documented memory bound keeps the loader's peak RSS well under the data
/// size (measured on the CLI child process, polled from /proc).
#[cfg(target_os = "linux")]
#[test]
fn parquet_load_memory_stays_bounded() {
    use std::sync::Arc;

    use arrow::array::{RecordBatch, StringArray, TimestampMicrosecondArray};
    use arrow::datatypes::{DataType, Field, Schema, TimeUnit};

    let dir = std::env::temp_dir().join(format!("qa-cli-rss-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("big.parquet");
    let schema = Arc::new(Schema::new(vec![
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            false,
        ),
        Field::new("s", DataType::Utf8, false),
    ]));
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(50_000))
        .build();
    let mut w = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&path).unwrap(),
        schema.clone(),
        Some(props),
    )
    .unwrap();
    let (rows, chunk) = (1_200_000usize, 50_000usize);
    for start in (0..rows).step_by(chunk) {
        let b = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(TimestampMicrosecondArray::from_iter_values(
                    (start..start + chunk).map(|i| i as i64),
                )),
                Arc::new(StringArray::from_iter_values(
                    (start..start + chunk).map(|i| format!("{i:0120}")),
                )),
            ],
        )
        .unwrap();
        w.write(&b).unwrap();
    }
    w.close().unwrap();
    let data_mb = rows * (8 + 120 + 4) / 1_000_000;

    let srv = questdb_arrow::server::Server::builder()
        .bind("127.0.0.1:0")
        .sink(true)
        .start()
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_questdb-arrow"))
        .args(["load"])
        .arg(&path)
        .args([
            "--table",
            "big",
            "--timestamp",
            "ts",
            "--batch-rows",
            "16384",
        ])
        .args(["--conf", &srv.conf_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0u64;
    let status = loop {
        if let Ok(s) = std::fs::read_to_string(&status_file)
            && let Some(l) = s.lines().find(|l| l.starts_with("VmHWM:"))
        {
            let kb: u64 = l
                .split_whitespace()
                .nth(1)
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            peak_kb = peak_kb.max(kb);
        }
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    assert!(status.success());
    let peak_mb = peak_kb / 1024;
    // Documented bound: one decoded row group (~7 MB here) plus
    // (in_flight_frames + 2) × batch_rows rows (~22 MB) plus the process
    // itself; allow a generous margin, still far below the data size.
    eprintln!("parquet load: peak RSS {peak_mb} MB for {data_mb} MB of decoded data");
    assert!(peak_mb > 0, "RSS was never sampled");
    assert!(
        peak_mb < 120 && (peak_mb as usize) < data_mb,
        "peak RSS {peak_mb} MB for {data_mb} MB of data"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn serve_with_a_replica_role_refuses_writes_and_announces_its_zone() {
    let (_child, addr) = serve(
        &[
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--role",
            "replica",
            "--zone",
            "eu-1",
        ]
        .map(std::ffi::OsStr::new),
    );
    let db = questdb_arrow::client::QuestDb::connect(&format!("ws::addr={addr};")).unwrap();
    let reader = db.borrow_reader().unwrap();
    let info = reader.server_info();
    assert_eq!(info.role, questdb_arrow::protocol::egress::Role::Replica);
    assert_eq!(info.zone_id.as_deref(), Some("eu-1"));
    drop(reader);
    let port: u16 = addr.rsplit(':').next().unwrap().parse().unwrap();
    let e =
        Connection::connect(&ConnectOptions::new("127.0.0.1", port), Route::Ingest).unwrap_err();
    assert_eq!(e.kind(), questdb_arrow::ErrorKind::RoleReject, "{e}");
    assert_eq!(e.role(), Some("REPLICA"));
    assert_eq!(e.zone(), Some("eu-1"));
}

/// The ids in `t` (all of them, duplicates included), through a query.
fn stored_ids(conf: &str) -> Vec<i64> {
    use arrow::array::AsArray;
    use arrow::datatypes::Int64Type;
    let db = questdb_arrow::client::QuestDb::connect(conf).unwrap();
    let mut cur = match db.query_arrow("SELECT id FROM t") {
        Ok(c) => c,
        Err(_) => return Vec::new(),
    };
    let mut out = Vec::new();
    while let Some(b) = cur.next_arrow_batch().unwrap() {
        out.extend_from_slice(b.column(0).as_primitive::<Int64Type>().values());
    }
    out
}

/// Issue 12's crash test: `load --publish` with `sf_dir` is killed (-9)
/// mid-stream while the server is killed and restarted too; `drain` with
/// the same `sender_id` sends what the slot held. Every row whose publish
/// was reported is stored at least once, and (the table has DEDUP UPSERT
/// KEYS) exactly once.
#[test]
fn a_publisher_killed_mid_stream_loses_nothing_and_dedup_makes_it_exactly_once() {
    use std::io::Read;
    use std::sync::Arc;

    use arrow::array::{Int64Array, RecordBatch, TimestampMicrosecondArray};
    use arrow::datatypes::{DataType, Field, Schema, TimeUnit};

    let dir = std::env::temp_dir().join(format!("qa-cli-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (data, sf, path) = (dir.join("data"), dir.join("sf"), dir.join("rows.parquet"));
    let schema = Arc::new(Schema::new(vec![
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            false,
        ),
        Field::new("id", DataType::Int64, false),
    ]));
    let mut w = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&path).unwrap(),
        schema.clone(),
        None,
    )
    .unwrap();
    let rows = 1_000_000i64;
    for start in (0..rows).step_by(100_000) {
        let ids = start..start + 100_000;
        let b = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(TimestampMicrosecondArray::from_iter_values(
                    ids.clone().map(|i| 1_700_000_000_000_000 + i),
                )),
                Arc::new(Int64Array::from_iter_values(ids)),
            ],
        )
        .unwrap();
        w.write(&b).unwrap();
    }
    w.close().unwrap();

    let serve_args = |bind: &str| -> Vec<std::ffi::OsString> {
        vec![
            "serve".into(),
            "--bind".into(),
            bind.into(),
            "--data-dir".into(),
            data.clone().into_os_string(),
        ]
    };
    let args = serve_args("127.0.0.1:0");
    let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    let (mut server, addr) = serve(&refs);
    let base = format!("ws::addr={addr};");
    let db = questdb_arrow::client::QuestDb::connect(&base).unwrap();
    db.query_arrow(
        "CREATE TABLE t (ts TIMESTAMP, id LONG) TIMESTAMP(ts) PARTITION BY DAY WAL DEDUP UPSERT KEYS(ts, id)",
    )
    .unwrap()
    .next_arrow_batch()
    .unwrap();
    drop(db);
    let conf = format!(
        // A small queue keeps the loader publishing at the server's pace
        // (backpressure), so the kill lands mid-stream.
        "{base}sf_dir={};sender_id=crash;sf_max_total_bytes=2m;sf_max_segment_bytes=256k;reconnect_max_backoff_millis=100;reconnect_max_duration_millis=60000;",
        sf.display()
    );
    let mut loader = Child(
        Command::new(env!("CARGO_BIN_EXE_questdb-arrow"))
            .args(["load"])
            .arg(&path)
            .args([
                "--table",
                "t",
                "--timestamp",
                "ts",
                "--batch-rows",
                "5000",
                "--publish",
            ])
            .args(["--conf", &conf])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // Read the loader's "published N rows" lines on a thread.
    let out = loader.0.stdout.take().unwrap();
    let published = Arc::new(std::sync::atomic::AtomicI64::new(0));
    let p = published.clone();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if let Some(n) = line
                .strip_prefix("published ")
                .and_then(|r| r.split_whitespace().next())
                .and_then(|n| n.parse::<i64>().ok())
            {
                p.store(n, std::sync::atomic::Ordering::SeqCst);
            }
        }
    });
    // Mid-stream: once the server holds some rows, kill it, let the
    // loader queue more with the server gone, then kill the loader too.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while stored_ids(&base).len() < 100_000 {
        assert!(std::time::Instant::now() < until, "no progress");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    server.0.kill().unwrap();
    server.0.wait().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    loader.0.kill().unwrap();
    loader.0.wait().unwrap();
    reader.join().unwrap();
    let published = published.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        published > 0 && published < rows,
        "killed mid-stream: {published} rows published"
    );

    // The server comes back on the same address and data; the slot drains.
    let args = serve_args(&addr);
    let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    let (_server, addr2) = serve(&refs);
    assert_eq!(addr2, addr);
    let mut drain = Command::new(env!("CARGO_BIN_EXE_questdb-arrow"))
        .args(["drain", "--conf", &conf])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = drain.wait().unwrap();
    let mut said = String::new();
    drain
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut said)
        .unwrap();
    drain
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut said)
        .unwrap();
    assert!(status.success(), "drain failed: {said}");
    assert!(said.contains("recovered"), "{said}");

    let mut ids = stored_ids(&base);
    let n = ids.len();
    eprintln!(
        "crash test: {published} rows published before the kill; drain said: {said}; {n} rows stored"
    );
    ids.sort();
    ids.dedup();
    assert_eq!(n, ids.len(), "DEDUP UPSERT KEYS: every row exactly once");
    // Every row reported published is there; nothing else but rows of the
    // file (a batch queued but not yet reported may be there too).
    assert!(ids.len() as i64 >= published, "{} < {published}", ids.len());
    assert_eq!(
        ids[..published as usize],
        (0..published).collect::<Vec<_>>()[..]
    );
    assert!(ids.iter().all(|&i| (0..rows).contains(&i)));
    let _ = std::fs::remove_dir_all(&dir);
}
