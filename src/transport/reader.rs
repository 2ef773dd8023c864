//! The client's WebSocket frame reader: server frames read into one reused
//! buffer, reassembled into messages, and handed out as views of that
//! buffer.
//!
//! The buffer keeps its high-water length: bytes are read into memory that
//! is already initialised, so a read costs no zeroing pass, and it grows
//! (the only time it is zeroed) when a frame does not fit. A message sent
//! as one frame is handed out in place ([`FrameReader::payload`]); only a
//! fragmented one is copied, into a second reused buffer, as its frames
//! arrive.
//!
//! The reader is resumable: a read that times out (or would block) leaves
//! what was read in the buffer, and the next call goes on from there.
//! Control frames are returned to the caller (pings, to be answered;
//! closes), pongs are skipped.

use std::io;

use super::frame::{
    FrameError, MAX_SERVER_HEADER_LEN, OP_BINARY, OP_CLOSE, OP_CONTINUATION, OP_PING, OP_PONG,
    OP_TEXT, parse_close_payload, parse_server_header,
};

/// Bytes asked of the stream per read beyond the frame being read, so that
/// small frames arrive several per read while a large frame overshoots
/// into the next one by at most this much (the part moved to the front
/// once the frame is consumed).
const READ_AHEAD: usize = 64 * 1024;

/// A byte stream the reader can tell how many bytes it is waiting for.
pub(crate) trait Source {
    /// Reads into `buf` like [`std::io::Read::read`], knowing that `sure` bytes
    /// (at least 1: the rest of the frame being read) are sure to come: a
    /// stream may wait for them before it returns, rather than waking for
    /// each piece.
    fn read_expecting(&mut self, buf: &mut [u8], sure: usize) -> io::Result<usize>;
}

/// A close frame's code and reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CloseFrame {
    /// The status code (e.g. 1009, message too big).
    pub(crate) code: u16,
    /// The reason text (may be empty).
    pub(crate) reason: String,
}

/// What [`FrameReader::next`] found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Incoming {
    /// A whole binary message: [`FrameReader::payload`].
    Binary,
    /// A whole text message of this many bytes (QWP never sends one).
    Text(usize),
    /// A ping: its payload is [`FrameReader::payload`].
    Ping,
    /// A close frame (`None`: without a code).
    Close(Option<CloseFrame>),
}

/// Why [`FrameReader::next`] failed.
#[derive(Debug)]
pub(crate) enum RecvError {
    /// The stream failed, timed out or would block (then nothing is lost:
    /// call again).
    Io(io::Error),
    /// The stream ended without a close frame.
    Eof,
    /// The frames break RFC 6455.
    Frame(FrameError),
    /// A message (or one frame) is over the size limit.
    TooLong {
        /// Bytes of the message so far, this frame included.
        size: u64,
        /// The limit.
        max: usize,
    },
}

impl From<FrameError> for RecvError {
    fn from(e: FrameError) -> Self {
        RecvError::Frame(e)
    }
}

/// Where the last message's payload is.
#[derive(Debug, Clone, Copy)]
enum Last {
    /// In the read buffer at this range (a single-frame message, a ping).
    InPlace(usize, usize),
    /// In the reassembly buffer.
    Assembled,
}

/// Reads server frames from a byte stream; see the module docs.
#[derive(Debug)]
pub(crate) struct FrameReader {
    /// Read buffer; its whole length is initialised, `start..end` holds
    /// bytes read and not yet consumed.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// The fragmented message being reassembled.
    assembled: Vec<u8>,
    /// The opcode of that message, while one is unfinished.
    fragmented: Option<u8>,
    last: Last,
    /// Largest message (and frame) accepted, in bytes.
    max: usize,
}

impl FrameReader {
    /// A reader whose first bytes are `already_read` (what the upgrade's
    /// response was followed by), refusing messages over `max` bytes.
    pub(crate) fn new(already_read: Vec<u8>, max: usize) -> Self {
        let end = already_read.len();
        FrameReader {
            buf: already_read,
            start: 0,
            end,
            assembled: Vec::new(),
            fragmented: None,
            last: Last::InPlace(0, 0),
            max,
        }
    }

