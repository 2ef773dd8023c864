//! Sans-IO pieces of ILP over HTTP/1.1: request heads, response heads
//! (parsed with `httparse`) and bodies (`Content-Length` or chunked),
//! QuestDB's JSON error body and its `/settings` document. No sockets: the
//! client in [`crate::client`] drives them.

use std::fmt;

use super::IlpVersion;
use crate::error::{Error, ErrorKind, Result};

/// Where ILP lines are posted. QuestDB's own clients post every version to
/// `/write` (the version is in the lines themselves: binary values and
/// timestamp suffixes); `precision=n` makes an unsuffixed designated
/// timestamp nanoseconds, which is what version 1 lines carry.
pub const WRITE_PATH: &str = "/write?precision=n";
/// The server settings: `config` → `line.proto.support.versions`.
pub const SETTINGS_PATH: &str = "/settings";
/// The health check: `204` when the server is up.
pub const PING_PATH: &str = "/ping";
/// Longest response head accepted.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Longest response body accepted (errors and `/settings` are small; a
/// larger body is an error, so a misbehaving server cannot grow memory).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Most headers a response may have.
const MAX_HEADERS: usize = 64;

/// Whether a failed request with this status is worth sending again (the
/// statuses QuestDB's clients retry: 500, 503, 504, 507, 509, 523, 524,
/// 529, 599).
pub fn is_retriable_status(status: u16) -> bool {
    matches!(status, 500 | 503 | 504 | 507 | 509 | 523 | 524 | 529 | 599)
}

/// Appends an HTTP/1.1 request head: `method path`, `Host`, the
/// `Authorization` value when given, `User-Agent`, and `Content-Length`
/// (with a `text/plain` content type) when there is a body.
pub fn write_request_head(
    out: &mut Vec<u8>,
    method: &str,
    path: &str,
    host: &str,
    authorization: Option<&str>,
    user_agent: &str,
    content_length: Option<usize>,
) {
    out.extend_from_slice(format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\n").as_bytes());
    if let Some(a) = authorization {
        out.extend_from_slice(format!("Authorization: {a}\r\n").as_bytes());
    }
    out.extend_from_slice(format!("User-Agent: {user_agent}\r\n").as_bytes());
    if let Some(n) = content_length {
        out.extend_from_slice(
            format!("Content-Type: text/plain; charset=utf-8\r\nContent-Length: {n}\r\n")
                .as_bytes(),
        );
    }
    out.extend_from_slice(b"\r\n");
}

/// How a response's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// No body (`204`, `304`, `1xx`, or `Content-Length: 0`).
    Empty,
    /// `Content-Length` bytes.
    Length(usize),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Until the server closes the connection.
    UntilClose,
}

/// A parsed response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    /// The status code.
    pub status: u16,
    /// The reason phrase.
    pub reason: String,
    /// Bytes of the head, the blank line included.
    pub head_len: usize,
    /// How the body is delimited.
    pub body: BodyKind,
    /// Whether the connection may carry another request afterwards.
    pub keep_alive: bool,
}

