//! WebSocket frames as bytes, without I/O: client frames masked in one
//! pass, and the header of a server frame parsed and checked.
//!
//! RFC 6455 requires every client-to-server frame to be masked with a 4-byte
//! key. Instead of encoding a payload and then XOR-ing it in a second pass,
//! the payload is written through [`Out::masked`], which masks while it
//! copies: the bytes are touched exactly once on their way into the send
//! buffer.
//!
//! Server frames are never masked; [`parse_server_header`] reads the
//! header of one (FIN, opcode, 7/16/64-bit length) and refuses what a
//! client without extensions must refuse.

use std::fmt;

use std::io::{self, Write};

use crate::error::{Error, Result};
use crate::protocol::Out;
use crate::protocol::wire::mask_copy;

/// First header byte of every frame written here: FIN + binary opcode.
pub const FIN_BINARY: u8 = 0x82;
/// The FIN bit of the first header byte.
const FIN_BIT: u8 = 0x80;
/// The mask bit of the second header byte.
const MASK_BIT: u8 = 0x80;
/// Longest client frame header: 2 + 8 (64-bit length) + 4 (mask key).
pub const MAX_CLIENT_HEADER_LEN: usize = 14;
/// Longest server frame header: 2 + 8 (64-bit length), no mask key.
pub const MAX_SERVER_HEADER_LEN: usize = 10;

/// Opcode of a continuation frame.
pub const OP_CONTINUATION: u8 = 0x0;
/// Opcode of a text frame.
pub const OP_TEXT: u8 = 0x1;
/// Opcode of a binary frame.
pub const OP_BINARY: u8 = 0x2;
/// Opcode of a close frame.
pub const OP_CLOSE: u8 = 0x8;
/// Opcode of a ping frame.
pub const OP_PING: u8 = 0x9;
/// Opcode of a pong frame.
pub const OP_PONG: u8 = 0xA;
/// Longest payload of a control frame (close, ping, pong).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// The header of one server frame, as [`parse_server_header`] read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// The last frame of its message.
    pub fin: bool,
    /// The opcode (one of the `OP_*` constants).
    pub opcode: u8,
    /// Bytes of the header: 2, 4 or 10.
    pub header_len: usize,
    /// Bytes of the payload that follows the header.
    pub payload_len: u64,
}

impl FrameHeader {
    /// Whether this is a control frame (close, ping, pong).
    pub fn is_control(&self) -> bool {
        self.opcode & 0x8 != 0
    }
}

/// Why a server frame (or a sequence of them) breaks RFC 6455 for a
/// client that negotiated no extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// RSV1-3 set (the bits, shifted to the low end).
    ReservedBits(u8),
    /// An opcode RFC 6455 reserves.
    UnknownOpcode(u8),
    /// A masked frame: servers must not mask.
    Masked,
    /// A control frame without FIN.
    FragmentedControl,
    /// A control frame with a payload over 125 bytes.
    ControlTooLong(u64),
    /// A 64-bit length with its most significant bit set.
    LengthOverflow,
    /// A continuation frame with no fragmented message to continue.
    UnexpectedContinuation,
    /// A text or binary frame while a fragmented message is unfinished.
    UnfinishedFragments,
    /// A close frame with a 1-byte payload (a code takes 2).
    CloseTooShort,
    /// A close frame whose reason is not UTF-8.
    CloseReasonNotUtf8,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::ReservedBits(b) => {
                write!(
                    f,
                    "reserved bits {b:#05b} set without a negotiated extension"
                )
            }
            FrameError::UnknownOpcode(op) => write!(f, "reserved opcode {op:#x}"),
            FrameError::Masked => f.write_str("a masked frame from the server"),
            FrameError::FragmentedControl => f.write_str("a fragmented control frame"),
            FrameError::ControlTooLong(n) => {
                write!(f, "a control frame of {n} bytes (at most 125 allowed)")
            }
            FrameError::LengthOverflow => f.write_str("a frame length over 2^63"),
            FrameError::UnexpectedContinuation => {
                f.write_str("a continuation frame with no fragmented message to continue")
            }
            FrameError::UnfinishedFragments => {
                f.write_str("a new message while a fragmented one is unfinished")
            }
            FrameError::CloseTooShort => f.write_str("a close frame with a 1-byte payload"),
            FrameError::CloseReasonNotUtf8 => f.write_str("a close reason that is not UTF-8"),
        }
    }
}

