//! The embedded QWP server (feature `server`): speaks QuestDB's ingress
//! (`/write/v4`, `/api/v4/write`) and egress (`/read/v1`) protocols over
//! WebSocket, takes ILP over HTTP (`POST /write`, `POST /api/v2/write`,
//! with `GET /ping` and `GET /settings`) on the same port and, when
//! [`ServerBuilder::ilp_tcp_bind`] is set, ILP over raw TCP (TLS when the
//! server has [`ServerBuilder::tls`], like its main port); stores tables
//! as Arrow batches in memory (optionally persisted as Parquet) and runs
//! SQL with Apache DataFusion.
//!
//! # ILP ingestion
//!
//! A `POST /write` body is parsed whole (ILP v1 text and the binary
//! doubles, arrays and decimals of v2/v3), grouped per table into one
//! Arrow batch each and committed through the same commit as QWP ingest:
//! one transaction per table, all tables of the request together (QuestDB
//! commits the tables of a request one by one). New tables and columns are
//! created with QuestDB's types; known columns keep theirs. `204` means
//! stored (as durable as a QWP OK). A bad line or a value that does not fit
//! its column commits nothing of the request and answers `400` with
//! QuestDB's JSON error (`code`, `message`, `line`, `errorId`); wrong
//! credentials `401`; a read-only role `421` with `X-QuestDB-Role`.
//! `precision=n|u|ms|s` (also `ns`, `us`) scales timestamps written without
//! a suffix. Over ILP/TCP each read's complete lines are committed at once;
//! a bad line closes the connection after the lines before it are
//! committed (TCP has no answers: a client cannot learn which lines were
//! stored); see [`ServerBuilder::ilp_tcp_auth`] for QuestDB's ECDSA
//! authentication.
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
//!
//! # Deduplication
//!
//! As in QuestDB, `CREATE TABLE … TIMESTAMP(ts) PARTITION BY DAY WAL DEDUP
//! UPSERT KEYS(ts, id)` or `ALTER TABLE t DEDUP ENABLE UPSERT KEYS(ts, id)`
//! makes every later commit (QWP ingest, SQL `INSERT`) upsert: a row whose
//! keys equal a stored row's replaces it, and rows of one commit sharing a
//! key keep the last, so an at-least-once replay stores each row once.
//! `ALTER TABLE t DEDUP DISABLE` turns it off. The keys persist with the
//! table (field metadata [`storage::DEDUP_KEY`]).
//!
//! # Limits
//!
//! No request can take the server down; what exceeds a limit is refused
//! and the server keeps serving:
//!
//! | Limit | Default | Refused with |
//! |---|---|---|
//! | SQL text size ([`ServerBuilder::max_sql_bytes`]) | [`DEFAULT_MAX_SQL_BYTES`] (1 MiB) | QUERY_ERROR, PARSE_ERROR |
//! | SQL complexity: nesting depth plus operator-chain length, counted over the tokens before DataFusion parses ([`MAX_SQL_COMPLEXITY`]) | 1000 | QUERY_ERROR, PARSE_ERROR |
//! | Live connections ([`ServerBuilder::max_connections`]) | 64 × available parallelism, at least 256 | HTTP 503 (an ILP/TCP connection is closed at once) |
//! | Idle upgraded connection ([`ServerBuilder::idle_timeout`]) | [`DEFAULT_IDLE_TIMEOUT`] (5 minutes) | WebSocket close 1001, then the socket is dropped |
//! | Upgrade handshake (TLS and HTTP), and each later request head of a kept-alive HTTP connection | [`HANDSHAKE_TIMEOUT`] (10 s; the idle timeout when shorter) | the socket is dropped |
//! | HTTP request head | 64 KiB, 96 headers | HTTP 431 |
//! | HTTP request body ([`ServerBuilder::max_http_body`]) | [`DEFAULT_MAX_HTTP_BODY`] (100 MiB) | HTTP 413 with a JSON error, connection closed |
//! | Idle kept-alive HTTP connection | the idle timeout | the socket is closed |
//! | ILP/TCP line ([`ServerBuilder::ilp_tcp_max_line`]) | [`DEFAULT_ILP_TCP_MAX_LINE`] (2 MiB) | connection closed |
//! | Receive buffer ([`ServerBuilder::recv_buffer`]) | 2 MiB | WebSocket close 1009 |
//!
//! Connection threads (and the query runtime's threads) get a
//! [`CONNECTION_STACK_BYTES`] stack, reserved, not committed: the SQL
//! complexity limit keeps DataFusion's planner well inside it. A panic while
//! running a query becomes QUERY_ERROR with INTERNAL_ERROR; a panic anywhere
//! else in a connection closes that connection only and is logged to stderr.
//! `Authorization` schemes match case-insensitively; a request with more
//! than one `Authorization` header is refused with HTTP 400.

