//! The crate's one error type.
//!
//! Every fallible call returns [`Error`]. Match on [`Error::kind`] to decide
//! what to do; read the message (or [`Display`](std::fmt::Display)) to learn
//! what went wrong — it names the key, table, column, row, offset or server
//! status involved.

use std::fmt;

mod status;

pub use status::Status;

/// What kind of failure an [`Error`] is. Stable to match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The connect string or an option is invalid (names the key and value).
    Config,
    /// A socket or file operation failed.
    Io,
    /// TLS setup or the TLS handshake failed (bad roots file, untrusted
    /// certificate, ...).
    Tls,
    /// The server refused the credentials (HTTP 401 or 403). Terminal: the
    /// same credentials will not work on any other endpoint either.
    Auth,
    /// The server refused the upgrade because of its replication role
    /// (HTTP 421 with `X-QuestDB-Role`). Try another endpoint.
    RoleReject,
    /// The WebSocket upgrade failed for another reason (an unexpected HTTP
    /// status such as 404 or 503, malformed QWP headers). Worth another
    /// endpoint or a later attempt.
    Handshake,
    /// The server speaks no QWP version this client does, or lacks what the
    /// connect string requires (durable acknowledgements). Terminal: the
    /// connect walk stops and reconnects do not retry it.
    Incompatible,
    /// Bytes on the wire do not follow QWP: a decoder met a malformed frame.
    /// The message says what was wrong and at which byte offset.
    Protocol,
    /// The server rejected a request with a QWP status code; see
    /// [`Error::status`].
    Server,
    /// An Arrow type, value or schema cannot be sent or received as asked
    /// (names the column, its type and the fix).
    Unsupported,
    /// A value in the data is invalid for its column (names the row).
    InvalidData,
    /// A connect, read or acknowledgement deadline passed.
    Timeout,
    /// The connection was closed (by the peer or earlier by us).
    Closed,
    /// A [`QuestDb`](crate::client::QuestDb) connection pool was at its cap
    /// (`sender_pool_max` / `query_pool_max`, borrowed connections
    /// included) and no connection came back within `acquire_timeout_ms`
    /// (none by default: borrowing at the cap fails at once). The message
    /// names the pool, the cap and the key to raise. Not a server failure:
    /// return borrowed connections sooner or size the pool to the peak
    /// number of concurrent borrows.
    PoolExhausted,
    /// A bug in this crate: one of its background threads panicked. The
    /// message carries the panic's text.
    Internal,
}

impl ErrorKind {
    /// A short lowercase name for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Config => "config error",
            ErrorKind::Io => "i/o error",
            ErrorKind::Tls => "tls error",
            ErrorKind::Auth => "authentication failed",
            ErrorKind::RoleReject => "role reject",
            ErrorKind::Handshake => "handshake failed",
            ErrorKind::Incompatible => "incompatible server",
            ErrorKind::Protocol => "protocol error",
            ErrorKind::Server => "server error",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::InvalidData => "invalid data",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Closed => "connection closed",
            ErrorKind::PoolExhausted => "connection pool exhausted",
            ErrorKind::Internal => "internal error",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The boxed source of an [`Error`].
type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The error of every fallible call in this crate.
///
/// One pointer wide (its data lives behind one `Box`), so `Result<T>` stays
/// small on the hot paths. [`std::error::Error::source`] returns the
/// underlying error (an `io::Error`, `ArrowError`, tungstenite or rustls
/// error, ...) when there is one; [`Display`](fmt::Display) prints the
/// kind, the message and then the source's text.
pub struct Error(Box<Inner>);

struct Inner {
    kind: ErrorKind,
    msg: String,
    status: Option<Status>,
    offset: Option<usize>,
    /// For [`ErrorKind::RoleReject`]: the role and zone the server named.
    role: Option<Box<(Option<String>, Option<String>)>>,
    /// For a request an ILP/HTTP server refused: its status and JSON error.
    http: Option<Box<crate::protocol::ilp::http::IlpServerError>>,
    source: Option<Source>,
}

/// The text of a panic payload.
pub(crate) fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a text message".into()
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error of `kind` with a message giving the context.
    pub fn new(kind: ErrorKind, msg: impl Into<String>) -> Self {
        Error(Box::new(Inner {
            kind,
            msg: msg.into(),
            status: None,
            offset: None,
            role: None,
            http: None,
            source: None,
        }))
    }

