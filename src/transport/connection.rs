//! An open connection: opening it (TCP, TLS, upgrade), what it knows
//! about its peer, its timeouts and closing it. Sending is in `send.rs`,
//! receiving in `recv.rs`.

use std::fmt;
use std::io::{self, Write};
use std::time::{Duration, Instant};

use super::frame::{OP_CLOSE, push_control_frame};
use super::reader::{FrameReader, Incoming, RecvError};
use super::stream::{Reading, Wait, open_stream, peek_idle, socket_error};
use super::upgrade::{parse_handshake, perform_upgrade, upgrade_request};
use super::{ConnectOptions, DEFAULT_MAX_MESSAGE_BYTES, Handshake, Route, Stream, route_name};
use crate::error::{Error, ErrorKind, Result};

/// How long [`Connection::close`] waits for the server's close reply.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// An open QWP WebSocket connection (blocking). `Send`, not shared: use it
/// from one thread at a time.
pub struct Connection {
    pub(super) stream: Stream,
    /// Server frames, read into a reused buffer.
    pub(super) reader: FrameReader,
    /// Control frames (pongs, the close reply) not written yet; they go
    /// out before anything else.
    pub(super) pending: Vec<u8>,
    /// A close frame was received or sent: no more messages either way.
    pub(super) closed: bool,
    handshake: Handshake,
    pub(super) peer: String,
    /// Frame buffer, kept at its high-water length so it is never re-zeroed.
    pub(super) send_buf: Vec<u8>,
    pub(super) read_timeout: Option<Duration>,
    /// Set after a failed raw write (a partial frame may be on the wire) or
    /// after [`Connection::close`].
    pub(super) dead: Option<&'static str>,
    /// The receive low-water mark set on the socket (1: the default); see
    /// [`Reading`].
    low_water: usize,
}