mod builder;
mod catalog;
mod checkpoint;
mod dedup;
mod direct;
mod harness;
mod http;
mod http_wire;
mod ilp;
mod ilp_columns;
mod ilp_tcp;
mod ingest;
mod limits;
mod meta;
mod query;
mod result_frames;
mod scan;
mod sql;
pub mod storage;
mod stream;
mod upgrade;
mod wal;
mod wal_op;

pub use builder::{Server, ServerBuilder};
pub use harness::IngestHarness;
pub use http::DEFAULT_MAX_HTTP_BODY;
pub use ilp_tcp::{DEFAULT_ILP_TCP_MAX_LINE, IlpTcpAuth};
pub use limits::{DEFAULT_MAX_SQL_BYTES, MAX_SQL_COMPLEXITY};

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rustls::ServerConfig;
use tungstenite::protocol::frame::CloseFrame;
use tungstenite::protocol::frame::coding::CloseCode;

use crate::error::{Error, ErrorKind, Result};
use crate::protocol::egress::Role;
use storage::Catalog;
pub(crate) use stream::ServerStream;

/// Default receive buffer (QuestDB's `http.recv.buffer.size`): 2 MiB.
pub const DEFAULT_RECV_BUFFER_BYTES: usize = 2 * 1024 * 1024;

/// Stack of each connection thread and of the query runtime's threads:
/// 64 MiB of address space, only reserved. Statements at
/// [`MAX_SQL_COMPLEXITY`] need at most half of it in a debug build.
pub const CONNECTION_STACK_BYTES: usize = 64 * 1024 * 1024;

/// Default for [`ServerBuilder::idle_timeout`]: 5 minutes.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// Longest time a client may take to complete the TLS and HTTP upgrade
/// handshake (the idle timeout when that is shorter).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Stack of a thread that only answers 503 to an upgrade over the limit.
const REJECT_STACK_BYTES: usize = 1024 * 1024;

/// Connections over `max_connections` being answered 503 at once; beyond
/// this the socket is closed without an answer.
const MAX_REJECTING: usize = 64;

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
    /// Refuse every upgrade and every ILP/HTTP write with HTTP 421 and
    /// `X-QuestDB-Role: <role>` (and `X-QuestDB-Zone` when given).
    pub reject_role: Option<(String, Option<String>)>,
    /// Storage failures (with a data directory), each injected while its
    /// flag is set: a failed log write or fsync answers the commit with
    /// `WRITE_ERROR` (after a failed fsync the log refuses every later
    /// write); a failed checkpoint makes commits `WRITE_ERROR` until a
    /// checkpoint succeeds again.
    pub storage: Option<Arc<storage::StorageFaults>>,
    /// Executing exactly this SQL text panics on the connection thread,
    /// outside query execution (stands in for a bug in a handler): the
    /// connection closes, the server lives on.
    pub panic_on_sql: Option<String>,
    /// Registers a volatile SQL function `qa_panic()` that panics when
    /// evaluated (inside DataFusion's execution): the query fails with
    /// INTERNAL_ERROR.
    pub panic_udf: bool,
    /// Answers the next committing ingest frames with this status instead
    /// of committing them, while the counter is above zero (each rejection
    /// takes one): for statuses the server has no other way to produce,
    /// such as INTERNAL_ERROR or SECURITY_ERROR.
    pub reject_commits: Option<Arc<RejectCommits>>,
}

/// See [`Faults::reject_commits`].
#[derive(Debug)]
pub struct RejectCommits {
    /// The status of the rejections.
    pub status: crate::protocol::Status,
    /// How many commits are still to be rejected.
    pub remaining: AtomicUsize,
}

impl RejectCommits {
    /// Rejects the next `n` commits with `status`.
    pub fn new(status: crate::protocol::Status, n: usize) -> Arc<RejectCommits> {
        Arc::new(RejectCommits {
            status,
            remaining: AtomicUsize::new(n),
        })
    }

    /// Takes one rejection, if any is left.
    fn take(&self) -> bool {
        self.remaining
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }
}

