//! The receive path: the next binary message, within a read timeout or
//! by polling.

use std::io;
use std::time::Duration;

use tungstenite::{Bytes, Message};

use super::Connection;
use super::close::describe_close;
use crate::error::{Error, ErrorKind, Result};

impl Connection {
    /// Receives the next binary message, waiting at most the read timeout
    /// (set by [`ConnectOptions::read_timeout`] or
    /// [`Connection::set_read_timeout`]).
    ///
    /// Pings are answered and pongs skipped. A text message is an
    /// [`ErrorKind::Protocol`] error; a close frame gives
    /// [`ErrorKind::Closed`] with its code and reason in the message; a
    /// passed deadline gives [`ErrorKind::Timeout`] (the connection stays
    /// usable).
    pub fn recv(&mut self) -> Result<Vec<u8>> {
        match self.recv_inner()? {
            Some(msg) => Ok(Vec::from(msg)),
            None => Err(Error::new(
                ErrorKind::Timeout,
                format!(
                    "no message from {} within the read timeout {:?}",
                    self.peer,
                    self.read_timeout.unwrap_or_default()
                ),
            )),
        }
    }

    /// Like [`Connection::recv`] but waits at most `timeout` for this call
    /// (`None`: without limit; zero: only what has already arrived) and
    /// returns `Ok(None)` when it passes. For polling acknowledgements.
    pub fn recv_timeout(&mut self, timeout: Option<Duration>) -> Result<Option<Vec<u8>>> {
        Ok(self.recv_bytes_timeout(timeout)?.map(Vec::from))
    }

    /// [`Connection::recv_timeout`] giving the message as received: the
    /// WebSocket layer's buffer, not a copy (the query's receiving thread
    /// hands it on to decoding as it is).
    pub(crate) fn recv_bytes_timeout(
        &mut self,
        timeout: Option<Duration>,
    ) -> Result<Option<Bytes>> {
        let poll = matches!(timeout, Some(d) if d.is_zero());
        {
            let tcp = self.ws.get_ref().tcp();
            let set = if poll {
                tcp.set_nonblocking(true)
            } else {
                tcp.set_read_timeout(timeout)
            };
            set.map_err(|e| self.io_error(e, "setting the read timeout"))?;
        }
        let res = self.recv_inner();
        let tcp = self.ws.get_ref().tcp();
        let restore = if poll {
            tcp.set_nonblocking(false)
        } else {
            tcp.set_read_timeout(self.read_timeout)
        };
        let msg = res?;
        restore.map_err(|e| self.io_error(e, "restoring the read timeout"))?;
        Ok(msg)
    }

    /// Next binary message; `None` when the read deadline passed.
    pub(super) fn recv_inner(&mut self) -> Result<Option<Bytes>> {
        loop {
            match self.ws.read() {
                Ok(Message::Binary(b)) => return Ok(Some(b)),
                Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => {}
                Ok(Message::Text(t)) => {
                    return Err(Error::new(
                        ErrorKind::Protocol,
                        format!(
                            "{} sent a text message of {} bytes; QWP uses binary messages only",
                            self.peer,
                            t.len()
                        ),
                    ));
                }
                Ok(Message::Close(frame)) => {
                    // Best effort: let the queued close reply go out.
                    let _ = self.ws.flush();
                    return Err(Error::new(
                        ErrorKind::Closed,
                        format!(
                            "{} closed the connection: {}",
                            self.peer,
                            describe_close(frame.as_ref())
                        ),
                    ));
                }
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Ok(None);
                }
                Err(e) => return Err(self.ws_error(e, "receiving")),
            }
        }
    }
}
