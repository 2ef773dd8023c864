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
//!   binary message; pings are answered, a close frame becomes
//!   [`ErrorKind::Closed`] with the code and reason.
//!
//! Sockets are blocking; every wait is bounded by a timeout the caller
//! chooses. The library never starts a thread.

pub mod frame;
pub mod tls;

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::{ClientConfig, ClientConnection, StreamOwned};
use tungstenite::client::IntoClientRequest;
use tungstenite::handshake::HandshakeError;
use tungstenite::http::{HeaderMap, HeaderValue, StatusCode};
use tungstenite::protocol::WebSocketConfig;
use tungstenite::protocol::frame::CloseFrame;
use tungstenite::{Bytes, Message, WebSocket};

use crate::error::{Error, ErrorKind, Result};
use crate::protocol::{MAX_MESSAGE_BYTES, Out, VERSION};

pub use frame::{MAX_CLIENT_HEADER_LEN, client_header_len, write_client_frame};
pub use tls::{RootStore, TlsOptions};

/// Default (and minimum) receive limit for one message: the protocol's
/// 16 MiB ceiling plus 64 KiB of slack.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = MAX_MESSAGE_BYTES + 64 * 1024;
/// Default bound on writing the upgrade request and reading its response.
pub const DEFAULT_AUTH_TIMEOUT: Duration = Duration::from_secs(15);
/// The default `X-QWP-Client-Id`: `questdb-arrow/<crate version>`.
pub const DEFAULT_CLIENT_ID: &str = concat!("questdb-arrow/", env!("CARGO_PKG_VERSION"));
/// How long [`Connection::close`] waits for the server's close reply.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

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

/// The byte stream under the WebSocket: plain TCP or rustls over TCP.
#[derive(Debug)]
pub enum Stream {
    /// Plain TCP (`ws`).
    Plain(TcpStream),
    /// TLS over TCP (`wss`).
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Stream {
    /// The TCP socket underneath.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => &s.sock,
        }
    }
}

/// Runs a socket call again when a signal interrupted it (`EINTR`): a
/// process with signal handlers installed without `SA_RESTART` (profilers,
/// fuzzers, some runtimes) must not see a failed read or write for it.
pub(crate) fn restart_on_eintr<T>(mut f: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match f() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        restart_on_eintr(|| match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        })
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        restart_on_eintr(|| match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        })
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

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

/// An open QWP WebSocket connection (blocking). `Send`, not shared: use it
/// from one thread at a time.
pub struct Connection {
    ws: WebSocket<Stream>,
    handshake: Handshake,
    peer: String,
    /// Frame buffer, kept at its high-water length so it is never re-zeroed.
    send_buf: Vec<u8>,
    read_timeout: Option<Duration>,
    /// Set after a failed raw write (a partial frame may be on the wire) or
    /// after [`Connection::close`].
    dead: Option<&'static str>,
}