    /// A new error of `kind` whose cause is `source`; `msg` says what was
    /// being done (the source's text follows it in `Display`).
    pub fn wrap(
        kind: ErrorKind,
        msg: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        let mut e = Error::new(kind, msg);
        e.0.source = Some(source.into());
        e
    }

    /// An Arrow error with `msg` giving the context. The kind follows the
    /// cause: [`ErrorKind::Io`] for an Arrow I/O error (or an `io::Error`
    /// inside an external error), this crate's own error unchanged (with
    /// `msg` as context) when Arrow carried one, else `fallback`. The
    /// `ArrowError` stays the [`source`](std::error::Error::source).
    pub fn arrow(fallback: ErrorKind, msg: impl Into<String>, e: arrow::error::ArrowError) -> Self {
        use arrow::error::ArrowError;
        let msg = msg.into();
        match e {
            ArrowError::ExternalError(inner) => match inner.downcast::<Error>() {
                Ok(ours) => {
                    if msg.is_empty() {
                        *ours
                    } else {
                        ours.context(msg)
                    }
                }
                Err(other) => {
                    let kind = if other.is::<std::io::Error>() {
                        ErrorKind::Io
                    } else {
                        fallback
                    };
                    Error::wrap(kind, msg, ArrowError::ExternalError(other))
                }
            },
            e @ ArrowError::IoError(..) => Error::wrap(ErrorKind::Io, msg, e),
            e => Error::wrap(fallback, msg, e),
        }
    }

    /// A [`ErrorKind::Config`] error naming the key and the bad value.
    pub fn config(key: &str, value: &str, why: impl fmt::Display) -> Self {
        Error::new(ErrorKind::Config, format!("{key}={value:?}: {why}"))
    }

    /// A [`ErrorKind::Protocol`] error at byte `offset` of the frame.
    pub fn protocol(offset: usize, what: impl Into<String>) -> Self {
        let mut e = Error::new(ErrorKind::Protocol, what);
        e.0.offset = Some(offset);
        e
    }

    /// A [`ErrorKind::Server`] rejection carrying the server's status.
    pub fn server(status: Status, msg: impl Into<String>) -> Self {
        let mut e = Error::new(ErrorKind::Server, msg);
        e.0.status = Some(status);
        e
    }

    /// A [`ErrorKind::RoleReject`]: the server (HTTP 421 with
    /// `X-QuestDB-Role`, or its SERVER_INFO) has a role that cannot serve
    /// the request; `role` and `zone` as the server named them.
    pub fn role_reject(role: Option<String>, zone: Option<String>, msg: impl Into<String>) -> Self {
        let mut e = Error::new(ErrorKind::RoleReject, msg);
        e.0.role = Some(Box::new((role, zone)));
        e
    }

    /// A request an ILP/HTTP server refused: [`ErrorKind::Auth`] for 401
    /// and 403, [`ErrorKind::Server`] otherwise; `msg` gives the context
    /// and the server's error follows it.
    pub fn ilp_http(e: crate::protocol::ilp::http::IlpServerError, msg: impl fmt::Display) -> Self {
        let kind = match e.status {
            401 | 403 => ErrorKind::Auth,
            _ => ErrorKind::Server,
        };
        let mut err = Error::new(kind, format!("{msg}: {e}"));
        err.0.http = Some(Box::new(e));
        err
    }

