//! Connect strings: parsing, validation and rendering of `ws::` / `wss::`
//! (QWP over WebSocket) and `http::` / `https::` / `tcp::` / `tcps::` (ILP)
//! configuration strings.
//!
#![doc = include_str!("../../docs/connect-string.md")]
//!
//! # Example
//!
//! ```
//! use questdb_arrow::conf::{Conf, Compression, Scheme};
//! # fn main() -> questdb_arrow::Result<()> {
//! let conf = Conf::parse("wss::addr=db1:9000,db2;password=p;;w;compression=zstd;")?;
//! assert_eq!(conf.scheme(), Scheme::Wss);
//! assert_eq!(conf.addrs()[1].to_string(), "db2:9000");
//! assert_eq!(conf.password(), Some("p;w"));
//! assert_eq!(conf.compression(), Compression::Zstd);
//! assert_eq!(Conf::parse(&conf.to_conf_string())?, conf);
//!
//! // The same, built in code through the same key table.
//! let built = Conf::new(Scheme::Wss, Vec::new())
//!     .with("addr", "db1:9000,db2")?
//!     .with("password", "p;w")?
//!     .with("compression", "zstd")?;
//! assert_eq!(built, conf);
//! # Ok(())
//! # }
//! ```

mod access;
#[cfg(test)]
mod doc_table;
mod entry;
mod grammar;
mod ilp;
mod keys;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_ilp;
#[cfg(test)]
mod tests_keys;
mod values;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use grammar::{GIB, KIB, MIB};

use crate::{Error, ErrorKind, Result};

pub use values::{
    Addr, Compression, DEFAULT_PORT, DEFAULT_TCP_PORT, ErrorPolicy, InitialConnectRetry, PoolReap,
    ProtocolVersion, Scheme, SfDurability, Target, TlsCa, TlsVerify, Transport,
};

/// The environment variable read by [`Conf::from_env`].
pub const ENV_VAR: &str = "QDB_CLIENT_CONF";

/// Shown instead of secret values in errors and `Debug` output.
const REDACTED: &str = "<redacted>";