/// Parses a response head from the start of `buf`: `Ok(None)` while it is
/// incomplete; an error when it is malformed or longer than
/// [`MAX_HEAD_BYTES`]. Never panics.
pub fn parse_response_head(buf: &[u8]) -> Result<Option<ResponseHead>> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    let head_len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD_BYTES => {
            return Err(Error::new(
                ErrorKind::Protocol,
                format!("HTTP response head longer than {MAX_HEAD_BYTES} bytes"),
            ));
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => {
            return Err(Error::new(
                ErrorKind::Protocol,
                format!("malformed HTTP response head: {e}"),
            ));
        }
    };
    let status = resp.code.unwrap_or(0);
    let mut keep_alive = resp.version == Some(1);
    let mut length = None;
    let mut chunked = false;
    for h in resp.headers.iter() {
        let value = String::from_utf8_lossy(h.value);
        let value = value.trim();
        if h.name.eq_ignore_ascii_case("content-length") {
            let n = value.parse::<usize>().map_err(|_| {
                Error::new(
                    ErrorKind::Protocol,
                    format!("HTTP response with a bad Content-Length {value:?}"),
                )
            })?;
            length = Some(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value
                .rsplit(',')
                .next()
                .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"));
        } else if h.name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case("keep-alive") {
                    keep_alive = true;
                }
            }
        }
    }
    let body = if (100..200).contains(&status) || status == 204 || status == 304 {
        BodyKind::Empty
    } else if chunked {
        BodyKind::Chunked
    } else {
        match length {
            Some(0) => BodyKind::Empty,
            Some(n) => BodyKind::Length(n),
            None => {
                keep_alive = false;
                BodyKind::UntilClose
            }
        }
    };
    Ok(Some(ResponseHead {
        status,
        reason: resp.reason.unwrap_or("").to_owned(),
        head_len,
        body,
        keep_alive,
    }))
}

/// Where a [`ChunkedDecoder`] is in the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Reading a chunk-size line (hex digits, maybe `;extensions`).
    Size {
        value: usize,
        digits: usize,
        ext: bool,
    },
    /// Expecting the `\n` that ends the size line.
    SizeLf { value: usize },
    /// Reading chunk data.
    Data(usize),
    /// Expecting the `\r\n` after chunk data (`true`: the `\r` was seen).
    DataEnd(bool),
    /// Reading trailer lines; the count is bytes of the current line.
    Trailer(usize),
    /// The body is complete.
    Done,
}

/// The state after a chunk-size line: data, or the trailer after the last
/// (empty) chunk.
fn after_size(value: usize) -> Chunk {
    if value == 0 {
        Chunk::Trailer(0)
    } else {
        Chunk::Data(value)
    }
}

/// Decodes a chunked body incrementally, never buffering more than the
/// caller's output and never panicking on bad input.
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: Chunk,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        ChunkedDecoder {
            state: Chunk::Size {
                value: 0,
                digits: 0,
                ext: false,
            },
        }
    }
}

impl ChunkedDecoder {
    /// Whether the last chunk and the trailer were read.
    pub fn is_done(&self) -> bool {
        self.state == Chunk::Done
    }

    /// Feeds `input`, appending decoded data to `out`; returns how many
    /// bytes of `input` it used (all of them unless the body ended).
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize> {
        let bad = |what: &str| Error::new(ErrorKind::Protocol, format!("bad chunked body: {what}"));
        let mut i = 0;
        while i < input.len() && self.state != Chunk::Done {
            let b = input[i];
            self.state = match self.state {
                Chunk::Size { value, digits, ext } => match b {
                    b'\r' if digits > 0 => Chunk::SizeLf { value },
                    b'\n' if digits > 0 => after_size(value),
                    _ if ext => Chunk::Size { value, digits, ext },
                    b';' | b' ' | b'\t' if digits > 0 => Chunk::Size {
                        value,
                        digits,
                        ext: true,
                    },
                    _ => {
                        let d = (b as char)
                            .to_digit(16)
                            .ok_or_else(|| bad("chunk size is not hexadecimal"))?;
                        let value = value
                            .checked_mul(16)
                            .and_then(|v| v.checked_add(d as usize))
                            .filter(|&v| v <= MAX_BODY_BYTES)
                            .ok_or_else(|| bad("chunk too large"))?;
                        Chunk::Size {
                            value,
                            digits: digits + 1,
                            ext,
                        }
                    }
                },
                Chunk::SizeLf { value } if b == b'\n' => after_size(value),
                Chunk::SizeLf { .. } => return Err(bad("expected LF after the chunk size")),
                Chunk::Data(left) => {
                    let n = left.min(input.len() - i);
                    out.extend_from_slice(&input[i..i + n]);
                    i += n;
                    self.state = if n == left {
                        Chunk::DataEnd(false)
                    } else {
                        Chunk::Data(left - n)
                    };
                    continue;
                }
                Chunk::DataEnd(cr) => match (cr, b) {
                    (false, b'\r') => Chunk::DataEnd(true),
                    (_, b'\n') => Chunk::Size {
                        value: 0,
                        digits: 0,
                        ext: false,
                    },
                    _ => return Err(bad("expected CRLF after chunk data")),
                },
                Chunk::Trailer(len) => match b {
                    b'\n' if len == 0 => Chunk::Done,
                    b'\n' => Chunk::Trailer(0),
                    b'\r' => Chunk::Trailer(len),
                    _ if len >= MAX_HEAD_BYTES => return Err(bad("trailer too long")),
                    _ => Chunk::Trailer(len + 1),
                },
                Chunk::Done => Chunk::Done,
            };
            i += 1;
        }
        Ok(i)
    }
}

