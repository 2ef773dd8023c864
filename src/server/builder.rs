//! The server's settings ([`ServerBuilder`]) and its start.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;

use super::ilp_tcp::{self, DEFAULT_ILP_TCP_MAX_LINE, IlpTcpAuth};
use super::storage::{self, Catalog};
use super::{
    CONNECTION_STACK_BYTES, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_HTTP_BODY, DEFAULT_MAX_SQL_BYTES,
    DEFAULT_RECV_BUFFER_BYTES, Faults, ServerAuth, ServerHandle, Shared, SharedStorage,
    accept_loop,
};
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::egress::Role;

/// Settings of a server; build with [`Server::builder`].
#[derive(Clone, Debug)]
pub struct ServerBuilder {
    pub(super) bind: String,
    pub(super) data_dir: Option<PathBuf>,
    pub(super) auth: Option<ServerAuth>,
    pub(super) tls: Option<(PathBuf, PathBuf)>,
    pub(super) sink: bool,
    pub(super) recv_buffer: usize,
    pub(super) role: Role,
    pub(super) zone: Option<String>,
    pub(super) storage: Option<SharedStorage>,
    pub(super) durable_ack: bool,
    pub(super) max_batch_rows: usize,
    pub(super) fast_scan: bool,
    pub(super) result_timestamps: Option<crate::protocol::TsEncoding>,
    pub(super) dict_cap_entries: usize,
    pub(super) dict_cap_bytes: usize,
    pub(super) faults: Faults,
    pub(super) checkpoint_bytes: u64,
    pub(super) checkpoint_idle: Option<Duration>,
    pub(super) max_pending_bytes: usize,
    pub(super) max_dict_bytes: usize,
    pub(super) query_timeout: Option<Duration>,
    pub(super) max_sql_bytes: usize,
    pub(super) max_connections: usize,
    pub(super) idle_timeout: Option<Duration>,
    pub(super) max_http_body: usize,
    pub(super) ilp_tcp_bind: Option<String>,
    pub(super) ilp_tcp_auth: Option<IlpTcpAuth>,
    pub(super) ilp_tcp_max_line: usize,
}

/// The embedded server.
pub struct Server;

impl Server {
    /// A builder with defaults: bind `127.0.0.1:9000`, in memory, no auth,
    /// no TLS, 2 MiB receive buffer, role STANDALONE, and the limits in the
    /// [module docs](super).
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
            storage: None,
            durable_ack: false,
            max_batch_rows: 10_000,
            fast_scan: true,
            result_timestamps: None,
            dict_cap_entries: 100_000,
            dict_cap_bytes: 8 * 1024 * 1024,
            faults: Faults::default(),
            checkpoint_bytes: storage::DEFAULT_CHECKPOINT_BYTES,
            checkpoint_idle: Some(storage::CHECKPOINT_IDLE),
            max_pending_bytes: 64 * 1024 * 1024,
            max_dict_bytes: 32 * 1024 * 1024,
            query_timeout: None,
            max_sql_bytes: DEFAULT_MAX_SQL_BYTES,
            max_connections: default_max_connections(),
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
            max_http_body: DEFAULT_MAX_HTTP_BODY,
            ilp_tcp_bind: None,
            ilp_tcp_auth: None,
            ilp_tcp_max_line: DEFAULT_ILP_TCP_MAX_LINE,
        }
    }
}

