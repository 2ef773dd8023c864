//! Connect strings: one `ws::` or `wss::` string configures ingestion, queries
//! and the pooled facade.
//!
//! ```text
//! wss::addr=db1.example.com:9000,db2.example.com;username=admin;password=p;;w;compression=zstd;
//! ```
//!
//! The grammar is `<scheme>::<key>=<value>;<key>=<value>;...`:
//!
//! - the trailing `;` is optional;
//! - a literal `;` inside a value is written `;;` (a value ending in `;` is
//!   therefore written `…;;;`, or `…;;` at the very end of the string);
//! - keys are ASCII letters, digits and `_`, and are case-sensitive;
//! - values may not contain control characters (U+0000–U+001F,
//!   U+007F–U+009F) and may not be empty;
//! - every key except `addr` may appear only once, and unknown keys are errors.
//!
//! Schemes: `ws` / `qwpws` (plain) and `wss` / `qwpwss` (TLS), both with
//! default port 9000. `http`, `https`, `tcp`, `tcps` and `udp` are recognised
//! but not supported by this crate.
//!
//! Size values take an optional case-insensitive, 1024-based suffix: `k`/`kb`,
//! `m`/`mb`, `g`/`gb`, `t`/`tb`. Durations are integer milliseconds.
//!
//! | Key | Default | Notes |
//! |---|---|---|
//! | `addr` | **required** | `host[:port]`, comma-separated and/or repeated; `[v6]:port` |
//! | `username` (`user`), `password` (`pass`) | unset | HTTP basic auth |
//! | `token` | unset | bearer token; excludes username/password |
//! | `auth_timeout_ms` | 15000 | upgrade/auth phase, per host |
//! | `connect_timeout` | unset | TCP connect per endpoint, ms, > 0 |
//! | `tls_verify` | `on` | `on` / `unsafe_off` |
//! | `tls_ca` | `webpki_roots` | `webpki_roots` / `os_roots` / `webpki_and_os_roots` (`pem_file` with `tls_roots`) |
//! | `tls_roots` | unset | PEM / keystore path; not with `tls_verify=unsafe_off` |
//! | `tls_roots_password` | unset | keystore password; needs `tls_roots` |
//! | `auto_flush` | `on` | `on` / `off` |
//! | `auto_flush_rows` | 1000 | int ≥ 1 or `off` |
//! | `auto_flush_interval` | 100 | ms > 0 or `off` |
//! | `auto_flush_bytes` | `off` | size or `off` (`0` = off) |
//! | `init_buf_size` | 64k | size, ≤ `max_buf_size` |
//! | `max_buf_size` | 100m | size |
//! | `max_name_len` | 127 | int ≥ 1 |
//! | `max_datagram_size` | unset | size (UDP only; accepted, unused) |
//! | `sf_dir` | unset | enables store-and-forward |
//! | `sender_id` | `default` | `[A-Za-z0-9_-]` |
//! | `sf_durability` | `memory` | `memory` / `periodic` (needs `sf_dir`) |
//! | `sf_sync_interval_millis` | 5000 | only with `sf_durability=periodic` |
//! | `sf_max_segment_bytes` | 4m | size |
//! | `sf_max_total_bytes` | 10g with `sf_dir`, else 128m | size |
//! | `sf_append_deadline_millis` | 30000 | |
//! | `drain_orphans` | `off` | |
//! | `max_background_drainers` | 4 | |
//! | `catch_up_cap_gap_min_escalation_window_millis` | 300000 | |
//! | `transaction` | `off` | |
//! | `reconnect_initial_backoff_millis` | 100 | setting any `reconnect_*` key promotes `initial_connect_retry` to `sync` unless set |
//! | `reconnect_max_backoff_millis` | 5000 | |
//! | `reconnect_max_duration_millis` | 300000 | bounds the blocking initial connect |
//! | `initial_connect_retry` | `off` | `off`/`false`, `on`/`true`/`sync`, `async` |
//! | `close_flush_timeout_millis` | 5000 | `0` or negative = fast close |
//! | `request_durable_ack` | `off` | |
//! | `durable_ack_keepalive_interval_millis` | 200 | `≤ 0` disables |
//! | `error_inbox_capacity` | 256 | ≥ 16 |
//! | `connection_listener_inbox_capacity` | 64 | ≥ 1 |
//! | `on_server_error` | `auto` | `auto` / `terminal` / `retriable` / `retriable_other` |
//! | `on_schema_error`, `on_parse_error`, `on_security_error` | `terminal` | same values |
//! | `on_internal_error`, `on_write_error` | `retriable` | same values |
//! | `max_frame_rejections` | 4 | ≥ 1 |
//! | `poison_min_escalation_window_millis` | 5000 | |
//! | `target` | `any` | `any` / `primary` / `replica` |
//! | `zone` | unset | |
//! | `failover` | `on` | |
//! | `failover_max_attempts` | 8 | ≥ 1, counts the original attempt |
//! | `failover_backoff_initial_ms` | 50 | |
//! | `failover_backoff_max_ms` | 1000 | |
//! | `failover_max_duration_ms` | 30000 | `0` = unbounded |
//! | `compression` | `raw` | `raw` / `zstd` / `auto` |
//! | `compression_level` | 1 | 1–22 |
//! | `initial_credit` | 0 (unbounded) | bytes (size suffixes allowed) |
//! | `max_batch_rows` | server default | 1–1048576 |
//! | `client_id` | crate default | sent as `X-QWP-Client-Id` |
//! | `query_close_timeout_ms` | 5000 | > 0 |
//! | `buffer_pool_size` | 4 | ≥ 1 |
//! | `sender_pool_min` / `sender_pool_max` | 1 / 4 | min ≤ max, max ≥ 1 |
//! | `query_pool_min` / `query_pool_max` | 1 / 4 | min ≤ max, max ≥ 1 |
//! | `acquire_timeout_ms` | 5000 | |
//! | `idle_timeout_ms` | 60000 | `0` = forever |
//! | `max_lifetime_ms` | 1800000 | `0` = no limit |
//! | `housekeeper_interval_ms` | 5000 | > 0 |
//! | `lazy_connect` | `off` | |
//!
//! ```
//! use questdb_arrow::conf::{Conf, Compression, Scheme};
//! # fn main() -> questdb_arrow::Result<()> {
//! let conf = Conf::parse("wss::addr=db1:9000,db2;password=p;;w;compression=zstd;")?;
//! assert_eq!(conf.scheme, Scheme::Wss);
//! assert_eq!(conf.addrs[1].to_string(), "db2:9000");
//! assert_eq!(conf.password.as_deref(), Some("p;w"));
//! assert_eq!(conf.compression, Compression::Zstd);
//! assert_eq!(Conf::parse(&conf.to_conf_string())?, conf);
//! # Ok(())
//! # }
//! ```

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::Ipv6Addr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::{Error, ErrorKind, Result};

/// The environment variable read by [`Conf::from_env`].
pub const ENV_VAR: &str = "QDB_CLIENT_CONF";

/// The default port of both `ws` and `wss` (QuestDB's HTTP port).
pub const DEFAULT_PORT: u16 = 9000;

/// Shown instead of secret values in errors and `Debug` output.
const REDACTED: &str = "<redacted>";

