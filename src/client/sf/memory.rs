//! The in-memory store of a store-and-forward queue (no `sf_dir`): the
//! unacknowledged frames in a deque, lost when the process ends.

use std::collections::VecDeque;

/// Frames `first`, `first + 1`, ... not yet released.
#[derive(Debug)]
pub(super) struct MemStore {
    /// FSN of `frames[0]`.
    first: u64,
    frames: VecDeque<Vec<u8>>,
    /// Sum of the payload lengths in `frames`.
    bytes: u64,
}

impl MemStore {
    /// An empty store whose first frame will be FSN `first`.
    pub(super) fn new(first: u64) -> MemStore {
        MemStore {
            first,
            frames: VecDeque::new(),
            bytes: 0,
        }
    }

    /// Bytes counted against `sf_max_total_bytes`: the payloads held.
    pub(super) fn used_bytes(&self) -> u64 {
        self.bytes
    }

    /// Bytes appending a `len`-byte frame adds to [`MemStore::used_bytes`].
    pub(super) fn cost(len: u64) -> u64 {
        len
    }

    /// Keeps a copy of `payload` as the next frame.
    pub(super) fn append(&mut self, payload: &[u8]) {
        self.bytes += payload.len() as u64;
        self.frames.push_back(payload.to_vec());
    }

    /// The frame `fsn`, if held.
    pub(super) fn get(&self, fsn: u64) -> Option<&[u8]> {
        let i = usize::try_from(fsn.checked_sub(self.first)?).ok()?;
        self.frames.get(i).map(Vec::as_slice)
    }

    /// Payload bytes of the frames `from..=to` that are held.
    pub(super) fn payload_bytes(&self, from: u64, to: u64) -> u64 {
        (from.max(self.first)..=to)
            .map_while(|f| self.get(f))
            .map(|p| p.len() as u64)
            .sum()
    }

    /// Drops every frame up to and including `acked`.
    pub(super) fn release(&mut self, acked: u64) {
        while self.first <= acked {
            let Some(f) = self.frames.pop_front() else {
                self.first = acked + 1;
                break;
            };
            self.bytes -= f.len() as u64;
            self.first += 1;
        }
    }
}
