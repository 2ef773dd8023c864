//! The embedded QWP server (feature `server`): speaks QuestDB's ingress
//! (`/write/v4`, `/api/v4/write`) and egress (`/read/v1`) protocols over
//! WebSocket, stores tables as Arrow batches in memory (optionally persisted
//! as Parquet) and runs SQL with Apache DataFusion.
//!
//! It exists so tests, examples and benchmarks run on a machine without
//! QuestDB — and so users can test their own pipelines the same way.
//!
//! ```no_run
//! use questdb_arrow::server::Server;
//! let server = Server::builder().bind("127.0.0.1:0").start()?;
//! println!("connect with ws::addr={};", server.addr());
//! // ... dropping the handle stops the server.
//! # Ok::<(), questdb_arrow::Error>(())
//! ```
//!
//! One thread per connection (blocking sockets); queries run on a small
//! Tokio runtime owned by the server.

mod checkpoint;
mod ingest;
mod query;
mod sql;
pub mod storage;
mod wal;

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use base64::Engine;
use rustls::{ServerConfig, ServerConnection, StreamOwned};
use tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tungstenite::http::{HeaderValue, StatusCode};
use tungstenite::protocol::WebSocketConfig;

use crate::error::{Error, ErrorKind, Result};
use crate::protocol::MAX_MESSAGE_BYTES;
use crate::protocol::egress::Role;
use storage::Catalog;

/// Default receive buffer (QuestDB's `http.recv.buffer.size`): 2 MiB.
pub const DEFAULT_RECV_BUFFER_BYTES: usize = 2 * 1024 * 1024;

/// How clients must authenticate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerAuth {
    /// HTTP basic with this user and password.
    Basic {
        /// User name.
        username: String,
        /// Password.
        password: String,
    },
    /// `Authorization: Bearer <token>`.
    Token(String),
}

/// Faults the server injects, for testing reconnects and failover.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Close every ingest connection (abruptly) after it received this many
    /// frames, before answering the last one.
    pub close_after_frames: Option<usize>,
    /// Only the first N connections get `close_after_frames` (None = all).
    pub close_first_connections: Option<usize>,
    /// Wait this long before each ingest acknowledgement.
    pub ack_delay: Option<Duration>,
    /// Refuse every upgrade with HTTP 421 and `X-QuestDB-Role: <role>`
    /// (and `X-QuestDB-Zone` when given).
    pub reject_role: Option<(String, Option<String>)>,
    /// While the flag is set, writes to the write-ahead log fail as if the
    /// disk did (with a data directory): commits get `WRITE_ERROR`.
    pub fail_storage_writes: Option<Arc<AtomicBool>>,
}

/// Settings of a server; build with [`Server::builder`].
#[derive(Clone, Debug)]
pub struct ServerBuilder {
    bind: String,
    data_dir: Option<PathBuf>,
    auth: Option<ServerAuth>,
    tls: Option<(PathBuf, PathBuf)>,
    sink: bool,
    recv_buffer: usize,
    role: Role,
    zone: Option<String>,
    durable_ack: bool,
    max_batch_rows: usize,
    dict_cap_entries: usize,
    dict_cap_bytes: usize,
    faults: Faults,
    checkpoint_bytes: u64,
    max_pending_bytes: usize,
    max_dict_bytes: usize,
    query_timeout: Option<Duration>,
}

/// The embedded server.
pub struct Server;

impl Server {
    /// A builder with defaults: bind `127.0.0.1:9000`, in memory, no auth,
    /// no TLS, 2 MiB receive buffer, role STANDALONE.
    pub fn builder() -> ServerBuilder {
        ServerBuilder {
            bind: "127.0.0.1:9000".into(),
            data_dir: None,
            auth: None,
            tls: None,
            sink: false,
            recv_buffer: DEFAULT_RECV_BUFFER_BYTES,
            role: Role::Standalone,
            zone: None,
            durable_ack: false,
            max_batch_rows: 10_000,
            dict_cap_entries: 100_000,
            dict_cap_bytes: 8 * 1024 * 1024,
            faults: Faults::default(),
            checkpoint_bytes: storage::DEFAULT_CHECKPOINT_BYTES,
            max_pending_bytes: 64 * 1024 * 1024,
            max_dict_bytes: 32 * 1024 * 1024,
            query_timeout: None,
        }
    }
}