impl std::error::Error for FrameError {}

/// Parses the header of a server frame at the start of `buf`.
///
/// `Ok(None)`: `buf` holds only part of the header (read more and call
/// again). Refused: reserved bits or opcodes, a mask (servers must not
/// mask), a control frame that is fragmented or longer than 125 bytes,
/// and a 64-bit length over 2^63. The payload length is not judged here:
/// the reader holds it against its message size limit.
///
/// ```
/// use questdb_arrow::transport::frame::{FrameHeader, OP_BINARY, parse_server_header};
/// let h = parse_server_header(&[0x82, 126, 0x01, 0x00]).unwrap().unwrap();
/// assert_eq!(h, FrameHeader { fin: true, opcode: OP_BINARY, header_len: 4, payload_len: 256 });
/// assert_eq!(parse_server_header(&[0x82, 126, 0x01]).unwrap(), None);
/// ```
pub fn parse_server_header(buf: &[u8]) -> std::result::Result<Option<FrameHeader>, FrameError> {
    let (Some(&b0), Some(&b1)) = (buf.first(), buf.get(1)) else {
        return Ok(None);
    };
    let rsv = (b0 >> 4) & 0x7;
    if rsv != 0 {
        return Err(FrameError::ReservedBits(rsv));
    }
    let fin = b0 & FIN_BIT != 0;
    let opcode = b0 & 0x0F;
    if !matches!(
        opcode,
        OP_CONTINUATION | OP_TEXT | OP_BINARY | OP_CLOSE | OP_PING | OP_PONG
    ) {
        return Err(FrameError::UnknownOpcode(opcode));
    }
    if b1 & MASK_BIT != 0 {
        return Err(FrameError::Masked);
    }
    let Some((header_len, payload_len)) = get_len(buf) else {
        return Ok(None);
    };
    if payload_len >> 63 != 0 {
        return Err(FrameError::LengthOverflow);
    }
    let h = FrameHeader {
        fin,
        opcode,
        header_len,
        payload_len,
    };
    if h.is_control() {
        if !fin {
            return Err(FrameError::FragmentedControl);
        }
        if payload_len > MAX_CONTROL_PAYLOAD as u64 {
            return Err(FrameError::ControlTooLong(payload_len));
        }
    }
    Ok(Some(h))
}

/// The length field of the frame header at the start of `buf`: the
/// header's length up to its end (2, 4 or 10; a mask key follows when the
/// frame is masked) and the payload length; `None` when `buf` is shorter.
fn get_len(buf: &[u8]) -> Option<(usize, u64)> {
    Some(match buf.get(1)? & 0x7F {
        126 => (
            4,
            u64::from(u16::from_be_bytes(buf.get(2..4)?.try_into().ok()?)),
        ),
        127 => (10, u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?)),
        n => (2, u64::from(n)),
    })
}

/// A whole masked client frame (FIN, binary) in one buffer, as
/// [`write_client_frame`] builds it.
#[derive(Debug, Clone, Copy)]
pub struct ClientFrame<'a> {
    bytes: &'a [u8],
    header_len: usize,
    key: [u8; 4],
}

impl<'a> ClientFrame<'a> {
    /// `bytes` as a client frame: `None` unless they are exactly one
    /// masked FIN + binary frame (header and the whole payload).
    pub fn parse(bytes: &'a [u8]) -> Option<ClientFrame<'a>> {
        if *bytes.first()? != FIN_BINARY || bytes.get(1)? & MASK_BIT == 0 {
            return None;
        }
        let (at, payload_len) = get_len(bytes)?;
        let key = bytes.get(at..at + 4)?.try_into().ok()?;
        let header_len = at + 4;
        (bytes.len() as u64 - header_len as u64 == payload_len).then_some(ClientFrame {
            bytes,
            header_len,
            key,
        })
    }

    /// The masked payload.
    pub fn masked_payload(&self) -> &'a [u8] {
        &self.bytes[self.header_len..]
    }

    /// The mask key.
    pub fn key(&self) -> [u8; 4] {
        self.key
    }

    /// The whole frame.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Unmasks the first `dst.len()` payload bytes (at most the payload)
    /// into `dst`; returns how many.
    pub fn unmask_into(&self, dst: &mut [u8]) -> usize {
        let src = self.masked_payload();
        let n = dst.len().min(src.len());
        mask_copy(&mut dst[..n], &src[..n], self.key);
        n
    }
}