/// A parsed connect string: every key, typed, with its default.
///
/// Read it through its accessors ([`Conf::addrs`], [`Conf::compression`],
/// ...: one per honoured key) and change it with [`Conf::set`] or
/// [`Conf::with`], which go through the same key table as [`Conf::parse`].
///
/// `Debug` redacts `password`, `token` and `tls_roots_password`;
/// [`Conf::to_conf_string`] does not (it must round-trip).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Conf {
    /// The scheme; [`Scheme::Wss`] means TLS.
    scheme: Scheme,
    /// Endpoints in the order given (`addr`), never empty after parsing.
    addrs: Vec<Addr>,

    /// HTTP basic-auth user name (`username`, alias `user`).
    username: Option<String>,
    /// HTTP basic-auth password (`password`, alias `pass`).
    password: Option<String>,
    /// Bearer token (`token`); excludes `username`/`password`.
    token: Option<String>,
    /// Bound on the upgrade and auth phase per host (`auth_timeout_ms`).
    auth_timeout: Duration,
    /// Bound on each TCP connect (`connect_timeout`); `None` = OS default.
    connect_timeout: Option<Duration>,

    /// Certificate verification (`tls_verify`).
    tls_verify: TlsVerify,
    /// Root store when `tls_roots` is unset (`tls_ca`).
    tls_ca: TlsCa,
    /// Roots file: PEM, or a JKS/PKCS#12 keystore (`tls_roots`).
    tls_roots: Option<PathBuf>,
    /// Keystore password for `tls_roots` (`tls_roots_password`).
    tls_roots_password: Option<String>,

    /// Automatic flushing on or off (`auto_flush`).
    auto_flush: bool,
    /// Flush after this many rows (`auto_flush_rows`); `None` = off.
    auto_flush_rows: Option<u64>,
    /// Flush when this much time passed (`auto_flush_interval`); `None` = off.
    auto_flush_interval: Option<Duration>,
    /// Flush at this many buffered bytes (`auto_flush_bytes`); `None` = off.
    auto_flush_bytes: Option<u64>,
    /// Initial buffer capacity in bytes (`init_buf_size`).
    init_buf_size: u64,
    /// Largest buffer in bytes (`max_buf_size`).
    max_buf_size: u64,
    /// Longest table or column name in bytes (`max_name_len`).
    max_name_len: usize,
    /// Largest UDP datagram (`max_datagram_size`); unused over WebSocket.
    max_datagram_size: Option<u64>,

    /// Store-and-forward directory (`sf_dir`); `None` = memory mode.
    sf_dir: Option<PathBuf>,
    /// Slot name under `sf_dir` (`sender_id`).
    sender_id: String,
    /// Segment-file durability (`sf_durability`).
    sf_durability: SfDurability,
    /// `fsync` interval with [`SfDurability::Periodic`]
    /// (`sf_sync_interval_millis`).
    sf_sync_interval: Duration,
    /// Size of one segment file (`sf_max_segment_bytes`).
    sf_max_segment_bytes: u64,
    /// Cap on unacknowledged bytes per slot (`sf_max_total_bytes`); `None` =
    /// the mode's default, see [`Conf::sf_max_total_bytes_or_default`].
    sf_max_total_bytes: Option<u64>,
    /// How long `append()` blocks at the cap (`sf_append_deadline_millis`).
    sf_append_deadline: Duration,
    /// Drain orphaned slots under `sf_dir` (`drain_orphans`).
    drain_orphans: bool,
    /// Parallel orphan drainers (`max_background_drainers`).
    max_background_drainers: u32,
    /// `catch_up_cap_gap_min_escalation_window_millis`.
    catch_up_cap_gap_min_escalation_window: Duration,
    /// `transaction` (on/off).
    transaction: bool,

    /// First reconnect backoff (`reconnect_initial_backoff_millis`).
    reconnect_initial_backoff: Duration,
    /// Backoff cap (`reconnect_max_backoff_millis`).
    reconnect_max_backoff: Duration,
    /// Bound on the blocking initial connect
    /// (`reconnect_max_duration_millis`).
    reconnect_max_duration: Duration,
    /// Initial connect mode, already resolved (`initial_connect_retry`;
    /// unset with any `reconnect_*` key set gives [`InitialConnectRetry::Sync`]).
    initial_connect_retry: InitialConnectRetry,
    /// Wait for acks on close (`close_flush_timeout_millis`); zero = fast
    /// close.
    close_flush_timeout: Duration,
    /// Ask for durable acks (`request_durable_ack`).
    request_durable_ack: bool,
    /// Keepalive PING cadence while waiting for durable acks
    /// (`durable_ack_keepalive_interval_millis`); `None` = disabled.
    durable_ack_keepalive_interval: Option<Duration>,

    /// Async error inbox size (`error_inbox_capacity`), ≥ 16.
    error_inbox_capacity: usize,
    /// Connection-listener inbox size (`connection_listener_inbox_capacity`).
    connection_listener_inbox_capacity: usize,
    /// Default server-error policy (`on_server_error`).
    on_server_error: ErrorPolicy,
    /// Policy for schema errors (`on_schema_error`).
    on_schema_error: ErrorPolicy,
    /// Policy for parse errors (`on_parse_error`).
    on_parse_error: ErrorPolicy,
    /// Policy for internal errors (`on_internal_error`).
    on_internal_error: ErrorPolicy,
    /// Policy for security errors (`on_security_error`).
    on_security_error: ErrorPolicy,
    /// Policy for write errors (`on_write_error`).
    on_write_error: ErrorPolicy,
    /// Poison-frame threshold (`max_frame_rejections`), ≥ 1.
    max_frame_rejections: u32,
    /// `poison_min_escalation_window_millis`.
    poison_min_escalation_window: Duration,

    /// Role filter of the query client (`target`).
    target: Target,
    /// Preferred zone, matched case-insensitively (`zone`).
    zone: Option<String>,
    /// Query failover (`failover`).
    failover: bool,
    /// Attempts per query, counting the first (`failover_max_attempts`).
    failover_max_attempts: u32,
    /// First failover backoff (`failover_backoff_initial_ms`).
    failover_backoff_initial: Duration,
    /// Failover backoff cap (`failover_backoff_max_ms`).
    failover_backoff_max: Duration,
    /// Failover time budget (`failover_max_duration_ms`); `None` = unbounded.
    failover_max_duration: Option<Duration>,
    /// Result compression (`compression`).
    compression: Compression,
    /// zstd level, 1–22 (`compression_level`).
    compression_level: i32,
    /// Initial byte credit per query; 0 = unbounded (`initial_credit`).
    initial_credit: u64,
    /// Rows per result batch (`max_batch_rows`); `None` = server default.
    max_batch_rows: Option<u32>,
    /// `X-QWP-Client-Id` (`client_id`); `None` = this crate's default.
    client_id: Option<String>,
    /// Bound on the close-path drain (`query_close_timeout_ms`).
    query_close_timeout: Duration,
    /// Decoded-batch buffers (`buffer_pool_size`), ≥ 1.
    buffer_pool_size: usize,

    /// Facade: senders kept open (`sender_pool_min`).
    sender_pool_min: usize,
    /// Facade: most senders (`sender_pool_max`).
    sender_pool_max: usize,
    /// Facade: query clients kept open (`query_pool_min`).
    query_pool_min: usize,
    /// Facade: most query clients (`query_pool_max`).
    query_pool_max: usize,
    /// Facade: wait for a pooled connection (`acquire_timeout_ms`).
    acquire_timeout: Option<Duration>,
    /// Facade: close idle connections after (`idle_timeout_ms`); `None` =
    /// never.
    idle_timeout: Option<Duration>,
    /// Facade: replace connections older than (`max_lifetime_ms`); `None` =
    /// never.
    max_lifetime: Option<Duration>,
    /// Facade: housekeeping cadence (`housekeeper_interval_ms`).
    housekeeper_interval: Duration,
    /// Facade: connect on first use (`lazy_connect`).
    lazy_connect: bool,
    /// Facade: who closes idle connections (`pool_reap`).
    pool_reap: PoolReap,

    /// ILP version (`protocol_version`); `auto` on HTTP, `1` on TCP.
    protocol_version: ProtocolVersion,
    /// HTTP retry budget (`retry_timeout`); zero = no retry.
    retry_timeout: Duration,
    /// HTTP request timeout before the body allowance (`request_timeout`).
    request_timeout: Duration,
    /// Bytes/s allowed for the body (`request_min_throughput`); 0 = none.
    request_min_throughput: u64,
    /// Local address of the TCP connection (`bind_interface`).
    bind_interface: Option<std::net::IpAddr>,
    /// ECDSA public key x, base64url (`token_x`).
    token_x: Option<String>,
    /// ECDSA public key y, base64url (`token_y`).
    token_y: Option<String>,
}

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Largest accepted `max_batch_rows`.
pub const MAX_BATCH_ROWS_LIMIT: u32 = 1_048_576;