impl ServerBuilder {
    /// Address to listen on (`host:port`; port 0 picks a free one).
    pub fn bind(mut self, addr: impl Into<String>) -> Self {
        self.bind = addr.into();
        self
    }
    /// Persist tables in `dir` and recover them at start: every commit is
    /// appended to a checksummed write-ahead log before it is acknowledged
    /// (it survives the process being killed), fsynced before a durable
    /// acknowledgement (it survives a power loss), and checkpointed into
    /// Parquet files in the background. See [`storage::Catalog`].
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }
    /// With a data directory: checkpoint the tables into Parquet once this
    /// many bytes were logged since the last checkpoint (default 64 MiB).
    pub fn checkpoint_bytes(mut self, bytes: u64) -> Self {
        self.checkpoint_bytes = bytes.max(1);
        self
    }
    /// Require HTTP basic authentication.
    pub fn basic_auth(mut self, username: impl Into<String>, password: impl Into<String>) -> Self {
        self.auth = Some(ServerAuth::Basic {
            username: username.into(),
            password: password.into(),
        });
        self
    }
    /// Require a bearer token.
    pub fn token_auth(mut self, token: impl Into<String>) -> Self {
        self.auth = Some(ServerAuth::Token(token.into()));
        self
    }
    /// Serve TLS with a PEM certificate chain and private key.
    pub fn tls(mut self, cert_pem: impl Into<PathBuf>, key_pem: impl Into<PathBuf>) -> Self {
        self.tls = Some((cert_pem.into(), key_pem.into()));
        self
    }
    /// Sink mode for benchmarks: decode and acknowledge ingest, store nothing.
    pub fn sink(mut self, on: bool) -> Self {
        self.sink = on;
        self
    }
    /// Receive buffer size; frames above it are refused with close 1009 and
    /// `X-QWP-Max-Batch-Size` advertises `min(size − 14, 16 MiB)`.
    pub fn recv_buffer(mut self, bytes: usize) -> Self {
        self.recv_buffer = bytes.max(1024);
        self
    }
    /// Role announced in SERVER_INFO (and zone, when given).
    pub fn role(mut self, role: Role, zone: Option<String>) -> Self {
        self.role = role;
        self.zone = zone;
        self
    }
    /// Accept `X-QWP-Request-Durable-Ack` (echo `enabled`). With a data
    /// directory a durable ack follows each OK once the write-ahead log is
    /// fsynced; in memory it follows each OK at once (nothing outlives the
    /// process there).
    pub fn durable_ack(mut self, on: bool) -> Self {
        self.durable_ack = on;
        self
    }
    /// Default rows per RESULT_BATCH (clients may ask for fewer).
    pub fn max_batch_rows(mut self, rows: usize) -> Self {
        self.max_batch_rows = rows.clamp(1, crate::protocol::MAX_ROWS_PER_RESULT_BATCH);
        self
    }
    /// Egress symbol-dictionary soft caps that trigger CACHE_RESET.
    pub fn dict_caps(mut self, entries: usize, bytes: usize) -> Self {
        self.dict_cap_entries = entries;
        self.dict_cap_bytes = bytes;
        self
    }
    /// Faults to inject.
    pub fn faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }
    /// Per ingest connection: the most memory (Arrow bytes of the decoded
    /// batches) that deferred, uncommitted frames may hold (default 64
    /// MiB). A deferred frame going over it is refused with LIMIT_EXCEEDED
    /// and its transaction rolled back.
    pub fn max_pending_bytes(mut self, bytes: usize) -> Self {
        self.max_pending_bytes = bytes;
        self
    }
    /// Per ingest connection: the most memory its symbol dictionary may
    /// take, counted as each entry's UTF-8 length plus 24 bytes of
    /// bookkeeping (default 32 MiB). A delta going over it is refused with
    /// LIMIT_EXCEEDED.
    pub fn max_dict_bytes(mut self, bytes: usize) -> Self {
        self.max_dict_bytes = bytes;
        self
    }
    /// Server-side limit on a query's run time, from its QUERY_REQUEST to
    /// its last batch (default none). A query running longer is stopped
    /// and answered with QUERY_ERROR LIMIT_EXCEEDED. When the client also
    /// sends a `timeout_ms` (`QUERY_FLAG_TIMEOUT`), the shorter one applies.
    pub fn query_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.query_timeout = timeout;
        self
    }

    /// Starts listening and serving in background threads.
    pub fn start(self) -> Result<ServerHandle> {
        let listener = TcpListener::bind(&self.bind)
            .map_err(|e| Error::from(e).context(format!("bind {}", self.bind)))?;
        let addr = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        let tls = match &self.tls {
            Some((cert, key)) => Some(tls_config(cert, key)?),
            None => None,
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("qa-server-sql")
            .enable_all()
            .build()
            .map_err(|e| Error::new(ErrorKind::Io, format!("tokio runtime: {e}")))?;
        let shared = Arc::new(Shared {
            catalog: Catalog::open_with(
                self.data_dir.clone(),
                storage::StorageOptions {
                    checkpoint_bytes: self.checkpoint_bytes,
                    fail_writes: self.faults.fail_storage_writes.clone(),
                },
            )?,
            cfg: self,
            tls,
            runtime,
            stop: AtomicBool::new(false),
            connections: AtomicUsize::new(0),
            workers: Mutex::new(Vec::new()),
        });
        let s2 = shared.clone();
        let acceptor = std::thread::Builder::new()
            .name("qa-server-accept".into())
            .spawn(move || accept_loop(listener, s2))?;
        Ok(ServerHandle {
            addr,
            shared,
            acceptor: Some(acceptor),
        })
    }
}

