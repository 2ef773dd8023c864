//! The crate's one error type.
//!
//! Every fallible call returns [`Error`]. Match on [`Error::kind`] to decide
//! what to do; read the message (or [`Display`](std::fmt::Display)) to learn
//! what went wrong — it names the key, table, column, row, offset or server
//! status involved.

use std::fmt;

use crate::protocol::Status;

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
    /// The WebSocket upgrade failed for another reason (unexpected HTTP
    /// status, missing or unsupported protocol version, durable-ack mismatch).
    Handshake,
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
            ErrorKind::Protocol => "protocol error",
            ErrorKind::Server => "server error",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::InvalidData => "invalid data",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Closed => "connection closed",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of every fallible call in this crate.
pub struct Error {
    kind: ErrorKind,
    msg: String,
    status: Option<Status>,
    offset: Option<usize>,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error of `kind` with a message giving the context.
    pub fn new(kind: ErrorKind, msg: impl Into<String>) -> Self {
        Error {
            kind,
            msg: msg.into(),
            status: None,
            offset: None,
            source: None,
        }
    }

    /// A [`ErrorKind::Config`] error naming the key and the bad value.
    pub fn config(key: &str, value: &str, why: impl fmt::Display) -> Self {
        Error::new(ErrorKind::Config, format!("{key}={value:?}: {why}"))
    }

    /// A [`ErrorKind::Protocol`] error at byte `offset` of the frame.
    pub fn protocol(offset: usize, what: impl Into<String>) -> Self {
        let mut e = Error::new(ErrorKind::Protocol, what);
        e.offset = Some(offset);
        e
    }

    /// A [`ErrorKind::Server`] rejection carrying the server's status.
    pub fn server(status: Status, msg: impl Into<String>) -> Self {
        let mut e = Error::new(ErrorKind::Server, msg);
        e.status = Some(status);
        e
    }

    /// Attaches the underlying cause.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// Prefixes the message with more context (for example the table name).
    pub fn context(mut self, ctx: impl fmt::Display) -> Self {
        self.msg = format!("{ctx}: {}", self.msg);
        self
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message, without the kind prefix.
    pub fn message(&self) -> &str {
        &self.msg
    }

    /// The server's status code, for [`ErrorKind::Server`] errors.
    pub fn status(&self) -> Option<Status> {
        self.status
    }

    /// For [`ErrorKind::Protocol`] errors: the byte offset in the frame where
    /// decoding failed.
    pub fn offset(&self) -> Option<usize> {
        self.offset
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        if let Some(s) = self.status {
            write!(f, " ({s})")?;
        }
        write!(f, ": {}", self.msg)?;
        if let Some(o) = self.offset {
            write!(f, " (at byte {o})")?;
        }
        if let Some(src) = &self.source {
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
        self.source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        let kind = match e.kind() {
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => ErrorKind::Timeout,
            _ => ErrorKind::Io,
        };
        let msg = e.to_string();
        Error::new(kind, msg)
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
}
