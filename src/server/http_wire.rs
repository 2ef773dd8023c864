//! HTTP/1.1 on the wire for the front door: request heads (parsed with
//! `httparse`), request bodies (`Content-Length` or chunked, under a cap)
//! and responses. Sans policy: [`super::http`] decides what to answer.

use std::io::{self, Read, Write};

/// Largest request head (request line and headers) accepted; a longer one
/// is answered 431.
pub(crate) const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Most headers in a request head; more is answered 431.
pub(crate) const MAX_HEADERS: usize = 96;
/// Longest chunk-size line of a chunked body.
const MAX_CHUNK_LINE: usize = 1024;
/// Bytes asked of the socket per read.
const READ_CHUNK: usize = 64 * 1024;

/// A parsed request head.
#[derive(Debug, Clone)]
pub(crate) struct Head {
    /// `GET`, `POST`, ...
    pub(crate) method: String,
    /// The path, without the query.
    pub(crate) path: String,
    /// The query string (after `?`), empty when none.
    pub(crate) query: String,
    /// The minor version of HTTP/1.x.
    pub(crate) minor: u8,
    /// Header names (as sent) and values (non-UTF-8 bytes replaced).
    pub(crate) headers: Vec<(String, String)>,
}

impl Head {
    /// The first value of header `name` (case-insensitive).
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// How many headers are named `name`.
    pub(crate) fn count(&self, name: &str) -> usize {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .count()
    }

    /// Whether a comma-separated header `name` holds `token`.
    pub(crate) fn has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// The query parameter `key`, if present.
    pub(crate) fn param(&self, key: &str) -> Option<&str> {
        self.query
            .split('&')
            .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    }

    /// Whether the connection stays open after this request.
    pub(crate) fn keep_alive(&self) -> bool {
        if self.has_token("connection", "close") {
            return false;
        }
        self.minor >= 1 || self.has_token("connection", "keep-alive")
    }
}

/// Why no request head could be read.
#[derive(Debug)]
pub(crate) enum HeadError {
    /// The peer closed the connection before sending a byte.
    Closed,
    /// Over [`MAX_HEAD_BYTES`] or [`MAX_HEADERS`] (answer 431).
    TooLarge,
    /// Not HTTP/1.x (answer 400).
    Malformed(String),
    /// The socket failed or timed out (a slow head hits the deadline here).
    Io(io::Error),
}

/// Reads one request head, starting with the bytes `buf` already holds
/// (the previous request's leftovers). On success `buf` holds the bytes
/// after the head: the start of the body, or of a WebSocket stream.
pub(crate) fn read_head<S: Read>(stream: &mut S, buf: &mut Vec<u8>) -> Result<Head, HeadError> {
    loop {
        let mut hs = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut hs);
        match req.parse(buf) {
            Ok(httparse::Status::Complete(n)) => {
                let head = to_head(&req)?;
                buf.drain(..n);
                return Ok(head);
            }
            Ok(httparse::Status::Partial) => {}
            Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooLarge),
            Err(e) => return Err(HeadError::Malformed(format!("bad request head: {e}"))),
        }
        if buf.len() >= MAX_HEAD_BYTES {
            return Err(HeadError::TooLarge);
        }
        let want = (MAX_HEAD_BYTES - buf.len()).min(READ_CHUNK);
        match read_more(stream, buf, want) {
            Ok(0) if buf.is_empty() => return Err(HeadError::Closed),
            Ok(0) => {
                return Err(HeadError::Malformed(
                    "connection closed in the middle of a request head".into(),
                ));
            }
            Ok(_) => {}
            Err(e) => return Err(HeadError::Io(e)),
        }
    }
}

fn to_head(req: &httparse::Request<'_, '_>) -> Result<Head, HeadError> {
    let (Some(method), Some(target), Some(minor)) = (req.method, req.path, req.version) else {
        return Err(HeadError::Malformed("incomplete request line".into()));
    };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    Ok(Head {
        method: method.to_string(),
        path: path.to_string(),
        query: query.to_string(),
        minor,
        headers: req
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_string(),
                    String::from_utf8_lossy(h.value).trim().to_string(),
                )
            })
            .collect(),
    })
}

