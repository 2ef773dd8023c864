//! A mock ILP/HTTP server for the client tests: std `TcpListener`
//! threads answering canned HTTP responses, and the batches and lines the
//! tests send.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arrow::array::{Float64Array, Int64Array, RecordBatch, StringArray, TimestampNanosecondArray};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use questdb_arrow::client::QuestDb;
use questdb_arrow::protocol::ilp::{IlpEncoder, IlpVersion};

pub(crate) fn batch(rows: i64) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("sym", DataType::Utf8, false),
        Field::new("px", DataType::Float64, true),
        Field::new("qty", DataType::Int64, true),
        Field::new("ts", DataType::Timestamp(TimeUnit::Nanosecond, None), false),
    ]));
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from_iter_values(
                (0..rows).map(|i| format!("s{i}")),
            )),
            Arc::new(Float64Array::from_iter_values(
                (0..rows).map(|i| i as f64 + 0.5),
            )),
            Arc::new(Int64Array::from_iter_values(0..rows)),
            Arc::new(TimestampNanosecondArray::from_iter_values(
                (0..rows).map(|i| 1_700_000_000_000_000_000 + i),
            )),
        ],
    )
    .unwrap()
}

/// The lines the client must send for `batch` at `version`.
pub(crate) fn lines(table: &str, b: &RecordBatch, version: IlpVersion) -> Vec<u8> {
    IlpEncoder::new(table, &b.schema(), version, Some("ts"), &[])
        .unwrap()
        .encode_parallel(b)
        .unwrap()
}

/// One request the mock HTTP server read.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Request {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A canned answer: status, body, and a delay before answering.
#[derive(Clone)]
pub(crate) struct Canned {
    pub(crate) status: u16,
    pub(crate) body: String,
    pub(crate) delay: Duration,
    /// Held back until this gate opens (at most [`GATE_WAIT`]).
    pub(crate) gate: Option<Arc<AtomicBool>>,
}

/// Longest an answer waits for its gate (a test that never opens it
/// fails on what it asserts, not by hanging).
const GATE_WAIT: Duration = Duration::from_secs(10);

pub(crate) fn canned(status: u16, body: &str) -> Canned {
    Canned {
        status,
        body: body.to_owned(),
        delay: Duration::ZERO,
        gate: None,
    }
}

/// A mock HTTP/1.1 server: answers each request with the next canned
/// response for its path prefix (`/settings` or anything else), then 204;
/// keeps connections alive.
pub(crate) struct MockHttp {
    pub(crate) addr: String,
    requests: Arc<Mutex<Vec<Request>>>,
    /// Responses answered (counted as they are written).
    answered: Arc<AtomicUsize>,
}

impl MockHttp {
    pub(crate) fn start(writes: Vec<Canned>, settings: Vec<Canned>) -> MockHttp {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new((writes, settings)));
        let answered = Arc::new(AtomicUsize::new(0));
        let (reqs, scr, ans) = (requests.clone(), script.clone(), answered.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                let (reqs, scr, ans) = (reqs.clone(), scr.clone(), ans.clone());
                std::thread::spawn(move || serve_http(conn, &reqs, &scr, &ans));
            }
        });
        MockHttp {
            addr,
            requests,
            answered,
        }
    }

    /// Responses answered so far (counted as they are written).
    pub(crate) fn answered(&self) -> usize {
        self.answered.load(Ordering::SeqCst)
    }

    pub(crate) fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    pub(crate) fn writes(&self) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == "POST")
            .collect()
    }
}

pub(crate) type Script = Mutex<(Vec<Canned>, Vec<Canned>)>;

pub(crate) fn serve_http(
    conn: TcpStream,
    reqs: &Mutex<Vec<Request>>,
    script: &Script,
    answered: &AtomicUsize,
) {
    let mut out = conn.try_clone().unwrap();
    let mut r = BufReader::new(conn);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let path = parts.next().unwrap_or_default().to_owned();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_owned(), v.trim().to_owned()));
            }
        }
        let len = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .map_or(0, |(_, v)| v.parse().unwrap());
        let mut body = vec![0; len];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        let next = {
            let mut s = script.lock().unwrap();
            let list = if path.starts_with("/settings") {
                &mut s.1
            } else {
                &mut s.0
            };
            (!list.is_empty()).then(|| list.remove(0))
        };
        reqs.lock().unwrap().push(Request {
            method,
            path,
            headers,
            body,
        });
        let c = next.unwrap_or_else(|| canned(204, ""));
        std::thread::sleep(c.delay);
        if let Some(gate) = &c.gate {
            let t0 = Instant::now();
            while !gate.load(Ordering::SeqCst) && t0.elapsed() < GATE_WAIT {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        let resp = if c.status == 204 {
            "HTTP/1.1 204 No Content\r\n\r\n".to_owned()
        } else {
            // Chunked, as QuestDB answers.
            format!(
                "HTTP/1.1 {} X\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{}\r\n0\r\n\r\n",
                c.status,
                c.body.len(),
                c.body
            )
        };
        // Counted before it is written: a client that read it sees it
        // counted.
        answered.fetch_add(1, Ordering::SeqCst);
        if out.write_all(resp.as_bytes()).is_err() {
            return;
        }
    }
}

pub(crate) fn db(conf: String) -> QuestDb {
    QuestDb::connect(&conf).unwrap()
}