/// The tables of a running server, to start more servers on
/// ([`ServerBuilder::shared_storage`]).
#[derive(Clone)]
pub struct SharedStorage(Arc<Catalog>);

impl std::fmt::Debug for SharedStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedStorage").finish_non_exhaustive()
    }
}

pub(crate) struct Shared {
    pub(crate) catalog: Arc<Catalog>,
    /// The current role and its epoch (bumped by every change).
    role: Mutex<(Role, u64)>,
    pub(crate) cfg: ServerBuilder,
    tls: Option<Arc<ServerConfig>>,
    pub(crate) runtime: tokio::runtime::Runtime,
    pub(crate) stop: AtomicBool,
    connections: AtomicUsize,
    workers: Mutex<Vec<JoinHandle<()>>>,
    /// Connection threads within `max_connections`.
    live: AtomicUsize,
    /// Threads answering 503 to connections over `max_connections`.
    rejecting: AtomicUsize,
    /// Queries answered by the fast scan path.
    pub(crate) fast_scans: AtomicU64,
}

impl Shared {
    pub(crate) fn new(
        cfg: ServerBuilder,
        catalog: Arc<Catalog>,
        tls: Option<Arc<ServerConfig>>,
        runtime: tokio::runtime::Runtime,
    ) -> Shared {
        Shared {
            catalog,
            role: Mutex::new((cfg.role, 0)),
            cfg,
            tls,
            runtime,
            stop: AtomicBool::new(false),
            connections: AtomicUsize::new(0),
            workers: Mutex::new(Vec::new()),
            live: AtomicUsize::new(0),
            rejecting: AtomicUsize::new(0),
            fast_scans: AtomicU64::new(0),
        }
    }