impl Conf {
    /// A configuration with every key at its default.
    ///
    /// `addrs` should not be empty; [`Conf::validate`] checks it.
    pub fn new(scheme: Scheme, addrs: Vec<Addr>) -> Conf {
        Conf {
            scheme,
            addrs,
            username: None,
            password: None,
            token: None,
            auth_timeout: ms(15_000),
            connect_timeout: None,
            tls_verify: TlsVerify::On,
            tls_ca: TlsCa::WebpkiRoots,
            tls_roots: None,
            tls_roots_password: None,
            auto_flush: true,
            auto_flush_rows: Some(1000),
            auto_flush_interval: Some(ms(100)),
            auto_flush_bytes: None,
            init_buf_size: 64 * KIB,
            max_buf_size: 100 * MIB,
            max_name_len: 127,
            max_datagram_size: None,
            sf_dir: None,
            sender_id: "default".to_owned(),
            sf_durability: SfDurability::Memory,
            sf_sync_interval: ms(5_000),
            sf_max_segment_bytes: 64 * MIB,
            sf_max_total_bytes: None,
            sf_append_deadline: ms(30_000),
            drain_orphans: false,
            max_background_drainers: 4,
            catch_up_cap_gap_min_escalation_window: ms(300_000),
            transaction: false,
            reconnect_initial_backoff: ms(100),
            reconnect_max_backoff: ms(5_000),
            reconnect_max_duration: ms(300_000),
            initial_connect_retry: InitialConnectRetry::Off,
            close_flush_timeout: ms(5_000),
            request_durable_ack: false,
            durable_ack_keepalive_interval: Some(ms(200)),
            error_inbox_capacity: 256,
            connection_listener_inbox_capacity: 64,
            on_server_error: ErrorPolicy::Auto,
            on_schema_error: ErrorPolicy::Auto,
            on_parse_error: ErrorPolicy::Auto,
            on_internal_error: ErrorPolicy::Auto,
            on_security_error: ErrorPolicy::Auto,
            on_write_error: ErrorPolicy::Auto,
            max_frame_rejections: 4,
            poison_min_escalation_window: ms(5_000),
            target: Target::Any,
            zone: None,
            failover: true,
            failover_max_attempts: 8,
            failover_backoff_initial: ms(50),
            failover_backoff_max: ms(1_000),
            failover_max_duration: Some(ms(30_000)),
            compression: Compression::Raw,
            compression_level: 1,
            initial_credit: 0,
            max_batch_rows: None,
            client_id: None,
            query_close_timeout: ms(5_000),
            buffer_pool_size: 4,
            sender_pool_min: 1,
            sender_pool_max: 64,
            query_pool_min: 1,
            query_pool_max: 64,
            acquire_timeout: None,
            idle_timeout: Some(ms(60_000)),
            max_lifetime: Some(ms(1_800_000)),
            housekeeper_interval: ms(5_000),
            lazy_connect: false,
            pool_reap: PoolReap::Auto,
            protocol_version: match scheme.transport() {
                Transport::Tcp => ProtocolVersion::V1,
                _ => ProtocolVersion::Auto,
            },
            retry_timeout: ms(10_000),
            request_timeout: ms(10_000),
            request_min_throughput: 100 * KIB,
            bind_interface: None,
            token_x: None,
            token_y: None,
        }
    }

