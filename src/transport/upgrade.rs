//! The HTTP upgrade: the request with QWP's headers, the exchange, and
//! what the server's answer means (the negotiated [`Handshake`], or why it refused).

use std::io;
use std::time::Duration;

use tungstenite::client::IntoClientRequest;
use tungstenite::handshake::client::{Request, Response, generate_request};
use tungstenite::handshake::derive_accept_key;
use tungstenite::http::{HeaderMap, HeaderValue, StatusCode};

use super::stream::{timeout_error, tls_cause};
use super::{Auth, ConnectOptions, Handshake, Route, Stream};
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::VERSION;

/// Builds the upgrade request with QWP's headers.
pub(super) fn upgrade_request(
    opts: &ConnectOptions,
    route: Route,
) -> Result<tungstenite::http::Request<()>> {
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

/// Sends the upgrade `request` on `stream` and reads the answer: the
/// stream back with the `101` response and the bytes read past it (the
/// first frames, when the server sent them at once).
///
/// tungstenite writes the request and parses the response (its handshake
/// machine hands back what it read past the response, which its
/// `WebSocket` would keep to itself); the answer is checked here as RFC
/// 6455 says: `101`, `Upgrade: websocket`, `Connection: Upgrade`, the
/// accept key, and no subprotocol (none is asked for).
pub(super) fn perform_upgrade(
    stream: Stream,
    request: Request,
    what: &str,
    auth_timeout: Duration,
) -> Result<(Stream, Response, Vec<u8>)> {
    use tungstenite::error::ProtocolError as P;
    use tungstenite::handshake::machine::{HandshakeMachine, RoundResult, StageResult};
    let fail = |e| upgrade_error(e, what, auth_timeout);
    let (bytes, key) = generate_request(request).map_err(fail)?;
    let mut machine = HandshakeMachine::start_write(stream, bytes);
    let (response, stream, tail) = loop {
        machine = match machine.single_round::<Response>().map_err(fail)? {
            RoundResult::WouldBlock(_) => return Err(timeout_error(what, auth_timeout)),
            RoundResult::Incomplete(m) => m,
            RoundResult::StageFinished(StageResult::DoneWriting(s)) => {
                HandshakeMachine::start_read(s)
            }
            RoundResult::StageFinished(StageResult::DoneReading {
                result,
                stream,
                tail,
            }) => break (result, stream, tail),
        };
    };
    let mut response = response;
    if response.status() != StatusCode::SWITCHING_PROTOCOLS {
        *response.body_mut() = Some(tail);
        return Err(fail(tungstenite::Error::Http(Box::new(response))));
    }
    let h = response.headers();
    let has = |name: &str, want: &str| {
        h.get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case(want))
    };
    let refused = if !has("upgrade", "websocket") {
        Some(P::MissingUpgradeWebSocketHeader)
    } else if !has("connection", "upgrade") {
        Some(P::MissingConnectionUpgradeHeader)
    } else if h.get("sec-websocket-accept").map(|v| v.as_bytes())
        != Some(derive_accept_key(key.as_bytes()).as_bytes())
    {
        Some(P::SecWebSocketAcceptKeyMismatch)
    } else if h.contains_key("sec-websocket-protocol") {
        Some(P::SecWebSocketSubProtocolError(
            tungstenite::error::SubProtocolError::ServerSentSubProtocolNoneRequested,
        ))
    } else {
        None
    };
    match refused {
        Some(p) => Err(fail(tungstenite::Error::Protocol(p))),
        None => Ok((stream, response, tail)),
    }
}

/// Maps a failed upgrade (including a non-101 answer) to an [`Error`].
pub(super) fn upgrade_error(e: tungstenite::Error, what: &str, auth_timeout: Duration) -> Error {
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
pub(super) fn parse_handshake(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::DEFAULT_CLIENT_ID;
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
}
