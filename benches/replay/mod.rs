//! The query T1 replay: the frames the embedded server sent for a query,
//! recorded once ([`Recording`]), saved to a file, and served from a child
//! process (the bench binary re-executed with [`SERVE_ENV`] set) to every
//! connection, so both clients read the same bytes and the client's CPU is
//! measured alone.
//!
//! The child answers the upgrade (`/read/v1`; `X-QWP-Accept-Encoding` must
//! pick the recording's encoding, else 400), sends the recorded
//! SERVER_INFO, then for each QUERY_REQUEST with the recorded SQL: a
//! CACHE_RESET of the dictionary when the connection answered a query
//! before (the recorded deltas start at 0), the recorded frames with the
//! request's id written in, and the recorded RESULT_END. With
//! `initial_credit > 0` it pauses whenever the budget is spent until
//! CREDIT arrives (a CANCEL then ends the query with QUERY_ERROR
//! CANCELLED); unbounded, it writes the whole result at once. Another SQL
//! text, or binds, get a QUERY_ERROR. The child exits when its standard
//! input closes (the parent dropped [`ReplayServer`] or died).

use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::atomic::{AtomicUsize, Ordering};

use questdb_arrow::protocol::Status;
use questdb_arrow::protocol::egress::{
    CAP_QUERY_FLAGS, ClientMessage, MSG_EXEC_DONE, MSG_QUERY_ERROR, MSG_RESULT_BATCH,
    MSG_RESULT_END, QueryRequest, RESET_MASK_DICT, ServerControl, ServerMessage,
    decode_server_message,
};
use questdb_arrow::transport::frame::{OP_BINARY, server_header};
use questdb_arrow::transport::{ConnectOptions, Connection, Route};
use tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tungstenite::http::{HeaderValue, StatusCode};

use crate::common::drain::{Discard, serve_until_stdin_closes, spawn_self, stop_child};

/// Set (to a recording's path) in the child's environment: the bench
/// binary then serves that recording instead of benchmarking.
pub const SERVE_ENV: &str = "QA_QUERY_REPLAY_SERVE";

const MAGIC: &[u8] = b"QAREPLAY1\n";

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The frames of one query, as the server sent them on a fresh connection.
pub struct Recording {
    /// Whether the connection negotiated zstd bodies.
    pub zstd: bool,
    /// The SQL the frames answer.
    pub sql: String,
    /// The SERVER_INFO frame.
    pub info: Vec<u8>,
    /// Every frame after the request and before the terminator (the
    /// RESULT_BATCHes).
    pub frames: Vec<Vec<u8>>,
    /// The terminator (RESULT_END).
    pub end: Vec<u8>,
}

/// The request id the recording asks with.
const RECORDED_ID: i64 = 1;

impl Recording {
    /// Records `sql` on a fresh connection to `port` (zstd bodies asked for
    /// with `zstd`).
    pub fn record(port: u16, sql: &str, zstd: bool) -> Result<Recording, BoxError> {
        let mut opts = ConnectOptions::new("127.0.0.1", port);
        if zstd {
            opts.accept_encoding = Some("zstd;level=1".into());
        }
        let (mut conn, hs) = Connection::connect(&opts, Route::Query)?;
        let info = conn.recv()?;
        conn.send(&QueryRequest::new(RECORDED_ID, sql).to_bytes()?)?;
        let mut frames = Vec::new();
        loop {
            let f = conn.recv()?;
            match decode_server_message(&f, hs.version)? {
                ServerMessage::Control(ServerControl::ResultEnd { .. }) => {
                    return Ok(Recording {
                        zstd,
                        sql: sql.to_string(),
                        info,
                        frames,
                        end: f,
                    });
                }
                ServerMessage::Control(ServerControl::QueryError { message, .. }) => {
                    return Err(format!("recording {sql:?}: {message}").into());
                }
                _ => frames.push(f),
            }
        }
    }

    /// The RESULT_BATCH frames.
    pub fn batches(&self) -> impl Iterator<Item = &Vec<u8>> {
        self.frames
            .iter()
            .filter(|f| f.get(12) == Some(&MSG_RESULT_BATCH))
    }

    /// Bytes of the result on the wire (QWP frames, batches and end).
    pub fn wire_bytes(&self) -> usize {
        self.frames.iter().map(Vec::len).sum::<usize>() + self.end.len()
    }