/// Appends up to `want` bytes read from `stream` to `buf`; returns how
/// many (0 at the end of the stream).
fn read_more<S: Read>(stream: &mut S, buf: &mut Vec<u8>, want: usize) -> io::Result<usize> {
    let old = buf.len();
    buf.resize(old + want.max(1), 0);
    let got = stream.read(&mut buf[old..]);
    buf.truncate(old + *got.as_ref().unwrap_or(&0));
    got
}

/// A reader that appends to a vector's spare capacity: a body is read
/// that way, without zeroing the room first when the reader can (a
/// socket can; a reader with only [`Read::read`] cannot, and gets the
/// room zeroed by the default method).
pub(crate) trait ReadAppend: Read + Sized {
    /// Appends at most `limit` bytes (until the reader's end) to `buf`;
    /// the bytes appended, `Ok(0)` at the end. Bytes read before an
    /// error are in `buf`.
    fn read_append(&mut self, buf: &mut Vec<u8>, limit: u64) -> io::Result<usize> {
        Read::by_ref(self).take(limit).read_to_end(buf)
    }
}

/// Why a body could not be read.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// Over the cap (answer 413); the announced length when known.
    TooLarge(Option<u64>),
    /// Malformed framing (answer 400).
    Malformed(String),
    /// The socket failed or the peer closed mid-body.
    Io(io::Error),
}

/// Reads the request body (`Content-Length` or `Transfer-Encoding:
/// chunked`; neither: empty) of at most `cap` bytes. `buf` holds bytes
/// already read past the head and keeps what follows the body.
pub(crate) fn read_body<S: ReadAppend>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    head: &Head,
    cap: usize,
) -> Result<Vec<u8>, BodyError> {
    match framing(head, cap)? {
        Framing::Chunked => read_chunked(stream, buf, cap),
        Framing::Length(len) => {
            fill(stream, buf, len)?;
            let rest = buf.split_off(len);
            Ok(std::mem::replace(buf, rest))
        }
    }
}

/// How a request's body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// `Content-Length` bytes (0 without either header).
    Length(usize),
}

/// The framing of the body of `head`, at most `cap` bytes when its length
/// is announced.
pub(crate) fn framing(head: &Head, cap: usize) -> Result<Framing, BodyError> {
    if let Some(te) = head.get("transfer-encoding") {
        if !te.trim().eq_ignore_ascii_case("chunked") {
            return Err(BodyError::Malformed(format!(
                "Transfer-Encoding {te:?} is not supported (send chunked or Content-Length)"
            )));
        }
        return Ok(Framing::Chunked);
    }
    if head.count("content-length") > 1 {
        return Err(BodyError::Malformed("more than one Content-Length".into()));
    }
    let Some(cl) = head.get("content-length") else {
        return Ok(Framing::Length(0));
    };
    let len: u64 = cl
        .trim()
        .parse()
        .map_err(|_| BodyError::Malformed(format!("bad Content-Length {cl:?}")))?;
    if len > cap as u64 {
        return Err(BodyError::TooLarge(Some(len)));
    }
    Ok(Framing::Length(len as usize))
}

/// Reads until `buf` holds `need` bytes (never more). The bytes go to
/// `buf`'s spare capacity through [`ReadAppend`], which on a plain socket
/// does not zero it first, so a keep-alive connection's
/// reused buffer costs no memset per body; the room grows with what
/// arrived (capacity doubles), so a client announcing more than it sends
/// gets no more memory than about twice what it sent.
pub(crate) fn fill<S: ReadAppend>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    need: usize,
) -> Result<(), BodyError> {
    while buf.len() < need {
        let missing = (need - buf.len()) as u64;
        match stream.read_append(buf, missing) {
            Ok(0) => {
                return Err(BodyError::Io(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed in the middle of a request body",
                )));
            }
            Ok(_) => {}
            Err(e) => return Err(BodyError::Io(e)),
        }
    }
    Ok(())
}

