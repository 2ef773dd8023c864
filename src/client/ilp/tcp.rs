//! ILP over TCP: lines written to the socket, fire and forget, with
//! QuestDB's ECDSA challenge authentication.
//!
//! What the client can know: TCP gives no acknowledgement, so a flush
//! returns once the bytes are in the operating system's send buffer. When
//! the server refuses a line (or the authentication) it closes the
//! connection without saying why or which line; the client sees the close
//! only on a later flush (its peek finds the stream ended, or the write
//! fails). That error says the server may have dropped lines sent before
//! it — anything since the connection opened, not only the last flush.
//! The link then reconnects on the next flush. A server that stops
//! reading makes a flush wait once the socket's send buffer is full (as
//! with any TCP client; there is no write timeout).

use std::io::{Read, Write};

use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};

use crate::conf::Conf;
use crate::error::{Error, ErrorKind, Result};
use crate::transport::{ConnectOptions, Stream, open_stream, peek_idle};

/// Longest challenge line accepted from the server.
const MAX_CHALLENGE: usize = 4096;

/// The ECDSA key of `username` / `token` / `token_x` / `token_y`.
pub(crate) struct EcdsaAuth {
    key_id: String,
    key: EcdsaKeyPair,
}

/// Decodes one base64url part of the key (padding accepted), left-padded
/// with zeros to 32 bytes.
fn key_part(name: &str, v: &str) -> Result<[u8; 32]> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(v.trim_end_matches('='))
        .map_err(|e| Error::config(name, "<redacted>", format!("is not base64url: {e}")))?;
    if raw.len() > 32 {
        return Err(Error::config(
            name,
            "<redacted>",
            format!("is {} bytes; a P-256 key part has 32", raw.len()),
        ));
    }
    let mut out = [0u8; 32];
    out[32 - raw.len()..].copy_from_slice(&raw);
    Ok(out)
}

impl EcdsaAuth {
    /// The key of `conf`, when it has one; an error naming the key part
    /// that does not decode or does not form a P-256 key pair.
    pub(crate) fn from_conf(conf: &Conf) -> Result<Option<EcdsaAuth>> {
        let (Some(kid), Some(d), Some(x), Some(y)) = (
            conf.username(),
            conf.token(),
            conf.token_x(),
            conf.token_y(),
        ) else {
            return Ok(None);
        };
        let d = key_part("token", d)?;
        let mut public = Vec::with_capacity(65);
        public.push(4);
        public.extend_from_slice(&key_part("token_x", x)?);
        public.extend_from_slice(&key_part("token_y", y)?);
        let key = EcdsaKeyPair::from_private_key_and_public_key(
            &ECDSA_P256_SHA256_ASN1_SIGNING,
            &d,
            &public,
            &SystemRandom::new(),
        )
        .map_err(|e| {
            Error::config(
                "token",
                "<redacted>",
                format!("token, token_x and token_y are not one P-256 key pair ({e})"),
            )
        })?;
        Ok(Some(EcdsaAuth {
            key_id: kid.to_owned(),
            key,
        }))
    }

    /// Runs the challenge: sends the key id, reads the challenge line,
    /// sends its SHA256withECDSA signature (DER, standard base64) and a
    /// newline. The server answers nothing on success and closes the
    /// connection on failure (seen by a later flush).
    fn run(&self, stream: &mut Stream, peer: &str) -> Result<()> {
        let fail = |what: &str, e: std::io::Error| {
            let kind = match e.kind() {
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => ErrorKind::Timeout,
                _ => ErrorKind::Auth,
            };
            Error::new(kind, format!("ILP/TCP authentication with {peer}: {what}")).with_source(e)
        };
        stream
            .write_all(format!("{}\n", self.key_id).as_bytes())
            .and_then(|()| stream.flush())
            .map_err(|e| fail("sending the key id", e))?;
        let mut challenge = Vec::new();
        let mut byte = [0u8; 1];
        loop {
            let n = stream
                .read(&mut byte)
                .map_err(|e| fail("reading the challenge", e))?;
            if n == 0 {
                return Err(Error::new(
                    ErrorKind::Auth,
                    format!(
                        "ILP/TCP authentication with {peer}: the server closed the connection instead of sending a challenge (unknown key id?)"
                    ),
                ));
            }
            if byte[0] == b'\n' {
                break;
            }
            if challenge.len() >= MAX_CHALLENGE {
                return Err(Error::new(
                    ErrorKind::Protocol,
                    format!(
                        "ILP/TCP authentication with {peer}: challenge longer than {MAX_CHALLENGE} bytes"
                    ),
                ));
            }
            challenge.push(byte[0]);
        }
        let sig = self
            .key
            .sign(&SystemRandom::new(), &challenge)
            .map_err(|_| Error::new(ErrorKind::Internal, "ECDSA signing failed"))?;
        let mut line = base64::engine::general_purpose::STANDARD.encode(sig.as_ref());
        line.push('\n');
        stream
            .write_all(line.as_bytes())
            .and_then(|()| stream.flush())
            .map_err(|e| fail("sending the signature", e))
    }
}

