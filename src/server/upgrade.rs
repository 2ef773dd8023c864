//! The WebSocket upgrade route of the front door: QWP ingest
//! (`/write/v4`, `/api/v4/write`) and egress (`/read/v1`). Checks the
//! request (auth, role, limits), answers 101 itself and hands the socket,
//! with the bytes already read past the head, to the WebSocket layer
//! without copying the stream.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use tungstenite::protocol::WebSocketConfig;

use super::http_wire::{Head, Reply};
use super::{ServerAuth, Shared, Upgrade, ingest, query};
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::MAX_MESSAGE_BYTES;
use crate::server::ServerStream;

/// Whether the head asks for a WebSocket upgrade.
pub(super) fn is_upgrade(head: &Head) -> bool {
    head.has_token("upgrade", "websocket")
}

/// Checks `Authorization` (RFC 7235: the scheme is case-insensitive; one
/// header only, also when no auth is required). `Err` is the reply.
pub(super) fn check_auth(auth: &Option<ServerAuth>, head: &Head) -> std::result::Result<(), Reply> {
    let count = head.count("authorization");
    if count > 1 {
        return Err(Reply::text(
            400,
            &format!("duplicate Authorization header: the request carries {count}; send one"),
        ));
    }
    let Some(auth) = auth else { return Ok(()) };
    let denied = || Reply::text(401, "authentication failed");
    let Some(h) = head.get("authorization") else {
        return Err(denied());
    };
    let (scheme, cred) = h.trim().split_once(' ').unwrap_or((h.trim(), ""));
    let cred = cred.trim();
    let ok = match auth {
        ServerAuth::Basic { username, password } => {
            scheme.eq_ignore_ascii_case("basic")
                && base64::engine::general_purpose::STANDARD
                    .decode(cred)
                    .is_ok_and(|d| d == format!("{username}:{password}").as_bytes())
        }
        ServerAuth::Token(t) => scheme.eq_ignore_ascii_case("bearer") && cred == t,
    };
    if ok { Ok(()) } else { Err(denied()) }
}

/// 421 with `X-QuestDB-Role` (and `X-QuestDB-Zone`): this server takes
/// no writes now. `body` is the reply's body and content type.
pub(super) fn role_reject(role: &str, zone: Option<&str>, body: Reply) -> Reply {
    let mut r = body.header("X-QuestDB-Role", role);
    if let Some(z) = zone {
        r = r.header("X-QuestDB-Zone", z);
    }
    r
}

/// Parses `X-QWP-Accept-Encoding`: first acceptable token wins.
fn pick_encoding(h: Option<&str>) -> Option<i32> {
    for token in h?.split(',') {
        let mut parts = token.split(';').map(str::trim);
        match parts.next().map(|t| t.to_ascii_lowercase()) {
            Some(t) if t == "zstd" => {
                let level = parts
                    .find_map(|p| p.strip_prefix("level=").and_then(|l| l.parse::<i32>().ok()))
                    .unwrap_or(1)
                    .clamp(1, 9);
                return Some(level);
            }
            Some(t) if t == "raw" || t == "identity" => return None,
            _ => {}
        }
    }
    None
}

/// The handshake key of a valid WebSocket upgrade request (RFC 6455 §4.2.1).
fn ws_key(head: &Head) -> std::result::Result<&str, String> {
    if head.method != "GET" {
        return Err(format!(
            "a WebSocket upgrade must be a GET, not {}",
            head.method
        ));
    }
    if head.minor < 1 {
        return Err("a WebSocket upgrade needs HTTP/1.1".into());
    }
    if !head.has_token("connection", "upgrade") {
        return Err("missing Connection: Upgrade".into());
    }
    if head.get("sec-websocket-version").map(str::trim) != Some("13") {
        return Err("missing Sec-WebSocket-Version: 13".into());
    }
    head.get("sec-websocket-key")
        .ok_or_else(|| "missing Sec-WebSocket-Key".to_string())
}