fn tls_config(cert: &PathBuf, key: &PathBuf) -> Result<Arc<ServerConfig>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let tls_err = |what: &str, p: &PathBuf, e: &dyn std::fmt::Display| {
        Error::new(ErrorKind::Tls, format!("{what} {}: {e}", p.display()))
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| tls_err("certificate file", cert, &e))?
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| tls_err("certificate file", cert, &e))?;
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| tls_err("key file", key, &e))?;
    let cfg = ServerConfig::builder_with_provider(crate::transport::tls::crypto_provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::new(ErrorKind::Tls, e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key_der)
        .map_err(|e| Error::new(ErrorKind::Tls, e.to_string()))?;
    Ok(Arc::new(cfg))
}

pub(crate) struct Shared {
    pub(crate) catalog: Catalog,
    pub(crate) cfg: ServerBuilder,
    tls: Option<Arc<ServerConfig>>,
    pub(crate) runtime: tokio::runtime::Runtime,
    pub(crate) stop: AtomicBool,
    connections: AtomicUsize,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

/// A running server. Dropping it stops the server and waits for its
/// connections to end.
pub struct ServerHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl ServerHandle {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A `ws::addr=...;` connect string for this server (`wss` with TLS).
    pub fn conf_string(&self) -> String {
        let scheme = if self.shared.tls.is_some() {
            "wss"
        } else {
            "ws"
        };
        format!("{scheme}::addr={};", self.addr)
    }

    /// A snapshot of a table's rows as one batch, for tests and tools.
    pub fn table_batch(&self, name: &str) -> Option<arrow::array::RecordBatch> {
        let t = self.shared.catalog.table(name)?;
        arrow::compute::concat_batches(&t.schema, &t.batches).ok()
    }

    /// Names of the tables.
    pub fn table_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .shared
            .catalog
            .snapshot()
            .into_iter()
            .map(|t| t.name)
            .collect();
        v.sort();
        v
    }

    /// Tables quarantined at start because a stored file failed its
    /// checks: `(name, reason)`.
    pub fn quarantined_tables(&self) -> Vec<(String, String)> {
        self.shared.catalog.quarantined()
    }

    /// What recovery reported at start (cut log tails, damaged manifests,
    /// quarantined tables) and failed checkpoints since.
    pub fn storage_warnings(&self) -> Vec<String> {
        self.shared.catalog.warnings()
    }

    /// Checkpoints the tables into Parquet now (with a data directory).
    pub fn checkpoint(&self) -> Result<()> {
        self.shared.catalog.checkpoint()
    }

    /// Connections accepted so far.
    pub fn connections_accepted(&self) -> usize {
        self.shared.connections.load(Ordering::Relaxed)
    }