/// Defines a plain enum of connect-string values with `as_str`, `Display`
/// and a parser that names the key on error.
macro_rules! conf_enum {
    (
        $(#[$m:meta])*
        $name:ident { $( $(#[$vm:meta])* $var:ident => $s:literal ),+ $(,)? }
    ) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vm])* $var, )+
        }

        impl $name {
            /// The connect-string spelling of this value.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$var => $s, )+
                }
            }

            #[allow(dead_code)] // not every enum parses through it
            fn from_conf(key: &str, value: &str) -> Result<Self> {
                match value {
                    $( $s => Ok($name::$var), )+
                    _ => Err(Error::config(
                        key,
                        value,
                        format!("expected one of: {}", [$($s),+].join(", ")),
                    )),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

conf_enum! {
    /// The connect-string scheme.
    Scheme {
        /// Plain WebSocket (`ws::`, also spelled `qwpws::`).
        Ws => "ws",
        /// WebSocket over TLS (`wss::`, also spelled `qwpwss::`).
        Wss => "wss",
    }
}

impl Scheme {
    /// Whether this scheme uses TLS.
    pub fn is_tls(self) -> bool {
        self == Scheme::Wss
    }

    /// The port used for `addr` entries without one (9000 for both).
    pub fn default_port(self) -> u16 {
        DEFAULT_PORT
    }
}

conf_enum! {
    /// Which root certificates verify the server (`tls_ca`). Ignored when
    /// `tls_roots` names a file.
    TlsCa {
        /// The Mozilla roots compiled into the crate (`webpki_roots`).
        WebpkiRoots => "webpki_roots",
        /// The operating system's trust store (`os_roots`).
        OsRoots => "os_roots",
        /// Both of the above (`webpki_and_os_roots`).
        WebpkiAndOsRoots => "webpki_and_os_roots",
    }
}

conf_enum! {
    /// Whether the server certificate is verified (`tls_verify`).
    TlsVerify {
        /// Verify the certificate and host name (`on`).
        On => "on",
        /// Accept any certificate (`unsafe_off`). For tests only.
        UnsafeOff => "unsafe_off",
    }
}

conf_enum! {
    /// Result-batch compression requested by the query client (`compression`).
    Compression {
        /// No compression; `X-QWP-Accept-Encoding` is not sent (`raw`).
        Raw => "raw",
        /// Demand zstd (`zstd`).
        Zstd => "zstd",
        /// Accept zstd if the server offers it (`auto`).
        Auto => "auto",
    }
}

conf_enum! {
    /// Which server role the query client connects to (`target`).
    Target {
        /// Any role (`any`).
        Any => "any",
        /// Primaries only (`primary`).
        Primary => "primary",
        /// Replicas only (`replica`).
        Replica => "replica",
    }
}

conf_enum! {
    /// How the ingest sender makes its first connection
    /// (`initial_connect_retry`).
    InitialConnectRetry {
        /// One attempt per endpoint; fail at once (`off`, `false`).
        Off => "off",
        /// Retry on the caller's thread up to `reconnect_max_duration_millis`
        /// (`sync`, `on`, `true`).
        Sync => "sync",
        /// Return at once and connect in the background (`async`).
        Async => "async",
    }
}

conf_enum! {
    /// What the sender does with a server error of one category
    /// (`on_*_error`).
    ErrorPolicy {
        /// The built-in choice for the category (`auto`).
        Auto => "auto",
        /// Stop the sender (`terminal`).
        Terminal => "terminal",
        /// Resend the frame (`retriable`).
        Retriable => "retriable",
        /// Resend on another endpoint (`retriable_other`).
        RetriableOther => "retriable_other",
    }
}

conf_enum! {
    /// Store-and-forward durability (`sf_durability`).
    SfDurability {
        /// Keep unacknowledged data in memory, or in unsynced segment files
        /// (`memory`).
        Memory => "memory",
        /// `fsync` the segment files every `sf_sync_interval_millis`
        /// (`periodic`; needs `sf_dir`).
        Periodic => "periodic",
    }
}

/// One server endpoint from `addr`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Addr {
    /// Host name or IP address; an IPv6 address is stored without brackets.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl Addr {
    /// An endpoint from its parts.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Addr {
            host: host.into(),
            port,
        }
    }

    /// Parses one `addr` entry (`host`, `host:port`, `[v6]` or `[v6]:port`).
    fn parse(entry: &str, default_port: u16) -> Result<Addr> {
        let bad = |why: &str| Error::config("addr", entry, why);
        if entry.is_empty() {
            return Err(bad(
                "empty entry (check for `,,` or a leading or trailing comma)",
            ));
        }
        if entry.chars().any(char::is_whitespace) {
            return Err(bad("whitespace is not allowed in an address"));
        }
        let (host, port) = if let Some(rest) = entry.strip_prefix('[') {
            let close = rest
                .find(']')
                .ok_or_else(|| bad("missing `]` after the IPv6 address"))?;
            let host = &rest[..close];
            let ip = host.split_once('%').map_or(host, |(ip, _scope)| ip);
            if ip.parse::<Ipv6Addr>().is_err() {
                return Err(bad("not a valid IPv6 address inside `[...]`"));
            }
            let after = &rest[close + 1..];
            let port = if after.is_empty() {
                None
            } else if let Some(p) = after.strip_prefix(':') {
                Some(p)
            } else {
                return Err(bad("expected `:port` after `]`"));
            };
            (host, port)
        } else {
            match entry.split_once(':') {
                None => (entry, None),
                Some((_, p)) if p.contains(':') => {
                    return Err(bad(
                        "an IPv6 address must be in brackets, e.g. `[::1]:9000`",
                    ));
                }
                Some((h, p)) => (h, Some(p)),
            }
        };
        if host.is_empty() {
            return Err(bad("empty host"));
        }
        if !entry.starts_with('[')
            && !host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
        {
            return Err(bad(
                "invalid character in host (expected ASCII letters, digits, `-`, `.`, `_`)",
            ));
        }
        let port = match port {
            None => default_port,
            Some("") => return Err(bad("missing port after `:`")),
            Some(p) => match parse_digits(p).and_then(|n| u16::try_from(n).ok()) {
                Some(n) if n > 0 => n,
                _ => return Err(bad("invalid port (expected 1-65535)")),
            },
        };
        Ok(Addr::new(host, port))
    }

    /// The key used to detect duplicates: host names compare
    /// case-insensitively and IPv6 addresses by value.
    fn dedup_key(&self) -> (String, u16) {
        let host = match self.host.parse::<Ipv6Addr>() {
            Ok(ip) => ip.to_string(),
            Err(_) => self.host.to_ascii_lowercase(),
        };
        (host, self.port)
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// A parsed connect string: every key, typed, with its default.
///
/// `Debug` redacts `password`, `token` and `tls_roots_password`;
/// [`Conf::to_conf_string`] does not (it must round-trip).
#[derive(Clone, PartialEq, Eq)]
pub struct Conf {
    /// The scheme; [`Scheme::Wss`] means TLS.
    pub scheme: Scheme,
    /// Endpoints in the order given (`addr`), never empty after parsing.
    pub addrs: Vec<Addr>,

    /// HTTP basic-auth user name (`username`, alias `user`).
    pub username: Option<String>,
    /// HTTP basic-auth password (`password`, alias `pass`).
    pub password: Option<String>,
    /// Bearer token (`token`); excludes `username`/`password`.
    pub token: Option<String>,
    /// Bound on the upgrade and auth phase per host (`auth_timeout_ms`).
    pub auth_timeout: Duration,
    /// Bound on each TCP connect (`connect_timeout`); `None` = OS default.
    pub connect_timeout: Option<Duration>,

    /// Certificate verification (`tls_verify`).
    pub tls_verify: TlsVerify,
    /// Root store when `tls_roots` is unset (`tls_ca`).
    pub tls_ca: TlsCa,
    /// Roots file: PEM, or a JKS/PKCS#12 keystore (`tls_roots`).
    pub tls_roots: Option<PathBuf>,
    /// Keystore password for `tls_roots` (`tls_roots_password`).
    pub tls_roots_password: Option<String>,

    /// Automatic flushing on or off (`auto_flush`).
    pub auto_flush: bool,
    /// Flush after this many rows (`auto_flush_rows`); `None` = off.
    pub auto_flush_rows: Option<u64>,
    /// Flush when this much time passed (`auto_flush_interval`); `None` = off.
    pub auto_flush_interval: Option<Duration>,
    /// Flush at this many buffered bytes (`auto_flush_bytes`); `None` = off.
    pub auto_flush_bytes: Option<u64>,
    /// Initial buffer capacity in bytes (`init_buf_size`).
    pub init_buf_size: u64,
    /// Largest buffer in bytes (`max_buf_size`).
    pub max_buf_size: u64,
    /// Longest table or column name in bytes (`max_name_len`).
    pub max_name_len: usize,
    /// Largest UDP datagram (`max_datagram_size`); unused over WebSocket.
    pub max_datagram_size: Option<u64>,

    /// Store-and-forward directory (`sf_dir`); `None` = memory mode.
    pub sf_dir: Option<PathBuf>,
    /// Slot name under `sf_dir` (`sender_id`).
    pub sender_id: String,
    /// Segment-file durability (`sf_durability`).
    pub sf_durability: SfDurability,
    /// `fsync` interval with [`SfDurability::Periodic`]
    /// (`sf_sync_interval_millis`).
    pub sf_sync_interval: Duration,
    /// Size of one segment file (`sf_max_segment_bytes`).
    pub sf_max_segment_bytes: u64,
    /// Cap on unacknowledged bytes per slot (`sf_max_total_bytes`); `None` =
    /// the mode's default, see [`Conf::sf_max_total_bytes_or_default`].
    pub sf_max_total_bytes: Option<u64>,
    /// How long `append()` blocks at the cap (`sf_append_deadline_millis`).
    pub sf_append_deadline: Duration,
    /// Drain orphaned slots under `sf_dir` (`drain_orphans`).
    pub drain_orphans: bool,
    /// Parallel orphan drainers (`max_background_drainers`).
    pub max_background_drainers: u32,
    /// `catch_up_cap_gap_min_escalation_window_millis`.
    pub catch_up_cap_gap_min_escalation_window: Duration,
    /// `transaction` (on/off).
    pub transaction: bool,

    /// First reconnect backoff (`reconnect_initial_backoff_millis`).
    pub reconnect_initial_backoff: Duration,
    /// Backoff cap (`reconnect_max_backoff_millis`).
    pub reconnect_max_backoff: Duration,
    /// Bound on the blocking initial connect
    /// (`reconnect_max_duration_millis`).
    pub reconnect_max_duration: Duration,
    /// Initial connect mode, already resolved (`initial_connect_retry`;
    /// unset with any `reconnect_*` key set gives [`InitialConnectRetry::Sync`]).
    pub initial_connect_retry: InitialConnectRetry,
    /// Wait for acks on close (`close_flush_timeout_millis`); zero = fast
    /// close.
    pub close_flush_timeout: Duration,
    /// Ask for durable acks (`request_durable_ack`).
    pub request_durable_ack: bool,
    /// Keepalive PING cadence while waiting for durable acks
    /// (`durable_ack_keepalive_interval_millis`); `None` = disabled.
    pub durable_ack_keepalive_interval: Option<Duration>,

    /// Async error inbox size (`error_inbox_capacity`), ≥ 16.
    pub error_inbox_capacity: usize,
    /// Connection-listener inbox size (`connection_listener_inbox_capacity`).
    pub connection_listener_inbox_capacity: usize,
    /// Default server-error policy (`on_server_error`).
    pub on_server_error: ErrorPolicy,
    /// Policy for schema errors (`on_schema_error`).
    pub on_schema_error: ErrorPolicy,
    /// Policy for parse errors (`on_parse_error`).
    pub on_parse_error: ErrorPolicy,
    /// Policy for internal errors (`on_internal_error`).
    pub on_internal_error: ErrorPolicy,
    /// Policy for security errors (`on_security_error`).
    pub on_security_error: ErrorPolicy,
    /// Policy for write errors (`on_write_error`).
    pub on_write_error: ErrorPolicy,
    /// Poison-frame threshold (`max_frame_rejections`), ≥ 1.
    pub max_frame_rejections: u32,
    /// `poison_min_escalation_window_millis`.
    pub poison_min_escalation_window: Duration,

    /// Role filter of the query client (`target`).
    pub target: Target,
    /// Preferred zone, matched case-insensitively (`zone`).
    pub zone: Option<String>,
    /// Query failover (`failover`).
    pub failover: bool,
    /// Attempts per query, counting the first (`failover_max_attempts`).
    pub failover_max_attempts: u32,
    /// First failover backoff (`failover_backoff_initial_ms`).
    pub failover_backoff_initial: Duration,
    /// Failover backoff cap (`failover_backoff_max_ms`).
    pub failover_backoff_max: Duration,
    /// Failover time budget (`failover_max_duration_ms`); `None` = unbounded.
    pub failover_max_duration: Option<Duration>,
    /// Result compression (`compression`).
    pub compression: Compression,
    /// zstd level, 1–22 (`compression_level`).
    pub compression_level: i32,
    /// Initial byte credit per query; 0 = unbounded (`initial_credit`).
    pub initial_credit: u64,
    /// Rows per result batch (`max_batch_rows`); `None` = server default.
    pub max_batch_rows: Option<u32>,
    /// `X-QWP-Client-Id` (`client_id`); `None` = this crate's default.
    pub client_id: Option<String>,
    /// Bound on the close-path drain (`query_close_timeout_ms`).
    pub query_close_timeout: Duration,
    /// Decoded-batch buffers (`buffer_pool_size`), ≥ 1.
    pub buffer_pool_size: usize,

    /// Facade: senders kept open (`sender_pool_min`).
    pub sender_pool_min: usize,
    /// Facade: most senders (`sender_pool_max`).
    pub sender_pool_max: usize,
    /// Facade: query clients kept open (`query_pool_min`).
    pub query_pool_min: usize,
    /// Facade: most query clients (`query_pool_max`).
    pub query_pool_max: usize,
    /// Facade: wait for a pooled connection (`acquire_timeout_ms`).
    pub acquire_timeout: Duration,
    /// Facade: close idle connections after (`idle_timeout_ms`); `None` =
    /// never.
    pub idle_timeout: Option<Duration>,
    /// Facade: replace connections older than (`max_lifetime_ms`); `None` =
    /// never.
    pub max_lifetime: Option<Duration>,
    /// Facade: housekeeping cadence (`housekeeper_interval_ms`).
    pub housekeeper_interval: Duration,
    /// Facade: connect on first use (`lazy_connect`).
    pub lazy_connect: bool,
}

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;

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
            sf_max_segment_bytes: 4 * MIB,
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
            on_schema_error: ErrorPolicy::Terminal,
            on_parse_error: ErrorPolicy::Terminal,
            on_internal_error: ErrorPolicy::Retriable,
            on_security_error: ErrorPolicy::Terminal,
            on_write_error: ErrorPolicy::Retriable,
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
            sender_pool_max: 4,
            query_pool_min: 1,
            query_pool_max: 4,
            acquire_timeout: ms(5_000),
            idle_timeout: Some(ms(60_000)),
            max_lifetime: Some(ms(1_800_000)),
            housekeeper_interval: ms(5_000),
            lazy_connect: false,
        }
    }

    /// Parses a connect string such as `ws::addr=localhost:9000;`.
    pub fn parse(s: &str) -> Result<Conf> {
        let (scheme_str, rest) = s.split_once("::").ok_or_else(|| {
            Error::new(
                ErrorKind::Config,
                "missing `::` after the scheme (expected e.g. `ws::addr=localhost:9000;`)",
            )
        })?;
        let scheme = parse_scheme(scheme_str)?;
        let pairs = split_pairs(rest, scheme_str.len() + 2)?;

        let mut conf = Conf::new(scheme, Vec::new());
        let mut seen_addrs = HashSet::new();
        // Canonical key -> value as given (redacted for secrets).
        let mut seen: HashMap<&'static str, String> = HashMap::new();

        for (key, value) in &pairs {
            let key = key.as_str();
            let value = value.as_str();
            if key == "addr" {
                for entry in value.split(',') {
                    let addr = Addr::parse(entry, scheme.default_port())?;
                    if !seen_addrs.insert(addr.dedup_key()) {
                        return Err(Error::config(
                            "addr",
                            value,
                            format!("duplicate addr entry: {addr}"),
                        ));
                    }
                    conf.addrs.push(addr);
                }
                continue;
            }
            let canon = canonical_key(key)
                .ok_or_else(|| Error::new(ErrorKind::Config, format!("unknown key `{key}`")))?;
            let shown = if is_secret(canon) { REDACTED } else { value };
            if seen.contains_key(canon) {
                let why = if canon == key {
                    format!("key `{key}` is given more than once")
                } else {
                    format!("key `{key}` duplicates `{canon}` (an alias of it is given too)")
                };
                return Err(Error::config(key, shown, why));
            }
            seen.insert(canon, shown.to_owned());
            conf.apply(canon, key, value)?;
        }

        if conf.addrs.is_empty() {
            return Err(Error::new(
                ErrorKind::Config,
                "missing required key `addr` (e.g. `ws::addr=localhost:9000;`)",
            ));
        }
        if let Some(v) = seen.get("sf_sync_interval_millis")
            && conf.sf_durability != SfDurability::Periodic
        {
            return Err(Error::config(
                "sf_sync_interval_millis",
                v,
                "requires sf_durability=periodic",
            ));
        }
        if seen.get("tls_ca").map(String::as_str) == Some("pem_file") && conf.tls_roots.is_none() {
            return Err(Error::config("tls_ca", "pem_file", "requires tls_roots"));
        }
        if !seen.contains_key("initial_connect_retry")
            && seen.keys().any(|k| k.starts_with("reconnect_"))
        {
            conf.initial_connect_retry = InitialConnectRetry::Sync;
        }
        conf.validate()?;
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

    /// Whether the connection uses TLS (`wss`).
    pub fn is_tls(&self) -> bool {
        self.scheme.is_tls()
    }

    /// The port used for `addr` entries without one.
    pub fn default_port(scheme: Scheme) -> u16 {
        scheme.default_port()
    }

    /// `sf_max_total_bytes`, or its default: 10 GiB with `sf_dir`, else
    /// 128 MiB.
    pub fn sf_max_total_bytes_or_default(&self) -> u64 {
        self.sf_max_total_bytes.unwrap_or(if self.sf_dir.is_some() {
            10 * GIB
        } else {
            128 * MIB
        })
    }

    /// Checks ranges and combinations of keys. [`Conf::parse`] calls it; call
    /// it yourself after changing fields.
    pub fn validate(&self) -> Result<()> {
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
        if self.token.is_some() && (self.username.is_some() || self.password.is_some()) {
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

    /// Sets the field for one key. `canon` is the canonical key, `key` the
    /// spelling used (for messages).
    fn apply(&mut self, canon: &'static str, key: &str, v: &str) -> Result<()> {
        match canon {
            "username" => self.username = Some(v.to_owned()),
            "password" => self.password = Some(v.to_owned()),
            "token" => self.token = Some(v.to_owned()),
            "auth_timeout_ms" => self.auth_timeout = parse_ms(key, v)?,
            "connect_timeout" => {
                let d = parse_ms(key, v)?;
                if d.is_zero() {
                    return Err(Error::config(key, v, "must be greater than 0"));
                }
                self.connect_timeout = Some(d);
            }
            "tls_verify" => self.tls_verify = TlsVerify::from_conf(key, v)?,
            "tls_ca" => {
                // `pem_file` is the official Rust client's spelling for "use
                // tls_roots"; parse() checks that tls_roots is present.
                if v != "pem_file" {
                    self.tls_ca = TlsCa::from_conf(key, v).map_err(|_| {
                        Error::config(
                            key,
                            v,
                            "expected one of: webpki_roots, os_roots, webpki_and_os_roots, pem_file",
                        )
                    })?;
                }
            }
            "tls_roots" => self.tls_roots = Some(PathBuf::from(v)),
            "tls_roots_password" => self.tls_roots_password = Some(v.to_owned()),
            "auto_flush" => self.auto_flush = parse_on_off(key, v)?,
            "auto_flush_rows" => self.auto_flush_rows = parse_or_off(v, || parse_u64(key, v))?,
            "auto_flush_interval" => {
                self.auto_flush_interval = parse_or_off(v, || parse_ms(key, v))?;
            }
            "auto_flush_bytes" => {
                self.auto_flush_bytes = parse_or_off(v, || parse_size(key, v))?.filter(|&n| n != 0);
            }
            "init_buf_size" => self.init_buf_size = parse_size(key, v)?,
            "max_buf_size" => self.max_buf_size = parse_size(key, v)?,
            "max_name_len" => self.max_name_len = parse_num(key, v)?,
            "max_datagram_size" => self.max_datagram_size = Some(parse_size(key, v)?),
            "sf_dir" => self.sf_dir = Some(PathBuf::from(v)),
            "sender_id" => self.sender_id = v.to_owned(),
            "sf_durability" => {
                self.sf_durability = match v {
                    "flush" | "append" => {
                        return Err(Error::config(
                            key,
                            v,
                            "is not supported (use memory or periodic)",
                        ));
                    }
                    _ => SfDurability::from_conf(key, v)?,
                }
            }
            "sf_sync_interval_millis" => self.sf_sync_interval = parse_ms(key, v)?,
            "sf_max_segment_bytes" => self.sf_max_segment_bytes = parse_size(key, v)?,
            "sf_max_total_bytes" => self.sf_max_total_bytes = Some(parse_size(key, v)?),
            "sf_append_deadline_millis" => self.sf_append_deadline = parse_ms(key, v)?,
            "drain_orphans" => self.drain_orphans = parse_on_off(key, v)?,
            "max_background_drainers" => self.max_background_drainers = parse_num(key, v)?,
            "catch_up_cap_gap_min_escalation_window_millis" => {
                self.catch_up_cap_gap_min_escalation_window = parse_ms(key, v)?;
            }
            "transaction" => self.transaction = parse_on_off(key, v)?,
            "reconnect_initial_backoff_millis" => {
                self.reconnect_initial_backoff = parse_ms(key, v)?;
            }
            "reconnect_max_backoff_millis" => self.reconnect_max_backoff = parse_ms(key, v)?,
            "reconnect_max_duration_millis" => self.reconnect_max_duration = parse_ms(key, v)?,
            "initial_connect_retry" => {
                self.initial_connect_retry = match v {
                    "off" | "false" => InitialConnectRetry::Off,
                    "on" | "true" | "sync" => InitialConnectRetry::Sync,
                    "async" => InitialConnectRetry::Async,
                    _ => {
                        return Err(Error::config(
                            key,
                            v,
                            "expected one of: off, false, on, true, sync, async",
                        ));
                    }
                }
            }
            "close_flush_timeout_millis" => {
                let n = parse_i64(key, v)?;
                self.close_flush_timeout = ms(u64::try_from(n).unwrap_or(0));
            }
            "request_durable_ack" => self.request_durable_ack = parse_on_off(key, v)?,
            "durable_ack_keepalive_interval_millis" => {
                let n = parse_i64(key, v)?;
                self.durable_ack_keepalive_interval =
                    u64::try_from(n).ok().filter(|&n| n > 0).map(ms);
            }
            "error_inbox_capacity" => self.error_inbox_capacity = parse_num(key, v)?,
            "connection_listener_inbox_capacity" => {
                self.connection_listener_inbox_capacity = parse_num(key, v)?;
            }
            "on_server_error" => self.on_server_error = ErrorPolicy::from_conf(key, v)?,
            "on_schema_error" => self.on_schema_error = ErrorPolicy::from_conf(key, v)?,
            "on_parse_error" => self.on_parse_error = ErrorPolicy::from_conf(key, v)?,
            "on_internal_error" => self.on_internal_error = ErrorPolicy::from_conf(key, v)?,
            "on_security_error" => self.on_security_error = ErrorPolicy::from_conf(key, v)?,
            "on_write_error" => self.on_write_error = ErrorPolicy::from_conf(key, v)?,
            "max_frame_rejections" => self.max_frame_rejections = parse_num(key, v)?,
            "poison_min_escalation_window_millis" => {
                self.poison_min_escalation_window = parse_ms(key, v)?;
            }
            "target" => self.target = Target::from_conf(key, v)?,
            "zone" => self.zone = Some(v.to_owned()),
            "failover" => self.failover = parse_on_off(key, v)?,
            "failover_max_attempts" => self.failover_max_attempts = parse_num(key, v)?,
            "failover_backoff_initial_ms" => self.failover_backoff_initial = parse_ms(key, v)?,
            "failover_backoff_max_ms" => self.failover_backoff_max = parse_ms(key, v)?,
            "failover_max_duration_ms" => {
                self.failover_max_duration = Some(parse_ms(key, v)?).filter(|d| !d.is_zero());
            }
            "compression" => self.compression = Compression::from_conf(key, v)?,
            "compression_level" => {
                let n = parse_i64(key, v)?;
                self.compression_level = match i32::try_from(n) {
                    Ok(n) if (1..=22).contains(&n) => n,
                    _ => return Err(Error::config(key, v, "must be between 1 and 22")),
                };
            }
            "initial_credit" => self.initial_credit = parse_size(key, v)?,
            "max_batch_rows" => {
                let n: u32 = parse_num(key, v)?;
                if !(1..=MAX_BATCH_ROWS_LIMIT).contains(&n) {
                    return Err(Error::config(key, v, "must be between 1 and 1048576"));
                }
                self.max_batch_rows = Some(n);
            }
            "client_id" => self.client_id = Some(v.to_owned()),
            "query_close_timeout_ms" => self.query_close_timeout = parse_ms(key, v)?,
            "buffer_pool_size" => self.buffer_pool_size = parse_num(key, v)?,
            "sender_pool_min" => self.sender_pool_min = parse_num(key, v)?,
            "sender_pool_max" => self.sender_pool_max = parse_num(key, v)?,
            "query_pool_min" => self.query_pool_min = parse_num(key, v)?,
            "query_pool_max" => self.query_pool_max = parse_num(key, v)?,
            "acquire_timeout_ms" => self.acquire_timeout = parse_ms(key, v)?,
            "idle_timeout_ms" => {
                self.idle_timeout = Some(parse_ms(key, v)?).filter(|d| !d.is_zero());
            }
            "max_lifetime_ms" => {
                self.max_lifetime = Some(parse_ms(key, v)?).filter(|d| !d.is_zero());
            }
            "housekeeper_interval_ms" => self.housekeeper_interval = parse_ms(key, v)?,
            "lazy_connect" => self.lazy_connect = parse_on_off(key, v)?,
            // canonical_key() only returns keys handled above.
            _ => {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!("unknown key `{key}`"),
                ));
            }
        }
        Ok(())
    }

    /// Renders the configuration as a connect string that [`Conf::parse`]
    /// turns back into an equal `Conf`. Only keys that differ from their
    /// defaults are written. Contains secrets in clear text.
    pub fn to_conf_string(&self) -> String {
        let d = Conf::new(self.scheme, Vec::new());
        let mut w = ConfWriter(format!("{}::", self.scheme));
        let addrs: Vec<String> = self.addrs.iter().map(Addr::to_string).collect();
        w.kv("addr", &addrs.join(","));

        w.opt("username", &self.username);
        w.opt("password", &self.password);
        w.opt("token", &self.token);
        w.ms_if("auth_timeout_ms", self.auth_timeout, d.auth_timeout);
        if let Some(t) = self.connect_timeout {
            w.kv("connect_timeout", &t.as_millis().to_string());
        }
        w.display_if("tls_verify", self.tls_verify, d.tls_verify);
        w.display_if("tls_ca", self.tls_ca, d.tls_ca);
        if let Some(p) = &self.tls_roots {
            w.kv("tls_roots", &p.to_string_lossy());
        }
        w.opt("tls_roots_password", &self.tls_roots_password);

        w.on_off_if("auto_flush", self.auto_flush, d.auto_flush);
        if self.auto_flush_rows != d.auto_flush_rows {
            w.kv("auto_flush_rows", &off_or(self.auto_flush_rows));
        }
        if self.auto_flush_interval != d.auto_flush_interval {
            let v = self.auto_flush_interval.map(|t| t.as_millis());
            w.kv("auto_flush_interval", &off_or(v));
        }
        if self.auto_flush_bytes != d.auto_flush_bytes {
            w.kv("auto_flush_bytes", &off_or(self.auto_flush_bytes));
        }
        w.display_if("init_buf_size", self.init_buf_size, d.init_buf_size);
        w.display_if("max_buf_size", self.max_buf_size, d.max_buf_size);
        w.display_if("max_name_len", self.max_name_len, d.max_name_len);
        if let Some(n) = self.max_datagram_size {
            w.kv("max_datagram_size", &n.to_string());
        }

        if let Some(p) = &self.sf_dir {
            w.kv("sf_dir", &p.to_string_lossy());
        }
        w.display_if("sender_id", &self.sender_id, &d.sender_id);
        w.display_if("sf_durability", self.sf_durability, d.sf_durability);
        if self.sf_durability == SfDurability::Periodic {
            w.ms_if(
                "sf_sync_interval_millis",
                self.sf_sync_interval,
                d.sf_sync_interval,
            );
        }
        w.display_if(
            "sf_max_segment_bytes",
            self.sf_max_segment_bytes,
            d.sf_max_segment_bytes,
        );
        if let Some(n) = self.sf_max_total_bytes {
            w.kv("sf_max_total_bytes", &n.to_string());
        }
        w.ms_if(
            "sf_append_deadline_millis",
            self.sf_append_deadline,
            d.sf_append_deadline,
        );
        w.on_off_if("drain_orphans", self.drain_orphans, d.drain_orphans);
        w.display_if(
            "max_background_drainers",
            self.max_background_drainers,
            d.max_background_drainers,
        );
        w.ms_if(
            "catch_up_cap_gap_min_escalation_window_millis",
            self.catch_up_cap_gap_min_escalation_window,
            d.catch_up_cap_gap_min_escalation_window,
        );
        w.on_off_if("transaction", self.transaction, d.transaction);

        let before = w.0.len();
        w.ms_if(
            "reconnect_initial_backoff_millis",
            self.reconnect_initial_backoff,
            d.reconnect_initial_backoff,
        );
        w.ms_if(
            "reconnect_max_backoff_millis",
            self.reconnect_max_backoff,
            d.reconnect_max_backoff,
        );
        w.ms_if(
            "reconnect_max_duration_millis",
            self.reconnect_max_duration,
            d.reconnect_max_duration,
        );
        // Written explicitly whenever a reconnect key is, so the promotion
        // rule cannot change it on the way back.
        if w.0.len() != before || self.initial_connect_retry != d.initial_connect_retry {
            w.kv("initial_connect_retry", self.initial_connect_retry.as_str());
        }
        w.ms_if(
            "close_flush_timeout_millis",
            self.close_flush_timeout,
            d.close_flush_timeout,
        );
        w.on_off_if(
            "request_durable_ack",
            self.request_durable_ack,
            d.request_durable_ack,
        );
        if self.durable_ack_keepalive_interval != d.durable_ack_keepalive_interval {
            let v = self
                .durable_ack_keepalive_interval
                .map_or(0, |t| t.as_millis());
            w.kv("durable_ack_keepalive_interval_millis", &v.to_string());
        }

        w.display_if(
            "error_inbox_capacity",
            self.error_inbox_capacity,
            d.error_inbox_capacity,
        );
        w.display_if(
            "connection_listener_inbox_capacity",
            self.connection_listener_inbox_capacity,
            d.connection_listener_inbox_capacity,
        );
        w.display_if("on_server_error", self.on_server_error, d.on_server_error);
        w.display_if("on_schema_error", self.on_schema_error, d.on_schema_error);
        w.display_if("on_parse_error", self.on_parse_error, d.on_parse_error);
        w.display_if(
            "on_internal_error",
            self.on_internal_error,
            d.on_internal_error,
        );
        w.display_if(
            "on_security_error",
            self.on_security_error,
            d.on_security_error,
        );
        w.display_if("on_write_error", self.on_write_error, d.on_write_error);
        w.display_if(
            "max_frame_rejections",
            self.max_frame_rejections,
            d.max_frame_rejections,
        );
        w.ms_if(
            "poison_min_escalation_window_millis",
            self.poison_min_escalation_window,
            d.poison_min_escalation_window,
        );

        w.display_if("target", self.target, d.target);
        w.opt("zone", &self.zone);
        w.on_off_if("failover", self.failover, d.failover);
        w.display_if(
            "failover_max_attempts",
            self.failover_max_attempts,
            d.failover_max_attempts,
        );
        w.ms_if(
            "failover_backoff_initial_ms",
            self.failover_backoff_initial,
            d.failover_backoff_initial,
        );
        w.ms_if(
            "failover_backoff_max_ms",
            self.failover_backoff_max,
            d.failover_backoff_max,
        );
        if self.failover_max_duration != d.failover_max_duration {
            let v = self.failover_max_duration.map_or(0, |t| t.as_millis());
            w.kv("failover_max_duration_ms", &v.to_string());
        }
        w.display_if("compression", self.compression, d.compression);
        w.display_if(
            "compression_level",
            self.compression_level,
            d.compression_level,
        );
        w.display_if("initial_credit", self.initial_credit, d.initial_credit);
        if let Some(n) = self.max_batch_rows {
            w.kv("max_batch_rows", &n.to_string());
        }
        w.opt("client_id", &self.client_id);
        w.ms_if(
            "query_close_timeout_ms",
            self.query_close_timeout,
            d.query_close_timeout,
        );
        w.display_if(
            "buffer_pool_size",
            self.buffer_pool_size,
            d.buffer_pool_size,
        );

        w.display_if("sender_pool_min", self.sender_pool_min, d.sender_pool_min);
        w.display_if("sender_pool_max", self.sender_pool_max, d.sender_pool_max);
        w.display_if("query_pool_min", self.query_pool_min, d.query_pool_min);
        w.display_if("query_pool_max", self.query_pool_max, d.query_pool_max);
        w.ms_if(
            "acquire_timeout_ms",
            self.acquire_timeout,
            d.acquire_timeout,
        );
        if self.idle_timeout != d.idle_timeout {
            let v = self.idle_timeout.map_or(0, |t| t.as_millis());
            w.kv("idle_timeout_ms", &v.to_string());
        }
        if self.max_lifetime != d.max_lifetime {
            let v = self.max_lifetime.map_or(0, |t| t.as_millis());
            w.kv("max_lifetime_ms", &v.to_string());
        }
        w.ms_if(
            "housekeeper_interval_ms",
            self.housekeeper_interval,
            d.housekeeper_interval,
        );
        w.on_off_if("lazy_connect", self.lazy_connect, d.lazy_connect);
        w.0
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
            max_lifetime, housekeeper_interval, lazy_connect;
            secrets: password, token, tls_roots_password
        )
    }
}

