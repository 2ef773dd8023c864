//! The loopback ceiling's plumbing: what the socket alone allows, with no
//! encoding or decoding on either side.
//!
//! - [`read_discard`]: reads exactly `n` bytes into one reused 1 MiB
//!   buffer and keeps none of them (the query ceiling reads the replay
//!   child's result this way; the drain child reads ingest's bytes). Each
//!   read is a `recv` with `MSG_WAITALL` (socket2, no `unsafe` here): one
//!   system call per MiB, as the clients' own reads wait for a whole
//!   frame (ours with its receive low-water mark). Plain `read`s return
//!   each segment as it arrives; on this 2-core machine they made the
//!   "ceiling" ~1.5x slower than the clients it should bound (106 MB:
//!   2.9 GB/s plain, 4.6 GB/s `MSG_WAITALL`, 4.8 GB/s `SO_RCVLOWAT`).
//! - [`DrainServer`]: a child process (the bench binary re-executed with
//!   [`DRAIN_ENV`] set, see [`serve_if_child`]) that reads and discards
//!   what a [`DrainConn`] writes. Per pass the connection writes an 8-byte
//!   little-endian count `n` (in front of the first chunk) then `n` bytes
//!   in writes of up to 1 MiB from one reused buffer; the child reads them
//!   with [`read_discard`] and answers one byte once it has read all
//!   `n`, so a pass measures delivery, not buffering.
//! - [`spawn_self`] and [`serve_until_stdin_closes`]: a bench child
//!   process (the drain, and the query replay of `benches/replay`) — the
//!   bench binary re-executed with an environment variable, which prints
//!   its port, serves each connection on a thread of its own, and exits
//!   when its standard input closes (the parent dropped it or died).

use std::io::{BufRead, BufReader, Read, Write};
use std::mem::MaybeUninit;
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

/// Set in the drain child's environment: the bench binary then drains
/// instead of benchmarking.
pub const DRAIN_ENV: &str = "QA_BENCH_DRAIN_SERVE";

/// The reads' and writes' size.
pub const CHUNK: usize = 1 << 20;

/// What a child prints first, before its port.
const LISTENING: &str = "bench child listening on 127.0.0.1:";

/// A reused read buffer of [`CHUNK`] bytes (never read back, so never
/// initialised).
pub fn chunk_buffer() -> Vec<MaybeUninit<u8>> {
    vec![MaybeUninit::uninit(); CHUNK]
}

/// Reads exactly `n` bytes from `s` into `buf` (reused; each read waits
/// for `buf.len()` bytes, `MSG_WAITALL`, and never reads past the `n`th)
/// and discards them; an end of stream before `n` bytes is an error.
pub fn read_discard(s: &TcpStream, n: u64, buf: &mut [MaybeUninit<u8>]) -> std::io::Result<()> {
    let sock = socket2::SockRef::from(s);
    let mut left = n;
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        match sock.recv_with_flags(&mut buf[..want], libc::MSG_WAITALL) {
            Ok(0) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("the stream ended {left} bytes short of {n}"),
                ));
            }
            Ok(k) => left -= k as u64,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// In `main`, first: when this process is a drain child ([`DRAIN_ENV`]
/// set), serves until standard input closes and exits; else returns.
pub fn serve_if_child() {
    if std::env::var_os(DRAIN_ENV).is_none() {
        return;
    }
    if let Err(e) = serve() {
        eprintln!("drain child: {e}");
        std::process::exit(1);
    }
    std::process::exit(0);
}

fn serve() -> std::io::Result<()> {
    serve_until_stdin_closes(|stream| {
        if let Err(e) = drain_connection(stream) {
            eprintln!("drain child: connection failed: {e}");
        }
    })
}

