//! Frames held in memory: the store of a queue without `sf_dir` (every
//! unacknowledged frame, lost when the process ends) and, in disk mode,
//! the cache of the frames written but not read yet, so the runner sends
//! them without reading them back. Frames are shared ([`SharedFrame`]),
//! never copied: the producer's buffer is what is stored and sent, and
//! buffers nobody holds any more go back to a [`Spare`] pool for the next
//! frames.

use std::collections::VecDeque;
use std::sync::Arc;

/// One queued frame, shared between the queue and the thread sending it.
pub type SharedFrame = Arc<Vec<u8>>;

/// Frames `first`, `first + 1`, ... not yet released.
#[derive(Debug)]
pub(super) struct MemStore {
    /// FSN of `frames[0]`.
    first: u64,
    frames: VecDeque<SharedFrame>,
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

    /// Keeps `payload` as frame `fsn`. The frames held are contiguous: a
    /// gap (frames not kept, as when a cache dropped some) empties the
    /// store first.
    pub(super) fn append(&mut self, fsn: u64, payload: SharedFrame, spare: &mut Spare) {
        if fsn != self.first + self.frames.len() as u64 {
            self.release(u64::MAX, spare);
            self.first = fsn;
        }
        self.bytes += payload.len() as u64;
        self.frames.push_back(payload);
    }

    /// The frame `fsn`, if held.
    pub(super) fn get(&self, fsn: u64) -> Option<&SharedFrame> {
        let i = usize::try_from(fsn.checked_sub(self.first)?).ok()?;
        self.frames.get(i)
    }

    /// Payload bytes of the frames `from..=to` that are held.
    pub(super) fn payload_bytes(&self, from: u64, to: u64) -> u64 {
        (from.max(self.first)..=to)
            .map_while(|f| self.get(f))
            .map(|p| p.len() as u64)
            .sum()
    }

    /// Drops every frame up to and including `upto`; their buffers go to
    /// `spare` when nobody else holds them.
    pub(super) fn release(&mut self, upto: u64, spare: &mut Spare) {
        while self.first <= upto {
            let Some(f) = self.frames.pop_front() else {
                self.first = self.first.max(upto.saturating_add(1));
                break;
            };
            self.bytes -= f.len() as u64;
            self.first += 1;
            spare.put(f);
        }
    }

    /// Drops the oldest frames while more than `cap` bytes are held (the
    /// newest frame always stays).
    pub(super) fn shrink_to(&mut self, cap: u64, spare: &mut Spare) {
        while self.bytes > cap && self.frames.len() > 1 {
            self.release(self.first, spare);
        }
    }
}

/// Frame buffers to reuse, so that steady publishing neither allocates
/// nor faults in fresh pages for every frame.
#[derive(Debug, Default)]
pub(super) struct Spare {
    bufs: Vec<Vec<u8>>,
    /// Sum of the buffers' lengths.
    bytes: usize,
}

/// Buffers [`Spare`] keeps in any case: enough for a window of frames in
/// flight and a transaction being built.
const SPARE_BUFFERS: usize = 16;

/// Bytes of buffers [`Spare`] keeps beyond [`SPARE_BUFFERS`]: a memory
/// queue's producer runs ahead of the acknowledgements by many frames,
/// whose buffers all come back at once; kept, the next burst allocates
/// none.
const SPARE_BYTES: usize = 64 << 20;

/// Buffers [`Spare`] keeps at the most, whatever their size: [`Spare::take`]
/// looks at each, so small frames must not pile up by the thousand.
const SPARE_MAX_BUFFERS: usize = 256;

impl Spare {
    /// Keeps the buffer of `frame` if nobody else holds it and the pool
    /// is not full: it keeps [`SPARE_BUFFERS`] buffers of any size, more
    /// while they add up to at most [`SPARE_BYTES`], and never more than
    /// [`SPARE_MAX_BUFFERS`].
    pub(super) fn put(&mut self, frame: SharedFrame) {
        let n = self.bufs.len();
        let room =
            n < SPARE_BUFFERS || (n < SPARE_MAX_BUFFERS && self.bytes + frame.len() <= SPARE_BYTES);
        if room && let Ok(buf) = Arc::try_unwrap(frame) {
            self.bytes += buf.len();
            self.bufs.push(buf);
        }
    }

    /// A buffer to reuse for `len` bytes (its contents are stale), if
    /// any: the shortest at least `len` long, else the longest, so that
    /// growing it to `len` zeroes as few bytes as can be.
    pub(super) fn take(&mut self, len: usize) -> Option<Vec<u8>> {
        let b = &self.bufs;
        let fits = (0..b.len())
            .filter(|&i| b[i].len() >= len)
            .min_by_key(|&i| b[i].len());
        let i = fits.or_else(|| (0..b.len()).max_by_key(|&i| b[i].len()))?;
        let buf = self.bufs.swap_remove(i);
        self.bytes -= buf.len();
        Some(buf)
    }
}
