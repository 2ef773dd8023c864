//! The client's frame reader against a scripted raw-TCP server: frames sent
//! in the same packet as the `101` response, fragments with a ping between
//! them (answered before the client's next message), the 64-bit length
//! form, the close handshake, and the frames a client must refuse.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use questdb_arrow::ErrorKind;
use questdb_arrow::transport::frame::server_header;
use questdb_arrow::transport::{ConnectOptions, Connection, DEFAULT_MAX_MESSAGE_BYTES, Route};
use tungstenite::handshake::derive_accept_key;

const TIMEOUT: Duration = Duration::from_secs(10);

/// An unmasked server frame.
fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let (h, n) = server_header(fin, opcode, payload.len());
    [&h[..n], payload].concat()
}

/// Reads the upgrade request and returns the `101` response for it.
fn accept(reader: &mut BufReader<TcpStream>) -> Vec<u8> {
    let mut key = None;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("sec-websocket-key")
        {
            key = Some(v.trim().to_string());
        }
    }
    let accept = derive_accept_key(key.expect("no Sec-WebSocket-Key").as_bytes());
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\nX-QWP-Version: 1\r\n\r\n"
    )
    .into_bytes()
}

/// Reads one client frame: its opcode and unmasked payload.
fn client_frame(r: &mut impl Read) -> (u8, Vec<u8>) {
    let mut h = [0u8; 2];
    r.read_exact(&mut h).unwrap();
    assert_ne!(h[1] & 0x80, 0, "client frames are masked");
    let len = match h[1] & 0x7F {
        126 => {
            let mut b = [0u8; 2];
            r.read_exact(&mut b).unwrap();
            u64::from(u16::from_be_bytes(b))
        }
        127 => {
            let mut b = [0u8; 8];
            r.read_exact(&mut b).unwrap();
            u64::from_be_bytes(b)
        }
        n => u64::from(n),
    };
    let mut key = [0u8; 4];
    r.read_exact(&mut key).unwrap();
    let mut p = vec![0u8; len as usize];
    r.read_exact(&mut p).unwrap();
    for (i, b) in p.iter_mut().enumerate() {
        *b ^= key[i % 4];
    }
    (h[0], p)
}

/// A one-connection server running `script` on the accepted socket (with
/// the `101` response to write) and reporting what it returns.
fn scripted<T: Send + 'static>(
    script: impl FnOnce(BufReader<TcpStream>, TcpStream, Vec<u8>) -> T + Send + 'static,
) -> (ConnectOptions, JoinHandle<T>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let t = thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(TIMEOUT)).unwrap();
        let w = tcp.try_clone().unwrap();
        let mut r = BufReader::new(tcp);
        let head = accept(&mut r);
        script(r, w, head)
    });
    let mut o = ConnectOptions::new("127.0.0.1", port);
    o.read_timeout = Some(TIMEOUT);
    o.auth_timeout = TIMEOUT;
    (o, t)
}

#[test]
fn fragments_pings_long_frames_and_the_close_handshake() {
    let big: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
    let big2 = big.clone();
    let (opts, server) = scripted(move |mut r, mut w, mut head| {
        // The first message in the same write as the 101: a fragmented
        // binary message with a ping and a pong between its fragments.
        head.extend(frame(false, 0x2, b"ab"));
        head.extend(frame(true, 0x9, b"hi"));
        head.extend(frame(false, 0x0, b"cd"));
        head.extend(frame(true, 0xA, b"unasked"));
        head.extend(frame(true, 0x0, b"ef"));
        w.write_all(&head).unwrap();
        let pong = client_frame(&mut r);
        let next = client_frame(&mut r);
        let mut tail = frame(true, 0x2, &big2);
        let mut close = 1001u16.to_be_bytes().to_vec();
        close.extend_from_slice(b"bye");
        tail.extend(frame(true, 0x8, &close));
        w.write_all(&tail).unwrap();
        let reply = client_frame(&mut r);
        (pong, next, reply)
    });
    let (mut conn, _) = Connection::connect(&opts, Route::Query).unwrap();
    assert_eq!(conn.recv().unwrap(), b"abcdef");
    conn.send(b"next").unwrap();
    assert_eq!(conn.recv().unwrap(), big);
    let e = conn.recv().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Closed, "{e}");
    assert!(
        e.to_string()
            .contains("code 1001 (going away), reason \"bye\""),
        "{e}"
    );
    let (pong, next, reply) = server.join().unwrap();
    // The pong (FIN + 0xA) with the ping's payload went out before the
    // client's next message; the close was answered with its code.
    assert_eq!(pong, (0x8A, b"hi".to_vec()));
    assert_eq!(next, (0x82, b"next".to_vec()));
    assert_eq!(reply, (0x88, 1001u16.to_be_bytes().to_vec()));
    assert!(conn.peer_gone());
    let e = conn.send(b"x").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Closed, "{e}");
    let e = conn.recv().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Closed, "{e}");
}

