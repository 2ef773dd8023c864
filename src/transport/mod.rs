//! Blocking WebSocket transport for QWP: TCP, optional rustls TLS, the HTTP
//! upgrade with QWP's headers, and masked binary frames.
//!
//! This layer knows the protocol's constants (version, size limits, header
//! names) but nothing about Arrow or the message layouts: it moves whole
//! binary messages.
//!
//! - [`Connection::connect`] opens TCP (trying every resolved address, with
//!   `TCP_NODELAY`), runs the TLS handshake when [`ConnectOptions::tls`] is
//!   set, sends the upgrade request for a [`Route`] (`/write/v4` or
//!   `/read/v1`) and checks the answer: the negotiated version and the other
//!   `X-QWP-*` response headers end up in a [`Handshake`]; 401/403 become
//!   [`ErrorKind::Auth`], 421 [`ErrorKind::RoleReject`] (see
//!   [`rejected_role`]), other statuses [`ErrorKind::Handshake`].
//! - [`Connection::send_with`] writes one binary frame whose payload is
//!   masked while it is encoded into a reused send buffer (one pass; see
//!   [`write_client_frame`]).
//! - [`Connection::recv`] / [`Connection::recv_timeout`] return the next
//!   binary message, read by the crate's own frame reader into one reused
//!   buffer (no zeroing per read, no allocation per message; see
//!   [`frame::parse_server_header`]); pings are answered, a close frame is
//!   replied to and becomes [`ErrorKind::Closed`] with the code and reason.
//!   tungstenite only writes the upgrade request and parses the response.
//!
//! Sockets are blocking; every wait is bounded by a timeout the caller
//! chooses. The library never starts a thread.

pub mod frame;
pub mod tls;

mod close;
mod connection;
mod reader;
mod recv;
mod send;
mod stream;
mod upgrade;

use std::fmt;
use std::time::Duration;

use crate::error::Error;
#[cfg(doc)]
use crate::error::ErrorKind;
use crate::protocol::MAX_MESSAGE_BYTES;

pub use connection::Connection;
pub use frame::{MAX_CLIENT_HEADER_LEN, client_header_len, write_client_frame};
pub use send::FrameBuf;
pub use stream::Stream;
#[cfg(feature = "server")]
pub(crate) use stream::restart_on_eintr;
pub(crate) use stream::{open_stream, peek_idle};
pub use tls::{RootStore, TlsOptions};

/// Default (and minimum) receive limit for one message: the protocol's
/// 16 MiB ceiling plus 64 KiB of slack.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = MAX_MESSAGE_BYTES + 64 * 1024;
/// Default bound on writing the upgrade request and reading its response.
pub const DEFAULT_AUTH_TIMEOUT: Duration = Duration::from_secs(15);
/// The default `X-QWP-Client-Id`: `questdb-arrow/<crate version>`.
pub const DEFAULT_CLIENT_ID: &str = concat!("questdb-arrow/", env!("CARGO_PKG_VERSION"));

/// How the client authenticates on the upgrade request.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum Auth {
    /// No `Authorization` header.
    #[default]
    None,
    /// `Authorization: Basic base64(username:password)`.
    Basic {
        /// User name.
        username: String,
        /// Password.
        password: String,
    },
    /// `Authorization: Bearer <token>` (QuestDB Enterprise).
    Bearer(String),
}

impl fmt::Debug for Auth {
    /// Never prints the password or token.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &"<redacted>")
                .finish(),
            Auth::Bearer(_) => f.write_str("Bearer(<redacted>)"),
        }
    }
}

/// Which QWP endpoint to upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    /// Ingestion: `GET /write/v4`.
    Ingest,
    /// Queries: `GET /read/v1`.
    Query,
}

impl Route {
    /// The HTTP path of the upgrade request.
    pub fn path(self) -> &'static str {
        match self {
            Route::Ingest => "/write/v4",
            Route::Query => "/read/v1",
        }
    }
}

