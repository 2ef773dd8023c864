//! `questdb-arrow`: command-line tool.
//!
//! - `serve`: the embedded QWP server backed by DataFusion;
//! - `load FILE --table T [--query SQL]...`: Parquet, Arrow IPC
//!   (.arrow/.feather) or CSV into a table, streamed, with a progress bar;
//!   then optionally run queries on the same server and print them;
//! - `query SQL [--out FILE]`: a result as a table on the terminal, or
//!   streamed into .parquet / .arrow / .csv;
//! - `drain`: send what a store-and-forward slot (`sf_dir` and `sender_id`
//!   in the connect string) still holds, then exit.
//!
//! `load --publish` goes through the asynchronous sender: each batch is
//! queued (in `sf_dir` when the connect string has it) and delivered in
//! the background; a line `published <rows> rows (FSN <n>)` is printed per
//! batch, and the command ends when everything is acknowledged.
//!
//! `load` and `query` connect with `--conf`, else `QDB_CLIENT_CONF`, else
//! `ws::addr=localhost:9000;`; `--embedded` starts an in-process server
//! instead (with `--data-dir` its tables persist between runs).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{RecordBatch, RecordBatchReader};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use questdb_arrow::arrow;
use questdb_arrow::client::{ColumnOverride, IngestOptions, QuestDb};
use questdb_arrow::server::{Server, ServerHandle};
use questdb_arrow::{Error, ErrorKind, Result};

#[derive(Parser)]
#[command(
    name = "questdb-arrow",
    version,
    about = "Move Arrow data in and out of QuestDB over QWP"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

/// `serve --role`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum RoleArg {
    Standalone,
    Primary,
    Replica,
    PrimaryCatchup,
}