/// Every key except `addr`, in canonical spelling.
const KEYS: &[&str] = &[
    "username",
    "password",
    "token",
    "auth_timeout_ms",
    "connect_timeout",
    "tls_verify",
    "tls_ca",
    "tls_roots",
    "tls_roots_password",
    "auto_flush",
    "auto_flush_rows",
    "auto_flush_interval",
    "auto_flush_bytes",
    "init_buf_size",
    "max_buf_size",
    "max_name_len",
    "max_datagram_size",
    "sf_dir",
    "sender_id",
    "sf_durability",
    "sf_sync_interval_millis",
    "sf_max_segment_bytes",
    "sf_max_total_bytes",
    "sf_append_deadline_millis",
    "drain_orphans",
    "max_background_drainers",
    "catch_up_cap_gap_min_escalation_window_millis",
    "transaction",
    "reconnect_initial_backoff_millis",
    "reconnect_max_backoff_millis",
    "reconnect_max_duration_millis",
    "initial_connect_retry",
    "close_flush_timeout_millis",
    "request_durable_ack",
    "durable_ack_keepalive_interval_millis",
    "error_inbox_capacity",
    "connection_listener_inbox_capacity",
    "on_server_error",
    "on_schema_error",
    "on_parse_error",
    "on_internal_error",
    "on_security_error",
    "on_write_error",
    "max_frame_rejections",
    "poison_min_escalation_window_millis",
    "target",
    "zone",
    "failover",
    "failover_max_attempts",
    "failover_backoff_initial_ms",
    "failover_backoff_max_ms",
    "failover_max_duration_ms",
    "compression",
    "compression_level",
    "initial_credit",
    "max_batch_rows",
    "client_id",
    "query_close_timeout_ms",
    "buffer_pool_size",
    "sender_pool_min",
    "sender_pool_max",
    "query_pool_min",
    "query_pool_max",
    "acquire_timeout_ms",
    "idle_timeout_ms",
    "max_lifetime_ms",
    "housekeeper_interval_ms",
    "lazy_connect",
];

