//! [`SfCursor`]: reading a queue's frames in FSN order, as the runner
//! sends them.

use std::time::Duration;

use super::{SfQueue, SharedFrame};
use crate::error::Result;

/// Reads a queue's frames in FSN order from a position; see
/// [`SfQueue::unacked`]. Skips frames acknowledged meanwhile.
#[derive(Debug)]
pub struct SfCursor<'a> {
    queue: &'a SfQueue,
    next: u64,
}

impl<'a> SfCursor<'a> {
    /// A cursor on `queue` at FSN `next`.
    pub(super) fn new(queue: &'a SfQueue, next: u64) -> SfCursor<'a> {
        SfCursor { queue, next }
    }

    /// The FSN the next read returns (if it exists and is not
    /// acknowledged by then).
    pub fn position(&self) -> u64 {
        self.next
    }

    /// Goes back to the oldest unacknowledged frame (after a reconnect).
    pub fn rewind(&mut self) -> Result<()> {
        self.next = self.queue.acked_fsn()? + 1;
        Ok(())
    }

    /// Copies the next frame into `buf` and returns its FSN; `None` when
    /// every frame appended so far has been read. Does not block.
    pub fn next_frame(&mut self, buf: &mut Vec<u8>) -> Result<Option<u64>> {
        let Some((fsn, f)) = self.next_shared()? else {
            return Ok(None);
        };
        buf.clear();
        buf.extend_from_slice(&f);
        self.queue.recycle(f);
        Ok(Some(fsn))
    }

    /// The next frame and its FSN, shared rather than copied (hand it to
    /// [`SfQueue::recycle`] once sent); `None` when every frame appended
    /// so far has been read. Does not block.
    pub fn next_shared(&mut self) -> Result<Option<(u64, SharedFrame)>> {
        loop {
            let acked = self.queue.acked_fsn()?;
            self.next = self.next.max(acked + 1);
            let fsn = self.next;
            if let Some(f) = self.queue.frame(fsn, true)? {
                self.next += 1;
                return Ok(Some((fsn, f)));
            }
            // Not appended yet, or acknowledged between the two calls.
            if self.queue.acked_fsn()? < fsn {
                return Ok(None);
            }
        }
    }

    /// Like [`SfCursor::next_frame`], but waits up to `timeout` (`None`:
    /// without limit) for the next frame to be appended; `None` on timeout
    /// or when the queue is closed with nothing more to read.
    pub fn wait_frame(
        &mut self,
        buf: &mut Vec<u8>,
        timeout: Option<Duration>,
    ) -> Result<Option<u64>> {
        if let Some(fsn) = self.next_frame(buf)? {
            return Ok(Some(fsn));
        }
        if self.queue.wait_appended(self.next, timeout)? {
            return self.next_frame(buf);
        }
        Ok(None)
    }
}

impl Iterator for SfCursor<'_> {
    type Item = Result<(u64, Vec<u8>)>;

    /// The next frame and its FSN, without blocking.
    fn next(&mut self) -> Option<Self::Item> {
        self.next_shared()
            .map(|f| f.map(|(fsn, f)| (fsn, SharedFrame::unwrap_or_clone(f))))
            .transpose()
    }
}
