//! The send path: whole masked binary frames written from a reused
//! buffer, and what a failed write means.

use std::io::{self, Write};
use std::time::Duration;

use super::close::describe_close;
use super::frame::{self, ClientFrame, client_header_len};
use super::reader::Incoming;
use super::stream::{Wait, tls_cause};
use super::{Connection, Stream};
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::Out;

/// How long [`Connection::pending_close`] reads for the server's close
/// frame.
const GRACE: Duration = Duration::from_millis(200);

/// A reusable buffer holding one masked client frame, built off the
/// connection (e.g. on another thread) and sent with
/// [`Connection::send_frame`]. It keeps its high-water length, so reuse
/// costs no zeroing pass.
#[derive(Debug, Default)]
pub struct FrameBuf {
    buf: Vec<u8>,
    len: usize,
    payload_len: usize,
}

impl FrameBuf {
    /// Builds a frame with a fresh random mask key whose payload is exactly
    /// `payload_len` bytes written by `fill` (masked while it is copied).
    pub fn build(&mut self, payload_len: usize, fill: impl FnOnce(&mut Out<'_>)) -> Result<()> {
        let total = client_header_len(payload_len) + payload_len;
        if self.buf.len() < total {
            self.buf.resize(total, 0);
        }
        self.len = 0;
        frame::encode_into(&mut self.buf[..total], rand::random(), payload_len, fill)?;
        self.len = total;
        self.payload_len = payload_len;
        Ok(())
    }

    /// The frame bytes (empty before the first successful build).
    pub fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Payload bytes of the frame (the QWP message size).
    pub fn payload_len(&self) -> usize {
        self.payload_len
    }
}

impl Connection {
    /// Sends one binary message of `payload_len` bytes, written by `fill`
    /// straight into the send buffer and masked on the way (one pass).
    ///
    /// `fill` must write exactly `payload_len` bytes: more panics, fewer
    /// panics in debug builds and is an [`ErrorKind::Protocol`] error (with
    /// nothing sent) otherwise. The send buffer is reused across calls.
    ///
    /// Send failures: [`ErrorKind::Closed`] when the server closed or reset
    /// the connection (e.g. after a close 1009 for a message over its
    /// `X-QWP-Max-Batch-Size`), [`ErrorKind::Io`] otherwise. After a failed
    /// send the connection is unusable.
    pub fn send_with(&mut self, payload_len: usize, fill: impl FnOnce(&mut Out<'_>)) -> Result<()> {
        self.check_writable()?;
        let total = client_header_len(payload_len) + payload_len;
        if self.send_buf.len() < total {
            self.send_buf.resize(total, 0);
        }
        let key: [u8; 4] = rand::random();
        frame::encode_into(&mut self.send_buf[..total], key, payload_len, fill)?;
        let res = write_out(&mut self.stream, &mut self.pending, &self.send_buf[..total]);
        self.sent(res, payload_len)
    }

    /// Sends a whole client frame built by [`FrameBuf::build`] (a masked
    /// binary WebSocket frame), for callers that encode the next frame while
    /// this one is being written. Errors as [`Connection::send_with`].
    pub fn send_frame(&mut self, frame: &FrameBuf) -> Result<()> {
        self.check_writable()?;
        let res = write_out(&mut self.stream, &mut self.pending, frame.bytes());
        self.sent(res, frame.payload_len)
    }

    /// Sends a whole client frame built elsewhere with
    /// [`write_client_frame`](super::write_client_frame) (e.g. queued by a
    /// publisher): as it is, or with `rekey` under a fresh mask key, for a
    /// frame that may have gone out before (a replay): no frame is sent
    /// twice with one key. Errors as [`Connection::send_with`].
    pub fn send_client_frame(&mut self, frame: ClientFrame<'_>, rekey: bool) -> Result<()> {
        self.check_writable()?;
        let res = if rekey {
            write_pending(&mut self.stream, &mut self.pending).and_then(|()| {
                frame::write_rekeyed(&mut self.stream, &mut self.send_buf, rand::random(), frame)
            })
        } else {
            write_out(&mut self.stream, &mut self.pending, frame.bytes())
        };
        self.sent(res, frame.masked_payload().len())
    }

    /// The outcome of a frame write: after a failure the connection is
    /// unusable (part of a frame may be on the wire).
    fn sent(&mut self, res: io::Result<()>, payload_len: usize) -> Result<()> {
        res.map_err(|e| {
            self.dead = Some("an earlier send failed part-way");
            self.send_error(e, payload_len)
        })
    }

    /// Sends `payload` as one binary message (errors as
    /// [`Connection::send_with`]). A large payload is masked and written
    /// 128 KiB at a time, so the socket copies masked bytes that are still
    /// in the cache.
    pub fn send(&mut self, payload: &[u8]) -> Result<()> {
        if payload.len() <= frame::SEND_CHUNK {
            return self.send_with(payload.len(), |out| out.put(payload));
        }
        self.check_writable()?;
        // Anything queued (pongs) goes out before our frame.
        let res = write_pending(&mut self.stream, &mut self.pending).and_then(|()| {
            frame::write_masked(
                &mut self.stream,
                &mut self.send_buf,
                rand::random(),
                payload,
            )
        });
        self.sent(res, payload.len())
    }

    /// Error for a failed raw frame write; tries to learn the server's close
    /// reason (a 1009 close usually arrives just before the reset).
    pub(super) fn send_error(&mut self, e: io::Error, payload_len: usize) -> Error {
        let what = format!("sending a {payload_len}-byte message to {}", self.peer);
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                Error::new(ErrorKind::Timeout, format!("{what}: write timed out")).with_source(e)
            }
            io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::UnexpectedEof => {
                let close = self.pending_close();
                let msg = match close {
                    Some(c) => format!("{what}: the server closed the connection: {c}"),
                    None => format!("{what}: the server closed the connection"),
                };
                Error::new(ErrorKind::Closed, msg).with_source(e)
            }
            _ => match tls_cause(e) {
                Ok(tls) => Error::new(ErrorKind::Tls, what).with_source(tls),
                Err(e) => Error::new(ErrorKind::Io, what).with_source(e),
            },
        }
    }

    /// A close frame the server may have sent before dropping the
    /// connection, read within a short grace period ([`GRACE`]).
    pub(super) fn pending_close(&mut self) -> Option<String> {
        let tcp = self.stream.tcp();
        tcp.set_read_timeout(Some(GRACE)).ok()?;
        let mut found = None;
        for _ in 0..16 {
            match self.next_incoming(Wait::For(GRACE)) {
                Ok(Incoming::Close(frame)) => {
                    found = Some(describe_close(frame.as_ref()));
                    break;
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        let _ = self.stream.tcp().set_read_timeout(self.read_timeout);
        found
    }
}

/// Writes the queued control frames (pongs), if any.
fn write_pending(stream: &mut Stream, pending: &mut Vec<u8>) -> io::Result<()> {
    if !pending.is_empty() {
        stream.write_all(pending)?;
        pending.clear();
    }
    Ok(())
}

/// Writes the queued control frames (pongs), then `frame`, and flushes.
fn write_out(stream: &mut Stream, pending: &mut Vec<u8>, frame: &[u8]) -> io::Result<()> {
    write_pending(stream, pending)?;
    stream.write_all(frame)?;
    stream.flush()
}