/// The canonical spelling of a known key (resolving aliases), or `None`.
fn canonical_key(key: &str) -> Option<&'static str> {
    match key {
        "user" => Some("username"),
        "pass" => Some("password"),
        _ => KEYS.iter().copied().find(|k| *k == key),
    }
}

fn is_secret(canon: &str) -> bool {
    matches!(canon, "password" | "token" | "tls_roots_password")
}

fn parse_scheme(s: &str) -> Result<Scheme> {
    match s {
        "ws" | "qwpws" => Ok(Scheme::Ws),
        "wss" | "qwpwss" => Ok(Scheme::Wss),
        "http" | "https" | "tcp" | "tcps" | "udp" => Err(Error::new(
            ErrorKind::Config,
            format!("scheme {s} is not supported yet by questdb-arrow (use ws:: or wss::)"),
        )),
        "" => Err(Error::new(
            ErrorKind::Config,
            "empty scheme (expected ws:: or wss::)",
        )),
        _ => Err(Error::new(
            ErrorKind::Config,
            format!("unknown scheme {s:?} (expected ws:: or wss::)"),
        )),
    }
}

fn is_control(c: char) -> bool {
    c <= '\u{1f}' || ('\u{7f}'..='\u{9f}').contains(&c)
}

/// Splits `key=value;...` into pairs, unescaping `;;` and rejecting empty or
/// malformed keys, control characters and empty values. `base` is the byte
/// offset of `rest` in the whole string, for messages.
fn split_pairs(rest: &str, base: usize) -> Result<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    let mut chars = rest.char_indices().peekable();
    while let Some(&(start, _)) = chars.peek() {
        let mut key = String::new();
        let mut has_eq = false;
        for (_, c) in chars.by_ref() {
            match c {
                '=' => {
                    has_eq = true;
                    break;
                }
                ';' => break,
                _ => key.push(c),
            }
        }
        let at = base + start;
        if !has_eq {
            // The text is not echoed: it may be the tail of a password
            // with an unescaped `;`.
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "missing `=` after the key at byte {at} (expected `key=value;`; \
                     write a literal `;` in a value as `;;`)"
                ),
            ));
        }
        if key.is_empty() {
            return Err(Error::new(
                ErrorKind::Config,
                format!("empty key at byte {at}"),
            ));
        }
        if let Some(c) = key
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '_'))
        {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "invalid character {c:?} in key at byte {at} \
                     (keys are ASCII letters, digits and `_`)"
                ),
            ));
        }

        let secret = canonical_key(&key).is_some_and(is_secret);
        let mut value = String::new();
        while let Some((i, c)) = chars.next() {
            if c == ';' {
                if chars.next_if(|&(_, c)| c == ';').is_some() {
                    value.push(';');
                    continue;
                }
                break;
            }
            if is_control(c) {
                let shown = if secret { REDACTED } else { value.as_str() };
                return Err(Error::config(
                    &key,
                    shown,
                    format!(
                        "control character U+{:04X} at byte {} is not allowed",
                        c as u32,
                        base + i
                    ),
                ));
            }
            value.push(c);
        }
        if value.is_empty() {
            return Err(Error::config(&key, "", "value must not be empty"));
        }
        pairs.push((key, value));
    }
    Ok(pairs)
}