/// The code and reason of a close frame's payload (`None`: no code).
pub fn parse_close_payload(payload: &[u8]) -> std::result::Result<Option<(u16, &str)>, FrameError> {
    match payload {
        [] => Ok(None),
        [_] => Err(FrameError::CloseTooShort),
        [hi, lo, reason @ ..] => {
            let reason = std::str::from_utf8(reason).map_err(|_| FrameError::CloseReasonNotUtf8)?;
            Ok(Some((u16::from_be_bytes([*hi, *lo]), reason)))
        }
    }
}

/// Appends a masked client control frame (FIN + `opcode`, at most 125
/// payload bytes: a pong or a close) to `out`.
pub(crate) fn push_control_frame(out: &mut Vec<u8>, opcode: u8, key: [u8; 4], payload: &[u8]) {
    debug_assert!(payload.len() <= MAX_CONTROL_PAYLOAD);
    let payload = &payload[..payload.len().min(MAX_CONTROL_PAYLOAD)];
    out.push(FIN_BIT | opcode);
    out.push(MASK_BIT | payload.len() as u8);
    out.extend_from_slice(&key);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
}

/// Length of the header (including the 4-byte mask key) of a masked client
/// frame carrying `payload_len` bytes: 6, 8 or 14.
#[inline]
pub fn client_header_len(payload_len: usize) -> usize {
    match payload_len {
        0..=125 => 6,
        126..=0xFFFF => 8,
        _ => 14,
    }
}

/// Writes the header of a masked FIN + binary frame into `dst` (which must be
/// at least [`client_header_len`] long) and returns the header length.
fn put_header(dst: &mut [u8], key: [u8; 4], payload_len: usize) -> usize {
    dst[0] = FIN_BINARY;
    let at = put_len(dst, MASK_BIT, payload_len);
    dst[at..at + 4].copy_from_slice(&key);
    at + 4
}

/// Writes the second header byte (`mask` | the 7-bit length or its 126/127
/// marker) and the 16/64-bit length after it; returns the header length up
/// to there: 2, 4 or 10.
fn put_len(dst: &mut [u8], mask: u8, payload_len: usize) -> usize {
    match payload_len {
        0..=125 => {
            dst[1] = mask | payload_len as u8;
            2
        }
        126..=0xFFFF => {
            dst[1] = mask | 126;
            dst[2..4].copy_from_slice(&(payload_len as u16).to_be_bytes());
            4
        }
        _ => {
            dst[1] = mask | 127;
            dst[2..10].copy_from_slice(&(payload_len as u64).to_be_bytes());
            10
        }
    }
}

/// The header of an unmasked server frame (`fin`, `opcode`, the shortest
/// length form for `payload_len`): the bytes and how many of them it is
/// (2, 4 or 10).
///
/// ```
/// use questdb_arrow::transport::frame::{OP_BINARY, parse_server_header, server_header};
/// let (h, n) = server_header(true, OP_BINARY, 300);
/// assert_eq!(&h[..n], &[0x82, 126, 0x01, 0x2C]);
/// assert_eq!(parse_server_header(&h[..n]).unwrap().unwrap().payload_len, 300);
/// ```
pub fn server_header(
    fin: bool,
    opcode: u8,
    payload_len: usize,
) -> ([u8; MAX_SERVER_HEADER_LEN], usize) {
    let mut h = [0u8; MAX_SERVER_HEADER_LEN];
    h[0] = if fin { FIN_BIT } else { 0 } | (opcode & 0x0F);
    let n = put_len(&mut h, 0, payload_len);
    (h, n)
}