/// Decides the upgrade: the headers of the 101 (and what was asked for
/// in `up`), or the refusal.
fn accept(
    head: &Head,
    shared: &Shared,
    up: &mut Upgrade,
) -> std::result::Result<Vec<(&'static str, String)>, Reply> {
    let cfg = &shared.cfg;
    if let Some((role, zone)) = &cfg.faults.reject_role {
        return Err(role_reject(
            role,
            zone.as_deref(),
            Reply::text(421, "role reject"),
        ));
    }
    match head.path.as_str() {
        "/write/v4" | "/api/v4/write" => {
            if let Some(role) = shared.read_only() {
                return Err(role_reject(
                    role.name(),
                    cfg.zone.as_deref(),
                    Reply::text(
                        421,
                        &format!("this server is a {} and takes no writes", role.name()),
                    ),
                ));
            }
            up.ingest = true
        }
        "/read/v1" => up.ingest = false,
        other => return Err(Reply::text(404, &format!("no QWP endpoint at {other}"))),
    }
    check_auth(&cfg.auth, head)?;
    let client_max: u32 = head
        .get("x-qwp-max-version")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(1);
    if client_max == 0 {
        return Err(Reply::text(400, "X-QWP-Max-Version must be positive"));
    }
    let mut h = vec![("X-QWP-Version", "1".to_string())];
    if up.ingest {
        let cap = (cfg.recv_buffer.saturating_sub(14)).min(MAX_MESSAGE_BYTES);
        h.push(("X-QWP-Max-Batch-Size", cap.to_string()));
        let asked = head
            .get("x-qwp-request-durable-ack")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        if asked && cfg.durable_ack {
            up.durable_ack = true;
            h.push(("X-QWP-Durable-Ack", "enabled".to_string()));
        }
    } else {
        up.zstd_level = pick_encoding(head.get("x-qwp-accept-encoding"));
        if up.zstd_level.is_some() {
            h.push(("X-QWP-Content-Encoding", "zstd".to_string()));
        }
        up.max_batch_rows = head
            .get("x-qwp-max-batch-rows")
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|&r| r > 0);
    }
    Ok(h)
}

/// Serves a WebSocket upgrade request: answers it and, when accepted,
/// runs the QWP endpoint on the socket. `leftover` holds the bytes read
/// past the head (the start of the WebSocket stream).
pub(super) fn serve(
    mut stream: ServerStream,
    leftover: Vec<u8>,
    head: &Head,
    shared: &Arc<Shared>,
    n: usize,
) -> Result<()> {
    let refused = |stream: &mut ServerStream, reply: Reply| -> Result<()> {
        let status = reply.status;
        let _ = reply.closing().write_to(stream);
        Err(Error::new(
            ErrorKind::Handshake,
            format!("upgrade refused with HTTP {status}"),
        ))
    };
    let key = match ws_key(head) {
        Ok(k) => k,
        Err(why) => return refused(&mut stream, Reply::text(400, &why)),
    };
    let mut up = Upgrade::default();
    let headers = match accept(head, shared, &mut up) {
        Ok(h) => h,
        Err(reply) => return refused(&mut stream, reply),
    };
    let mut reply = Reply::empty(101)
        .header("Connection", "Upgrade")
        .header("Upgrade", "websocket")
        .header(
            "Sec-WebSocket-Accept",
            &tungstenite::handshake::derive_accept_key(key.as_bytes()),
        );
    for (name, value) in headers {
        reply = reply.header(name, &value);
    }
    reply.write_to(&mut stream)?;
    stream.deadline = None;
    let max_msg = shared.cfg.recv_buffer.max(1024);
    let ws_cfg = WebSocketConfig::default()
        .max_message_size(Some(max_msg))
        .max_frame_size(Some(max_msg));
    let ws = tungstenite::WebSocket::from_partially_read(
        stream,
        leftover,
        tungstenite::protocol::Role::Server,
        Some(ws_cfg),
    );
    ws.get_ref()
        .tcp()
        .set_read_timeout(Some(Duration::from_secs(30)))?;
    if up.ingest {
        ingest::serve(ws, shared, &up, n)
    } else {
        query::serve(ws, shared, &up)
    }
}