const _: () = {
    const fn assert_send<T: Send>() {}
    assert_send::<Connection>();
};

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("peer", &self.peer)
            .field("tls", &matches!(self.stream, Stream::Tls(_)))
            .field("handshake", &self.handshake)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// Connects to `opts.host:opts.port`, upgrades `route` and checks the
    /// server's answer.
    ///
    /// Errors: [`ErrorKind::Io`] (resolve/connect failed),
    /// [`ErrorKind::Timeout`] (connect, TLS or upgrade deadline passed),
    /// [`ErrorKind::Tls`] (bad roots, untrusted certificate, ...),
    /// [`ErrorKind::Auth`] (HTTP 401/403), [`ErrorKind::RoleReject`] (HTTP
    /// 421, see [`rejected_role`](super::rejected_role)), [`ErrorKind::Handshake`] (other status,
    /// unsupported version, durable-ack mismatch), [`ErrorKind::Config`]
    /// (invalid option).
    ///
    /// ```no_run
    /// use questdb_arrow::transport::{ConnectOptions, Connection, Route};
    /// let opts = ConnectOptions::new("localhost", 9000);
    /// let (mut conn, hs) = Connection::connect(&opts, Route::Ingest)?;
    /// assert_eq!(hs.version, 1);
    /// conn.send(b"...")?;
    /// # Ok::<(), questdb_arrow::Error>(())
    /// ```
    pub fn connect(opts: &ConnectOptions, route: Route) -> Result<(Connection, Handshake)> {
        let peer = opts.authority();
        if opts.host.is_empty() {
            return Err(Error::config("host", "", "must not be empty"));
        }
        if opts.auth_timeout.is_zero() {
            return Err(Error::config("auth_timeout", "0", "must be positive"));
        }
        if matches!(opts.connect_timeout, Some(d) if d.is_zero()) {
            return Err(Error::config("connect_timeout", "0", "must be positive"));
        }
        if matches!(opts.read_timeout, Some(d) if d.is_zero()) {
            return Err(Error::config("read_timeout", "0", "must be positive"));
        }
        let request = upgrade_request(opts, route)?;
        let stream = open_stream(opts)?;
        let io_err = |e: io::Error| socket_error(&peer, e);

        let limit = opts.max_message_bytes.max(DEFAULT_MAX_MESSAGE_BYTES);
        let what = format!(
            "{} upgrade (GET {}) to {peer}",
            route_name(route),
            route.path()
        );
        let (stream, response, already_read) =
            perform_upgrade(stream, request, &what, opts.auth_timeout)?;
        let handshake = parse_handshake(response.headers(), opts, route, &what)?;

        let tcp = stream.tcp();
        tcp.set_read_timeout(opts.read_timeout).map_err(io_err)?;
        tcp.set_write_timeout(None).map_err(io_err)?;

        let conn = Connection {
            stream,
            reader: FrameReader::new(already_read, limit),
            pending: Vec::new(),
            closed: false,
            handshake: handshake.clone(),
            peer,
            send_buf: Vec::new(),
            read_timeout: opts.read_timeout,
            dead: None,
            low_water: 1,
        };
        Ok((conn, handshake))
    }

    /// What the server's upgrade response said.
    pub fn handshake(&self) -> &Handshake {
        &self.handshake
    }

    /// The server as `host:port` (as given in the options).
    pub fn peer(&self) -> String {
        self.peer.clone()
    }

    /// Whether the server is on this host (its address is loopback): the
    /// link is then faster than any encoder, which decides what is worth
    /// compressing.
    pub fn is_loopback(&self) -> bool {
        self.stream
            .tcp()
            .peer_addr()
            .is_ok_and(|a| a.ip().is_loopback())
    }

    /// Whether the connection is known to be gone, checked without reading
    /// anything and without blocking (for a pool, before it hands out an
    /// idle connection): it failed or was closed earlier, the server ended
    /// the TCP stream or reset it, or the next frame the server sent is a
    /// WebSocket close (under TLS: only when that frame was already read
    /// and decrypted). Pending data frames (e.g. late acknowledgements)
    /// leave it live.
    pub fn peer_gone(&self) -> bool {
        if self.dead.is_some() || self.closed {
            return true;
        }
        // A server frame starts with FIN/RSV bits and the opcode; 0x8 is a
        // close frame.
        let is_close = |b: u8| b & 0x0F == OP_CLOSE;
        let buffered = self.reader.buffered().first().copied();
        if buffered.is_some_and(is_close) {
            return true;
        }
        match peek_idle(self.stream.tcp()) {
            None => true,
            Some(None) => false,
            // Behind bytes already read, the socket's next byte may be in
            // the middle of a frame: only an ended stream counts then.
            Some(Some(b)) => {
                buffered.is_none() && matches!(self.stream, Stream::Plain(_)) && is_close(b)
            }
        }
    }

    /// Sets the read timeout used by [`Connection::recv`] (`None`: wait
    /// forever). A zero duration is an [`ErrorKind::Config`] error.
    pub fn set_read_timeout(&mut self, timeout: Option<Duration>) -> Result<()> {
        if matches!(timeout, Some(d) if d.is_zero()) {
            return Err(Error::config("read_timeout", "0", "must be positive"));
        }
        self.stream
            .tcp()
            .set_read_timeout(timeout)
            .map_err(|e| self.io_error(e, "setting the read timeout"))?;
        self.read_timeout = timeout;
        Ok(())
    }

    /// Sets a bound on each socket write of [`Connection::send_with`]
    /// (`None`, the default after connecting: no bound). When it passes the
    /// send fails with [`ErrorKind::Timeout`] and the connection is unusable.
    pub fn set_write_timeout(&mut self, timeout: Option<Duration>) -> Result<()> {
        if matches!(timeout, Some(d) if d.is_zero()) {
            return Err(Error::config("write_timeout", "0", "must be positive"));
        }
        self.stream
            .tcp()
            .set_write_timeout(timeout)
            .map_err(|e| self.io_error(e, "setting the write timeout"))
    }

    /// Closes the connection: sends a close frame, waits briefly (up to
    /// 1 s) for the server's reply, and sends TLS close_notify. Best effort:
    /// only a failure to send the close frame on a live connection is an
    /// error. Later sends fail with [`ErrorKind::Closed`].
    pub fn close(&mut self) -> Result<()> {
        let was_dead = self.dead.replace("it was closed");
        if was_dead.is_some() {
            return Ok(());
        }
        if self.closed {
            // The server closed first; its reply was queued then.
            let _ = self.write_pending();
        } else {
            self.closed = true;
            push_control_frame(&mut self.pending, OP_CLOSE, rand::random(), &[]);
            self.write_pending()
                .map_err(|e| self.stream_error(e, "closing"))?;
            let deadline = Instant::now() + CLOSE_WAIT;
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() || self.stream.tcp().set_read_timeout(Some(left)).is_err() {
                    break;
                }
                match self.next_incoming(Wait::For(left)) {
                    Ok(Incoming::Close(_)) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        }
        if let Stream::Tls(s) = &mut self.stream {
            s.conn.send_close_notify();
            let _ = s.flush();
        }
        Ok(())
    }

    /// The next message or control frame, reads waiting as `wait` says
    /// (which must match the socket's blocking mode and read timeout).
    pub(super) fn next_incoming(&mut self, wait: Wait) -> std::result::Result<Incoming, RecvError> {
        let mut src = Reading {
            stream: &mut self.stream,
            wait,
            low_water: &mut self.low_water,
        };
        self.reader.next(&mut src)
    }

    /// Writes the queued control frames (blocking).
    pub(super) fn write_pending(&mut self) -> io::Result<()> {
        if !self.pending.is_empty() {
            self.stream.write_all(&self.pending)?;
            self.pending.clear();
        }
        self.stream.flush()
    }

    pub(super) fn check_writable(&self) -> Result<()> {
        if let Some(why) = self.dead {
            return Err(Error::new(
                ErrorKind::Closed,
                format!("connection to {} is unusable: {why}", self.peer),
            ));
        }
        if self.closed {
            return Err(Error::new(
                ErrorKind::Closed,
                format!("connection to {} is closed or closing", self.peer),
            ));
        }
        Ok(())
    }
}