/// A child's serving loop: listens on a loopback port, prints it (what
/// [`spawn_self`] reads), serves each connection with `conn` on a thread
/// of its own, and exits the process when standard input closes.
pub fn serve_until_stdin_closes(
    conn: impl Fn(TcpStream) + Send + Sync + 'static,
) -> std::io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let mut out = std::io::stdout();
    writeln!(out, "{LISTENING}{}", listener.local_addr()?.port())?;
    out.flush()?;
    // The parent closes our stdin when it is done (or dies).
    std::thread::spawn(|| {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
        std::process::exit(0);
    });
    let conn = Arc::new(conn);
    for stream in listener.incoming() {
        let stream = stream?;
        let conn = conn.clone();
        std::thread::spawn(move || conn(stream));
    }
    Ok(())
}

/// Starts this binary again with `env` = `value` (its `main` then serves
/// with [`serve_until_stdin_closes`]) and reads the port it prints; the
/// child is stopped again if it prints none.
pub fn spawn_self(env: &str, value: &std::ffi::OsStr) -> std::io::Result<(Child, u16)> {
    let mut child = Command::new(std::env::current_exe()?)
        .env(env, value)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let port = child
        .stdout
        .take()
        .ok_or_else(|| std::io::Error::other("the child has no stdout"))
        .and_then(|out| {
            let mut line = String::new();
            BufReader::new(out).read_line(&mut line)?;
            line.trim()
                .strip_prefix(LISTENING)
                .and_then(|p| p.parse::<u16>().ok())
                .ok_or_else(|| std::io::Error::other(format!("no port in {line:?}")))
        });
    match port {
        Ok(port) => Ok((child, port)),
        Err(e) => {
            let _ = child.kill();
            let status = child.wait()?;
            Err(std::io::Error::other(format!(
                "{env} child: {e} (child {status})"
            )))
        }
    }
}

/// Stops a child [`spawn_self`] started: closes its standard input (it
/// exits), kills it in case it is stuck, and reaps it.
pub fn stop_child(child: &mut Child) {
    drop(child.stdin.take());
    let _ = child.kill();
    let _ = child.wait();
}

/// Per pass: the count, the bytes discarded, one byte back; until the
/// client closes.
fn drain_connection(mut s: TcpStream) -> std::io::Result<()> {
    s.set_nodelay(true)?;
    let mut buf = chunk_buffer();
    loop {
        let mut n = [0u8; 8];
        match s.read_exact(&mut n) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        }
        read_discard(&s, u64::from_le_bytes(n), &mut buf)?;
        s.write_all(&[1])?;
    }
}

/// A drain child process; dropping it stops the child.
pub struct DrainServer {
    child: Child,
    port: u16,
}

impl DrainServer {
    /// Starts this binary again as a drain child (its `main` must call
    /// [`serve_if_child`] first).
    pub fn start() -> std::io::Result<DrainServer> {
        let (child, port) = spawn_self(DRAIN_ENV, "1".as_ref())?;
        Ok(DrainServer { child, port })
    }

    /// A connection to the child, reused across passes.
    pub fn connect(&self) -> std::io::Result<DrainConn> {
        let stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_nodelay(true)?;
        Ok(DrainConn {
            stream,
            buf: vec![0u8; CHUNK],
        })
    }
}

impl Drop for DrainServer {
    fn drop(&mut self) {
        stop_child(&mut self.child);
    }
}

/// One connection to a [`DrainServer`] and its reused write buffer.
pub struct DrainConn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl DrainConn {
    /// One pass: writes `n` bytes (after the 8-byte count) and waits for
    /// the child's byte saying it read them all.
    pub fn pass(&mut self, n: usize) -> std::io::Result<()> {
        let total = n + 8;
        self.buf[..8].copy_from_slice(&(n as u64).to_le_bytes());
        let mut sent = 0;
        while sent < total {
            let k = CHUNK.min(total - sent);
            self.stream.write_all(&self.buf[..k])?;
            sent += k;
        }
        let mut ack = [0u8; 1];
        self.stream.read_exact(&mut ack)?;
        if ack[0] != 1 {
            return Err(std::io::Error::other(format!(
                "the drain child answered {} instead of 1",
                ack[0]
            )));
        }
        Ok(())
    }
}