const _: () = {
    const fn assert_send<T: Send>() {}
    assert_send::<Connection>();
};

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("peer", &self.peer)
            .field("tls", &matches!(self.ws.get_ref(), Stream::Tls(_)))
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
    /// 421, see [`rejected_role`]), [`ErrorKind::Handshake`] (other status,
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
        let ws_config = WebSocketConfig::default()
            .max_message_size(Some(limit))
            .max_frame_size(Some(limit));
        let what = format!(
            "{} upgrade (GET {}) to {peer}",
            route_name(route),
            route.path()
        );
        let (ws, response) =
            match tungstenite::client::client_with_config(request, stream, Some(ws_config)) {
                Ok(ok) => ok,
                Err(HandshakeError::Interrupted(_)) => {
                    return Err(timeout_error(&what, opts.auth_timeout));
                }
                Err(HandshakeError::Failure(e)) => {
                    return Err(upgrade_error(e, &what, opts.auth_timeout));
                }
            };
        let handshake = parse_handshake(response.headers(), opts, route, &what)?;

        let tcp = ws.get_ref().tcp();
        tcp.set_read_timeout(opts.read_timeout).map_err(io_err)?;
        tcp.set_write_timeout(None).map_err(io_err)?;

        let conn = Connection {
            ws,
            handshake: handshake.clone(),
            peer,
            send_buf: Vec::new(),
            read_timeout: opts.read_timeout,
            dead: None,
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
        self.ws
            .get_ref()
            .tcp()
            .peer_addr()
            .is_ok_and(|a| a.ip().is_loopback())
    }

    /// Whether the connection is known to be gone, checked without reading
    /// anything and without blocking (for a pool, before it hands out an
    /// idle connection): it failed or was closed earlier, the server ended
    /// the TCP stream or reset it, or (plain `ws` only) the next frame the
    /// server sent is a WebSocket close. Pending data frames (e.g. late
    /// acknowledgements) leave it live; so does anything pending under TLS,
    /// which cannot be looked into without decrypting it.
    pub fn peer_gone(&self) -> bool {
        if self.dead.is_some() {
            return true;
        }
        let stream = self.ws.get_ref();
        match peek_idle(stream.tcp()) {
            None => true,
            Some(None) => false,
            // A server frame starts with FIN/RSV bits and the opcode; 0x8 is
            // a close frame.
            Some(Some(b)) => matches!(stream, Stream::Plain(_)) && b & 0x0F == 0x8,
        }
    }

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
        // Anything tungstenite queued (pongs) must go out before our frame.
        self.ws.flush().map_err(|e| self.ws_error(e, "flushing"))?;
        let stream = self.ws.get_mut();
        let res = stream
            .write_all(&self.send_buf[..total])
            .and_then(|()| stream.flush());
        if let Err(e) = res {
            self.dead = Some("an earlier send failed part-way");
            return Err(self.send_error(e, payload_len));
        }
        Ok(())
    }

    /// Sends a whole client frame built by [`FrameBuf::build`] (a masked
    /// binary WebSocket frame), for callers that encode the next frame while
    /// this one is being written. Errors as [`Connection::send_with`].
    pub fn send_frame(&mut self, frame: &FrameBuf) -> Result<()> {
        self.check_writable()?;
        self.ws.flush().map_err(|e| self.ws_error(e, "flushing"))?;
        let stream = self.ws.get_mut();
        let bytes = frame.bytes();
        let res = stream.write_all(bytes).and_then(|()| stream.flush());
        if let Err(e) = res {
            self.dead = Some("an earlier send failed part-way");
            return Err(self.send_error(e, frame.payload_len));
        }
        Ok(())
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
        self.ws.flush().map_err(|e| self.ws_error(e, "flushing"))?;
        let res = frame::write_masked(
            self.ws.get_mut(),
            &mut self.send_buf,
            rand::random(),
            payload,
        );
        if let Err(e) = res {
            self.dead = Some("an earlier send failed part-way");
            return Err(self.send_error(e, payload.len()));
        }
        Ok(())
    }

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

    /// Sets the read timeout used by [`Connection::recv`] (`None`: wait
    /// forever). A zero duration is an [`ErrorKind::Config`] error.
    pub fn set_read_timeout(&mut self, timeout: Option<Duration>) -> Result<()> {
        if matches!(timeout, Some(d) if d.is_zero()) {
            return Err(Error::config("read_timeout", "0", "must be positive"));
        }
        self.ws
            .get_ref()
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
        self.ws
            .get_ref()
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
        match self.ws.close(None) {
            Ok(()) => {}
            Err(tungstenite::Error::AlreadyClosed | tungstenite::Error::ConnectionClosed) => {
                return Ok(());
            }
            Err(e) => return Err(self.ws_error(e, "closing")),
        }
        let deadline = Instant::now() + CLOSE_WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero()
                || self
                    .ws
                    .get_ref()
                    .tcp()
                    .set_read_timeout(Some(left))
                    .is_err()
            {
                break;
            }
            if self.ws.read().is_err() {
                break;
            }
        }
        if let Stream::Tls(s) = self.ws.get_mut() {
            s.conn.send_close_notify();
            let _ = s.flush();
        }
        Ok(())
    }

    fn check_writable(&self) -> Result<()> {
        if let Some(why) = self.dead {
            return Err(Error::new(
                ErrorKind::Closed,
                format!("connection to {} is unusable: {why}", self.peer),
            ));
        }
        if !self.ws.can_write() {
            return Err(Error::new(
                ErrorKind::Closed,
                format!("connection to {} is closed or closing", self.peer),
            ));
        }
        Ok(())
    }

    /// Next binary message; `None` when the read deadline passed.
    fn recv_inner(&mut self) -> Result<Option<Bytes>> {
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

    /// Error for a failed raw frame write; tries to learn the server's close
    /// reason (a 1009 close usually arrives just before the reset).
    fn send_error(&mut self, e: io::Error, payload_len: usize) -> Error {
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
    /// connection, read within a short grace period.
    fn pending_close(&mut self) -> Option<String> {
        let tcp = self.ws.get_ref().tcp();
        tcp.set_read_timeout(Some(Duration::from_millis(200)))
            .ok()?;
        let mut found = None;
        for _ in 0..16 {
            match self.ws.read() {
                Ok(Message::Close(frame)) => {
                    found = Some(describe_close(frame.as_ref()));
                    break;
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        let _ = self.ws.get_ref().tcp().set_read_timeout(self.read_timeout);
        found
    }

    fn io_error(&self, e: io::Error, doing: &str) -> Error {
        Error::new(
            ErrorKind::Io,
            format!("{doing} on the connection to {}", self.peer),
        )
        .with_source(e)
    }

    fn ws_error(&self, e: tungstenite::Error, doing: &str) -> Error {
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

fn socket_error(peer: &str, e: io::Error) -> Error {
    Error::new(
        ErrorKind::Io,
        format!("cannot configure the socket to {peer}"),
    )
    .with_source(e)
}

/// Opens the byte stream of a connection: TCP to the first address of
/// `opts.host` that answers (from `opts.bind` when set), `TCP_NODELAY`,
/// read and write timeouts of `opts.auth_timeout`, and the TLS handshake
/// when `opts.tls` is set. The WebSocket and the ILP clients build on it.
pub(crate) fn open_stream(opts: &ConnectOptions) -> Result<Stream> {
    let peer = opts.authority();
    let tls_config = opts.tls.as_ref().map(tls::client_config).transpose()?;
    let tcp = tcp_connect(opts, &peer)?;
    let io_err = |e: io::Error| socket_error(&peer, e);
    tcp.set_nodelay(true).map_err(io_err)?;
    tcp.set_read_timeout(Some(opts.auth_timeout))
        .map_err(io_err)?;
    tcp.set_write_timeout(Some(opts.auth_timeout))
        .map_err(io_err)?;
    Ok(match tls_config {
        None => Stream::Plain(tcp),
        Some(cfg) => Stream::Tls(Box::new(tls_connect(cfg, tcp, opts, &peer)?)),
    })
}

/// What a non-blocking peek at an idle socket finds: `None` when the peer
/// closed or reset it (or the peek failed), else the first pending byte
/// (`Some(None)`: nothing pending).
pub(crate) fn peek_idle(tcp: &TcpStream) -> Option<Option<u8>> {
    if tcp.set_nonblocking(true).is_err() {
        return None;
    }
    let mut head = [0u8; 1];
    let peeked = restart_on_eintr(|| tcp.peek(&mut head));
    if tcp.set_nonblocking(false).is_err() {
        return None;
    }
    match peeked {
        Ok(0) => None,
        Ok(_) => Some(Some(head[0])),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Some(None),
        Err(_) => None,
    }
}

/// One TCP connect to `addr`, from `bind` when given.
fn connect_addr(
    addr: &SocketAddr,
    timeout: Option<Duration>,
    bind: Option<std::net::IpAddr>,
) -> io::Result<TcpStream> {
    let Some(ip) = bind else {
        return match timeout {
            Some(t) => TcpStream::connect_timeout(addr, t),
            None => TcpStream::connect(addr),
        };
    };
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(*addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    socket.bind(&SocketAddr::new(ip, 0).into())?;
    match timeout {
        Some(t) => socket.connect_timeout(&(*addr).into(), t)?,
        None => socket.connect(&(*addr).into())?,
    }
    Ok(socket.into())
}

/// Resolves the host and connects to the first address that answers.
fn tcp_connect(opts: &ConnectOptions, peer: &str) -> Result<TcpStream> {
    let host = opts.host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = (host, opts.port)
        .to_socket_addrs()
        .map_err(|e| Error::new(ErrorKind::Io, format!("cannot resolve {peer}")).with_source(e))?
        .collect();
    let mut last: Option<io::Error> = None;
    for addr in &addrs {
        let res = connect_addr(addr, opts.connect_timeout, opts.bind);
        match res {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        None => Error::new(ErrorKind::Io, format!("{peer} resolved to no address")),
        Some(e) => {
            let kind = match e.kind() {
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => ErrorKind::Timeout,
                _ => ErrorKind::Io,
            };
            let n = addrs.len();
            let tried = if n == 1 {
                String::new()
            } else {
                format!(" (tried {n} addresses)")
            };
            Error::new(kind, format!("cannot connect to {peer}{tried}")).with_source(e)
        }
    })
}

/// Runs the TLS handshake to completion, so its failures are reported as
/// [`ErrorKind::Tls`] rather than surfacing later as I/O errors.
fn tls_connect(
    cfg: Arc<ClientConfig>,
    mut tcp: TcpStream,
    opts: &ConnectOptions,
    peer: &str,
) -> Result<StreamOwned<ClientConnection, TcpStream>> {
    let name = tls::server_name(&opts.host)?;
    let mut conn = ClientConnection::new(cfg, name).map_err(|e| {
        Error::new(ErrorKind::Tls, format!("cannot start TLS with {peer}")).with_source(e)
    })?;
    while conn.is_handshaking() {
        if let Err(e) = conn.complete_io(&mut tcp) {
            let what = format!("TLS handshake with {peer}");
            return Err(match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                    timeout_error(&what, opts.auth_timeout)
                }
                _ => match tls_cause(e) {
                    Ok(tls) => {
                        Error::new(ErrorKind::Tls, format!("{what} failed")).with_source(tls)
                    }
                    Err(e) => Error::new(ErrorKind::Tls, format!("{what} failed")).with_source(e),
                },
            });
        }
    }
    Ok(StreamOwned::new(conn, tcp))
}

/// The rustls error inside an I/O error, or the I/O error back.
fn tls_cause(e: io::Error) -> std::result::Result<rustls::Error, io::Error> {
    if e.get_ref().is_some_and(|i| i.is::<rustls::Error>()) {
        let kind = e.kind();
        match e.into_inner().map(|i| i.downcast::<rustls::Error>()) {
            Some(Ok(tls)) => Ok(*tls),
            Some(Err(other)) => Err(io::Error::new(kind, other)),
            None => Err(io::Error::from(kind)),
        }
    } else {
        Err(e)
    }
}

fn timeout_error(what: &str, t: Duration) -> Error {
    Error::new(
        ErrorKind::Timeout,
        format!("{what}: no answer within the auth timeout of {t:?}"),
    )
}

/// Builds the upgrade request with QWP's headers.
fn upgrade_request(opts: &ConnectOptions, route: Route) -> Result<tungstenite::http::Request<()>> {
    let scheme = if opts.tls.is_some() { "wss" } else { "ws" };
    let uri = format!("{scheme}://{}{}", opts.authority(), route.path());
    let mut req = uri
        .as_str()
        .into_client_request()
        .map_err(|e| Error::config("host", &opts.host, "not a valid host name").with_source(e))?;
    let h = req.headers_mut();
    h.insert("x-qwp-max-version", HeaderValue::from(u32::from(VERSION)));
    if !opts.client_id.is_empty() {
        h.insert(
            "x-qwp-client-id",
            header_value("client_id", &opts.client_id)?,
        );
    }
    match &opts.auth {
        Auth::None => {}
        Auth::Basic { username, password } => {
            use base64::Engine as _;
            let creds =
                base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
            let mut v = header_value("username", &format!("Basic {creds}"))?;
            v.set_sensitive(true);
            h.insert("authorization", v);
        }
        Auth::Bearer(token) => {
            let mut v = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                Error::new(ErrorKind::Config, "token: not a valid HTTP header value")
            })?;
            v.set_sensitive(true);
            h.insert("authorization", v);
        }
    }
    match route {
        Route::Ingest => {
            if opts.request_durable_ack {
                h.insert(
                    "x-qwp-request-durable-ack",
                    HeaderValue::from_static("true"),
                );
            }
        }
        Route::Query => {
            if let Some(enc) = opts.accept_encoding.as_deref().filter(|e| !e.is_empty()) {
                h.insert(
                    "x-qwp-accept-encoding",
                    header_value("accept_encoding", enc)?,
                );
            }
            if let Some(rows) = opts.max_batch_rows {
                h.insert("x-qwp-max-batch-rows", HeaderValue::from(rows));
            }
        }
    }
    Ok(req)
}

fn header_value(key: &str, v: &str) -> Result<HeaderValue> {
    HeaderValue::from_str(v).map_err(|_| Error::config(key, v, "not a valid HTTP header value"))
}

/// Maps a failed upgrade (including a non-101 answer) to an [`Error`].
fn upgrade_error(e: tungstenite::Error, what: &str, auth_timeout: Duration) -> Error {
    use tungstenite::error::ProtocolError as P;
    match e {
        tungstenite::Error::Http(resp) => {
            let status = resp.status();
            let body = resp.body().as_deref().map(body_text).unwrap_or_default();
            let body = if body.is_empty() {
                String::new()
            } else {
                format!(": {body}")
            };
            let status_text = status_text(status);
            if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
                Error::new(
                    ErrorKind::Auth,
                    format!("{what}: server answered {status_text}{body}"),
                )
            } else if status == StatusCode::MISDIRECTED_REQUEST {
                let role = header_text(resp.headers(), "x-questdb-role");
                let zone = header_text(resp.headers(), "x-questdb-zone");
                let mut msg = format!("{what}: server answered {status_text}");
                match &role {
                    Some(r) => msg.push_str(&format!(", server role {r}")),
                    None => msg.push_str(", without an X-QuestDB-Role header"),
                }
                if let Some(z) = &zone {
                    msg.push_str(&format!(", zone {z}"));
                }
                msg.push_str(&body);
                Error::role_reject(role.map(str::to_string), zone.map(str::to_string), msg)
            } else {
                Error::new(
                    ErrorKind::Handshake,
                    format!("{what}: server answered {status_text} instead of 101{body}"),
                )
            }
        }
        tungstenite::Error::Io(io_e) => match io_e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                timeout_error(what, auth_timeout)
            }
            _ => match tls_cause(io_e) {
                Ok(tls) => Error::new(ErrorKind::Tls, format!("{what} failed")).with_source(tls),
                Err(io_e) => Error::new(ErrorKind::Io, format!("{what} failed")).with_source(io_e),
            },
        },
        tungstenite::Error::Protocol(P::HandshakeIncomplete) => Error::new(
            ErrorKind::Handshake,
            format!("{what}: the server closed the connection before answering"),
        ),
        other => Error::new(ErrorKind::Handshake, format!("{what} failed")).with_source(other),
    }
}