/// A request QuestDB refused: the HTTP status and what its JSON error body
/// said (`code`, `message`, `line`, `errorId`); a body that is not that
/// JSON becomes the message as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IlpServerError {
    /// The HTTP status.
    pub status: u16,
    /// QuestDB's error code (`invalid`, `internal error`, ...).
    pub code: Option<String>,
    /// What went wrong.
    pub message: String,
    /// The 1-based line of the request body the error is about.
    pub line: Option<u64>,
    /// The server's id of the error, for its log.
    pub error_id: Option<String>,
}

impl IlpServerError {
    /// Reads the error of a response with `status`, `reason` and `body`.
    pub fn parse(status: u16, reason: &str, body: &[u8]) -> IlpServerError {
        let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
        let field = |k: &str| json.as_ref().and_then(|j| j.get(k));
        let text = |k: &str| {
            field(k).and_then(|v| match v {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Null => None,
                other => Some(other.to_string()),
            })
        };
        let line = field("line").and_then(|v| {
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        });
        let message = text("message").unwrap_or_else(|| {
            let body = String::from_utf8_lossy(&body[..body.len().min(4096)]);
            let body = body.trim();
            if body.is_empty() {
                reason.to_owned()
            } else {
                body.to_owned()
            }
        });
        IlpServerError {
            status,
            code: text("code"),
            message,
            line,
            error_id: text("errorId"),
        }
    }
}

impl fmt::Display for IlpServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        if let Some(c) = &self.code {
            write!(f, " {c}")?;
        }
        if let Some(l) = self.line {
            write!(f, " at line {l}")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(id) = &self.error_id {
            write!(f, " (errorId {id})")?;
        }
        Ok(())
    }
}

/// The ILP versions a `/settings` body lists (`config` →
/// `line.proto.support.versions`, or the same key at the top level as
/// older servers put it); `None` when it lists none (a server from before
/// versions: it speaks 1). An error when the body is not JSON.
pub fn parse_settings(body: &[u8]) -> Result<Option<Vec<u64>>> {
    let json: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        Error::new(ErrorKind::Protocol, "the server's /settings is not JSON").with_source(e)
    })?;
    const KEY: &str = "line.proto.support.versions";
    let list = json
        .get("config")
        .and_then(|c| c.get(KEY))
        .or_else(|| json.get(KEY));
    Ok(list
        .and_then(|l| l.as_array())
        .map(|a| a.iter().filter_map(serde_json::Value::as_u64).collect()))
}

/// The highest version both this client and the server (`server`, from
/// [`parse_settings`]; `None`: version 1 only) speak; an
/// [`ErrorKind::Incompatible`] error when there is none.
pub fn pick_version(server: Option<&[u64]>) -> Result<IlpVersion> {
    let Some(list) = server else {
        return Ok(IlpVersion::V1);
    };
    list.iter()
        .filter_map(|&v| u8::try_from(v).ok().and_then(IlpVersion::from_number))
        .max()
        .ok_or_else(|| {
            Error::new(
                ErrorKind::Incompatible,
                format!(
                    "the server speaks ILP versions {list:?}, this client 1, 2 and 3 (set protocol_version to override)"
                ),
            )
        })
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