/// Encodes one whole frame into `dst`, which must be exactly
/// `client_header_len(payload_len) + payload_len` bytes. Fails if `fill`
/// did not write exactly `payload_len` bytes (a debug build panics instead).
pub(crate) fn encode_into(
    dst: &mut [u8],
    key: [u8; 4],
    payload_len: usize,
    fill: impl FnOnce(&mut Out<'_>),
) -> Result<()> {
    let hdr = put_header(dst, key, payload_len);
    debug_assert_eq!(dst.len(), hdr + payload_len);
    let mut out = Out::masked(&mut dst[hdr..], key, 0);
    fill(&mut out);
    let written = out.pos();
    debug_assert!(
        out.is_full(),
        "frame fill wrote {written} of {payload_len} bytes"
    );
    if !out.is_full() {
        return Err(Error::protocol(
            written,
            format!("frame payload incomplete: wrote {written} of {payload_len} bytes"),
        ));
    }
    Ok(())
}

/// Payload bytes [`write_masked`] masks and writes at a time: small
/// enough to stay in a core's cache between the masking and the socket's
/// copy.
pub(crate) const SEND_CHUNK: usize = 128 * 1024;

/// Writes one masked client frame (FIN, binary opcode, mask key `key`)
/// carrying `payload` to `w`, masking it [`SEND_CHUNK`] bytes at a time
/// into `scratch` (grown to a chunk and the header if shorter) and writing
/// each piece as soon as it is masked; then flushes. A failure part-way
/// leaves a partial frame on `w`.
pub(crate) fn write_masked(
    w: &mut impl Write,
    scratch: &mut Vec<u8>,
    key: [u8; 4],
    payload: &[u8],
) -> io::Result<()> {
    write_xored(w, scratch, key, key, payload)
}

/// Writes `frame` again under mask key `key` (a frame is never sent twice
/// with one key), re-masking it [`SEND_CHUNK`] bytes at a time as
/// [`write_masked`] does.
pub(crate) fn write_rekeyed(
    w: &mut impl Write,
    scratch: &mut Vec<u8>,
    key: [u8; 4],
    frame: ClientFrame<'_>,
) -> io::Result<()> {
    let old = frame.key();
    let xor = std::array::from_fn(|i| key[i] ^ old[i]);
    write_xored(w, scratch, key, xor, frame.masked_payload())
}

/// Writes a client frame with mask key `key` in its header whose payload
/// is `payload` XORed with `xor` (the key itself for a bare payload).
fn write_xored(
    w: &mut impl Write,
    scratch: &mut Vec<u8>,
    key: [u8; 4],
    xor: [u8; 4],
    payload: &[u8],
) -> io::Result<()> {
    if scratch.len() < MAX_CLIENT_HEADER_LEN + SEND_CHUNK {
        scratch.resize(MAX_CLIENT_HEADER_LEN + SEND_CHUNK, 0);
    }
    // The header goes out with the first chunk.
    let mut at = put_header(scratch, key, payload.len());
    // Every chunk but the last is a multiple of 4 bytes long, so each
    // chunk starts at key phase 0.
    for chunk in payload.chunks(SEND_CHUNK) {
        mask_copy(&mut scratch[at..at + chunk.len()], chunk, xor);
        w.write_all(&scratch[..at + chunk.len()])?;
        at = 0;
    }
    // An empty payload: the header alone.
    w.write_all(&scratch[..at])?;
    w.flush()
}

/// Builds one masked client frame (FIN, binary opcode, mask key `key`) in
/// `buf`, the payload written by `fill` and masked while it is copied.
///
/// `buf` ends up exactly as long as the frame. Its previous contents are
/// overwritten, not cleared first, so reusing one buffer costs no zeroing
/// pass except when it grows.
///
/// `fill` must write exactly `payload_len` bytes: writing more panics (a
/// bug in the caller's sizing), writing fewer panics in debug builds and is
/// an [`ErrorKind::Protocol`](crate::ErrorKind::Protocol) error otherwise.
///
/// ```
/// use questdb_arrow::transport::write_client_frame;
/// let mut buf = Vec::new();
/// write_client_frame(&mut buf, [1, 2, 3, 4], 3, |out| out.put(b"abc")).unwrap();
/// assert_eq!(&buf[..6], &[0x82, 0x83, 1, 2, 3, 4]);
/// assert_eq!(&buf[6..], &[b'a' ^ 1, b'b' ^ 2, b'c' ^ 3]);
/// ```
pub fn write_client_frame(
    buf: &mut Vec<u8>,
    key: [u8; 4],
    payload_len: usize,
    fill: impl FnOnce(&mut Out<'_>),
) -> Result<()> {
    let total = client_header_len(payload_len) + payload_len;
    if buf.len() < total {
        buf.resize(total, 0);
    } else {
        buf.truncate(total);
    }
    encode_into(buf, key, payload_len, fill)
}

#[cfg(test)]
mod tests {
    use std::io::{self, Cursor, Read, Write};

    use tungstenite::Message;
    use tungstenite::protocol::{Role, WebSocket, WebSocketConfig};

    use super::*;

    const KEY: [u8; 4] = [0xA1, 0xB2, 0xC3, 0xD4];

    fn frame(len: usize) -> Vec<u8> {
        let payload: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
        let mut buf = Vec::new();
        write_client_frame(&mut buf, KEY, len, |o| o.put(&payload)).unwrap();
        buf
    }

    #[test]
    fn header_bytes_for_each_length_form() {
        let k = KEY;
        let cases: [(usize, Vec<u8>); 5] = [
            (0, vec![0x82, 0x80]),
            (125, vec![0x82, 0x80 | 125]),
            (126, vec![0x82, 0x80 | 126, 0x00, 0x7E]),
            (65535, vec![0x82, 0x80 | 126, 0xFF, 0xFF]),
            (65536, vec![0x82, 0x80 | 127, 0, 0, 0, 0, 0, 1, 0, 0]),
        ];
        for (len, prefix) in cases {
            let f = frame(len);
            let mut want = prefix;
            want.extend_from_slice(&k);
            assert_eq!(client_header_len(len), want.len(), "len {len}");
            assert_eq!(&f[..want.len()], &want[..], "len {len}");
            assert_eq!(f.len(), want.len() + len, "len {len}");
        }
    }

    #[test]
    fn payload_is_masked_with_the_key() {
        for len in [0usize, 1, 3, 4, 5, 7, 8, 9, 125, 126, 1000, 65536] {
            let payload: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let f = frame(len);
            let hdr = client_header_len(len);
            assert_eq!(&f[hdr - 4..hdr], &KEY);
            let unmasked: Vec<u8> = f[hdr..]
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ KEY[i % 4])
                .collect();
            assert_eq!(unmasked, payload, "len {len}");
        }
    }

    #[test]
    fn reused_buffer_shrinks_and_grows() {
        let mut buf = Vec::new();
        write_client_frame(&mut buf, KEY, 300, |o| o.fill(9, 300)).unwrap();
        write_client_frame(&mut buf, KEY, 2, |o| o.put(&[1, 2])).unwrap();
        assert_eq!(
            buf,
            vec![0x82, 0x82, 0xA1, 0xB2, 0xC3, 0xD4, 1 ^ 0xA1, 2 ^ 0xB2]
        );
    }

    #[test]
    #[cfg(not(debug_assertions))]
    fn short_fill_is_an_error() {
        let mut buf = Vec::new();
        let e = write_client_frame(&mut buf, KEY, 4, |o| o.put(&[1, 2])).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Protocol);
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "frame fill wrote 2 of 4 bytes")]
    fn short_fill_panics_in_debug() {
        let mut buf = Vec::new();
        let _ = write_client_frame(&mut buf, KEY, 4, |o| o.put(&[1, 2]));
    }

    /// Counts the writes it collects.
    #[derive(Default)]
    struct Writes {
        bytes: Vec<u8>,
        calls: usize,
    }

    impl Write for Writes {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.calls += 1;
            self.bytes.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn chunked_masking_writes_the_same_frame_a_chunk_at_a_time() {
        for len in [
            SEND_CHUNK + 1,
            2 * SEND_CHUNK,
            3 * SEND_CHUNK + 5,
            SEND_CHUNK - 3,
        ] {
            let payload: Vec<u8> = (0..len).map(|i| (i * 13 + 1) as u8).collect();
            let mut want = Vec::new();
            write_client_frame(&mut want, KEY, len, |o| o.put(&payload)).unwrap();
            let mut w = Writes::default();
            // A reused scratch buffer holding stale bytes.
            let mut scratch = vec![0xEE; 10];
            write_masked(&mut w, &mut scratch, KEY, &payload).unwrap();
            assert!(w.bytes == want, "len {len}");
            assert_eq!(w.calls, len.div_ceil(SEND_CHUNK), "len {len}");
            assert!(scratch.len() <= SEND_CHUNK + MAX_CLIENT_HEADER_LEN);
        }
    }

    #[test]
    fn a_built_frame_parses_back_and_anything_else_does_not() {
        for len in [0usize, 5, 125, 126, 70_000] {
            let payload: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let f = frame(len);
            let c = ClientFrame::parse(&f).unwrap();
            assert_eq!(c.key(), KEY);
            assert_eq!(c.masked_payload().len(), len);
            let mut head = [0u8; 12];
            let n = c.unmask_into(&mut head);
            assert_eq!(&head[..n], &payload[..len.min(12)], "len {len}");
            // Cut, extended, unmasked or not binary: not a whole frame.
            assert!(ClientFrame::parse(&f[..f.len() - 1]).is_none(), "len {len}");
            let mut longer = f.clone();
            longer.push(0);
            assert!(ClientFrame::parse(&longer).is_none(), "len {len}");
            let mut unmasked = f.clone();
            unmasked[1] &= 0x7F;
            assert!(ClientFrame::parse(&unmasked).is_none(), "len {len}");
            let mut text = f.clone();
            text[0] = 0x81;
            assert!(ClientFrame::parse(&text).is_none(), "len {len}");
        }
        assert!(ClientFrame::parse(b"QWP1\x01\x00").is_none());
        assert!(ClientFrame::parse(&[]).is_none());
    }

    #[test]
    fn a_rekeyed_frame_carries_the_same_payload_under_the_new_key() {
        const NEW: [u8; 4] = [0x10, 0x22, 0x37, 0x4F];
        for len in [0usize, 3, 126, SEND_CHUNK + 5] {
            let payload: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let f = frame(len);
            let mut want = Vec::new();
            write_client_frame(&mut want, NEW, len, |o| o.put(&payload)).unwrap();
            let mut w = Writes::default();
            let mut scratch = Vec::new();
            write_rekeyed(&mut w, &mut scratch, NEW, ClientFrame::parse(&f).unwrap()).unwrap();
            assert!(w.bytes == want, "len {len}");
        }
    }

    /// In-memory duplex: reads from `input`, collects writes in `output`.
    struct Duplex {
        input: Cursor<Vec<u8>>,
        output: Vec<u8>,
    }

    impl Read for Duplex {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.input.read(buf)?;
            if n == 0 && !buf.is_empty() {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            Ok(n)
        }
    }

    impl Write for Duplex {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.output.write(buf)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn control_frames_parse_on_a_tungstenite_server() {
        let mut wire = Vec::new();
        push_control_frame(&mut wire, OP_PONG, KEY, b"ping data");
        push_control_frame(&mut wire, OP_CLOSE, [9, 8, 7, 6], &1001u16.to_be_bytes());
        let io = Duplex {
            input: Cursor::new(wire),
            output: Vec::new(),
        };
        let mut server =
            WebSocket::from_raw_socket(io, Role::Server, Some(WebSocketConfig::default()));
        match server.read().unwrap() {
            Message::Pong(p) => assert_eq!(&p[..], b"ping data"),
            other => panic!("expected a pong, got {other:?}"),
        }
        match server.read().unwrap() {
            Message::Close(Some(c)) => assert_eq!(u16::from(c.code), 1001),
            other => panic!("expected a close, got {other:?}"),
        }
    }

    #[test]
    fn tungstenite_server_parses_our_frames() {
        let lens = [0usize, 1, 125, 126, 65535, 65536, 200_000];
        let mut wire = Vec::new();
        let mut buf = Vec::new();
        for (n, &len) in lens.iter().enumerate() {
            let key = [n as u8, 0x5A, 0xFF, 0x01];
            let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8 ^ n as u8).collect();
            write_client_frame(&mut buf, key, len, |o| o.put(&payload)).unwrap();
            wire.extend_from_slice(&buf);
        }
        let io = Duplex {
            input: Cursor::new(wire),
            output: Vec::new(),
        };
        let mut server =
            WebSocket::from_raw_socket(io, Role::Server, Some(WebSocketConfig::default()));
        for (n, &len) in lens.iter().enumerate() {
            let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8 ^ n as u8).collect();
            match server.read().unwrap() {
                Message::Binary(b) => assert_eq!(&b[..], &payload[..], "len {len}"),
                other => panic!("expected binary, got {other:?}"),
            }
        }
        // Nothing left over: the next read would block.
        match server.read() {
            Err(tungstenite::Error::Io(e)) => assert_eq!(e.kind(), io::ErrorKind::WouldBlock),
            other => panic!("expected WouldBlock, got {other:?}"),
        }
    }
}
