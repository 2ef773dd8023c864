//! How a failed or closed connection is described: WebSocket errors as
//! [`Error`]s, and the server's close code and reason as text.

use std::io;

use tungstenite::protocol::frame::CloseFrame;

use super::Connection;
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

    pub(super) fn ws_error(&self, e: tungstenite::Error, doing: &str) -> Error {
        use tungstenite::error::ProtocolError as P;
        let ctx = format!("{doing} on the connection to {}", self.peer);
        match e {
            tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => Error::new(
                ErrorKind::Closed,
                format!("{ctx}: the connection is closed"),
            ),
            tungstenite::Error::Protocol(P::ResetWithoutClosingHandshake) => Error::new(
                ErrorKind::Closed,
                format!("{ctx}: the server dropped the connection without a close frame"),
            ),
            tungstenite::Error::Io(e) => match e.kind() {
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
            },
            tungstenite::Error::Capacity(c) => {
                Error::new(ErrorKind::Protocol, format!("{ctx}: {c}"))
            }
            other => Error::new(ErrorKind::Protocol, ctx).with_source(other),
        }
    }
}

/// "code 1009 (message too big), reason \"...\"".
pub(super) fn describe_close(frame: Option<&CloseFrame>) -> String {
    let Some(f) = frame else {
        return "no close code".to_string();
    };
    let code = u16::from(f.code);
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
        use tungstenite::protocol::frame::coding::CloseCode;
        let f = CloseFrame {
            code: CloseCode::Size,
            reason: "too big".into(),
        };
        assert_eq!(
            describe_close(Some(&f)),
            "code 1009 (message too big), reason \"too big\""
        );
        assert_eq!(describe_close(None), "no close code");
    }
}
