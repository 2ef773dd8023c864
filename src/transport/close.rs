//! How a failed or closed connection is described: socket and frame errors
//! as [`Error`]s, and the server's close code and reason as text.

use std::io;

use super::Connection;
use super::reader::{CloseFrame, RecvError};
use super::stream::tls_cause;
use crate::error::{Error, ErrorKind};

impl Connection {
    pub(super) fn io_error(&self, e: io::Error, doing: &str) -> Error {
        Error::new(
            ErrorKind::Io,
            format!("{doing} on the connection to {}", self.peer),
        )
        .with_source(e)
    }

    /// The error for a socket failure while `doing` something.
    pub(super) fn stream_error(&self, e: io::Error, doing: &str) -> Error {
        let ctx = format!("{doing} on the connection to {}", self.peer);
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                Error::new(ErrorKind::Timeout, ctx).with_source(e)
            }
            io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::UnexpectedEof => Error::new(
                ErrorKind::Closed,
                format!("{ctx}: the connection was dropped"),
            )
            .with_source(e),
            _ => match tls_cause(e) {
                Ok(tls) => Error::new(ErrorKind::Tls, ctx).with_source(tls),
                Err(e) => Error::new(ErrorKind::Io, ctx).with_source(e),
            },
        }
    }

    /// The error for a failed read of the server's frames.
    pub(super) fn recv_error(&self, e: RecvError, doing: &str) -> Error {
        let ctx = || format!("{doing} on the connection to {}", self.peer);
        match e {
            RecvError::Io(e) => self.stream_error(e, doing),
            RecvError::Eof => Error::new(
                ErrorKind::Closed,
                format!(
                    "{}: the server dropped the connection without a close frame",
                    ctx()
                ),
            ),
            RecvError::TooLong { size, max } => Error::new(
                ErrorKind::Protocol,
                format!("{}: Message too long: {size} > {max}", ctx()),
            ),
            RecvError::Frame(e) => Error::new(ErrorKind::Protocol, ctx()).with_source(e),
        }
    }

    /// The error for using a connection after a close frame.
    pub(super) fn closed_error(&self, doing: &str) -> Error {
        Error::new(
            ErrorKind::Closed,
            format!(
                "{doing} on the connection to {}: the connection is closed",
                self.peer
            ),
        )
    }
}

/// Whether a socket error only means that its timeout passed (or that a
/// non-blocking socket has nothing for now).
pub(super) fn would_block(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// "code 1009 (message too big), reason \"...\"".
pub(super) fn describe_close(frame: Option<&CloseFrame>) -> String {
    let Some(f) = frame else {
        return "no close code".to_string();
    };
    let code = f.code;
    let name = match code {
        1000 => " (normal closure)",
        1001 => " (going away)",
        1002 => " (protocol error)",
        1003 => " (unsupported data)",
        1007 => " (invalid payload)",
        1008 => " (policy violation)",
        1009 => " (message too big)",
        1011 => " (internal error)",
        _ => "",
    };
    if f.reason.is_empty() {
        format!("code {code}{name}")
    } else {
        format!("code {code}{name}, reason {:?}", f.reason.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_descriptions() {
        let f = CloseFrame {
            code: 1009,
            reason: "too big".into(),
        };
        assert_eq!(
            describe_close(Some(&f)),
            "code 1009 (message too big), reason \"too big\""
        );
        assert_eq!(describe_close(None), "no close code");
    }
}
