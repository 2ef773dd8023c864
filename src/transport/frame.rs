//! Client-side WebSocket data frames, masked in one pass.
//!
//! RFC 6455 requires every client-to-server frame to be masked with a 4-byte
//! key. Instead of encoding a payload and then XOR-ing it in a second pass,
//! the payload is written through [`Out::masked`], which masks while it
//! copies: the bytes are touched exactly once on their way into the send
//! buffer.

use std::io::{self, Write};

use crate::error::{Error, Result};
use crate::protocol::Out;
use crate::protocol::wire::mask_copy;

/// First header byte of every frame written here: FIN + binary opcode.
pub const FIN_BINARY: u8 = 0x82;
/// The mask bit of the second header byte.
const MASK_BIT: u8 = 0x80;
/// Longest client frame header: 2 + 8 (64-bit length) + 4 (mask key).
pub const MAX_CLIENT_HEADER_LEN: usize = 14;

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
    let at = match payload_len {
        0..=125 => {
            dst[1] = MASK_BIT | payload_len as u8;
            2
        }
        126..=0xFFFF => {
            dst[1] = MASK_BIT | 126;
            dst[2..4].copy_from_slice(&(payload_len as u16).to_be_bytes());
            4
        }
        _ => {
            dst[1] = MASK_BIT | 127;
            dst[2..10].copy_from_slice(&(payload_len as u64).to_be_bytes());
            10
        }
    };
    dst[at..at + 4].copy_from_slice(&key);
    at + 4
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
    if scratch.len() < MAX_CLIENT_HEADER_LEN + SEND_CHUNK {
        scratch.resize(MAX_CLIENT_HEADER_LEN + SEND_CHUNK, 0);
    }
    // The header goes out with the first chunk.
    let mut at = put_header(scratch, key, payload.len());
    // Every chunk but the last is a multiple of 4 bytes long, so each
    // chunk starts at key phase 0.
    for chunk in payload.chunks(SEND_CHUNK) {
        mask_copy(&mut scratch[at..at + chunk.len()], chunk, key);
        w.write_all(&scratch[..at + chunk.len()])?;
        at = 0;
    }
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
