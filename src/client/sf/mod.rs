//! The store-and-forward queue: frames (opaque bytes here; the
//! [`AsyncSender`](crate::client::AsyncSender) queues whole masked
//! WebSocket frames, each carrying one QWP message) waiting for the
//! server's acknowledgement, in memory or on disk, so they can be sent
//! again after a reconnect or a restart.
//!
//! This module is storage only; it does no networking. One producer (the
//! user's thread) [`SfQueue::append`]s frames while one consumer (a runner
//! thread that sends them) reads them through an [`SfCursor`] and
//! [`SfQueue::ack`]s what the server confirmed. Both may work at the same
//! time: the queue is a `Mutex` and a `Condvar`, shared as
//! `Arc<SfQueue>`.
//!
//! # Frame sequence numbers
//!
//! Every frame gets an FSN: 1 for the first frame a slot ever held, then
//! one more per frame, across segments and restarts. [`SfQueue::acked_fsn`]
//! is the highest acknowledged FSN (0: none); the unacknowledged frames are
//! `acked_fsn() + 1 .. next_fsn()`.
//!
//! # Memory mode
//!
//! Without a directory ([`SfOptions::dir`] `None`) frames are kept in
//! memory (the appended buffers themselves with
//! [`SfQueue::append_owned`]), freed as soon as they are acknowledged. `max_total_bytes`
//! (`sf_max_total_bytes`, 128 MiB by default in this mode) bounds the
//! payload bytes held. Everything is lost when the process ends.
//!
//! # Disk mode
//!
//! With `sf_dir`, the queue lives in the slot `<sf_dir>/<sender_id>/`:
//!
//! - `.lock` is locked (`flock`) while a queue has the slot open, so two
//!   senders (in one process or two) never share a slot: the second open
//!   fails with an [`ErrorKind::Config`] error naming `sender_id` and the
//!   slot. The lock goes with the process, so a crashed sender's slot is
//!   free at once; [`orphan_slots`] lists such slots that still hold
//!   frames (what `drain_orphans=on` drains).
//! - `seg-<first FSN, 20 digits>.sfa` are the segment files. A segment is
//!   a 16-byte header (`QASF0001` + the FSN of its first record) and then
//!   records, each `u32 LE payload length | u32 LE CRC-32 of (length ++
//!   FSN ++ payload) | u64 LE FSN | payload`. A new segment starts when
//!   the next record would take the active one past `max_segment_bytes`
//!   (`sf_max_segment_bytes`, 64 MiB by default, at most half of
//!   `max_total_bytes`: [`SfOptions::segment_bytes`]; a bigger frame gets
//!   a segment of its own), and on the first append after an open
//!   (segments found on open are never appended to). See [`segment`].
//! - `ack` holds the acknowledged FSN (`QASFACK1` + `u64 LE` + CRC-32 of
//!   the FSN bytes), rewritten in place on every [`SfQueue::ack`] (a
//!   torn write fails the CRC and only replays more), after which the
//!   segments whose frames are all acknowledged go: up
//!   to two are kept as spares (`spare-0`, `spare-1`), each rewritten as
//!   a next segment (old bytes after its records, past an end mark, are
//!   never read; see [`segment`]), the others are deleted. On open the
//!   acknowledged FSN is also at least the first remaining segment's
//!   first FSN minus one, so a lost or corrupt `ack` file only replays
//!   more; a segment missing above the recorded FSN is a warning in
//!   [`Recovered::warnings`].
//! - `max_total_bytes` (`sf_max_total_bytes`, 10 GiB by default) bounds the
//!   bytes of the segment files, the spares and a recycled segment's old
//!   bytes included (spares are deleted when an append finds no room).
//!   Space comes back a whole segment at a time, hence segments of at
//!   most half of it.
//! - A recycled segment file is written by copying into a kept shared
//!   mapping of it rather than with `pwrite`s (in the page cache at
//!   once either way; with [`SfDurability::Memory`] only), which makes
//!   its cached pages part of the process's resident memory.
//! - [`SfDurability::Memory`] never `fsync`s: a process crash loses
//!   nothing (the data is in the page cache) but a power loss may.
//!   [`SfDurability::Periodic`] `fsync`s the active segment and the slot
//!   directory from `append` once `sync_interval`
//!   (`sf_sync_interval_millis`) has passed since the last time, on every
//!   segment rotation, and on [`SfQueue::sync`] / [`SfQueue::close`],
//!   each time without holding the queue's lock (the consumer sends and
//!   acknowledges meanwhile; the call returns once the `fsync` is done).
//! - The newest frames written and not read yet (up to 64 MiB) are also
//!   kept in memory, so the consumer sends them without reading them
//!   back; a replay, and frames the consumer fell behind on, are read
//!   from the segments (their checksums checked again).
//!
//! # Recovery
//!
//! [`SfQueue::open`] scans the slot's segments in FSN order and returns,
//! with the queue, a [`Recovered`]: how many unacknowledged frames and
//! bytes there are and whether the queue was cut. The scan stops at the
//! first record that is torn (shorter than its header or its length
//! says), fails its CRC-32, or whose FSN breaks the sequence, and at a
//! segment whose header or name does not follow on. The queue is
//! truncated there: the bad bytes (the segment's tail, every later
//! segment) are moved aside to `*.corrupt` files, every record before
//! them is kept, and [`Recovered::truncated`] says where and why so the
//! caller can log it. Never a panic, never a silent drop.
//!
//! # At-least-once
//!
//! After a reconnect the consumer replays from the oldest unacknowledged
//! frame ([`SfCursor::rewind`]); after a restart (or a crash) the next
//! queue on the same slot replays every frame not acknowledged. A frame
//! the server took but whose acknowledgement was lost is sent again, so
//! delivery is **at-least-once**: declare `DEDUP UPSERT KEYS(...)` on
//! tables ingested this way so that a replay writes no duplicate rows.
//!
//! # Backpressure
//!
//! When a frame does not fit under `max_total_bytes`, `append` blocks,
//! woken by every acknowledgement, for up to `append_deadline`
//! (`sf_append_deadline_millis`), then fails with [`ErrorKind::Timeout`]
//! naming both keys. The frame is not queued and nothing already queued
//! is lost. A frame that could never fit fails at once
//! ([`ErrorKind::Config`], naming `sf_max_total_bytes`).

