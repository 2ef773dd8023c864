//! The server side of a connection's socket: plain TCP or TLS, with the
//! time bytes last moved (for the idle timeout) and the upgrade handshake's
//! deadline.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Instant;

use rustls::{ServerConfig, ServerConnection, StreamOwned};

use super::http_wire::ReadAppend;
use crate::error::{Error, ErrorKind, Result};

/// TCP or TLS server stream that notes when bytes last moved and, during
/// the upgrade, enforces the handshake deadline.
pub(crate) struct ServerStream {
    pub(super) io: StreamIo,
    /// When a read or write last moved bytes.
    pub(super) last_active: Instant,
    /// Reads fail with `TimedOut` after this (set until the upgrade is done).
    pub(super) deadline: Option<Instant>,
}

pub(super) enum StreamIo {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ServerConnection, TcpStream>>),
}

impl ServerStream {
    /// The server side of an accepted socket: with `tls` (the server's one
    /// TLS config, for every listener), after the TLS handshake, which must
    /// complete before `deadline`. Reads keep failing once `deadline` has
    /// passed until the caller clears [`ServerStream::deadline`].
    pub(super) fn accept(
        tcp: TcpStream,
        tls: Option<&Arc<ServerConfig>>,
        deadline: Instant,
    ) -> Result<ServerStream> {
        let io = match tls {
            Some(cfg) => {
                let conn = ServerConnection::new(cfg.clone())
                    .map_err(|e| Error::new(ErrorKind::Tls, e.to_string()))?;
                let mut s = StreamOwned::new(conn, tcp);
                while s.conn.is_handshaking() {
                    arm_deadline(&s.sock, deadline)
                        .and_then(|()| s.conn.complete_io(&mut s.sock))
                        .map_err(|e| Error::new(ErrorKind::Tls, e.to_string()))?;
                }
                StreamIo::Tls(Box::new(s))
            }
            None => StreamIo::Plain(tcp),
        };
        Ok(ServerStream {
            io,
            last_active: Instant::now(),
            deadline: Some(deadline),
        })
    }

    pub(crate) fn tcp(&self) -> &TcpStream {
        match &self.io {
            StreamIo::Plain(s) => s,
            StreamIo::Tls(s) => s.get_ref(),
        }
    }
}

/// Sets the socket read timeout to what is left until `deadline`.
pub(super) fn arm_deadline(tcp: &TcpStream, deadline: Instant) -> io::Result<()> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "upgrade handshake timed out",
        ));
    }
    tcp.set_read_timeout(Some(left))
}

impl Read for ServerStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(d) = self.deadline {
            arm_deadline(self.tcp(), d)?;
        }
        let n = crate::transport::restart_on_eintr(|| match &mut self.io {
            StreamIo::Plain(s) => s.read(buf),
            StreamIo::Tls(s) => s.read(buf),
        })?;
        if n > 0 {
            self.last_active = Instant::now();
        }
        Ok(n)
    }
}

impl ReadAppend for ServerStream {
    /// A plain socket's bytes go straight into `buf`'s spare capacity
    /// (the socket reads into uninitialised memory: no memset of the
    /// room per body); TLS goes through [`Read::read`].
    fn read_append(&mut self, buf: &mut Vec<u8>, limit: u64) -> io::Result<usize> {
        let StreamIo::Plain(s) = &mut self.io else {
            return Read::by_ref(self).take(limit).read_to_end(buf);
        };
        if let Some(d) = self.deadline {
            arm_deadline(s, d)?;
        }
        let before = buf.len();
        // `read_to_end` retries reads that were interrupted; bytes read
        // before an error stay in `buf`.
        let r = Read::by_ref(s).take(limit).read_to_end(buf);
        if buf.len() > before {
            self.last_active = Instant::now();
        }
        r
    }
}

impl Write for ServerStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = crate::transport::restart_on_eintr(|| match &mut self.io {
            StreamIo::Plain(s) => s.write(buf),
            StreamIo::Tls(s) => s.write(buf),
        })?;
        if n > 0 {
            self.last_active = Instant::now();
        }
        Ok(n)
    }
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let n = crate::transport::restart_on_eintr(|| match &mut self.io {
            StreamIo::Plain(s) => s.write_vectored(bufs),
            StreamIo::Tls(s) => s.write_vectored(bufs),
        })?;
        if n > 0 {
            self.last_active = Instant::now();
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        match &mut self.io {
            StreamIo::Plain(s) => s.flush(),
            StreamIo::Tls(s) => s.flush(),
        }
    }
}