/// Reads a CRLF-terminated line at the start of `buf` (reading more as
/// needed) and removes it; returns it without the CRLF.
fn take_line<S: ReadAppend>(stream: &mut S, buf: &mut Vec<u8>) -> Result<Vec<u8>, BodyError> {
    loop {
        if let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
            let line = buf[..i].to_vec();
            buf.drain(..i + 2);
            return Ok(line);
        }
        if buf.len() > MAX_CHUNK_LINE {
            return Err(BodyError::Malformed("chunk-size line too long".into()));
        }
        let have = buf.len();
        fill(stream, buf, have + 1)?;
    }
}

fn read_chunked<S: ReadAppend>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    cap: usize,
) -> Result<Vec<u8>, BodyError> {
    let mut body = Vec::new();
    loop {
        let line = take_line(stream, buf)?;
        let text = String::from_utf8_lossy(&line);
        let size_text = text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| BodyError::Malformed(format!("bad chunk size {size_text:?}")))?;
        if size == 0 {
            // Trailers, up to the empty line.
            while !take_line(stream, buf)?.is_empty() {}
            return Ok(body);
        }
        if body.len().saturating_add(size) > cap {
            return Err(BodyError::TooLarge(None));
        }
        fill(stream, buf, size + 2)?;
        if &buf[size..size + 2] != b"\r\n" {
            return Err(BodyError::Malformed("chunk not followed by CRLF".into()));
        }
        body.extend_from_slice(&buf[..size]);
        buf.drain(..size + 2);
    }
}

/// A response to write.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    /// The status code.
    pub(crate) status: u16,
    /// Extra headers.
    pub(crate) headers: Vec<(String, String)>,
    /// `Content-Type` of the body, if it has one.
    pub(crate) content_type: Option<&'static str>,
    /// The body.
    pub(crate) body: Vec<u8>,
    /// Send `Connection: close` (the connection ends after this reply).
    pub(crate) close: bool,
}

impl Reply {
    /// A reply with no body.
    pub(crate) fn empty(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            content_type: None,
            body: Vec::new(),
            close: false,
        }
    }

    /// A `text/plain` reply.
    pub(crate) fn text(status: u16, body: &str) -> Reply {
        Reply {
            content_type: Some("text/plain; charset=utf-8"),
            body: body.as_bytes().to_vec(),
            ..Reply::empty(status)
        }
    }

    /// An `application/json` reply.
    pub(crate) fn json(status: u16, body: String) -> Reply {
        Reply {
            content_type: Some("application/json"),
            body: body.into_bytes(),
            ..Reply::empty(status)
        }
    }

    /// Adds a header.
    pub(crate) fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Marks the reply as the connection's last.
    pub(crate) fn closing(mut self) -> Reply {
        self.close = true;
        self
    }

    /// The bytes on the wire (status line, headers, body).
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let reason = tungstenite::http::StatusCode::from_u16(self.status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Unknown");
        let mut out = format!("HTTP/1.1 {} {reason}\r\n", self.status);
        for (n, v) in &self.headers {
            out.push_str(&format!("{n}: {v}\r\n"));
        }
        if let Some(ct) = self.content_type {
            out.push_str(&format!("Content-Type: {ct}\r\n"));
        }
        if self.status != 101 && self.status != 204 && self.status >= 200 {
            out.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        }
        if self.close {
            out.push_str("Connection: close\r\n");
        }
        out.push_str("\r\n");
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }

    /// Writes the reply and flushes.
    pub(crate) fn write_to<W: Write>(&self, w: &mut W) -> io::Result<()> {
        w.write_all(&self.to_bytes())?;
        w.flush()
    }
}

/// A JSON string literal for `s` (quotes included).
pub(crate) fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
#[path = "http_wire_tests.rs"]
mod tests;