#[cfg(test)]
mod ack_tests;
mod cursor;
pub mod dict;
mod disk;
mod memory;
mod options;
#[cfg(test)]
mod recycle_tests;
pub mod segment;
#[cfg(test)]
mod shared_tests;
mod slot;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub use crate::conf::SfDurability;
use crate::error::{Error, ErrorKind, Result};
pub use cursor::SfCursor;
use disk::DiskStore;
pub use memory::SharedFrame;
use memory::{MemStore, Spare};
pub use options::SfOptions;
pub use slot::{check_sender_id, orphan_slots};

/// What [`SfQueue::open`] found in a disk slot (all zero in memory mode).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Unacknowledged frames found, to replay.
    pub frames: u64,
    /// Their payload bytes.
    pub bytes: u64,
    /// Where and why the queue was cut (a torn or corrupt record, a
    /// segment out of sequence), naming the `*.corrupt` files that keep
    /// the bad bytes. `None` when every segment was read to its end.
    pub truncated: Option<String>,
    /// Everything worth logging, `truncated` included (an unreadable
    /// acknowledgement file is only a warning: more frames replay).
    pub warnings: Vec<String>,
}

#[derive(Debug)]
enum Store {
    Memory(MemStore),
    Disk(DiskStore),
}

#[derive(Debug)]
struct State {
    store: Store,
    next: u64,
    acked: u64,
    /// Payload bytes of the unacknowledged frames.
    pending_bytes: u64,
    closed: bool,
    /// The symbol dictionary the frames' ids refer to (see [`dict`]).
    dict: Vec<String>,
    /// Its file in disk mode.
    dict_log: Option<dict::DictLog>,
    /// Appends that had to wait for room.
    stalls: u64,
    /// Frame buffers nobody holds any more, for [`SfQueue::spare_buffer`].
    spare: Spare,
    /// An append is writing its frames to disk with the lock released
    /// between them: other appends wait for its end, so that the frames
    /// of two transactions never interleave.
    appending: bool,
}

