//! The receive path: the next binary message, within a read timeout or
//! by polling; pings answered on the way, a close frame replied to.

use std::io::{self, Write};
use std::time::Duration;

use super::Connection;
use super::close::{describe_close, would_block};
use super::frame::{OP_CLOSE, OP_PONG, push_control_frame};
use super::reader::{Incoming, RecvError};
use super::stream::Wait;
use crate::error::{Error, ErrorKind, Result};

impl Connection {
    /// Receives the next binary message, waiting at most the read timeout
    /// (set by [`ConnectOptions::read_timeout`](super::ConnectOptions::read_timeout)
    /// or [`Connection::set_read_timeout`]).
    ///
    /// Pings are answered and pongs skipped. A text message is an
    /// [`ErrorKind::Protocol`] error; a close frame gives
    /// [`ErrorKind::Closed`] with its code and reason in the message; a
    /// passed deadline gives [`ErrorKind::Timeout`] (the connection stays
    /// usable).
    pub fn recv(&mut self) -> Result<Vec<u8>> {
        if self.recv_inner(Wait::at_most(self.read_timeout))? {
            return Ok(self.reader.payload().to_vec());
        }
        Err(Error::new(
            ErrorKind::Timeout,
            format!(
                "no message from {} within the read timeout {:?}",
                self.peer,
                self.read_timeout.unwrap_or_default()
            ),
        ))
    }

    /// Like [`Connection::recv`] but waits at most `timeout` for this call
    /// (`None`: without limit; zero: only what has already arrived) and
    /// returns `Ok(None)` when it passes. For polling acknowledgements.
    pub fn recv_timeout(&mut self, timeout: Option<Duration>) -> Result<Option<Vec<u8>>> {
        Ok(self.recv_view_timeout(timeout)?.map(<[u8]>::to_vec))
    }

    /// [`Connection::recv_timeout`] giving the message in place: a view of
    /// the connection's read buffer (not a copy), valid until the next
    /// call on the connection.
    pub(crate) fn recv_view_timeout(&mut self, timeout: Option<Duration>) -> Result<Option<&[u8]>> {
        let poll = matches!(timeout, Some(d) if d.is_zero());
        // The socket holds the connection's read timeout between calls:
        // set (and restore) only a different one (a read per frame would
        // otherwise cost two more system calls).
        let other = !poll && timeout != self.read_timeout;
        {
            let tcp = self.stream.tcp();
            let set = if poll {
                tcp.set_nonblocking(true)
            } else if other {
                tcp.set_read_timeout(timeout)
            } else {
                Ok(())
            };
            set.map_err(|e| self.io_error(e, "setting the read timeout"))?;
        }
        let res = self.recv_inner(Wait::at_most(timeout));
        let tcp = self.stream.tcp();
        let restore = if poll {
            tcp.set_nonblocking(false)
        } else if other {
            tcp.set_read_timeout(self.read_timeout)
        } else {
            Ok(())
        };
        let got = res?;
        restore.map_err(|e| self.io_error(e, "restoring the read timeout"))?;
        if !self.pending.is_empty() {
            // A pong the polling socket could not take: blocking now.
            self.answer()?;
        }
        Ok(got.then(|| self.reader.payload()))
    }

    /// Reads until a binary message is in ([`FrameReader::payload`]
    /// (super::reader::FrameReader::payload)); `false` when the read
    /// deadline passed first. `wait` says how the socket is set to wait.
    pub(super) fn recv_inner(&mut self, wait: Wait) -> Result<bool> {
        const DOING: &str = "receiving";
        if self.closed {
            return Err(self.closed_error(DOING));
        }
        loop {
            match self.next_incoming(wait) {
                Ok(Incoming::Binary) => return Ok(true),
                Ok(Incoming::Ping) => {
                    let ping = self.reader.payload();
                    push_control_frame(&mut self.pending, OP_PONG, rand::random(), ping);
                    self.answer()?;
                }
                Ok(Incoming::Text(len)) => {
                    return Err(Error::new(
                        ErrorKind::Protocol,
                        format!(
                            "{} sent a text message of {len} bytes; QWP uses binary messages only",
                            self.peer,
                        ),
                    ));
                }
                Ok(Incoming::Close(frame)) => {
                    self.closed = true;
                    let code = frame.as_ref().map(|f| f.code.to_be_bytes());
                    let reply: &[u8] = code.as_ref().map_or(&[], |c| c);
                    push_control_frame(&mut self.pending, OP_CLOSE, rand::random(), reply);
                    // Best effort: the reply goes out if the socket takes it.
                    let _ = self.answer();
                    return Err(Error::new(
                        ErrorKind::Closed,
                        format!(
                            "{} closed the connection: {}",
                            self.peer,
                            describe_close(frame.as_ref())
                        ),
                    ));
                }
                Err(RecvError::Io(e)) if would_block(&e) => return Ok(false),
                Err(e) => return Err(self.recv_error(e, DOING)),
            }
        }
    }

    /// Writes the queued control frames (pongs, a close reply) as far as
    /// the socket takes them without blocking past its timeout; the rest
    /// goes out before the next frame sent. A failed write leaves the
    /// connection unusable.
    fn answer(&mut self) -> Result<()> {
        let res = (|| {
            while !self.pending.is_empty() {
                match self.stream.write(&self.pending) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => {
                        self.pending.drain(..n);
                    }
                    Err(e) if would_block(&e) => return Ok(()),
                    Err(e) => return Err(e),
                }
            }
            match self.stream.flush() {
                Err(e) if would_block(&e) => Ok(()),
                other => other,
            }
        })();
        res.map_err(|e| {
            self.dead = Some("an earlier send failed part-way");
            self.stream_error(e, "answering a ping")
        })
    }
}