/// A non-empty string of ASCII digits as a number; `None` on anything else
/// or overflow.
fn parse_digits(v: &str) -> Option<u64> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

fn parse_u64(key: &str, v: &str) -> Result<u64> {
    parse_digits(v).ok_or_else(|| Error::config(key, v, "expected a non-negative integer"))
}

/// A non-negative integer that fits `T`.
fn parse_num<T: TryFrom<u64>>(key: &str, v: &str) -> Result<T> {
    T::try_from(parse_u64(key, v)?).map_err(|_| Error::config(key, v, "number is too large"))
}

fn parse_i64(key: &str, v: &str) -> Result<i64> {
    let (neg, digits) = match v.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, v),
    };
    let n = parse_digits(digits).ok_or_else(|| Error::config(key, v, "expected an integer"))?;
    let n = i64::try_from(n).map_err(|_| Error::config(key, v, "number is too large"))?;
    Ok(if neg { -n } else { n })
}

fn parse_ms(key: &str, v: &str) -> Result<Duration> {
    parse_digits(v)
        .map(Duration::from_millis)
        .ok_or_else(|| Error::config(key, v, "expected a non-negative integer of milliseconds"))
}

fn parse_on_off(key: &str, v: &str) -> Result<bool> {
    match v {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(Error::config(key, v, "expected on or off")),
    }
}

/// `off` as `None`, anything else through `parse`.
fn parse_or_off<T>(v: &str, parse: impl FnOnce() -> Result<T>) -> Result<Option<T>> {
    if v == "off" {
        Ok(None)
    } else {
        parse().map(Some)
    }
}

/// A byte size: digits with an optional case-insensitive 1024-based suffix
/// (`k`, `kb`, `m`, `mb`, `g`, `gb`, `t`, `tb`).
fn parse_size(key: &str, v: &str) -> Result<u64> {
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (num, suffix) = v.split_at(split);
    let n = parse_digits(num).ok_or_else(|| {
        Error::config(
            key,
            v,
            "expected a size in bytes, optionally with a k/kb, m/mb, g/gb or t/tb suffix",
        )
    })?;
    let mult = match suffix.to_ascii_lowercase().as_str() {
        "" => 1,
        "k" | "kb" => KIB,
        "m" | "mb" => MIB,
        "g" | "gb" => GIB,
        "t" | "tb" => 1024 * GIB,
        _ => {
            return Err(Error::config(
                key,
                v,
                "unknown size suffix (expected k/kb, m/mb, g/gb or t/tb)",
            ));
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| Error::config(key, v, "size is too large"))
}

fn off_or<T: fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "off".to_owned(), |n| n.to_string())
}

/// Builds a connect string, escaping `;` in values.
struct ConfWriter(String);

impl ConfWriter {
    fn kv(&mut self, key: &str, value: &str) {
        self.0.push_str(key);
        self.0.push('=');
        self.0.push_str(&value.replace(';', ";;"));
        self.0.push(';');
    }

    fn opt(&mut self, key: &str, value: &Option<String>) {
        if let Some(v) = value {
            self.kv(key, v);
        }
    }

    fn display_if<T: fmt::Display + PartialEq>(&mut self, key: &str, value: T, default: T) {
        if value != default {
            self.kv(key, &value.to_string());
        }
    }

    fn ms_if(&mut self, key: &str, value: Duration, default: Duration) {
        if value != default {
            self.kv(key, &value.as_millis().to_string());
        }
    }

    fn on_off_if(&mut self, key: &str, value: bool, default: bool) {
        if value != default {
            self.kv(key, if value { "on" } else { "off" });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Conf {
        match Conf::parse(s) {
            Ok(c) => c,
            Err(e) => panic!("parse({s:?}) failed: {e}"),
        }
    }

    fn with(extra: &str) -> Conf {
        parse(&format!("ws::addr=localhost:9000;{extra}"))
    }

    fn err(s: &str) -> Error {
        match Conf::parse(s) {
            Ok(c) => panic!("parse({s:?}) should fail, got {c:?}"),
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Config, "{e}");
                e
            }
        }
    }

    /// Asserts that `ws::addr=h;<extra>` fails with a message holding every
    /// one of `needles`.
    fn err_with(extra: &str, needles: &[&str]) {
        let e = err(&format!("ws::addr=h;{extra}"));
        let msg = e.to_string();
        for n in needles {
            assert!(msg.contains(n), "{extra:?}: {msg:?} lacks {n:?}");
        }
    }

    #[test]
    fn defaults() {
        let c = parse("ws::addr=localhost;");
        assert_eq!(c, Conf::new(Scheme::Ws, vec![Addr::new("localhost", 9000)]));
        assert_eq!(c.scheme, Scheme::Ws);
        assert!(!c.is_tls());
        assert_eq!(c.addrs, vec![Addr::new("localhost", 9000)]);
        assert_eq!(c.username, None);
        assert_eq!(c.password, None);
        assert_eq!(c.token, None);
        assert_eq!(c.auth_timeout, ms(15_000));
        assert_eq!(c.connect_timeout, None);
        assert_eq!(c.tls_verify, TlsVerify::On);
        assert_eq!(c.tls_ca, TlsCa::WebpkiRoots);
        assert_eq!(c.tls_roots, None);
        assert_eq!(c.tls_roots_password, None);
        assert!(c.auto_flush);
        assert_eq!(c.auto_flush_rows, Some(1000));
        assert_eq!(c.auto_flush_interval, Some(ms(100)));
        assert_eq!(c.auto_flush_bytes, None);
        assert_eq!(c.init_buf_size, 65536);
        assert_eq!(c.max_buf_size, 104_857_600);
        assert_eq!(c.max_name_len, 127);
        assert_eq!(c.max_datagram_size, None);
        assert_eq!(c.sf_dir, None);
        assert_eq!(c.sender_id, "default");
        assert_eq!(c.sf_durability, SfDurability::Memory);
        assert_eq!(c.sf_sync_interval, ms(5_000));
        assert_eq!(c.sf_max_segment_bytes, 4 << 20);
        assert_eq!(c.sf_max_total_bytes, None);
        assert_eq!(c.sf_max_total_bytes_or_default(), 128 << 20);
        assert_eq!(c.sf_append_deadline, ms(30_000));
        assert!(!c.drain_orphans);
        assert_eq!(c.max_background_drainers, 4);
        assert_eq!(c.catch_up_cap_gap_min_escalation_window, ms(300_000));
        assert!(!c.transaction);
        assert_eq!(c.reconnect_initial_backoff, ms(100));
        assert_eq!(c.reconnect_max_backoff, ms(5_000));
        assert_eq!(c.reconnect_max_duration, ms(300_000));
        assert_eq!(c.initial_connect_retry, InitialConnectRetry::Off);
        assert_eq!(c.close_flush_timeout, ms(5_000));
        assert!(!c.request_durable_ack);
        assert_eq!(c.durable_ack_keepalive_interval, Some(ms(200)));
        assert_eq!(c.error_inbox_capacity, 256);
        assert_eq!(c.connection_listener_inbox_capacity, 64);
        assert_eq!(c.on_server_error, ErrorPolicy::Auto);
        assert_eq!(c.on_schema_error, ErrorPolicy::Terminal);
        assert_eq!(c.on_parse_error, ErrorPolicy::Terminal);
        assert_eq!(c.on_internal_error, ErrorPolicy::Retriable);
        assert_eq!(c.on_security_error, ErrorPolicy::Terminal);
        assert_eq!(c.on_write_error, ErrorPolicy::Retriable);
        assert_eq!(c.max_frame_rejections, 4);
        assert_eq!(c.poison_min_escalation_window, ms(5_000));
        assert_eq!(c.target, Target::Any);
        assert_eq!(c.zone, None);
        assert!(c.failover);
        assert_eq!(c.failover_max_attempts, 8);
        assert_eq!(c.failover_backoff_initial, ms(50));
        assert_eq!(c.failover_backoff_max, ms(1_000));
        assert_eq!(c.failover_max_duration, Some(ms(30_000)));
        assert_eq!(c.compression, Compression::Raw);
        assert_eq!(c.compression_level, 1);
        assert_eq!(c.initial_credit, 0);
        assert_eq!(c.max_batch_rows, None);
        assert_eq!(c.client_id, None);
        assert_eq!(c.query_close_timeout, ms(5_000));
        assert_eq!(c.buffer_pool_size, 4);
        assert_eq!(c.sender_pool_min, 1);
        assert_eq!(c.sender_pool_max, 4);
        assert_eq!(c.query_pool_min, 1);
        assert_eq!(c.query_pool_max, 4);
        assert_eq!(c.acquire_timeout, ms(5_000));
        assert_eq!(c.idle_timeout, Some(ms(60_000)));
        assert_eq!(c.max_lifetime, Some(ms(1_800_000)));
        assert_eq!(c.housekeeper_interval, ms(5_000));
        assert!(!c.lazy_connect);
        assert_eq!(c.to_conf_string(), "ws::addr=localhost:9000;");
    }