impl State {
    fn used(&self) -> u64 {
        match &self.store {
            Store::Memory(m) => m.used_bytes(),
            Store::Disk(d) => d.used_bytes(),
        }
    }

    fn cost(&self, len: u64) -> u64 {
        match &self.store {
            Store::Memory(_) => MemStore::cost(len),
            Store::Disk(d) => d.cost(len),
        }
    }
}

/// A store-and-forward queue of frames; see the [module docs](self).
#[derive(Debug)]
pub struct SfQueue {
    state: Mutex<State>,
    /// Notified on every append, acknowledgement and close.
    changed: Condvar,
    opts: SfOptions,
}

/// "1 frame" / "a transaction of n frames", for messages.
fn frames_of(n: usize) -> String {
    if n == 1 {
        "a frame".to_string()
    } else {
        format!("a transaction of {n} frames")
    }
}

fn not_disk() -> Error {
    Error::new(
        ErrorKind::Internal,
        "store-and-forward: a disk append on a memory queue",
    )
}

fn poisoned() -> Error {
    Error::new(
        ErrorKind::Internal,
        "store-and-forward queue: a thread panicked while holding its lock",
    )
}

impl SfQueue {
    /// Opens a queue: in memory, or the disk slot `<dir>/<sender_id>/`
    /// (created if needed, locked, recovered). Errors: a bad option
    /// ([`ErrorKind::Config`] naming the key), a slot in use by another
    /// queue ([`ErrorKind::Config`] naming `sender_id` and the slot), a
    /// file that cannot be read or written ([`ErrorKind::Io`]).
    pub fn open(opts: SfOptions) -> Result<(SfQueue, Recovered)> {
        opts.check()?;
        let (store, next, acked, mut rec) = match &opts.dir {
            None => (Store::Memory(MemStore::new(1)), 1, 0, Recovered::default()),
            Some(dir) => {
                let lock = slot::SlotLock::acquire(dir, &opts.sender_id)?;
                let (d, next, acked, rec) = DiskStore::open(
                    lock,
                    opts.segment_bytes(),
                    opts.durability,
                    opts.sync_interval,
                )?;
                (Store::Disk(d), next, acked, rec)
            }
        };
        let (dict_log, dict) = match &store {
            Store::Memory(_) => (None, Vec::new()),
            Store::Disk(d) => {
                let (log, entries, warning) = dict::DictLog::open(d.dir())?;
                rec.warnings.extend(warning);
                (Some(log), entries)
            }
        };
        let state = State {
            store,
            next,
            acked,
            pending_bytes: rec.bytes,
            closed: false,
            dict,
            dict_log,
            stalls: 0,
            spare: Spare::default(),
            appending: false,
        };
        let q = SfQueue {
            state: Mutex::new(state),
            changed: Condvar::new(),
            opts,
        };
        Ok((q, rec))
    }