    /// The current role and its epoch.
    pub(crate) fn role(&self) -> (Role, u64) {
        *self.role.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether this server takes writes now (not a replica, not a
    /// promotion in progress); the role when it does not.
    pub(crate) fn read_only(&self) -> Option<Role> {
        let (role, _) = self.role();
        matches!(role, Role::Replica | Role::PrimaryCatchup).then_some(role)
    }

    /// How long an upgraded connection may stay silent (`None`: forever).
    pub(crate) fn idle_timeout(&self) -> Option<Duration> {
        self.cfg.idle_timeout
    }

    /// For the read loops' timeout branches: when the connection has been
    /// idle (nothing read or written) for the idle timeout, sends WebSocket
    /// close 1001 and returns the `Closed` error that ends the connection.
    pub(crate) fn close_if_idle(&self, ws: &mut Ws) -> Option<Error> {
        let limit = self.idle_timeout()?;
        if ws.get_ref().last_active.elapsed() < limit {
            return None;
        }
        let _ = ws.close(Some(CloseFrame {
            code: CloseCode::Away,
            reason: format!("idle for {} s", limit.as_secs_f64()).into(),
        }));
        let _ = ws.flush();
        Some(Error::new(
            ErrorKind::Closed,
            format!("connection idle for {limit:?}"),
        ))
    }

    fn handshake_timeout(&self) -> Duration {
        self.idle_timeout()
            .map_or(HANDSHAKE_TIMEOUT, |d| d.min(HANDSHAKE_TIMEOUT))
    }
}

pub(crate) use crate::error::panic_text;

/// A running server. Dropping it stops the server and waits for its
/// connections to end.
pub struct ServerHandle {
    addr: SocketAddr,
    ilp_tcp_addr: Option<SocketAddr>,
    shared: Arc<Shared>,
    acceptors: Vec<JoinHandle<()>>,
}

impl ServerHandle {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The ILP/TCP address, when [`ServerBuilder::ilp_tcp_bind`] was set.
    pub fn ilp_tcp_addr(&self) -> Option<SocketAddr> {
        self.ilp_tcp_addr
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

    /// The tables, to start another server of a cluster on
    /// ([`ServerBuilder::shared_storage`]).
    pub fn storage(&self) -> SharedStorage {
        SharedStorage(self.shared.catalog.clone())
    }

    /// Changes the role (a promotion or a demotion) and bumps the epoch
    /// announced in SERVER_INFO. Ingest connections of a server that
    /// becomes read-only are closed with WebSocket close 1000 before their
    /// next frame (QuestDB's "not writable" signal; clients replay what was
    /// not acknowledged elsewhere), and new ones are refused with HTTP 421.
    pub fn set_role(&self, role: Role) {
        let mut r = self.shared.role.lock().unwrap_or_else(|p| p.into_inner());
        *r = (role, r.1 + 1);
    }

    /// The current role and its epoch (0 at start, +1 per [`set_role`]).
    ///
    /// [`set_role`]: ServerHandle::set_role
    pub fn role(&self) -> (Role, u64) {
        self.shared.role()
    }

    /// Connections accepted so far.
    pub fn connections_accepted(&self) -> usize {
        self.shared.connections.load(Ordering::Relaxed)
    }

    /// Queries answered so far by the fast scan path (plain scans served
    /// from the stored batches, see [`ServerBuilder::fast_scan`]).
    pub fn fast_scans(&self) -> u64 {
        self.shared.fast_scans.load(Ordering::Relaxed)
    }

    /// Connections being served now (within `max_connections`).
    pub fn connections_live(&self) -> usize {
        self.shared.live.load(Ordering::SeqCst)
    }

    /// Stops accepting, closes connections and joins the threads.
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        for a in std::mem::take(&mut self.acceptors) {
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
            Ok((stream, _)) => spawn_connection(&shared, stream),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// Counts a connection thread while it lives, panics included.
struct Counted {
    shared: Arc<Shared>,
    over_limit: bool,
}

impl Counted {
    fn counter(&self) -> &AtomicUsize {
        if self.over_limit {
            &self.shared.rejecting
        } else {
            &self.shared.live
        }
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.counter().fetch_sub(1, Ordering::SeqCst);
    }
}

fn spawn_connection(shared: &Arc<Shared>, stream: TcpStream) {
    let over_limit = shared.live.load(Ordering::SeqCst) >= shared.cfg.max_connections;
    if over_limit && shared.rejecting.load(Ordering::SeqCst) >= MAX_REJECTING {
        // Too many to even answer: close at once.
        return;
    }
    let n = shared.connections.fetch_add(1, Ordering::Relaxed);
    let counted = Counted {
        shared: shared.clone(),
        over_limit,
    };
    counted.counter().fetch_add(1, Ordering::SeqCst);
    let stack = if over_limit {
        REJECT_STACK_BYTES
    } else {
        CONNECTION_STACK_BYTES
    };
    // On a failed spawn the closure, with `counted` and the stream, is dropped.
    let spawned = std::thread::Builder::new()
        .name(format!("qa-server-conn-{n}"))
        .stack_size(stack)
        .spawn(move || {
            let shared = counted.shared.clone();
            let run = AssertUnwindSafe(|| serve_connection(stream, &shared, n, over_limit));
            match std::panic::catch_unwind(run) {
                Ok(Ok(())) => {}
                // Expected on client disconnects; only log oddities.
                Ok(Err(e))
                    if matches!(
                        e.kind(),
                        ErrorKind::Closed | ErrorKind::Io | ErrorKind::Handshake
                    ) => {}
                Ok(Err(e)) => eprintln!("questdb-arrow server: connection {n}: {e}"),
                Err(p) => eprintln!(
                    "questdb-arrow server: connection {n} panicked ({}); closed that connection",
                    panic_text(p.as_ref())
                ),
            }
            drop(counted);
        });
    match spawned {
        Ok(h) => {
            let mut w = shared.workers.lock().unwrap_or_else(|p| p.into_inner());
            w.retain(|h| !h.is_finished());
            w.push(h);
        }
        Err(e) => eprintln!("questdb-arrow server: connection {n}: thread spawn failed: {e}"),
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

fn serve_connection(
    stream: TcpStream,
    shared: &Arc<Shared>,
    n: usize,
    over_limit: bool,
) -> Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_nodelay(true)?;
    // A peer that stops reading for the idle timeout fails our writes.
    stream.set_write_timeout(shared.idle_timeout())?;
    let deadline = Instant::now() + shared.handshake_timeout();
    let stream = ServerStream::accept(stream, shared.tls.as_ref(), deadline)?;
    http::serve(stream, shared, n, over_limit)
}

/// Turns tungstenite errors into crate errors.
/// Reads a message only if it has arrived (or arrives without waiting):
/// a non-blocking read, `Io(WouldBlock)` otherwise (a partly received
/// frame stays buffered for the next read). A socket read timeout cannot
/// serve for this: it is rounded up to the kernel's tick, milliseconds.
pub(crate) fn read_ready(ws: &mut Ws) -> tungstenite::Result<tungstenite::Message> {
    ws.get_ref().tcp().set_nonblocking(true)?;
    let got = ws.read();
    ws.get_ref().tcp().set_nonblocking(false)?;
    got
}

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