    /// Parses a connect string such as `ws::addr=localhost:9000;`.
    ///
    /// A key this version does not act on (*refused* in the key table) is
    /// an error naming it, never a setting silently ignored.
    pub fn parse(s: &str) -> Result<Conf> {
        Conf::parse_values(s, true)
    }

    /// [`Conf::parse`] with every check on values but, when `refuse` is
    /// false, none on refused keys: the tests use it to reach the value
    /// parsers of refused keys.
    fn parse_values(s: &str, refuse: bool) -> Result<Conf> {
        let (scheme_str, rest) = s.split_once("::").ok_or_else(|| {
            Error::new(
                ErrorKind::Config,
                "missing `::` after the scheme (expected e.g. `ws::addr=localhost:9000;`)",
            )
        })?;
        let scheme = grammar::parse_scheme(scheme_str)?;
        let pairs = grammar::split_pairs(rest, scheme_str.len() + 2)?;

        let mut conf = Conf::new(scheme, Vec::new());
        // Canonical key -> (spelling used, value as given, redacted for
        // secrets).
        let mut seen: HashMap<&'static str, (&str, String)> = HashMap::new();

        for (key, value) in &pairs {
            let (key, value) = (key.as_str(), value.as_str());
            let entry = entry_for(key, refuse.then_some(scheme))?;
            let shown = if entry.secret { REDACTED } else { value };
            // The canonical keys it sets: its own, and for `pool_size` and
            // `pool_max` the per-kind keys.
            let sets = std::iter::once(entry.name).chain(entry.covers.iter().copied());
            for set in sets.clone().filter(|_| !entry.repeatable) {
                let Some((prev, _)) = seen.get(set) else {
                    continue;
                };
                let why = if *prev == key {
                    format!("key `{key}` is given more than once")
                } else {
                    format!("key `{key}` duplicates `{prev}` (both set `{set}`)")
                };
                return Err(Error::config(key, shown, why));
            }
            for set in sets {
                seen.insert(set, (key, shown.to_owned()));
            }
            (entry.apply)(&mut conf, key, value)?;
        }

        if conf.addrs.is_empty() {
            return Err(Error::new(
                ErrorKind::Config,
                "missing required key `addr` (e.g. `ws::addr=localhost:9000;`)",
            ));
        }
        if let Some((_, v)) = seen.get("sf_sync_interval_millis")
            && conf.sf_durability != SfDurability::Periodic
        {
            return Err(Error::config(
                "sf_sync_interval_millis",
                v,
                "requires sf_durability=periodic",
            ));
        }
        if seen.get("tls_ca").is_some_and(|(_, v)| v == "pem_file") && conf.tls_roots.is_none() {
            return Err(Error::config("tls_ca", "pem_file", "requires tls_roots"));
        }
        // As QuestDB's clients: asking for reconnects asks for a retried
        // first connect too, unless said otherwise.
        if !seen.contains_key("initial_connect_retry")
            && seen.keys().any(|k| k.starts_with("reconnect_"))
        {
            conf.initial_connect_retry = InitialConnectRetry::Sync;
        }
        conf.check_values()?;
        Ok(conf)
    }

