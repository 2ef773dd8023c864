//! The typed values of connect-string keys: schemes, enums and `addr`
//! entries.

use std::fmt;
use std::net::Ipv6Addr;

use super::grammar::parse_digits;
use crate::{Error, Result};

/// The default port of `ws`, `wss`, `http` and `https` (QuestDB's HTTP
/// port).
pub const DEFAULT_PORT: u16 = 9000;

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
            pub(crate) fn from_conf(key: &str, value: &str) -> Result<Self> {
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
    /// The connect-string scheme: QWP over WebSocket (`ws`, `wss`) or ILP
    /// (InfluxDB line protocol) over HTTP (`http`, `https`) or TCP (`tcp`,
    /// `tcps`).
    Scheme {
        /// Plain WebSocket (`ws::`, also spelled `qwpws::`).
        Ws => "ws",
        /// WebSocket over TLS (`wss::`, also spelled `qwpwss::`).
        Wss => "wss",
        /// ILP over HTTP (`http::`): write-only, one request per flush.
        Http => "http",
        /// ILP over HTTPS (`https::`).
        Https => "https",
        /// ILP over plain TCP (`tcp::`): write-only, fire and forget.
        Tcp => "tcp",
        /// ILP over TCP with TLS (`tcps::`).
        Tcps => "tcps",
    }
}

/// The default port of `tcp` and `tcps` (QuestDB's ILP/TCP port).
pub const DEFAULT_TCP_PORT: u16 = 9009;

/// Which protocol and transport a [`Scheme`] speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// QWP over WebSocket (`ws`, `wss`).
    Ws,
    /// ILP over HTTP (`http`, `https`).
    Http,
    /// ILP over TCP (`tcp`, `tcps`).
    Tcp,
}

impl Transport {
    /// The schemes of this transport, for messages (`ws:: or wss::`).
    pub fn schemes(self) -> &'static str {
        match self {
            Transport::Ws => "ws:: or wss::",
            Transport::Http => "http:: or https::",
            Transport::Tcp => "tcp:: or tcps::",
        }
    }
}

impl Scheme {
    /// Whether this scheme uses TLS.
    pub fn is_tls(self) -> bool {
        matches!(self, Scheme::Wss | Scheme::Https | Scheme::Tcps)
    }

    /// The transport it speaks.
    pub fn transport(self) -> Transport {
        match self {
            Scheme::Ws | Scheme::Wss => Transport::Ws,
            Scheme::Http | Scheme::Https => Transport::Http,
            Scheme::Tcp | Scheme::Tcps => Transport::Tcp,
        }
    }

    /// Whether it speaks ILP (`http`, `https`, `tcp`, `tcps`): write-only.
    pub fn is_ilp(self) -> bool {
        self.transport() != Transport::Ws
    }

    /// The port used for `addr` entries without one: 9000 (QuestDB's HTTP
    /// port) for `ws`, `wss`, `http`, `https`; 9009 for `tcp`, `tcps`.
    pub fn default_port(self) -> u16 {
        match self.transport() {
            Transport::Tcp => DEFAULT_TCP_PORT,
            _ => DEFAULT_PORT,
        }
    }
}

conf_enum! {
    /// The ILP protocol version (`protocol_version`; ILP schemes only).
    ProtocolVersion {
        /// Ask the server (`GET /settings`) and use the highest version both
        /// sides support (`auto`; HTTP only, the HTTP default).
        Auto => "auto",
        /// Version 1: text only (`1`; the TCP default).
        V1 => "1",
        /// Version 2: binary doubles, arrays (`2`; QuestDB 9.0.0+).
        V2 => "2",
        /// Version 3: decimals (`3`; QuestDB 9.2.0+).
        V3 => "3",
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
        /// `on_server_error`'s value for a category key; each category's
        /// default for `on_server_error` itself (`auto`).
        Auto => "auto",
        /// Stop the ingest with the error (`terminal`).
        Terminal => "terminal",
        /// Reconnect, the same endpoint first, and resend what is not
        /// committed (`retriable`).
        Retriable => "retriable",
        /// Reconnect to the next endpoint and resend (`retriable_other`).
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

conf_enum! {
    /// How idle pooled connections are closed (`pool_reap`).
    PoolReap {
        /// A background reaper closes them (`auto`).
        Auto => "auto",
        /// Only `reap_idle()` does (`manual`).
        Manual => "manual",
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
    pub(crate) fn parse(entry: &str, default_port: u16) -> Result<Addr> {
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
    pub(crate) fn dedup_key(&self) -> (String, u16) {
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
