//! Who decompresses a zstd batch: the receiving thread, or the decoding
//! thread after it.
//!
//! Each zstd RESULT_BATCH is a zstd frame of its own, so either thread can
//! decompress it. When the receiving thread decompresses every batch it is
//! the slower stage as soon as decompressing costs more than decoding
//! (numeric results: a batch decompresses in about four times its decoding
//! time), and the decoding thread waits. So the receiving thread passes a
//! share `f` of the batches on compressed, for the decoding thread to
//! decompress, picked so that both stages take as long per frame:
//!
//! `read + (1 - f) * inflate = decode + f * inflate`, so
//! `f = (read + inflate - decode) / (2 * inflate)`, within `0..=1`,
//!
//! from running averages of the time the receiving thread spends per
//! frame reading (waiting for the network included) and decompressing,
//! and of the decoding thread's time per frame. A server slower than the
//! client makes `read` large: the decoding thread, idle otherwise, then
//! decompresses every batch. A decoding thread waiting for a frame gets
//! the next batch compressed whatever the averages say.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// What the decoding thread tells the receiving thread.
#[derive(Default)]
pub(super) struct DecodeLoad {
    /// Running average of its time per frame (decoding, not
    /// decompressing), in nanoseconds; 0 before the first.
    decode_ns: AtomicU64,
    /// It waits for the next frame.
    idle: AtomicBool,
}

impl DecodeLoad {
    /// Records the decoding of one frame (the decoding thread).
    pub(super) fn decoded(&self, took: Duration) {
        let was = self.decode_ns.load(Ordering::Relaxed);
        self.decode_ns
            .store(average(was, nanos(took)), Ordering::Relaxed);
    }

    /// Marks the decoding thread as waiting for a frame (or not).
    pub(super) fn set_idle(&self, idle: bool) {
        self.idle.store(idle, Ordering::Release);
    }
}

/// The receiving thread's side: its own running averages and the
/// fractional count of batches owed to the decoding thread.
#[derive(Default)]
pub(super) struct Balance {
    read_ns: u64,
    inflate_ns: u64,
    owed: f64,
}

impl Balance {
    /// Records the time spent reading one frame.
    pub(super) fn read(&mut self, took: Duration) {
        self.read_ns = average(self.read_ns, nanos(took));
    }

    /// Records the time spent decompressing one batch.
    pub(super) fn inflated(&mut self, took: Duration) {
        self.inflate_ns = average(self.inflate_ns, nanos(took));
    }

    /// Whether the next zstd batch goes to the decoding thread
    /// compressed.
    pub(super) fn pass_on(&mut self, load: &DecodeLoad) -> bool {
        if load.idle.load(Ordering::Acquire) {
            return true;
        }
        let decode = load.decode_ns.load(Ordering::Relaxed);
        let f = share(self.read_ns, self.inflate_ns, decode);
        self.owed += f;
        if self.owed >= 1.0 {
            self.owed -= 1.0;
            return true;
        }
        false
    }
}

/// The share of batches the decoding thread decompresses (see the module
/// docs); 0 until both stages have been measured.
pub(super) fn share(read_ns: u64, inflate_ns: u64, decode_ns: u64) -> f64 {
    if inflate_ns == 0 || decode_ns == 0 {
        return 0.0;
    }
    let (r, i, d) = (read_ns as f64, inflate_ns as f64, decode_ns as f64);
    ((r + i - d) / (2.0 * i)).clamp(0.0, 1.0)
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// A running average giving the newest sample a quarter of the weight;
/// the first sample as it is.
fn average(was: u64, now: u64) -> u64 {
    if was == 0 {
        now.max(1)
    } else {
        (was - was / 4).saturating_add(now / 4).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_share_evens_the_stages() {
        // Nothing measured yet: the receiving thread decompresses.
        assert_eq!(share(5, 0, 10), 0.0);
        assert_eq!(share(5, 45, 0), 0.0);
        // Decompressing (45) far dearer than decoding (10), reading 5:
        // both stages then take 5 + 0.56 * 45 = 10 + 0.44 * 45 per frame.
        let f = share(5, 45, 10);
        assert!((f - 40.0 / 90.0).abs() < 1e-9, "{f}");
        assert!(((5.0 + (1.0 - f) * 45.0) - (10.0 + f * 45.0)).abs() < 1e-9);
        // Decoding dearer than reading and decompressing: none passed on.
        assert_eq!(share(5, 10, 40), 0.0);
        // A slow server (reading takes long): all passed on.
        assert_eq!(share(1_000, 45, 10), 1.0);
    }

    #[test]
    fn batches_are_passed_on_in_the_share_and_always_to_an_idle_decoder() {
        let load = DecodeLoad::default();
        let mut b = Balance::default();
        // Before any measurement, nothing is passed on (unless idle).
        assert!(!b.pass_on(&load));
        load.set_idle(true);
        assert!(b.pass_on(&load));
        load.set_idle(false);
        for _ in 0..20 {
            b.read(Duration::from_nanos(5_000));
            b.inflated(Duration::from_nanos(45_000));
            load.decoded(Duration::from_nanos(10_000));
        }
        let passed = (0..900).filter(|_| b.pass_on(&load)).count();
        // 4/9 of them, give or take the averages' rounding.
        assert!((390..=410).contains(&passed), "{passed}");
    }

    #[test]
    fn averages_follow_the_samples() {
        assert_eq!(average(0, 100), 100);
        assert_eq!(average(100, 100), 100);
        assert_eq!(average(100, 500), 200);
        assert_eq!(average(0, 0), 1);
    }
}