/// ILP over TCP to the first endpoint of a connect string that answers.
pub(crate) struct TcpLink {
    conf: Conf,
    auth: Option<EcdsaAuth>,
    endpoint: usize,
    stream: Option<Stream>,
    peer: String,
    /// Bytes and flushes written on the current connection.
    sent: (u64, u64),
    /// Connections opened.
    pub(crate) connects: u32,
}

impl TcpLink {
    /// Connects (and authenticates) now, so a wrong address or key
    /// surfaces at once.
    pub(crate) fn connect(conf: &Conf) -> Result<TcpLink> {
        let mut l = TcpLink {
            conf: conf.clone(),
            auth: EcdsaAuth::from_conf(conf)?,
            endpoint: 0,
            stream: None,
            peer: String::new(),
            sent: (0, 0),
            connects: 0,
        };
        l.open()?;
        Ok(l)
    }

    fn open(&mut self) -> Result<()> {
        let n = self.conf.addrs().len();
        let mut last = None;
        for i in 0..n {
            let at = (self.endpoint + i) % n;
            let opts = ConnectOptions::from_conf(&self.conf, &self.conf.addrs()[at]);
            let peer = opts.authority();
            let res = open_stream(&opts).and_then(|mut s| {
                if let Some(a) = &self.auth {
                    a.run(&mut s, &peer)?;
                }
                // After the handshake a write may wait as long as the
                // server needs.
                s.tcp()
                    .set_write_timeout(None)
                    .map_err(|e| Error::new(ErrorKind::Io, "socket setup").with_source(e))?;
                Ok(s)
            });
            match res {
                Ok(s) => {
                    self.endpoint = at;
                    self.stream = Some(s);
                    self.peer = peer;
                    self.sent = (0, 0);
                    self.connects += 1;
                    return Ok(());
                }
                Err(e) if e.kind() == ErrorKind::Config => return Err(e),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| Error::new(ErrorKind::Config, "no addr")))
    }

    /// The error for a connection found closed or failing: what was sent
    /// on it may be lost, and which lines cannot be known.
    fn lost(&mut self, cause: Option<std::io::Error>) -> Error {
        self.stream = None;
        let (bytes, flushes) = self.sent;
        let e = Error::new(
            ErrorKind::Closed,
            format!(
                "the ILP/TCP connection to {} was closed or failed: the server may have dropped lines sent before (up to {bytes} bytes in {flushes} flushes on that connection; TCP has no acknowledgements, so which cannot be known). The server closes the connection on a line it refuses or a failed authentication; the next flush reconnects",
                self.peer
            ),
        );
        match cause {
            Some(c) => e.with_source(c),
            None => e,
        }
    }

    /// Writes `body`. An error when the connection was found closed (the
    /// server refused something sent before) or the write failed.
    pub(crate) fn send(&mut self, body: &[u8]) -> Result<()> {
        let Some(stream) = self.stream.as_mut() else {
            self.open()?;
            return self.send(body);
        };
        // The server never writes on an ILP connection: an end of stream,
        // or (plain TCP) pending bytes mean it is closing. Under TLS
        // pending bytes may be a session ticket, so only the end counts.
        let closing = match peek_idle(stream.tcp()) {
            None => true,
            Some(None) => false,
            Some(Some(_)) => matches!(stream, Stream::Plain(_)),
        };
        if closing {
            return Err(self.lost(None));
        }
        if let Err(e) = stream.write_all(body).and_then(|()| stream.flush()) {
            return Err(self.lost(Some(e)));
        }
        self.sent.0 += body.len() as u64;
        self.sent.1 += 1;
        Ok(())
    }

    /// Whether the connection is open.
    pub(crate) fn is_open(&self) -> bool {
        self.stream.is_some()
    }
}
