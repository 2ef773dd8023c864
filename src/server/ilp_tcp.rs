//! ILP over raw TCP ([`super::ServerBuilder::ilp_tcp_bind`]):
//! newline-delimited lines, no answers. Each read's complete lines are
//! committed at once (one transaction per table per read), so a line the
//! server has read is stored before the next read. On a bad line the lines
//! before it (in that read) are committed and the connection is closed,
//! as QuestDB does; TCP has no acknowledgements, so a client learns of the
//! failure only by the closed socket and cannot tell which lines were
//! stored (use HTTP for that). Only `\n`-terminated lines are stored: a
//! connection that ends inside a line (possibly cut off) loses that line.
//! Where a line ends is the parser's call, not a search for the byte `\n`
//! (protocol version 2's binary doubles and escapes may hold one): a line
//! a read cut off waits for the next read.
//!
//! Optional authentication (QuestDB's ECDSA scheme,
//! [`super::ServerBuilder::ilp_tcp_auth`]): the client sends its key id and
//! `\n`; the server answers a random challenge and `\n`; the client sends
//! the base64 SHA256withECDSA signature of the challenge (P-256; raw
//! `r‖s` or DER) and `\n`. Any mismatch closes the connection.
//!
//! When the server has TLS ([`super::ServerBuilder::tls`]) this listener
//! serves TLS only, with the same certificate (as QuestDB Enterprise
//! serves ILP/TCP over TLS on its ILP port): clients connect with `tcps::`,
//! and the authentication runs inside the TLS session.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use base64::Engine;
use ring::signature::{ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};

use super::ilp::{self, Precision};
use super::{ServerStream, Shared};
use crate::error::{Error, ErrorKind, Result};

/// Default for [`super::ServerBuilder::ilp_tcp_max_line`]: 2 MiB.
pub const DEFAULT_ILP_TCP_MAX_LINE: usize = 2 * 1024 * 1024;

/// Bytes asked of the socket per read (and so at most committed at once,
/// besides a line carried over).
const READ_CHUNK: usize = 1024 * 1024;
/// Longest key-id or signature line of the auth exchange.
const MAX_AUTH_LINE: usize = 1024;
/// Length of the challenge (random alphanumerics).
const CHALLENGE_LEN: usize = 64;
/// Read timeout slice, to notice the server stopping.
const POLL: Duration = Duration::from_millis(250);

/// The key a TCP client must prove it holds (QuestDB's `auth.txt` entry).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IlpTcpAuth {
    /// The key id the client sends first.
    pub key_id: String,
    /// The public key's x coordinate, base64url without padding.
    pub public_x: String,
    /// The public key's y coordinate, base64url without padding.
    pub public_y: String,
}

impl IlpTcpAuth {
    /// The SEC 1 uncompressed point (`04 ‖ x ‖ y`).
    pub(crate) fn point(&self) -> Result<Vec<u8>> {
        let dec = |what: &str, s: &str| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(s.trim_end_matches('='))
                .ok()
                .filter(|b| b.len() <= 32)
                .ok_or_else(|| {
                    Error::new(
                        ErrorKind::Config,
                        format!("ilp_tcp_auth: public key {what} {s:?} is not base64url of at most 32 bytes"),
                    )
                })
        };
        let (x, y) = (dec("x", &self.public_x)?, dec("y", &self.public_y)?);
        let mut p = vec![4u8];
        p.extend(std::iter::repeat_n(0, 32 - x.len()));
        p.extend_from_slice(&x);
        p.extend(std::iter::repeat_n(0, 32 - y.len()));
        p.extend_from_slice(&y);
        Ok(p)
    }
}

/// Accepts ILP/TCP connections until the server stops.
pub(super) fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    while !shared.stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => spawn(&shared, stream),
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