/// 64 connections per core, at least 256.
fn default_max_connections() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores.saturating_mul(64).max(256)
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
    /// many bytes were logged since the last checkpoint (default 512 MiB).
    /// The checkpoint thread runs at the lowest CPU priority; commits wait
    /// while more than four times this much log is not yet checkpointed.
    pub fn checkpoint_bytes(mut self, bytes: u64) -> Self {
        self.checkpoint_bytes = bytes.max(1);
        self
    }
    /// With a data directory: also checkpoint once the log has records and
    /// nothing changed for this long (default 1 s; `None`: by size only).
    pub fn checkpoint_idle(mut self, idle: Option<Duration>) -> Self {
        self.checkpoint_idle = idle;
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
    /// Serve TLS with a PEM certificate chain and private key, on the main
    /// port (WebSocket and ILP/HTTP: `wss::`, `https::`) and on the ILP/TCP
    /// listener when there is one (`tcps::`, see
    /// [`ilp_tcp_bind`](Self::ilp_tcp_bind)); neither then takes plain
    /// connections.
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
    /// Replication role (announced in SERVER_INFO, with the zone when
    /// given; change it while running with [`ServerHandle::set_role`]).
    /// A [`Role::Replica`] refuses ingest upgrades with HTTP 421 and
    /// `X-QuestDB-Role: REPLICA` (and `X-QuestDB-Zone`), as QuestDB's
    /// replicas do, and serves queries; [`Role::PrimaryCatchup`] (a
    /// promotion in progress) refuses ingest the same way, which clients
    /// treat as transient. [`Role::Standalone`] (the default) and
    /// [`Role::Primary`] take both.
    pub fn role(mut self, role: Role, zone: Option<String>) -> Self {
        self.role = role;
        self.zone = zone;
        self
    }
    /// Serve the tables of another server ([`ServerHandle::storage`])
    /// instead of opening storage of its own: the servers of a test
    /// cluster share one storage, which stands in for replication with no
    /// lag (what one acknowledges, the others serve at once). Excludes
    /// [`ServerBuilder::data_dir`] (the storage is already open).
    pub fn shared_storage(mut self, storage: SharedStorage) -> Self {
        self.storage = Some(storage);
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
    /// Default upper bound of rows per RESULT_BATCH (clients may ask for
    /// fewer). Results are cut into frames of this many rows, except
    /// where a stored or computed batch ends: its last rows go out as a
    /// shorter frame of their own when they are at least a quarter of the
    /// bound (no copy), and smaller pieces are joined up to the bound.
    pub fn max_batch_rows(mut self, rows: usize) -> Self {
        self.max_batch_rows = rows.clamp(1, crate::protocol::MAX_ROWS_PER_RESULT_BATCH);
        self
    }
    /// Answer plain scans (`SELECT * | col [AS alias], … FROM t [WHERE
    /// simple] [LIMIT n]`, see the module docs) straight from the stored
    /// batches instead of through DataFusion (default on). The results are
    /// the same either way; off, every query goes through DataFusion (for
    /// comparing both paths). [`ServerHandle::fast_scans`] counts the
    /// queries answered by the fast path.
    pub fn fast_scan(mut self, on: bool) -> Self {
        self.fast_scan = on;
        self
    }
    /// How RESULT_BATCH frames encode TIMESTAMP, TIMESTAMP_NANOS and DATE
    /// columns (every frame has `FLAG_GORILLA`; each such column says
    /// raw or Gorilla in its encoding byte). `None` (the default): to a
    /// client on this host (loopback) that did not ask for zstd, Gorilla
    /// only for a regular cadence, which is cheaper than copying
    /// ([`TsEncoding::Cadence`]; on jittered timestamps Gorilla costs the
    /// server and the client more CPU than the bytes it saves cost over
    /// loopback); to any other client, and under zstd, Gorilla whenever it
    /// is smaller ([`TsEncoding::Auto`]).
    ///
    /// [`TsEncoding::Cadence`]: crate::protocol::TsEncoding::Cadence
    /// [`TsEncoding::Auto`]: crate::protocol::TsEncoding::Auto
    pub fn result_timestamps(mut self, encoding: Option<crate::protocol::TsEncoding>) -> Self {
        self.result_timestamps = encoding;
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
    /// Largest SQL text accepted, in bytes (default
    /// [`DEFAULT_MAX_SQL_BYTES`]); longer text gets PARSE_ERROR.
    pub fn max_sql_bytes(mut self, bytes: usize) -> Self {
        self.max_sql_bytes = bytes.max(1);
        self
    }
    /// Most connections served at once (default 64 × available
    /// parallelism, at least 256); an upgrade beyond it gets HTTP 503.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.max(1);
        self
    }
    /// Close an upgraded connection that has sent and received nothing for
    /// this long (WebSocket close 1001), and bound the upgrade handshake by
    /// it when shorter than [`HANDSHAKE_TIMEOUT`](super::HANDSHAKE_TIMEOUT). `None` or zero disables
    /// the idle check (default [`DEFAULT_IDLE_TIMEOUT`]).
    pub fn idle_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.idle_timeout = timeout.into().filter(|d| !d.is_zero());
        self
    }

    /// Largest HTTP request body (ILP over `POST /write`) accepted, in
    /// bytes (default [`DEFAULT_MAX_HTTP_BODY`], 100 MiB); a larger one is
    /// answered 413 with a JSON error.
    pub fn max_http_body(mut self, bytes: usize) -> Self {
        self.max_http_body = bytes.max(1);
        self
    }
    /// Also take ILP over raw TCP on `addr` (off by default): newline-
    /// delimited lines, committed as they arrive; a bad line closes the
    /// connection (see [`ServerHandle::ilp_tcp_addr`]). With
    /// [`tls`](Self::tls) this listener serves TLS only, with the same
    /// certificate (as QuestDB Enterprise does on its ILP port; clients
    /// connect with `tcps::`), and the [`ilp_tcp_auth`](Self::ilp_tcp_auth)
    /// challenge runs inside the TLS session.
    pub fn ilp_tcp_bind(mut self, addr: impl Into<String>) -> Self {
        self.ilp_tcp_bind = Some(addr.into());
        self
    }
    /// Require QuestDB's ECDSA (P-256) challenge–response on ILP/TCP
    /// connections: the client proves it holds the private key of this
    /// public key (`x`, `y` base64url, as in QuestDB's `auth.txt`).
    pub fn ilp_tcp_auth(
        mut self,
        key_id: impl Into<String>,
        public_x: impl Into<String>,
        public_y: impl Into<String>,
    ) -> Self {
        self.ilp_tcp_auth = Some(IlpTcpAuth {
            key_id: key_id.into(),
            public_x: public_x.into(),
            public_y: public_y.into(),
        });
        self
    }
    /// Longest ILP/TCP line (default [`DEFAULT_ILP_TCP_MAX_LINE`], 2 MiB):
    /// a connection sending a longer one is closed.
    pub fn ilp_tcp_max_line(mut self, bytes: usize) -> Self {
        self.ilp_tcp_max_line = bytes.max(1024);
        self
    }

    /// Starts listening and serving in background threads.
    pub fn start(self) -> Result<ServerHandle> {
        let listener = TcpListener::bind(&self.bind)
            .map_err(|e| Error::from(e).context(format!("bind {}", self.bind)))?;
        let addr = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        if let Some(a) = &self.ilp_tcp_auth {
            a.point()?;
        }
        let ilp_listener = match &self.ilp_tcp_bind {
            Some(b) => {
                let l = TcpListener::bind(b)
                    .map_err(|e| Error::from(e).context(format!("ilp_tcp_bind {b}")))?;
                l.set_nonblocking(true)?;
                Some(l)
            }
            None => None,
        };
        let ilp_tcp_addr = match &ilp_listener {
            Some(l) => Some(l.local_addr()?),
            None => None,
        };
        let tls = match &self.tls {
            Some((cert, key)) => Some(tls_config(cert, key)?),
            None => None,
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("qa-server-sql")
            .thread_stack_size(CONNECTION_STACK_BYTES)
            .enable_all()
            .build()
            .map_err(|e| Error::new(ErrorKind::Io, format!("tokio runtime: {e}")))?;
        let catalog = match (&self.storage, &self.data_dir) {
            (Some(_), Some(dir)) => {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!(
                        "data_dir {} and shared_storage exclude each other: a shared storage is already open",
                        dir.display()
                    ),
                ));
            }
            (Some(s), None) => s.0.clone(),
            (None, _) => Arc::new(Catalog::open_with(
                self.data_dir.clone(),
                storage::StorageOptions {
                    checkpoint_bytes: self.checkpoint_bytes,
                    checkpoint_idle: self.checkpoint_idle,
                    faults: self.faults.storage.clone(),
                },
            )?),
        };
        let shared = Arc::new(Shared::new(self, catalog, tls, runtime));
        let s2 = shared.clone();
        let acceptor = std::thread::Builder::new()
            .name("qa-server-accept".into())
            .spawn(move || accept_loop(listener, s2))?;
        let mut acceptors = vec![acceptor];
        if let Some(l) = ilp_listener {
            let s3 = shared.clone();
            acceptors.push(
                std::thread::Builder::new()
                    .name("qa-server-ilp-accept".into())
                    .spawn(move || ilp_tcp::accept_loop(l, s3))?,
            );
        }
        Ok(ServerHandle {
            addr,
            ilp_tcp_addr,
            shared,
            acceptors,
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