    /// A string setting every key (but `token`, which excludes
    /// username/password) to a non-default value.
    const ALL_KEYS: &str = "wss::addr=a:1;username=u;password=p;;w;auth_timeout_ms=1001;\
        connect_timeout=1002;tls_ca=os_roots;tls_roots=/etc/roots.p12;tls_roots_password=kp;\
        auto_flush=off;auto_flush_rows=5;auto_flush_interval=off;auto_flush_bytes=8m;\
        init_buf_size=1k;max_buf_size=2MB;max_name_len=200;max_datagram_size=1400;\
        sf_dir=/tmp/sf;sender_id=Ab_9-x;sf_durability=periodic;sf_sync_interval_millis=1003;\
        sf_max_segment_bytes=1Gb;sf_max_total_bytes=2t;sf_append_deadline_millis=1004;\
        drain_orphans=on;max_background_drainers=7;\
        catch_up_cap_gap_min_escalation_window_millis=1005;transaction=on;\
        reconnect_initial_backoff_millis=1006;reconnect_max_backoff_millis=1007;\
        reconnect_max_duration_millis=1008;initial_connect_retry=async;\
        close_flush_timeout_millis=-1;request_durable_ack=on;\
        durable_ack_keepalive_interval_millis=0;error_inbox_capacity=16;\
        connection_listener_inbox_capacity=1;on_server_error=retriable_other;\
        on_schema_error=auto;on_parse_error=retriable;on_internal_error=terminal;\
        on_security_error=retriable_other;on_write_error=auto;max_frame_rejections=1;\
        poison_min_escalation_window_millis=1009;target=replica;zone=EU-1;failover=off;\
        failover_max_attempts=1;failover_backoff_initial_ms=1010;failover_backoff_max_ms=1011;\
        failover_max_duration_ms=0;compression=zstd;compression_level=22;initial_credit=64k;\
        max_batch_rows=1048576;client_id=me/1.0;query_close_timeout_ms=1012;\
        buffer_pool_size=1;sender_pool_min=0;sender_pool_max=9;query_pool_min=2;\
        query_pool_max=3;acquire_timeout_ms=1013;idle_timeout_ms=0;max_lifetime_ms=0;\
        housekeeper_interval_ms=1014;lazy_connect=on";

    #[test]
    fn every_key_set() {
        let c = parse(ALL_KEYS);
        assert_eq!(c.scheme, Scheme::Wss);
        assert!(c.is_tls());
        assert_eq!(c.addrs, vec![Addr::new("a", 1)]);
        assert_eq!(c.username.as_deref(), Some("u"));
        assert_eq!(c.password.as_deref(), Some("p;w"));
        assert_eq!(c.auth_timeout, ms(1001));
        assert_eq!(c.connect_timeout, Some(ms(1002)));
        assert_eq!(c.tls_verify, TlsVerify::On);
        assert_eq!(c.tls_ca, TlsCa::OsRoots);
        assert_eq!(c.tls_roots, Some(PathBuf::from("/etc/roots.p12")));
        assert_eq!(c.tls_roots_password.as_deref(), Some("kp"));
        assert!(!c.auto_flush);
        assert_eq!(c.auto_flush_rows, Some(5));
        assert_eq!(c.auto_flush_interval, None);
        assert_eq!(c.auto_flush_bytes, Some(8 << 20));
        assert_eq!(c.init_buf_size, 1024);
        assert_eq!(c.max_buf_size, 2 << 20);
        assert_eq!(c.max_name_len, 200);
        assert_eq!(c.max_datagram_size, Some(1400));
        assert_eq!(c.sf_dir, Some(PathBuf::from("/tmp/sf")));
        assert_eq!(c.sender_id, "Ab_9-x");
        assert_eq!(c.sf_durability, SfDurability::Periodic);
        assert_eq!(c.sf_sync_interval, ms(1003));
        assert_eq!(c.sf_max_segment_bytes, 1 << 30);
        assert_eq!(c.sf_max_total_bytes, Some(2 << 40));
        assert_eq!(c.sf_append_deadline, ms(1004));
        assert!(c.drain_orphans);
        assert_eq!(c.max_background_drainers, 7);
        assert_eq!(c.catch_up_cap_gap_min_escalation_window, ms(1005));
        assert!(c.transaction);
        assert_eq!(c.reconnect_initial_backoff, ms(1006));
        assert_eq!(c.reconnect_max_backoff, ms(1007));
        assert_eq!(c.reconnect_max_duration, ms(1008));
        assert_eq!(c.initial_connect_retry, InitialConnectRetry::Async);
        assert_eq!(c.close_flush_timeout, Duration::ZERO);
        assert!(c.request_durable_ack);
        assert_eq!(c.durable_ack_keepalive_interval, None);
        assert_eq!(c.error_inbox_capacity, 16);
        assert_eq!(c.connection_listener_inbox_capacity, 1);
        assert_eq!(c.on_server_error, ErrorPolicy::RetriableOther);
        assert_eq!(c.on_schema_error, ErrorPolicy::Auto);
        assert_eq!(c.on_parse_error, ErrorPolicy::Retriable);
        assert_eq!(c.on_internal_error, ErrorPolicy::Terminal);
        assert_eq!(c.on_security_error, ErrorPolicy::RetriableOther);
        assert_eq!(c.on_write_error, ErrorPolicy::Auto);
        assert_eq!(c.max_frame_rejections, 1);
        assert_eq!(c.poison_min_escalation_window, ms(1009));
        assert_eq!(c.target, Target::Replica);
        assert_eq!(c.zone.as_deref(), Some("EU-1"));
        assert!(!c.failover);
        assert_eq!(c.failover_max_attempts, 1);
        assert_eq!(c.failover_backoff_initial, ms(1010));
        assert_eq!(c.failover_backoff_max, ms(1011));
        assert_eq!(c.failover_max_duration, None);
        assert_eq!(c.compression, Compression::Zstd);
        assert_eq!(c.compression_level, 22);
        assert_eq!(c.initial_credit, 65536);
        assert_eq!(c.max_batch_rows, Some(1_048_576));
        assert_eq!(c.client_id.as_deref(), Some("me/1.0"));
        assert_eq!(c.query_close_timeout, ms(1012));
        assert_eq!(c.buffer_pool_size, 1);
        assert_eq!(c.sender_pool_min, 0);
        assert_eq!(c.sender_pool_max, 9);
        assert_eq!(c.query_pool_min, 2);
        assert_eq!(c.query_pool_max, 3);
        assert_eq!(c.acquire_timeout, ms(1013));
        assert_eq!(c.idle_timeout, None);
        assert_eq!(c.max_lifetime, None);
        assert_eq!(c.housekeeper_interval, ms(1014));
        assert!(c.lazy_connect);
        assert_eq!(c.sf_max_total_bytes_or_default(), 2 << 40);
    }

    #[test]
    fn other_values() {
        let c = with(
            "token=t;tls_verify=unsafe_off;tls_ca=webpki_and_os_roots;compression=auto;target=primary",
        );
        assert_eq!(c.token.as_deref(), Some("t"));
        assert_eq!(c.tls_verify, TlsVerify::UnsafeOff);
        assert_eq!(c.tls_ca, TlsCa::WebpkiAndOsRoots);
        assert_eq!(c.compression, Compression::Auto);
        assert_eq!(c.target, Target::Primary);
        assert_eq!(with("tls_ca=webpki_roots").tls_ca, TlsCa::WebpkiRoots);
        // pem_file is accepted with tls_roots and leaves the store default.
        let c = with("tls_ca=pem_file;tls_roots=/r.pem");
        assert_eq!(c.tls_ca, TlsCa::WebpkiRoots);
        assert_eq!(c.tls_roots, Some(PathBuf::from("/r.pem")));
        // Aliases.
        let c = with("user=bob;pass=secret");
        assert_eq!(c.username.as_deref(), Some("bob"));
        assert_eq!(c.password.as_deref(), Some("secret"));
        // auto_flush values.
        let c =
            with("auto_flush=on;auto_flush_rows=off;auto_flush_interval=250;auto_flush_bytes=off");
        assert!(c.auto_flush);
        assert_eq!(c.auto_flush_rows, None);
        assert_eq!(c.auto_flush_interval, Some(ms(250)));
        assert_eq!(c.auto_flush_bytes, None);
        assert_eq!(with("auto_flush_bytes=0").auto_flush_bytes, None);
        assert_eq!(with("auto_flush_bytes=100").auto_flush_bytes, Some(100));
        // Signed millisecond keys.
        assert_eq!(
            with("close_flush_timeout_millis=0").close_flush_timeout,
            Duration::ZERO
        );
        assert_eq!(
            with("close_flush_timeout_millis=7").close_flush_timeout,
            ms(7)
        );
        let c = with("durable_ack_keepalive_interval_millis=-5");
        assert_eq!(c.durable_ack_keepalive_interval, None);
        let c = with("durable_ack_keepalive_interval_millis=300");
        assert_eq!(c.durable_ack_keepalive_interval, Some(ms(300)));
        assert_eq!(
            with("failover_max_duration_ms=10").failover_max_duration,
            Some(ms(10))
        );
        assert_eq!(with("idle_timeout_ms=10").idle_timeout, Some(ms(10)));
        assert_eq!(with("max_lifetime_ms=10").max_lifetime, Some(ms(10)));
        // SF default cap depends on the mode.
        assert_eq!(with("sf_dir=/x").sf_max_total_bytes_or_default(), 10 << 30);
        // Schemes and their spellings.
        assert_eq!(parse("qwpws::addr=h").scheme, Scheme::Ws);
        assert_eq!(parse("qwpwss::addr=h").scheme, Scheme::Wss);
        assert_eq!(parse("wss::addr=h").addrs, vec![Addr::new("h", 9000)]);
        assert_eq!(Conf::default_port(Scheme::Wss), 9000);
        assert_eq!(Conf::default_port(Scheme::Ws), 9000);
        // FromStr.
        let c: Conf = "ws::addr=h:1".parse().unwrap();
        assert_eq!(c.addrs, vec![Addr::new("h", 1)]);
    }