fn spawn(shared: &Arc<Shared>, stream: TcpStream) {
    if shared.live.load(Ordering::SeqCst) >= shared.cfg.max_connections {
        return; // Over the limit: closed at once (TCP has no way to answer).
    }
    let n = shared.connections.fetch_add(1, Ordering::Relaxed);
    shared.live.fetch_add(1, Ordering::SeqCst);
    let s2 = shared.clone();
    let spawned = std::thread::Builder::new()
        .name(format!("qa-server-ilp-{n}"))
        .spawn(move || {
            let run = std::panic::AssertUnwindSafe(|| serve(stream, &s2));
            match std::panic::catch_unwind(run) {
                Ok(Ok(())) => {}
                Ok(Err(e)) if matches!(e.kind(), ErrorKind::Closed | ErrorKind::Io) => {}
                Ok(Err(e)) => eprintln!("questdb-arrow server: ILP/TCP connection {n}: {e}"),
                Err(p) => eprintln!(
                    "questdb-arrow server: ILP/TCP connection {n} panicked ({}); closed it",
                    super::panic_text(p.as_ref())
                ),
            }
            s2.live.fetch_sub(1, Ordering::SeqCst);
        });
    match spawned {
        Ok(h) => {
            let mut w = shared.workers.lock().unwrap_or_else(|p| p.into_inner());
            w.retain(|h| !h.is_finished());
            w.push(h);
        }
        Err(e) => {
            shared.live.fetch_sub(1, Ordering::SeqCst);
            eprintln!("questdb-arrow server: ILP/TCP connection {n}: thread spawn failed: {e}");
        }
    }
}

/// Reads into `buf` what arrives, waiting in [`POLL`] slices: `Ok(0)` at
/// the end of the stream; an error when the server stops, the idle
/// timeout or `deadline` passes.
fn read_some(
    stream: &mut ServerStream,
    buf: &mut [u8],
    shared: &Shared,
    deadline: Option<Instant>,
) -> Result<usize> {
    let since = Instant::now();
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            return Err(Error::new(ErrorKind::Closed, "server stopping"));
        }
        let idle = shared.idle_timeout().is_some_and(|d| since.elapsed() >= d);
        if idle || deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(Error::new(
                ErrorKind::Closed,
                "ILP/TCP connection timed out",
            ));
        }
        stream.tcp().set_read_timeout(Some(POLL))?;
        match stream.read(buf) {
            Ok(k) => return Ok(k),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// Reads one `\n`-terminated auth line (at most [`MAX_AUTH_LINE`]).
fn auth_line(
    stream: &mut ServerStream,
    carry: &mut Vec<u8>,
    shared: &Shared,
    deadline: Instant,
) -> Result<Vec<u8>> {
    loop {
        if let Some(i) = carry.iter().position(|&b| b == b'\n') {
            let mut line: Vec<u8> = carry.drain(..=i).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return Ok(line);
        }
        if carry.len() > MAX_AUTH_LINE {
            return Err(Error::new(ErrorKind::Auth, "ILP/TCP auth line too long"));
        }
        let mut chunk = [0u8; 512];
        let k = read_some(stream, &mut chunk, shared, Some(deadline))?;
        if k == 0 {
            return Err(Error::new(ErrorKind::Closed, "closed during ILP/TCP auth"));
        }
        carry.extend_from_slice(&chunk[..k]);
    }
}

/// QuestDB's challenge–response; `Err` closes the connection.
fn authenticate(
    stream: &mut ServerStream,
    carry: &mut Vec<u8>,
    auth: &IlpTcpAuth,
    shared: &Shared,
) -> Result<()> {
    let deadline = Instant::now() + shared.handshake_timeout();
    let refused = |why: &str| Error::new(ErrorKind::Auth, format!("ILP/TCP auth refused: {why}"));
    let key_id = auth_line(stream, carry, shared, deadline)?;
    if key_id != auth.key_id.as_bytes() {
        return Err(refused("unknown key id"));
    }
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut challenge: Vec<u8> = (0..CHALLENGE_LEN)
        .map(|_| ALNUM[rand::random_range(0..ALNUM.len())])
        .collect();
    challenge.push(b'\n');
    stream.write_all(&challenge)?;
    stream.flush()?;
    challenge.pop();
    let sig_b64 = auth_line(stream, carry, shared, deadline)?;
    let sig = base64::engine::general_purpose::STANDARD
        .decode(sig_b64.trim_ascii())
        .map_err(|_| refused("signature is not base64"))?;
    let point = auth.point()?;
    let alg: &'static dyn ring::signature::VerificationAlgorithm = if sig.len() == 64 {
        &ECDSA_P256_SHA256_FIXED
    } else {
        &ECDSA_P256_SHA256_ASN1
    };
    UnparsedPublicKey::new(alg, &point)
        .verify(&challenge, &sig)
        .map_err(|_| refused("bad signature"))
}