    /// Stops accepting, closes connections and joins the threads.
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(a) = self.acceptor.take() {
            let _ = a.join();
        }
        let workers: Vec<_> = std::mem::take(
            &mut *self
                .shared
                .workers
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        );
        for w in workers {
            let _ = w.join();
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.stop_now();
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    while !shared.stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let n = shared.connections.fetch_add(1, Ordering::Relaxed);
                let s2 = shared.clone();
                let spawned = std::thread::Builder::new()
                    .name(format!("qa-server-conn-{n}"))
                    .spawn(move || {
                        if let Err(e) = serve_connection(stream, &s2, n) {
                            // Expected on client disconnects; only log oddities.
                            if !matches!(
                                e.kind(),
                                ErrorKind::Closed | ErrorKind::Io | ErrorKind::Handshake
                            ) {
                                eprintln!("questdb-arrow server: connection {n}: {e}");
                            }
                        }
                    });
                if let Ok(h) = spawned {
                    let mut w = shared.workers.lock().unwrap_or_else(|p| p.into_inner());
                    w.retain(|h| !h.is_finished());
                    w.push(h);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// TCP or TLS server stream.
pub(crate) enum ServerStream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ServerConnection, TcpStream>>),
}

impl ServerStream {
    pub(crate) fn tcp(&self) -> &TcpStream {
        match self {
            ServerStream::Plain(s) => s,
            ServerStream::Tls(s) => s.get_ref(),
        }
    }
}

impl Read for ServerStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            ServerStream::Plain(s) => s.read(buf),
            ServerStream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for ServerStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            ServerStream::Plain(s) => s.write(buf),
            ServerStream::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            ServerStream::Plain(s) => s.flush(),
            ServerStream::Tls(s) => s.flush(),
        }
    }
}

pub(crate) type Ws = tungstenite::WebSocket<ServerStream>;

/// What the upgrade request asked for.
#[derive(Debug, Default, Clone)]
pub(crate) struct Upgrade {
    pub(crate) ingest: bool,
    pub(crate) durable_ack: bool,
    pub(crate) zstd_level: Option<i32>,
    pub(crate) max_batch_rows: Option<usize>,
}

fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

#[allow(clippy::result_large_err)]
fn reject(status: StatusCode, body: &str) -> ErrorResponse {
    let mut r = ErrorResponse::new(Some(body.to_string()));
    *r.status_mut() = status;
    r
}

fn check_auth(auth: &Option<ServerAuth>, req: &Request) -> bool {
    let Some(auth) = auth else { return true };
    let Some(h) = header(req, "authorization") else {
        return false;
    };
    match auth {
        ServerAuth::Basic { username, password } => {
            let want =
                base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
            h.strip_prefix("Basic ").is_some_and(|v| v.trim() == want)
        }
        ServerAuth::Token(t) => h.strip_prefix("Bearer ").is_some_and(|v| v.trim() == t),
    }
}

/// Parses `X-QWP-Accept-Encoding`: first acceptable token wins.
fn pick_encoding(h: Option<&str>) -> Option<i32> {
    for token in h?.split(',') {
        let mut parts = token.split(';').map(str::trim);
        match parts.next().map(|t| t.to_ascii_lowercase()) {
            Some(t) if t == "zstd" => {
                let level = parts
                    .find_map(|p| p.strip_prefix("level=").and_then(|l| l.parse::<i32>().ok()))
                    .unwrap_or(1)
                    .clamp(1, 9);
                return Some(level);
            }
            Some(t) if t == "raw" || t == "identity" => return None,
            _ => {}
        }
    }
    None
}

