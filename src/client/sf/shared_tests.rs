//! Tests of how frames travel through the queue without copies: the
//! producer's buffers are what the cursor hands out (memory mode, and disk
//! mode while cached), come back for reuse once acknowledged, and disk
//! mode reads back from its files what left the cache.

use super::tests::TestDir;
use super::*;

/// `n` distinct frames of `len` bytes.
fn frames(n: u8, len: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| (0..len).map(|k| (k as u8).wrapping_mul(31) ^ i).collect())
        .collect()
}

#[test]
fn memory_frames_are_handed_out_and_recycled_without_copies() {
    let (q, _) = SfQueue::open(SfOptions::memory(1 << 20)).unwrap();
    let f = frames(2, 1000);
    let want = f.clone();
    let ptrs: Vec<*const u8> = f.iter().map(|v| v.as_ptr()).collect();
    assert_eq!(q.append_owned(f, &[]).unwrap(), 2);
    let mut c = q.unacked().unwrap();
    let (fsn, got) = c.next_shared().unwrap().unwrap();
    assert_eq!((fsn, got.as_slice()), (1, want[0].as_slice()));
    assert_eq!(got.as_ptr(), ptrs[0], "the queued buffer itself");
    // Still queued: handing it back keeps it (nothing to reuse yet).
    q.recycle(got);
    assert!(q.spare_buffer(0).unwrap().is_none());
    q.ack(1).unwrap();
    let spare = q.spare_buffer(0).unwrap().expect("the acknowledged buffer");
    assert_eq!(spare.as_ptr(), ptrs[0]);
    let (fsn, got) = c.next_shared().unwrap().unwrap();
    assert_eq!((fsn, got.as_slice()), (2, want[1].as_slice()));
    // A frame the cursor still holds is not reused when acknowledged,
    // only once it is handed back.
    q.ack(2).unwrap();
    assert!(q.spare_buffer(0).unwrap().is_none());
    q.recycle(got);
    let spare = q.spare_buffer(0).unwrap().expect("the handed-back buffer");
    assert_eq!(spare.as_ptr(), ptrs[1]);
}

#[test]
fn disk_frames_come_from_the_cache_then_from_the_files() {
    let dir = TestDir::new("shared");
    let (q, _) = SfQueue::open(SfOptions::disk(dir.path(), "s")).unwrap();
    // 5 frames of 16 MiB: more than the cache keeps (64 MiB), so the
    // oldest are read back from their segments, the newest handed out as
    // queued.
    let f = frames(5, 16 << 20);
    let want = f.clone();
    let ptrs: Vec<*const u8> = f.iter().map(|v| v.as_ptr()).collect();
    for (i, fr) in f.into_iter().enumerate() {
        assert_eq!(q.append_owned(vec![fr], &[]).unwrap(), i as u64 + 1);
    }
    // The buffers of the frames that left the cache are spare: take them
    // so that reading those frames back needs buffers of its own.
    let taken: Vec<Vec<u8>> = std::iter::from_fn(|| q.spare_buffer(0).unwrap()).collect();
    assert!(!taken.is_empty());
    let mut c = q.unacked().unwrap();
    // (Kept alive, so no buffer is freed and reallocated meanwhile.)
    let mut read = Vec::new();
    for (i, w) in want.iter().enumerate() {
        let (fsn, got) = c.next_shared().unwrap().unwrap();
        assert_eq!(fsn, i as u64 + 1);
        assert!(got.as_slice() == w.as_slice(), "frame {fsn}");
        read.push(got);
    }
    let shared: Vec<bool> = read
        .iter()
        .zip(&ptrs)
        .map(|(g, &p)| g.as_ptr() == p)
        .collect();
    assert!(c.next_shared().unwrap().is_none());
    assert!(!shared[0], "frame 1 left the cache: read from its segment");
    assert!(shared[4], "frame 5 is the queued buffer");
    // Replay after a reconnect: everything again, from the files (the
    // cursor took the cached frames).
    let mut c = q.unacked().unwrap();
    for (i, w) in want.iter().enumerate() {
        let (fsn, got) = c.next_shared().unwrap().unwrap();
        assert_eq!(fsn, i as u64 + 1);
        assert!(got.as_slice() == w.as_slice(), "replayed frame {fsn}");
    }
}

#[test]
fn the_spare_pool_keeps_sixteen_buffers_or_64_mib_in_at_most_256() {
    use std::sync::Arc;
    let mut s = super::memory::Spare::default();
    // Past sixteen buffers, small ones are kept while under 64 MiB...
    for _ in 0..40 {
        s.put(Arc::new(vec![0; 1024]));
    }
    // ...a big one is not.
    s.put(Arc::new(vec![0; 64 << 20]));
    let mut n = 0;
    while let Some(b) = s.take(1) {
        assert_eq!(b.len(), 1024);
        n += 1;
    }
    assert_eq!(n, 40);
    // Under sixteen buffers, any size is kept.
    s.put(Arc::new(vec![0; 64 << 20]));
    assert_eq!(s.take(1).map(|b| b.len()), Some(64 << 20));
    // Never more than 256 buffers, however small.
    for _ in 0..300 {
        s.put(Arc::new(vec![0; 16]));
    }
    let mut n = 0;
    while s.take(1).is_some() {
        n += 1;
    }
    assert_eq!(n, 256);
    // A buffer someone else holds is not taken.
    let held = Arc::new(vec![0; 10]);
    s.put(held.clone());
    assert!(s.take(1).is_none());
}

#[test]
fn a_spare_buffer_is_the_one_that_needs_the_least_zeroing() {
    let mut s = super::memory::Spare::default();
    for n in [10, 1000, 300] {
        s.put(std::sync::Arc::new(vec![0; n]));
    }
    // The shortest long enough, else the longest.
    assert_eq!(s.take(200).map(|b| b.len()), Some(300));
    assert_eq!(s.take(2000).map(|b| b.len()), Some(1000));
    assert_eq!(s.take(5).map(|b| b.len()), Some(10));
    assert!(s.take(5).is_none());
}

#[test]
fn a_record_written_unlocked_keeps_its_segment_through_an_ack() {
    let dir = TestDir::new("unlocked");
    let lock = slot::SlotLock::acquire(dir.path(), "s").unwrap();
    let (mut d, ..) =
        DiskStore::open(lock, 1 << 20, SfDurability::Memory, Duration::from_secs(5)).unwrap();
    let mut spare = super::memory::Spare::default();
    let mut append = |d: &mut DiskStore, fsn: u64, ack: Option<u64>| {
        let payload = format!("frame {fsn}").into_bytes();
        let mut rec = d.begin_append(fsn, payload.len() as u64).unwrap();
        // An acknowledgement while the record is written without the lock.
        if let Some(a) = ack {
            d.release(a, &mut spare).unwrap().delete().unwrap();
        }
        rec.write(&payload);
        d.finish_append(rec, std::sync::Arc::new(payload), &mut spare)
            .unwrap();
    };
    append(&mut d, 1, None);
    // Frame 1 (all of the active segment) acknowledged during frame 2's
    // write: the segment stays, frame 2 lands in it.
    append(&mut d, 2, Some(1));
    drop(d);
    let (q, rec) = SfQueue::open(SfOptions::disk(dir.path(), "s")).unwrap();
    assert_eq!(rec.frames, 1);
    let got: Vec<(u64, Vec<u8>)> = q.unacked().unwrap().map(Result::unwrap).collect();
    assert_eq!(got, vec![(2, b"frame 2".to_vec())]);
}