/// Commits the complete lines at the start of `buf` and removes them; on
/// a bad line commits those before it and returns the failure. A line is
/// complete when the parser finds its end inside `buf` (a byte `\n` may
/// also be part of a binary value or an escape); one that `buf` cuts off
/// stays for the next read, and at the stream's `end` it is an error.
fn commit_lines(
    shared: &Shared,
    buf: &mut Vec<u8>,
    end: bool,
) -> std::result::Result<(), ilp::IlpFailure> {
    let now = ilp::now_micros();
    let mut lines = ilp::BodyWrites::new(&shared.catalog, Precision::Nanos, now, buf.len());
    match lines.feed(buf, end) {
        Ok(n) => {
            ilp::commit(shared, lines.finish()?)?;
            buf.drain(..n);
            Ok(())
        }
        Err(f) => {
            // The lines before the bad one, parsed again: the rows built
            // may hold part of the bad line.
            let good = &buf[..lines.good()];
            let w = ilp::to_writes(&shared.catalog, good, Precision::Nanos, now)?;
            ilp::commit(shared, w)?;
            Err(f)
        }
    }
}

fn serve(tcp: TcpStream, shared: &Shared) -> Result<()> {
    tcp.set_nonblocking(false)?;
    tcp.set_nodelay(true)?;
    let deadline = Instant::now() + shared.handshake_timeout();
    let mut stream = ServerStream::accept(tcp, shared.tls.as_ref(), deadline)?;
    // From here `read_some` bounds every read itself.
    stream.deadline = None;
    let mut buf: Vec<u8> = Vec::new();
    if let Some(auth) = &shared.cfg.ilp_tcp_auth {
        authenticate(&mut stream, &mut buf, auth, shared)?;
    }
    let max_line = shared.cfg.ilp_tcp_max_line;
    let mut chunk = vec![0u8; READ_CHUNK];
    loop {
        // `buf` may already hold lines that came with the auth signature.
        if !buf.is_empty() {
            commit_lines(shared, &mut buf, false).map_err(|f| ilp_error(&f))?;
        }
        if buf.len() > max_line {
            return Err(Error::new(
                ErrorKind::InvalidData,
                format!(
                    "ILP/TCP line longer than ilp_tcp_max_line ({max_line} bytes); connection closed"
                ),
            ));
        }
        let k = read_some(&mut stream, &mut chunk, shared, None)?;
        if k == 0 {
            // End of stream. A last line without `\n` may have been cut
            // off (`x=123i` arriving as `x=12`): it is not stored. What is
            // left may also be blank or comment lines.
            let cut = {
                let mut rest =
                    ilp::BodyWrites::new(&shared.catalog, Precision::Nanos, 0, buf.len());
                rest.feed(&buf, true).is_err() || !rest.is_empty()
            };
            if cut {
                return Err(Error::new(
                    ErrorKind::InvalidData,
                    format!(
                        "ILP/TCP: the connection ended inside a line ({} bytes without a newline); that line was not stored",
                        buf.len()
                    ),
                ));
            }
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..k]);
    }
}

fn ilp_error(f: &ilp::IlpFailure) -> Error {
    Error::new(
        ErrorKind::Protocol,
        format!("ILP/TCP: {}; connection closed", f.message),
    )
}