fn status_text(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(r) => format!("HTTP {} {r}", status.as_u16()),
        None => format!("HTTP {}", status.as_u16()),
    }
}

/// A response body as short, printable text.
fn body_text(body: &[u8]) -> String {
    const MAX_CHARS: usize = 300;
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let mut out: String = text
        .chars()
        .take(MAX_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().count() > MAX_CHARS {
        out.push('…');
    }
    out
}

/// A header's value as trimmed text, if present and printable.
fn header_text<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// Reads the QWP headers of a 101 response and checks them against `opts`.
fn parse_handshake(
    headers: &HeaderMap,
    opts: &ConnectOptions,
    route: Route,
    what: &str,
) -> Result<Handshake> {
    let fail = |msg: String| Error::new(ErrorKind::Handshake, format!("{what}: {msg}"));
    let incompatible = |msg: String| Error::new(ErrorKind::Incompatible, format!("{what}: {msg}"));
    let text = |name: &str| -> Result<Option<&str>> {
        match headers.get(name) {
            None => Ok(None),
            Some(v) => v
                .to_str()
                .map(|s| Some(s.trim()))
                .map_err(|_| fail(format!("header {name} is not printable text"))),
        }
    };
    let version = match text("x-qwp-version")? {
        None => 1,
        Some(v) => match v.parse::<u64>() {
            Ok(n) if n == u64::from(VERSION) => VERSION,
            Ok(n) => {
                return Err(incompatible(format!(
                    "server selected QWP version {n}, this client supports {VERSION}"
                )));
            }
            Err(_) => {
                return Err(fail(format!(
                    "server selected QWP version {v:?}, this client supports {VERSION}"
                )));
            }
        },
    };
    let max_batch_size = match text("x-qwp-max-batch-size")? {
        None => None,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if n > 0 => Some(n),
            _ => {
                return Err(fail(format!(
                    "invalid X-QWP-Max-Batch-Size {v:?}: expected a positive byte count"
                )));
            }
        },
    };
    let durable_ack = text("x-qwp-durable-ack")?.is_some_and(|v| v.eq_ignore_ascii_case("enabled"));
    if route == Route::Ingest && opts.request_durable_ack && !durable_ack {
        return Err(incompatible(
            "durable-ack mismatch: durable acks were requested but the server did not answer \
             X-QWP-Durable-Ack: enabled (needs QuestDB Enterprise with replication)"
                .to_string(),
        ));
    }
    let content_encoding = text("x-qwp-content-encoding")?
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    Ok(Handshake {
        version,
        max_batch_size,
        durable_ack,
        content_encoding,
    })
}