    /// For a request an ILP/HTTP server refused: the HTTP status, and the
    /// message, line and ids of its JSON error.
    pub fn ilp_server_error(&self) -> Option<&crate::protocol::ilp::http::IlpServerError> {
        self.0.http.as_deref()
    }

    /// For [`ErrorKind::RoleReject`] errors: the role the server named
    /// (`"REPLICA"`, `"PRIMARY_CATCHUP"`, …), when it named one.
    pub fn role(&self) -> Option<&str> {
        self.0.role.as_ref().and_then(|r| r.0.as_deref())
    }

    /// For [`ErrorKind::RoleReject`] errors: the zone the server named.
    pub fn zone(&self) -> Option<&str> {
        self.0.role.as_ref().and_then(|r| r.1.as_deref())
    }

    /// An [`ErrorKind::Internal`] error for a thread of this crate that
    /// panicked (`what` names it), carrying the panic's text.
    pub(crate) fn panicked(what: &str, payload: &(dyn std::any::Any + Send)) -> Self {
        Error::new(
            ErrorKind::Internal,
            format!("{what} panicked: {}", panic_text(payload)),
        )
    }

    /// Attaches the underlying cause.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.0.source = Some(Box::new(source));
        self
    }

    /// Prefixes the message with more context (for example the table name).
    pub fn context(mut self, ctx: impl fmt::Display) -> Self {
        self.0.msg = if self.0.msg.is_empty() {
            ctx.to_string()
        } else {
            format!("{ctx}: {}", self.0.msg)
        };
        self
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The message, without the kind prefix and without the source's text.
    pub fn message(&self) -> &str {
        &self.0.msg
    }

    /// The server's status code, for [`ErrorKind::Server`] errors.
    pub fn status(&self) -> Option<Status> {
        self.0.status
    }

    /// For [`ErrorKind::Protocol`] errors: the byte offset in the frame where
    /// decoding failed.
    pub fn offset(&self) -> Option<usize> {
        self.0.offset
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = &self.0;
        write!(f, "{}", e.kind)?;
        if let Some(s) = e.status {
            write!(f, " ({s})")?;
        }
        if !e.msg.is_empty() {
            write!(f, ": {}", e.msg)?;
        }
        if let Some(o) = e.offset {
            write!(f, " (at byte {o})")?;
        }
        if let Some(src) = &e.source {
            write!(f, ": {src}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0
            .source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

/// [`ErrorKind::Timeout`] for a timed-out or would-block operation, else
/// [`ErrorKind::Io`]; the `io::Error` is the source.
impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        let kind = match e.kind() {
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => ErrorKind::Timeout,
            _ => ErrorKind::Io,
        };
        Error::wrap(kind, "", e)
    }
}

#[cfg(feature = "parquet")]
impl Error {
    /// A Parquet error with `msg` giving the context: [`ErrorKind::Io`] with
    /// the `io::Error` as source when the Parquet crate wrapped a file or
    /// socket error, this crate's own error or an Arrow error mapped as
    /// [`Error::arrow`] does, else `fallback` with the `ParquetError` as
    /// source.
    pub fn parquet(
        fallback: ErrorKind,
        msg: impl Into<String>,
        e: parquet::errors::ParquetError,
    ) -> Self {
        use parquet::errors::ParquetError;
        let msg = msg.into();
        let ParquetError::External(inner) = e else {
            return Error::wrap(fallback, msg, e);
        };
        let inner = match inner.downcast::<std::io::Error>() {
            Ok(io) => return Error::wrap(ErrorKind::Io, msg, *io),
            Err(other) => other,
        };
        let inner = match inner.downcast::<arrow::error::ArrowError>() {
            Ok(a) => return Error::arrow(fallback, msg, *a),
            Err(other) => other,
        };
        match inner.downcast::<Error>() {
            Ok(ours) if msg.is_empty() => *ours,
            Ok(ours) => ours.context(msg),
            Err(other) => Error::wrap(fallback, msg, ParquetError::External(other)),
        }
    }
}

/// See [`Error::parquet`]; the fallback kind is [`ErrorKind::InvalidData`].
#[cfg(feature = "parquet")]
impl From<parquet::errors::ParquetError> for Error {
    fn from(e: parquet::errors::ParquetError) -> Self {
        Error::parquet(ErrorKind::InvalidData, "", e)
    }
}

/// See [`Error::arrow`]; the fallback kind is [`ErrorKind::InvalidData`].
impl From<arrow::error::ArrowError> for Error {
    fn from(e: arrow::error::ArrowError) -> Self {
        Error::arrow(ErrorKind::InvalidData, "", e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_carries_context() {
        let e = Error::config("addr", "", "must not be empty");
        assert_eq!(e.kind(), ErrorKind::Config);
        assert_eq!(e.to_string(), "config error: addr=\"\": must not be empty");
        let e = Error::protocol(17, "truncated varint");
        assert_eq!(e.offset(), Some(17));
        assert!(e.to_string().contains("at byte 17"));
        let e = Error::server(Status::SchemaMismatch, "column x").context("table t");
        assert_eq!(e.status(), Some(Status::SchemaMismatch));
        assert!(e.to_string().contains("table t: column x"), "{e}");
    }

    #[test]
    fn error_is_one_pointer() {
        assert!(std::mem::size_of::<Error>() <= std::mem::size_of::<usize>());
        assert!(std::mem::size_of::<Result<()>>() <= std::mem::size_of::<usize>());
    }

    #[test]
    fn io_error_keeps_its_source() {
        use std::error::Error as _;
        let e = Error::from(std::io::Error::new(std::io::ErrorKind::NotFound, "gone"));
        assert_eq!(e.kind(), ErrorKind::Io);
        assert_eq!(e.to_string(), "i/o error: gone");
        let src = e.source().and_then(|s| s.downcast_ref::<std::io::Error>());
        assert_eq!(src.map(|s| s.kind()), Some(std::io::ErrorKind::NotFound));
        let e = e.context("opening x");
        assert_eq!(e.to_string(), "i/o error: opening x: gone");
        let e = Error::from(std::io::Error::new(std::io::ErrorKind::TimedOut, "slow"));
        assert_eq!(e.kind(), ErrorKind::Timeout);
    }

    #[test]
    fn arrow_error_keeps_its_source() {
        use arrow::error::ArrowError;
        use std::error::Error as _;
        let e = Error::arrow(
            ErrorKind::Protocol,
            "building the batch",
            ArrowError::InvalidArgumentError("lengths differ".into()),
        );
        assert_eq!(e.kind(), ErrorKind::Protocol);
        assert!(e.to_string().contains("building the batch: "), "{e}");
        assert!(e.to_string().contains("lengths differ"), "{e}");
        let src = e.source().and_then(|s| s.downcast_ref::<ArrowError>());
        assert!(
            matches!(src, Some(ArrowError::InvalidArgumentError(m)) if m == "lengths differ"),
            "{src:?}"
        );
        // An Arrow I/O error is an I/O error, its io::Error one level down.
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "no");
        let e = Error::from(ArrowError::from(io));
        assert_eq!(e.kind(), ErrorKind::Io);
        let io = e.source().and_then(|s| s.source());
        let io = io.and_then(|s| s.downcast_ref::<std::io::Error>());
        assert_eq!(
            io.map(|s| s.kind()),
            Some(std::io::ErrorKind::PermissionDenied)
        );
        // Our own error carried through Arrow comes back as itself.
        let ours = Error::server(Status::SchemaMismatch, "column x");
        let e = Error::arrow(
            ErrorKind::InvalidData,
            "batch 3",
            ArrowError::ExternalError(Box::new(ours)),
        );
        assert_eq!(e.kind(), ErrorKind::Server);
        assert_eq!(e.status(), Some(Status::SchemaMismatch));
        assert_eq!(e.message(), "batch 3: column x");
    }
}
