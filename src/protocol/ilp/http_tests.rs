//! Tests of the sans-IO HTTP pieces: response heads, chunked bodies,
//! error JSON, `/settings` and the version choice.

use super::*;

fn head(s: &str) -> ResponseHead {
    parse_response_head(s.as_bytes()).unwrap().unwrap()
}

#[test]
fn response_heads() {
    let h = head("HTTP/1.1 204 No Content\r\nServer: questDB/1.0\r\n\r\nrest");
    assert_eq!((h.status, h.reason.as_str()), (204, "No Content"));
    assert_eq!(h.body, BodyKind::Empty);
    assert!(h.keep_alive);
    assert_eq!(h.head_len, 48);

    let h = head("HTTP/1.1 400 Bad request\r\nContent-Length: 12\r\nConnection: close\r\n\r\n");
    assert_eq!(h.body, BodyKind::Length(12));
    assert!(!h.keep_alive);

    let h = head("HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, Chunked\r\n\r\n");
    assert_eq!(h.body, BodyKind::Chunked);

    let h = head("HTTP/1.0 200 OK\r\n\r\n");
    assert_eq!(h.body, BodyKind::UntilClose);
    assert!(!h.keep_alive);
    let h = head("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n");
    assert!(h.keep_alive);
    assert_eq!(h.body, BodyKind::Empty);

    // Incomplete, then malformed, then too long.
    assert_eq!(parse_response_head(b"HTTP/1.1 204 No").unwrap(), None);
    let e = parse_response_head(b"HTTX/1.1 204\r\n\r\n").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Protocol);
    let e = parse_response_head(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n").unwrap_err();
    assert!(e.message().contains("Content-Length"), "{e}");
    let mut long = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
    long.resize(MAX_HEAD_BYTES + 10, b'a');
    let e = parse_response_head(&long).unwrap_err();
    assert!(e.message().contains("longer than"), "{e}");
}

#[test]
fn request_head() {
    let mut out = Vec::new();
    write_request_head(
        &mut out,
        "POST",
        WRITE_PATH,
        "db:9000",
        Some("Bearer t"),
        "ua/1",
        Some(5),
    );
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "POST /write?precision=n HTTP/1.1\r\nHost: db:9000\r\nAuthorization: Bearer t\r\n\
         User-Agent: ua/1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 5\r\n\r\n"
    );
    let mut out = Vec::new();
    write_request_head(&mut out, "GET", PING_PATH, "h:1", None, "ua", None);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "GET /ping HTTP/1.1\r\nHost: h:1\r\nUser-Agent: ua\r\n\r\n"
    );
}

/// Decodes `body` fed in pieces of `step` bytes.
fn dechunk(body: &[u8], step: usize) -> Result<(Vec<u8>, usize)> {
    let mut d = ChunkedDecoder::default();
    let mut out = Vec::new();
    let mut used = 0;
    for piece in body.chunks(step) {
        used += d.feed(piece, &mut out)?;
        if d.is_done() {
            break;
        }
    }
    assert!(d.is_done(), "not done after {body:?}");
    Ok((out, used))
}

#[test]
fn chunked_bodies() {
    let body = b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT";
    for step in [1, 2, 3, 7, body.len()] {
        let (out, used) = dechunk(body, step).unwrap();
        assert_eq!(out, b"hello, world", "step {step}");
        assert_eq!(used, body.len() - 4, "step {step}");
    }
    // Bare LF line ends and upper-case hex.
    let (out, _) = dechunk(b"A\nabcdefghij\n0\n\n", 1).unwrap();
    assert_eq!(out, b"abcdefghij");

    for bad in [
        &b"z\r\n"[..],
        b"5\r\nhelloXX",
        b"5\rX",
        b"FFFFFFFFFFFFFFFFFFFF\r\n",
    ] {
        let mut d = ChunkedDecoder::default();
        let e = d.feed(bad, &mut Vec::new()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Protocol, "{bad:?}");
    }
}

#[test]
fn error_bodies() {
    let body = br#"{"code":"invalid","message":"failed to parse line protocol:errors encountered on line(s):\nerror in line 2: table: t, column: x; cast error","line":2,"errorId":"9a4b-1"}"#;
    let e = IlpServerError::parse(400, "Bad request", body);
    assert_eq!(e.status, 400);
    assert_eq!(e.code.as_deref(), Some("invalid"));
    assert_eq!(e.line, Some(2));
    assert_eq!(e.error_id.as_deref(), Some("9a4b-1"));
    assert!(e.message.contains("error in line 2"), "{e}");
    let shown = e.to_string();
    assert!(
        shown.starts_with("HTTP 400 invalid at line 2: failed"),
        "{shown}"
    );
    assert!(shown.ends_with("(errorId 9a4b-1)"), "{shown}");

    let e = IlpServerError::parse(500, "Internal", b"  oops \n");
    assert_eq!((e.message.as_str(), e.line, e.code), ("oops", None, None));
    let e = IlpServerError::parse(503, "Service Unavailable", b"");
    assert_eq!(e.message, "Service Unavailable");
    let e = IlpServerError::parse(400, "", br#"{"message":"m","line":"7"}"#);
    assert_eq!((e.message.as_str(), e.line), ("m", Some(7)));
}

#[test]
fn settings_and_version_choice() {
    let current = br#"{"config":{"release.type":"OSS","line.proto.support.versions":[1,2,3],"ilp.proto.transports":["tcp","http"]},"preferences.version":0,"preferences":{}}"#;
    let v = parse_settings(current).unwrap();
    assert_eq!(v.as_deref(), Some(&[1, 2, 3][..]));
    assert_eq!(pick_version(v.as_deref()).unwrap(), IlpVersion::V3);

    let older =
        br#"{"release.type":"OSS","line.proto.support.versions":[1,2],"acl.enabled":false}"#;
    let v = parse_settings(older).unwrap();
    assert_eq!(pick_version(v.as_deref()).unwrap(), IlpVersion::V2);

    let none = br#"{"release.type":"OSS","acl.enabled":false}"#;
    assert_eq!(parse_settings(none).unwrap(), None);
    assert_eq!(pick_version(None).unwrap(), IlpVersion::V1);

    // Versions this client does not know are skipped.
    assert_eq!(pick_version(Some(&[1, 2, 9])).unwrap(), IlpVersion::V2);
    let e = pick_version(Some(&[4, 5])).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Incompatible);
    assert!(e.message().contains("[4, 5]"), "{e}");

    let e = parse_settings(b"<html>").unwrap_err();
    assert!(e.message().contains("not JSON"), "{e}");
}

#[test]
fn retriable_statuses() {
    let retried: Vec<u16> = (100..600).filter(|&s| is_retriable_status(s)).collect();
    assert_eq!(retried, [500, 503, 504, 507, 509, 523, 524, 529, 599]);
}
