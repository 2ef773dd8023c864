use std::io::Read;

use super::*;
use crate::transport::frame::server_header;

/// An unmasked server frame.
fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let (h, n) = server_header(fin, opcode, payload.len());
    [&h[..n], payload].concat()
}

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ seed)
        .collect()
}

/// Gives out its bytes `chunk` at a time, then `WouldBlock` (or the end of
/// the stream when `eof`).
struct Trickle {
    bytes: Vec<u8>,
    at: usize,
    chunk: usize,
    eof: bool,
    /// The bytes each read was told are sure to come, with the stream
    /// position then.
    sure: Vec<(usize, usize)>,
}

impl Trickle {
    fn new(bytes: Vec<u8>, chunk: usize) -> Self {
        Trickle {
            bytes,
            at: 0,
            chunk,
            eof: false,
            sure: Vec::new(),
        }
    }
}

impl Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.bytes.len() - self.at;
        if left == 0 {
            return if self.eof {
                Ok(0)
            } else {
                Err(io::ErrorKind::WouldBlock.into())
            };
        }
        let n = left.min(self.chunk).min(buf.len());
        buf[..n].copy_from_slice(&self.bytes[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

impl Source for Trickle {
    fn read_expecting(&mut self, buf: &mut [u8], sure: usize) -> io::Result<usize> {
        self.sure.push((self.at, sure));
        self.read(buf)
    }
}

/// What the reader made of a stream: binary payloads, text lengths, pings
/// and closes, in order, until the stream would block.
#[derive(Debug, PartialEq, Eq)]
enum Got {
    Bin(Vec<u8>),
    Text(usize),
    Ping(Vec<u8>),
    Close(Option<CloseFrame>),
}

fn read_all(r: &mut FrameReader, src: &mut impl Source) -> Result<Vec<Got>, RecvError> {
    let mut out = Vec::new();
    loop {
        match r.next(src) {
            Ok(Incoming::Binary) => out.push(Got::Bin(r.payload().to_vec())),
            Ok(Incoming::Text(n)) => out.push(Got::Text(n)),
            Ok(Incoming::Ping) => out.push(Got::Ping(r.payload().to_vec())),
            Ok(Incoming::Close(c)) => out.push(Got::Close(c)),
            Err(RecvError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => return Ok(out),
            Err(e) => return Err(e),
        }
    }
}

/// A stream of every kind of frame: the length forms, a fragmented message
/// with a ping and a pong between its fragments, text, close.
fn mixed() -> (Vec<u8>, Vec<Got>) {
    let mut wire = Vec::new();
    let mut want = Vec::new();
    for (n, len) in [0usize, 1, 125, 126, 300, 65535, 65536, 200_000]
        .into_iter()
        .enumerate()
    {
        let p = data(len, n as u8);
        wire.extend(frame(true, OP_BINARY, &p));
        want.push(Got::Bin(p));
    }
    let parts = [data(10, 1), data(70_000, 2), data(0, 3), data(5, 4)];
    wire.extend(frame(false, OP_BINARY, &parts[0]));
    wire.extend(frame(true, OP_PING, b"are you there"));
    wire.extend(frame(false, OP_CONTINUATION, &parts[1]));
    wire.extend(frame(true, OP_PONG, b"late pong"));
    wire.extend(frame(false, OP_CONTINUATION, &parts[2]));
    wire.extend(frame(true, OP_CONTINUATION, &parts[3]));
    want.push(Got::Ping(b"are you there".to_vec()));
    want.push(Got::Bin(parts.concat()));
    wire.extend(frame(true, OP_TEXT, b"hello"));
    want.push(Got::Text(5));
    wire.extend(frame(true, OP_BINARY, b"after"));
    want.push(Got::Bin(b"after".to_vec()));
    let mut close = 1009u16.to_be_bytes().to_vec();
    close.extend_from_slice("too big ✓".as_bytes());
    wire.extend(frame(true, OP_CLOSE, &close));
    want.push(Got::Close(Some(CloseFrame {
        code: 1009,
        reason: "too big ✓".into(),
    })));
    wire.extend(frame(true, OP_CLOSE, &[]));
    want.push(Got::Close(None));
    (wire, want)
}

#[test]
fn every_frame_kind_in_one_read_or_one_byte_per_read() {
    let (wire, want) = mixed();
    for chunk in [1, 7, 4096, usize::MAX] {
        let mut r = FrameReader::new(Vec::new(), 1 << 20);
        let got = read_all(&mut r, &mut Trickle::new(wire.clone(), chunk)).unwrap();
        assert_eq!(got, want, "chunk {chunk}");
        assert!(r.buffered().is_empty());
    }
}

#[test]
fn bytes_read_with_the_upgrade_response_come_first() {
    let (wire, want) = mixed();
    for split in [0, 1, 2, 3, 100, wire.len() / 2, wire.len()] {
        let mut r = FrameReader::new(wire[..split].to_vec(), 1 << 20);
        let got = read_all(&mut r, &mut Trickle::new(wire[split..].to_vec(), 1000)).unwrap();
        assert_eq!(got, want, "split {split}");
    }
}

#[test]
fn a_read_split_at_every_byte_boundary_resumes() {
    // Two reads: the first ends at `split` (then the stream would block, as
    // a read timeout does), the second brings the rest.
    let mut wire = frame(true, OP_BINARY, &data(300, 9));
    wire.extend(frame(false, OP_BINARY, &data(3, 1)));
    wire.extend(frame(true, OP_PING, b"p"));
    wire.extend(frame(true, OP_CONTINUATION, &data(130, 2)));
    let want = vec![
        Got::Bin(data(300, 9)),
        Got::Ping(b"p".to_vec()),
        Got::Bin([data(3, 1), data(130, 2)].concat()),
    ];
    for split in 0..=wire.len() {
        let mut r = FrameReader::new(Vec::new(), 1 << 20);
        let mut first = Trickle::new(wire[..split].to_vec(), usize::MAX);
        let mut got = read_all(&mut r, &mut first).unwrap();
        let mut rest = Trickle::new(wire[split..].to_vec(), usize::MAX);
        got.extend(read_all(&mut r, &mut rest).unwrap());
        assert_eq!(got, want, "split {split}");
    }
}

#[test]
fn oversized_messages_are_refused_before_their_payload_is_read() {
    // One frame over the limit: refused from its header alone.
    let mut r = FrameReader::new(Vec::new(), 1000);
    let wire = frame(true, OP_BINARY, &data(1001, 0))[..4].to_vec();
    match r.next(&mut Trickle::new(wire, usize::MAX)) {
        Err(RecvError::TooLong { size, max }) => assert_eq!((size, max), (1001, 1000)),
        other => panic!("{other:?}"),
    }
    // At the limit: accepted.
    let mut r = FrameReader::new(Vec::new(), 1000);
    let wire = frame(true, OP_BINARY, &data(1000, 0));
    assert_eq!(
        r.next(&mut Trickle::new(wire, 10)).unwrap(),
        Incoming::Binary
    );
    // Fragments that add up to more than the limit.
    let mut r = FrameReader::new(Vec::new(), 1000);
    let mut wire = frame(false, OP_BINARY, &data(600, 0));
    wire.extend(frame(true, OP_CONTINUATION, &data(401, 0)));
    match r.next(&mut Trickle::new(wire, usize::MAX)) {
        Err(RecvError::TooLong { size, max }) => assert_eq!((size, max), (1001, 1000)),
        other => panic!("{other:?}"),
    }
    // A 64-bit length far over any limit.
    let mut r = FrameReader::new(Vec::new(), 1000);
    let wire = vec![0x82, 127, 0x7F, 0, 0, 0, 0, 0, 0, 0];
    assert!(matches!(
        r.next(&mut Trickle::new(wire, usize::MAX)),
        Err(RecvError::TooLong { .. })
    ));
}

#[test]
fn protocol_violations_are_refused() {
    let cases: Vec<(Vec<u8>, FrameError)> = vec![
        (vec![0x82, 0x81, 1, 2, 3, 4, 0], FrameError::Masked),
        (vec![0xC2, 0x00], FrameError::ReservedBits(4)),
        (vec![0x83, 0x00], FrameError::UnknownOpcode(3)),
        (vec![0x8B, 0x00], FrameError::UnknownOpcode(0xB)),
        (vec![0x09, 0x00], FrameError::FragmentedControl),
        (
            [vec![0x89, 126, 0, 126], vec![0; 126]].concat(),
            FrameError::ControlTooLong(126),
        ),
        (
            vec![0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0],
            FrameError::LengthOverflow,
        ),
        (
            frame(true, OP_CONTINUATION, b"x"),
            FrameError::UnexpectedContinuation,
        ),
        (
            [frame(false, OP_BINARY, b"a"), frame(true, OP_BINARY, b"b")].concat(),
            FrameError::UnfinishedFragments,
        ),
        (frame(true, OP_CLOSE, &[3]), FrameError::CloseTooShort),
        (
            frame(true, OP_CLOSE, &[3, 232, 0xFF]),
            FrameError::CloseReasonNotUtf8,
        ),
    ];
    for (wire, want) in cases {
        let mut r = FrameReader::new(Vec::new(), 1 << 20);
        match r.next(&mut Trickle::new(wire.clone(), usize::MAX)) {
            Err(RecvError::Frame(e)) => assert_eq!(e, want, "{wire:?}"),
            other => panic!("{wire:?}: {other:?}"),
        }
    }
}

#[test]
fn the_end_of_the_stream_mid_frame_is_eof() {
    let wire = frame(true, OP_BINARY, &data(50, 0));
    let mut src = Trickle::new(wire[..20].to_vec(), 3);
    src.eof = true;
    let mut r = FrameReader::new(Vec::new(), 1 << 20);
    assert!(matches!(r.next(&mut src), Err(RecvError::Eof)));
}

#[test]
fn the_buffer_is_reused_without_growing() {
    let mut wire = Vec::new();
    for n in 0..50u8 {
        wire.extend(frame(true, OP_BINARY, &data(100_000, n)));
    }
    let mut r = FrameReader::new(Vec::new(), 1 << 20);
    let mut src = Trickle::new(wire, usize::MAX);
    for n in 0..50u8 {
        assert_eq!(r.next(&mut src).unwrap(), Incoming::Binary);
        assert_eq!(r.payload(), &data(100_000, n)[..], "message {n}");
    }
    assert!(
        r.buf.len() <= 100_002 + 2 * READ_AHEAD,
        "buffer grew to {}",
        r.buf.len()
    );
}

/// What the reader says is sure to come is never more than what is left
/// of the frame being read (a stream waiting for it would otherwise wait
/// for bytes that may never come, e.g. behind a result's last frame), is
/// never 0, and is the whole rest of a large frame: frames of many sizes,
/// fed in pieces of many sizes.
#[test]
fn sure_never_counts_more_than_the_frame_brings() {
    let sizes = [10, 40_000, 300, 0, 3 << 20, 700_000, 5, 125, 126, 65_536];
    let mut wire = Vec::new();
    let mut ends = Vec::new();
    let mut want = Vec::new();
    for (n, &len) in sizes.iter().enumerate() {
        let payload = data(len, n as u8);
        wire.extend(frame(true, OP_BINARY, &payload));
        ends.push(wire.len());
        want.push(Got::Bin(payload));
    }
    for chunk in [1, 1000, 4096, 65_536, 200_001, usize::MAX] {
        let mut r = FrameReader::new(Vec::new(), 8 << 20);
        let mut src = Trickle::new(wire.clone(), chunk);
        assert_eq!(read_all(&mut r, &mut src).unwrap(), want, "chunk {chunk}");
        let mut whole_rest = false;
        for &(at, n) in &src.sure {
            assert!(n >= 1, "chunk {chunk}: 0 sure at byte {at}");
            // Past the last frame nothing is sure to come but what any
            // read waits for: a byte.
            let frame_end = ends.iter().copied().find(|&e| e > at).unwrap_or(at + 1);
            assert!(
                at + n <= frame_end,
                "chunk {chunk}: {n} sure at byte {at}, the frame ends at {frame_end}"
            );
            whole_rest |= n > 1 && at + n == frame_end;
        }
        assert!(whole_rest, "chunk {chunk}: {:?}", src.sure);
    }
}