impl From<RoleArg> for questdb_arrow::protocol::egress::Role {
    fn from(r: RoleArg) -> Self {
        use questdb_arrow::protocol::egress::Role;
        match r {
            RoleArg::Standalone => Role::Standalone,
            RoleArg::Primary => Role::Primary,
            RoleArg::Replica => Role::Replica,
            RoleArg::PrimaryCatchup => Role::PrimaryCatchup,
        }
    }
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the embedded QWP server (ingest on /write/v4, SQL on /read/v1).
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:9000")]
        bind: String,
        /// Persist tables here (write-ahead log + Parquet checkpoints) and
        /// recover them at start.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// With --data-dir: checkpoint into Parquet after this many bytes
        /// of write-ahead log (default 512 MiB; also after a second without changes;
        /// commits wait while four times this much is not yet checkpointed).
        #[arg(long, requires = "data_dir")]
        checkpoint_bytes: Option<u64>,
        /// Grant durable acks to clients that ask (`request_durable_ack=on`):
        /// with --data-dir each follows the write-ahead log's fsync.
        #[arg(long)]
        durable_ack: bool,
        /// Require HTTP basic auth with this user (needs --password).
        #[arg(long, requires = "password", conflicts_with = "token")]
        username: Option<String>,
        /// Password for --username.
        #[arg(long, requires = "username")]
        password: Option<String>,
        /// Require `Authorization: Bearer <token>`.
        #[arg(long)]
        token: Option<String>,
        /// PEM certificate chain to serve TLS (needs --tls-key).
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// PEM private key for --tls-cert.
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Decode and acknowledge ingest without storing (benchmarks).
        #[arg(long)]
        sink: bool,
        /// Receive buffer in bytes (largest accepted frame).
        #[arg(long)]
        recv_buffer: Option<usize>,
        /// Most connections served at once; more get HTTP 503 (default 64
        /// per core, at least 256).
        #[arg(long)]
        max_connections: Option<usize>,
        /// Close connections silent for this many seconds (0: never).
        #[arg(long, default_value_t = 300)]
        idle_timeout_secs: u64,
        /// Largest SQL text accepted, in bytes.
        #[arg(long, default_value_t = questdb_arrow::server::DEFAULT_MAX_SQL_BYTES)]
        max_sql_bytes: usize,
        /// Also take ILP over raw TCP on this address (off by default;
        /// ILP over HTTP, `POST /write`, is always on the main address).
        /// With --tls-cert it serves TLS only (`tcps::` clients), with the
        /// same certificate.
        #[arg(long)]
        ilp_tcp_bind: Option<String>,
        /// Largest HTTP request body (ILP `POST /write`), in bytes.
        #[arg(long, default_value_t = questdb_arrow::server::DEFAULT_MAX_HTTP_BODY)]
        max_http_body: usize,
        /// Replication role announced to clients: a `replica` refuses
        /// writes with HTTP 421 (`X-QuestDB-Role: REPLICA`) and serves
        /// queries; `primary-catchup` refuses writes as a promotion in
        /// progress. This process replicates nothing: the role is for
        /// testing clients' failover and role filters.
        #[arg(long, value_enum, default_value_t = RoleArg::Standalone)]
        role: RoleArg,
        /// Zone announced in SERVER_INFO (and on 421 rejects), for clients'
        /// `zone=` preference.
        #[arg(long)]
        zone: Option<String>,
    },
    /// Load a .parquet, .arrow/.feather (Arrow IPC file) or .csv file into a
    /// table, streamed in batches (each committed atomically).
    Load {
        #[command(flatten)]
        job: LoadJob,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Run SQL; print the result as a table, or stream it into --out.
    Query {
        /// The SQL statement.
        sql: String,
        /// Write the result here: .parquet, .arrow / .feather or .csv.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Rows printed to the terminal (without --out).
        #[arg(long, default_value_t = 100)]
        max_rows: usize,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Send every frame a store-and-forward slot (`sf_dir`, `sender_id` in
    /// the connect string) holds — what a crashed `load --publish` left —
    /// and exit once the server acknowledged them.
    Drain {
        /// Give up when no acknowledgement arrives for this many seconds.
        #[arg(long, default_value_t = 60)]
        stall_secs: u64,
        #[command(flatten)]
        conn: ConnArgs,
    },
}

/// Where `load` and `query` connect.
#[derive(Args)]
struct ConnArgs {
    /// Connect string (default: $QDB_CLIENT_CONF, else ws::addr=localhost:9000;).
    #[arg(long, conflicts_with = "embedded")]
    conf: Option<String>,
    /// Start an embedded server in this process instead of connecting.
    #[arg(long)]
    embedded: bool,
    /// With --embedded: keep its tables in this directory (as Parquet).
    #[arg(long, requires = "embedded")]
    data_dir: Option<PathBuf>,
}

impl ConnArgs {
    /// The handle, and the embedded server when one was started (keep it
    /// alive while the handle is used).
    fn open(&self) -> Result<(QuestDb, Option<ServerHandle>)> {
        if self.embedded {
            let mut b = Server::builder().bind("127.0.0.1:0");
            if let Some(d) = &self.data_dir {
                b = b.data_dir(d);
            }
            let srv = b.start()?;
            return Ok((QuestDb::connect(&srv.conf_string())?, Some(srv)));
        }
        let conf = match &self.conf {
            Some(c) => c.clone(),
            None => std::env::var("QDB_CLIENT_CONF")
                .unwrap_or_else(|_| "ws::addr=localhost:9000;".to_string()),
        };
        Ok((QuestDb::connect(&conf)?, None))
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("questdb-arrow: {e}");
            ExitCode::FAILURE
        }
    }
}

fn ext(path: &Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// An Arrow error reading `path`: invalid data, or an I/O error when Arrow
/// wrapped one; the `ArrowError` is the source.
fn bad_file(path: &Path, e: arrow::error::ArrowError) -> Error {
    Error::arrow(ErrorKind::InvalidData, path.display().to_string(), e)
}

fn open_file(path: &Path) -> Result<File> {
    File::open(path).map_err(|e| Error::from(e).context(path.display()))
}

/// A streaming reader for `path` by extension, and its row count when the
/// format says it up front.
fn reader_for(
    path: &Path,
    batch_rows: usize,
) -> Result<(Box<dyn RecordBatchReader + Send>, Option<u64>)> {
    match ext(path).as_str() {
        "parquet" | "pq" => {
            // The library's reader: a disk error mid-file is an i/o error
            // with its source, not invalid data.
            let r = questdb_arrow::parquet_io::open_parquet(
                path,
                questdb_arrow::parquet_io::ParquetOptions { batch_rows },
            )?;
            let rows = r.num_rows();
            Ok((Box::new(r), Some(rows)))
        }
        "arrow" | "feather" | "ipc" => {
            let r = arrow::ipc::reader::FileReader::try_new(open_file(path)?, None)
                .map_err(|e| bad_file(path, e))?;
            Ok((Box::new(r), None))
        }
        "csv" => {
            let mut f = open_file(path)?;
            let (schema, _) = arrow::csv::reader::Format::default()
                .with_header(true)
                .infer_schema(&mut f, Some(10_000))
                .map_err(|e| bad_file(path, e))?;
            let r = arrow::csv::ReaderBuilder::new(Arc::new(schema))
                .with_header(true)
                .with_batch_size(batch_rows)
                .build(open_file(path)?)
                .map_err(|e| bad_file(path, e))?;
            Ok((Box::new(r), None))
        }
        other => Err(Error::new(
            ErrorKind::Unsupported,
            format!(
                "{}: unknown file type {other:?}; use .parquet, .arrow/.feather or .csv",
                path.display()
            ),
        )),
    }
}

/// What `load` was asked to do.
#[derive(Args)]
struct LoadJob {
    /// The file to load.
    file: PathBuf,
    /// Target table.
    #[arg(long)]
    table: String,
    /// Designated timestamp column (a Timestamp column).
    #[arg(long)]
    timestamp: Option<String>,
    /// Send this string column as SYMBOL (repeatable).
    #[arg(long = "symbol")]
    symbols: Vec<String>,
    /// Rows per batch read from the file.
    #[arg(long, default_value_t = 65_536)]
    batch_rows: usize,
    /// After loading, run this SQL and print its result (repeatable;
    /// handy with --embedded, whose server lives as long as the command).
    #[arg(long = "query")]
    queries: Vec<String>,
    /// Rows printed per --query.
    #[arg(long, default_value_t = 10)]
    max_rows: usize,
    /// Publish through the asynchronous sender (store-and-forward: the
    /// connect string's `sf_*` keys apply) instead of waiting for each
    /// batch; prints a line per batch queued.
    #[arg(long)]
    publish: bool,
}

fn load(job: LoadJob, conn: &ConnArgs) -> Result<()> {
    let (file, table) = (job.file.as_path(), job.table.as_str());
    let (reader, total) = reader_for(file, job.batch_rows.max(1))?;
    let (db, _srv) = conn.open()?;
    let bar = match total {
        Some(n) => ProgressBar::new(n).with_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} rows  {per_sec}  ETA {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        ),
        None => ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{spinner} {pos} rows  {per_sec}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        ),
    };
    bar.enable_steady_tick(Duration::from_millis(200));
    let mut opts = IngestOptions::new();
    if let Some(ts) = job.timestamp {
        opts = opts.timestamp_column(ts);
    }
    for s in job.symbols {
        opts = opts.column_override(s, ColumnOverride::Symbol);
    }
    if job.publish {
        bar.finish_and_clear();
        return publish(&db, table, reader, &opts);
    }
    let pb = bar.clone();
    opts = opts.on_progress(move |p| pb.set_position(p.rows_acked));
    let res = db.ingest(table, reader, &opts);
    bar.finish_and_clear();
    let sum = res.map_err(|e| e.context(format!("loading {}", file.display())))?;
    let secs = sum.elapsed.as_secs_f64().max(1e-9);
    println!(
        "loaded {} rows into {table} from {} in {:.2} s: {:.0} rows/s, {:.1} MB/s ({} batches, {} frames{})",
        sum.rows,
        file.display(),
        secs,
        sum.rows as f64 / secs,
        sum.bytes as f64 / secs / 1e6,
        sum.batches,
        sum.frames,
        if sum.reconnects > 0 {
            format!(", {} reconnects", sum.reconnects)
        } else {
            String::new()
        }
    );
    for sql in &job.queries {
        println!("\n{sql}");
        print_query(&db, sql, job.max_rows)?;
    }
    Ok(())
}