    fn lock(&self) -> Result<MutexGuard<'_, State>> {
        self.state.lock().map_err(|_| poisoned())
    }

    /// Waits on the condvar until `deadline` (`None`: no limit); `false`
    /// when it passed.
    fn wait<'a>(
        &self,
        g: MutexGuard<'a, State>,
        deadline: Option<Instant>,
    ) -> Result<(MutexGuard<'a, State>, bool)> {
        match deadline {
            None => Ok((self.changed.wait(g).map_err(|_| poisoned())?, true)),
            Some(d) => {
                let now = Instant::now();
                if now >= d {
                    return Ok((g, false));
                }
                let (g, _) = self
                    .changed
                    .wait_timeout(g, d - now)
                    .map_err(|_| poisoned())?;
                Ok((g, true))
            }
        }
    }

    /// The options the queue was opened with.
    pub fn options(&self) -> &SfOptions {
        &self.opts
    }

    /// The slot directory in disk mode.
    pub fn slot_dir(&self) -> Option<PathBuf> {
        self.opts.dir.as_ref().map(|d| d.join(&self.opts.sender_id))
    }

    /// Queues `frame` and returns its FSN. Blocks while the queue is full,
    /// up to `append_deadline`; see the [module docs](self#backpressure)
    /// for the errors. After [`SfQueue::close`]: [`ErrorKind::Closed`].
    /// A failed write leaves nothing of the frame behind; a failed
    /// periodic `fsync` after the write is an [`ErrorKind::Io`] error
    /// saying that the frame is queued anyway (do not append it again).
    pub fn append(&self, frame: &[u8]) -> Result<u64> {
        self.append_group(&[frame], &[])
    }

    /// Queues the frames of one transaction (`frames`, in order) with the
    /// symbol dictionary entries they introduce, and returns the FSN of
    /// the last frame. `dict` is the sender's whole dictionary so far: the
    /// entries beyond those the queue holds are stored first (in disk mode
    /// written, and with `sf_durability=periodic` `fsync`ed, before any of
    /// the frames), so a queued frame never lacks its strings. Waits, as
    /// [`SfQueue::append`] does, until there is room for **all** the
    /// frames, so a full queue never splits a transaction; errors as there.
    /// A write error part-way leaves the first frames queued without their
    /// commit: the caller must stop using the queue (a reopen drops such a
    /// tail, see [`SfQueue::open`] and `committed_end`).
    pub fn append_group(&self, frames: &[&[u8]], dict: &[String]) -> Result<u64> {
        self.append_owned(frames.iter().map(|f| f.to_vec()).collect(), dict)
    }

    /// [`SfQueue::append_group`] taking the frames' buffers instead of
    /// copying them: in memory mode they are what the queue holds and
    /// the runner sends (take them from [`SfQueue::spare_buffer`] to
    /// reuse the buffers of acknowledged frames).
    pub fn append_owned(&self, frames: Vec<Vec<u8>>, dict: &[String]) -> Result<u64> {
        let max = self.opts.max_total_bytes;
        let disk = self.opts.dir.is_some();
        let mut worst = 0u64;
        let mut bytes = 0u64;
        for f in &frames {
            let len = f.len() as u64;
            if len > segment::MAX_RECORD_PAYLOAD {
                worst = u64::MAX;
            }
            bytes += len;
            worst = worst.saturating_add(if disk {
                DiskStore::max_cost(len)
            } else {
                MemStore::cost(len)
            });
        }
        if worst > max {
            return Err(Error::config(
                "sf_max_total_bytes",
                &max.to_string(),
                format!(
                    "{} of {bytes} bytes can never fit in the store-and-forward queue; raise sf_max_total_bytes or send smaller batches",
                    frames_of(frames.len())
                ),
            ));
        }
        let deadline = Instant::now() + self.opts.append_deadline;
        let mut g = self.lock()?;
        let mut stalled = false;
        loop {
            if g.closed {
                return Err(Error::new(
                    ErrorKind::Closed,
                    "store-and-forward queue is closed",
                ));
            }
            // One frame: its exact cost (it may fit the active segment).
            let need = match frames.as_slice() {
                [f] => g.cost(f.len() as u64),
                _ => worst,
            };
            if g.used() + need <= max {
                if !g.appending {
                    break;
                }
            } else if let Store::Disk(d) = &mut g.store
                && d.drop_spare()?
            {
                continue;
            } else if !stalled {
                stalled = true;
                g.stalls += 1;
            }
            let (g2, waited) = self.wait(g, Some(deadline))?;
            g = g2;
            if !waited {
                return Err(Error::new(
                    ErrorKind::Timeout,
                    format!(
                        "store-and-forward queue full: {} bytes used of sf_max_total_bytes={max} ({} frames unacknowledged) and no room for {} of {bytes} bytes within sf_append_deadline_millis={}; nothing of it was queued and nothing queued was lost (is the server reachable?)",
                        g.used(),
                        g.next - 1 - g.acked,
                        frames_of(frames.len()),
                        self.opts.append_deadline.as_millis()
                    ),
                ));
            }
        }
        if dict.len() > g.dict.len() {
            let new = &dict[g.dict.len()..];
            let sync = self.opts.durability == SfDurability::Periodic;
            if let Some(log) = &mut g.dict_log {
                log.append(new, sync)?;
            }
            g.dict.extend_from_slice(new);
        }
        let mut last = g.next - 1;
        let mut failed = None;
        let count = frames.len();
        g.appending = true;
        for f in frames {
            let fsn = g.next;
            let len = f.len() as u64;
            let res;
            (g, res) = if disk {
                self.write_disk_frame(g, fsn, f)?
            } else {
                let st = &mut *g;
                if let Store::Memory(m) = &mut st.store {
                    m.append(fsn, SharedFrame::new(f), &mut st.spare);
                }
                (g, Ok(()))
            };
            if let Err(e) = res {
                failed = Some(e);
                break;
            }
            g.next += 1;
            g.pending_bytes += len;
            last = fsn;
            if disk {
                // Sent while the next frame is written.
                self.changed.notify_all();
            }
        }
        g.appending = false;
        let due = match (&failed, &mut g.store) {
            (None, Store::Disk(d)) => d.sync_due(),
            _ => Ok(None),
        };
        drop(g);
        self.changed.notify_all();
        let synced = due.and_then(|job| self.run_sync(job));
        if let Some(e) = failed {
            if count == 1 {
                return Err(e);
            }
            return Err(e.context(format!(
                "store-and-forward: a transaction of {count} frames was cut at frame {} (the frames before it stay queued without their commit and are dropped when the slot is opened again)",
                last + 1
            )));
        }
        synced.map_err(|e| {
            e.context(format!(
                "frames up to {last} are queued (they will be sent), but the periodic fsync failed"
            ))
        })?;
        Ok(last)
    }

    /// Writes frame `fsn` to the disk store with the lock released during
    /// the write, so that the runner sends and acknowledges the frames
    /// before it meanwhile; returns the lock and the append's outcome.
    fn write_disk_frame<'a>(
        &'a self,
        mut g: MutexGuard<'a, State>,
        fsn: u64,
        frame: Vec<u8>,
    ) -> Result<(MutexGuard<'a, State>, Result<()>)> {
        let begun = match &mut g.store {
            Store::Disk(d) => d.begin_append(fsn, frame.len() as u64),
            Store::Memory(_) => Err(not_disk()),
        };
        let mut rec = match begun {
            Ok(rec) => rec,
            Err(e) => return Ok((g, Err(e))),
        };
        drop(g);
        rec.write(&frame);
        let mut g = self.lock()?;
        let st = &mut *g;
        let done = match &mut st.store {
            Store::Disk(d) => d.finish_append(rec, SharedFrame::new(frame), &mut st.spare),
            Store::Memory(_) => Err(not_disk()),
        };
        Ok((g, done))
    }

    /// The symbol dictionary the queued frames refer to, in id order: the
    /// entries given to [`SfQueue::append_group`] (and, in disk mode,
    /// found in the slot on open). A sender sends all of them before the
    /// first frame on every new connection.
    pub fn dictionary(&self) -> Result<Vec<String>> {
        Ok(self.lock()?.dict.clone())
    }

    /// How many appends had to wait for room (backpressure stalls).
    pub fn stalls(&self) -> Result<u64> {
        Ok(self.lock()?.stalls)
    }

    /// Acknowledges every frame up to and including `fsn`: frees them in
    /// memory, deletes (or keeps up to two to reuse) fully acknowledged
    /// segment files and records the FSN on disk, and wakes a blocked
    /// [`SfQueue::append`]. An FSN at or below [`SfQueue::acked_fsn`] is a no-op; one never appended is an
    /// [`ErrorKind::InvalidData`] error.
    pub fn ack(&self, fsn: u64) -> Result<()> {
        let mut g = self.lock()?;
        if fsn <= g.acked {
            return Ok(());
        }
        if fsn >= g.next {
            return Err(Error::new(
                ErrorKind::InvalidData,
                format!(
                    "store-and-forward: acknowledgement of FSN {fsn}, but the last frame queued is {}",
                    g.next - 1
                ),
            ));
        }
        let from = g.acked + 1;
        let freed = match &g.store {
            Store::Memory(m) => m.payload_bytes(from, fsn),
            Store::Disk(d) => d.payload_bytes(from, fsn),
        };
        g.acked = fsn;
        g.pending_bytes -= freed.min(g.pending_bytes);
        let st = &mut *g;
        let released = match &mut st.store {
            Store::Memory(m) => {
                m.release(fsn, &mut st.spare);
                Ok(None)
            }
            Store::Disk(d) => d.release(fsn, &mut st.spare).map(Some),
        };
        drop(g);
        self.changed.notify_all();
        // Acknowledged segments are deleted without the lock.
        released?.map_or(Ok(()), disk::Doomed::delete)
    }

    /// The FSN the next [`SfQueue::append`] returns.
    pub fn next_fsn(&self) -> Result<u64> {
        Ok(self.lock()?.next)
    }

    /// The highest acknowledged FSN (0: none yet).
    pub fn acked_fsn(&self) -> Result<u64> {
        Ok(self.lock()?.acked)
    }

    /// How many frames are not acknowledged.
    pub fn pending_frames(&self) -> Result<u64> {
        let g = self.lock()?;
        Ok(g.next - 1 - g.acked)
    }

    /// Payload bytes of the frames not acknowledged.
    pub fn pending_bytes(&self) -> Result<u64> {
        Ok(self.lock()?.pending_bytes)
    }

    /// The bytes counted against `max_total_bytes`: the payloads held in
    /// memory mode, the segment files and the spares in disk mode (which
    /// include acknowledged frames of a segment not yet fully
    /// acknowledged, a recycled file's old bytes, and the record and
    /// segment headers).
    pub fn used_bytes(&self) -> Result<u64> {
        Ok(self.lock()?.used())
    }

    /// Copies frame `fsn` into `buf`; `false` when it is acknowledged
    /// (freed) or not appended yet.
    pub fn read_frame(&self, fsn: u64, buf: &mut Vec<u8>) -> Result<bool> {
        let Some(f) = self.frame(fsn, false)? else {
            return Ok(false);
        };
        buf.clear();
        buf.extend_from_slice(&f);
        self.recycle(f);
        Ok(true)
    }

    /// Frame `fsn` without copying it in memory mode (nor, in disk mode,
    /// when it is still cached); `None` when it is acknowledged (freed)
    /// or not appended yet. With `consume` (the cursor reading in order)
    /// disk mode drops its cached frames up to `fsn`.
    pub(super) fn frame(&self, fsn: u64, consume: bool) -> Result<Option<SharedFrame>> {
        let mut g = self.lock()?;
        if fsn <= g.acked || fsn >= g.next {
            return Ok(None);
        }
        let st = &mut *g;
        let found = match &mut st.store {
            Store::Memory(m) => m.get(fsn).cloned(),
            Store::Disk(d) => d.frame(fsn, consume, &mut st.spare)?,
        };
        found.map(Some).ok_or_else(|| {
            Error::new(
                ErrorKind::Internal,
                format!("store-and-forward: unacknowledged frame {fsn} is missing from the store"),
            )
        })
    }

    /// A buffer of an acknowledged (or sent) frame to build the next frame
    /// of `len` bytes in, if one is free: its contents are stale, its
    /// length is the frame's it held (the one nearest above `len` is
    /// chosen, so resizing it to `len` rarely zeroes anything).
    pub fn spare_buffer(&self, len: usize) -> Result<Option<Vec<u8>>> {
        Ok(self.lock()?.spare.take(len))
    }

    /// Hands back a frame once sent: its buffer is reused when nobody
    /// else holds it.
    pub fn recycle(&self, frame: SharedFrame) {
        if SharedFrame::strong_count(&frame) == 1
            && let Ok(mut g) = self.lock()
        {
            g.spare.put(frame);
        }
    }

    /// A cursor at the oldest unacknowledged frame: the replay after a
    /// reconnect or restart.
    pub fn unacked(&self) -> Result<SfCursor<'_>> {
        Ok(SfCursor::new(self, self.acked_fsn()? + 1))
    }

    /// Blocks until frame `fsn` is appended (`true`), the queue is closed
    /// or `timeout` passes (`false`); `None` waits without limit.
    pub fn wait_appended(&self, fsn: u64, timeout: Option<Duration>) -> Result<bool> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut g = self.lock()?;
        while g.next <= fsn {
            if g.closed {
                return Ok(false);
            }
            let (g2, waited) = self.wait(g, deadline)?;
            g = g2;
            if !waited {
                return Ok(g.next > fsn);
            }
        }
        Ok(true)
    }

    /// Blocks until every frame up to `fsn` is acknowledged (`true`) or
    /// `timeout` passes (`false`); `None` waits without limit.
    pub fn wait_acked(&self, fsn: u64, timeout: Option<Duration>) -> Result<bool> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut g = self.lock()?;
        while g.acked < fsn {
            let (g2, waited) = self.wait(g, deadline)?;
            g = g2;
            if !waited {
                return Ok(g.acked >= fsn);
            }
        }
        Ok(true)
    }

    /// `fsync`s what was appended since the last time (disk mode; a no-op
    /// in memory mode).
    pub fn sync(&self) -> Result<()> {
        let job = match &mut self.lock()?.store {
            Store::Memory(_) => None,
            Store::Disk(d) => d.take_sync()?,
        };
        self.run_sync(job)
    }

    /// Runs an `fsync` taken from the disk store, without the lock; a
    /// failure leaves the store to sync again.
    fn run_sync(&self, job: Option<disk::SyncJob>) -> Result<()> {
        let Some(job) = job else {
            return Ok(());
        };
        job.run().inspect_err(|_| {
            if let Ok(mut g) = self.lock()
                && let Store::Disk(d) = &mut g.store
            {
                d.mark_dirty();
            }
        })
    }

    /// Refuses further appends ([`ErrorKind::Closed`]), wakes every waiter
    /// and `fsync`s with [`SfDurability::Periodic`]. Reading and
    /// acknowledging go on, so a runner can still drain the queue. The
    /// slot stays locked until the queue is dropped.
    pub fn close(&self) -> Result<()> {
        let mut g = self.lock()?;
        g.closed = true;
        let job = match &mut g.store {
            Store::Disk(d) if self.opts.durability == SfDurability::Periodic => d.take_sync(),
            _ => Ok(None),
        };
        drop(g);
        self.changed.notify_all();
        self.run_sync(job?)
    }

    /// Whether [`SfQueue::close`] was called.
    pub fn is_closed(&self) -> Result<bool> {
        Ok(self.lock()?.closed)
    }
}