    /// Parses the connect string in the `QDB_CLIENT_CONF` environment
    /// variable ([`ENV_VAR`]).
    pub fn from_env() -> Result<Conf> {
        Conf::from_env_value(ENV_VAR, std::env::var(ENV_VAR))
    }

    /// [`Conf::from_env`] on an already looked-up variable (tests use it
    /// without touching the process environment).
    fn from_env_value(
        name: &str,
        value: std::result::Result<String, std::env::VarError>,
    ) -> Result<Conf> {
        match value {
            Ok(s) => Conf::parse(&s).map_err(|e| e.context(format!("environment variable {name}"))),
            Err(std::env::VarError::NotPresent) => Err(Error::new(
                ErrorKind::Config,
                format!(
                    "environment variable {name} is not set (expected a connect string such as `ws::addr=localhost:9000;`)"
                ),
            )),
            Err(std::env::VarError::NotUnicode(_)) => Err(Error::new(
                ErrorKind::Config,
                format!("environment variable {name} is not valid UTF-8"),
            )),
        }
    }

    /// The port used for `addr` entries without one.
    pub fn default_port(scheme: Scheme) -> u16 {
        scheme.default_port()
    }

    /// `sf_max_total_bytes`, or its default: 10 GiB with `sf_dir`, else
    /// 128 MiB.
    pub(crate) fn sf_max_total_bytes_or_default(&self) -> u64 {
        self.sf_max_total_bytes.unwrap_or(if self.sf_dir.is_some() {
            10 * GIB
        } else {
            128 * MIB
        })
    }

    /// Checks ranges and combinations of keys, and that no field of a key
    /// this version refuses differs from its default. [`Conf::parse`] calls
    /// it; call it yourself after changing fields.
    pub fn validate(&self) -> Result<()> {
        self.check_values()?;
        self.check_honoured()
    }

    /// Fails on the first refused key, or key the scheme's transport does
    /// not honour, whose field is not at its default.
    fn check_honoured(&self) -> Result<()> {
        let d = Conf::new(self.scheme, Vec::new());
        let t = self.scheme.transport();
        for k in keys::KEYS {
            if (k.write)(self, &d).is_none() {
                continue;
            }
            if let entry::Status::Refused(why) = k.status {
                return Err(refused(k.name, why));
            }
            if !k.serves(t) {
                return Err(k.wrong_transport(k.name, self.scheme.as_str(), t));
            }
        }
        Ok(())
    }