    #[test]
    fn sizes() {
        for (v, n) in [
            ("0", 0u64),
            ("123", 123),
            ("1k", 1 << 10),
            ("1K", 1 << 10),
            ("2kb", 2 << 10),
            ("2KB", 2 << 10),
            ("3m", 3 << 20),
            ("3Mb", 3 << 20),
            ("4g", 4 << 30),
            ("4gB", 4 << 30),
            ("5t", 5 << 40),
            ("5TB", 5 << 40),
        ] {
            assert_eq!(
                with(&format!("initial_credit={v}")).initial_credit,
                n,
                "{v}"
            );
        }
        err_with(
            "init_buf_size=1x",
            &["init_buf_size=\"1x\"", "unknown size suffix"],
        );
        err_with(
            "init_buf_size=k",
            &["init_buf_size=\"k\"", "expected a size"],
        );
        err_with("init_buf_size=-1", &["init_buf_size=\"-1\""]);
        err_with("init_buf_size=1 k", &["init_buf_size=\"1 k\""]);
        err_with(
            "sf_max_total_bytes=99999999t",
            &["sf_max_total_bytes", "too large"],
        );
    }

    #[test]
    fn initial_connect_retry_modes_and_promotion() {
        use InitialConnectRetry::*;
        for (v, m) in [
            ("off", Off),
            ("false", Off),
            ("on", Sync),
            ("true", Sync),
            ("sync", Sync),
            ("async", Async),
        ] {
            assert_eq!(
                with(&format!("initial_connect_retry={v}")).initial_connect_retry,
                m
            );
        }
        for k in [
            "reconnect_initial_backoff_millis",
            "reconnect_max_backoff_millis",
            "reconnect_max_duration_millis",
        ] {
            assert_eq!(with(&format!("{k}=100")).initial_connect_retry, Sync, "{k}");
            let c = with(&format!("{k}=100;initial_connect_retry=off"));
            assert_eq!(c.initial_connect_retry, Off, "explicit wins for {k}");
            let c = with(&format!("initial_connect_retry=async;{k}=100"));
            assert_eq!(c.initial_connect_retry, Async);
        }
        err_with(
            "initial_connect_retry=maybe",
            &["initial_connect_retry=\"maybe\"", "async"],
        );
    }

    #[test]
    fn escaping() {
        assert_eq!(
            with("password=p;;ssw;;rd;").password.as_deref(),
            Some("p;ssw;rd")
        );
        assert_eq!(with("password=ab;;;").password.as_deref(), Some("ab;"));
        assert_eq!(with("password=ab;;").password.as_deref(), Some("ab;"));
        assert_eq!(with("password=;;").password.as_deref(), Some(";"));
        assert_eq!(with("password=;;;;;").password.as_deref(), Some(";;"));
        let c = with("password=ab;;;username=x");
        assert_eq!(c.password.as_deref(), Some("ab;"));
        assert_eq!(c.username.as_deref(), Some("x"));
        // Trailing `;` is optional; `=` inside a value is literal.
        assert_eq!(parse("ws::addr=h;zone=a=b").zone.as_deref(), Some("a=b"));
        assert_eq!(parse("ws::addr=h").addrs.len(), 1);
        // Non-ASCII values are fine.
        assert_eq!(with("zone=zürich").zone.as_deref(), Some("zürich"));
    }

    #[test]
    fn addresses() {
        let c = parse("ws::addr=a:1,b,c:3;addr=d;addr=[::1]:9001,[fe80::2];");
        assert_eq!(
            c.addrs,
            vec![
                Addr::new("a", 1),
                Addr::new("b", 9000),
                Addr::new("c", 3),
                Addr::new("d", 9000),
                Addr::new("::1", 9001),
                Addr::new("fe80::2", 9000),
            ]
        );
        assert_eq!(c.addrs[4].to_string(), "[::1]:9001");
        assert_eq!(c.addrs[0].to_string(), "a:1");
        assert_eq!(
            parse("wss::addr=10.0.0.1").addrs,
            vec![Addr::new("10.0.0.1", 9000)]
        );
        assert_eq!(parse("ws::addr=h:65535").addrs[0].port, 65535);

        for (addr, needles) in [
            ("a,,b", &["addr=\"\"", "empty entry"][..]),
            (",a", &["empty entry"]),
            ("a,", &["empty entry"]),
            ("a:0", &["addr=\"a:0\"", "invalid port"]),
            ("a:65536", &["addr=\"a:65536\"", "invalid port"]),
            ("a:x", &["addr=\"a:x\"", "invalid port"]),
            ("a:", &["addr=\"a:\"", "missing port"]),
            (":80", &["addr=\":80\"", "empty host"]),
            ("::1", &["addr=\"::1\"", "brackets"]),
            ("[::1", &["addr=\"[::1\"", "missing `]`"]),
            ("[nope]:1", &["addr=\"[nope]:1\"", "IPv6"]),
            ("[::1]x", &["addr=\"[::1]x\"", "expected `:port`"]),
            ("a b", &["addr=\"a b\"", "whitespace"]),
            (
                "a:1,b,a:1",
                &["addr=\"a:1,b,a:1\"", "duplicate addr entry: a:1"],
            ),
            ("a,A:9000", &["duplicate addr entry: A:9000"]),
            ("[::1],[0::1]:9000", &["duplicate addr entry: [0::1]:9000"]),
        ] {
            let e = err(&format!("ws::addr={addr};"));
            for n in needles {
                assert!(e.to_string().contains(n), "{addr}: {e} lacks {n}");
            }
        }
        let e = err("ws::addr=a:1;addr=a:1");
        assert!(e.to_string().contains("duplicate addr entry: a:1"), "{e}");
        let e = err("ws::addr=;");
        assert!(
            e.to_string().contains("addr=\"\": value must not be empty"),
            "{e}"
        );
        let e = err("ws::username=u;");
        assert!(e.to_string().contains("missing required key `addr`"), "{e}");
        let e = err("ws::");
        assert!(e.to_string().contains("missing required key `addr`"), "{e}");
    }

    #[test]
    fn grammar_errors() {
        let e = err("addr=h");
        assert!(e.to_string().contains("missing `::`"), "{e}");
        let e = err("ws::addr=h;foo=1");
        assert!(e.to_string().contains("unknown key `foo`"), "{e}");
        let e = err("ws::addr=h;Username=x");
        assert!(e.to_string().contains("unknown key `Username`"), "{e}");
        let e = err("ws::addr=h;=x");
        assert!(e.to_string().contains("empty key"), "{e}");
        // `;;` right after a value is an escaped `;` inside it, not a
        // separator: the host becomes "h;", which is invalid.
        let e = err("ws::addr=h;;");
        assert!(
            e.to_string()
                .contains("addr=\"h;\": invalid character in host"),
            "{e}"
        );
        let e = err("ws::addr=h;zone");
        assert!(e.to_string().contains("missing `=`"), "{e}");
        let e = err("ws::addr=h;password=a;bc;");
        let msg = e.to_string();
        assert!(msg.contains("missing `=`") && msg.contains(";;"), "{msg}");
        assert!(
            !msg.contains("bc"),
            "must not echo a possible secret: {msg}"
        );
        let e = err("ws::addr=h;zo-ne=x");
        assert!(
            e.to_string().contains("invalid character '-' in key"),
            "{e}"
        );
        let e = err("ws::addr=h;zone=");
        assert!(
            e.to_string().contains("zone=\"\": value must not be empty"),
            "{e}"
        );
        // Duplicates, including through an alias.
        err_with("zone=a;zone=b", &["zone=\"b\"", "more than once"]);
        err_with(
            "username=a;user=b",
            &["user=\"b\"", "duplicates `username`"],
        );
        err_with(
            "pass=a;password=b",
            &["password=\"<redacted>\"", "more than once"],
        );
    }

    #[test]
    fn control_characters() {
        for c in [
            '\u{0}', '\u{9}', '\n', '\u{1f}', '\u{7f}', '\u{85}', '\u{9f}',
        ] {
            let e = err(&format!("ws::addr=h;zone=a{c}b"));
            let code = format!("U+{:04X}", c as u32);
            assert!(e.to_string().contains("zone=\"a\""), "{e}");
            assert!(e.to_string().contains(&code), "{e}");
        }
        // Secrets are not echoed.
        let e = err("ws::addr=h;password=hunter2\n");
        assert!(!e.to_string().contains("hunter2"), "{e}");
        assert!(e.to_string().contains("password=\"<redacted>\""), "{e}");
        // U+00A0 is not a control character.
        assert_eq!(with("zone=a\u{a0}b").zone.as_deref(), Some("a\u{a0}b"));
    }

    #[test]
    fn schemes() {
        for s in ["http", "https", "tcp", "tcps", "udp"] {
            let e = err(&format!("{s}::addr=localhost:9000;"));
            assert_eq!(
                e.message(),
                format!("scheme {s} is not supported yet by questdb-arrow (use ws:: or wss::)")
            );
        }
        let e = err("wsx::addr=h");
        assert!(e.to_string().contains("unknown scheme \"wsx\""), "{e}");
        let e = err("WS::addr=h");
        assert!(e.to_string().contains("unknown scheme \"WS\""), "{e}");
        let e = err("::addr=h");
        assert!(e.to_string().contains("empty scheme"), "{e}");
    }

