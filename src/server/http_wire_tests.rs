use std::io::{self, Cursor, Read};

use super::*;

impl ReadAppend for Cursor<&[u8]> {}
impl ReadAppend for Trickle<'_> {}
impl ReadAppend for Stalls<'_> {}
impl ReadAppend for Pieces<'_> {}

/// A reader that hands out one byte per read (a slow client).
struct Trickle<'a>(&'a [u8]);

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.0.split_first() {
            Some((b, rest)) if !buf.is_empty() => {
                buf[0] = *b;
                self.0 = rest;
                Ok(1)
            }
            _ => Ok(0),
        }
    }
}

/// A reader that times out after its bytes (a slowloris that stopped).
struct Stalls<'a>(&'a [u8]);

impl Read for Stalls<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.0.is_empty() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "deadline"));
        }
        let n = self.0.len().min(buf.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

#[test]
fn parses_head_and_keeps_leftover() {
    let raw = b"POST /write?precision=ms&x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nConnection: keep-alive, Upgrade\r\n\r\nabcNEXT";
    let mut buf = Vec::new();
    let head = read_head(&mut Cursor::new(&raw[..]), &mut buf).expect("head");
    assert_eq!(head.method, "POST");
    assert_eq!(head.path, "/write");
    assert_eq!(head.param("precision"), Some("ms"));
    assert_eq!(head.param("x"), Some(""));
    assert_eq!(head.param("y"), None);
    assert_eq!(head.get("HOST"), Some("a"));
    assert!(head.has_token("connection", "upgrade"));
    assert!(head.keep_alive());
    assert_eq!(buf, b"abcNEXT");
    let body = read_body(&mut Cursor::new(&b""[..]), &mut buf, &head, 10).expect("body");
    assert_eq!(body, b"abc");
    assert_eq!(buf, b"NEXT");
}

#[test]
fn head_arriving_byte_by_byte_is_read() {
    let raw = b"GET /ping HTTP/1.0\r\nConnection: close\r\n\r\n";
    let mut buf = Vec::new();
    let head = read_head(&mut Trickle(raw), &mut buf).expect("head");
    assert_eq!(head.path, "/ping");
    assert_eq!(head.minor, 0);
    assert!(!head.keep_alive());
}

#[test]
fn malformed_heads_are_refused() {
    for raw in [
        &b"GARBAGE\r\n\r\n"[..],
        b"GET / HTTP/2.0\r\n\r\n",
        b"GET / HTTP/1.1\r\nBad Header\r\n\r\n",
        b"\x00\x01\x02\r\n\r\n",
    ] {
        let mut buf = Vec::new();
        let r = read_head(&mut Cursor::new(raw), &mut buf);
        assert!(matches!(r, Err(HeadError::Malformed(_))), "{raw:?}: {r:?}");
    }
    // Cut off in the middle.
    let mut buf = Vec::new();
    let r = read_head(&mut Cursor::new(&b"GET / HTTP/1.1\r\nHo"[..]), &mut buf);
    assert!(matches!(r, Err(HeadError::Malformed(_))), "{r:?}");
    // Nothing at all.
    let mut buf = Vec::new();
    let r = read_head(&mut Cursor::new(&b""[..]), &mut buf);
    assert!(matches!(r, Err(HeadError::Closed)), "{r:?}");
}

#[test]
fn huge_heads_are_too_large() {
    let mut raw = b"GET / HTTP/1.1\r\nX-Big: ".to_vec();
    raw.extend(std::iter::repeat_n(b'a', MAX_HEAD_BYTES + 10));
    raw.extend_from_slice(b"\r\n\r\n");
    let mut buf = Vec::new();
    let r = read_head(&mut Cursor::new(&raw), &mut buf);
    assert!(matches!(r, Err(HeadError::TooLarge)), "{r:?}");
    assert!(
        buf.len() <= MAX_HEAD_BYTES + 64 * 1024,
        "memory stays bounded"
    );
    let mut raw = b"GET / HTTP/1.1\r\n".to_vec();
    for i in 0..MAX_HEADERS + 1 {
        raw.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
    }
    raw.extend_from_slice(b"\r\n");
    let mut buf = Vec::new();
    let r = read_head(&mut Cursor::new(&raw), &mut buf);
    assert!(matches!(r, Err(HeadError::TooLarge)), "{r:?}");
}

#[test]
fn a_stalled_head_fails_with_the_socket_timeout() {
    let mut buf = Vec::new();
    let r = read_head(&mut Stalls(b"GET / HTTP/1.1\r\nHost"), &mut buf);
    match r {
        Err(HeadError::Io(e)) => assert_eq!(e.kind(), io::ErrorKind::TimedOut),
        other => panic!("expected a timeout, got {other:?}"),
    }
}

fn head_with(headers: &str) -> Head {
    let raw = format!("POST /write HTTP/1.1\r\n{headers}\r\n");
    let mut buf = Vec::new();
    read_head(&mut Cursor::new(raw.as_bytes()), &mut buf).expect("head")
}

#[test]
fn chunked_bodies_are_joined() {
    let head = head_with("Transfer-Encoding: chunked\r\n");
    let mut buf = b"3;ext=1\r\nabc\r\n0002\r\nde\r\n0\r\nTrailer: x\r\n\r\nREST".to_vec();
    let body = read_body(&mut Cursor::new(&b""[..]), &mut buf, &head, 100).expect("body");
    assert_eq!(body, b"abcde");
    assert_eq!(buf, b"REST");
    // Byte by byte from the socket too.
    let mut buf = Vec::new();
    let body = read_body(
        &mut Trickle(b"5\r\nhello\r\n0\r\n\r\n"),
        &mut buf,
        &head,
        100,
    )
    .expect("body");
    assert_eq!(body, b"hello");
}

#[test]
fn bodies_over_the_cap_or_malformed_are_refused() {
    let head = head_with("Content-Length: 11\r\n");
    let r = read_body(
        &mut Cursor::new(&b"hello world"[..]),
        &mut Vec::new(),
        &head,
        10,
    );
    assert!(matches!(r, Err(BodyError::TooLarge(Some(11)))), "{r:?}");
    let head = head_with("Transfer-Encoding: chunked\r\n");
    let mut buf = b"8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n".to_vec();
    let r = read_body(&mut Cursor::new(&b""[..]), &mut buf, &head, 10);
    assert!(matches!(r, Err(BodyError::TooLarge(None))), "{r:?}");
    for (h, body) in [
        ("Content-Length: x\r\n", &b""[..]),
        ("Content-Length: 1\r\nContent-Length: 1\r\n", b"a"),
        ("Transfer-Encoding: gzip\r\n", b""),
        ("Transfer-Encoding: chunked\r\n", b"zz\r\n"),
        ("Transfer-Encoding: chunked\r\n", b"2\r\nabX\r\n"),
    ] {
        let head = head_with(h);
        let mut buf = body.to_vec();
        let r = read_body(&mut Cursor::new(&b""[..]), &mut buf, &head, 100);
        assert!(matches!(r, Err(BodyError::Malformed(_))), "{h:?}: {r:?}");
    }
    let head = head_with("Content-Length: 5\r\n");
    let r = read_body(&mut Cursor::new(&b"ab"[..]), &mut Vec::new(), &head, 100);
    assert!(matches!(r, Err(BodyError::Io(_))), "{r:?}");
}

#[test]
fn replies_carry_length_and_close() {
    let r = Reply::json(400, "{}".into()).header("X-A", "b").closing();
    let text = String::from_utf8(r.to_bytes()).expect("utf8");
    assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{text}");
    assert!(text.contains("X-A: b\r\n"));
    assert!(text.contains("Content-Type: application/json\r\n"));
    assert!(text.contains("Content-Length: 2\r\n"));
    assert!(text.contains("Connection: close\r\n"));
    assert!(text.ends_with("\r\n\r\n{}"));
    let text = String::from_utf8(Reply::empty(204).to_bytes()).expect("utf8");
    assert_eq!(text, "HTTP/1.1 204 No Content\r\n\r\n");
    assert_eq!(json_str("a\"b\\\n\u{1}"), "\"a\\\"b\\\\\\n\\u0001\"");
}

/// A reader that hands out at most `.1` bytes per read.
struct Pieces<'a>(&'a [u8], usize);

impl Read for Pieces<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.0.len().min(buf.len()).min(self.1);
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

#[test]
fn a_large_body_in_pieces_is_read_whole_and_nothing_past_it() {
    let body: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let head = head_with(&format!("Content-Length: {}\r\n", body.len()));
    let mut wire = body[17..].to_vec();
    wire.extend_from_slice(b"POST /next");
    for piece in [1000, 100_000, usize::MAX] {
        let mut stream = Pieces(&wire, piece);
        // Bytes that came with the head.
        let mut buf = body[..17].to_vec();
        let got = read_body(&mut stream, &mut buf, &head, 1 << 20).expect("body");
        assert_eq!(got, body, "pieces of {piece}");
        assert!(buf.is_empty(), "read past the body: {} bytes", buf.len());
        assert_eq!(stream.0, b"POST /next", "the next request stays unread");
    }
    // Cut short: an error, not a padded body.
    let mut buf = Vec::new();
    let r = read_body(
        &mut Pieces(&body[..200_000], 4096),
        &mut buf,
        &head,
        1 << 20,
    );
    assert!(matches!(r, Err(BodyError::Io(_))), "{r:?}");
    assert_eq!(buf.len(), 200_000, "what arrived is kept, nothing more");
}