    /// The range and combination checks of [`Conf::validate`].
    fn check_values(&self) -> Result<()> {
        fn err(key: &str, value: impl fmt::Display, why: &str) -> Result<()> {
            Err(Error::config(key, &value.to_string(), why))
        }
        if self.addrs.is_empty() {
            return Err(Error::new(
                ErrorKind::Config,
                "missing required key `addr` (e.g. `ws::addr=localhost:9000;`)",
            ));
        }
        let mut seen = HashSet::new();
        for a in &self.addrs {
            if a.host.is_empty() || a.port == 0 {
                return err("addr", a, "empty host or zero port");
            }
            if !seen.insert(a.dedup_key()) {
                return err("addr", a, &format!("duplicate addr entry: {a}"));
            }
        }
        // Over TCP, `username` and `token` are the two halves of an ECDSA
        // key (`check_ilp`).
        if self.scheme.transport() != Transport::Tcp
            && self.token.is_some()
            && (self.username.is_some() || self.password.is_some())
        {
            return err(
                "token",
                REDACTED,
                "cannot be combined with username/password (choose one way to authenticate)",
            );
        }
        if let Some(roots) = &self.tls_roots {
            if self.tls_verify == TlsVerify::UnsafeOff {
                return err(
                    "tls_roots",
                    roots.display(),
                    "cannot be combined with tls_verify=unsafe_off",
                );
            }
        } else if self.tls_roots_password.is_some() {
            return err("tls_roots_password", REDACTED, "requires tls_roots");
        }
        if self.connect_timeout == Some(Duration::ZERO) {
            return err("connect_timeout", 0, "must be greater than 0");
        }
        if self.auto_flush_rows == Some(0) {
            return err("auto_flush_rows", 0, "must be at least 1 (or `off`)");
        }
        if self.auto_flush_interval == Some(Duration::ZERO) {
            return err(
                "auto_flush_interval",
                0,
                "must be greater than 0 (or `off`)",
            );
        }
        if self.auto_flush_bytes == Some(0) {
            return err("auto_flush_bytes", 0, "must be greater than 0 (or `off`)");
        }
        if self.max_buf_size == 0 {
            return err("max_buf_size", 0, "must be greater than 0");
        }
        if self.init_buf_size > self.max_buf_size {
            return err(
                "init_buf_size",
                self.init_buf_size,
                &format!("must not exceed max_buf_size ({})", self.max_buf_size),
            );
        }
        if self.max_name_len == 0 {
            return err("max_name_len", 0, "must be at least 1");
        }
        if self.max_datagram_size == Some(0) {
            return err("max_datagram_size", 0, "must be greater than 0");
        }
        if self.sender_id.is_empty()
            || !self
                .sender_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return err(
                "sender_id",
                &self.sender_id,
                "may contain only ASCII letters, digits, `_` and `-`",
            );
        }
        if self.sf_durability == SfDurability::Periodic && self.sf_dir.is_none() {
            return err("sf_durability", "periodic", "requires sf_dir");
        }
        if self.sf_sync_interval.is_zero() {
            return err("sf_sync_interval_millis", 0, "must be greater than 0");
        }
        if self.sf_max_segment_bytes == 0 {
            return err("sf_max_segment_bytes", 0, "must be greater than 0");
        }
        if self.sf_max_total_bytes == Some(0) {
            return err("sf_max_total_bytes", 0, "must be greater than 0");
        }
        if self.error_inbox_capacity < 16 {
            return err(
                "error_inbox_capacity",
                self.error_inbox_capacity,
                "must be at least 16",
            );
        }
        if self.connection_listener_inbox_capacity < 1 {
            return err(
                "connection_listener_inbox_capacity",
                0,
                "must be at least 1",
            );
        }
        if self.max_frame_rejections < 1 {
            return err("max_frame_rejections", 0, "must be at least 1");
        }
        if self.failover_max_attempts < 1 {
            return err("failover_max_attempts", 0, "must be at least 1");
        }
        if !(1..=22).contains(&self.compression_level) {
            return err(
                "compression_level",
                self.compression_level,
                "must be between 1 and 22",
            );
        }
        if let Some(n) = self.max_batch_rows
            && !(1..=MAX_BATCH_ROWS_LIMIT).contains(&n)
        {
            return err("max_batch_rows", n, "must be between 1 and 1048576");
        }
        if self.query_close_timeout.is_zero() {
            return err("query_close_timeout_ms", 0, "must be greater than 0");
        }
        if self.buffer_pool_size < 1 {
            return err("buffer_pool_size", 0, "must be at least 1");
        }
        for (min_key, min, max_key, max) in [
            (
                "sender_pool_min",
                self.sender_pool_min,
                "sender_pool_max",
                self.sender_pool_max,
            ),
            (
                "query_pool_min",
                self.query_pool_min,
                "query_pool_max",
                self.query_pool_max,
            ),
        ] {
            if max < 1 {
                return err(max_key, max, "must be at least 1");
            }
            if min > max {
                return err(min_key, min, &format!("must not exceed {max_key} ({max})"));
            }
        }
        if self.housekeeper_interval.is_zero() {
            return err("housekeeper_interval_ms", 0, "must be greater than 0");
        }
        self.check_ilp()?;
        for (key, v) in [
            ("username", &self.username),
            ("zone", &self.zone),
            ("client_id", &self.client_id),
        ] {
            if v.as_deref() == Some("") {
                return err(key, "", "value must not be empty");
            }
        }
        Ok(())
    }

    /// Renders the configuration as a connect string that [`Conf::parse`]
    /// turns back into an equal `Conf`. Only keys that differ from their
    /// defaults are written. Contains secrets in clear text.
    pub fn to_conf_string(&self) -> String {
        let d = Conf::new(self.scheme, Vec::new());
        let mut out = format!("{}::", self.scheme);
        for k in keys::KEYS {
            if let Some(v) = (k.write)(self, &d) {
                grammar::push_pair(&mut out, k.name, &v);
            }
        }
        out
    }
}