/// `load --publish`: every batch through an [`AsyncSender`], a line per
/// batch queued, then a wait for every acknowledgement.
///
/// [`AsyncSender`]: questdb_arrow::client::AsyncSender
fn publish(
    db: &QuestDb,
    table: &str,
    reader: Box<dyn RecordBatchReader + Send>,
    opts: &IngestOptions,
) -> Result<()> {
    let t = Instant::now();
    let mut s = db.async_sender()?;
    report_recovered(&s);
    let mut rows = 0usize;
    for (k, b) in reader.enumerate() {
        let b =
            b.map_err(|e| Error::arrow(ErrorKind::InvalidData, format!("reading batch {k}"), e))?;
        let fsn = s.publish_with(table, &b, opts)?;
        rows += b.num_rows();
        println!("published {rows} rows (FSN {fsn})");
    }
    s.wait(questdb_arrow::client::AckLevel::Ok, Duration::from_secs(60))?;
    let c = s.counters();
    s.close()?;
    println!(
        "delivered {rows} rows into {table} in {:.2} s ({} frames, {} replayed, {} reconnects)",
        t.elapsed().as_secs_f64(),
        c.frames_published,
        c.frames_replayed,
        c.reconnects
    );
    Ok(())
}

/// Prints what opening a store-and-forward slot found.
fn report_recovered(s: &questdb_arrow::client::AsyncSender) {
    let r = s.recovered();
    if r.frames > 0 {
        println!(
            "recovered {} frames ({} bytes) from the slot",
            r.frames, r.bytes
        );
    }
    for w in &r.warnings {
        eprintln!("warning: {w}");
    }
}

