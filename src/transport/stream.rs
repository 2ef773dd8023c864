//! The byte stream under a connection: TCP (with an optional bind
//! address and connect timeout), rustls TLS over it, and the retry of
//! interrupted socket calls.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::{ClientConfig, ClientConnection, StreamOwned};

use super::{ConnectOptions, tls};
use crate::error::{Error, ErrorKind, Result};

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

    /// Reads into `buf` as the connection's frame reader does, knowing
    /// that `sure` bytes (at least 1) are on their way: on plain TCP (unix)
    /// with 32 KiB or more to come, the receive low-water mark is set to
    /// them (at most 1 MiB) and the read waits in `poll` until they are
    /// in — one wake-up instead of one per segment; else (and under TLS) a
    /// plain read. Waits without limit. `low_water` is the mark in force
    /// on the socket (1, the default, for a fresh socket), kept by the
    /// caller across calls so it is set only when it changes. For readers
    /// of raw bytes that want the frame reader's wake-ups (the benches'
    /// loopback ceiling).
    pub fn read_expecting(
        &mut self,
        buf: &mut [u8],
        sure: usize,
        low_water: &mut usize,
    ) -> io::Result<usize> {
        use super::reader::Source;
        Reading {
            stream: self,
            wait: Wait::Forever,
            low_water,
        }
        .read_expecting(buf, sure.max(1))
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

/// Below this many bytes still to come, a read wakes on any byte (the
/// default): small frames arrive whole in a segment or two.
const LOW_WATER_MIN: usize = 32 * 1024;

/// At most this many bytes are waited for before a read wakes, so the
/// copy of a very large frame starts before all of it is in.
const LOW_WATER_MAX: usize = 1024 * 1024;

/// How long a read may wait for bytes: what the connection set on the
/// socket for the call in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    /// Until bytes come.
    Forever,
    /// At most this long (the read then fails with `WouldBlock`).
    For(Duration),
    /// Not at all: only what has arrived.
    Not,
}

impl Wait {
    /// A read timeout as a wait (`None`: forever).
    pub(crate) fn at_most(timeout: Option<Duration>) -> Wait {
        match timeout {
            None => Wait::Forever,
            Some(d) if d.is_zero() => Wait::Not,
            Some(d) => Wait::For(d),
        }
    }
}

/// The stream as the frame reader reads it: how long reads may wait, and
/// the receive low-water mark in force on the socket (kept by the
/// connection across calls, so it is set only when it changes).
///
/// With the rest of a large frame to come on plain TCP, the mark is set
/// to it and the read waits in `poll` until it is in: one wake-up per
/// frame instead of one per segment (see `audited::socket`). Otherwise,
/// and always under TLS (whose records the socket's byte count does not
/// see through), a plain read.
pub(crate) struct Reading<'a> {
    pub(crate) stream: &'a mut Stream,
    pub(crate) wait: Wait,
    pub(crate) low_water: &'a mut usize,
}