fn serve_connection(stream: TcpStream, shared: &Arc<Shared>, n: usize) -> Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let stream = match &shared.tls {
        Some(cfg) => {
            let conn = ServerConnection::new(cfg.clone())
                .map_err(|e| Error::new(ErrorKind::Tls, e.to_string()))?;
            let mut s = StreamOwned::new(conn, stream);
            while s.conn.is_handshaking() {
                s.conn
                    .complete_io(&mut s.sock)
                    .map_err(|e| Error::new(ErrorKind::Tls, e.to_string()))?;
            }
            ServerStream::Tls(Box::new(s))
        }
        None => ServerStream::Plain(stream),
    };
    let cfg = &shared.cfg;
    let mut up = Upgrade::default();
    let max_msg = cfg.recv_buffer.max(1024);
    let ws_cfg = WebSocketConfig::default()
        .max_message_size(Some(max_msg))
        .max_frame_size(Some(max_msg));
    #[allow(clippy::result_large_err)]
    let callback =
        |req: &Request, mut resp: Response| -> std::result::Result<Response, ErrorResponse> {
            if let Some((role, zone)) = &cfg.faults.reject_role {
                let mut r = reject(StatusCode::MISDIRECTED_REQUEST, "role reject");
                if let Ok(v) = HeaderValue::from_str(role) {
                    r.headers_mut().insert("X-QuestDB-Role", v);
                }
                if let Some(z) = zone.as_deref().and_then(|z| HeaderValue::from_str(z).ok()) {
                    r.headers_mut().insert("X-QuestDB-Zone", z);
                }
                return Err(r);
            }
            match req.uri().path() {
                "/write/v4" | "/api/v4/write" => up.ingest = true,
                "/read/v1" => up.ingest = false,
                other => {
                    return Err(reject(
                        StatusCode::NOT_FOUND,
                        &format!("no QWP endpoint at {other}"),
                    ));
                }
            }
            if !check_auth(&cfg.auth, req) {
                return Err(reject(StatusCode::UNAUTHORIZED, "authentication failed"));
            }
            let client_max: u32 = header(req, "x-qwp-max-version")
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(1);
            if client_max == 0 {
                return Err(reject(
                    StatusCode::BAD_REQUEST,
                    "X-QWP-Max-Version must be positive",
                ));
            }
            let h = resp.headers_mut();
            h.insert("X-QWP-Version", HeaderValue::from_static("1"));
            if up.ingest {
                let cap = (cfg.recv_buffer.saturating_sub(14)).min(MAX_MESSAGE_BYTES);
                if let Ok(v) = HeaderValue::from_str(&cap.to_string()) {
                    h.insert("X-QWP-Max-Batch-Size", v);
                }
                let asked = header(req, "x-qwp-request-durable-ack")
                    .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
                if asked && cfg.durable_ack {
                    up.durable_ack = true;
                    h.insert("X-QWP-Durable-Ack", HeaderValue::from_static("enabled"));
                }
            } else {
                up.zstd_level = pick_encoding(header(req, "x-qwp-accept-encoding"));
                if up.zstd_level.is_some() {
                    h.insert("X-QWP-Content-Encoding", HeaderValue::from_static("zstd"));
                }
                up.max_batch_rows = header(req, "x-qwp-max-batch-rows")
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .filter(|&r| r > 0);
            }
            Ok(resp)
        };
    let ws = tungstenite::accept_hdr_with_config(stream, callback, Some(ws_cfg))
        .map_err(|e| Error::new(ErrorKind::Handshake, format!("upgrade failed: {e}")))?;
    if up.ingest {
        ingest::serve(ws, shared, &up, n)
    } else {
        query::serve(ws, shared, &up)
    }
}

/// Turns tungstenite errors into crate errors.
pub(crate) fn ws_err(e: tungstenite::Error) -> Error {
    match e {
        tungstenite::Error::ConnectionClosed
        | tungstenite::Error::AlreadyClosed
        | tungstenite::Error::Protocol(
            tungstenite::error::ProtocolError::ResetWithoutClosingHandshake,
        ) => Error::new(ErrorKind::Closed, "connection closed"),
        tungstenite::Error::Io(e) => e.into(),
        other => Error::new(ErrorKind::Protocol, other.to_string()),
    }
}

/// Drives the ingest connection handler without sockets, for fuzzing and
/// tests: each call to [`IngestHarness::feed`] is one fresh connection.
#[doc(hidden)]
pub struct IngestHarness {
    shared: Arc<Shared>,
}

#[doc(hidden)]
impl IngestHarness {
    /// A harness over an in-memory catalog (`sink`: decode only).
    pub fn new(sink: bool) -> Result<IngestHarness> {
        let cfg = Server::builder().sink(sink);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .map_err(|e| Error::new(ErrorKind::Io, format!("tokio runtime: {e}")))?;
        Ok(IngestHarness {
            shared: Arc::new(Shared {
                catalog: Catalog::open(None)?,
                cfg,
                tls: None,
                runtime,
                stop: AtomicBool::new(false),
                connections: AtomicUsize::new(0),
                workers: Mutex::new(Vec::new()),
            }),
        })
    }

    /// A harness whose catalogue persists to `dir` (recovering what is
    /// there), so the write-ahead log and recovery are exercised too.
    pub fn persistent(dir: &std::path::Path) -> Result<IngestHarness> {
        let cfg = Server::builder();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .map_err(|e| Error::new(ErrorKind::Io, format!("tokio runtime: {e}")))?;
        Ok(IngestHarness {
            shared: Arc::new(Shared {
                catalog: Catalog::open(Some(dir.to_path_buf()))?,
                cfg,
                tls: None,
                runtime,
                stop: AtomicBool::new(false),
                connections: AtomicUsize::new(0),
                workers: Mutex::new(Vec::new()),
            }),
        })
    }

    /// Feeds `frames` to one connection; returns the responses.
    pub fn feed<'f>(
        &self,
        frames: impl IntoIterator<Item = &'f [u8]>,
    ) -> Vec<crate::protocol::ingress::Response> {
        ingest::feed(&self.shared, frames)
    }

    /// Rows stored in `table`.
    pub fn rows(&self, table: &str) -> usize {
        self.shared.catalog.table(table).map_or(0, |t| t.rows())
    }
}