    /// Writes the recording to `path`.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let mut w = std::io::BufWriter::new(std::fs::File::create(path)?);
        w.write_all(MAGIC)?;
        w.write_all(&[u8::from(self.zstd)])?;
        let blob = |w: &mut std::io::BufWriter<_>, b: &[u8]| -> std::io::Result<()> {
            w.write_all(&(b.len() as u64).to_le_bytes())?;
            w.write_all(b)
        };
        blob(&mut w, self.sql.as_bytes())?;
        blob(&mut w, &self.info)?;
        blob(&mut w, &self.end)?;
        w.write_all(&(self.frames.len() as u64).to_le_bytes())?;
        for f in &self.frames {
            blob(&mut w, f)?;
        }
        w.flush()
    }

    /// Reads a recording [`Self::save`] wrote.
    pub fn load(path: &Path) -> Result<Recording, BoxError> {
        let mut r = BufReader::new(std::fs::File::open(path)?);
        let mut magic = [0u8; MAGIC.len()];
        r.read_exact(&mut magic)?;
        if magic != MAGIC {
            return Err(format!("{}: not a query replay recording", path.display()).into());
        }
        let len = std::fs::metadata(path)?.len();
        fn u64_le(r: &mut impl Read) -> std::io::Result<u64> {
            let mut b = [0u8; 8];
            r.read_exact(&mut b)?;
            Ok(u64::from_le_bytes(b))
        }
        let blob = |r: &mut BufReader<std::fs::File>| -> Result<Vec<u8>, BoxError> {
            let n = u64_le(r)?;
            if n > len {
                return Err(
                    format!("{}: a frame of {n} bytes in a shorter file", path.display()).into(),
                );
            }
            let mut b = vec![0; n as usize];
            r.read_exact(&mut b)?;
            Ok(b)
        };
        let mut zstd = [0u8; 1];
        r.read_exact(&mut zstd)?;
        let sql = String::from_utf8(blob(&mut r)?)?;
        let info = blob(&mut r)?;
        let end = blob(&mut r)?;
        let count = u64_le(&mut r)?;
        if count > len {
            return Err(format!("{}: {count} frames in a shorter file", path.display()).into());
        }
        let frames = (0..count)
            .map(|_| blob(&mut r))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Recording {
            zstd: zstd[0] != 0,
            sql,
            info,
            frames,
            end,
        })
    }
}

/// A WebSocket server frame (binary, final, unmasked) around `payload`.
fn ws_frame(out: &mut Vec<u8>, payload: &[u8]) {
    let (h, n) = server_header(true, OP_BINARY, payload.len());
    out.extend_from_slice(&h[..n]);
    out.extend_from_slice(payload);
}

/// The CACHE_RESET the child writes before each result but the first on
/// a connection, in its WebSocket frame.
fn cache_reset() -> Vec<u8> {
    let mut f = Vec::new();
    let reset = ServerControl::CacheReset {
        mask: RESET_MASK_DICT,
    };
    ws_frame(&mut f, &reset.to_frame());
    f
}

/// A recording laid out as the bytes to write: every frame in its
/// WebSocket frame, where each request id sits, where each batch ends.
struct Wire {
    bytes: Vec<u8>,
    /// Offsets of the request ids to rewrite.
    ids: Vec<usize>,
    /// Per frame before the end: its end offset in `bytes` and its QWP
    /// length (what credit counts).
    frames: Vec<(usize, usize)>,
    /// The request id written in ([`RECORDED_ID`]).
    id: i64,
}

impl Wire {
    fn new(rec: &Recording) -> Wire {
        let mut w = Wire {
            bytes: Vec::with_capacity(rec.wire_bytes() + 10 * (rec.frames.len() + 1)),
            ids: Vec::new(),
            frames: Vec::new(),
            id: RECORDED_ID,
        };
        for f in rec.frames.iter().chain([&rec.end]) {
            ws_frame(&mut w.bytes, f);
            let at = w.bytes.len() - f.len();
            if matches!(
                f.get(12),
                Some(&(MSG_RESULT_BATCH | MSG_RESULT_END | MSG_QUERY_ERROR | MSG_EXEC_DONE))
            ) && f.len() >= 21
            {
                w.ids.push(at + 13);
            }
            w.frames.push((w.bytes.len(), f.len()));
        }
        // The end is written whatever the credit.
        w.frames.pop();
        w
    }
}

/// One connection's copy of the wire bytes, in an unlinked file of its
/// own with that connection's request id written in, sent to the socket
/// with sendfile(2): the child copies no frame bytes itself, so what it
/// costs the machine is the kernel's TCP work, and more of the two
/// cores is left to the client being measured.
struct WireFile {
    file: File,
    /// The request id currently written in.
    id: i64,
}