/// The error for a refused key, as spelled by the user.
fn refused(key: &str, why: &str) -> Error {
    Error::new(ErrorKind::Config, format!("`{key}`: {why}"))
}

/// The table entry of `key`; an error if it is unknown, or (with
/// `refuse`, the scheme of the connect string) refused or not honoured by
/// the scheme's transport.
fn entry_for(key: &str, refuse: Option<Scheme>) -> Result<&'static entry::Key> {
    let entry = keys::lookup(key)
        .ok_or_else(|| Error::new(ErrorKind::Config, format!("unknown key `{key}`")))?;
    let Some(scheme) = refuse else {
        return Ok(entry);
    };
    match entry.status {
        entry::Status::Refused(why) => Err(refused(key, why)),
        _ if !entry.serves(scheme.transport()) => {
            Err(entry.wrong_transport(key, scheme.as_str(), scheme.transport()))
        }
        _ => Ok(entry),
    }
}

impl FromStr for Conf {
    type Err = Error;

    fn from_str(s: &str) -> Result<Conf> {
        Conf::parse(s)
    }
}

impl fmt::Debug for Conf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        macro_rules! debug_fields {
            ($($field:ident),* ; secrets: $($secret:ident),*) => {{
                // Destructure so that a new field cannot be forgotten here.
                let Conf { $($field,)* $($secret,)* } = self;
                let mut d = f.debug_struct("Conf");
                $( d.field(stringify!($field), $field); )*
                $( d.field(stringify!($secret), &$secret.as_ref().map(|_| REDACTED)); )*
                d.finish()
            }};
        }
        debug_fields!(
            scheme, addrs, username, auth_timeout, connect_timeout, tls_verify, tls_ca,
            tls_roots, auto_flush, auto_flush_rows, auto_flush_interval, auto_flush_bytes,
            init_buf_size, max_buf_size, max_name_len, max_datagram_size, sf_dir, sender_id,
            sf_durability, sf_sync_interval, sf_max_segment_bytes, sf_max_total_bytes,
            sf_append_deadline, drain_orphans, max_background_drainers,
            catch_up_cap_gap_min_escalation_window, transaction, reconnect_initial_backoff,
            reconnect_max_backoff, reconnect_max_duration, initial_connect_retry,
            close_flush_timeout, request_durable_ack, durable_ack_keepalive_interval,
            error_inbox_capacity, connection_listener_inbox_capacity, on_server_error,
            on_schema_error, on_parse_error, on_internal_error, on_security_error,
            on_write_error, max_frame_rejections, poison_min_escalation_window, target, zone,
            failover, failover_max_attempts, failover_backoff_initial, failover_backoff_max,
            failover_max_duration, compression, compression_level, initial_credit,
            max_batch_rows, client_id, query_close_timeout, buffer_pool_size, sender_pool_min,
            sender_pool_max, query_pool_min, query_pool_max, acquire_timeout, idle_timeout,
            max_lifetime, housekeeper_interval, lazy_connect, pool_reap, protocol_version,
            retry_timeout, request_timeout, request_min_throughput, bind_interface;
            secrets: password, token, tls_roots_password, token_x, token_y
        )
    }
}