/// The error the client gives for `frames` sent right after the upgrade.
fn refused(frames: Vec<u8>) -> questdb_arrow::Error {
    let (opts, server) = scripted(move |_r, mut w, mut head| {
        head.extend(frames);
        // The client may have gone already.
        let _ = w.write_all(&head);
        thread::sleep(Duration::from_millis(100));
    });
    let (mut conn, _) = Connection::connect(&opts, Route::Query).unwrap();
    let e = conn.recv().unwrap_err();
    drop(conn);
    server.join().unwrap();
    e
}

#[test]
fn an_oversized_message_is_refused_from_its_header() {
    let len = (DEFAULT_MAX_MESSAGE_BYTES + 1) as u64;
    let mut f = vec![0x82, 127];
    f.extend_from_slice(&len.to_be_bytes());
    let e = refused(f);
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    assert!(
        e.to_string().contains(&format!(
            "Message too long: {len} > {DEFAULT_MAX_MESSAGE_BYTES}"
        )),
        "{e}"
    );
}

#[test]
fn masked_server_frames_and_text_are_refused() {
    let e = refused(vec![0x82, 0x81, 1, 2, 3, 4, b'x' ^ 1]);
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    let source = std::error::Error::source(&e).map(|s| s.to_string());
    assert_eq!(source.as_deref(), Some("a masked frame from the server"));
    let e = refused(frame(true, 0x1, b"text"));
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    assert!(e.to_string().contains("text message of 4 bytes"), "{e}");
}

#[test]
fn a_server_that_hangs_up_mid_frame_is_a_closed_connection() {
    let mut f = frame(true, 0x2, &[7; 300]);
    f.truncate(100);
    let e = refused(f);
    assert_eq!(e.kind(), ErrorKind::Closed, "{e}");
    assert!(e.to_string().contains("without a close frame"), "{e}");
}

#[test]
fn polling_keeps_a_message_that_arrives_in_pieces() {
    let (tx, rx) = mpsc::channel::<()>();
    let (opts, server) = scripted(move |_r, mut w, head| {
        w.write_all(&head).unwrap();
        let f = frame(true, 0x2, &[9; 1000]);
        w.write_all(&f[..500]).unwrap();
        rx.recv().unwrap();
        w.write_all(&f[500..]).unwrap();
        rx.recv().unwrap();
    });
    let (mut conn, _) = Connection::connect(&opts, Route::Query).unwrap();
    // Half a frame in: polls find nothing, and lose nothing.
    for _ in 0..3 {
        assert_eq!(conn.recv_timeout(Some(Duration::ZERO)).unwrap(), None);
        assert_eq!(
            conn.recv_timeout(Some(Duration::from_millis(20))).unwrap(),
            None
        );
    }
    tx.send(()).unwrap();
    assert_eq!(
        conn.recv_timeout(Some(TIMEOUT)).unwrap(),
        Some(vec![9; 1000])
    );
    tx.send(()).unwrap();
    server.join().unwrap();
}

#[test]
fn a_hang_up_behind_a_buffered_frame_is_seen() {
    let (tx, rx) = mpsc::channel::<()>();
    let (opts, server) = scripted(move |_r, mut w, mut head| {
        // Sent with the 101 response, so read with it: "two" waits in the
        // client's buffer while the server hangs up.
        head.extend(frame(true, 0x2, b"one"));
        head.extend(frame(true, 0x2, b"two"));
        w.write_all(&head).unwrap();
        rx.recv().unwrap();
    });
    let (mut conn, _) = Connection::connect(&opts, Route::Query).unwrap();
    assert_eq!(conn.recv().unwrap(), b"one");
    assert!(!conn.peer_gone(), "a live server with a frame pending");
    tx.send(()).unwrap();
    server.join().unwrap();
    let mut seen = false;
    for _ in 0..1000 {
        if conn.peer_gone() {
            seen = true;
            break;
        }
        thread::sleep(Duration::from_millis(10));
    }
    assert!(seen, "the hang-up was not seen behind the buffered frame");
    // What was read before it is still delivered.
    assert_eq!(conn.recv().unwrap(), b"two");
}