impl WireFile {
    fn new(w: &Wire, dir: &Path) -> std::io::Result<WireFile> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!("replay-wire-{}-{n}", std::process::id()));
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)?;
        // Gone from the directory at once; the open file lives on.
        std::fs::remove_file(&path)?;
        file.write_all(&w.bytes)?;
        Ok(WireFile { file, id: w.id })
    }

    fn set_id(&mut self, w: &Wire, id: i64) -> std::io::Result<()> {
        if id != self.id {
            for &at in &w.ids {
                self.file.write_all_at(&id.to_le_bytes(), at as u64)?;
            }
            self.id = id;
        }
        Ok(())
    }

    /// Sends the bytes `from..end` to `out` with sendfile(2).
    fn send(&self, out: &mut TcpStream, from: usize, end: usize) -> std::io::Result<()> {
        let mut at = from as u64;
        while at < end as u64 {
            let want = end - at as usize;
            let n = rustix::fs::sendfile(&*out, &self.file, Some(&mut at), want)
                .map_err(std::io::Error::from)?;
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("the wire file ended at byte {at} of {end}"),
                ));
            }
        }
        Ok(())
    }
}

/// Parses `X-QWP-Accept-Encoding` as the server does: the first token it
/// knows wins; zstd → true.
fn asks_zstd(h: Option<&str>) -> bool {
    for token in h.unwrap_or("").split(',') {
        match token
            .split(';')
            .next()
            .map(|t| t.trim().to_ascii_lowercase())
        {
            Some(t) if t == "zstd" => return true,
            Some(t) if t == "raw" || t == "identity" => return false,
            _ => {}
        }
    }
    false
}

#[allow(clippy::result_large_err)]
fn reject(status: StatusCode, body: String) -> ErrorResponse {
    let mut r = ErrorResponse::new(Some(body));
    *r.status_mut() = status;
    r
}

/// The child's entry point: serves the recording at `path` until standard
/// input closes.
pub fn serve(path: &Path) -> Result<(), BoxError> {
    let rec = Recording::load(path)?;
    let caps = match decode_server_message(&rec.info, 1)? {
        ServerMessage::Control(ServerControl::ServerInfo(i)) => i.capabilities,
        _ => return Err("the recording does not start with SERVER_INFO".into()),
    };
    let mut info = Vec::new();
    ws_frame(&mut info, &rec.info);
    let wire = Wire::new(&rec);
    let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    serve_until_stdin_closes(move |stream| {
        if let Err(e) = serve_connection(stream, &rec, &info, &wire, caps, &dir) {
            // The client sees the connection fail; say why here.
            eprintln!("query replay: connection failed: {e}");
        }
    })?;
    Ok(())
}

fn serve_connection(
    stream: TcpStream,
    rec: &Recording,
    info: &[u8],
    wire: &Wire,
    caps: u32,
    dir: &Path,
) -> Result<(), BoxError> {
    stream.set_nodelay(true)?;
    #[allow(clippy::result_large_err)]
    let callback = |req: &Request, mut resp: Response| -> Result<Response, ErrorResponse> {
        if req.uri().path() != "/read/v1" {
            return Err(reject(
                StatusCode::NOT_FOUND,
                format!("the query replay serves /read/v1, not {}", req.uri().path()),
            ));
        }
        let asked = req
            .headers()
            .get("x-qwp-accept-encoding")
            .and_then(|v| v.to_str().ok());
        if asks_zstd(asked) != rec.zstd {
            return Err(reject(
                StatusCode::BAD_REQUEST,
                format!(
                    "this replay serves {} bodies; X-QWP-Accept-Encoding was {asked:?}",
                    if rec.zstd { "zstd" } else { "raw" }
                ),
            ));
        }
        let h = resp.headers_mut();
        h.insert("X-QWP-Version", HeaderValue::from_static("1"));
        if rec.zstd {
            h.insert("X-QWP-Content-Encoding", HeaderValue::from_static("zstd"));
        }
        Ok(resp)
    };
    let mut ws = tungstenite::accept_hdr(stream, callback).map_err(|e| format!("upgrade: {e}"))?;
    // Frames go straight to the socket (tungstenite only reads, and
    // answers control frames between our writes).
    ws.get_mut().write_all(info)?;
    let mut mine: Option<WireFile> = None;
    let mut answered = 0usize;
    loop {
        let Some(payload) = next_binary(&mut ws)? else {
            return Ok(());
        };
        let q = match ClientMessage::decode(&payload, caps & CAP_QUERY_FLAGS != 0)? {
            ClientMessage::Query(q) => q,
            // CREDIT or CANCEL of a query that has ended.
            _ => continue,
        };
        if q.sql != rec.sql || !q.binds.is_empty() {
            let e = ServerControl::QueryError {
                request_id: q.request_id,
                status: Status::ParseError,
                message: format!("this replay answers only {:?} without binds", rec.sql),
            };
            let mut f = Vec::new();
            ws_frame(&mut f, &e.to_frame());
            ws.get_mut().write_all(&f)?;
            continue;
        }
        if answered > 0 {
            ws.get_mut().write_all(&cache_reset())?;
        }
        answered += 1;
        let file = match &mut mine {
            Some(f) => f,
            None => mine.insert(WireFile::new(wire, dir)?),
        };
        file.set_id(wire, q.request_id)?;
        send_result(&mut ws, wire, file, q.request_id, q.initial_credit)?;
    }
}