/// "code 1009 (message too big), reason \"...\"".
fn describe_close(frame: Option<&CloseFrame>) -> String {
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
    #[test]
    fn interrupted_calls_are_restarted() {
        let mut calls = 0;
        let r = super::restart_on_eintr(|| {
            calls += 1;
            if calls < 3 {
                Err(std::io::Error::from(std::io::ErrorKind::Interrupted))
            } else {
                Ok(7)
            }
        });
        assert_eq!(r.unwrap(), 7);
        assert_eq!(calls, 3);
        let e = super::restart_on_eintr(|| -> std::io::Result<()> {
            Err(std::io::Error::from(std::io::ErrorKind::ConnectionReset))
        });
        assert_eq!(e.unwrap_err().kind(), std::io::ErrorKind::ConnectionReset);
    }

    use super::*;
    use tungstenite::http::HeaderName;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn handshake_headers_parse() {
        let o = ConnectOptions::new("h", 1);
        let hs = parse_handshake(&headers(&[]), &o, Route::Ingest, "x").unwrap();
        assert_eq!(
            hs,
            Handshake {
                version: 1,
                max_batch_size: None,
                durable_ack: false,
                content_encoding: None
            }
        );
        let h = headers(&[
            ("X-QWP-Version", "1"),
            ("X-QWP-Max-Batch-Size", "2097138"),
            ("X-QWP-Durable-Ack", "Enabled"),
            ("X-QWP-Content-Encoding", "zstd"),
        ]);
        let hs = parse_handshake(&h, &o, Route::Ingest, "x").unwrap();
        assert_eq!(hs.max_batch_size, Some(2_097_138));
        assert!(hs.durable_ack);
        assert_eq!(hs.content_encoding.as_deref(), Some("zstd"));

        for bad in ["2", "0", "-1", "one"] {
            let e = parse_handshake(&headers(&[("X-QWP-Version", bad)]), &o, Route::Ingest, "x")
                .unwrap_err();
            // A number is a version this client lacks; anything else is a
            // malformed header.
            let want = if bad.parse::<u64>().is_ok() {
                ErrorKind::Incompatible
            } else {
                ErrorKind::Handshake
            };
            assert_eq!(e.kind(), want);
            assert!(e.to_string().contains("this client supports 1"), "{e}");
        }
        let e = parse_handshake(
            &headers(&[("X-QWP-Max-Batch-Size", "lots")]),
            &o,
            Route::Ingest,
            "x",
        )
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Handshake);

        let mut o2 = o.clone();
        o2.request_durable_ack = true;
        let e = parse_handshake(&headers(&[]), &o2, Route::Ingest, "x").unwrap_err();
        assert!(e.to_string().contains("durable-ack mismatch"), "{e}");
    }

    #[test]
    fn request_carries_qwp_headers() {
        let mut o = ConnectOptions::new("::1", 9000);
        o.auth = Auth::Basic {
            username: "admin".into(),
            password: "quest".into(),
        };
        o.request_durable_ack = true;
        o.accept_encoding = Some("zstd,raw".into());
        o.max_batch_rows = Some(500);
        let r = upgrade_request(&o, Route::Ingest).unwrap();
        assert_eq!(r.uri().to_string(), "ws://[::1]:9000/write/v4");
        let h = r.headers();
        assert_eq!(h["x-qwp-max-version"], "1");
        assert_eq!(h["x-qwp-client-id"], DEFAULT_CLIENT_ID);
        assert_eq!(h["authorization"], "Basic YWRtaW46cXVlc3Q=");
        assert_eq!(h["x-qwp-request-durable-ack"], "true");
        assert!(h.get("x-qwp-accept-encoding").is_none());
        let r = upgrade_request(&o, Route::Query).unwrap();
        let h = r.headers();
        assert_eq!(h["x-qwp-accept-encoding"], "zstd,raw");
        assert_eq!(h["x-qwp-max-batch-rows"], "500");
        assert!(h.get("x-qwp-request-durable-ack").is_none());

        o.client_id = "bad\nid".into();
        assert_eq!(
            upgrade_request(&o, Route::Ingest).unwrap_err().kind(),
            ErrorKind::Config
        );
    }

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