/// `drain`: sends what the slot holds and closes.
fn drain(stall: Duration, conn: &ConnArgs) -> Result<()> {
    let (db, _srv) = conn.open()?;
    let s = db.async_sender()?;
    report_recovered(&s);
    s.wait(questdb_arrow::client::AckLevel::Ok, stall)?;
    let c = s.counters();
    s.close()?;
    println!(
        "drained: {} frames sent, {} acknowledged",
        c.frames_sent, c.frames_acked
    );
    Ok(())
}

/// Runs `sql` and prints the first `max_rows` rows as a table, then the row
/// count and time.
fn print_query(db: &QuestDb, sql: &str, max_rows: usize) -> Result<()> {
    let t = Instant::now();
    let mut cur = db.query_arrow(sql)?;
    let mut shown: Vec<RecordBatch> = Vec::new();
    let (mut rows, mut kept) = (0usize, 0usize);
    while let Some(b) = cur.next_arrow_batch()? {
        rows += b.num_rows();
        if kept < max_rows {
            let take = b.num_rows().min(max_rows - kept);
            kept += take;
            shown.push(b.slice(0, take));
        }
    }
    if let Some(questdb_arrow::client::Terminal::ExecDone { rows_affected, .. }) = cur.terminal() {
        println!("OK, {rows_affected} rows affected");
        return Ok(());
    }
    if shown.is_empty() {
        shown.push(RecordBatch::new_empty(cur.schema()));
    }
    let table = arrow::util::pretty::pretty_format_batches(&shown)
        .map_err(|e| Error::arrow(ErrorKind::InvalidData, "formatting the result", e))?;
    println!("{table}");
    println!(
        "{rows} rows in {:.3} s{}",
        t.elapsed().as_secs_f64(),
        if rows > kept {
            format!(" (first {kept} shown)")
        } else {
            String::new()
        }
    );
    Ok(())
}

/// An Arrow writer's error writing `path`: an I/O error when Arrow wrapped
/// one, else invalid data (a batch the format cannot hold); the
/// `ArrowError` is the source.
fn write_err(path: &Path, e: arrow::error::ArrowError) -> Error {
    Error::arrow(
        ErrorKind::InvalidData,
        format!("writing {}", path.display()),
        e,
    )
}