/// Everything needed to open one connection. Build with
/// [`ConnectOptions::new`] and adjust the public fields.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Host name or IP address (IPv6 with or without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// TLS (`wss`) settings; `None` (the default) for plain `ws`.
    pub tls: Option<TlsOptions>,
    /// Credentials for the upgrade request. Default: none.
    pub auth: Auth,
    /// Bound on establishing TCP, per resolved address. Default `None`: the
    /// operating system's limit.
    pub connect_timeout: Option<Duration>,
    /// Bound on each read and write of the TLS handshake and of the upgrade
    /// request/response (so also on the server's authentication). Default
    /// 15 s ([`DEFAULT_AUTH_TIMEOUT`]); must not be zero.
    pub auth_timeout: Duration,
    /// Read timeout of the open connection, used by [`Connection::recv`].
    /// Default `None`: wait forever.
    pub read_timeout: Option<Duration>,
    /// `X-QWP-Client-Id`. Default [`DEFAULT_CLIENT_ID`]; empty = not sent.
    pub client_id: String,
    /// Ingest only: send `X-QWP-Request-Durable-Ack: true` and fail the
    /// connect unless the server answers `X-QWP-Durable-Ack: enabled`.
    /// Default `false`.
    pub request_durable_ack: bool,
    /// Query only: `X-QWP-Accept-Encoding` (e.g. `"zstd;level=1,raw"`).
    /// Default `None` (raw).
    pub accept_encoding: Option<String>,
    /// Query only: `X-QWP-Max-Batch-Rows`. Default `None` (server default).
    pub max_batch_rows: Option<u32>,
    /// Largest message accepted from the server, in bytes. Default and
    /// minimum [`DEFAULT_MAX_MESSAGE_BYTES`]; smaller values are raised to it.
    pub max_message_bytes: usize,
    /// Local address the TCP socket is bound to before it connects
    /// (`bind_interface`). Default `None`: the operating system's choice.
    pub bind: Option<std::net::IpAddr>,
}

impl ConnectOptions {
    /// Options for `host:port` with the documented defaults: plain TCP, no
    /// auth, no connect or read timeout, 15 s auth timeout, client id
    /// `questdb-arrow/<version>`, no durable ack, raw encoding, server batch
    /// rows, 16 MiB + 64 KiB receive limit.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        ConnectOptions {
            host: host.into(),
            port,
            tls: None,
            auth: Auth::None,
            connect_timeout: None,
            auth_timeout: DEFAULT_AUTH_TIMEOUT,
            read_timeout: None,
            client_id: DEFAULT_CLIENT_ID.to_string(),
            request_durable_ack: false,
            accept_encoding: None,
            max_batch_rows: None,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            bind: None,
        }
    }

    /// `host:port`, with brackets around an IPv6 address.
    pub(crate) fn authority(&self) -> String {
        format!("{}:{}", bracket_host(&self.host), self.port)
    }
}

fn bracket_host(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// What the server's `101 Switching Protocols` response said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshake {
    /// Negotiated QWP version (`X-QWP-Version`; 1 when absent).
    pub version: u8,
    /// Ingest: the server's per-message cap in bytes
    /// (`X-QWP-Max-Batch-Size`), if advertised.
    pub max_batch_size: Option<usize>,
    /// Ingest: the server will send durable acks (`X-QWP-Durable-Ack:
    /// enabled`).
    pub durable_ack: bool,
    /// Query: the result-batch encoding the server chose
    /// (`X-QWP-Content-Encoding`); `None` means raw.
    pub content_encoding: Option<String>,
}

/// For an [`ErrorKind::RoleReject`] error from [`Connection::connect`], the
/// role the server named in `X-QuestDB-Role` (e.g. `"REPLICA"`,
/// `"PRIMARY_CATCHUP"`). `None` for other errors or when the server sent no
/// role.
/// The same as [`Error::role`].
pub fn rejected_role(err: &Error) -> Option<&str> {
    err.role()
}

fn route_name(route: Route) -> &'static str {
    match route {
        Route::Ingest => "ingest",
        Route::Query => "query",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn auth_debug_redacts() {
        let a = Auth::Basic {
            username: "u".into(),
            password: "secret".into(),
        };
        assert!(!format!("{a:?}").contains("secret"));
        assert!(!format!("{:?}", Auth::Bearer("tok".into())).contains("tok"));
    }

    #[test]
    fn role_is_a_field_of_the_error() {
        let e = Error::role_reject(
            Some("PRIMARY_CATCHUP".into()),
            Some("a".into()),
            "x: server answered HTTP 421",
        );
        assert_eq!(rejected_role(&e), Some("PRIMARY_CATCHUP"));
        let e = e.context("endpoint 2");
        assert_eq!(e.role(), Some("PRIMARY_CATCHUP"));
        assert_eq!(e.zone(), Some("a"));
        assert_eq!(
            rejected_role(&Error::new(ErrorKind::Auth, "server role X")),
            None
        );
    }
}
