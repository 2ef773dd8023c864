//! The loopback ceiling's plumbing: what the socket alone allows, with no
//! encoding or decoding on either side.
//!
//! - [`Discard`]: reads exactly `n` bytes into one reused 1 MiB buffer
//!   and keeps none of them (the query ceiling reads the replay child's
//!   result this way; the drain child reads ingest's bytes). Where the
//!   reader is the one measured (the query ceiling, [`Discard::waiting`])
//!   each read is `transport::Stream::read_expecting`, what our frame
//!   reader does: the receive low-water mark at the bytes still to come
//!   (at most 1 MiB) and a wait in `poll`, so the reader is woken once
//!   per MiB rather than per segment. Plain blocking `read`s (woken per
//!   segment) made that "ceiling" slower than the clients it should bound
//!   on this 2-core VM (Q1 raw, 2 M rows: 1.9 GB/s against the clients'
//!   2.7); so did `recv` with `MSG_WAITALL` (one call per MiB, still
//!   woken per segment inside it: 2.7–3.0 GB/s against 3.0–4.7). Where
//!   the writer is measured (the drain child, [`Discard::eager`]) the
//!   reads are plain: a reader that waits for a MiB leaves the sender's
//!   window shut meanwhile (150 MB written in 1 MiB writes: 3.4 GB/s to
//!   a plain reader, 1.9 GB/s to one waiting for a MiB).
//! - [`DrainServer`]: a child process (the bench binary re-executed with
//!   [`DRAIN_ENV`] set, see [`serve_if_child`]) that reads and discards
//!   what a [`DrainConn`] writes. Per pass the connection writes an 8-byte
//!   little-endian count `n` (in front of the first chunk) then `n` bytes
//!   in writes of up to 1 MiB from one reused buffer; the child reads them
//!   with an eager [`Discard`] (plain 1 MiB reads) and answers one byte once it has read all
//!   `n`, so a pass measures delivery, not buffering.
//! - [`spawn_self`] and [`serve_until_stdin_closes`]: a bench child
//!   process (the drain, and the query replay of `benches/replay`) — the
//!   bench binary re-executed with an environment variable, which prints
//!   its port, serves each connection on a thread of its own, and exits
//!   when its standard input closes (the parent dropped it or died).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use questdb_arrow::transport::Stream;

/// Set in the drain child's environment: the bench binary then drains
/// instead of benchmarking.
pub const DRAIN_ENV: &str = "QA_BENCH_DRAIN_SERVE";

/// The reads' and writes' size.
pub const CHUNK: usize = 1 << 20;

/// What a child prints first, before its port.
const LISTENING: &str = "bench child listening on 127.0.0.1:";

/// A reader that discards: a handle on a TCP socket, its reused 1 MiB
/// buffer, whether it waits for a MiB per read, and the receive low-water
/// mark in force.
pub struct Discard {
    stream: Stream,
    buf: Vec<u8>,
    wait: bool,
    low_water: usize,
}

impl Discard {
    /// Reads from `s` (a handle of its own on the same socket; `s` may
    /// still write, and must not read meanwhile), each read waiting for
    /// what is still to come (up to 1 MiB): for a measured reader.
    pub fn waiting(s: &TcpStream) -> std::io::Result<Discard> {
        Discard::new(s, true)
    }

    /// Reads from `s` as [`Self::waiting`] does, but each read takes what
    /// is there: for a reader that must keep a measured writer going.
    pub fn eager(s: &TcpStream) -> std::io::Result<Discard> {
        Discard::new(s, false)
    }

    fn new(s: &TcpStream, wait: bool) -> std::io::Result<Discard> {
        Ok(Discard {
            stream: Stream::Plain(s.try_clone()?),
            buf: vec![0; CHUNK],
            wait,
            low_water: 1,
        })
    }

    /// Reads a pass's 8-byte count (through this handle, so the mark is
    /// lowered first: a blocking read under a mark left high by the last
    /// pass could wait for bytes that never come); `None` once the stream
    /// ended.
    pub fn count(&mut self) -> std::io::Result<Option<u64>> {
        let mut b = [0u8; 8];
        let mut at = 0;
        while at < 8 {
            match self
                .stream
                .read_expecting(&mut b[at..], 8 - at, &mut self.low_water)
            {
                Ok(0) if at == 0 => return Ok(None),
                Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
                Ok(k) => at += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Some(u64::from_le_bytes(b)))
    }

    /// Reads exactly `n` bytes (never past the `n`th) and discards them;
    /// an end of stream before `n` bytes is an error.
    pub fn read(&mut self, n: u64) -> std::io::Result<()> {
        let mut left = n;
        while left > 0 {
            let want = CHUNK.min(usize::try_from(left).unwrap_or(usize::MAX));
            let buf = &mut self.buf[..want];
            let got = if self.wait {
                self.stream.read_expecting(buf, want, &mut self.low_water)
            } else {
                self.stream.read(buf)
            };
            match got {
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
    let mut discard = Discard::eager(&s)?;
    while let Some(n) = discard.count()? {
        discard.read(n)?;
        s.write_all(&[1])?;
    }
    Ok(())
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