    /// Bytes read from the stream and not consumed yet.
    pub(crate) fn buffered(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// The payload of the message (or ping) the last [`FrameReader::next`]
    /// returned; valid until the next call.
    pub(crate) fn payload(&self) -> &[u8] {
        match self.last {
            Last::InPlace(a, b) => &self.buf[a..b],
            Last::Assembled => &self.assembled,
        }
    }

    /// Reads until a whole message, a ping or a close frame is in; pongs
    /// are skipped. A timeout (or `WouldBlock`) is returned as
    /// [`RecvError::Io`] with everything read so far kept.
    pub(crate) fn next(&mut self, src: &mut impl Source) -> Result<Incoming, RecvError> {
        self.last = Last::InPlace(0, 0);
        loop {
            let Some(h) = parse_server_header(self.buffered())? else {
                // A header's length is not known before its first bytes.
                self.fill(src, MAX_SERVER_HEADER_LEN, 1)?;
                continue;
            };
            let data = !h.is_control();
            let before = if data && h.opcode == OP_CONTINUATION {
                self.assembled.len() as u64
            } else {
                0
            };
            if before.saturating_add(h.payload_len) > self.max as u64 {
                return Err(RecvError::TooLong {
                    size: before.saturating_add(h.payload_len),
                    max: self.max,
                });
            }
            // Within `max`, so it fits a usize.
            let frame_len = h.header_len + h.payload_len as usize;
            while self.end - self.start < frame_len {
                let missing = frame_len - (self.end - self.start);
                self.fill(src, frame_len, missing)?;
            }
            let (a, b) = (self.start + h.header_len, self.start + frame_len);
            self.start = b;
            match h.opcode {
                OP_PING => {
                    self.last = Last::InPlace(a, b);
                    return Ok(Incoming::Ping);
                }
                OP_PONG => {}
                OP_CLOSE => {
                    let close =
                        parse_close_payload(&self.buf[a..b])?.map(|(code, reason)| CloseFrame {
                            code,
                            reason: reason.to_string(),
                        });
                    return Ok(Incoming::Close(close));
                }
                OP_CONTINUATION => {
                    let Some(op) = self.fragmented else {
                        return Err(FrameError::UnexpectedContinuation.into());
                    };
                    self.assembled.extend_from_slice(&self.buf[a..b]);
                    if h.fin {
                        self.fragmented = None;
                        self.last = Last::Assembled;
                        return Ok(message(op, self.assembled.len()));
                    }
                }
                op => {
                    debug_assert!(op == OP_TEXT || op == OP_BINARY);
                    if self.fragmented.is_some() {
                        return Err(FrameError::UnfinishedFragments.into());
                    }
                    if h.fin {
                        self.last = Last::InPlace(a, b);
                        return Ok(message(op, b - a));
                    }
                    self.fragmented = Some(op);
                    self.assembled.clear();
                    self.assembled.extend_from_slice(&self.buf[a..b]);
                }
            }
        }
    }

    /// One read from `src`, with room for a frame of `frame_len` bytes
    /// from `start` on: the unconsumed bytes move to the front when the
    /// frame would not fit behind them, and the buffer grows (zeroing only
    /// the new part) when it would not fit at all. `sure` bytes are sure
    /// to come (the rest of the frame; see [`Source::read_expecting`]).
    fn fill(
        &mut self,
        src: &mut impl Source,
        frame_len: usize,
        sure: usize,
    ) -> Result<(), RecvError> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        if self.start + frame_len > self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if frame_len > self.buf.len() {
                self.buf.resize(frame_len + READ_AHEAD, 0);
            }
        }
        let upto =
            (self.start + frame_len.max(self.end - self.start) + READ_AHEAD).min(self.buf.len());
        match src.read_expecting(&mut self.buf[self.end..upto], sure) {
            Ok(0) => Err(RecvError::Eof),
            Ok(n) => {
                self.end += n;
                Ok(())
            }
            Err(e) => Err(RecvError::Io(e)),
        }
    }
}

fn message(opcode: u8, len: usize) -> Incoming {
    if opcode == OP_TEXT {
        Incoming::Text(len)
    } else {
        Incoming::Binary
    }
}

#[cfg(test)]
#[path = "reader_tests.rs"]
mod tests;