fn query(sql: &str, out: Option<PathBuf>, max_rows: usize, conn: &ConnArgs) -> Result<()> {
    let (db, _srv) = conn.open()?;
    let t = Instant::now();
    let Some(out) = out else {
        return print_query(&db, sql, max_rows);
    };
    let (rows, batches) = match ext(&out).as_str() {
        "parquet" | "pq" => {
            let s = questdb_arrow::parquet_io::export_parquet(&db, sql, &out)?;
            (s.rows, s.batches)
        }
        "arrow" | "feather" | "ipc" | "csv" => {
            let mut cur = db.query_arrow(sql)?;
            let file = File::create(&out)
                .map_err(|e| Error::from(e).context(format!("writing {}", out.display())))?;
            let (mut rows, mut batches) = (0u64, 0u64);
            if ext(&out) == "csv" {
                let mut w = arrow::csv::WriterBuilder::new()
                    .with_header(true)
                    .build(file);
                while let Some(b) = cur.next_arrow_batch()? {
                    rows += b.num_rows() as u64;
                    batches += 1;
                    w.write(&b).map_err(|e| write_err(&out, e))?;
                }
            } else {
                let mut w = arrow::ipc::writer::FileWriter::try_new(file, &cur.schema())
                    .map_err(|e| write_err(&out, e))?;
                while let Some(b) = cur.next_arrow_batch()? {
                    rows += b.num_rows() as u64;
                    batches += 1;
                    w.write(&b).map_err(|e| write_err(&out, e))?;
                }
                w.finish().map_err(|e| write_err(&out, e))?;
            }
            (rows, batches)
        }
        other => {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "--out {}: unknown file type {other:?}; use .parquet, .arrow/.feather or .csv",
                    out.display()
                ),
            ));
        }
    };
    println!(
        "wrote {rows} rows in {batches} batches to {} in {:.2} s",
        out.display(),
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

fn run(cli: Cli) -> questdb_arrow::Result<()> {
    match cli.cmd {
        Cmd::Load { job, conn } => load(job, &conn),
        Cmd::Drain { stall_secs, conn } => drain(Duration::from_secs(stall_secs), &conn),
        Cmd::Query {
            sql,
            out,
            max_rows,
            conn,
        } => query(&sql, out, max_rows, &conn),
        Cmd::Serve {
            bind,
            data_dir,
            checkpoint_bytes,
            durable_ack,
            username,
            password,
            token,
            tls_cert,
            tls_key,
            sink,
            recv_buffer,
            max_connections,
            idle_timeout_secs,
            max_sql_bytes,
            ilp_tcp_bind,
            max_http_body,
            role,
            zone,
        } => {
            let mut b = Server::builder()
                .bind(bind)
                .role(role.into(), zone)
                .sink(sink)
                .idle_timeout(std::time::Duration::from_secs(idle_timeout_secs))
                .max_sql_bytes(max_sql_bytes)
                .max_http_body(max_http_body);
            if let Some(a) = ilp_tcp_bind {
                b = b.ilp_tcp_bind(a);
            }
            if let Some(n) = max_connections {
                b = b.max_connections(n);
            }
            if let Some(d) = data_dir {
                b = b.data_dir(d);
            }
            if let Some(n) = checkpoint_bytes {
                b = b.checkpoint_bytes(n);
            }
            b = b.durable_ack(durable_ack);
            if let (Some(u), Some(p)) = (username, password) {
                b = b.basic_auth(u, p);
            }
            if let Some(t) = token {
                b = b.token_auth(t);
            }
            if let (Some(c), Some(k)) = (tls_cert, tls_key) {
                b = b.tls(c, k);
            }
            if let Some(r) = recv_buffer {
                b = b.recv_buffer(r);
            }
            let server = b.start()?;
            println!(
                "questdb-arrow server listening on {} (connect string: {})",
                server.addr(),
                server.conf_string()
            );
            if let Some(a) = server.ilp_tcp_addr() {
                println!("ILP over TCP on {a}");
            }
            // Serve until the process is stopped.
            loop {
                std::thread::park();
            }
        }
    }
}