impl super::reader::Source for Reading<'_> {
    fn read_expecting(&mut self, buf: &mut [u8], sure: usize) -> io::Result<usize> {
        let Stream::Plain(tcp) = &*self.stream else {
            return self.stream.read(buf);
        };
        #[cfg(unix)]
        {
            use crate::audited::socket::{recv_now, set_recv_low_water, wait_readable};
            let mark = if sure < LOW_WATER_MIN {
                1
            } else {
                sure.min(LOW_WATER_MAX)
            };
            if mark != *self.low_water {
                set_recv_low_water(tcp, mark)?;
                *self.low_water = mark;
            }
            if mark > 1 {
                let deadline = match self.wait {
                    Wait::For(d) => Some(Instant::now() + d),
                    _ => None,
                };
                loop {
                    let timeout = match (self.wait, deadline) {
                        (Wait::Not, _) => Some(Duration::ZERO),
                        (_, Some(t)) => Some(t.saturating_duration_since(Instant::now())),
                        (_, None) => None,
                    };
                    if !wait_readable(tcp, timeout)? {
                        return Err(io::ErrorKind::WouldBlock.into());
                    }
                    match recv_now(tcp, buf) {
                        // Woken without bytes (a signal, or bytes taken
                        // meanwhile): wait again, unless not waiting.
                        Err(e)
                            if self.wait != Wait::Not
                                && matches!(
                                    e.kind(),
                                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                                ) => {}
                        other => return other,
                    }
                }
            }
        }
        #[cfg(not(unix))]
        let _ = (tcp, sure);
        self.stream.read(buf)
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

pub(super) fn socket_error(peer: &str, e: io::Error) -> Error {
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
pub(super) fn tls_cause(e: io::Error) -> std::result::Result<rustls::Error, io::Error> {
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

pub(super) fn timeout_error(what: &str, t: Duration) -> Error {
    Error::new(
        ErrorKind::Timeout,
        format!("{what}: no answer within the auth timeout of {t:?}"),
    )
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

    /// Frames read through a real socket with [`super::Reading`]: a large
    /// frame whose first part is in before the read and whose rest comes
    /// later, with nothing after it (what hung a blocking read with the
    /// low-water mark set: the rest is less than the mark counted from the
    /// frame's start), then a small frame, under each kind of wait.
    #[cfg(unix)]
    #[test]
    fn reading_waits_for_the_rest_of_a_frame_and_no_more() {
        use std::io::Write;
        use std::net::{TcpListener, TcpStream};
        use std::time::Duration;

        use super::{Reading, Stream, Wait};
        use crate::transport::frame::{OP_BINARY, server_header};
        use crate::transport::reader::{FrameReader, Incoming, RecvError};

        fn frame(payload: &[u8]) -> Vec<u8> {
            let (h, n) = server_header(true, OP_BINARY, payload.len());
            [&h[..n], payload].concat()
        }
        let big: Vec<u8> = (0..300_000u32).map(|i| (i * 7) as u8).collect();
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut tx = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (rx, _) = l.accept().unwrap();
        let mut stream = Stream::Plain(rx);
        let mut low_water = 1;
        let mut r = FrameReader::new(Vec::new(), 1 << 20);
        for wait in [Wait::Forever, Wait::For(Duration::from_secs(20)), Wait::Not] {
            let wire = [frame(&big), frame(b"end")].concat();
            // More than one read of the header takes: the rest of the frame is
            // partly queued when the payload is read.
            let cut = 200_000;
            tx.write_all(&wire[..cut]).unwrap();
            let rest = wire[cut..].to_vec();
            let mut tx2 = tx.try_clone().unwrap();
            let sender = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(100));
                tx2.write_all(&rest).unwrap();
            });
            let mut next = |r: &mut FrameReader| loop {
                let mut src = Reading {
                    stream: &mut stream,
                    wait,
                    low_water: &mut low_water,
                };
                match r.next(&mut src) {
                    Err(RecvError::Io(e))
                        if wait == Wait::Not && e.kind() == std::io::ErrorKind::WouldBlock =>
                    {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    other => break other,
                }
            };
            assert_eq!(next(&mut r).unwrap(), Incoming::Binary, "{wait:?}");
            assert!(r.payload() == &big[..], "{wait:?}");
            assert_eq!(next(&mut r).unwrap(), Incoming::Binary, "{wait:?}");
            assert_eq!(r.payload(), b"end", "{wait:?}");
            sender.join().unwrap();
        }
        // A wait that passes before the rest comes fails as a timed-out
        // read does, and the frame is whole on the next call.
        let wire = frame(&big);
        tx.write_all(&wire[..100_000]).unwrap();
        let mut src = Reading {
            stream: &mut stream,
            wait: Wait::For(Duration::from_millis(50)),
            low_water: &mut low_water,
        };
        match r.next(&mut src) {
            Err(RecvError::Io(e)) => assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock),
            other => panic!("{other:?}"),
        }
        // It waited with the mark at the rest of the frame, not per byte.
        assert!(
            (super::LOW_WATER_MIN..wire.len()).contains(&low_water),
            "mark {low_water}"
        );
        tx.write_all(&wire[100_000..]).unwrap();
        let mut src = Reading {
            stream: &mut stream,
            wait: Wait::Forever,
            low_water: &mut low_water,
        };
        assert_eq!(r.next(&mut src).unwrap(), Incoming::Binary);
        assert!(r.payload() == &big[..]);
        // The end of the stream mid-frame is the end, not a wait.
        tx.write_all(&wire[..100_000]).unwrap();
        drop(tx);
        let mut src = Reading {
            stream: &mut stream,
            wait: Wait::Forever,
            low_water: &mut low_water,
        };
        assert!(matches!(r.next(&mut src), Err(RecvError::Eof)));
    }

    /// [`super::Stream::read_expecting`], the frame reader's wait for raw
    /// bytes: with 300 KB sure to come and a third of it in, the mark is
    /// set to them and every byte arrives in order; a small read sets the
    /// mark back to 1; the end of the stream reads 0.
    #[cfg(unix)]
    #[test]
    fn read_expecting_waits_for_what_is_sure_to_come() {
        use std::io::Write;
        use std::net::{TcpListener, TcpStream};
        use std::time::Duration;

        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut tx = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (rx, _) = l.accept().unwrap();
        let mut stream = super::Stream::Plain(rx);
        let mut low_water = 1;
        let wire: Vec<u8> = (0..300_000u32).map(|i| (i * 7) as u8).collect();
        tx.write_all(&wire[..100_000]).unwrap();
        let rest = wire[100_000..].to_vec();
        let mut tx2 = tx.try_clone().unwrap();
        let sender = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            tx2.write_all(&rest).unwrap();
        });
        let mut buf = vec![0u8; wire.len()];
        let first = stream
            .read_expecting(&mut buf, wire.len(), &mut low_water)
            .unwrap();
        // The mark is at what is sure to come (whether the kernel wakes
        // the wait earlier depends on the receive window: on loopback,
        // with its 64 KiB segments, a window of less than one segment
        // reads as ready).
        assert!(first >= 1);
        assert_eq!(low_water, wire.len());
        let mut got = first;
        while got < wire.len() {
            let want = wire.len() - got;
            got += stream
                .read_expecting(&mut buf[got..], want, &mut low_water)
                .unwrap();
        }
        assert!(buf == wire);
        sender.join().unwrap();
        tx.write_all(b"count:8!").unwrap();
        let mut small = [0u8; 8];
        let mut n = 0;
        while n < 8 {
            n += stream
                .read_expecting(&mut small[n..], 8 - n, &mut low_water)
                .unwrap();
        }
        assert_eq!((&small, low_water), (b"count:8!", 1));
        drop(tx);
        assert_eq!(
            stream
                .read_expecting(&mut small, 8, &mut low_water)
                .unwrap(),
            0
        );
    }
}