/// The next binary message; `None` once the client closed.
fn next_binary(ws: &mut tungstenite::WebSocket<TcpStream>) -> Result<Option<Vec<u8>>, BoxError> {
    use tungstenite::{Error as WsError, Message};
    loop {
        match ws.read() {
            Ok(Message::Binary(b)) => return Ok(Some(b.to_vec())),
            Ok(_) => {}
            Err(WsError::ConnectionClosed | WsError::AlreadyClosed) => return Ok(None),
            Err(WsError::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::UnexpectedEof
                ) =>
            {
                return Ok(None);
            }
            Err(WsError::Protocol(
                tungstenite::error::ProtocolError::ResetWithoutClosingHandshake,
            )) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Writes the result: all at once when unbounded, else batch by batch
/// within the byte credit.
fn send_result(
    ws: &mut tungstenite::WebSocket<TcpStream>,
    w: &Wire,
    file: &WireFile,
    id: i64,
    credit: u64,
) -> Result<(), BoxError> {
    let all = w.bytes.len();
    if credit == 0 {
        file.send(ws.get_mut(), 0, all)?;
        return Ok(());
    }
    let mut budget = credit as i64;
    let mut from = 0;
    for &(end, len) in &w.frames {
        while budget <= 0 {
            let Some(payload) = next_binary(ws)? else {
                return Ok(());
            };
            match ClientMessage::decode(&payload, false) {
                Ok(ClientMessage::Credit {
                    request_id,
                    additional_bytes,
                }) if request_id == id => {
                    budget = budget.saturating_add(additional_bytes as i64);
                }
                Ok(ClientMessage::Cancel { request_id }) if request_id == id => {
                    let e = ServerControl::QueryError {
                        request_id: id,
                        status: Status::Cancelled,
                        message: "cancelled".into(),
                    };
                    let mut f = Vec::new();
                    ws_frame(&mut f, &e.to_frame());
                    ws.get_mut().write_all(&f)?;
                    return Ok(());
                }
                Ok(_) => {}
                Err(e) => return Err(e.into()),
            }
        }
        file.send(ws.get_mut(), from, end)?;
        budget -= len as i64;
        from = end;
    }
    file.send(ws.get_mut(), from, all)?;
    Ok(())
}

/// A replay child process serving one recording; dropping it stops the
/// child and removes the recording's file.
pub struct ReplayServer {
    child: Child,
    file: PathBuf,
    /// The connect string (`ws::addr=127.0.0.1:PORT;`).
    pub conf: String,
    /// The child's port.
    pub port: u16,
}

impl ReplayServer {
    /// Saves `rec` under `dir` as `name` and starts a child serving it.
    pub fn start(rec: &Recording, dir: &Path, name: &str) -> Result<ReplayServer, BoxError> {
        std::fs::create_dir_all(dir)?;
        let file = dir.join(name);
        rec.save(&file)?;
        match spawn_self(SERVE_ENV, file.as_os_str()) {
            Ok((child, port)) => Ok(ReplayServer {
                child,
                file,
                conf: format!("ws::addr=127.0.0.1:{port};"),
                port,
            }),
            Err(e) => {
                let _ = std::fs::remove_file(&file);
                Err(e.into())
            }
        }
    }
}

impl Drop for ReplayServer {
    fn drop(&mut self) {
        stop_child(&mut self.child);
        let _ = std::fs::remove_file(&self.file);
    }
}

/// The loopback ceiling of the query T1 replay: a client that reads the
/// replay child's bytes for the query and decodes nothing, so its time is
/// what the socket and the kernel's copy allow.
///
/// A plain `TcpStream` with tungstenite's client handshake (the headers
/// the child checks: `/read/v1`, `X-QWP-Accept-Encoding` as the recording
/// negotiated), the SERVER_INFO read as a message, then per pass the
/// QUERY_REQUEST (a masked binary frame, the bytes `Recording::record`
/// sent) and exactly the bytes of the result's WebSocket frames, read from
/// the `TcpStream` itself into one reused 1 MiB buffer
/// (`common::drain::Discard`: woken once per MiB by the receive low-water
/// mark, as our frame reader is; plain reads, woken per segment, were
/// slower than the clients).
/// Nothing of a result sits in tungstenite's buffer: the child writes the
/// result only after the request, and SERVER_INFO was read before.
///
/// The connection is reused across passes, as both clients reuse their
/// pooled one: the child then puts a CACHE_RESET frame before each result
/// but the first, which is counted (a fresh connection per pass would add
/// a handshake, a thread and a copy of the wire file in the child).
pub struct Ceiling {
    ws: tungstenite::WebSocket<TcpStream>,
    request: tungstenite::Bytes,
    discard: Discard,
    /// Results read on this connection.
    answered: usize,
    /// The result's bytes on the wire, WebSocket headers included.
    result: Vec<u8>,
    /// The CACHE_RESET frame before a reused connection's result.
    reset: Vec<u8>,
}

impl Ceiling {
    /// Connects to `srv` serving `rec` and reads the SERVER_INFO (it must
    /// be the recorded one).
    pub fn connect(srv: &ReplayServer, rec: &Recording) -> Result<Ceiling, BoxError> {
        use tungstenite::client::IntoClientRequest;
        let stream = TcpStream::connect(("127.0.0.1", srv.port))?;
        stream.set_nodelay(true)?;
        let mut req =
            format!("ws://127.0.0.1:{}{}", srv.port, Route::Query.path()).into_client_request()?;
        let h = req.headers_mut();
        h.insert("x-qwp-max-version", HeaderValue::from_static("1"));
        if rec.zstd {
            h.insert(
                "x-qwp-accept-encoding",
                HeaderValue::from_static("zstd;level=1"),
            );
        }
        let (mut ws, _) =
            tungstenite::client(req, stream).map_err(|e| format!("ceiling upgrade: {e}"))?;
        match ws.read()? {
            tungstenite::Message::Binary(b) if b[..] == rec.info[..] => {}
            other => return Err(format!("ceiling: {other:?} instead of SERVER_INFO").into()),
        }
        Ok(Ceiling {
            request: QueryRequest::new(RECORDED_ID, &rec.sql).to_bytes()?.into(),
            discard: Discard::waiting(ws.get_ref())?,
            answered: 0,
            result: Wire::new(rec).bytes,
            reset: cache_reset(),
            ws,
        })
    }

    /// What the child writes before the next result: the CACHE_RESET on a
    /// connection that read one before, else nothing.
    fn before_result(&self) -> &[u8] {
        if self.answered > 0 { &self.reset } else { &[] }
    }

    /// The bytes the next pass reads.
    fn expected(&self) -> usize {
        self.before_result().len() + self.result.len()
    }

    /// One pass: sends the request and reads exactly the result's bytes,
    /// discarding them; returns the bytes read.
    pub fn pass(&mut self) -> Result<usize, BoxError> {
        let n = self.expected();
        self.ws
            .send(tungstenite::Message::Binary(self.request.clone()))?;
        self.discard.read(n as u64)?;
        self.answered += 1;
        Ok(n)
    }

    /// Two checked passes (the first on the connection, then a reused
    /// one): each reads exactly the bytes the child writes — the result's
    /// frames with their WebSocket headers, after a CACHE_RESET on reuse
    /// — and nothing follows.
    pub fn check(&mut self) -> Result<(), BoxError> {
        for _ in 0..2 {
            let want = [self.before_result(), &self.result].concat();
            self.ws
                .send(tungstenite::Message::Binary(self.request.clone()))?;
            let mut got = vec![0; want.len()];
            self.ws.get_mut().read_exact(&mut got)?;
            self.answered += 1;
            if got != want {
                return Err("ceiling: the child's bytes differ from the recording's frames".into());
            }
            let s = self.ws.get_mut();
            s.set_read_timeout(Some(std::time::Duration::from_millis(50)))?;
            let more = s.read(&mut [0u8; 1]);
            s.set_read_timeout(None)?;
            match more {
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                other => {
                    return Err(format!("ceiling: more than the result's bytes: {other:?}").into());
                }
            }
        }
        Ok(())
    }
}