    #[test]
    fn validation_errors() {
        let cases: &[(&str, &[&str])] = &[
            (
                "auth_timeout_ms=abc",
                &["auth_timeout_ms=\"abc\"", "milliseconds"],
            ),
            ("auth_timeout_ms=-1", &["auth_timeout_ms=\"-1\""]),
            (
                "connect_timeout=0",
                &["connect_timeout=\"0\"", "greater than 0"],
            ),
            ("connect_timeout=x", &["connect_timeout=\"x\""]),
            ("tls_verify=off", &["tls_verify=\"off\"", "on, unsafe_off"]),
            ("tls_ca=mine", &["tls_ca=\"mine\"", "webpki_roots"]),
            (
                "tls_ca=pem_file",
                &["tls_ca=\"pem_file\"", "requires tls_roots"],
            ),
            (
                "tls_roots=/r.pem;tls_verify=unsafe_off",
                &["tls_roots=\"/r.pem\"", "unsafe_off"],
            ),
            (
                "tls_roots_password=x",
                &["tls_roots_password", "requires tls_roots"],
            ),
            ("token=t;username=u", &["token", "username/password"]),
            ("password=p;token=t", &["token", "username/password"]),
            ("auto_flush=yes", &["auto_flush=\"yes\"", "on or off"]),
            (
                "auto_flush_rows=0",
                &["auto_flush_rows=\"0\"", "at least 1"],
            ),
            ("auto_flush_rows=x", &["auto_flush_rows=\"x\""]),
            (
                "auto_flush_interval=0",
                &["auto_flush_interval=\"0\"", "greater than 0"],
            ),
            ("auto_flush_interval=1s", &["auto_flush_interval=\"1s\""]),
            ("auto_flush_bytes=1q", &["auto_flush_bytes=\"1q\""]),
            (
                "init_buf_size=2m;max_buf_size=1m",
                &["init_buf_size=\"2097152\"", "max_buf_size"],
            ),
            ("max_buf_size=0", &["max_buf_size=\"0\"", "greater than 0"]),
            ("max_name_len=0", &["max_name_len=\"0\"", "at least 1"]),
            ("max_name_len=99999999999999999999999", &["max_name_len"]),
            ("sender_id=a/b", &["sender_id=\"a/b\"", "letters, digits"]),
            ("sender_id=a.b", &["sender_id=\"a.b\""]),
            ("sender_id=a b", &["sender_id=\"a b\""]),
            (
                "sf_durability=flush",
                &["sf_durability=\"flush\"", "not supported"],
            ),
            (
                "sf_durability=append",
                &["sf_durability=\"append\"", "not supported"],
            ),
            (
                "sf_durability=disk",
                &["sf_durability=\"disk\"", "memory, periodic"],
            ),
            (
                "sf_durability=periodic",
                &["sf_durability=\"periodic\"", "requires sf_dir"],
            ),
            (
                "sf_sync_interval_millis=10",
                &["sf_sync_interval_millis=\"10\"", "sf_durability=periodic"],
            ),
            (
                "sf_dir=/d;sf_durability=memory;sf_sync_interval_millis=10",
                &["sf_sync_interval_millis", "periodic"],
            ),
            ("sf_max_segment_bytes=0", &["sf_max_segment_bytes=\"0\""]),
            ("sf_max_total_bytes=0", &["sf_max_total_bytes=\"0\""]),
            ("drain_orphans=1", &["drain_orphans=\"1\"", "on or off"]),
            (
                "max_background_drainers=99999999999",
                &["max_background_drainers", "too large"],
            ),
            ("transaction=true", &["transaction=\"true\""]),
            (
                "close_flush_timeout_millis=--1",
                &["close_flush_timeout_millis=\"--1\""],
            ),
            ("request_durable_ack=yes", &["request_durable_ack=\"yes\""]),
            (
                "durable_ack_keepalive_interval_millis=x",
                &["durable_ack_keepalive_interval_millis"],
            ),
            (
                "error_inbox_capacity=15",
                &["error_inbox_capacity=\"15\"", "at least 16"],
            ),
            (
                "connection_listener_inbox_capacity=0",
                &["connection_listener_inbox_capacity=\"0\""],
            ),
            (
                "on_server_error=ignore",
                &["on_server_error=\"ignore\"", "retriable_other"],
            ),
            ("on_schema_error=x", &["on_schema_error=\"x\""]),
            ("on_parse_error=x", &["on_parse_error=\"x\""]),
            ("on_internal_error=x", &["on_internal_error=\"x\""]),
            ("on_security_error=x", &["on_security_error=\"x\""]),
            ("on_write_error=x", &["on_write_error=\"x\""]),
            (
                "max_frame_rejections=0",
                &["max_frame_rejections=\"0\"", "at least 1"],
            ),
            (
                "poison_min_escalation_window_millis=x",
                &["poison_min_escalation_window_millis"],
            ),
            (
                "target=master",
                &["target=\"master\"", "any, primary, replica"],
            ),
            ("failover=x", &["failover=\"x\""]),
            (
                "failover_max_attempts=0",
                &["failover_max_attempts=\"0\"", "at least 1"],
            ),
            (
                "failover_backoff_initial_ms=x",
                &["failover_backoff_initial_ms=\"x\""],
            ),
            (
                "failover_backoff_max_ms=x",
                &["failover_backoff_max_ms=\"x\""],
            ),
            (
                "failover_max_duration_ms=x",
                &["failover_max_duration_ms=\"x\""],
            ),
            (
                "compression=gzip",
                &["compression=\"gzip\"", "raw, zstd, auto"],
            ),
            (
                "compression_level=0",
                &["compression_level=\"0\"", "between 1 and 22"],
            ),
            (
                "compression_level=23",
                &["compression_level=\"23\"", "between 1 and 22"],
            ),
            ("compression_level=-3", &["compression_level=\"-3\""]),
            ("compression_level=x", &["compression_level=\"x\""]),
            ("initial_credit=x", &["initial_credit=\"x\""]),
            (
                "max_batch_rows=0",
                &["max_batch_rows=\"0\"", "between 1 and 1048576"],
            ),
            ("max_batch_rows=1048577", &["max_batch_rows=\"1048577\""]),
            (
                "query_close_timeout_ms=0",
                &["query_close_timeout_ms=\"0\"", "greater than 0"],
            ),
            (
                "buffer_pool_size=0",
                &["buffer_pool_size=\"0\"", "at least 1"],
            ),
            (
                "sender_pool_min=5",
                &["sender_pool_min=\"5\"", "sender_pool_max"],
            ),
            (
                "sender_pool_max=0;sender_pool_min=0",
                &["sender_pool_max=\"0\""],
            ),
            (
                "query_pool_min=9;query_pool_max=8",
                &["query_pool_min=\"9\"", "query_pool_max"],
            ),
            ("query_pool_max=x", &["query_pool_max=\"x\""]),
            ("acquire_timeout_ms=x", &["acquire_timeout_ms=\"x\""]),
            ("idle_timeout_ms=x", &["idle_timeout_ms=\"x\""]),
            ("max_lifetime_ms=x", &["max_lifetime_ms=\"x\""]),
            (
                "housekeeper_interval_ms=0",
                &["housekeeper_interval_ms=\"0\""],
            ),
            ("lazy_connect=x", &["lazy_connect=\"x\""]),
            (
                "sf_append_deadline_millis=x",
                &["sf_append_deadline_millis=\"x\""],
            ),
            (
                "reconnect_max_backoff_millis=1.5",
                &["reconnect_max_backoff_millis=\"1.5\""],
            ),
            ("max_datagram_size=0", &["max_datagram_size=\"0\""]),
        ];
        for (extra, needles) in cases {
            err_with(extra, needles);
        }
    }

    #[test]
    fn debug_redacts_secrets() {
        let c = with("password=hunter2;tls_roots=/r;tls_roots_password=kspass");
        let d = format!("{c:?}");
        assert!(!d.contains("hunter2") && !d.contains("kspass"), "{d}");
        assert!(d.contains("password: Some(\"<redacted>\")"), "{d}");
        let d = format!("{:?}", with("token=tok123"));
        assert!(!d.contains("tok123"), "{d}");
        assert!(d.contains("token: Some(\"<redacted>\")"), "{d}");
        let e = err("ws::addr=h;token=abc;username=u");
        assert!(!e.to_string().contains("abc"), "{e}");
    }

    #[test]
    fn round_trip() {
        let inputs = [
            ALL_KEYS.to_owned(),
            "ws::addr=localhost".to_owned(),
            "ws::addr=a,[::1]:1;addr=b:2;token=x;;y;;;tls_verify=unsafe_off".to_owned(),
            "ws::addr=h;reconnect_max_backoff_millis=9".to_owned(),
            "ws::addr=h;reconnect_max_backoff_millis=9;initial_connect_retry=off".to_owned(),
            "ws::addr=h;initial_connect_retry=on;auto_flush_rows=off;auto_flush_bytes=1".to_owned(),
            "ws::addr=h;durable_ack_keepalive_interval_millis=0;close_flush_timeout_millis=0"
                .to_owned(),
            "ws::addr=h;sf_dir=/a;;b;sf_durability=periodic;auto_flush_interval=off".to_owned(),
        ];
        for s in &inputs {
            let c = parse(s);
            let out = c.to_conf_string();
            assert_eq!(parse(&out), c, "{s} -> {out}");
            assert_eq!(parse(&out).to_conf_string(), out);
        }
        let c = parse("ws::addr=h;token=x;;y;;;");
        assert_eq!(c.token.as_deref(), Some("x;y;"));
        assert_eq!(c.to_conf_string(), "ws::addr=h:9000;token=x;;y;;;");
        assert_eq!(
            parse("qwpwss::addr=[::1]").to_conf_string(),
            "wss::addr=[::1]:9000;"
        );
    }

    #[test]
    fn validate_programmatic() {
        let mut c = Conf::new(Scheme::Ws, vec![]);
        assert!(c.validate().unwrap_err().to_string().contains("addr"));
        c.addrs = vec![Addr::new("h", 1), Addr::new("H", 1)];
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("duplicate addr entry: H:1")
        );
        c.addrs.pop();
        assert!(c.validate().is_ok());
        c.compression_level = 30;
        let e = c.validate().unwrap_err();
        assert!(e.to_string().contains("compression_level=\"30\""), "{e}");
    }

    #[test]
    fn from_env() {
        use std::env::VarError;
        let e = Conf::from_env_value(ENV_VAR, Err(VarError::NotPresent)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.to_string().contains("QDB_CLIENT_CONF is not set"), "{e}");

        let c = Conf::from_env_value(ENV_VAR, Ok("wss::addr=db:1234;username=u;".into())).unwrap();
        assert_eq!(c.scheme, Scheme::Wss);
        assert_eq!(c.addrs, vec![Addr::new("db", 1234)]);
        assert_eq!(c.username.as_deref(), Some("u"));

        let e = Conf::from_env_value(ENV_VAR, Ok("ws::addr=db;bogus=1".into())).unwrap_err();
        assert!(e.to_string().contains("QDB_CLIENT_CONF"), "{e}");
        assert!(e.to_string().contains("unknown key `bogus`"), "{e}");

        let bad = VarError::NotUnicode(std::ffi::OsString::from("x"));
        let e = Conf::from_env_value(ENV_VAR, Err(bad)).unwrap_err();
        assert!(e.to_string().contains("not valid UTF-8"), "{e}");
    }
}
